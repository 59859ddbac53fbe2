"""One training loop, driven by a scheme's windows: the app shows exactly what a training step computes."""
from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .model import LSTMClassifier
from .schemes import Scheme, passes
from .text import PAD_ID


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

    def to_dict(self) -> dict:
        return asdict(self)


def pad_batch(seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad with id 0 -> ids (B, T), lengths (B,)."""
    T = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), T), PAD_ID, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return ids, torch.tensor([len(s) for s in seqs])


def length_batches(lengths: list[int], batch_size: int, rng: random.Random | None = None) -> list[list[int]]:
    """Indices bucketed by length (sorted, then cut into batches), batch order shuffled when rng is given.

    On a CPU, padded batches of similar lengths are far faster than pack_padded_sequence.
    """
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random() if rng else 0))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if rng:
        rng.shuffle(batches)
    return batches


def scheme_loss(model: LSTMClassifier, ids: torch.Tensor, lengths: torch.Tensor, labels: torch.Tensor,
                scheme: Scheme, embed_dropout: float = 0.0) -> torch.Tensor:
    """Mean BCE over each row's windows, averaged over rows; gradients cut exactly as the windows say.

    Windows that do not overlap share one forward pass: the state entering each window start s is
    detached for that row only, losses are read at each window end p. Columns that no window covers
    run under no_grad (the prefix before a last-K window costs a forward pass and nothing more).
    """
    B = ids.shape[0]
    x = F.dropout(model.embedding(ids), embed_dropout, model.training)  # (B, T, E)
    row_windows = [scheme.windows(int(L)) for L in lengths]
    row_groups = [passes(w) for w in row_windows]
    y = labels.to(x.dtype)
    total = x.new_zeros(())
    for r in range(max(len(g) for g in row_groups)):
        detach_rows: dict[int, list[int]] = {}
        loss_at: list[tuple[int, int, float]] = []  # (row, p, weight)
        covered = np.zeros(ids.shape[1] + 1, dtype=bool)
        for b, groups in enumerate(row_groups):
            for p, s in groups[r] if r < len(groups) else ():
                detach_rows.setdefault(s, []).append(b)
                loss_at.append((b, p, 1.0 / len(row_windows[b])))
                covered[s : p + 1] = True
        end = max(p for _, p, _ in loss_at) + 1
        cuts = sorted({0, end, *(s for s in detach_rows if s < end),
                       *(t for t in range(1, end) if covered[t] != covered[t - 1])})
        state, outs = None, {}
        for a, z in zip(cuts[:-1], cuts[1:]):
            if state is not None and a in detach_rows:
                mask = torch.zeros(B, 1, dtype=torch.bool)
                mask[detach_rows[a]] = True
                state = tuple(torch.where(mask, v.detach(), v) for v in state)  # cut this row's history
            with torch.set_grad_enabled(torch.is_grad_enabled() and bool(covered[a])):
                out, (h, c) = model.lstm(x[:, a:z], None if state is None else tuple(v.unsqueeze(0) for v in state))
            state = (h.squeeze(0), c.squeeze(0))
            outs[a] = out
        starts = np.array(cuts[:-1])
        rows, hs, ws = [], [], []
        for b, p, w in loss_at:
            a = int(starts[np.searchsorted(starts, p, side="right") - 1])
            rows.append(b), hs.append(outs[a][b, p - a]), ws.append(w)
        logits = model.head(torch.stack(hs)).squeeze(-1)
        bce = F.binary_cross_entropy_with_logits(logits, y[rows], reduction="none")
        total = total + (bce * torch.tensor(ws, dtype=bce.dtype)).sum() / B
    return total


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


def train(model: LSTMClassifier, encoded: list[list[int]], labels: list[int], scheme: Scheme, config: TrainConfig,
          progress=None, on_epoch=None) -> dict:
    """Train in place. `progress(done, total, loss)` after each batch, `on_epoch(epoch, loss)` after each epoch.

    Returns stats: wall time, tokens/s, loss per epoch.
    """
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    if config.max_len:
        encoded = [s[: config.max_len] for s in encoded]
    encoded = [s if s else [PAD_ID] for s in encoded]
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    lengths = [len(s) for s in encoded]
    n_batches = math.ceil(len(encoded) / config.batch_size)
    curve, tokens, start, done = [], 0, time.perf_counter(), 0
    for epoch in range(config.epochs):
        model.train()
        running, seen = 0.0, 0
        for batch in length_batches(lengths, config.batch_size, rng):
            ids, lens = pad_batch([encoded[i] for i in batch])
            loss = scheme_loss(model, ids, lens, torch.tensor([labels[i] for i in batch]), scheme,
                               config.embed_dropout)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
            opt.step()
            running += loss.item() * len(batch)
            seen += len(batch)
            tokens += int(lens.sum())
            done += 1
            if progress:
                progress(done, n_batches * config.epochs, loss.item())
        curve.append(running / seen)
        if on_epoch:
            on_epoch(epoch, curve[-1])
    model.eval()
    wall = time.perf_counter() - start
    return {"wall_time_s": round(wall, 1), "tokens_per_s": round(tokens / wall), "loss_curve": curve}
