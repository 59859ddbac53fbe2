"""The Start page's overview: its arrays against independent computations (float64 autograd with explicit
detach, plain re-runs of the model), and its figure by its data (rows, scales, marks, labels)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import reference, seq

from tbptt_viz.attribution.methods import attribute, context_probe
from tbptt_viz.core.text import PAD_ID
from tbptt_viz.gradients.analysis import review_flow
from tbptt_viz.present.colours import CUT, DIVERGING_SCALE, model_colour
from tbptt_viz.present.overview import (GAMMA, ZERO, opening_length, overview, overview_figure,
                                        strongest_opening_token)

T, K, N, LABEL = 40, 10, 12, 1


@pytest.fixture
def parts(model):
    ids = seq(T, seed=3)
    rf = review_flow(model, ids, LABEL)
    # two "models" with the same weights (the second's occlusion negated, so the rows differ)
    occ = {"imdb-last-k30": attribute(model, ids, "occlusion").scores,
           "imdb-full": -attribute(model, ids, "occlusion").scores}
    probes = {name: context_probe(model, ids) for name in occ}
    tokens = tuple(f"w{t}" for t in range(T))
    return model, ids, overview(tokens, "imdb-last-k30", rf, K, occ, probes, N)


def grad_norms(model, ids, windows) -> np.ndarray:
    dx = reference(model, ids, windows, LABEL)[0]
    return dx.norm(dim=1).numpy()


def test_gradient_rows_equal_float64_autograd_with_explicit_detach(parts):
    model, ids, ov = parts
    full = grad_norms(model, ids, [(T - 1, 0)])
    last_k = grad_norms(model, ids, [(T - 1, T - K)])
    chunked = grad_norms(model, ids, [(min(s + K, T) - 1, s) for s in range(0, T, K)])
    np.testing.assert_allclose(ov.gradient[0], full, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(ov.gradient[1], last_k, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(ov.gradient[2], chunked, rtol=1e-9, atol=1e-14)
    assert np.all(ov.gradient[1][:T - K] == 0) and np.all(ov.gradient[1][T - K:] > 0)  # exact zeros, then not
    assert ov.cut == T - K and list(ov.losses[2]) == list(range(K - 1, T, K)) and list(ov.losses[1]) == [T - 1]
    assert ov.schemes == ("full BPTT", f"last-K (K={K})", f"chunked (K={K})") and ov.k == K


def test_occlusion_and_probe_rows_equal_plain_reruns(parts):
    model, ids, ov = parts
    with torch.no_grad():
        logit = model(ids[None]).item()
        for t in (0, 7, T - 1):
            occluded = ids.clone()
            occluded[t] = PAD_ID
            rerun = model(occluded[None], torch.tensor([T])).item()  # the length unchanged: read at T-1
            assert ov.occlusion[0, t] == pytest.approx(logit - rerun, abs=1e-9)
        without = torch.sigmoid(model(ids[N:][None])).item()
    assert ov.prob_without == pytest.approx([without, without], abs=1e-9)
    assert ov.prob == pytest.approx([1 / (1 + np.exp(-logit))] * 2, abs=1e-9)
    mass = np.abs(ov.occlusion[0])
    assert ov.opening_share == pytest.approx([mass[:N].sum() / mass.sum()] * 2)
    assert ov.models == ("imdb-last-k30", "imdb-full") and ov.n == N


def test_opening_length_is_clipped_to_what_the_probe_holds():
    assert opening_length(30, 229) == 30 and opening_length(500, 40) == 39 and opening_length(0, 40) == 1
    assert opening_length(30, 1) == 0  # a one-token review has no opening to remove


def test_strongest_opening_token_skips_unknown_words(parts):
    _, _, ov = parts
    known = np.ones(T, dtype=bool)
    best = int(np.argmax(np.abs(ov.occlusion).sum(axis=0)[:N]))
    assert strongest_opening_token(ov, known) == best
    known[best] = False
    assert strongest_opening_token(ov, known) not in (best, None)
    assert strongest_opening_token(ov, np.zeros(T, dtype=bool)) is None


def test_figure_rows_scales_and_marks(parts):
    _, _, ov = parts
    fig = overview_figure(ov)
    data, layout = fig.data, fig.layout
    heat = [d for d in data if d.type == "heatmap"]
    # three gradient rows on the log scale, the last-K row's exact zeros as grey cells of their own trace
    grad = [d for d in heat if d.coloraxis == "coloraxis"]
    assert len(grad) == 3
    floor = np.log10(ov.gradient[ov.gradient > 0].max()) - 4
    for row, g in zip(grad, ov.gradient):
        z = np.array(row.z[0], dtype=float)  # None (no colour of the scale) reads as nan
        assert np.all(np.isnan(z[g == 0]))
        np.testing.assert_allclose(z[g > 0], np.log10(np.maximum(g[g > 0], 10 ** floor)))
    zeros = [d for d in heat if d.coloraxis is None and d.colorscale[0][1] == ZERO]
    assert len(zeros) == 1 and sum(v == 0.0 for v in zeros[0].z[0]) == T - K
    # the occlusion rows: one diverging scale for both, symmetric, values shaded like the strips
    occ = [d for d in heat if d.coloraxis == "coloraxis2"]
    m = np.abs(ov.occlusion).max()
    for row, scores in zip(occ, ov.occlusion):
        np.testing.assert_allclose(row.z[0], np.sign(scores) * (np.abs(scores) / m) ** GAMMA)
        np.testing.assert_allclose(row.customdata[0], scores)
    assert layout.coloraxis2.cmin == -1 and layout.coloraxis2.cmax == 1
    assert [c[1] for c in layout.coloraxis2.colorscale] == [c[1] for c in DIVERGING_SCALE]
    # the cut on the last-K row, a loss marker at every loss, the opening boxed on every token row
    cut = [s for s in layout.shapes if s.type == "line" and s.line.color == CUT]
    assert len(cut) == 1 and cut[0].x0 == T - K - 0.5 and cut[0].yref == "y2 domain"
    markers = [d for d in data if d.type == "scatter" and d.marker.symbol == "triangle-down"]
    assert [list(d.x) for d in markers] == [[T - 1], [T - 1], list(range(K - 1, T, K))]
    boxes = [s for s in layout.shapes if s.type == "rect"]
    assert len(boxes) == 5 and all(b.x1 == N - 0.5 for b in boxes)
    # P(positive): per model a filled dot (whole review) and a ring (without the opening), in its colour
    dots = [d for d in data if d.type == "scatter" and d.xaxis == "x2"]
    assert [d.x[0] for d in dots] == pytest.approx([ov.prob[0], ov.prob_without[0], ov.prob[1], ov.prob_without[1]])
    assert dots[0].marker.color == model_colour("imdb-last-k30") == dots[1].marker.line.color
    texts = [a.text for a in layout.annotations]
    assert f"last-K (K={K}): exactly 0 left of the cut ({T - K} tokens)" in texts
    assert f"imdb-full: P(positive) {ov.prob[1]:.2f} → {ov.prob_without[1]:.2f} without the first {N}" in texts
    assert layout.xaxis.title.text.startswith("token position t") and tuple(layout.xaxis.range) == (-0.5, T - 0.5)
    assert tuple(layout.xaxis2.range) == (0, 1) and "P(positive)" in layout.xaxis2.title.text


def test_row_domains_never_overlap(parts):
    _, _, ov = parts
    layout = overview_figure(ov).layout
    domains = sorted(tuple(getattr(layout, k).domain) for k in layout if k.startswith("yaxis"))
    for (a0, a1), (b0, b1) in zip(domains, domains[1:]):
        assert a0 < a1 <= b0 < b1


def test_a_review_that_fits_the_window_has_no_cut(model):
    ids = seq(8, seed=5)
    rf = review_flow(model, ids, 0)
    occ = {"m": attribute(model, ids, "occlusion").scores}
    ov = overview(tuple("abcdefgh"), "m", rf, 8, occ, {"m": context_probe(model, ids)}, 30)
    assert ov.cut is None and ov.n == 7 and not np.any(ov.gradient == 0)
    layout = overview_figure(ov).layout
    assert not any(s.type == "line" and s.line.color == CUT for s in layout.shapes)
    assert "last-K (K=8): nothing cut (the review fits in K)" in [a.text for a in layout.annotations]
