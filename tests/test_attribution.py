"""Attributions, context probe and memory trace, each checked against an independent computation:
plain float64 autograd over a hand-unrolled LSTM with explicit detach(), explicit re-runs, captum."""
import copy

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from tbptt_viz.attribution.methods import (attribute, context_probe, convergence_message, ig_check,
                                          least_certain_token, memory_trace, method_agreement, sanity_check,
                                          truncation_removed_share)
from tbptt_viz.gradients.flow import gradient_flow
from tbptt_viz.core.schemes import SchemeError, make_scheme

from conftest import lstm_step, seq, unroll, unrolled_twin

T = 17
TRUNCATED = [("last-k", {"k": 6}), ("chunked", {"k": 5}), ("k1k2", {"k1": 4, "k2": 9}), ("k1k2", {"k1": 6, "k2": 3})]
GRADIENT_METHODS = ("integrated_gradients", "saliency", "input_x_gradient")


def close(a, b, tol=1e-9):
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), rtol=tol, atol=tol)


def plain_grad(model, x, windows, label=None):
    """F and dF/dx (T, E) by float64 autograd over hand-unrolled loops, each window its own loop from t = 0
    with an explicit detach() of the state entering s. label None: F = sum of the window logits (with one
    window, the logit); else F = mean over windows of BCE(logit_p, label), the training step's loss."""
    lstm = model.lstm
    cell = unrolled_twin(model, torch.float64)
    x = x.detach().clone().requires_grad_(True)
    total = 0.0
    for p, s in windows:
        h = c = torch.zeros(lstm.hidden_size, dtype=torch.float64)
        for t in range(p + 1):
            if t == s:
                h, c = h.detach(), c.detach()
            h, c = lstm_step(cell, x[t], h, c)
        z = model.head.weight.detach()[0] @ h + model.head.bias.detach()[0]
        if label is None:
            total = total + z
        else:
            y = torch.tensor(float(label), dtype=torch.float64)
            total = total + torch.nn.functional.binary_cross_entropy_with_logits(z, y) / len(windows)
    (grad,) = torch.autograd.grad(total, x)
    return float(total.detach()), grad


def embedded(model, ids):
    return model.embedding.weight.detach()[ids]  # (T, E)


def logit_of(model, ids):
    with torch.no_grad():
        return float(model(torch.as_tensor(ids)[None], torch.tensor([len(ids)]))[0])


# ---- gradient methods under full and truncated backprop -----------------------------------------

def test_saliency_and_input_x_gradient_full(model):
    ids = seq(T)
    x = embedded(model, ids)
    value, grad = plain_grad(model, x, [(T - 1, 0)])
    assert value == pytest.approx(logit_of(model, ids), abs=1e-12)
    sal = attribute(model, ids, "saliency")
    close(sal.scores, grad.norm(dim=1))
    close(attribute(model, ids, "input_x_gradient").scores, (x * grad).sum(1))
    assert sal.backprop == "full" and sal.windows.tolist() == [[T - 1, 0]] and sal.has_backward
    assert sal.logit == pytest.approx(value, abs=1e-12) and sal.target == "logit" and sal.label_used is None
    assert sal.target_value == pytest.approx(value, abs=1e-12) and sal.completeness_gap is None


def test_input_x_gradient_agrees_with_captum(model):
    from captum.attr import LayerGradientXActivation

    ids = seq(11, seed=4)
    theirs = LayerGradientXActivation(copy.deepcopy(model), copy.deepcopy(model).embedding)  # captum hooks a copy
    m = theirs.forward_func
    theirs = LayerGradientXActivation(m, m.embedding).attribute(ids[None])  # (1, T, E)
    close(attribute(model, ids, "input_x_gradient").scores, theirs.sum(-1)[0].detach(), 1e-12)


def own_label(model, ids):
    return int(logit_of(model, ids) > 0)


