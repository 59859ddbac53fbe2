"""Attributions, context probe and memory trace, each checked against an independent computation:
plain float64 autograd over a hand-unrolled LSTM with explicit detach(), explicit re-runs, captum."""
import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from tbptt_viz.attribution import (attribute, context_probe, memory_trace, method_agreement,
                                   region_shares, sanity_check, truncation_removed_share, window_logits)
from tbptt_viz.checkpoint import save_checkpoint
from tbptt_viz.model import unroll
from tbptt_viz.schemes import SchemeError, make_scheme

from conftest import lstm_step, seq

T = 17
TRUNCATED = [("last-k", {"k": 6}), ("chunked", {"k": 5}), ("k1k2", {"k1": 4, "k2": 9}), ("k1k2", {"k1": 6, "k2": 3})]
GRADIENT_METHODS = ("integrated_gradients", "saliency", "input_x_gradient")


def close(a, b, tol=1e-9):
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), rtol=tol, atol=tol)


def plain_grad(model, x, windows):
    """d/dx of sum over windows (p, s) of logit_p, each window its own unrolled loop from t = 0 with an
    explicit detach() of the state entering s. x (T, E) -> (F, dF/dx (T, E)), float64 autograd."""
    lstm = model.lstm
    cell = torch.nn.LSTMCell(lstm.input_size, lstm.hidden_size, dtype=torch.float64)
    with torch.no_grad():
        for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, n).copy_(getattr(lstm, n + "_l0"))
    x = x.detach().clone().requires_grad_(True)
    total = 0.0
    for p, s in windows:
        h = c = torch.zeros(lstm.hidden_size, dtype=torch.float64)
        for t in range(p + 1):
            if t == s:
                h, c = h.detach(), c.detach()
            h, c = lstm_step(cell, x[t], h, c)
        total = total + model.head.weight.detach()[0] @ h + model.head.bias.detach()[0]
    (grad,) = torch.autograd.grad(total, x)
    return float(total.detach()), grad


def embedded(model, ids):
    return model.embedding.weight.detach()[ids]  # (T, E)


def logit_of(model, ids):
    with torch.no_grad():
        return float(model(torch.as_tensor(ids)[None], torch.tensor([len(ids)]))[0])


# ---- batching --------------------------------------------------------------------------------------

def test_window_groups_give_the_same_value_and_gradient(model):
    """Windows too many for one batched call run in checkpointed groups: same numbers."""
    windows = make_scheme("k1k2", k1=2, k2=7).windows(T)
    x = embedded(model, seq(T))[None].repeat(2, 1, 1).requires_grad_(True)
    one = window_logits(model, x, windows)
    (g_one,) = torch.autograd.grad(one.sum(), x)
    groups = window_logits(model, x, windows, max_cells=20)
    (g_groups,) = torch.autograd.grad(groups.sum(), x)
    close(groups.detach(), one.detach(), 1e-12)
    close(g_groups, g_one, 1e-12)


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
    assert sal.logit == pytest.approx(value, abs=1e-12) and sal.convergence_delta is None


@pytest.mark.parametrize("name,kw", TRUNCATED)
def test_truncated_saliency_and_input_x_gradient(model, name, kw):
    ids = seq(T, seed=2)
    x = embedded(model, ids)
    windows = make_scheme(name, **kw).windows(T)
    _, grad = plain_grad(model, x, windows)
    sal = attribute(model, ids, "saliency", name, **kw)
    close(sal.scores, grad.norm(dim=1))
    close(attribute(model, ids, "input_x_gradient", name, **kw).scores, (x * grad).sum(1))
    assert sal.windows.tolist() == [list(w) for w in windows] and sal.backprop == name
    assert (sal.k, sal.k1, sal.k2) == (kw.get("k"), kw.get("k1"), kw.get("k2"))


def test_last_k_credits_nothing_before_the_window_and_full_credit_inside(model):
    ids, K = seq(T), 6
    full = attribute(model, ids, "input_x_gradient").scores
    cut = attribute(model, ids, "input_x_gradient", "last-k", k=K).scores
    assert np.all(cut[: T - K] == 0) and np.all(full[: T - K] != 0)
    close(cut[T - K :], full[T - K :])


