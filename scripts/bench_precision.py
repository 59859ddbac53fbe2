"""Benchmark: float32 against float64 for the integrated-gradient target (speed ratio and error, one run).

Integrated gradients run wide alpha-intervals through a float32 copy of the LSTM (`WindowTarget(fast=True)`).
This prints, for each shipped model on the embedded example reviews, how much faster float32 is than the
float64 baseline timed in the same run, for F values and for path gradients, and the float32 error against
float64: of F relative to |F| + 1, and of the per-token gradient terms (L2 relative, per path point).
Usage: python scripts/bench_precision.py [--threads 1] [--models imdb-full,imdb-last-k30] [--points 16]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere without installing

from tbptt_viz import load_pretrained  # noqa: E402
from tbptt_viz.attribution.targets import window_target  # noqa: E402
from tbptt_viz.core.data import examples  # noqa: E402
from tbptt_viz.core.text import prepare_review  # noqa: E402


def timed(fn, repeat: int = 3):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    ap.add_argument("--models", default="imdb-full,imdb-last-k30,imdb-chunked-k30", help="comma-separated models")
    ap.add_argument("--points", type=int, default=16, help="path points per call (default 16)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    alphas = np.linspace(0.0, 1.0, args.points)
    for name in args.models.split(","):
        model = load_pretrained(name)
        speed_v, speed_g, err_f, err_g = [], [], [], []
        for review in examples():
            ids = torch.tensor(prepare_review(review.text, model.vocab).ids)
            target = window_target(model, ids, [(len(ids) - 1, 0)])
            t64, v64 = timed(lambda: target.values(alphas))
            t32, v32 = timed(lambda: target.values(alphas, fast=True))
            g64t, (_, g64) = timed(lambda: target.path_gradients(alphas), 1)
            g32t, (_, g32) = timed(lambda: target.path_gradients(alphas, fast=True), 1)
            speed_v.append(t64 / t32)
            speed_g.append(g64t / g32t)
            err_f.append(np.max(np.abs(v32 - v64) / (np.abs(v64) + 1)))
            norm = np.linalg.norm(g64, axis=1)
            ok = norm > 0
            err_g.append(np.max(np.linalg.norm(g32 - g64, axis=1)[ok] / norm[ok]))
        print(f"{name}: {len(speed_v)} reviews, {args.points} points each; float32 faster than float64 by "
              f"{np.median(speed_v):.1f}x (F values, median) and {np.median(speed_g):.1f}x (path gradients); "
              f"float32 error: F/(|F|+1) median {np.median(err_f):.1e}, max {np.max(err_f):.1e}; gradient terms "
              f"(L2 relative) median {np.median(err_g):.1e}, max {np.max(err_g):.1e}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