@pytest.mark.parametrize("name,kw", TRUNCATED)
def test_truncated_saliency_and_input_x_gradient_differentiate_the_training_loss(model, name, kw):
    ids = seq(T, seed=2)
    x = embedded(model, ids)
    windows = make_scheme(name, **kw).windows(T)
    label = own_label(model, ids)
    value, grad = plain_grad(model, x, windows, label)
    sal = attribute(model, ids, "saliency", name, **kw)
    close(sal.scores, grad.norm(dim=1))
    close(attribute(model, ids, "input_x_gradient", name, **kw).scores, (x * grad).sum(1))
    assert sal.windows.tolist() == [list(w) for w in windows] and sal.backprop == name
    assert (sal.k, sal.k1, sal.k2) == (kw.get("k"), kw.get("k1"), kw.get("k2"))
    assert sal.target == "loss" and sal.label_used == label and sal.target_value == pytest.approx(value, abs=1e-12)
    # the same numbers as the training view: ||dL/dx_t|| of gradient_flow for that scheme
    gf = gradient_flow(model, ids, name, label=label, **kw)
    close(sal.scores, gf.input_grad_norm, 1e-9)
    # a given label replaces the model's own
    other = attribute(model, ids, "saliency", name, label=1 - label, **kw)
    close(other.scores, plain_grad(model, x, windows, 1 - label)[1].norm(dim=1))


def test_full_backprop_of_the_loss_is_the_comparison_for_truncation(model):
    ids = seq(T, seed=3)
    x = embedded(model, ids)
    label = own_label(model, ids)
    full = attribute(model, ids, "input_x_gradient", target="loss")
    close(full.scores, (x * plain_grad(model, x, [(T - 1, 0)], label)[1]).sum(1))
    with pytest.raises(ValueError, match="training loss"):
        attribute(model, ids, "saliency", "last-k", k=5, target="logit")


def test_last_k_credits_nothing_before_the_window_and_full_credit_inside(model):
    ids, K = seq(T), 6
    full = attribute(model, ids, "input_x_gradient", target="loss").scores
    cut = attribute(model, ids, "input_x_gradient", "last-k", k=K).scores
    assert np.all(cut[: T - K] == 0) and np.all(full[: T - K] != 0)
    close(cut[T - K :], full[T - K :])


def test_chunked_credits_each_token_through_its_own_chunk(model):
    """Explicit per-chunk computation with nn.LSTM's own autograd: the state entering each chunk is run
    without a graph, then the chunk's loss (its share of the mean BCE) is differentiated with respect to the
    chunk's inputs."""
    ids, K = seq(T, seed=4), 5
    x = embedded(model, ids)
    label = own_label(model, ids)
    n_chunks = len(range(0, T, K))
    expected = []
    for s in range(0, T, K):
        with torch.no_grad():
            state = model.lstm(x[None, :s])[1] if s else None
        xc = x[s : s + K].clone().requires_grad_(True)
        out, _ = model.lstm(xc[None], state)
        z = model.head(out[0, -1]).sum()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z, torch.tensor(float(label), dtype=z.dtype))
        (g,) = torch.autograd.grad(loss / n_chunks, xc)
        expected.append((xc * g).sum(1).detach())
    close(attribute(model, ids, "input_x_gradient", "chunked", k=K).scores, torch.cat(expected))


@pytest.mark.parametrize("method", GRADIENT_METHODS)
def test_k_at_least_T_equals_full(model, method):
    ids = seq(T)
    full = attribute(model, ids, method)
    for name, k in (("last-k", T), ("last-k", T + 3), ("chunked", T)):
        a = attribute(model, ids, method, name, k=k)
        close(a.scores, full.scores, 1e-12)
        assert "no truncation" in a.note and a.windows.tolist() == [[T - 1, 0]]


# ---- integrated gradients ------------------------------------------------------------------------

