"""Small seeded models and an independent reference: a hand-unrolled nn.LSTMCell loop in float64."""
from __future__ import annotations

import os

import pytest
import torch
import torch.nn.functional as F

from dataclasses import dataclass

from tbptt_viz.core.model import LSTMClassifier, ModelConfig
from tbptt_viz.core.text import Vocab

torch.set_num_threads(1)  # tiny models: threads only add overhead
os.environ.setdefault("TBPTT_VIZ_WARMUP", "0")  # the app's start-up warm-up would compete with the tests

WORDS = ["good", "bad", "great", "awful", "love", "hate", "film", "plot", "the", "a", "and", "it", "was", "not",
         "i", "this", ".", ",", "!", "movie", "story", "actor", "scene", "end", "start"]


@pytest.fixture
def vocab() -> Vocab:
    return Vocab(("<pad>", "<unk>", *WORDS, *[f"w{i}" for i in range(50 - 2 - len(WORDS))]))


@pytest.fixture
def model(vocab) -> LSTMClassifier:
    torch.manual_seed(0)
    m = LSTMClassifier(ModelConfig(len(vocab), 6, 8), vocab).double().eval()
    with torch.no_grad():  # make the recurrence matter: larger recurrent weights than the default init
        m.lstm.weight_hh_l0.mul_(3.0)
        m.head.weight.mul_(3.0)
    return m


def seq(T: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(2, 50, (T,), generator=torch.Generator().manual_seed(seed))


def lstm_step(cell: torch.nn.LSTMCell, x, h, c):
    """One LSTM step written out, so that dL/dc_t is the total derivative (through h_t as well).

    nn.LSTMCell computes h_t from an internal c_t, so the grad of its returned c_t misses the h_t path;
    test_reference_step_equals_lstmcell checks these equations against nn.LSTMCell itself.
    """
    a = cell.weight_ih @ x + cell.weight_hh @ h + cell.bias_ih + cell.bias_hh
    i, f, g, o = a.chunk(4)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c.tanh(), c


def reference(model: LSTMClassifier, ids: torch.Tensor, windows, label: int):
    """Gradients of mean_w BCE(head(h_p), label) with the state detached entering s, for each window (p, s).

    Every window runs its own nn.LSTMCell loop from t = 0 with an explicit detach() at s. Returns
    dL/dx (T, E), dL/dh (T, H), dL/dc (T, H) summed over windows, and the LSTM parameter gradients.
    """
    lstm = model.lstm
    cell = unrolled_twin(model, torch.float64)
    x = model.embedding.weight.detach()[ids].clone().requires_grad_(True)  # (T, E)
    H = lstm.hidden_size
    y = torch.tensor(float(label), dtype=torch.float64)
    hs, cs, losses = [], [], []
    for p, s in windows:
        h = c = torch.zeros(H, dtype=torch.float64)
        hw, cw = [], []
        for t in range(p + 1):
            if t == s:
                h, c = h.detach(), c.detach()
            h, c = lstm_step(cell, x[t], h, c)
            h.retain_grad(), c.retain_grad()
            hw.append(h), cw.append(c)
        hs.append(hw), cs.append(cw)
        logit = model.head.weight.detach()[0] @ h + model.head.bias.detach()[0]
        losses.append(F.binary_cross_entropy_with_logits(logit, y))
    torch.stack(losses).mean().backward()
    T = len(ids)
    dh = torch.zeros(T, H, dtype=torch.float64)
    dc = torch.zeros(T, H, dtype=torch.float64)
    for hw, cw in zip(hs, cs):
        for t, (h, c) in enumerate(zip(hw, cw)):
            if h.grad is not None:
                dh[t] += h.grad
            if c.grad is not None:
                dc[t] += c.grad
    params = torch.cat([getattr(cell, n).grad.reshape(-1) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")])
    return x.grad, dh, dc, params


@dataclass(frozen=True)
class Unrolled:
    """Per-step internals of one sequence from the unrolled twin. All (T, H) unless noted."""

    x: torch.Tensor       # (T, E) embeddings
    h: torch.Tensor       # h_t after reading x_t
    c: torch.Tensor       # c_t after reading x_t
    gates: torch.Tensor   # (T, 4, H) activations: input, forget, candidate (tanh), output


def unrolled_twin(model: LSTMClassifier, dtype: torch.dtype | None = None) -> torch.nn.LSTMCell:
    """An nn.LSTMCell sharing nothing but copies of the LSTM's weights (in `dtype`, default the LSTM's): the
    one place the tests copy the weights into a cell for their hand-unrolled loops."""
    lstm = model.lstm
    cell = torch.nn.LSTMCell(lstm.input_size, lstm.hidden_size, dtype=dtype or lstm.weight_ih_l0.dtype)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(lstm, f"{name}_l0"))
    return cell


@torch.no_grad()
def unroll(model: LSTMClassifier, ids: torch.Tensor) -> Unrolled:
    """Run one sequence step by step through the nn.LSTMCell twin, keeping h_t, c_t and the gates."""
    cell = unrolled_twin(model)
    x = model.embedding(ids.reshape(-1)).to(cell.weight_ih.dtype)  # (T, E)
    H = cell.hidden_size
    h = x.new_zeros(1, H)
    c = x.new_zeros(1, H)
    hs, cs, gs = [], [], []
    for t in range(x.shape[0]):
        a = (cell.weight_ih @ x[t] + cell.weight_hh @ h[0] + cell.bias_ih + cell.bias_hh).view(4, H)
        gs.append(torch.stack([a[0].sigmoid(), a[1].sigmoid(), a[2].tanh(), a[3].sigmoid()]))
        h, c = cell(x[t][None], (h, c))
        hs.append(h[0]), cs.append(c[0])
    return Unrolled(x=x, h=torch.stack(hs), c=torch.stack(cs), gates=torch.stack(gs))
