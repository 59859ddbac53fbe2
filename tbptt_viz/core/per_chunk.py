"""The per-chunk update rule: an optimizer step after every window's loss, the state carried detached.

Both rules put the same losses at the same places (a scheme's windows (p, s)); they differ in when the
weights move:

    per-review:  W --[ loss = mean over windows of every review in the batch ]--> one step
    per-chunk:   W0 --window 0--> step --> W1 --window 1--> step --> W2 --window 2--> ...

Under per-chunk the j-th window of every row in the batch is one training step: it runs with the current
weights W_j from the row's state entering s, which was recorded, detached, during window j-1's run (made
with W_{j-1}); loss at p, backward, clip, step. This is the order of calls of the IMDB TBPTT script in
ksopyla/pytorch_neural_networks (RNN/lstm_imdb_tbptt.py) and, for scheme k1k2, Williams & Peng's (1990)
online TBPTT(k1, k2): a step every k1 tokens, each back-propagated over the last k2.

    chunked, K=3:   t: 0 1 2 | 3 4 5 | 6 7
                    window 0: W0, loss at 2 -> step; state at 3 kept, detached
                    window 1: W1 from that state, loss at 5 -> step; ...
    k1k2, k2 > k1:  window j+1 starts inside window j's run: the run is split at that start to record it
    k1k2, k2 < k1:  a gap between windows: the state is advanced through it without a graph, with W_{j+1}

Each step's loss is the mean BCE over the rows that still have a j-th window (rows with fewer windows
drop out), as the script's criterion averages over its batch. So with a learning rate of 0 and rows of
equal length, the per-review gradient is the mean of the per-chunk gradients.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from tbptt_viz.core.model import LSTMClassifier
from tbptt_viz.core.schemes import UPDATE_NAMES, UPDATES, Scheme  # noqa: F401 - the update rules' names, public here too


def run_with_cuts(lstm: nn.LSTM, x: torch.Tensor, state, cuts) -> tuple[torch.Tensor, dict]:
    """x (N, span, E) from state ((N, H), (N, H)) -> out (N, span, H), {cut: (h, c) after `cut` steps}.

    The run is split at every cut (0 <= cut <= span) so the states inside it can be read; the graph runs
    through the splits, so the output and its gradient equal a single call's.
    """
    h, c = state
    outs, at, states = [], 0, {}
    for cut in sorted({int(v) for v in cuts} | {x.shape[1]}):
        if cut > at:
            out, (hn, cn) = lstm(x[:, at:cut], (h[None], c[None]))  # (N, cut-at, H)
            h, c, at = hn[0], cn[0], cut
            outs.append(out)
        states[cut] = (h, c)
    return torch.cat(outs, 1) if outs else x.new_zeros(x.shape[0], 0, lstm.hidden_size), states


def states_at(cuts: dict, where: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(h, c), each (N, H): row i's state from cuts[where[i]] (cuts as run_with_cuts returns them)."""
    h0, c0 = next(iter(cuts.values()))
    h, c = torch.empty_like(h0), torch.empty_like(c0)
    for v, (hv, cv) in cuts.items():
        here = where == v
        h[here], c[here] = hv[here], cv[here]
    return h, c


def per_chunk_steps(model: LSTMClassifier, ids: torch.Tensor, lengths: torch.Tensor, labels: torch.Tensor,
                    scheme: Scheme, step: Callable[[torch.Tensor], None], embed_dropout: float = 0.0) -> float:
    """Train on one batch under the per-chunk rule; `step(loss)` does backward, clipping and the update.

    Returns the batch's loss in per-review terms (mean over rows of the mean over each row's windows, each
    window's BCE taken when it was stepped), so loss curves of both rules measure the same quantity.
    The dropout mask on x_t is drawn once per batch, (B, T, E), exactly as scheme_loss draws it: every run
    over position t uses the same mask there, and with a learning rate of 0 both rules see the same x.
    """
    B, T = ids.shape
    H = model.lstm.hidden_size
    dtype = model.embedding.weight.dtype
    mask = F.dropout(torch.ones(B, T, model.embedding.embedding_dim, dtype=dtype), embed_dropout, model.training)
    windows = [scheme.windows(int(L)) for L in lengths.tolist()]
    y = labels.to(dtype)
    h, c = torch.zeros(B, H, dtype=dtype), torch.zeros(B, H, dtype=dtype)  # carried state, detached
    at = torch.zeros(B, dtype=torch.long)  # the position that state enters
    total = torch.zeros((), dtype=dtype)

    def inputs(rows, starts, span):
        """x (N, span, E) of each row from its start, with the current embedding; past T is never read."""
        pos = (starts[:, None] + torch.arange(span)[None]).clamp(max=T - 1)
        return model.embedding(ids[rows[:, None], pos]) * mask[rows[:, None], pos]

    for j in range(max(len(w) for w in windows)):
        rows = torch.tensor([b for b in range(B) if len(windows[b]) > j])
        p = torch.tensor([windows[b][j][0] for b in rows.tolist()])
        s = torch.tensor([windows[b][j][1] for b in rows.tolist()])
        lag = s - at[rows]
        assert bool((lag >= 0).all()), "a window starts before the carried state"  # starts never decrease
        if int(lag.max()) > 0:  # a gap (k2 < k1, or last-K's unreached start): advance with the current weights
            with torch.no_grad():
                _, cut = run_with_cuts(model.lstm, inputs(rows, at[rows], int(lag.max())), (h[rows], c[rows]),
                                       lag.tolist())
            h[rows], c[rows] = states_at(cut, lag)
        # where each continuing row's next window starts (or this one's end): record the state there
        nxt = torch.tensor([windows[b][j + 1][1] if len(windows[b]) > j + 1 else windows[b][j][0] + 1
                            for b in rows.tolist()])
        rec = torch.minimum(nxt, p + 1) - s
        span = int((p - s).max()) + 1
        out, cut = run_with_cuts(model.lstm, inputs(rows, s, span), (h[rows], c[rows]), rec.tolist())
        logits = model.head(out[torch.arange(len(rows)), p - s]).squeeze(-1)  # (N,)
        bce = F.binary_cross_entropy_with_logits(logits, y[rows], reduction="none")
        step(bce.mean())
        with torch.no_grad():
            h[rows], c[rows] = states_at(cut, rec)  # detached: the next window's graph starts there
            at[rows] = s + rec
            total += (bce.detach() / torch.tensor([len(windows[b]) for b in rows.tolist()], dtype=dtype)).sum()
    return float(total) / B