def dense_ig(model, ids, windows, label=None, n=256):
    """IG by a dense composite Gauss-Legendre rule (n nodes on each of 8 equal intervals) over plain_grad.

    Window by window: its tokens move from padding to the review while the tokens before it stay as in
    the review (the state entering it is the review's, detached); each window's loss counts 1/W."""
    x = embedded(model, ids)
    base = embedded(model, torch.zeros(len(ids), dtype=torch.long))
    nodes, weights = np.polynomial.legendre.leggauss(n)
    scores = torch.zeros(len(ids), dtype=torch.float64)
    for p, s in windows:
        moving = torch.zeros(len(ids), 1, dtype=torch.float64)
        moving[s:] = 1.0
        total = torch.zeros_like(x)
        for lo in np.arange(8) / 8:
            for a, w in zip(nodes, weights):
                alpha = lo + (a + 1) / 16
                y = x - moving * (1 - alpha) * (x - base)
                total += w / 16 * plain_grad(model, y, [(p, s)], label)[1]
        scores += (moving * (x - base) * total).sum(1) / (len(windows) if label is not None else 1)
    return scores.numpy()


def test_integrated_gradients_complete_and_equal_a_dense_reference_under_full_backprop(model):
    ids = seq(T, seed=5)
    ig = attribute(model, ids, "integrated_gradients")
    drop = logit_of(model, ids) - logit_of(model, torch.zeros(T, dtype=torch.long))
    assert abs(drop) > 1e-3 and ig.converged and ig.evaluations >= 8
    assert ig.target_change == pytest.approx(drop, abs=1e-10)
    assert ig.completeness_gap == pytest.approx(ig.scores.sum() - drop, abs=1e-12)
    assert abs(ig.completeness_gap) <= ig.tolerance == pytest.approx(0.01 * abs(drop) + 0.01)
    dense = dense_ig(model, ids, [(T - 1, 0)], n=16)
    close(ig.scores, dense, 1e-4)
    assert np.linalg.norm(ig.scores - dense) <= ig.error_estimate <= ig.tolerance  # every token, in L2
    assert ig.token_error.shape == (T,) and np.linalg.norm(ig.token_error) <= ig.error_estimate
    assert convergence_message(ig) is None and ig.converged is True
    tight = attribute(model, ids, "integrated_gradients", rtol=0, atol=1e-9)
    assert abs(tight.completeness_gap) <= 1e-9 and tight.converged
    close(tight.scores, dense, 1e-8)


@pytest.mark.slow
@pytest.mark.parametrize("name,kw", TRUNCATED[:3])
def test_truncated_integrated_gradients_are_complete_for_their_own_target(model, name, kw):
    """Under a scheme, IG moves each window's tokens from padding to the review with the state entering the
    window held: the scores add up to L(review) - L(each window's tokens padded), checked by explicit runs."""
    ids = seq(T, seed=6)
    windows = make_scheme(name, **kw).windows(T)
    label = own_label(model, ids)
    ig = attribute(model, ids, "integrated_gradients", name, rtol=0, atol=1e-8, **kw)
    x = embedded(model, ids)
    value, _ = plain_grad(model, x, windows, label)
    padded = 0.0
    for p, s in windows:  # the window's own tokens padded, its entering state computed from the review
        xw = x.clone()
        xw[s : p + 1] = 0.0
        y = xw.clone()
        y[:s] = x[:s]
        padded += plain_grad(model, y, [(p, s)], label)[0] / len(windows)
    assert ig.target_change == pytest.approx(value - padded, abs=1e-10)
    assert ig.converged and abs(ig.completeness_gap) <= 1e-8
    close(ig.scores, dense_ig(model, ids, windows, label, n=16), 1e-6)
    if name == "last-k":
        assert np.all(ig.scores[: T - kw["k"]] == 0)


def test_integrated_gradients_equal_captum(model):
    """captum's IntegratedGradients on the embedded review (many Gauss-Legendre steps) as a second oracle."""
    from captum.attr import IntegratedGradients

    ids = seq(T, seed=11)
    x = embedded(model, ids)[None]
    base = embedded(model, torch.zeros(T, dtype=torch.long))[None]
    fn = lambda e: model.forward_embedded(e, torch.full((e.shape[0],), T))  # noqa: E731
    want = IntegratedGradients(fn).attribute(x, baselines=base, n_steps=400, method="gausslegendre")
    got = attribute(model, ids, "integrated_gradients", rtol=0, atol=1e-9)
    close(got.scores, want[0].sum(-1).detach(), 1e-7)


