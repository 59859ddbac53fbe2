"""Figures are checked by their data: traces, values and axis titles, never pixels."""
import numpy as np
import pytest

from tbptt_viz.present import colours, figures
from tbptt_viz.gradients.analysis import review_flow, scheme_view

from conftest import seq


def test_gradient_through_time_traces(model):
    rf = review_flow(model, seq(20), label=1)
    view = scheme_view(rf, "last-k", 5)
    fig = figures.gradient_through_time(view, rf.full, 20, "imdb-last-k30")
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
    assert fig.layout.annotations[1].xanchor == "right"  # the cut stands right of centre: its label goes left
    # the scheme in the model's colour, full BPTT grey, one dash per quantity (x, h, c)
    own = colours.model_colour("imdb-last-k30")
    assert [t.line.color for t in fig.data] == [colours.NEUTRAL, own] * 3
    assert [t.line.dash for t in fig.data] == ["solid", "solid", "dash", "dash", "dot", "dot"]
    full_only = figures.gradient_through_time(scheme_view(rf, "full", 20), rf.full, 20, "imdb-full")
    assert len(full_only.data) == 3 and not full_only.layout.shapes
    assert {t.line.color for t in full_only.data} == {colours.model_colour("imdb-full")}


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
    fig = figures.memory_figure({"imdb-full": trace, "imdb-last-k30": other}, 5)
    assert len(fig.data) == 4 and [t.name for t in fig.data][:2] == ["imdb-full: direct path (cell)",
                                                                      "imdb-full: all paths (gradient)"]
    assert [t.line.color for t in fig.data] == [colours.model_colour(n) for n in ("imdb-full",) * 2 + ("imdb-last-k30",) * 2]
    assert [t.line.dash for t in fig.data] == [None, "dot"] * 2
    np.testing.assert_allclose(np.array(fig.data[0].y, dtype=float), trace.survival)
    np.testing.assert_allclose(np.array(fig.data[1].y, dtype=float), trace.influence / trace.influence.max())
    assert fig.layout.yaxis.type == "log"
    probe = context_probe(model, seq(20))
    fig = figures.context_probe_figure({"imdb-full": probe})
    assert list(fig.data[0].x) == list(probe.last_n) and list(fig.data[1].x) == list(probe.removed_n)
    assert list(fig.layout.yaxis.tickvals) == [0, 0.25, 0.5, 0.75, 1]
    # two counts, two axes, each saying what its n counts
    assert fig.data[0].xaxis in (None, "x") and fig.data[1].xaxis == "x2"
    assert fig.layout.xaxis.title.text == "n = tokens kept from the end"
    assert fig.layout.xaxis2.title.text == "n = opening tokens removed"
    assert {t.line.color for t in fig.data} == {colours.model_colour("imdb-full")}


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
    bars = fig.data[0]  # across: the contrast along x, the models down the side (legible on a phone)
    assert bars.orientation == "h" and list(bars.y) == ["imdb-full", "imdb-last-k30"]
    assert list(bars.x) == [0.2, 0.07] and list(bars.error_x.array) == pytest.approx([0.1, 0.02])
    assert list(bars.marker.color) == [colours.model_colour("imdb-full"), colours.model_colour("imdb-last-k30")]
    assert list(bars.marker.opacity) == [0.35, 1.0]  # the page's models strong
    assert fig.layout.xaxis.title.text.endswith("(95% interval over seeds)")


def test_occlusion_and_probe_share_one_figure(model):
    from tbptt_viz.attribution.methods import context_probe
    from tbptt_viz.attribution.probe import occlusion_scores

    ids = seq(20)
    occ = {"imdb-full": occlusion_scores(model, ids), "imdb-last-k30": -occlusion_scores(model, ids)}
    probe = context_probe(model, ids)
    fig = figures.occlusion_probe_figure([str(i) for i in range(20)], occ, {n: probe for n in occ}, 5)
    top = [t for t in fig.data if t.yaxis in (None, "y")]
    kept = [t for t in fig.data if t.yaxis == "y2"]
    removed = [t for t in fig.data if t.yaxis == "y3"]
    assert [t.name for t in top] == ["imdb-full", "imdb-last-k30"] and len(kept) == len(removed) == 2
    assert [t.line.color for t in top] == [colours.model_colour(n) for n in occ]  # one colour per model
    assert [t.line.color for t in kept] == [colours.model_colour(n) for n in occ]
    np.testing.assert_allclose(np.array(top[0].y, dtype=float), occ["imdb-full"])
    assert list(top[0].x) == list(range(20))  # token position left to right
    assert list(kept[0].x) == list(probe.last_n) and list(removed[0].y) == list(probe.prob_without_first_n)
    assert list(removed[0].x) == list(probe.removed_n)
    assert fig.layout.xaxis2.title.text == "n = tokens kept from the end"  # each count names itself
    assert fig.layout.xaxis3.title.text == "n = opening tokens removed"
    band = fig.layout.shapes[0]
    assert (band.x0, band.x1) == (-0.5, 4.5)
    # stacked, no overlap
    assert fig.layout.yaxis.domain[0] > fig.layout.yaxis2.domain[1] > fig.layout.yaxis2.domain[0] > fig.layout.yaxis3.domain[1]
