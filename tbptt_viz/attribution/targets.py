"""The function an attribution differentiates, as a private float64 computation over a scheme's windows.

A window (p, s) reads tokens s..p from the state entering s, held fixed (detached), and ends in a
prediction z_p = head(h_p). Two targets:

    logit:  F(y) = z_{T-1}                                  (prediction time; the window (T-1, 0) only)
    loss:   F(y) = mean over windows of BCE(z_p, label)     (exactly what a training step differentiates)

    t:        0 1 2 ... T-K-1 | T-K ... T-1
    last-K:   held fixed      | y: the tokens the window reads (the state entering T-K is a constant)

`y` are the windows' own tokens, so a token inside two windows (TBPTT with k2 > k1) is credited once per
window. Every tensor here is a per-call float64 copy: the shared model is only read, never changed, so any
number of threads may attribute with one loaded model at once.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from tbptt_viz.gradients.flow import lstm64
from tbptt_viz.core.model import LSTMClassifier, check_contract, states_entering, window_hidden
from tbptt_viz.core.text import PAD_ID

TARGETS = ("logit", "loss")
# Row-steps (rows x steps) one float64 autograd batch holds: ~6 KB each at H = 128, so ~50 MB at most.
GRAD_CELLS = 1 << 13
VALUE_CELLS = 1 << 15
# Float64 gradients of at most this many path points on one window run `_one_window` (the LSTM's own reverse
# recursion: at T = 500, 1 point 50 ms against autograd's 112 ms, 4 points 102 against 144); more points run
# autograd through nn.LSTM, as fast or faster from 16 points on.
ONE_WINDOW_ROWS = 8


@dataclass(frozen=True)
class WindowTarget:
    """F along the straight path y(alpha) = base + alpha (x - base) over every window's tokens.

    Each (alpha, window) pair is one row of `model.window_hidden`, the batched "windows as rows from their
    detached states" that training uses too; the states entering the windows are the review's own.
    """

    lstm: torch.nn.LSTM        # float64 private copy
    lstm32: torch.nn.LSTM      # float32 private copy: 4x faster gradients where alpha needs no float64
    head_w: torch.Tensor       # (H,)
    head_b: torch.Tensor       # ()
    x: torch.Tensor            # (T, E) the review's embeddings
    base: torch.Tensor         # (T, E) the baseline: the pad embedding at every position
    windows: tuple             # ((p, s), ...)
    states: dict               # {s: (h, c)} each (1, H): the review's state entering each window start
    kind: str                  # logit | loss
    label: int | None          # loss target only

    @property
    def T(self) -> int:
        return self.x.shape[0]

    def _run(self, alphas: torch.Tensor, need_grad: bool, fast: bool = False):
        """F at each alpha (N,), and the path points (N, T, E) when need_grad.

        fast: run the LSTM in float32 (the path points are still formed in float64, then rounded).
        """
        lstm, dtype = (self.lstm32, torch.float32) if fast else (self.lstm, torch.float64)
        N, W = len(alphas), len(self.windows)
        xs = (self.base[None] + alphas[:, None, None] * (self.x - self.base)[None]).to(dtype)  # (N, T, E)
        if need_grad:
            xs.requires_grad_(True)
        states = {s: (h.to(dtype).expand(N, -1), c.to(dtype).expand(N, -1)) for s, (h, c) in self.states.items()}
        rows = [n for n in range(N) for _ in range(W)]
        h = window_hidden(lstm, xs, rows, [p for _ in range(N) for p, _ in self.windows],
                          [s for _ in range(N) for _, s in self.windows], states)            # (N W, H)
        z = h.double() @ self.head_w + self.head_b                                              # (N W,)
        if self.kind == "logit":
            value = z
        else:
            value = F.binary_cross_entropy_with_logits(
                z, torch.full_like(z, float(self.label)), reduction="none") / W
        return value.view(N, W).sum(1), xs

    def _chunks(self, alphas, cells: int):
        per = max(1, cells // max(1, sum(p - s + 1 for p, s in self.windows)))
        alphas = torch.as_tensor(alphas, dtype=torch.float64).reshape(-1)
        return [alphas[i : i + per] for i in range(0, len(alphas), per)]

    @torch.no_grad()
    def values(self, alphas, fast: bool = False) -> np.ndarray:
        """F(y(alpha)) for each alpha: forward passes only (fast: float32, 3.9-4.6x faster here by
        scripts/bench_precision.py; its error grows with the slope of F, see `path_gradients`)."""
        parts = [self._run(a, False, fast)[0] for a in self._chunks(alphas, VALUE_CELLS)]
        return torch.cat(parts).numpy() if parts else np.zeros(0)

    def _one_window(self, alphas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """path_gradients in float64 for a single window (p, s), by the LSTM's own reverse recursion instead of
        autograd through nn.LSTM (which has no fused float64 kernel and records every step's small ops:
        1 alpha at T = 500 took 112 ms that way, against ~30 ms here). Returns (F (N,), terms (N, T)).

            forward   a_t = W_ih y_t + b + W_hh h_{t-1};  i, f, o = sigmoid, g = tanh;  c_t = f c + i g;
                      h_t = o tanh(c_t);  z = w . h_p + b_head
            reverse   dh_p = dF/dz w;  dc_t += dh_t o (1 - tanh^2 c_t);
                      da_t = (dc g i(1-i), dc c_{t-1} f(1-f), dc i (1-g^2), dh tanh(c_t) o(1-o));
                      dh_{t-1} = W_hh^T da_t, dc_{t-1} = f dc_t;  dF/dy_t = W_ih^T da_t
        The state entering s is the review's own, held fixed (as in `_run`)."""
        (p, s), = self.windows
        lstm, H = self.lstm, self.lstm.hidden_size
        w_ih, w_hh = lstm.weight_ih_l0.detach(), lstm.weight_hh_l0.detach()
        bias = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach()
        N, L = len(alphas), p - s + 1
        diff = (self.x - self.base)[s : p + 1]                                             # (L, E)
        pre = torch.addmm(bias, (self.base[s : p + 1][None] + alphas[:, None, None] * diff[None]).reshape(N * L, -1),
                          w_ih.T).view(N, L, 4 * H)
        acts = torch.empty(N, L, 4 * H, dtype=torch.float64)
        cs = torch.empty(N, L + 1, H, dtype=torch.float64)                                   # cs[:, t + 1] = c_t
        h0, c0 = self.states[s]
        h, cs[:, 0] = h0.expand(N, H), c0.expand(N, H)
        w_hh_t = w_hh.T
        for t in range(L):
            a = torch.addmm(pre[:, t], h, w_hh_t)
            act = acts[:, t]
            torch.sigmoid(a, out=act)
            torch.tanh(a[:, 2 * H : 3 * H], out=act[:, 2 * H : 3 * H])
            c = torch.addcmul(act[:, H : 2 * H] * cs[:, t], act[:, :H], act[:, 2 * H : 3 * H], out=cs[:, t + 1])
            h = act[:, 3 * H :] * c.tanh()
        z = h @ self.head_w + self.head_b                                                      # (N,)
        if self.kind == "logit":
            value, dz = z, torch.ones_like(z)
        else:
            value = F.binary_cross_entropy_with_logits(z, torch.full_like(z, float(self.label)), reduction="none")
            dz = torch.sigmoid(z) - float(self.label)
        i, f, g, o = acts[..., :H], acts[..., H : 2 * H], acts[..., 2 * H : 3 * H], acts[..., 3 * H :]
        tc = cs[:, 1:].tanh()
        h_to_c = o * (1 - tc * tc)
        coef = torch.cat([g * i * (1 - i), cs[:, :-1] * f * (1 - f), i * (1 - g * g), tc * o * (1 - o)], -1)
        da = torch.empty(N, L, 4 * H, dtype=torch.float64)
        dh = dz[:, None] * self.head_w[None]
        dc = torch.zeros(N, H, dtype=torch.float64)
        for t in range(L - 1, -1, -1):
            dc = torch.addcmul(dc, dh, h_to_c[:, t])
            d = torch.mul(torch.cat((dc, dc, dc, dh), 1), coef[:, t], out=da[:, t])
            dh = d @ w_hh
            dc = dc * f[:, t]
        terms = torch.zeros(N, self.T, dtype=torch.float64)
        terms[:, s : p + 1] = ((da.reshape(N * L, 4 * H) @ w_ih).view(N, L, -1) * diff[None]).sum(-1)
        return value, terms

    def path_gradients(self, alphas, fast: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(F (N,), per-token dF/dalpha terms (N, T)): sum_e dF/dy_te (x_te - base_te), windows summed.

        fast: float32 LSTM, 2.6-3.2x faster here (scripts/bench_precision.py). Against float64 the per-token
        terms' relative L2 error is about 1e-6 (median) and reaches 1e-5 where F is steep; F's error,
        relative to |F| + 1, about 1e-7 and up to 2e-5 there (float32 rounds the path point by 6e-8
        relative, times the slope). tests/test_facts.py measures both on the shipped models.
        """
        values, terms = [], []
        for a in self._chunks(alphas, GRAD_CELLS):
            if not fast and len(self.windows) == 1 and len(a) <= ONE_WINDOW_ROWS:
                value, term = self._one_window(a)
                values.append(value), terms.append(term)
                continue
            with torch.enable_grad():
                value, xs = self._run(a, True, fast)
                (g,) = torch.autograd.grad(value.sum(), xs)                   # (n, T, E)
            terms.append((g.double() * (self.x - self.base)[None]).sum(-1))   # (n, T)
            values.append(value.detach())
        return torch.cat(values).numpy(), torch.cat(terms).numpy()

    def input_gradient(self) -> tuple[float, np.ndarray]:
        """(F(x), dF/dx (T, E)) at the review itself, windows summed."""
        with torch.enable_grad():
            value, xs = self._run(torch.ones(1, dtype=torch.float64), True)
            (g,) = torch.autograd.grad(value.sum(), xs)
        return float(value.detach()), g[0].numpy()


def window_target(model: LSTMClassifier, ids: torch.Tensor, windows, kind: str = "logit",
                  label: int | None = None) -> WindowTarget:
    """The target over `windows` (see the module docstring) as a float64 computation owned by this call."""
    check_contract(model)
    if kind not in TARGETS:
        raise ValueError(f"unknown target {kind!r}; choose one of {', '.join(TARGETS)}")
    if kind == "loss" and label not in (0, 1):
        raise ValueError(f"the loss target needs a label of 0 or 1, got {label!r}")
    lstm = lstm64(model.lstm)
    emb = model.embedding.weight.detach()
    x = emb[ids].double()
    base = emb[torch.full_like(ids, PAD_ID)].double()
    windows = tuple((int(p), int(s)) for p, s in windows)
    states = states_entering(lstm, x[None], [s for _, s in windows])
    return WindowTarget(lstm, lstm64(model.lstm).float(), model.head.weight.detach().double()[0],
                        model.head.bias.detach().double()[0], x, base, windows, states, kind, label)
