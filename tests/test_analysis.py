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
