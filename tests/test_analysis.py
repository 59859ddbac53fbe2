import numpy as np
import pytest

from tbptt_viz import gradient_flow
from tbptt_viz.analysis import k_choices, review_flow, scheme_view

from conftest import seq


def test_k_choices():
    assert k_choices(12) == [1, 2, 3, 5, 8, 10, 12]
    assert k_choices(1) == [1]


@pytest.mark.parametrize("scheme", ["full", "last-k", "chunked", "k1k2"])
def test_every_slider_position_equals_a_direct_computation(model, scheme):
    """What the K slider shows (sliced, no model pass) equals gradient_flow run for that K."""
    ids = seq(26)
    rf = review_flow(model, ids, label=1)
    for k in k_choices(26):
        k1k2 = gradient_flow(model, ids, "k1k2", k1=k, k2=2 * k, label=1) if scheme == "k1k2" else None
        view = scheme_view(rf, scheme, k, k1k2)
        gf = gradient_flow(model, ids, scheme, k=k, k1=k, k2=2 * k, label=1)
        np.testing.assert_allclose(view.input_grad_norm, gf.input_grad_norm, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(view.hidden_grad_norm, gf.hidden_grad_norm, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(view.cell_grad_norm, gf.cell_grad_norm, rtol=1e-9, atol=1e-15)
        np.testing.assert_array_equal(view.backprop_count, gf.backprop_count)
        np.testing.assert_array_equal(view.backprop_reach, gf.backprop_reach)
        np.testing.assert_array_equal(view.windows, gf.windows)
        kk = 26 if scheme == "full" else k
        assert view.sweep_cosine == gf.sweep_cosine[kk - 1]


def test_off_grid_k_for_chunked_is_refused(model):
    rf = review_flow(model, seq(26))
    with pytest.raises(ValueError, match="grid"):
        scheme_view(rf, "chunked", 7)


@pytest.mark.parametrize("method", ["integrated_gradients", "saliency", "input_x_gradient", "occlusion"])
def test_last_k_attribution_by_masking_equals_truncated_backprop(model, method):
    from tbptt_viz.analysis import truncate_last_k
    from tbptt_viz.attribution import attribute

    ids = seq(25)
    full = attribute(model, ids, method, n_steps=64)
    for k in (3, 10, 25):
        got = truncate_last_k(full, k)
        want = attribute(model, ids, method, backprop="last-k", k=k, n_steps=64)
        np.testing.assert_allclose(got.scores, want.scores, rtol=1e-6, atol=1e-9)
        if method == "integrated_gradients":
            assert got.completeness_gap == pytest.approx(want.completeness_gap, rel=1e-5, abs=1e-8)


def test_attribution_change_by_hand():
    from tbptt_viz.analysis import attribution_change

    assert attribution_change([1.0, -1.0, 2.0], [0.0, -1.0, 1.0]) == pytest.approx((1 + 0 + 1) / 4)
    assert attribution_change([0.0, 0.0], [1.0, 0.0]) == 0.0
