"""How far float32 is from float64 along integrated gradients' paths, and on the intervals the integrator keeps
in float32 (a script, not a test; the figures in tbptt_viz/attribution/integrated.py and docs/design.md).

    OMP_NUM_THREADS=1 python scripts/measure_ig_precision.py [--data-dir PATH --reviews 15]

1. On the shipped models' embedded examples: per-token gradient terms and F in float32 against float64, at
   24 equal points and at distances 1e-1 .. 1e-7 on both sides of each path's steepest point (found by
   bisection), by distance; and the error of the gradients' directions alone (unit vectors, L2), which is
   what the rank-one estimate takes from float32 nodes.
2. With --data-dir: on seeded IMDB test reviews (last 500 tokens), every float32 interval the integrator keeps
   (after its check) as a quadrature: the credits' float32 error, L2 over tokens, over
   (b - a) / 2 * sum_i k_i ||g_i||, the share GRAD_EPS bounds.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tbptt_viz.attribution import integrated  # noqa: E402
from tbptt_viz.attribution.targets import window_target  # noqa: E402
from tbptt_viz.core.checkpoint import load_pretrained  # noqa: E402
from tbptt_viz.core.data import examples, load_imdb, seeded_subset  # noqa: E402
from tbptt_viz.core.model import flush_denormals  # noqa: E402
from tbptt_viz.core.text import prepare_review  # noqa: E402


def steepest(tg) -> float:
    grid = np.linspace(0, 1, 201)
    v = tg.values(grid)
    j = int(np.argmax(np.abs(np.diff(v))))
    lo, hi = grid[j], grid[j + 1]
    for _ in range(12):
        mid = (lo + hi) / 2
        fl, fm, fh = tg.values([lo, mid, hi])
        lo, hi = (lo, mid) if abs(fm - fl) >= abs(fh - fm) else (mid, hi)
    return (lo + hi) / 2


def along_paths(models) -> None:
    rows = []
    for name in models:
        m = load_pretrained(name)
        for e in examples()[:8]:
            ids = torch.tensor(prepare_review(e.text, m.vocab).ids)
            with flush_denormals():
                tg = window_target(m, ids, [(len(ids) - 1, 0)])
                star = steepest(tg)
                near = [star + s * d for d in 10.0 ** -np.arange(1, 8) for s in (-1, 1)]
                alphas = np.clip(np.concatenate([np.linspace(0, 1, 24), near]), 0, 1)
                v64, g64 = tg.path_gradients(alphas)
                v32, g32 = tg.path_gradients(alphas, fast=True)
            norm = np.linalg.norm(g64, axis=1)
            grad = np.linalg.norm(g32 - g64, axis=1) / np.maximum(norm, 1e-300)
            n32 = np.maximum(np.linalg.norm(g32, axis=1), 1e-300)
            same = np.sign(np.sum(g32 * g64, axis=1))[:, None]
            direction = np.linalg.norm(same * g32 / n32[:, None] - g64 / np.maximum(norm, 1e-300)[:, None], axis=1)
            rows += zip(np.abs(alphas - star), grad, np.abs(v32 - v64) / (np.abs(v64) + 1), direction)
    rows = np.array(rows)
    print(f"1. {len(models)} models x 8 embedded examples, float32 against float64:")
    for lo, hi in [(1e-2, 2), (1e-4, 1e-2), (0, 1e-4)]:
        s = (rows[:, 0] >= lo) & (rows[:, 0] < hi)
        print(f"   {lo:.0e} <= distance to the steepest point < {hi:.0e}: {s.sum()} points; gradient terms' relative "
              f"L2 error median {np.median(rows[s, 1]):.1e} max {rows[s, 1].max():.1e}; F's error / (|F| + 1) "
              f"median {np.median(rows[s, 2]):.1e} max {rows[s, 2].max():.1e}; directions' error max "
              f"{rows[s, 3].max():.1e}")


def kept_intervals(models, data_dir: str, n: int) -> None:
    last = {}
    plain = integrated._estimate

    def watch(intervals):  # the last call sees the final intervals
        last["intervals"] = list(intervals)
        return plain(intervals)

    integrated._estimate = watch
    nodes, kronrod, _ = integrated.gauss_kronrod(4)
    reviews = seeded_subset(load_imdb("test", data_dir), n, 11)
    print(f"2. {n} seeded IMDB test reviews (last 500 tokens): float32 intervals the integrator keeps")
    for name in models:
        m, ratios, t0 = load_pretrained(name), [], time.perf_counter()
        for r in reviews:
            ids = torch.tensor(prepare_review(r.text, m.vocab, max_tokens=500).ids)
            with flush_denormals():
                tg = window_target(m, ids, [(len(ids) - 1, 0)])
                seen, own = {}, tg.path_gradients

                def both(alphas, fast=False, own=own, seen=seen):
                    v, g = own(alphas, fast)
                    if fast:
                        seen.update(zip(np.asarray(alphas, dtype=float).tolist(), zip(g, own(alphas, False)[1])))
                    return v, g

                object.__setattr__(tg, "path_gradients", both)
                integrated.integrate(tg)
            for iv in last["intervals"]:
                if iv.fast and not iv.rank_one:  # a rank-one credit takes only directions (its own bound)
                    pairs = [seen[a] for a in ((iv.b - iv.a) / 2 * nodes + (iv.a + iv.b) / 2).tolist()]
                    g32, g64 = (np.array(x) for x in zip(*pairs))
                    scale = float(kronrod @ np.linalg.norm(g64, axis=1))
                    ratios.append(np.linalg.norm(kronrod @ (g32 - g64)) / scale if scale > 0 else 0.0)
        ratios = np.array(ratios)
        print(f"   {name}: {len(ratios)} intervals; credit error / ((b - a) / 2 sum_i k_i ||g_i||) median "
              f"{np.median(ratios):.1e}, max {ratios.max():.1e} ({time.perf_counter() - t0:.0f} s)", flush=True)
    integrated._estimate = plain


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="imdb-last-k30,imdb-full,imdb-chunked-k30", help="comma-separated models")
    ap.add_argument("--data-dir", help="folder with test.jsonl[.gz]: also measure the kept float32 intervals")
    ap.add_argument("--reviews", type=int, default=15, help="seeded test reviews for part 2 (default 15)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    models = args.models.split(",")
    along_paths(models)
    if args.data_dir:
        kept_intervals(models, args.data_dir, args.reviews)


if __name__ == "__main__":
    main()
