"""Prediction-time influence without a backward pass: occlusion and the context probe.

Both ask the model what it predicts from a changed review, every change in one batch that grows by a row
a step (`growing_runs`), so each token's input projection is computed once and no shared prefix is re-run.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tbptt_viz.core.model import LSTMClassifier, as_ids, check_contract, flush_denormals
from tbptt_viz.core.text import PAD_ID


# A long review's occlusion and probe are computed in bounded pieces of positions, the end first: the last
# FIRST_PIECE positions (nearest the prediction, what a reader looks at first) as a job of their own, then
# earlier ones, each piece at most PIECE_ROW_STEPS LSTM row-steps (~0.5-2 s here), so a worker is free again
# soon and a long review never holds one for a minute. The whole computation is the same pieces joined, so a
# streamed result and a cached one are equal to the bit.
FIRST_PIECE = 500
PIECE_ROW_STEPS = 300_000


def pieces(T: int, first: int = FIRST_PIECE, row_steps: int = PIECE_ROW_STEPS) -> list[tuple[int, int]]:
    """[(lo, hi), ...] ranges of positions covering 0..T-1, in the order to compute them: the last `first`
    first, then earlier ones going back, each with at most `row_steps` row-steps (variant b runs T - b steps;
    a piece has at least one position). One piece when T <= first.

        t:      0 ............................... T-first ......... T-1
        piece:  | 3 |  2  |        1           |        0        |
    """
    if T <= first:
        return [(0, T)]
    out, hi = [(T - first, T)], T - first
    while hi > 0:
        lo, steps = hi - 1, T - (hi - 1)
        while lo > 0 and steps + T - (lo - 1) <= row_steps:
            lo -= 1
            steps += T - lo
        out.append((lo, hi))
        hi = lo
    return out


@torch.no_grad()
def growing_runs(model: LSTMClassifier, x: torch.Tensor, occlude: bool, watch=None, lo: int = 0,
                 hi: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Logits at T-1 of the variants b in [lo, hi) (default all T) of one review x (T, E), all run in one
    batch that grows by a row a step.

    Variant b joins at step b and from then on reads what every active row reads, x_t, so each token's
    input projection is computed once; all variants end at T-1 together. sum_b (T - b) row-steps in all.
      occlude=False (context probe): variant b starts from a zero state: it reads x[b:].
      occlude=True (occlusion): variant b starts from the unoccluded run's state before b (that run is
        one more row, taken over from a plain nn.LSTM pass up to lo) and reads pad at step b: the states
        before b are never recomputed.
    (Right-padded nn.LSTM calls from stored states would redo the input projection for every row and step.)
    Returns (logits (hi - lo,) indexed by b - lo, unoccluded logit or None).
    watch(t, h, c), if given, sees the active rows' states after each step t (for measurements; the last row
    is the unoccluded run when occlude=True).
    """
    T = x.shape[0]
    hi = T if hi is None else hi
    n = hi - lo
    lstm = model.lstm
    H = lstm.hidden_size
    bias = lstm.bias_ih_l0 + lstm.bias_hh_l0
    pre = torch.addmm(bias, x[lo:], lstm.weight_ih_l0.T)                # (T - lo, 4H), row t - lo
    pad_minus = bias + lstm.weight_ih_l0 @ model.embedding.weight[PAD_ID] - pre  # pad instead of x_t
    w_hh = lstm.weight_hh_l0.T
    h = x.new_zeros(n + occlude, H)  # row r: the variant starting at step hi-1-r; row n: the unoccluded run
    c = x.new_zeros(n + occlude, H)
    if occlude and lo > 0:  # the unoccluded run up to lo: no variant differs from it before lo
        _, (h_lo, c_lo) = lstm(x[None, :lo])
        h[n], c[n] = h_lo[0, 0], c_lo[0, 0]
    for t in range(lo, T):
        r = max(hi - 1 - t, 0)  # the row that starts now (none after hi); rows r.. are active
        if occlude and t < hi:
            h[r], c[r] = h[n], c[n]
        hh, cc = h[r:], c[r:]
        a = torch.addmm(pre[t - lo], hh, w_hh)  # (n + occlude - r, 4H)
        if occlude and t < hi:
            a[0] += pad_minus[t - lo]
        s = a.sigmoid()
        torch.addcmul(s[:, H : 2 * H] * cc, s[:, :H], a[:, 2 * H : 3 * H].tanh(), out=cc)
        torch.mul(s[:, 3 * H :], cc.tanh(), out=hh)
        if watch is not None:
            watch(t, hh, cc)
    z = model.head(h).squeeze(-1)
    return z[:n].flip(0), (z[n] if occlude else None)