def steep_model(vocab):
    """A 1-unit LSTM reading two tokens (embeddings 1 and 0.5) whose logit jumps from -5 to +4.6 at
    alpha = 0.6 along IG's path, within ~1e-4: the output gate and the second write open there together."""
    from tbptt_viz.core.model import LSTMClassifier, ModelConfig

    m = LSTMClassifier(ModelConfig(len(vocab), 1, 1), vocab).double().eval()
    with torch.no_grad():
        for p in m.parameters():
            p.zero_()
        m.embedding.weight[2], m.embedding.weight[3] = 1.0, 0.5
        m.lstm.weight_ih_l0[:, 0] = torch.tensor([1e5, 0.0, 1e5, 1e5], dtype=torch.float64)  # i, f, g, o
        m.lstm.bias_ih_l0[:] = torch.tensor([-3e4, 20.0, -3e4, -3e4], dtype=torch.float64)
        m.head.weight[:] = 10.0
        m.head.bias[:] = -5.0
    return m


@pytest.mark.slow
def test_adaptive_integration_follows_a_steep_step_that_fixed_steps_miss(vocab):
    m = steep_model(vocab)
    ids = torch.tensor([2, 3])
    ig = attribute(m, ids, "integrated_gradients")
    change = logit_of(m, ids) - logit_of(m, torch.zeros(2, dtype=torch.long))
    assert ig.target_change == pytest.approx(change, abs=1e-12) and change > 9
    assert ig.converged and abs(ig.completeness_gap) <= ig.tolerance
    # dense reference with the steps' locations known: fine Gauss-Legendre pieces around alpha = 0.3 and 0.6
    x = embedded(m, ids)
    edges = np.unique(np.concatenate([np.linspace(0, 1, 11), 0.3 + np.linspace(-1e-3, 1e-3, 101),
                                      0.6 + np.linspace(-1e-3, 1e-3, 201)]))
    nodes, weights = np.polynomial.legendre.leggauss(16)
    ref = torch.zeros_like(x)
    for lo, hi in zip(edges[:-1], edges[1:]):
        for a, w in zip(nodes, weights):
            alpha = (lo + hi) / 2 + (hi - lo) / 2 * a
            ref += w * (hi - lo) / 2 * plain_grad(m, alpha * x, [(1, 0)])[1]
    ref = (x * ref).sum(1).numpy()
    assert ref.sum() == pytest.approx(change, rel=1e-4)
    close(ig.scores, ref, 0.02 * change)
    fixed = attribute(m, ids, "integrated_gradients", max_evaluations=8)  # the first pass only (2 x 9 nodes)
    assert fixed.converged is False and convergence_message(fixed)
    assert abs(fixed.completeness_gap) > 1 and fixed.error_estimate > fixed.tolerance
    assert f"{fixed.error_estimate:.2g}" in convergence_message(fixed)
    assert ig.error_estimate <= ig.tolerance and convergence_message(ig) is None
    worst = least_certain_token(fixed)
    if np.any(fixed.token_error > 0):  # a token's own estimate is largest: the message names it
        assert worst == int(np.argmax(fixed.token_error)) and f"token {worst}'s" in convergence_message(fixed)
    else:  # every stretch credited as rank one: its bound is the estimate, no token singled out
        assert worst is None and "token " not in convergence_message(fixed).split("tolerance")[0]
    assert ig_check(ig) == {"converged": True, "error_estimate": ig.error_estimate, "tolerance": ig.tolerance,
                            "completeness_gap": ig.completeness_gap, "target_change": ig.target_change,
                            "evaluations": ig.evaluations, "rank_one_intervals": ig.rank_one_intervals}
    saliency = attribute(m, ids, "saliency")
    assert ig_check(saliency) is None and least_certain_token(saliency) is None
    assert len(ig.path_alpha) == len(ig.path_value) and np.all(np.diff(ig.path_alpha) > 0)


