"""Connectivity: how strongly one word moves every later state of the LSTM (the forward pass is never truncated).

For a source position S and every t >= S (Distill's "Visualizing memorization in RNNs", Madsen 2019,
https://distill.pub/2019/memorization-in-rnns/; state gradients as in Verwimp et al. 2018,
https://arxiv.org/abs/1805.04264):

    state_norm[t] = ||dh_t / dx_S||_F        cell_norm[t] = ||dc_t / dx_S||_F
    logit_grad[t] = ||d z_t / dx_S||,  z_t = w . h_t + b: the logit if the review ended at t

Forward mode, all E input directions at once. With a_t = W_ih x_t + W_hh h_{t-1} + b (gates i, f, g, o)
and J^h_t = dh_t/dx_S, J^c_t = dc_t/dx_S (H x E):

    dA_S = W_ih,   dA_t = W_hh J^h_{t-1} (t > S)                              (4H x E)
    J^c_t = f_t J^c_{t-1} + (c_{t-1} f_t(1-f_t)) dA^f + (g_t i_t(1-i_t)) dA^i + (i_t (1-g_t^2)) dA^g
    J^h_t = (tanh(c_t) o_t(1-o_t)) dA^o + o_t (1 - tanh^2 c_t) J^c_t

One (4H x H)(H x E) product a step: cheaper than reverse mode, which would need one backward pass per unit of
h_t (H = 128 > E = 64) for every t.

The whole logit_grad map over (S, t) uses reverse mode instead: the cotangents of z_t for every t are rows of
one batch carried backwards (row t joins at step t), and at each step u, dz_t/dx_u = W_ih^T dz_t/da_u for all
active rows t >= u at once: one batched backward pass for all T^2/2 entries.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tbptt_viz.attribution.choices import MAX_MAP_TOKENS  # noqa: F401 - the map's longest review, public here
from tbptt_viz.core.model import LSTMClassifier, as_ids, flush_denormals
from tbptt_viz.gradients.flow import forward


@dataclass(frozen=True)
class Connectivity:
    """How one source token moves every later state. Arrays (T - source,) over t = source .. T-1, float64."""

    ids: np.ndarray          # (T,)
    source: int              # S
    positions: np.ndarray    # (T - S,) t = S .. T-1
    state_norm: np.ndarray   # ||dh_t / dx_S||_F
    cell_norm: np.ndarray    # ||dc_t / dx_S||_F
    logit_grad: np.ndarray   # ||d logit(h_t) / dx_S||
    logit: np.ndarray        # logit(h_t): the prediction if the review ended at t

    @property
    def lags(self) -> np.ndarray:
        """(T - S,) t - S."""
        return self.positions - self.source


def _step_coefficients(fw):
    """Per step (T, ...) the gate derivatives both modes need (see the module docstring)."""
    i, f, g, o = fw.gates.unbind(1)                                        # (T, H) each
    tc = fw.c.tanh()
    c_prev = torch.cat([fw.c.new_zeros(1, fw.c.shape[1]), fw.c[:-1]])
    gate_coef = torch.cat([g * i * (1 - i), c_prev * f * (1 - f), i * (1 - g * g), tc * o * (1 - o)], 1)  # (T, 4H)
    return gate_coef, f, o * (1 - tc * tc)                                # h_to_c: dh_t/dc_t (diagonal)


def _check_source(T: int, source) -> int:
    if isinstance(source, bool) or not isinstance(source, (int, np.integer)) or not 0 <= source < T:
        raise ValueError(f"source must be a token position from 0 to {T - 1}, got {source!r}")
    return int(source)


def _cast(dtype, *tensors):
    return [t.to(dtype) for t in tensors]


@torch.no_grad()
def connectivity(model: LSTMClassifier, ids, source: int, dtype: torch.dtype = torch.float32) -> Connectivity:
    """state_norm, cell_norm and logit_grad of source token S for t = S..T-1 (forward mode).

    Args:
        model: the classifier (only read: its weights are copied).
        ids: the review's token ids (T,).
        source: S, the position of the word whose influence is followed.
        dtype: of the tangent recursion. The states and gates always come from a float64 forward pass;
            float32 tangents (the default) halve the time of the (E x H)(H x 4H) product that dominates,
            at a relative error of ~1e-5 (tests check both against float64 autograd).
    """
    ids = as_ids(ids)
    T = len(ids)
    S = _check_source(T, source)
    fw = forward(model, ids)                        # float64 copies; the model is not touched
    H = fw.h.shape[1]
    coef, f, h_to_c = _cast(dtype, *_step_coefficients(fw))
    w_hh_t, w_head, w_ih_t = _cast(dtype, fw.w_hh.T.contiguous(), fw.w_head, fw.w_ih.T.contiguous())
    n = T - S
    out = torch.empty(3, n, dtype=dtype)
    with flush_denormals():                         # tangents fade over hundreds of steps
        dA = w_ih_t                                 # (E, 4H): dA_S = W_ih, one row per input direction
        Jc = Jh = torch.zeros(dA.shape[0], H, dtype=dtype)  # nothing before S depends on x_S
        for j in range(n):
            t = S + j
            if j:
                dA = Jh @ w_hh_t                    # (E, 4H)
            D = dA * coef[t]
            Jc = Jc * f[t] + D[:, :H] + D[:, H : 2 * H] + D[:, 2 * H : 3 * H]
            Jh = D[:, 3 * H :] + Jc * h_to_c[t]
            out[0, j] = torch.linalg.vector_norm(Jh)
            out[1, j] = torch.linalg.vector_norm(Jc)
            out[2, j] = torch.linalg.vector_norm(Jh @ w_head)
    out = out.double().numpy()
    return Connectivity(ids.numpy(), S, np.arange(S, T), out[0], out[1], out[2], fw.logits[S:].numpy())


@dataclass(frozen=True)
class LogitGradMap:
    """||d logit(h_t) / dx_S|| for every source S and every t >= S; NaN where t < S. (T, T) float64."""

    ids: np.ndarray          # (T,)
    logit_grad: np.ndarray   # (T, T) rows S (source), columns t
    logit: np.ndarray        # (T,) logit(h_t)


@torch.no_grad()
def logit_grad_map(model: LSTMClassifier, ids, max_tokens: int = MAX_MAP_TOKENS,
                   dtype: torch.dtype = torch.float32) -> LogitGradMap:
    """The whole map of logit_grad over (source, t) by one batched reverse pass; T <= max_tokens.

    `dtype` of the cotangent recursion (float32 by default, as in `connectivity`; gates from float64)."""
    ids = as_ids(ids)
    T = len(ids)
    if T > max_tokens:
        raise ValueError(f"the map is drawn for reviews up to {max_tokens} tokens; this one has {T}")
    fw = forward(model, ids)
    H = fw.h.shape[1]
    coef, f, h_to_c = _cast(dtype, *_step_coefficients(fw))
    w_head, w_ih, w_hh = _cast(dtype, fw.w_head, fw.w_ih, fw.w_hh)
    out = torch.full((T, T), float("nan"), dtype=dtype)
    gh = torch.zeros(T, H, dtype=dtype)            # row t: dz_t / dh_u for the current u (rows < u unused)
    gc = torch.zeros(T, H, dtype=dtype)
    with flush_denormals():
        for u in range(T - 1, -1, -1):
            gh[u] = w_head                          # row u joins: dz_u / dh_u
            rows_h, rows_c = gh[u:], gc[u:]         # active rows t >= u
            dc = torch.addcmul(rows_c, rows_h, h_to_c[u])
            da = torch.cat((dc, dc, dc, rows_h), 1).mul_(coef[u])        # (T-u, 4H) dz_t / da_u
            out[u, u:] = torch.linalg.vector_norm(da @ w_ih, dim=1)  # dz_t / dx_u = W_ih^T dz_t / da_u
            gh[u:] = da @ w_hh                      # to h_{u-1}
            gc[u:] = dc * f[u]                      # to c_{u-1}
    return LogitGradMap(ids.numpy(), out.double().numpy(), fw.logits.numpy())
