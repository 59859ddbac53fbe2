"""How long an occluded token keeps the state away from the clean run (a measurement, not a test).

    OMP_NUM_THREADS=1 python scripts/measure_rejoin.py --data-dir PATH [--models imdb-last-k30,imdb-full]

Builds one review of --length tokens from seeded IMDB test reviews (joined), then runs occlusion's growing
batch (tbptt_viz.probe.growing_runs) while tracking, for every occluded token, the first step at which the
occluded run's (h, c) is within eps of the clean run's (max abs difference). Prints, per model and eps, the
share of occluded runs that never rejoin before the end, the median steps to rejoin, and the share of the
batch's row-steps that would remain if each run were dropped once it rejoined: the most that pruning rows
(and finishing them with the clean run's gradient) could save.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere without installing

from tbptt_viz.checkpoint import load_pretrained  # noqa: E402
from tbptt_viz.data import load_imdb, seeded_subset  # noqa: E402
from tbptt_viz.text import PAD_ID, prepare_review  # noqa: E402

EPS = (1e-3, 1e-4, 1e-5)


@torch.no_grad()
def rejoin_steps(model, ids: torch.Tensor) -> dict[float, np.ndarray]:
    """eps -> (T,) steps after the occluded token until the state is within eps of the clean run (-1: never)."""
    x = model.embedding(ids)
    T, lstm = len(ids), model.lstm
    H = lstm.hidden_size
    bias = lstm.bias_ih_l0 + lstm.bias_hh_l0
    pre = torch.addmm(bias, x, lstm.weight_ih_l0.T)
    pad_minus = bias + lstm.weight_ih_l0 @ model.embedding.weight[PAD_ID] - pre
    w_hh = lstm.weight_hh_l0.T
    h, c = x.new_zeros(T + 1, H), x.new_zeros(T + 1, H)  # as in growing_runs: row T is the clean run
    first = {eps: np.full(T, -1) for eps in EPS}
    for t in range(T):
        r = T - 1 - t
        h[r], c[r] = h[T], c[T]
        hh, cc = h[r:], c[r:]
        a = torch.addmm(pre[t], hh, w_hh)
        a[0] += pad_minus[t]
        s = a.sigmoid()
        torch.addcmul(s[:, H : 2 * H] * cc, s[:, :H], a[:, 2 * H : 3 * H].tanh(), out=cc)
        torch.mul(s[:, 3 * H :], cc.tanh(), out=hh)
        gap = torch.maximum((hh[:-1] - hh[-1]).abs().amax(1), (cc[:-1] - cc[-1]).abs().amax(1)).numpy()
        rows = np.arange(r, T)
        for eps, f in first.items():
            new = (gap < eps) & (f[rows] < 0)
            f[rows[new]] = t - (T - 1 - rows[new])
    # row r occludes token T-1-r; index by token instead
    return {eps: f[::-1].copy() for eps, f in first.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True, help="folder with test.jsonl[.gz]")
    ap.add_argument("--models", default="imdb-last-k30,imdb-full,imdb-chunked-k30")
    ap.add_argument("--length", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = seeded_subset(load_imdb("test", args.data_dir), 60, args.seed)
    text = " ".join(r.text for r in rows)
    for name in args.models.split(","):
        model = load_pretrained(name)
        ids = torch.tensor(prepare_review(text, model.vocab, max_tokens=args.length).ids)
        T = len(ids)
        for eps, steps in rejoin_steps(model, ids).items():
            left = np.arange(T)[::-1] + 1                       # steps from each token to the end, inclusive
            carried = np.where(steps < 0, left, steps + 1)
            print(f"{name:<18} T={T} eps={eps:.0e}: never rejoin {np.mean(steps < 0):.1%}, median steps to rejoin "
                  f"{np.median(steps[steps >= 0]) if (steps >= 0).any() else float('nan'):.0f}, row-steps left if "
                  f"dropped on rejoining {carried.sum() / left.sum():.1%}", flush=True)


if __name__ == "__main__":
    main()
