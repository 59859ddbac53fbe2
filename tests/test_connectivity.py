"""Connectivity and the logit_grad map against float64 autograd through a hand-unrolled loop, and finite
differences on a shipped model."""
import numpy as np
import pytest
import torch

from conftest import lstm_step, seq, unrolled_twin
from tbptt_viz import connectivity, logit_grad_map


def unrolled_states(model, ids, source, x_source):
    """h_t, c_t for every t (T, H) as functions of x_source, by an nn.LSTMCell-weighted loop written out."""
    cell = unrolled_twin(model.double())
    x = model.embedding.weight.detach().double()[ids]
    H = cell.hidden_size
    h = c = torch.zeros(H, dtype=torch.float64)
    hs, cs = [], []
    for t in range(len(ids)):
        h, c = lstm_step(cell, x_source if t == source else x[t], h, c)
        hs.append(h), cs.append(c)
    return torch.stack(hs), torch.stack(cs)


def reference(model, ids, source):
    """(dh/dx_S (T, H, E), dc/dx_S (T, H, E)) by torch.autograd.functional.jacobian in float64."""
    x_s = model.embedding.weight.detach().double()[ids[source]]
    return torch.autograd.functional.jacobian(lambda v: unrolled_states(model, ids, source, v), x_s)


@pytest.mark.parametrize("source", [0, 4, 13])
def test_connectivity_matches_float64_autograd(model, source):
    ids = seq(14)
    Jh, Jc = reference(model, ids, source)
    w = model.head.weight.detach().double()[0]
    want_state = torch.linalg.matrix_norm(Jh[source:]).numpy()
    want_cell = torch.linalg.matrix_norm(Jc[source:]).numpy()
    want_logit = torch.linalg.vector_norm(torch.einsum("h,the->te", w, Jh[source:]), dim=1).numpy()
    for dtype, rtol in ((torch.float64, 1e-10), (torch.float32, 1e-4)):
        c = connectivity(model, ids, source, dtype=dtype)
        np.testing.assert_allclose(c.state_norm, want_state, rtol=rtol, atol=1e-12)
        np.testing.assert_allclose(c.cell_norm, want_cell, rtol=rtol, atol=1e-12)
        np.testing.assert_allclose(c.logit_grad, want_logit, rtol=rtol, atol=1e-12)
    assert list(c.positions) == list(range(source, 14)) and list(c.lags) == list(range(14 - source))
    with torch.no_grad():
        logits = [float(model(ids[None, : t + 1])) for t in range(source, 14)]
    np.testing.assert_allclose(c.logit, logits, rtol=1e-10)


def test_logit_grad_map_matches_autograd_row_by_row(model):
    ids = seq(11, seed=3)
    x = model.embedding.weight.detach().double()[ids].clone().requires_grad_(True)
    cell = unrolled_twin(model.double())
    w, b = model.head.weight.detach().double()[0], model.head.bias.detach().double()[0]
    h = c = torch.zeros(cell.hidden_size, dtype=torch.float64)
    want = np.full((11, 11), np.nan)
    for t in range(11):
        h, c = lstm_step(cell, x[t], h, c)
        (g,) = torch.autograd.grad(w @ h + b, x, retain_graph=True)  # dz_t / dx, every source at once
        want[: t + 1, t] = g[: t + 1].norm(dim=1).numpy()
        assert torch.all(g[t + 1 :] == 0)  # nothing later moves z_t
    for dtype, rtol in ((torch.float64, 1e-10), (torch.float32, 1e-4)):
        got = logit_grad_map(model, ids, dtype=dtype).logit_grad
        np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-12)  # NaN below the diagonal in both
    m = logit_grad_map(model, ids, dtype=torch.float64)
    for S in (0, 5, 10):
        np.testing.assert_allclose(m.logit_grad[S, S:], connectivity(model, ids, S, dtype=torch.float64).logit_grad,
                                   rtol=1e-10)


def test_bad_source_and_long_map_are_refused(model):
    ids = seq(6)
    for bad in (-1, 6, 2.0, True):
        with pytest.raises(ValueError, match="source"):
            connectivity(model, ids, bad)
    with pytest.raises(ValueError, match="up to 5 tokens"):
        logit_grad_map(model, ids, max_tokens=5)


def test_shipped_model_against_finite_differences():
    """Central differences of h_t, c_t and z_t along each of the 64 input directions of x_S, in float64."""
    from tbptt_viz import load_pretrained
    from tbptt_viz.gradients.flow import lstm64

    model = load_pretrained("imdb-last-k30")
    ids = torch.tensor(model.vocab.encode("i loved this film , the plot was slow but the end was moving".split()))
    S, eps = 2, 1e-6
    lstm = lstm64(model.lstm)
    x = model.embedding.weight.detach().double()[ids]
    E = x.shape[1]
    bump = torch.zeros(2 * E, len(ids), E, dtype=torch.float64)
    bump[torch.arange(E), S, torch.arange(E)] = eps
    bump[E + torch.arange(E), S, torch.arange(E)] = -eps
    with torch.no_grad():
        hs = lstm(x[None] + bump)[0]                                        # (2E, T, H)
        cs = torch.stack([lstm(x[None, : t + 1] + bump[:, : t + 1])[1][1][0] for t in range(len(ids))], 1)
    dh = (hs[:E] - hs[E:]) / (2 * eps)                                      # (E, T, H) columns of dh_t/dx_S
    dc = (cs[:E] - cs[E:]) / (2 * eps)
    dz = dh @ model.head.weight.detach().double()[0]                        # (E, T)
    c = connectivity(model, ids, S)
    np.testing.assert_allclose(c.state_norm, dh[:, S:].norm(dim=(0, 2)).numpy(), rtol=1e-4)
    np.testing.assert_allclose(c.cell_norm, dc[:, S:].norm(dim=(0, 2)).numpy(), rtol=1e-4)
    np.testing.assert_allclose(c.logit_grad, dz[:, S:].norm(dim=0).numpy(), rtol=1e-4)
    np.testing.assert_allclose(logit_grad_map(model, ids).logit_grad[S, S:], c.logit_grad, rtol=1e-4)