def test_chunked_credits_each_token_through_its_own_chunk(model):
    """Explicit per-chunk computation with nn.LSTM's own autograd: the state entering each chunk is run
    without a graph, then the chunk's end logit is differentiated with respect to the chunk's inputs."""
    ids, K = seq(T, seed=4), 5
    x = embedded(model, ids)
    expected = []
    for s in range(0, T, K):
        with torch.no_grad():
            state = model.lstm(x[None, :s])[1] if s else None
        xc = x[s : s + K].clone().requires_grad_(True)
        out, _ = model.lstm(xc[None], state)
        (g,) = torch.autograd.grad(model.head(out[0, -1]).sum(), xc)
        expected.append((xc * g).sum(1).detach())
    close(attribute(model, ids, "input_x_gradient", "chunked", k=K).scores, torch.cat(expected))


@pytest.mark.parametrize("method", GRADIENT_METHODS)
def test_k_at_least_T_equals_full(model, method):
    ids = seq(T)
    full = attribute(model, ids, method, n_steps=8)
    for name, k in (("last-k", T), ("last-k", T + 3), ("chunked", T)):
        a = attribute(model, ids, method, name, k=k, n_steps=8)
        close(a.scores, full.scores, 1e-12)
        assert "no truncation" in a.note and a.windows.tolist() == [[T - 1, 0]]


# ---- integrated gradients ------------------------------------------------------------------------

def test_integrated_gradients_complete_under_full_backprop(model):
    ids = seq(T, seed=5)
    ig = attribute(model, ids, "integrated_gradients", n_steps=64)
    drop = logit_of(model, ids) - logit_of(model, torch.zeros(T, dtype=torch.long))
    assert abs(drop) > 1e-3
    assert ig.scores.sum() == pytest.approx(drop, abs=1e-7)
    assert ig.completeness_gap == pytest.approx(ig.scores.sum() - drop, abs=1e-12)
    assert abs(ig.convergence_delta) < 1e-7 and abs(ig.completeness_gap) < 1e-7
    small_batches = attribute(model, ids, "integrated_gradients", n_steps=64, internal_batch_size=7)
    close(small_batches.scores, ig.scores, 1e-10)


@pytest.mark.parametrize("name,kw", [("full", {}), *TRUNCATED[:3]])
def test_integrated_gradients_equal_a_gauss_legendre_sum_of_plain_gradients(model, name, kw):
    """IG_t = sum_e (x - x') * sum_i w_i dF/dx at x' + a_i (x - x'), nodes and weights from numpy."""
    n = 6
    ids = seq(T, seed=6)
    x, base = embedded(model, ids), embedded(model, torch.zeros(T, dtype=torch.long))
    nodes, weights = np.polynomial.legendre.leggauss(n)
    avg = sum(w / 2 * plain_grad(model, base + (a + 1) / 2 * (x - base), make_scheme(name, **kw).windows(T))[1]
              for a, w in zip(nodes, weights))
    ig = attribute(model, ids, "integrated_gradients", name, n_steps=n, **kw)
    close(ig.scores, ((x - base) * avg).sum(1), 1e-8)
    drop = logit_of(model, ids) - logit_of(model, torch.zeros(T, dtype=torch.long))
    assert ig.completeness_gap == pytest.approx(ig.scores.sum() - drop, abs=1e-12)
    if name != "full":  # truncated gradients are not the gradient of the logit: completeness breaks
        assert abs(ig.completeness_gap) > 1e-4


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
        attribute(model, seq(T), "shapley")
    with pytest.raises(ValueError, match="no tokens"):
        attribute(model, [], "saliency")
    with pytest.raises(SchemeError):
        attribute(model, seq(T), "saliency", "last-k", k=0)
    with pytest.raises(SchemeError):
        attribute(model, seq(T), "saliency", "sideways")
    with pytest.raises(ValueError, match="n_steps"):
        attribute(model, seq(T), "integrated_gradients", n_steps=0)


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

def test_region_shares_by_hand():
    s = [1.0, -2.0, 0.0, 3.0, -4.0]  # |s| sums to 10
    assert region_shares(s, 2, 2) == pytest.approx({"first_n": 0.3, "last_k": 0.7, "beyond_k": 0.3})
    assert region_shares(s, 4, 3) == pytest.approx({"first_n": 0.6, "last_k": 0.7, "beyond_k": 0.3})  # overlap
    assert region_shares(s, 9, 9) == pytest.approx({"first_n": 1.0, "last_k": 1.0, "beyond_k": 0.0})
    assert region_shares([0.0, 0.0], 1, 1) == {"first_n": 0.0, "last_k": 0.0, "beyond_k": 0.0}


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
    assert agree.pair("a", "b") == pytest.approx(1.0) and agree.pair("a", "c") == pytest.approx(-1.0)
    assert np.isnan(agree.pair("a", "d")) and np.allclose(np.diag(agree.spearman), 1)
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


