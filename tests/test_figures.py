"""Figures are checked by their data: traces, values and axis titles, never pixels."""
import numpy as np
import pytest

from tbptt_viz.present import figures
from tbptt_viz.gradients.analysis import review_flow, scheme_view

from conftest import seq


def test_gradient_through_time_traces(model):
    rf = review_flow(model, seq(20), label=1)
    view = scheme_view(rf, "last-k", 5)
    fig = figures.gradient_through_time(view, rf.full, 20)
    assert len(fig.data) == 6
    assert fig.layout.xaxis.type is None and fig.layout.yaxis.type == "log"  # position runs left to right
    assert "token position" in fig.layout.xaxis.title.text
    scheme_input = fig.data[1]
    assert list(scheme_input.x) == list(range(20))
    # zeros (no gradient) are gaps, the rest are the view's numbers
    assert all(v is None for v in scheme_input.y[:15])
    np.testing.assert_allclose(np.array(scheme_input.y[15:], dtype=float), view.input_grad_norm[15:])
    # the zero region is drawn and labelled, and the K line sits before the window's first token
    zero, cut = fig.layout.shapes
    assert (zero.x0, zero.x1) == (-0.5, 14.5) and "exactly 0 (15 tokens)" in fig.layout.annotations[0].text
    assert cut.x0 == pytest.approx(14.5) and fig.layout.annotations[1].text == "K=5"
    full_only = figures.gradient_through_time(scheme_view(rf, "full", 20), rf.full, 20)
    assert len(full_only.data) == 3 and not full_only.layout.shapes


def test_zero_runs():
    assert figures.zero_runs([0, 0, 1, 0, 2, 0]) == [(0, 2), (3, 4), (5, 6)] and figures.zero_runs([1.0]) == []


def test_bias_curve_marks_current_k(model):
    rf = review_flow(model, seq(20), label=0)
    fig = figures.bias_curve(rf.full, 7)
    marker = fig.data[2]
    assert list(marker.x) == [7, 7]
    assert marker.y[0] == rf.full.sweep_cosine[6] and marker.y[1] == rf.full.sweep_relative_error[6]


def test_backprop_timeline_marks_every_loss(model):
    rf = review_flow(model, seq(20), label=0)
    view = scheme_view(rf, "chunked", 5)
    fig = figures.backprop_timeline(view)
    assert list(fig.data[0].y) == list(view.backprop_count)
    assert list(fig.data[2].x) == [4, 9, 14, 19]


def test_memory_and_probe_figures(model):
    from tbptt_viz.attribution.methods import context_probe, memory_trace

    trace = memory_trace(model, seq(20))
    other = memory_trace(model, seq(20, seed=3))
    fig = figures.memory_figure({"a": trace, "b": other}, 5)
    assert len(fig.data) == 4 and [t.name for t in fig.data][:2] == ["a: direct path (cell)", "a: all paths (gradient)"]
    np.testing.assert_allclose(np.array(fig.data[0].y, dtype=float), trace.survival)
    np.testing.assert_allclose(np.array(fig.data[1].y, dtype=float), trace.influence / trace.influence.max())
    assert fig.layout.yaxis.type == "log"
    probe = context_probe(model, seq(20))
    fig = figures.context_probe_figure({"a": probe})
    assert list(fig.data[0].x) == list(probe.last_n) and list(fig.data[1].x) == list(probe.removed_n)
    assert list(fig.layout.yaxis.tickvals) == [0, 0.25, 0.5, 0.75, 1]


def test_timeline_ticks_are_round(model):
    rf = review_flow(model, seq(40), label=0)
    fig = figures.backprop_timeline(scheme_view(rf, "chunked", 8))
    # chunked K=8: every token is reached by one loss, at most K-1 = 7 steps before it
    assert list(fig.layout.yaxis2.tickvals) == [0, 2, 4, 6] and fig.layout.yaxis2.range == (-1.5, 7 * 1.08)
    assert list(fig.layout.yaxis.tickvals) == figures.nice_ticks(0, 2)