# ---- occlusion -----------------------------------------------------------------------------------

def test_occlusion_equals_explicit_reruns(model):
    ids = seq(T, seed=7)
    base = logit_of(model, ids)
    expected = []
    for t in range(T):
        occluded = ids.clone()
        occluded[t] = 0
        expected.append(base - logit_of(model, occluded))  # length passed: the read position stays at T-1
    a = attribute(model, ids, "occlusion")
    close(a.scores, expected, 1e-10)
    assert not a.has_backward and a.windows is None and "no backward pass" in a.note


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_occlusion_equals_captum_feature_ablation(model, dtype):
    from captum.attr import FeatureAblation

    m = copy.deepcopy(model).to(dtype)
    ids = seq(40, seed=8)
    ablation = FeatureAblation(lambda i, lengths: m(i, lengths)).attribute(
        ids[None], baselines=0, additional_forward_args=(torch.tensor([40]),), perturbations_per_eval=40)
    close(attribute(m, ids, "occlusion").scores, ablation[0].detach(), 1e-5 if dtype == torch.float32 else 1e-10)


# ---- a long review in pieces: the end first, each piece a job of its own -------------------------------------

LONG = 1300  # more than probe.FIRST_PIECE: several pieces


def test_pieces_cover_every_position_once_the_end_first_each_bounded():
    from tbptt_viz.attribution.probe import FIRST_PIECE, PIECE_ROW_STEPS, pieces

    assert pieces(FIRST_PIECE) == [(0, FIRST_PIECE)] and pieces(7) == [(0, 7)]
    for T, first, budget in ((2000, FIRST_PIECE, PIECE_ROW_STEPS), (LONG, FIRST_PIECE, PIECE_ROW_STEPS),
                             (60, 10, 200), (60, 10, 1)):
        plan = pieces(T, first, budget)
        assert plan[0] == (T - first, T)
        covered = np.zeros(T, int)
        for i, (lo, hi) in enumerate(plan):
            covered[lo:hi] += 1
            assert i == 0 or hi - lo == 1 or sum(T - b for b in range(lo, hi)) <= budget  # row-steps of the piece
        assert (covered == 1).all() and [hi for _, hi in plan[1:]] == [lo for lo, _ in plan[:-1]]  # going back


def all_occluded_logits(model, ids):
    """Every occluded variant run from scratch by nn.LSTM in one batch, read at T-1 (no growing runs)."""
    T = len(ids)
    batch = ids.repeat(T, 1)
    batch[torch.arange(T), torch.arange(T)] = 0
    with torch.no_grad():
        return model(batch, torch.full((T,), T)).numpy()


def test_long_occlusion_in_pieces_equals_explicit_reruns_and_its_streamed_pieces(model):
    from tbptt_viz.attribution.probe import join_pieces, occlusion_piece, occlusion_scores, pieces

    ids = seq(LONG, seed=11)
    whole = occlusion_scores(model, ids)
    close(whole, logit_of(model, ids) - all_occluded_logits(model, ids), 1e-10)  # float64 model
    for m in (model, copy.deepcopy(model).float()):
        streamed = {}
        for lo, hi in pieces(LONG):  # as the app computes them: separate jobs, the end first
            streamed[(lo, hi)] = occlusion_piece(m, ids, lo, hi)
            partial = join_pieces(LONG, streamed)
            assert np.isnan(partial).sum() == LONG - sum(h - l for l, h in streamed)
        assert np.array_equal(join_pieces(LONG, streamed), occlusion_scores(m, ids))  # identical, not close
        assert np.array_equal(attribute(m, ids, "occlusion").scores, occlusion_scores(m, ids))


