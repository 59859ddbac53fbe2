"""Calibrate and check the Lab's budget (experiments.lab.settings): measured memory and time of small runs against
what `lab_budget` estimates from their settings (a script, not a test).

    python scripts/bench_lab_budget.py [--out results/bench/lab_budget.json] [--fit]

Each run is a fresh `python -c` child with one torch thread: it imports the Lab, notes its resident memory,
runs `lab_run`, and reports its peak resident memory (ru_maxrss) above that baseline and its wall time. The
estimate should be at or above what is measured for memory (it guards a host) and within a factor of about
two for time (it prices a run). `--fit` also prints the least-squares time constants (seconds per unit) for
SEC_TRAIN_MAC, SEC_EVAL_MAC, SEC_STEP, SEC_TOKEN and SEC_UPDATE from these runs, as they were fitted.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tbptt_viz.experiments.lab import settings  # noqa: E402

RUNS = [  # small enough for a shared 2-core machine, each one stressing another term of the formula
    {"epochs": 2},
    {"epochs": 2, "scheme": "full"},
    {"epochs": 2, "scheme": "chunked", "k": 5},
    {"epochs": 1, "scheme": "k1k2", "k1": 10, "k2": 40, "n_train": 500},
    {"epochs": 1, "hidden": 64, "seq_len": 200, "n_train": 400, "n_test": 200},
    {"epochs": 1, "task": "any-one", "seq_len": 60, "k": 10, "n_train": 2000},
    {"epochs": 1, "n_train": 20000, "n_test": 20000, "seq_len": 150, "k": 5, "batch_size": 512},
    {"epochs": 1, "n_train": 1024, "n_test": 256, "seq_len": 200, "scheme": "full", "batch_size": 1024, "hidden": 64},
    {"epochs": 3, "n_train": 200, "n_test": 50, "seq_len": 200, "scheme": "chunked", "k": 2, "batch_size": 8},
    # the per-chunk rule: a step after every window (its own term, SEC_UPDATE)
    {"epochs": 2, "scheme": "chunked", "k": 5, "update": "per-chunk"},
    {"epochs": 1, "scheme": "k1k2", "k1": 10, "k2": 40, "n_train": 500, "update": "per-chunk"},
    {"epochs": 2, "n_train": 200, "n_test": 50, "seq_len": 200, "scheme": "chunked", "k": 10, "batch_size": 8,
     "update": "per-chunk"},
]

CHILD = r"""
import json, resource, sys, time
import torch
torch.set_num_threads(1)
from tbptt_viz.experiments.lab.runs import LabConfig, lab_run
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) * 1024
config = LabConfig(**json.loads(sys.argv[1]))
base = rss()
t = time.perf_counter()
lab_run(config)
seconds = time.perf_counter() - t
print(json.dumps({"peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base,
                  "seconds": seconds}))
"""


def measure(values: dict) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(values)], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=900)
    if out.returncode:
        raise RuntimeError(out.stderr[-500:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def terms(values: dict) -> list[float]:
    """The time formula's five terms (before their constants), as settings.lab_budget computes them."""
    import math

    from tbptt_viz.core.schemes import make_scheme

    c = settings.resolve(values)
    T, H, E = c["seq_len"], c["hidden"], c["embed"]
    windows = make_scheme(c["scheme"], c["k"], c["k1"], c["k2"]).windows(T)
    S, P, starts = max(p - s + 1 for p, s in windows), max(s for _, s in windows), len({s for _, s in windows})
    mac = 4 * H * (E + H)
    batches = math.ceil(c["n_train"] / min(c["batch_size"], c["n_train"])) * c["epochs"]
    per_chunk = c["update"] == "per-chunk"
    sequential = (sum(p - s + 1 for p, s in windows) + P) if per_chunk else (P + S + starts)
    return [c["n_train"] * c["epochs"] * settings.sequence_steps(c) * mac,
            ((c["epochs"] + 1) * c["n_test"] + c["n_train"]) * T * mac,
            batches * sequential, (c["n_train"] + c["n_test"]) * T, batches * len(windows) * per_chunk]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "results" / "bench" / "lab_budget.json"))
    ap.add_argument("--fit", action="store_true", help="print least-squares time constants from these runs")
    args = ap.parse_args()
    rows = []
    for values in RUNS:
        b = settings.lab_budget(values)
        m = measure(values)
        rows.append({"settings": values, "estimated_mb": round(b.memory_mb, 1),
                     "measured_mb": round(m["peak_bytes"] / 2**20, 1), "estimated_s": round(b.seconds, 2),
                     "measured_s": round(m["seconds"], 2), "terms": terms(values)})
        r = rows[-1]
        print(f"{json.dumps(values):<100} memory {r['measured_mb']:>7.1f} MB (estimate {r['estimated_mb']:>7.1f}, "
              f"x{r['estimated_mb'] / max(r['measured_mb'], 1e-9):.2f}); time {r['measured_s']:>6.2f} s "
              f"(estimate {r['estimated_s']:>6.2f}, x{r['estimated_s'] / r['measured_s']:.2f})", flush=True)
    if args.fit:
        import numpy as np
        from scipy.optimize import nnls

        A = np.array([r["terms"] for r in rows], dtype=float)
        y = np.array([r["measured_s"] for r in rows])
        scale = A.max(0)
        scale[scale == 0] = 1
        coef, _ = nnls(A / scale / y[:, None], np.ones(len(y)))  # relative error, not absolute
        print("fitted (SEC_TRAIN_MAC, SEC_EVAL_MAC, SEC_STEP, SEC_TOKEN, SEC_UPDATE):",
              [f"{v:.3g}" for v in coef / scale])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"runs": rows, "command": "python scripts/bench_lab_budget.py",
                               "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared with other jobs), "
                                          "one torch thread per run",
                               "date": time.strftime("%Y-%m-%d")}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
