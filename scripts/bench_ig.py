"""Integrated gradients that converge or say so: how often, at what cost (a script, not a test).

    OMP_NUM_THREADS=1 python scripts/bench_ig.py --data-dir PATH [--reviews 200] [--models imdb-full,...]
        [--out results/bench/ig.json] [--note "what else ran"]

For every model, a seeded sample of IMDB test reviews (the same for every model), each cut to its last
--length tokens (default 500; shorter reviews are kept whole): the adaptive integrator's converged fraction
(the scores' estimated error, L2 over tokens, within 1% of |F(x) - F(baseline)| + 0.01), median and p95
gradient evaluations and seconds per review; and, in the same run on the same reviews, the naive baseline it
replaces: one fixed 50-point Gauss-Legendre rule on [0, 1] (float32 gradients, what the app used first). The
baseline has no error estimate of its own, so it is measured per token the same way against the adaptive
result where that converged: within tolerance when ||fixed - adaptive||_2 + the adaptive error estimate <= the
tolerance (then it is within tolerance of the exact integral whenever the estimate holds); its share by the
completeness gap alone (|sum - change| <= tolerance) is printed beside, for the difference.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_json  # noqa: E402

from tbptt_viz.attribution.methods import attribute  # noqa: E402
from tbptt_viz.core.checkpoint import load_pretrained  # noqa: E402
from tbptt_viz.core.data import load_imdb, seeded_subset  # noqa: E402
from tbptt_viz.core.model import flush_denormals  # noqa: E402
from tbptt_viz.attribution.targets import window_target  # noqa: E402
from tbptt_viz.core.text import prepare_review  # noqa: E402

# every shipped model; imdb-full, the slowest, last
ZOO = ("imdb-last-k30,imdb-chunked-k30,imdb-chunked-k30-per-chunk,imdb-last-k10,imdb-last-k100,imdb-k1k2-30-60,"
       "imdb-full")


def fixed_rule(model, ids, n=50) -> tuple[np.ndarray, float]:
    """The baseline: one n-point Gauss-Legendre rule on [0, 1], float32 gradients: (scores (T,), F(x) - F(x'))."""
    tg = window_target(model, ids, [(len(ids) - 1, 0)])
    nodes, weights = np.polynomial.legendre.leggauss(n)
    _, terms = tg.path_gradients((nodes + 1) / 2, fast=True)          # (n, T)
    ends = tg.values([0.0, 1.0])
    return 0.5 * weights @ terms, float(ends[1] - ends[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True, help="folder with test.jsonl[.gz]")
    ap.add_argument("--models", default=ZOO, help="comma-separated shipped models")
    ap.add_argument("--reviews", type=int, default=200, help="seeded sample of test reviews (default 200)")
    ap.add_argument("--length", type=int, default=500, help="keep each review's last N tokens (default 500)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--points", type=int, default=4, help="Gauss-Legendre nodes per interval (default 4)")
    bench_json.add_arguments(ap)
    args = ap.parse_args()
    torch.set_num_threads(1)
    started = bench_json.machine(args.note)
    rows = seeded_subset(load_imdb("test", args.data_dir), args.reviews, args.seed)
    print(f"torch {torch.__version__}, 1 thread, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"{len(rows)} test reviews (seed {args.seed}), last {args.length} tokens each")
    print(f"{'model':<18} {'conv':>6} {'eval p50':>8} {'eval p95':>8} {'s p50':>6} {'s p95':>6} {'s @T=500 p50':>12} "
          f"| {'fixed-50 within tol per token':>29} {'(by sum)':>8} {'fixed s p50':>11}")
    figures = {"reviews": len(rows), "seed": args.seed, "length": args.length, "points": args.points, "models": {}}
    baseline = {"rule": "one 50-point Gauss-Legendre rule on [0, 1], float32 gradients", "models": {}}
    for name in args.models.split(","):
        model = load_pretrained(name)
        conv, evals, secs, secs500, est, fixed_tok, fixed_sum, fixed_secs = [], [], [], [], [], [], [], []
        for r in rows:
            ids = torch.tensor(prepare_review(r.text, model.vocab, max_tokens=args.length).ids)
            t = time.perf_counter()
            a = attribute(model, ids, "integrated_gradients", points=args.points)
            dt = time.perf_counter() - t
            conv.append(a.converged), evals.append(a.evaluations), secs.append(dt)
            est.append(a.error_estimate / a.tolerance)
            if len(ids) == args.length:
                secs500.append(dt)
            t = time.perf_counter()
            with flush_denormals():
                scores, change = fixed_rule(model, ids)
            fixed_secs.append(time.perf_counter() - t)
            fixed_sum.append(abs(scores.sum() - change) <= a.tolerance)
            if a.converged:
                fixed_tok.append(np.linalg.norm(scores - a.scores) + a.error_estimate <= a.tolerance)
        p = lambda v, q: float(np.percentile(v, q)) if v else float("nan")  # noqa: E731
        m = {"n": len(rows), "converged_fraction": float(np.mean(conv)), "evaluations_p50": p(evals, 50),
             "evaluations_p95": p(evals, 95), "seconds_p50": p(secs, 50), "seconds_p95": p(secs, 95),
             "reviews_at_full_length": len(secs500), "seconds_p50_at_full_length": p(secs500, 50),
             "error_to_tolerance_p50": p(est, 50), "error_to_tolerance_max": float(np.max(est)),
             "seconds_ratio_p50_to_fixed": p(secs, 50) / p(fixed_secs, 50)}
        base = {"within_tolerance_per_token": float(np.mean(fixed_tok)) if fixed_tok else float("nan"),
                "checked": len(fixed_tok), "within_tolerance_by_sum": float(np.mean(fixed_sum)),
                "seconds_p50": p(fixed_secs, 50)}
        figures["models"][name], baseline["models"][name] = m, base
        figures["load_average_now"] = os.getloadavg()[0]
        # after every model, so a run cut short keeps what it measured
        bench_json.write("ig", "integrated gradients with per-token error control on seeded IMDB test reviews, "
                         "every shipped model, against a fixed 50-point rule", figures, baseline, started, args.out)
        print(f"{name:<18} {m['converged_fraction']:>6.1%} {m['evaluations_p50']:>8.0f} {m['evaluations_p95']:>8.0f} "
              f"{m['seconds_p50']:>6.2f} {m['seconds_p95']:>6.2f} {m['seconds_p50_at_full_length']:>12.2f} | "
              f"{base['within_tolerance_per_token']:>29.1%} {base['within_tolerance_by_sum']:>8.1%} "
              f"{base['seconds_p50']:>11.2f}", flush=True)


if __name__ == "__main__":
    main()
