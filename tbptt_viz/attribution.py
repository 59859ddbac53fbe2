"""Which tokens a prediction rests on: token attributions (optionally under a truncation scheme's
backprop), a context probe and a memory trace. Each is a pure function returning a frozen dataclass.

The target is always the positive-class logit. Under a truncated backprop the differentiated function
is what a training step under that scheme would differentiate (one window = one loss term):

    F_trunc(x) = sum over the scheme's windows (p, s) of logit_p(x), with the state entering s detached

    t:        0 1 2 ... T-K-1 | T-K ... T-1
    last-K:   credit 0        | credit through the logit at T-1
    chunked:  each token is credited through the prediction at the end of its own chunk
"""
from __future__ import annotations

import copy
import math
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.checkpoint import checkpoint

from .flow import forward
from .model import LSTMClassifier, states_entering, window_hidden
from .schemes import Scheme, backprop_count, make_scheme
from .text import PAD_ID

# Row-steps (rows x steps) one autograd graph may hold: bounds memory for long reviews and any k1/k2.
MAX_CELLS = 1 << 15
# Row-steps per integrated-gradients batch: small batches ran fastest here (T=500: 8 rows, 0.18 s CPU;
# 50 rows, 0.26 s), as their working set stays in cache.
IG_BATCH_CELLS = 1 << 12


@dataclass(frozen=True)
class Attribution:
    """Per-token credit for the positive-class logit. `scores` (T,); `windows` (W, 2) rows (p, s) or None."""

    ids: np.ndarray                  # (T,) token ids
    scores: np.ndarray               # (T,) float64
    method: str
    prob_positive: float             # the model's own (untruncated) P(positive)
    logit: float                     # the model's own (untruncated) positive-class logit
    backprop: str                    # scheme name: full | last-k | chunked | k1k2
    k: int | None
    k1: int | None
    k2: int | None
    windows: np.ndarray | None       # the windows the gradient was taken through; None without a backward pass
    convergence_delta: float | None  # IG only: captum's delta for the differentiated function
    completeness_gap: float | None   # IG only: sum(scores) - (logit(x) - logit(all pad)), untruncated logit
    has_backward: bool               # False for occlusion
    note: str | None                 # a short remark for the reader (no truncation, occlusion, ...)