def test_long_probe_in_pieces_equals_explicit_runs_and_its_streamed_pieces(model):
    from tbptt_viz.attribution.probe import join_pieces, pieces, probe_from_logits, probe_piece

    ids = seq(LONG, seed=12)
    p = context_probe(model, ids)
    batch = torch.zeros(LONG, LONG, dtype=torch.long)
    for b in range(LONG):  # variant b reads ids[b:] from a zero state, right-padded
        batch[b, : LONG - b] = ids[b:]
    with torch.no_grad():
        want = torch.sigmoid(model(batch, torch.arange(LONG, 0, -1))).numpy()
    close(p.prob_without_first_n, want, 1e-10)
    m = copy.deepcopy(model).float()
    parts = {(lo, hi): probe_piece(m, ids, lo, hi) for lo, hi in reversed(pieces(LONG))}  # any order
    joined = probe_from_logits(ids, join_pieces(LONG, parts))
    assert np.array_equal(joined.prob_last_n, context_probe(m, ids).prob_last_n)


def test_occlusion_ignores_truncation_and_says_so(model):
    ids = seq(T)
    a = attribute(model, ids, "occlusion", "last-k", k=4)
    close(a.scores, attribute(model, ids, "occlusion").scores, 0)
    assert a.backprop == "last-k" and a.k == 4 and not a.has_backward and "truncation does not apply" in a.note


def test_subnormal_floats_are_kept_after_attributing(model):
    """attribute flushes subnormals to zero for speed while it runs, then restores PyTorch's default."""
    attribute(model, seq(T), "saliency")
    context_probe(model, seq(T))
    assert float(torch.tensor([1e-39], dtype=torch.float32) * 1.0) > 0


def test_bad_input_is_refused(model):
    with pytest.raises(ValueError, match="unknown method"):
        attribute(model, seq(T), "lime")  # shapley exists now (issue 23)
    with pytest.raises(ValueError, match="no tokens"):
        attribute(model, [], "saliency")
    with pytest.raises(SchemeError):
        attribute(model, seq(T), "saliency", "last-k", k=0)
    with pytest.raises(SchemeError):
        attribute(model, seq(T), "saliency", "sideways")
    with pytest.raises(ValueError, match="max_evaluations"):
        attribute(model, seq(T), "integrated_gradients", max_evaluations=0)
    with pytest.raises(ValueError, match="max_evaluations"):
        attribute(model, seq(T), "integrated_gradients", max_evaluations=10**30)
    with pytest.raises(ValueError, match="label"):
        attribute(model, seq(T), "saliency", "last-k", k=3, label=2)


# ---- context probe and memory trace ---------------------------------------------------------------

def test_context_probe_equals_direct_runs(model):
    ids = seq(T, seed=9)
    p = context_probe(model, ids)
    prob = lambda part: 1 / (1 + np.exp(-logit_of(model, part)))  # noqa: E731
    assert p.last_n.tolist() == list(range(1, T + 1)) and p.removed_n.tolist() == list(range(T))
    assert p.prob_last_n[4] == pytest.approx(prob(ids[T - 5 :]), abs=1e-12)           # n = 5
    assert p.prob_without_first_n[5] == pytest.approx(prob(ids[5:]), abs=1e-12)       # first 5 removed
    assert p.prob_last_n[-1] == pytest.approx(prob(ids), abs=1e-12) == p.prob_positive  # n = T
    assert p.prob_without_first_n[0] == pytest.approx(prob(ids), abs=1e-12)
    close(p.prob_last_n, [prob(ids[T - n :]) for n in range(1, T + 1)], 1e-12)
    close(p.prob_without_first_n, p.prob_last_n[::-1], 0)


def test_memory_trace_equals_the_unrolled_twin(model):
    ids = seq(T, seed=10)
    m = memory_trace(model, ids)
    u = unroll(model, ids)
    f = u.gates[:, 1]
    for t in (0, 5, T - 2, T - 1):
        product = torch.ones(f.shape[1], dtype=torch.float64)
        for v in range(t + 1, T):
            product = product * f[v]
        close(m.survival_per_unit[t], product, 1e-12)
        assert m.survival[t] == pytest.approx(float(product.mean()), abs=1e-12)
    close(m.forget_mean, f.mean(1), 1e-12)
    close(m.cell_norm, u.c.norm(dim=1), 1e-12)
    close(m.hidden_norm, u.h.norm(dim=1), 1e-12)
    assert m.survival_per_unit.shape == (T, 8) and m.survival[-1] == 1.0