@pytest.mark.parametrize("low,high,n,want", [(0, 21.8, 5, [0, 10, 20]), (0, 1, 5, [0, 0.5, 1.0]),
                                             (0, 60, 7, [0, 10, 20, 30, 40, 50, 60]), (3, 3, 5, [3.0]),
                                             (0, 7, 5, [0, 2, 4, 6]), (0, 39, 5, [0, 10, 20, 30, 40]),
                                             (0, float("nan"), 5, [0.0])])
def test_nice_ticks_are_round(low, high, n, want):
    assert figures.nice_ticks(low, high, n) == pytest.approx(want)


@pytest.mark.parametrize("low,high,n", [(0, 1, 5), (0, 21.8, 5), (-3.3, 17, 6), (0.001, 0.0042, 5), (5, 1234, 4)])
def test_nice_ticks_step_is_one_two_or_five_times_a_power_of_ten(low, high, n):
    ticks = np.array(figures.nice_ticks(low, high, n))
    steps = np.diff(ticks)
    assert np.allclose(steps, steps[0]) and ticks[0] >= low - 1e-12 and ticks[-1] <= high + steps[0] / 2 + 1e-12
    mantissa = steps[0] / 10 ** np.floor(np.log10(steps[0]))
    assert min(abs(mantissa - m) for m in (1, 2, 5)) < 1e-9
    assert steps[0] >= (high - low) / (n - 1) - 1e-12  # no more than n ticks' worth of steps
    assert ticks[0] - steps[0] < low and ticks[-1] + steps[0] > high  # and they cover the range


def test_ig_path_and_headline_figures(model):
    from tbptt_viz.attribution.methods import attribute

    a = attribute(model, seq(12), "integrated_gradients")
    fig = figures.ig_path_figure({"m": a, "occ": attribute(model, seq(12), "occlusion")})
    assert len(fig.data) == 1 and list(fig.data[0].x) == list(a.path_alpha) and "converged" in fig.data[0].name
    contrast = {"imdb-full": {"mean": 0.2, "low": 0.1, "high": 0.3, "seeds": 3},
                "imdb-last-k30": {"mean": 0.07, "low": 0.05, "high": 0.09, "seeds": 3}}
    fig = figures.headline_figure(contrast, highlight=("imdb-last-k30",))
    assert list(fig.data[0].y) == [0.2, 0.07] and list(fig.data[0].error_y.array) == pytest.approx([0.1, 0.02])
    assert list(fig.data[0].marker.color) == ["#7f7f7f", "#c0392b"]
    assert fig.layout.yaxis.title.text.endswith("(95% interval over seeds)")


def test_occlusion_and_probe_share_one_figure(model):
    from tbptt_viz.attribution.methods import context_probe
    from tbptt_viz.attribution.probe import occlusion_scores

    ids = seq(20)
    occ = {"a": occlusion_scores(model, ids), "b": -occlusion_scores(model, ids)}
    probe = context_probe(model, ids)
    fig = figures.occlusion_probe_figure([str(i) for i in range(20)], occ, {"a": probe, "b": probe}, 5)
    top = [t for t in fig.data if t.yaxis in (None, "y")]
    bottom = [t for t in fig.data if t.yaxis == "y2"]
    assert [t.name for t in top] == ["occlusion (a)", "occlusion (b)"] and len(bottom) == 4
    np.testing.assert_allclose(np.array(top[0].y, dtype=float), occ["a"])
    assert list(top[0].x) == list(range(20))  # token position left to right
    assert list(bottom[0].x) == list(probe.last_n) and list(bottom[1].y) == list(probe.prob_without_first_n)
    band = fig.layout.shapes[0]
    assert (band.x0, band.x1) == (-0.5, 4.5)
    assert fig.layout.yaxis.domain[0] > fig.layout.yaxis2.domain[1]  # stacked, no overlap