@contextmanager
def _flush_denormals():
    """Treat subnormal floats (< 1e-38 in float32) as zero while attributing.

    Gradients that vanish over hundreds of steps become subnormal, which this CPU handles ~10x slower
    (measured: nn.LSTM's backward over 25 rows of 500 steps took 0.57 s instead of 0.06 s). They are
    far below anything shown. The setting is per thread; PyTorch's default (off) is restored after.
    """
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def _row_chunks(lengths: list[int], max_cells: int) -> list[tuple[int, int]]:
    """Cut rows (longest first) into runs [a, b) whose padded size (b - a) * lengths[a] fits max_cells."""
    chunks, a = [], 0
    while a < len(lengths):
        b = min(len(lengths), a + max(1, max_cells // max(1, lengths[a])))
        chunks.append((a, b))
        a = b
    return chunks


def _windows_logit(model, x, windows, states):
    """Sum of the logits at p of `windows` for every row of x: each (window, row) one row of one batched call."""
    B = x.shape[0]
    rows = [b for _ in windows for b in range(B)]
    h = window_hidden(model.lstm, x, rows, [p for p, _ in windows for _ in range(B)],
                      [s for _, s in windows for _ in range(B)], states)  # (W B, H), window-major
    return model.head(h).squeeze(-1).view(len(windows), B).sum(0)


def window_logits(model: LSTMClassifier, x: torch.Tensor, windows, max_cells: int = MAX_CELLS) -> torch.Tensor:
    """x (B, T, E) -> (B,): sum over windows (p, s) of the logit at p, the state entering s detached.

    With windows [(T-1, 0)] this is the model's own logit. Windows are independent given the (detached)
    states entering them, so all of them run as rows of one batched call; when they would not fit in
    `max_cells` row-steps they run in groups, each group recomputed in the backward pass (checkpoint),
    so memory stays bounded for any k1/k2.
    """
    windows = sorted(windows, key=lambda w: w[0] - w[1], reverse=True)
    states = states_entering(model.lstm, x, [s for _, s in windows])
    groups = _row_chunks([p - s + 1 for p, s in windows], max(1, max_cells // x.shape[0]))
    if len(groups) == 1:
        return _windows_logit(model, x, windows, states)
    return sum(checkpoint(_windows_logit, model, x, windows[a:b], states, use_reentrant=False) for a, b in groups)


@torch.no_grad()
def _growing_runs(model: LSTMClassifier, x: torch.Tensor, occlude: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Logits at T-1 of T variants of one review x (T, E), all run in one batch that grows by a row a step.

    Variant b joins at step b and from then on reads what every active row reads, x_t, so each token's
    input projection is computed once; all variants end at T-1 together. T(T+1)/2 row-steps in all.
      occlude=False (context probe): variant b starts from a zero state: it reads x[b:].
      occlude=True (occlusion): variant b starts from the unoccluded run's state before b (that run is
        one more row) and reads pad at step b: the states before b are never recomputed.
    (About 1.5x faster here than right-padded nn.LSTM calls from stored states, which redo the input
    projection for every row and step.) Returns (logits (T,) indexed by b, unoccluded logit or None).
    """
    T = x.shape[0]
    lstm = model.lstm
    H = lstm.hidden_size
    bias = lstm.bias_ih_l0 + lstm.bias_hh_l0
    pre = torch.addmm(bias, x, lstm.weight_ih_l0.T)                    # (T, 4H)
    pad_minus = bias + lstm.weight_ih_l0 @ model.embedding.weight[PAD_ID] - pre  # (T, 4H) pad instead of x_t
    w_hh = lstm.weight_hh_l0.T
    h = x.new_zeros(T + occlude, H)  # row r: the variant starting at step T-1-r; row T: the unoccluded run
    c = x.new_zeros(T + occlude, H)
    for t in range(T):
        r = T - 1 - t  # the row that starts now; rows r.. are active
        if occlude:
            h[r], c[r] = h[T], c[T]
        hh, cc = h[r:], c[r:]
        a = torch.addmm(pre[t], hh, w_hh)  # (T + occlude - r, 4H)
        if occlude:
            a[0] += pad_minus[t]
        s = a.sigmoid()
        torch.addcmul(s[:, H : 2 * H] * cc, s[:, :H], a[:, 2 * H : 3 * H].tanh(), out=cc)
        torch.mul(s[:, 3 * H :], cc.tanh(), out=hh)
    z = model.head(h).squeeze(-1)
    return z[:T].flip(0), (z[T] if occlude else None)


# ---------------------------------------------------------------------------------------------------
# Methods: each takes (model, ids (T,), windows, n_steps, internal_batch_size) and returns
# (scores (T,) tensor, convergence delta or None).

def _embedded_grad(model, ids, windows):
    x = model.embedding(ids)[None].detach().requires_grad_(True)  # (1, T, E)
    (grad,) = torch.autograd.grad(window_logits(model, x, windows), x)
    return x[0].detach(), grad[0]


def _saliency(model, ids, windows, **_):
    """||dF/dx_t|| over the embedding dim (Simonyan et al. 2013, https://arxiv.org/abs/1312.6034)."""
    return _embedded_grad(model, ids, windows)[1].norm(dim=-1), None


def _input_x_gradient(model, ids, windows, **_):
    """sum_e x_te dF/dx_te (Shrikumar et al. 2016, https://arxiv.org/abs/1605.01713)."""
    x, grad = _embedded_grad(model, ids, windows)
    return (x * grad).sum(-1), None


def _integrated_gradients(model, ids, windows, n_steps, internal_batch_size):
    """captum LayerIntegratedGradients on the embedding from an all-pad baseline, summed over the
    embedding dim (Sundararajan et al. 2017, https://arxiv.org/abs/1703.01365)."""
    from captum.attr import LayerIntegratedGradients

    lig = LayerIntegratedGradients(lambda i: window_logits(model, model.embedding(i), windows), model.embedding)
    batch = internal_batch_size or max(1, min(n_steps, IG_BATCH_CELLS // len(ids)))
    attr, delta = lig.attribute(ids[None], baselines=torch.full_like(ids[None], PAD_ID), n_steps=n_steps,
                                internal_batch_size=batch, return_convergence_delta=True)
    return attr[0].sum(-1).detach(), float(delta.reshape(-1)[0])


@torch.no_grad()
def _occlusion(model, ids, windows=None, **_):
    """logit(review) - logit(review with token t replaced by pad, length unchanged), every t
    (Zeiler & Fergus 2014, https://arxiv.org/abs/1311.2901).

    Occluding t leaves every state before t unchanged: each occluded run starts from the unoccluded
    run's state before t, all in one growing batch (see _growing_runs), with no re-run of shared prefixes.
    """
    occluded, clean = _growing_runs(model, model.embedding(ids), occlude=True)
    return clean - occluded, None


METHODS = {"integrated_gradients": _integrated_gradients, "saliency": _saliency,
           "input_x_gradient": _input_x_gradient, "occlusion": _occlusion}
WITHOUT_BACKWARD = ("occlusion",)


def _as_ids(ids) -> torch.Tensor:
    ids = torch.as_tensor(ids, dtype=torch.long).reshape(-1)
    if ids.numel() == 0:
        raise ValueError("the review has no tokens")
    return ids


def attribute(model: LSTMClassifier, ids, method: str, backprop: str = "full", k: int | None = None,
              k1: int | None = None, k2: int | None = None, n_steps: int = 50,
              internal_batch_size: int | None = None) -> Attribution:
    """Credit each token of `ids` for the positive-class logit.

    Args:
        method: integrated_gradients | saliency | input_x_gradient | occlusion.
        backprop: full | last-k | chunked | k1k2, with k (last-k, chunked) or k1, k2 (k1k2): the gradient
            is taken through that scheme's windows (see the module docstring). Occlusion has no backward
            pass: it returns the plain occlusion scores with a note.
        n_steps: integrated gradients' quadrature points (captum's Gauss-Legendre).
        internal_batch_size: rows per batched IG pass; None picks one that bounds memory.
    Returns:
        Attribution with scores (T,).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be a whole number >= 1, got {n_steps!r}")
    scheme = make_scheme(backprop, k, k1, k2)
    ids = _as_ids(ids)
    T = len(ids)
    windows = scheme.windows(T)
    with _flush_denormals():
        scores, delta = METHODS[method](model, ids, windows, n_steps=n_steps,
                                        internal_batch_size=internal_batch_size)
    emb = model.embedding.weight.detach()
    with torch.no_grad():
        logit = float(model.forward_embedded(emb[ids][None], torch.tensor([T]))[0])
        base = float(model.forward_embedded(emb[torch.full_like(ids, PAD_ID)][None], torch.tensor([T]))[0])
    scores = scores.detach().double().numpy()
    has_backward = method not in WITHOUT_BACKWARD
    if not has_backward:
        note = "occlusion has no backward pass, so truncation does not apply: these are plain occlusion scores."
    elif scheme.name != "full" and not scheme.truncates(T):
        note = f"no truncation: {scheme.label} covers all {T} tokens, so this equals full backprop"
    elif scheme.truncates(T):
        note = f"gradient taken through the windows of {scheme.label}, as a training step would"
    else:
        note = None
    return Attribution(
        ids=ids.numpy(), scores=scores, method=method, prob_positive=float(torch.sigmoid(torch.tensor(logit))),
        logit=logit, backprop=scheme.name, k=scheme.k, k1=scheme.k1, k2=scheme.k2,
        windows=np.array(windows, dtype=np.int64).reshape(-1, 2) if has_backward else None,
        convergence_delta=delta, completeness_gap=None if delta is None else float(scores.sum() - (logit - base)),
        has_backward=has_backward, note=note)


# ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ContextProbe:
    """What the model predicts from parts of the review, every part in one batched call.

    prob_last_n[j]: P(positive) reading only the last last_n[j] tokens from a zero state, last_n = 1..T.
    prob_without_first_n[j]: P(positive) with the first removed_n[j] tokens removed, removed_n = 0..T-1.
    Both are the same runs read in opposite orders: prob_without_first_n[n] == prob_last_n[T-n-1].
    """

    ids: np.ndarray                   # (T,)
    prob_positive: float              # the normal prediction (= prob_last_n[-1])
    last_n: np.ndarray                # (T,) 1..T
    prob_last_n: np.ndarray           # (T,)
    removed_n: np.ndarray             # (T,) 0..T-1
    prob_without_first_n: np.ndarray  # (T,)


def context_probe(model: LSTMClassifier, ids) -> ContextProbe:
    """P(positive) from the last n tokens only, and with the first n tokens removed, for every n."""
    ids = _as_ids(ids)
    T = len(ids)
    with torch.no_grad(), _flush_denormals():
        logits, _ = _growing_runs(model, model.embedding(ids), occlude=False)  # (T,) b: reading ids[b:]
    prob = torch.sigmoid(logits).double().numpy()
    return ContextProbe(ids=ids.numpy(), prob_positive=float(prob[0]), last_n=np.arange(1, T + 1),
                        prob_last_n=prob[::-1].copy(), removed_n=np.arange(T), prob_without_first_n=prob)


@dataclass(frozen=True)
class MemoryTrace:
    """How the cell keeps what it reads, per position t (float64)."""

    ids: np.ndarray                # (T,)
    forget_mean: np.ndarray        # (T,) mean over units of the forget gate f_t
    survival: np.ndarray           # (T,) mean over units of prod_{u=t+1}^{T-1} f_u (1 at t = T-1)
    survival_per_unit: np.ndarray  # (T, H) the same product per unit
    cell_norm: np.ndarray          # (T,) ||c_t||
    hidden_norm: np.ndarray        # (T,) ||h_t||


def memory_trace(model: LSTMClassifier, ids) -> MemoryTrace:
    """Forget gates and what survives of each step's cell write until the prediction.

    survival_per_unit[t] = prod_{u=t+1}^{T-1} f_u is the factor by which whatever was written into the cell
    at step t is scaled along the cell path by the time of the prediction at T-1.
    """
    ids = _as_ids(ids)
    fw = forward(model, ids)
    f = fw.gates[:, 1]                                   # (T, H)
    through = f.flip(0).cumprod(0).flip(0)               # prod_{u=t}^{T-1} f_u
    survive = torch.cat([through[1:], torch.ones_like(f[:1])])
    return MemoryTrace(ids=ids.numpy(), forget_mean=f.mean(1).numpy(), survival=survive.mean(1).numpy(),
                       survival_per_unit=survive.numpy(), cell_norm=fw.c.norm(dim=1).numpy(),
                       hidden_norm=fw.h.norm(dim=1).numpy())


# ---------------------------------------------------------------------------------------------------
# Summaries of score arrays.

def region_shares(scores, first_n: int, last_k: int) -> dict[str, float]:
    """Fractions of sum |scores| in the first N tokens, in the last K, and before the last K.

    last_k + beyond_k = 1; first_n is counted on its own, so it overlaps the others when N + K > T.
    All zero when there is no mass (e.g. every score is zero).
    """
    mass = np.abs(np.asarray(scores, dtype=np.float64))
    total = mass.sum()
    if total == 0:
        return {"first_n": 0.0, "last_k": 0.0, "beyond_k": 0.0}
    cut = max(0, len(mass) - max(0, last_k))
    return {"first_n": float(mass[: max(0, first_n)].sum() / total), "last_k": float(mass[cut:].sum() / total),
            "beyond_k": float(mass[:cut].sum() / total)}


def truncation_removed_share(full_scores, windows_or_k, T: int) -> float:
    """Share of sum |full-backprop scores| on tokens that no window of the truncation reaches.

    `windows_or_k`: an int K (last-K), a Scheme, or (p, s) windows. Chunked windows reach every token
    (each through its own chunk), so nothing is removed there: its change is which prediction credits a token.
    """
    if isinstance(windows_or_k, (int, np.integer)):
        windows = make_scheme("last-k", int(windows_or_k)).windows(T)
    elif isinstance(windows_or_k, Scheme):
        windows = windows_or_k.windows(T)
    else:
        windows = [tuple(map(int, w)) for w in windows_or_k]
    mass = np.abs(np.asarray(full_scores, dtype=np.float64))
    total = mass.sum()
    return float(mass[backprop_count(windows, T) == 0].sum() / total) if total > 0 else 0.0


@dataclass(frozen=True)
class MethodAgreement:
    """Spearman rank correlation of |scores| between every pair of methods; NaN where one is constant."""

    methods: tuple[str, ...]
    spearman: np.ndarray  # (M, M)

    def pair(self, a: str, b: str) -> float:
        return float(self.spearman[self.methods.index(a), self.methods.index(b)])


def _spearman(a, b) -> float:
    from scipy.stats import spearmanr

    with warnings.catch_warnings():  # a constant array has no ranks: NaN, said in the docstring
        warnings.simplefilter("ignore")
        return float(spearmanr(np.abs(a), np.abs(b)).statistic)


def method_agreement(scores_by_method: dict) -> MethodAgreement:
    names = tuple(scores_by_method)
    M = np.eye(len(names))
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            M[i, j] = M[j, i] = _spearman(scores_by_method[a], scores_by_method[names[j]])
    return MethodAgreement(names, M)


@dataclass(frozen=True)
class SanityCheck:
    """The same method on the model and on a copy with random LSTM weights."""

    method: str
    rank_correlation: float      # Spearman of |scores|; near 1 means the method ignores what the LSTM learned
    relative_change: float       # ||randomized - scores|| / ||scores||
    scores: np.ndarray           # (T,)
    randomized_scores: np.ndarray  # (T,)


def sanity_check(model: LSTMClassifier, ids, method: str, seed: int = 0, **kwargs) -> SanityCheck:
    """Model-parameter randomisation test (Adebayo et al. 2018, https://arxiv.org/abs/1810.03292).

    The LSTM's weights are redrawn from PyTorch's default init U(-1/sqrt(H), 1/sqrt(H)) on a copy;
    embedding and head are kept, so the change isolates what the recurrence contributes.
    """
    original = attribute(model, ids, method, **kwargs).scores
    twin = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(seed)
    bound = 1 / math.sqrt(twin.lstm.hidden_size)
    with torch.no_grad():
        for p in twin.lstm.parameters():
            p.copy_(torch.rand(p.shape, generator=gen, dtype=p.dtype) * 2 * bound - bound)
    randomized = attribute(twin, ids, method, **kwargs).scores
    norm = np.linalg.norm(original)
    return SanityCheck(method, _spearman(original, randomized),
                       float(np.linalg.norm(randomized - original) / norm) if norm > 0 else float("nan"),
                       original, randomized)