# ---- summaries -----------------------------------------------------------------------------------

def test_truncation_removed_share_by_hand():
    s = [1.0, -2.0, 0.0, 3.0, -4.0]
    assert truncation_removed_share(s, 2, 5) == pytest.approx(0.3)
    assert truncation_removed_share(s, make_scheme("last-k", 4), 5) == pytest.approx(0.1)
    assert truncation_removed_share(s, make_scheme("chunked", 2).windows(5), 5) == 0.0
    assert truncation_removed_share(s, [(4, 3), (1, 1)], 5) == pytest.approx(0.1)  # t = 0 and 2 uncovered
    assert truncation_removed_share([0.0] * 5, 2, 5) == 0.0


def test_method_agreement_ranks_absolute_scores():
    agree = method_agreement({"a": [1, 2, 3, 4], "b": [-10, 20, -30, 40], "c": [4, 3, 2, 1], "d": [5, 5, 5, 5]})
    assert agree.methods == ("a", "b", "c", "d")
    assert agree.spearman[0, 1] == pytest.approx(1.0) and agree.spearman[0, 2] == pytest.approx(-1.0)
    assert np.isnan(agree.spearman[0, 3]) and np.allclose(np.diag(agree.spearman), 1)
    assert np.array_equal(agree.spearman, agree.spearman.T, equal_nan=True)


def test_sanity_check_randomizes_a_copy(model):
    ids = seq(T)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    check = sanity_check(model, ids, "saliency", seed=1)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    close(check.scores, attribute(model, ids, "saliency").scores, 0)
    r, s = check.randomized_scores, check.scores
    assert check.relative_change == pytest.approx(np.linalg.norm(r - s) / np.linalg.norm(s))
    assert check.rank_correlation == pytest.approx(spearmanr(np.abs(s), np.abs(r)).statistic)
    assert check.relative_change > 0.05
    close(sanity_check(model, ids, "saliency", seed=1).randomized_scores, r, 0)  # seeded


@pytest.mark.parametrize("T,window", [(40, (39, 0)), (40, (39, 25)), (40, (20, 5))])
def test_one_window_gradients_equal_a_hand_unrolled_detached_loop(model, T, window):
    """The float64 path gradients of a single window (`WindowTarget._one_window`, the LSTM's own reverse
    recursion, used for up to ONE_WINDOW_ROWS path points) against conftest.reference: an nn.LSTMCell loop with
    an explicit detach() at the window's start, plain autograd. At alpha = 1 the path point is the review, so
    dF/dalpha per token is dL/dx_t . (x_t - base_t); at other alphas, against autograd through nn.LSTM."""
    from conftest import reference
    from tbptt_viz.attribution.targets import ONE_WINDOW_ROWS, window_target

    ids = seq(T, seed=3)
    for label in (0, 1):
        tg = window_target(model, ids, [window], "loss", label)
        value, terms = tg.path_gradients([1.0])
        dx = reference(model, ids, [window], label)[0]
        x = model.embedding.weight.detach()[ids].double()
        base = model.embedding.weight.detach()[0].double()
        np.testing.assert_allclose(terms[0], (dx * (x - base)).sum(-1).numpy(), rtol=1e-10, atol=1e-13)
        # more points than ONE_WINDOW_ROWS go through autograd: the same numbers at every alpha
        alphas = np.linspace(0.05, 1.0, ONE_WINDOW_ROWS)
        few = tg.path_gradients(alphas)
        many = tg.path_gradients(np.concatenate([alphas, alphas]))
        np.testing.assert_allclose(few[0], many[0][:ONE_WINDOW_ROWS], rtol=1e-12)
        np.testing.assert_allclose(few[1], many[1][:ONE_WINDOW_ROWS], rtol=1e-10, atol=1e-13)
        assert np.all(few[1][:, : window[1]] == 0) and np.all(few[1][:, window[0] + 1 :] == 0)
