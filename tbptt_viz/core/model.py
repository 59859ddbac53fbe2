"""The LSTM classifier (the model contract) and the batched window runs that truncation is made of.

Contract: `embedding` (nn.Embedding, pad id 0), `lstm` (one-layer nn.LSTM, batch_first),
`head` (nn.Linear(hidden, 1)); logit = head(h at the last real token).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import asdict, dataclass

import torch
from torch import nn

from tbptt_viz.core.text import PAD_ID, Vocab, tokenize


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


def check_contract(model: nn.Module) -> None:
    """Refuse, with one line naming the part, a model the analyses would silently get wrong.

    The analyses read only `embedding`, `lstm` and `head` (any nn.Module with them will do; no vocabulary, no
    config, no forward): they use the weights of layer 0 of one direction, so a second layer or direction would
    be ignored rather than fail. Cheap enough to run on every call.
    """
    emb, lstm, head = (getattr(model, name, None) for name in ("embedding", "lstm", "head"))
    problem = None
    if not isinstance(emb, nn.Embedding):
        problem = "`embedding` must be an nn.Embedding"
    elif not isinstance(lstm, nn.LSTM):
        problem = "`lstm` must be an nn.LSTM"
    elif lstm.num_layers != 1 or lstm.bidirectional or lstm.proj_size or not lstm.bias:
        problem = "`lstm` must be one layer, one direction, with biases and no projection"
    elif lstm.input_size != emb.embedding_dim:
        problem = f"`lstm` reads {lstm.input_size} inputs but `embedding` gives {emb.embedding_dim}"
    elif not isinstance(head, nn.Linear) or head.out_features != 1 or head.bias is None:
        problem = "`head` must be an nn.Linear with one output (the positive-class logit) and a bias"
    elif head.in_features != lstm.hidden_size:
        problem = f"`head` reads {head.in_features} inputs but the LSTM's state has {lstm.hidden_size}"
    if problem:
        raise ValueError(f"the model does not meet the contract: {problem} (see docs/api.md, bring your own model)")


def as_ids(ids) -> torch.Tensor:
    """One review's token ids as a LongTensor (T,); an empty review is refused."""
    ids = torch.as_tensor(ids, dtype=torch.long).reshape(-1)
    if ids.numel() == 0:
        raise ValueError("the review has no tokens")
    return ids


@contextmanager
def flush_denormals():
    """Treat subnormal floats (< 1e-38 in float32) as zero inside the block.

    Gradients that vanish over hundreds of steps become subnormal, and many CPUs take a slow microcode
    path for every operation on a subnormal, so a long review's backward can run several times slower
    for values far below anything shown. The flag lives in the calling thread's FPU state, so concurrent requests
    do not see each other's setting; PyTorch's default (off) is restored after.
    """
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)
