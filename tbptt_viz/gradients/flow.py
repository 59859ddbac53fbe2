"""Gradient flow under a truncation scheme, per position, and the whole last-K sweep from one pass.

The LSTM step, with pre-activations a_t = W_ih x_t + W_hh h_{t-1} + b (gates i, f, g, o):

    c_t = f_t * c_{t-1} + i_t * g_t        h_t = o_t * tanh(c_t)

Writing d_t = dL/da_t, the weight gradients are sums of per-step terms,
dL/dW_ih = sum_t d_t x_t^T, dL/dW_hh = sum_t d_t h_{t-1}^T, dL/db = sum_t d_t, and dL/dx_t = W_ih^T d_t.
Under last-K, d_t for t >= T-K equals full BPTT's d_t (it only depends on later steps) and is zero
before, so every K's truncated gradient is a partial sum of one full pass's terms: no backward per K.

Everything here runs in float64 on copies of the weights. Against an independent float64 computation (a
hand-unrolled nn.LSTMCell loop under autograd) the per-position norms agree to a relative 1e-8: on the shipped
models and six embedded examples under full, last-30 and chunked-30 backprop, within 1.4e-8 of the largest
norm and 3.2e-8 entry by entry (entries above a thousandth of the largest); rounding grows along the recursion
through the LSTM's Jacobians. The tests hold 1e-9 on small models.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tbptt_viz.core.model import LSTMClassifier, check_contract
from tbptt_viz.core.schemes import Scheme, backprop_count, backprop_reach, make_scheme, passes


@dataclass(frozen=True)
class Forward:
    """One float64 forward pass of one sequence, with what the backward recursion needs. (T, ...) each."""

    x: torch.Tensor       # (T, E) embeddings
    h: torch.Tensor       # (T, H) hidden state after step t
    c: torch.Tensor       # (T, H) cell state after step t
    h_prev: torch.Tensor  # (T, H) h_{t-1} (zeros at t = 0)
    gates: torch.Tensor   # (T, 4, H) i, f, g, o activations
    logits: torch.Tensor  # (T,) head(h_t): the prediction the model would make if the review ended at t
    w_ih: torch.Tensor    # (4H, E)
    w_hh: torch.Tensor    # (4H, H)
    w_head: torch.Tensor  # (H,)


def lstm64(lstm: torch.nn.LSTM) -> torch.nn.LSTM:
    """A float64 copy of the LSTM (the model itself is left as it is)."""
    twin = torch.nn.LSTM(lstm.input_size, lstm.hidden_size, batch_first=True, dtype=torch.float64)
    twin.load_state_dict({k: v.double() for k, v in lstm.state_dict().items()})
    return twin


@torch.no_grad()
def forward(model: LSTMClassifier, ids: torch.Tensor) -> Forward:
    """Run nn.LSTM once (in float64) for every h_t; gates and c_t follow from h_{t-1} without a model loop."""
    check_contract(model)
    ids = torch.as_tensor(ids).reshape(-1)
    if ids.numel() == 0:
        raise ValueError("the review has no tokens")
    lstm = model.lstm
    x = model.embedding.weight.detach().double()[ids]  # (T, E)
    w_ih, w_hh = lstm.weight_ih_l0.detach().double(), lstm.weight_hh_l0.detach().double()
    bias = lstm.bias_ih_l0.detach().double() + lstm.bias_hh_l0.detach().double()  # summed in float64, as lstm64 does
    H = lstm.hidden_size
    h = lstm64(lstm)(x[None])[0][0]  # (T, H)
    h_prev = torch.cat([x.new_zeros(1, H), h[:-1]])
    a = (x @ w_ih.T + h_prev @ w_hh.T + bias).view(-1, 4, H)
    gates = torch.stack([a[:, 0].sigmoid(), a[:, 1].sigmoid(), a[:, 2].tanh(), a[:, 3].sigmoid()], 1)
    ig = gates[:, 0] * gates[:, 2]
    f = gates[:, 1]
    c = torch.empty_like(h)
    prev = x.new_zeros(H)
    for t in range(len(ids)):  # c_t is a linear recurrence given the gates
        prev = torch.addcmul(ig[t], f[t], prev)
        c[t] = prev
    w_head = model.head.weight.detach().double()[0]
    logits = h @ w_head + model.head.bias.detach().double()[0]
    return Forward(x, h, c, h_prev, gates, logits, w_ih, w_hh, w_head)


@dataclass(frozen=True)
class Backward:
    """Per-position gradient norms of one scheme's loss (mean BCE over its windows), each (T,) float64.

    `d` (T, 4H), dL/da_t itself, is kept only where asked for (the full-BPTT pass: the sweep needs it);
    keeping it for every K of a grid would cost T x K x 4H floats (1.3 GB at T = 2,000).
    """

    input_grad_norm: np.ndarray      # ||dL/dx_t|| = ||W_ih^T d_t||
    hidden_grad_norm: np.ndarray     # ||dL/dh_t||, total derivative through the recurrence
    cell_grad_norm: np.ndarray       # ||dL/dc_t||, total derivative
    weight_ih_contrib: np.ndarray    # ||d_t|| ||x_t||
    weight_hh_contrib: np.ndarray    # ||d_t|| ||h_{t-1}||
    d: torch.Tensor | None = None    # (T, 4H) dL/da_t


NORM_BLOCK = 64   # steps whose gradient norms backward() takes in one batch: 64 x rows x 4H float64 (7 MB at 26 rows)


@torch.no_grad()
def backward(fw: Forward, schemes_windows: list[list[tuple[int, int]]], label: int,
             keep_d: tuple[int, ...] = ()) -> list[Backward]:
    """The LSTM backward recursion for several window lists at once, one reverse loop over t.

    Non-overlapping windows share a carry row (reset at each window start); overlapping ones
    (k1k2 with k2 > k1) get rows of their own, summed per list before any norm is taken. Each list's
    loss is the mean over its windows. Memory is O(T x lists), plus d for the lists in `keep_d`.
    """
    T, H = fw.h.shape
    rows: list[tuple[int, list[tuple[int, int]]]] = []
    for v, windows in enumerate(schemes_windows):
        rows += [(v, group) for group in passes(windows)]
    R, V = len(rows), len(schemes_windows)
    owner = torch.zeros(V, R, dtype=torch.float64)  # sums a list's rows
    inject = torch.zeros(T, R, dtype=torch.float64)  # dL/dz_p for the window ending at t
    keep = torch.ones(T, R, 1, dtype=torch.float64)   # 0 where a window starts: the state entering it is detached
    prob = torch.sigmoid(fw.logits)
    for r, (v, group) in enumerate(rows):
        owner[v, r] = 1.0
        n = len(schemes_windows[v])
        for p, s in group:
            inject[p, r] = (prob[p] - label) / n
            keep[s, r] = 0.0
    i, f, g, o = fw.gates.unbind(1)
    tc = fw.c.tanh()
    c_prev = torch.cat([fw.c.new_zeros(1, H), fw.c[:-1]])
    h_to_c = o * (1 - tc * tc)  # dc_t gets dh_t * o_t * tanh'(c_t)
    # da_t = (dc*g*i(1-i), dc*c_{t-1}*f(1-f), dc*i*(1-g^2), dh*tanh(c)*o(1-o)): one product with [dc,dc,dc,dh]
    coef = torch.cat([g * i * (1 - i), c_prev * f * (1 - f), i * (1 - g * g), tc * o * (1 - o)], 1)  # (T, 4H)
    inject_steps = {p for _, group in rows for p, _ in group}
    cut_steps = {s for _, group in rows for _, s in group}
    w_hh, w_head, w_ih = fw.w_hh, fw.w_head, fw.w_ih
    norms = torch.zeros(4, T, V, dtype=torch.float64)  # ||dx||, ||dh||, ||dc||, ||d|| per step and list
    kept = {v: torch.zeros(T, 4 * H, dtype=torch.float64) for v in keep_d}
    dh = torch.zeros(R, H, dtype=torch.float64)
    dc = torch.zeros(R, H, dtype=torch.float64)
    # the loop keeps only the recursion; each step's da, dh, dc go to a buffer of NORM_BLOCK steps whose norms
    # are taken in one batch (per-step norms were most of the loop's time at T = 2,000)
    own = None if R == V and bool(torch.equal(owner, torch.eye(V, dtype=torch.float64))) else owner
    n_buf = min(NORM_BLOCK, T)
    buf_da = torch.empty(n_buf, R, 4 * H, dtype=torch.float64)
    buf_dh = torch.empty(n_buf, R, H, dtype=torch.float64)
    buf_dc = torch.empty(n_buf, R, H, dtype=torch.float64)

    def flush(hi: int, lo: int) -> None:
        """The norms of steps hi, hi-1, ..., lo (buffer slots 0, 1, ...)."""
        n, ts = hi - lo + 1, torch.arange(hi, lo - 1, -1)
        d_v, h_v, c_v = buf_da[:n], buf_dh[:n], buf_dc[:n]
        if own is not None:  # sum each list's rows
            d_v, h_v, c_v = own @ d_v, own @ h_v, own @ c_v
        norms[0, ts] = (d_v @ w_ih).norm(dim=-1)
        norms[1, ts] = h_v.norm(dim=-1)
        norms[2, ts] = c_v.norm(dim=-1)
        norms[3, ts] = d_v.norm(dim=-1)
        for v in keep_d:
            kept[v][ts] = d_v[:, v]

    top = max(inject_steps)
    hi = top
    for t in range(top, -1, -1):
        if t in inject_steps:
            dh = dh + inject[t, :, None] * w_head
        dc = torch.addcmul(dc, dh, h_to_c[t])
        j = hi - t
        da = torch.mul(torch.cat((dc, dc, dc, dh), 1), coef[t], out=buf_da[j])  # (R, 4H)
        buf_dh[j], buf_dc[j] = dh, dc
        if j == n_buf - 1 or t == 0:
            flush(hi, t)
            hi = t - 1
        dh = da @ w_hh          # carried to h_{t-1}
        dc = dc * f[t]          # carried to c_{t-1}
        if t in cut_steps:      # the state entering a window start is detached for that row
            dh, dc = dh * keep[t], dc * keep[t]
    x_norm, h_prev_norm = fw.x.norm(dim=1), fw.h_prev.norm(dim=1)
    return [Backward(norms[0, :, v].numpy(), norms[1, :, v].numpy(), norms[2, :, v].numpy(),
                     (norms[3, :, v] * x_norm).numpy(), (norms[3, :, v] * h_prev_norm).numpy(), kept.get(v))
            for v in range(V)]


SWEEP_BLOCK = 128  # rows of M built at a time: (128, T) float64, 2 MB at T = 2,000 (M whole: 32 MB, and copies)


@torch.no_grad()
def last_k_sweep(fw: Forward, full: Backward) -> tuple[np.ndarray, np.ndarray]:
    """Cosine and relative error between the last-K and the full LSTM-parameter gradient, K = 1..T.

    With g_t step t's term of (dW_ih, dW_hh, db_ih, db_hh) flattened,
    M[s, t] = <g_s, g_t> = (d_s . d_t) (x_s . x_t + h_{s-1} . h_{t-1} + 2), G_K = sum_{t >= T-K} g_t:
    |G_K|^2 = sum M[T-K:, T-K:] and <G_K, G_T> = sum M[T-K:, :], both reverse cumulative sums of what each
    row of M holds left of, on and right of its diagonal:

        |G_K|^2       = sum_{t >= T-K} (diag_t + 2 right_t)       right_t = sum_{s > t} M[t, s]
        <G_K, G_T>    = sum_{t >= T-K} row_t                      row_t   = sum_s M[t, s]
        |G_T - G_K|^2 = sum_{t < T-K} (diag_t + 2 left_t)         left_t  = sum_{s < t} M[t, s]

    M is symmetric and never held whole: SWEEP_BLOCK rows at a time.
    """
    d, x, hp = full.d, fw.x, fw.h_prev
    T = d.shape[0]
    left, right, row, diag = (torch.empty(T, dtype=torch.float64) for _ in range(4))
    for r0 in range(0, T, SWEEP_BLOCK):
        r1 = min(T, r0 + SWEEP_BLOCK)
        block = x[r0:r1] @ x.T                          # (B, T): rows r0..r1-1 of M
        block.addmm_(hp[r0:r1], hp.T).add_(2).mul_(d[r0:r1] @ d.T)
        i = torch.arange(r1 - r0)
        diag[r0:r1] = block[i, r0 + i]
        row[r0:r1] = block.sum(1)
        left[r0:r1] = torch.tril(block, r0 - 1).sum(1)  # s < t: s - (t - r0) <= r0 - 1
        right[r0:r1] = torch.triu(block, r0 + 1).sum(1)  # s > t
    norm2 = (diag + 2 * right).flip(0).cumsum(0)        # |G_K|^2, K = 1..T
    cross = row.flip(0).cumsum(0)                       # <G_K, G_full>
    full2 = norm2[-1]
    # G_full - G_K = sum_{t < T-K} g_t: its norm directly, so K = T gives exactly 0 (no cancellation)
    rest2 = torch.cat([(diag + 2 * left).cumsum(0).flip(0)[1:], diag.new_zeros(1)])
    denom = torch.sqrt(norm2.clamp(min=0) * full2)
    cosine = torch.where(denom > 0, cross / denom.clamp(min=1e-300), torch.zeros_like(cross))
    rel = torch.sqrt(rest2.clamp(min=0)) / full2.sqrt().clamp(min=1e-300)
    return cosine.clamp(-1, 1).numpy(), rel.numpy()


@dataclass(frozen=True)
class GradientFlow:
    """Where the loss's gradient goes, per position t (arrays of length T unless noted).

    `input_grad_norm` etc. are under the chosen scheme; `full_*` under full BPTT. The sweep compares the
    last-K and the full gradient of the LSTM's parameters for every K = 1..T.
    """

    ids: np.ndarray                  # (T,) token ids
    scheme: str                      # full | last-k | chunked | k1k2
    k: int | None                    # last-k window / chunk length
    k1: int | None                   # k1k2: a loss every k1 steps
    k2: int | None                   # k1k2: each loss back-propagated over k2 steps
    windows: np.ndarray              # (W, 2) rows (p, s) of the scheme at this T
    truncated: bool                  # False when the scheme equals full BPTT here (e.g. K >= T)
    prob_positive: float             # the model's P(positive) on the whole review
    label_used: int                  # the loss's label
    label_source: str                # "given" or "predicted" (the model's own label)
    loss: float                      # the scheme's loss: mean BCE over its windows
    step_prob: np.ndarray            # P(positive) read at each t: what a loss at t would see
    input_grad_norm: np.ndarray      # ||dL/dx_t||
    hidden_grad_norm: np.ndarray     # ||dL/dh_t||
    cell_grad_norm: np.ndarray       # ||dL/dc_t||
    weight_ih_contrib: np.ndarray    # ||step t's term of dL/dW_ih|| = ||d_t|| ||x_t||
    weight_hh_contrib: np.ndarray    # ||step t's term of dL/dW_hh|| = ||d_t|| ||h_{t-1}||
    full_input_grad_norm: np.ndarray     # the five above under full BPTT (one loss at T-1, nothing detached)
    full_hidden_grad_norm: np.ndarray
    full_cell_grad_norm: np.ndarray
    full_weight_ih_contrib: np.ndarray
    full_weight_hh_contrib: np.ndarray
    backprop_count: np.ndarray       # how many loss terms' backward passes reach x_t
    backprop_reach: np.ndarray       # longest distance from x_t to a loss that reaches it; -1 if none
    sweep_k: np.ndarray              # 1..T
    sweep_cosine: np.ndarray         # cos(last-K gradient, full gradient) of the LSTM's parameters
    sweep_relative_error: np.ndarray  # |G_K - G_full| / |G_full|

    @property
    def T(self) -> int:
        return len(self.ids)


def _norms(b: Backward) -> dict[str, np.ndarray]:
    return {"input_grad_norm": b.input_grad_norm, "hidden_grad_norm": b.hidden_grad_norm,
            "cell_grad_norm": b.cell_grad_norm, "weight_ih_contrib": b.weight_ih_contrib,
            "weight_hh_contrib": b.weight_hh_contrib}


def scheme_loss_value(fw: Forward, windows: list[tuple[int, int]], label: int) -> float:
    z = fw.logits[[p for p, _ in windows]]
    return float(torch.nn.functional.binary_cross_entropy_with_logits(z, torch.full_like(z, float(label))))


def gradient_flow(model: LSTMClassifier, ids, scheme: str | Scheme = "last-k", k: int | None = 30,
                  k1: int | None = None, k2: int | None = None, label: int | None = None) -> GradientFlow:
    """Per-position gradient norms under `scheme` and full BPTT, backprop count/reach, and the last-K sweep.

    Loss: binary cross-entropy against `label`, or against the model's own predicted label when None.

    Maths: L = mean over the scheme's windows (p, s) of BCE(head(h_p), label), the state entering s detached;
    input_grad_norm[t] = ||dL/dx_t|| = ||W_ih^T dL/da_t||; sweep at K: cos(G_K, G_T) and |G_T - G_K| / |G_T|,
    G_K = sum_{t >= T-K} g_t the last-K gradient of the LSTM's weights.
    """
    sch = scheme if isinstance(scheme, Scheme) else make_scheme(scheme, k, k1, k2)
    fw = forward(model, ids)
    T = fw.h.shape[0]
    prob = float(torch.sigmoid(fw.logits[-1]))
    if label is not None and label not in (0, 1):
        raise ValueError(f"label must be 0 or 1, got {label!r}")
    label_used, source = (int(label), "given") if label is not None else (int(prob > 0.5), "predicted")
    windows = sch.windows(T)
    truncated = sch.truncates(T)
    full_b, *rest = backward(fw, [[(T - 1, 0)]] + ([windows] if truncated else []), label_used, keep_d=(0,))
    sch_b = rest[0] if truncated else full_b
    cosine, rel = last_k_sweep(fw, full_b)
    full = _norms(full_b)
    return GradientFlow(
        ids=np.asarray(torch.as_tensor(ids).reshape(-1)), scheme=sch.name, k=sch.k, k1=sch.k1, k2=sch.k2,
        windows=np.array(windows, dtype=np.int64).reshape(-1, 2), truncated=truncated, prob_positive=prob,
        label_used=label_used, label_source=source, loss=scheme_loss_value(fw, windows, label_used),
        step_prob=torch.sigmoid(fw.logits).numpy(), **_norms(sch_b), **{f"full_{k}": v for k, v in full.items()},
        backprop_count=backprop_count(windows, T), backprop_reach=backprop_reach(windows, T),
        sweep_k=np.arange(1, T + 1), sweep_cosine=cosine, sweep_relative_error=rel)


@dataclass(frozen=True)
class SchemeGrid:
    """Per-position gradient norms of one scheme for several K at once: (len(ks), T) arrays."""

    scheme: str
    ks: np.ndarray
    input_grad_norm: np.ndarray
    hidden_grad_norm: np.ndarray
    cell_grad_norm: np.ndarray
    backprop_count: np.ndarray
    backprop_reach: np.ndarray


def scheme_grid(model: LSTMClassifier, ids, scheme: str, ks, label: int | None = None) -> SchemeGrid:
    """Chunked (or last-k) gradient norms for every K in `ks` from one forward and one reverse loop.

    For k1k2, `ks` are k1 values with k2 = 2 k1. The app computes this once per review, so moving the
    K slider only picks a row.
    """
    fw = forward(model, ids)
    T = fw.h.shape[0]
    label = int(torch.sigmoid(fw.logits[-1]) > 0.5) if label is None else int(label)
    schemes = [make_scheme(scheme, k, k, 2 * k) for k in ks]
    windows = [s.windows(T) for s in schemes]
    norms = [_norms(b) for b in backward(fw, windows, label)]
    stack = lambda key: np.stack([n[key] for n in norms])  # noqa: E731
    return SchemeGrid(scheme, np.asarray(ks), stack("input_grad_norm"), stack("hidden_grad_norm"),
                      stack("cell_grad_norm"), np.stack([backprop_count(w, T) for w in windows]),
                      np.stack([backprop_reach(w, T) for w in windows]))
