"""The LSTM classifier (the model contract) and its unrolled twin.

Contract: `embedding` (nn.Embedding, pad id 0), `lstm` (one-layer nn.LSTM, batch_first),
`head` (nn.Linear(hidden, 1)); logit = head(h at the last real token).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from .text import PAD_ID, Vocab, tokenize


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int          # rows of the embedding, pad id 0 included
    embed_dim: int = 64      # size of x_t
    hidden_size: int = 128   # size of h_t and c_t
    forget_bias: float = 1.0  # initial forget-gate bias (helps long memory); weights may move it

    def to_dict(self) -> dict:
        return asdict(self)


def lengths_of(ids: torch.Tensor) -> torch.Tensor:
    """(B,) length of right-padded rows: index of the last non-pad token + 1 (at least 1)."""
    T = ids.shape[1]
    pos = torch.arange(1, T + 1, device=ids.device).expand_as(ids)
    return (pos * (ids != PAD_ID)).amax(dim=1).clamp(min=1)


class LSTMClassifier(nn.Module):
    """Embedding -> one-layer LSTM -> linear head on h at each sequence's last real token.

    Rows are right-padded with id 0. Right padding never changes an earlier output, so reading h at
    position length-1 gives exactly the unpadded result. Lengths default to "last non-pad token + 1";
    pass them explicitly when a real position was replaced by pad (occlusion does).
    """

    def __init__(self, config: ModelConfig, vocab: Vocab | None = None):
        super().__init__()
        self.config = config
        self.vocab = vocab
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=PAD_ID)
        self.lstm = nn.LSTM(config.embed_dim, config.hidden_size, num_layers=1, batch_first=True)
        self.head = nn.Linear(config.hidden_size, 1)
        H = config.hidden_size
        with torch.no_grad():  # gate order in PyTorch is (input, forget, cell, output)
            self.lstm.bias_ih_l0[H : 2 * H].fill_(config.forget_bias / 2)
            self.lstm.bias_hh_l0[H : 2 * H].fill_(config.forget_bias / 2)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """ids (B, T) -> logits (B,) at each row's last real token."""
        return self.forward_embedded(self.embedding(ids), lengths_of(ids) if lengths is None else lengths)

    def forward_embedded(self, x: torch.Tensor, lengths: torch.Tensor, state=None) -> torch.Tensor:
        """x (B, T, E) -> logits (B,) at position lengths-1 of each row."""
        out, _ = self.lstm(x, state)  # (B, T, H)
        h_last = out[torch.arange(x.shape[0]), lengths.to(out.device) - 1]  # (B, H)
        return self.head(h_last).squeeze(-1)

    def tokenize(self, text: str) -> list[str]:
        return tokenize(text)

    def encode(self, text: str) -> torch.Tensor:
        """text -> LongTensor (1, T) of vocabulary ids."""
        if self.vocab is None:
            raise ValueError("this model has no vocabulary attached")
        return torch.tensor([self.vocab.encode(tokenize(text))], dtype=torch.long)

    @torch.no_grad()
    def prob_positive(self, ids: torch.Tensor) -> float:
        return torch.sigmoid(self(ids.reshape(1, -1))).item()


@torch.no_grad()
def states_entering(lstm: nn.LSTM, x: torch.Tensor, starts) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """{s: (h, c), each (B, H)}: every row's state entering position s, without a graph.

    Truncation detaches the state entering a window, so one pass without autograd serves every window.
    """
    zero = x.new_zeros(x.shape[0], lstm.hidden_size)
    states, state, prev = {0: (zero, zero)}, None, 0
    for s in sorted({int(v) for v in starts} - {0}):
        _, state = lstm(x[:, prev:s], state)
        states[s], prev = (state[0][0], state[1][0]), s
    return states


def window_hidden(lstm: nn.LSTM, x: torch.Tensor, rows, ps, ss, states) -> torch.Tensor:
    """(N, H): h at p of each window (row, p, s), run from that row's detached state entering s.

    Every window is one row of a single batched call, as long as the longest window: overlapping
    windows need no extra passes, and the sequential depth is the window length, not the review's.
    """
    rows_t, ps_t, ss_t = (torch.as_tensor(v, dtype=torch.long) for v in (rows, ps, ss))
    h0 = x.new_zeros(len(rows_t), lstm.hidden_size)
    c0 = x.new_zeros(len(rows_t), lstm.hidden_size)
    for s in set(ss_t.tolist()):
        here = ss_t == s
        h0[here], c0[here] = states[s][0][rows_t[here]], states[s][1][rows_t[here]]
    span = int((ps_t - ss_t).max()) + 1
    pos = (ss_t[:, None] + torch.arange(span)[None]).clamp(max=x.shape[1] - 1)  # (N, span); past p is never read
    out, _ = lstm(x[rows_t[:, None], pos], (h0[None], c0[None]))  # (N, span, H)
    return out[torch.arange(len(rows_t)), ps_t - ss_t]


@dataclass(frozen=True)
class Unrolled:
    """Per-step internals of one sequence from the unrolled twin. All (T, H) unless noted."""

    x: torch.Tensor       # (T, E) embeddings
    h: torch.Tensor       # h_t after reading x_t
    c: torch.Tensor       # c_t after reading x_t
    gates: torch.Tensor   # (T, 4, H) activations: input, forget, candidate (tanh), output


def unrolled_twin(model: LSTMClassifier) -> nn.LSTMCell:
    """An nn.LSTMCell sharing nothing but copies of the LSTM's weights (same dtype)."""
    lstm = model.lstm
    cell = nn.LSTMCell(lstm.input_size, lstm.hidden_size, dtype=lstm.weight_ih_l0.dtype)
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
