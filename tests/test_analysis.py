import numpy as np
import pytest

from tbptt_viz import gradient_flow
from tbptt_viz.gradients.analysis import k_choices, review_flow, scheme_view

from conftest import reference, seq


def test_k_choices():
    assert k_choices(12) == [1, 2, 3, 5, 8, 10, 12]
    assert k_choices(1) == [1]


@pytest.mark.parametrize("scheme", ["full", "last-k", "chunked", "k1k2"])
def test_every_slider_position_equals_a_direct_computation(model, scheme):
    """What the K slider shows (sliced, no model pass) equals an independent float64 autograd computation
    (hand-unrolled nn.LSTMCell loops with explicit detach()) for that K, and gradient_flow's count and reach."""
    from tbptt_viz.core.schemes import make_scheme

    ids = seq(26)
    rf = review_flow(model, ids, label=1)
    for k in k_choices(26):
        k1k2 = gradient_flow(model, ids, "k1k2", k1=k, k2=2 * k, label=1) if scheme == "k1k2" else None
        view = scheme_view(rf, scheme, k, k1k2)
        gf = gradient_flow(model, ids, scheme, k=k, k1=k, k2=2 * k, label=1)
        dx, dh, dc, _ = reference(model, ids, make_scheme(scheme, k, k, 2 * k).windows(26), 1)
        np.testing.assert_allclose(view.input_grad_norm, dx.norm(dim=1), rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(view.hidden_grad_norm, dh.norm(dim=1), rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(view.cell_grad_norm, dc.norm(dim=1), rtol=1e-9, atol=1e-15)
        np.testing.assert_array_equal(view.backprop_count, gf.backprop_count)
        np.testing.assert_array_equal(view.backprop_reach, gf.backprop_reach)
        np.testing.assert_array_equal(view.windows, gf.windows)
        kk = 26 if scheme == "full" else k
        assert view.sweep_cosine == gf.sweep_cosine[kk - 1]


def test_off_grid_k_for_chunked_is_refused(model):
    rf = review_flow(model, seq(26))
    with pytest.raises(ValueError, match="grid"):
        scheme_view(rf, "chunked", 7)


@pytest.mark.parametrize("method", ["saliency", "input_x_gradient"])
def test_last_k_attribution_by_masking_equals_truncated_backprop(model, method):
    from tbptt_viz.gradients.analysis import truncate_last_k
    from tbptt_viz.attribution.methods import attribute

    ids = seq(25)
    full = attribute(model, ids, method, target="loss")
    for k in (3, 10, 25):
        got = truncate_last_k(full, k)
        want = attribute(model, ids, method, backprop="last-k", k=k, target="loss")
        np.testing.assert_allclose(got.scores, want.scores, rtol=1e-9, atol=1e-12)
        assert got.target == want.target and got.label_used == want.label_used
    with pytest.raises(ValueError, match="integrated gradients"):
        truncate_last_k(attribute(model, ids, "integrated_gradients", target="loss"), 3)


def test_attribution_change_by_hand():
    from tbptt_viz.gradients.analysis import attribution_change

    assert attribution_change([1.0, -1.0, 2.0], [0.0, -1.0, 1.0]) == pytest.approx((1 + 0 + 1) / 4)
    assert attribution_change([0.0, 0.0], [1.0, 0.0]) == 0.0


@pytest.mark.parametrize("scheme,method,ready,route", [
    ("last-k", "occlusion", False, "no-backward"), ("full", "occlusion", True, "no-backward"),
    ("last-k", "shapley", False, "no-backward"), ("k1k2", "shapley", True, "no-backward"),
    ("full", "saliency", False, "no-truncation"), ("full", "integrated_gradients", False, "no-truncation"),
    ("last-k", "saliency", False, "mask"), ("last-k", "input_x_gradient", True, "mask"),
    ("last-k", "integrated_gradients", False, "ask"), ("chunked", "integrated_gradients", False, "ask"),
    ("k1k2", "integrated_gradients", True, "run"), ("last-k", "integrated_gradients", True, "run"),
    ("chunked", "saliency", False, "run"), ("k1k2", "input_x_gradient", False, "run")])
def test_truncation_route(scheme, method, ready, route):
    from tbptt_viz.gradients.analysis import truncation_route

    assert truncation_route(scheme, method, ready) == route


def test_masking_is_what_the_mask_route_promises(model):
    """Where the route says "mask", the masked full attribution equals a truncated run of the same method."""
    from tbptt_viz.attribution.methods import attribute
    from tbptt_viz.gradients.analysis import truncate_last_k, truncation_route

    ids = seq(14)
    for method in ("saliency", "input_x_gradient"):
        assert truncation_route("last-k", method) == "mask"
        masked = truncate_last_k(attribute(model, ids, method, target="loss"), 5)
        np.testing.assert_allclose(masked.scores, attribute(model, ids, method, "last-k", k=5).scores, rtol=1e-9,
                                   atol=1e-12)


def test_picked_view_uses_k_where_the_scheme_has_one_and_asks_for_k1k2_only_under_it(model):
    from tbptt_viz.gradients.analysis import picked_view
    from tbptt_viz.gradients.flow import gradient_flow

    ids = seq(20)
    rf = review_flow(model, ids, 1)
    asked = []

    def k1k2():
        asked.append(1)
        return gradient_flow(model, ids, "k1k2", k1=3, k2=7, label=1)

    for scheme, k in (("last-k", 5), ("chunked", 5)):
        got = picked_view(rf, scheme, k, k1k2)
        np.testing.assert_array_equal(got.input_grad_norm, scheme_view(rf, scheme, k).input_grad_norm)
        assert got.k == k
    full = picked_view(rf, "full", 5, k1k2)
    assert full.k == 20 and np.array_equal(full.input_grad_norm, rf.full.full_input_grad_norm) and not asked
    tbptt = picked_view(rf, "k1k2", 5, k1k2)
    assert asked == [1] and tbptt.k == 20 and tbptt.label == "TBPTT(k1=3, k2=7)"
    np.testing.assert_array_equal(tbptt.input_grad_norm, gradient_flow(model, ids, "k1k2", k1=3, k2=7,
                                                                       label=1).input_grad_norm)
    with pytest.raises(ValueError):
        picked_view(rf, "k1k2", 5)