@torch.no_grad()
def occlusion_piece(model: LSTMClassifier, ids, lo: int, hi: int) -> np.ndarray:
    """Occlusion scores (hi - lo,) float64 of positions lo..hi-1 (see `occlusion_scores`), a job of its own."""
    ids = as_ids(ids)
    with flush_denormals():
        occluded, clean = growing_runs(model, model.embedding(ids), occlude=True, lo=lo, hi=hi)
    return (clean - occluded).double().numpy()


@torch.no_grad()
def probe_piece(model: LSTMClassifier, ids, lo: int, hi: int) -> np.ndarray:
    """Logits (hi - lo,) of the model reading ids[b:] from a zero state, b = lo..hi-1 (the probe's runs)."""
    ids = as_ids(ids)
    with flush_denormals():
        logits, _ = growing_runs(model, model.embedding(ids), occlude=False, lo=lo, hi=hi)
    return logits.numpy()


def join_pieces(T: int, parts: dict[tuple[int, int], np.ndarray]) -> np.ndarray:
    """(T,) values from pieces {(lo, hi): (hi - lo,)}; NaN where no piece has arrived yet (a streamed view
    shows what it has)."""
    dtype = next(iter(parts.values())).dtype if parts else np.float64
    out = np.full(T, np.nan, dtype=dtype)
    for (lo, hi), values in parts.items():
        out[lo:hi] = values
    return out


def occlusion_scores(model: LSTMClassifier, ids) -> np.ndarray:
    """logit(review) - logit(review with token t replaced by pad, length unchanged), every t (T,), float64.

    (Zeiler & Fergus 2014, https://arxiv.org/abs/1311.2901.) Occluding t leaves every state before t
    unchanged: each occluded run starts from the unoccluded run's state before t, in one growing batch per
    piece (`pieces`: a long review's are the jobs the app streams, joined here in the same way).
    """
    check_contract(model)
    ids = as_ids(ids)
    T = len(ids)
    return join_pieces(T, {(lo, hi): occlusion_piece(model, ids, lo, hi) for lo, hi in pieces(T)})


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
    """P(positive) from the last n tokens only, and with the first n tokens removed, for every n (computed in
    `pieces`, joined by `probe_from_logits`).

    Maths: prob_last_n[n-1] = sigmoid(z(x_{T-n}, ..., x_{T-1})) read from a zero state; T(T+1)/2 LSTM steps in all.
    """
    check_contract(model)
    ids = as_ids(ids)
    T = len(ids)
    return probe_from_logits(ids, join_pieces(T, {(lo, hi): probe_piece(model, ids, lo, hi) for lo, hi in pieces(T)}))


def probe_from_logits(ids, logits: np.ndarray) -> ContextProbe:
    """The ContextProbe from every variant's logit (T,) (b: the model reading ids[b:])."""
    ids = as_ids(ids)
    T = len(ids)
    prob = torch.sigmoid(torch.from_numpy(np.asarray(logits))).double().numpy()
    return ContextProbe(ids=ids.numpy(), prob_positive=float(prob[0]), last_n=np.arange(1, T + 1),
                        prob_last_n=prob[::-1].copy(), removed_n=np.arange(T), prob_without_first_n=prob)


