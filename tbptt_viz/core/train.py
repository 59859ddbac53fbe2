"""One training loop, driven by a scheme's windows: the app shows exactly what a training step computes."""
from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from tbptt_viz.core.model import LSTMClassifier, states_entering, window_hidden
from tbptt_viz.core.schemes import Scheme
from tbptt_viz.core.text import PAD_ID
from tbptt_viz.core.per_chunk import UPDATES, per_chunk_steps


@dataclass(frozen=True)
class TrainConfig:
    scheme: str = "full"       # full | last-k | chunked | k1k2
    k: int | None = None       # last-k window / chunk length
    k1: int | None = None      # k1k2: a loss every k1 steps
    k2: int | None = None      # k1k2: back-propagated over k2 steps
    epochs: int = 6
    batch_size: int = 64
    lr: float = 2e-3           # Adam
    clip: float = 1.0          # max global gradient norm
    embed_dropout: float = 0.25  # dropout on x_t during training only (the contract's eval path is unchanged)
    max_len: int | None = None  # keep the first max_len tokens of each training review (None: all)
    seed: int = 0
    update: str = "per-review"  # per-review: one step per batch | per-chunk: a step after every window (per_chunk.py)

    def __post_init__(self):
        if self.update not in UPDATES:
            raise ValueError(f"unknown update rule {self.update!r}; choose one of {', '.join(UPDATES)}")

    def to_dict(self) -> dict:
        return asdict(self)


def pad_batch(seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad with id 0 -> ids (B, T), lengths (B,)."""
    T = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), T), PAD_ID, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return ids, torch.tensor([len(s) for s in seqs])


def length_batches(lengths: list[int], batch_size: int | None = None, rng: random.Random | None = None,
                   token_budget: int | None = None) -> list[list[int]]:
    """Indices bucketed by length (sorted, then cut into batches), batch order shuffled when rng is given.

    Batches hold `batch_size` rows, or, with `token_budget`, as many rows as keep rows x longest row within
    it (at least one). On a CPU, padded batches of similar lengths are far faster than pack_padded_sequence.
    """
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random() if rng else 0))
    if token_budget is None:
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    else:
        batches, start = [], 0
        while start < len(order):
            end = start + 1
            while end < len(order) and (end + 1 - start) * lengths[order[end]] <= token_budget:
                end += 1
            batches.append(order[start:end])
            start = end
    if rng:
        rng.shuffle(batches)
    return batches


def scheme_loss(model: LSTMClassifier, ids: torch.Tensor, lengths: torch.Tensor, labels: torch.Tensor,
                scheme: Scheme, embed_dropout: float = 0.0) -> torch.Tensor:
    """Mean BCE over each row's windows, averaged over rows; gradients cut exactly as the windows say.

    Given the (detached) state entering its start s, a window (p, s) is independent of everything else.
    So: one pass without autograd yields the state entering every window start, then every window of
    every row becomes one row of a single batched LSTM call from its own detached state, read at p.
    Overlapping windows (k1k2 with k2 > k1) simply become separate rows, and the call runs for as many
    steps as the longest window, not the whole review: far fewer sequential steps on a CPU.
    """
    B = ids.shape[0]
    x = F.dropout(model.embedding(ids), embed_dropout, model.training)  # (B, T, E)
    rows, ps, ss, weights = [], [], [], []
    for b, L in enumerate(lengths.tolist()):
        windows = scheme.windows(int(L))
        for p, s in windows:
            rows.append(b), ps.append(p), ss.append(s), weights.append(1.0 / len(windows))
    states = states_entering(model.lstm, x, ss)
    logits = model.head(window_hidden(model.lstm, x, rows, ps, ss, states)).squeeze(-1)  # (N,)
    bce = F.binary_cross_entropy_with_logits(logits, labels.to(x.dtype)[torch.tensor(rows)], reduction="none")
    return (bce * torch.tensor(weights, dtype=bce.dtype)).sum() / B


@torch.no_grad()
def evaluate(model: LSTMClassifier, encoded: list[list[int]], labels: list[int], batch_size: int = 256) -> float:
    """Accuracy of logit > 0 against labels."""
    model.eval()
    correct = 0
    for batch in length_batches([len(s) for s in encoded], batch_size):
        ids, lengths = pad_batch([encoded[i] for i in batch])
        pred = (model(ids, lengths) > 0).long()
        correct += int((pred == torch.tensor([labels[i] for i in batch])).sum())
    return correct / max(1, len(labels))


class Adam:
    """torch.optim.Adam's update as its CPU path computes it (betas 0.9 and 0.999, eps 1e-8, no weight decay),
    written out: the first use of torch.optim imports torch._dynamo, about 100 MB of modules (sympy among
    them), and a live Lab run in a child forked from the server (serving/isolate.py) would load them into
    every child. tests/test_train.py checks it bit for bit against torch.optim.Adam."""

    def __init__(self, params, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.params, self.lr, (self.beta1, self.beta2), self.eps = list(params), lr, betas, eps
        self.state: dict[int, tuple[int, torch.Tensor, torch.Tensor]] = {}  # index -> (steps, m, v)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            steps, m, v = self.state.get(i) or (0, torch.zeros_like(p), torch.zeros_like(p))
            steps += 1
            m.lerp_(p.grad, 1 - self.beta1)
            v.mul_(self.beta2).addcmul_(p.grad, p.grad, value=1 - self.beta2)
            denom = (v.sqrt() / (1 - self.beta2**steps) ** 0.5).add_(self.eps)
            p.addcdiv_(m, denom, value=-(self.lr / (1 - self.beta1**steps)))
            self.state[i] = (steps, m, v)


def train(model: LSTMClassifier, encoded: list[list[int]], labels: list[int], scheme: Scheme, config: TrainConfig,
          progress=None, on_epoch=None) -> dict:
    """Train in place. `progress(done, total, loss)` after each batch, `on_epoch(epoch, loss)` after each epoch.

    config.update picks when the weights move: once per batch on the mean of every window's loss
    (per-review), or after every window (per-chunk, see per_chunk.py); each step's gradient is clipped.

    Returns stats: wall time, tokens/s, loss per epoch.
    """
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    if config.max_len:
        encoded = [s[: config.max_len] for s in encoded]
    encoded = [s if s else [PAD_ID] for s in encoded]
    opt = Adam(model.parameters(), lr=config.lr)
    lengths = [len(s) for s in encoded]
    n_batches = math.ceil(len(encoded) / config.batch_size)
    curve, tokens, start, done = [], 0, time.perf_counter(), 0

    def step(loss: torch.Tensor) -> None:
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        opt.step()

    for epoch in range(config.epochs):
        model.train()
        running, seen = 0.0, 0
        for batch in length_batches(lengths, config.batch_size, rng):
            ids, lens = pad_batch([encoded[i] for i in batch])
            y = torch.tensor([labels[i] for i in batch])
            if config.update == "per-chunk":
                loss = per_chunk_steps(model, ids, lens, y, scheme, step, config.embed_dropout)
            else:
                loss_t = scheme_loss(model, ids, lens, y, scheme, config.embed_dropout)
                step(loss_t)
                loss = loss_t.item()
            running += loss * len(batch)
            seen += len(batch)
            tokens += int(lens.sum())
            done += 1
            if progress:
                progress(done, n_batches * config.epochs, loss)
        curve.append(running / seen)
        if on_epoch:
            on_epoch(epoch, curve[-1])
    model.eval()
    wall = time.perf_counter() - start
    return {"wall_time_s": round(wall, 1), "tokens_per_s": round(tokens / wall), "loss_curve": curve}
