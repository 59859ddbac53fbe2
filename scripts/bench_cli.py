"""How long the command line takes to refuse bad input, against starting Python and importing torch (a script,
not a test).

    python scripts/bench_cli.py [--repeats 5] [--out results/bench/cli.json]

Each command is a fresh `python ...` process, timed from start to exit; the commands take turns (round-robin,
`--repeats` rounds) so a busy moment of a shared machine falls on all of them alike. The baselines, measured in
the same run: `python -c pass` (starting Python) and `python -c "import torch"` (what every refusal paid
before its arguments were checked first). Every refusal must exit with status 2 and one line on stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

REFUSALS = {  # the refusals issue #24 timed, and one of each kind of argument
    "predict, unknown model": ["predict", "--model", "nope", "--text", "good film"],
    "study, missing data folder": ["study", "--out", "{tmp}/s.json", "--data-dir", "/nonexistent"],
    "export, empty --models": ["export", "--out", "{tmp}/site", "--models", ""],
    "lab run, over the memory budget": ["lab", "run", "--seq-len", "10000", "--n-train", "1000000", "--epochs",
                                        "10000", "--json"],
    "lab run, huge batch": ["lab", "run", "--n-train", "1000000", "--batch-size", "100000"],
    "gradients, K out of range": ["gradients", "--model", "imdb-full", "--text", "good", "--k", "0"],
    "attribute, unknown method": ["attribute", "--model", "imdb-full", "--text", "good", "--method", "shap"],
    "train, missing data folder": ["train", "--out", "{tmp}/m", "--data-dir", "/nonexistent"],
    "train, unknown update rule": ["train", "--out", "{tmp}/m", "--update", "per-epoch"],
    "lab run, unknown update rule": ["lab", "run", "--update", "per-epoch"],
    "attribute --method shapley, odd --samples": ["attribute", "--model", "imdb-full", "--text", "good", "--method",
                                                  "shapley", "--samples", "3"],
    "exposure, unknown model": ["exposure", "--model", "nope", "--text", "good film"],
    "exposure-stats, missing data folder": ["exposure-stats", "--out", "{tmp}/e.safetensors", "--data-dir",
                                            "/nonexistent"],
    "connectivity, source past the end": ["connectivity", "--model", "imdb-full", "--text", "good film", "--source",
                                          "5"],
}
BASELINES = {"python -c pass": ["-c", "pass"], "python -c \"import torch\"": ["-c", "import torch"]}


def timed(argv: list[str], env: dict) -> tuple[float, int, str]:
    t = time.perf_counter()
    r = subprocess.run([sys.executable, *argv], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    return time.perf_counter() - t, r.returncode, r.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="rounds over every command (default 5)")
    ap.add_argument("--out", default=str(ROOT / "results" / "bench" / "cli.json"))
    args = ap.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    tmp = tempfile.mkdtemp(prefix="bench-cli-")
    commands = {**{k: v for k, v in BASELINES.items()},
                **{k: ["-m", "tbptt_viz", *(a.replace("{tmp}", tmp) for a in v)] for k, v in REFUSALS.items()}}
    times: dict[str, list[float]] = {k: [] for k in commands}
    lines: dict[str, str] = {}
    for _ in range(args.repeats):
        for name, argv in commands.items():
            took, rc, err = timed(argv, env)
            if name in REFUSALS:
                one = err.strip().splitlines()
                if rc != 2 or len(one) != 1:
                    raise SystemExit(f"{name}: expected exit 2 and one line, got {rc}: {err[-300:]}")
                lines[name] = one[0]
            times[name].append(took)

    def summary(v):
        return {"median_s": round(statistics.median(v), 3), "min_s": round(min(v), 3), "max_s": round(max(v), 3),
                "runs": [round(x, 3) for x in v]}

    pass_s = statistics.median(times["python -c pass"])
    torch_s = statistics.median(times["python -c \"import torch\""])
    figures = {}
    for name in REFUSALS:
        s = summary(times[name])
        s.update(ratio_to_python_pass=round(s["median_s"] / pass_s, 2),
                 ratio_to_import_torch=round(s["median_s"] / torch_s, 3), error=lines[name])
        figures[name] = s
    baseline = {name: summary(times[name]) for name in BASELINES}
    worst = max(f["max_s"] for f in figures.values())
    result = {"figures": figures, "baseline": baseline, "worst_refusal_s": round(worst, 3),
              "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; shared "
                         f"with other jobs (load average {os.getloadavg()[0]:.1f} at the end)",
              "date": time.strftime("%Y-%m-%d %H:%M"), "command": "python scripts/bench_cli.py "
                                                                 f"--repeats {args.repeats}"}
    for name, s in baseline.items():
        print(f"{name:<40} median {s['median_s']:.2f} s (min {s['min_s']:.2f}, max {s['max_s']:.2f})")
    for name, s in figures.items():
        print(f"{name:<40} median {s['median_s']:.2f} s (min {s['min_s']:.2f}, max {s['max_s']:.2f}): "
              f"{s['ratio_to_python_pass']:.2f}x python -c pass, {s['ratio_to_import_torch']:.2f}x import torch")
    print(f"slowest refusal: {worst:.2f} s")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