# ---- command line --------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
TEXT = "i love this film . the plot was not bad and the story was good , the end ."


def start(*args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "tbptt_viz", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)


def test_cli_attribute_and_probe(model, tmp_path):
    m = copy.deepcopy(model).float()
    folder = str(tmp_path / "m")
    save_checkpoint(m, folder, {"scheme": "full"})
    review = ["--model", folder, "--text", TEXT]
    # all at once: each process spends most of its time importing torch
    runs = {
        "ig": start("attribute", *review, "--method", "integrated_gradients", "--json"),
        "last-k": start("attribute", *review, "--method", "saliency", "--backprop", "last-k", "--k", "5", "--json"),
        "table": start("attribute", *review, "--method", "occlusion", "--backprop", "chunked", "--k", "4"),
        "probe": start("probe", *review, "--json"),
        "bad k": start("attribute", *review, "--backprop", "last-k", "--k", "0"),
        "bad scheme": start("attribute", *review, "--backprop", "sideways"),
        "empty": start("attribute", "--model", folder, "--text", "   "),
    }
    out = {}
    for name, p in runs.items():
        stdout, stderr = p.communicate(timeout=120)
        out[name] = (p.returncode, stdout, stderr)

    rc, stdout, stderr = out["ig"]
    assert rc == 0, stderr
    ig = json.loads(stdout)
    ids = torch.tensor(ig["ids"])
    assert ig["ids"] == m.vocab.encode(ig["tokens"]) and ig["method"] == "integrated_gradients"
    assert (ig["backprop"], ig["k"], ig["k1"], ig["k2"]) == ("full", None, None, None)
    lib = attribute(m, ids, "integrated_gradients")
    close(ig["scores"], lib.scores, 1e-6)
    assert ig["convergence_delta"] == pytest.approx(lib.convergence_delta, abs=1e-6)
    assert ig["completeness_gap"] == pytest.approx(lib.completeness_gap, abs=1e-6)
    assert ig["prob_positive"] == pytest.approx(lib.prob_positive, abs=1e-7)

    rc, stdout, stderr = out["last-k"]
    assert rc == 0, stderr
    cut = json.loads(stdout)
    assert (cut["backprop"], cut["k"], cut["method"]) == ("last-k", 5, "saliency")
    assert cut["scores"][: len(ids) - 5] == [0.0] * (len(ids) - 5) and "last-K" in cut["note"]
    close(cut["scores"], attribute(m, ids, "saliency", "last-k", k=5).scores, 1e-6)
    assert cut["convergence_delta"] is None and cut["windows"] == [[len(ids) - 1, len(ids) - 5]]

    rc, stdout, stderr = out["table"]
    assert rc == 0 and "truncation does not apply" in stdout and "love" in stdout, stderr

    rc, stdout, stderr = out["probe"]
    assert rc == 0, stderr
    probe = json.loads(stdout)
    lib = context_probe(m, ids)
    assert probe["ids"] == ig["ids"] and probe["last_n"] == list(range(1, len(ids) + 1))
    close(probe["prob_last_n"], lib.prob_last_n, 1e-7)
    close(probe["prob_without_first_n"], lib.prob_without_first_n, 1e-7)
    assert probe["prob_positive"] == pytest.approx(ig["prob_positive"], abs=1e-6)

    for name in ("bad k", "bad scheme", "empty"):
        rc, stdout, stderr = out[name]
        assert rc == 2 and stdout == "" and "Traceback" not in stderr, (name, stderr)
        assert len(stderr.strip().splitlines()) == 1 and stderr.startswith("error:"), (name, stderr)


@pytest.mark.parametrize("args", [["--method", "shapley"], ["--model", "no-such-model"], ["--k", "-3"],
                                  ["--backprop", "k1k2", "--k1", "4"]])
def test_cli_bad_input_in_process(args, capsys):
    from tbptt_viz.cli import main

    assert main(["attribute", "--text", "good film", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and len(err.strip().splitlines()) == 1
