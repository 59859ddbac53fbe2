import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tbptt_viz import gradient_flow
from tbptt_viz.gradients.flow import scheme_grid
from tbptt_viz.core.schemes import make_scheme

from conftest import reference, seq, unrolled_twin

T = 23
CASES = [("full", {}), ("last-k", {"k": 7}), ("last-k", {"k": 1}), ("chunked", {"k": 7}), ("chunked", {"k": 5}),
         ("k1k2", {"k1": 5, "k2": 12}), ("k1k2", {"k1": 5, "k2": 5}), ("k1k2", {"k1": 7, "k2": 3})]


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name,kw", CASES)
@pytest.mark.parametrize("label", [0, 1])
def test_scheme_gradients_match_unrolled_lstmcell(model, name, kw, label):
    ids = seq(T)
    gf = gradient_flow(model, ids, name, label=label, **{"k": None, **kw})
    windows = make_scheme(name, **kw).windows(T)
    dx, dh, dc, _ = reference(model, ids, windows, label)
    close(gf.input_grad_norm, dx.norm(dim=1))
    close(gf.hidden_grad_norm, dh.norm(dim=1))
    close(gf.cell_grad_norm, dc.norm(dim=1))
    fx, fh, fc, _ = reference(model, ids, [(T - 1, 0)], label)
    close(gf.full_input_grad_norm, fx.norm(dim=1))
    close(gf.full_hidden_grad_norm, fh.norm(dim=1))
    close(gf.full_cell_grad_norm, fc.norm(dim=1))
    assert gf.label_used == label and gf.label_source == "given"


def test_weight_contributions_are_per_step_terms(model):
    """Step t's term of dL/dW_ih is the gradient w.r.t. a private copy of W_ih used at step t only."""
    ids = seq(T)
    gf = gradient_flow(model, ids, "last-k", 7, label=1)
    assert np.all(gf.weight_ih_contrib[: T - 7] == 0) and np.all(gf.weight_hh_contrib[: T - 7] == 0)
    close(gf.weight_ih_contrib[T - 7 :], gf.full_weight_ih_contrib[T - 7 :])
    x = model.embedding.weight.detach()[ids]
    W = model.lstm.weight_ih_l0.detach().clone()
    for t in (T - 1, T - 4, T - 7):
        Wt = W.clone().requires_grad_(True)
        h = c = torch.zeros(1, 8, dtype=torch.float64)
        cell = unrolled_twin(model, torch.float64)
        for u in range(T):
            if u == t:
                a = x[u][None] @ Wt.T + h @ cell.weight_hh.T + cell.bias_ih + cell.bias_hh
                i, f, g, o = a.chunk(4, 1)
                c = f.sigmoid() * c + i.sigmoid() * g.tanh()
                h = o.sigmoid() * c.tanh()
            else:
                h, c = cell(x[u][None], (h, c))
        z = model.head(h)[0, 0]
        F.binary_cross_entropy_with_logits(z, torch.tensor(1.0, dtype=torch.float64)).backward()
        assert gf.weight_ih_contrib[t] == pytest.approx(Wt.grad.norm().item(), rel=1e-9)


def test_last_k_zero_before_window_equal_after(model):
    ids = seq(40)
    for k in (1, 5, 17, 39):
        gf = gradient_flow(model, ids, "last-k", k)
        assert np.all(gf.input_grad_norm[: 40 - k] == 0.0)
        assert np.all(gf.hidden_grad_norm[: 40 - k] == 0.0)
        assert np.all(gf.input_grad_norm[40 - k :] > 0)
        close(gf.input_grad_norm[40 - k :], gf.full_input_grad_norm[40 - k :])
        assert gf.truncated


@pytest.mark.parametrize("k", [40, 41, 500])
def test_k_at_least_T_is_full(model, k):
    gf = gradient_flow(model, seq(40), "last-k", k, label=1)
    assert not gf.truncated
    dx, dh, _, _ = reference(model, seq(40), [(39, 0)], 1)
    close(gf.input_grad_norm, dx.norm(dim=1))
    close(gf.hidden_grad_norm, dh.norm(dim=1))
    close(gf.backprop_count, np.ones(40))


def _private_weight_grad(model, ids, windows, label, t, which):
    """dL/dW at step t only: the gradient w.r.t. a private copy of W_ih (or W_hh) used at step t alone,
    summed over the windows' losses (state detached entering each window start)."""
    from conftest import lstm_step

    lstm = model.lstm
    cell = unrolled_twin(model, torch.float64)
    x = model.embedding.weight.detach()[ids]
    W = getattr(cell, which).detach().clone().requires_grad_(True)
    losses = []
    for p, s in windows:
        h = c = torch.zeros(lstm.hidden_size, dtype=torch.float64)
        for u in range(p + 1):
            if u == s:
                h, c = h.detach(), c.detach()
            if u == t:
                w_ih = W if which == "weight_ih" else cell.weight_ih
                w_hh = W if which == "weight_hh" else cell.weight_hh
                a = w_ih @ x[u] + w_hh @ h + cell.bias_ih + cell.bias_hh
                i, f, g, o = a.chunk(4)
                c = f.sigmoid() * c + i.sigmoid() * g.tanh()
                h = o.sigmoid() * c.tanh()
            else:
                h, c = lstm_step(cell, x[u], h, c)
        z = model.head.weight.detach()[0] @ h + model.head.bias.detach()[0]
        losses.append(F.binary_cross_entropy_with_logits(z, torch.tensor(float(label), dtype=torch.float64)))
    torch.stack(losses).mean().backward()
    return W.grad.norm().item()


