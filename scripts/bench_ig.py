"""Integrated gradients that converge or say so: how often, at what cost (a script, not a test).

    OMP_NUM_THREADS=1 python scripts/bench_ig.py --data-dir PATH [--reviews 200] [--models imdb-full,...]

For every model, a seeded sample of IMDB test reviews (the same for every model), each cut to its last
--length tokens (default 500; shorter reviews are kept whole): the adaptive integrator's converged fraction
(|completeness gap| <= 1% of |F(x) - F(baseline)| + 0.01), median and p95 gradient evaluations and seconds
per review; and, in the same run on the same reviews, the naive baseline it replaces: one fixed 50-point
Gauss-Legendre rule (what the app used before), its share within the same tolerance and its time.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere without installing

from tbptt_viz.attribution.methods import attribute  # noqa: E402
from tbptt_viz.core.checkpoint import load_pretrained  # noqa: E402
from tbptt_viz.core.data import load_imdb, seeded_subset  # noqa: E402
from tbptt_viz.attribution.integrated import integrate  # noqa: E402
from tbptt_viz.core.model import flush_denormals  # noqa: E402
from tbptt_viz.attribution.targets import window_target  # noqa: E402
from tbptt_viz.core.text import prepare_review  # noqa: E402

ZOO = "imdb-full,imdb-last-k30,imdb-chunked-k30,imdb-last-k10,imdb-last-k100,imdb-k1k2-30-60"


def fixed_rule(model, ids, n=50):
    """The baseline: one Gauss-Legendre rule of n points on [0, 1], float32 gradients as before."""
    tg = window_target(model, ids, [(len(ids) - 1, 0)])
    return integrate(tg, points=n, initial=1, max_evaluations=n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True, help="folder with test.jsonl[.gz]")
    ap.add_argument("--models", default=ZOO, help="comma-separated shipped models")
    ap.add_argument("--reviews", type=int, default=200, help="seeded sample of test reviews (default 200)")
    ap.add_argument("--length", type=int, default=500, help="keep each review's last N tokens (default 500)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--points", type=int, default=4, help="Gauss-Legendre nodes per interval (default 4)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = seeded_subset(load_imdb("test", args.data_dir), args.reviews, args.seed)
    print(f"torch {torch.__version__}, 1 thread; {len(rows)} test reviews (seed {args.seed}), last {args.length} "
          "tokens each")
    print(f"{'model':<18} {'conv':>6} {'eval p50':>8} {'eval p95':>8} {'s p50':>6} {'s p95':>6} {'s @T=500 p50':>12} "
          f"| {'fixed-50 within tol':>19} {'fixed s p50':>11}")
    for name in args.models.split(","):
        model = load_pretrained(name)
        conv, evals, secs, secs500, fixed_ok, fixed_secs = [], [], [], [], [], []
        for r in rows:
            ids = torch.tensor(prepare_review(r.text, model.vocab, max_tokens=args.length).ids)
            t = time.perf_counter()
            a = attribute(model, ids, "integrated_gradients", points=args.points)
            dt = time.perf_counter() - t
            conv.append(a.converged), evals.append(a.evaluations), secs.append(dt)
            if len(ids) == args.length:
                secs500.append(dt)
            t = time.perf_counter()
            with flush_denormals():
                f = fixed_rule(model, ids)
            fixed_secs.append(time.perf_counter() - t)
            fixed_ok.append(abs(f.completeness_gap) <= f.tolerance)
        p = lambda v, q: float(np.percentile(v, q)) if v else float("nan")  # noqa: E731
        print(f"{name:<18} {np.mean(conv):>6.1%} {p(evals, 50):>8.0f} {p(evals, 95):>8.0f} {p(secs, 50):>6.2f} "
              f"{p(secs, 95):>6.2f} {p(secs500, 50):>12.2f} | {np.mean(fixed_ok):>19.1%} {p(fixed_secs, 50):>11.2f}",
              flush=True)


if __name__ == "__main__":
    main()
