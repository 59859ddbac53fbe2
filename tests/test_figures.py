"""Figures are checked by their data: traces, values and axis titles, never pixels."""
import numpy as np
import pytest

from tbptt_viz import figures
from tbptt_viz.analysis import review_flow, scheme_view

from conftest import seq


def test_gradient_through_time_traces(model):
    rf = review_flow(model, seq(20), label=1)
    view = scheme_view(rf, "last-k", 5)
    fig = figures.gradient_through_time(view, rf.full, 20)
    assert len(fig.data) == 6
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    assert "steps from the end" in fig.layout.xaxis.title.text
    scheme_input = fig.data[1]
    assert list(scheme_input.x) == list(range(20, 0, -1))
    # zeros (no gradient) are gaps, the rest are the view's numbers
    assert all(v is None for v in scheme_input.y[:15])
    np.testing.assert_allclose(np.array(scheme_input.y[15:], dtype=float), view.input_grad_norm[15:])
    # the K line sits between distances 5 and 6 (line in data units, its label in log10 units)
    assert fig.layout.shapes[0].x0 == pytest.approx(5.5)
    assert 10 ** fig.layout.annotations[0].x == pytest.approx(5.5) and fig.layout.annotations[0].text == "K=5"
    full_only = figures.gradient_through_time(scheme_view(rf, "full", 20), rf.full, 20)
    assert len(full_only.data) == 3 and not full_only.layout.shapes


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


def test_attribution_bars_and_regions():
    fig = figures.attribution_bars(["a", "b", "c", "d"], {"m1": np.array([1, 2, 3, 4.0]), "m2": np.zeros(4)}, 2, 1)
    assert [t.name for t in fig.data] == ["m1", "m2"] and len(fig.layout.shapes) == 2


def test_memory_and_probe_figures(model):
    from tbptt_viz.attribution import context_probe, memory_trace

    trace = memory_trace(model, seq(20))
    fig = figures.memory_figure(trace, 5)
    assert list(fig.data[0].y) == list(trace.survival) and list(fig.data[2].y) == list(trace.cell_norm)
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis2.range is None  # ||c|| on its own axis, unclipped
    probe = context_probe(model, seq(20))
    fig = figures.context_probe_figure(probe, probe.prob_positive)
    assert list(fig.data[0].x) == list(probe.last_n) and list(fig.data[1].x) == list(probe.removed_n)
