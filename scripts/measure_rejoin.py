"""How long an occluded token keeps the state away from the clean run (a measurement, not a test).

    OMP_NUM_THREADS=1 python scripts/measure_rejoin.py --data-dir PATH [--models imdb-last-k30,imdb-full]

Builds one review of --length tokens from seeded IMDB test reviews (joined), then runs occlusion's growing
batch (tbptt_viz.probe.growing_runs, watching its states) while tracking, for every occluded token, the first
step at which the occluded run's (h, c) is within eps of the clean run's (max abs difference). Prints, per
model and eps, the share of occluded runs that never rejoin before the end, the median steps to rejoin, and
the share of the batch's row-steps that would remain if each run were dropped once it rejoined: the most that
pruning rows (and finishing them with the clean run's gradient) could save.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere without installing

from tbptt_viz.core.checkpoint import load_pretrained  # noqa: E402
from tbptt_viz.core.data import load_imdb, seeded_subset  # noqa: E402
from tbptt_viz.attribution.probe import growing_runs  # noqa: E402
from tbptt_viz.core.text import prepare_review  # noqa: E402

EPS = (1e-3, 1e-4, 1e-5)


def rejoin_steps(model, ids: torch.Tensor) -> dict[float, np.ndarray]:
    """eps -> (T,) steps after the occluded token until the state is within eps of the clean run (-1: never)."""
    T = len(ids)
    first = {eps: np.full(T, -1) for eps in EPS}   # indexed by row r, which occludes token T-1-r

    def watch(t, h, c):  # rows r..T-1 are the occluded runs, the last row the clean run
        gap = torch.maximum((h[:-1] - h[-1]).abs().amax(1), (c[:-1] - c[-1]).abs().amax(1)).numpy()
        rows = np.arange(T - 1 - t, T)
        for eps, f in first.items():
            new = (gap < eps) & (f[rows] < 0)
            f[rows[new]] = t - (T - 1 - rows[new])

    with torch.no_grad():
        growing_runs(model, model.embedding(ids), occlude=True, watch=watch)
    return {eps: f[::-1].copy() for eps, f in first.items()}  # indexed by token


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
