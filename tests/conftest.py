"""Small seeded models and an independent reference: a hand-unrolled nn.LSTMCell loop in float64."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tbptt_viz.model import LSTMClassifier, ModelConfig
from tbptt_viz.text import Vocab

torch.set_num_threads(1)  # tiny models: threads only add overhead

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
    cell = torch.nn.LSTMCell(lstm.input_size, lstm.hidden_size, dtype=torch.float64)
    with torch.no_grad():
        for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, n).copy_(getattr(lstm, n + "_l0"))
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