@pytest.mark.parametrize("name,kw", [("chunked", {"k": 5}), ("k1k2", {"k1": 4, "k2": 9}), ("full", {})])
def test_weight_contributions_under_every_scheme(model, name, kw):
    ids = seq(14)
    gf = gradient_flow(model, ids, name, label=0, **{"k": None, **kw})
    windows = make_scheme(name, **kw).windows(14)
    for t in (0, 3, 9, 13):
        assert gf.weight_ih_contrib[t] == pytest.approx(_private_weight_grad(model, ids, windows, 0, t, "weight_ih"),
                                                        rel=1e-9, abs=1e-15)
        assert gf.weight_hh_contrib[t] == pytest.approx(_private_weight_grad(model, ids, windows, 0, t, "weight_hh"),
                                                        rel=1e-9, abs=1e-15)


def test_loss_and_step_prob_by_direct_runs(model):
    ids = seq(T)
    gf = gradient_flow(model, ids, "chunked", 5, label=1)
    with torch.no_grad():
        direct = [torch.sigmoid(model(ids[None, : t + 1]))[0].item() for t in range(T)]
        np.testing.assert_allclose(gf.step_prob, direct, rtol=1e-10)
        ends = [p for p, _ in make_scheme("chunked", 5).windows(T)]
        want = np.mean([-np.log(direct[p]) for p in ends])
    assert gf.loss == pytest.approx(want, rel=1e-9)


def test_saturated_prediction_does_not_break_the_analysis(model):
    with torch.no_grad():
        model.head.bias.fill_(1e4)  # P(positive) == 1.0 exactly in float64: zero loss gradient
    gf = gradient_flow(model, seq(T), "chunked", 5, label=1)
    assert gf.prob_positive == 1.0 and np.all(gf.input_grad_norm == 0)


def test_sweep_equals_one_backward_per_k(model):
    ids = seq(T)
    gf = gradient_flow(model, ids, "full", label=0)
    _, _, _, full = reference(model, ids, [(T - 1, 0)], 0)
    for k in range(1, T + 1):
        _, _, _, g = reference(model, ids, [(T - 1, T - k)], 0)
        cos = float(g @ full / (g.norm() * full.norm()))
        rel = float((g - full).norm() / full.norm())
        assert gf.sweep_cosine[k - 1] == pytest.approx(cos, abs=1e-9)
        assert gf.sweep_relative_error[k - 1] == pytest.approx(rel, abs=1e-9)
    assert gf.sweep_cosine[-1] == pytest.approx(1.0) and gf.sweep_relative_error[-1] == pytest.approx(0, abs=1e-6)
    close(gf.sweep_k, np.arange(1, T + 1))


@pytest.mark.parametrize("name,kw", CASES)
def test_backprop_count_and_reach_brute_force(model, name, kw):
    gf = gradient_flow(model, seq(T), name, **{"k": None, **kw})
    windows = make_scheme(name, **kw).windows(T)
    for t in range(T):
        hits = [p - t for p, s in windows if s <= t <= p]
        assert gf.backprop_count[t] == len(hits)
        assert gf.backprop_reach[t] == (max(hits) if hits else -1)


def test_predicted_label_when_none(model):
    gf = gradient_flow(model, seq(T), "last-k", 5)
    assert gf.label_source == "predicted"
    assert gf.label_used == int(gf.prob_positive > 0.5)
    with torch.no_grad():
        assert gf.prob_positive == pytest.approx(torch.sigmoid(model(seq(T)[None]))[0].item(), rel=1e-12)
        assert gf.step_prob[5] == pytest.approx(torch.sigmoid(model(seq(T)[None, :6]))[0].item(), rel=1e-12)


def test_float32_model_gives_same_numbers(model):
    m32 = type(model)(model.config, model.vocab)
    m32.load_state_dict({k: v.float() for k, v in model.state_dict().items()})
    a, b = gradient_flow(model, seq(T), "chunked", 5), gradient_flow(m32, seq(T), "chunked", 5)
    np.testing.assert_allclose(a.input_grad_norm, b.input_grad_norm, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("scheme", ["last-k", "chunked", "k1k2"])
def test_scheme_grid_rows_equal_gradient_flow(model, scheme):
    ks = [1, 3, 7, 30]
    grid = scheme_grid(model, seq(T), scheme, ks, label=1)
    for row, k in enumerate(ks):
        gf = gradient_flow(model, seq(T), scheme, k=k, k1=k, k2=2 * k, label=1)
        close(grid.input_grad_norm[row], gf.input_grad_norm)
        close(grid.cell_grad_norm[row], gf.cell_grad_norm)
        close(grid.backprop_reach[row], gf.backprop_reach)


def test_bad_input(model):
    with pytest.raises(ValueError):
        gradient_flow(model, torch.tensor([], dtype=torch.long), "full")
    with pytest.raises(ValueError):
        gradient_flow(model, seq(5), "last-k", 0)
    with pytest.raises(ValueError):
        gradient_flow(model, seq(5), "sideways")
    with pytest.raises(ValueError):
        gradient_flow(model, seq(5), "full", label=2)


def test_reference_step_equals_lstmcell():
    from conftest import lstm_step

    torch.manual_seed(3)
    cell = torch.nn.LSTMCell(6, 8, dtype=torch.float64)
    x, h, c = torch.randn(6, dtype=torch.float64), torch.randn(8, dtype=torch.float64), torch.randn(8, dtype=torch.float64)
    h1, c1 = cell(x[None], (h[None], c[None]))
    h2, c2 = lstm_step(cell, x, h, c)
    close(h1[0].detach(), h2.detach())
    close(c1[0].detach(), c2.detach())
