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


@torch.no_grad()
def growing_runs(model: LSTMClassifier, x: torch.Tensor, occlude: bool,
                 watch=None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Logits at T-1 of T variants of one review x (T, E), all run in one batch that grows by a row a step.

    Variant b joins at step b and from then on reads what every active row reads, x_t, so each token's
    input projection is computed once; all variants end at T-1 together. T(T+1)/2 row-steps in all.
      occlude=False (context probe): variant b starts from a zero state: it reads x[b:].
      occlude=True (occlusion): variant b starts from the unoccluded run's state before b (that run is
        one more row) and reads pad at step b: the states before b are never recomputed.
    (Right-padded nn.LSTM calls from stored states would redo the input projection for every row and step.)
    Returns (logits (T,) indexed by b, unoccluded logit or None).
    watch(t, h, c), if given, sees the active rows' states after each step t (for measurements; the last row
    is the unoccluded run when occlude=True).
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
        if watch is not None:
            watch(t, hh, cc)
    z = model.head(h).squeeze(-1)
    return z[:T].flip(0), (z[T] if occlude else None)


@torch.no_grad()
def occlusion_scores(model: LSTMClassifier, ids) -> np.ndarray:
    """logit(review) - logit(review with token t replaced by pad, length unchanged), every t (T,), float64.

    (Zeiler & Fergus 2014, https://arxiv.org/abs/1311.2901.) Occluding t leaves every state before t
    unchanged: each occluded run starts from the unoccluded run's state before t, in one growing batch.
    """
    check_contract(model)
    ids = as_ids(ids)
    with flush_denormals():
        occluded, clean = growing_runs(model, model.embedding(ids), occlude=True)
    return (clean - occluded).double().numpy()


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
    """P(positive) from the last n tokens only, and with the first n tokens removed, for every n.

    Maths: prob_last_n[n-1] = sigmoid(z(x_{T-n}, ..., x_{T-1})) read from a zero state; T(T+1)/2 LSTM steps in all.
    """
    check_contract(model)
    ids = as_ids(ids)
    T = len(ids)
    with torch.no_grad(), flush_denormals():
        logits, _ = growing_runs(model, model.embedding(ids), occlude=False)  # (T,) b: reading ids[b:]
    prob = torch.sigmoid(logits).double().numpy()
    return ContextProbe(ids=ids.numpy(), prob_positive=float(prob[0]), last_n=np.arange(1, T + 1),
                        prob_last_n=prob[::-1].copy(), removed_n=np.arange(T), prob_without_first_n=prob)


