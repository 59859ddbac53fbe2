"""What every benchmark writes: results/bench/<name>.json, read back by scripts/update_docs.py.

    {"name": ..., "what": one line on what is timed, "command": how it was run,
     "date": "YYYY-MM-DD", "machine": the CPU, cores, torch and the load beside the run,
     "figures": what was measured, "baseline": the naive way or the floor, measured in the same run}

Figures are numbers (seconds, milliseconds, megabytes, ratios) under names that say their unit. The speed
figures in README.md and docs/design.md are generated from these files (tbptt_viz/experiments/speed.py), so a
new run updates the docs with `python scripts/update_docs.py`.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "results" / "bench"


def cpu_model() -> str:
    """The CPU's model name ("" where the system does not say): hosts of one name differ in speed, and a
    timing means little without it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or ""


def machine(note: str = "") -> str:
    """The machine as one line: CPU, cores, Python and torch, and how busy it was when the run started."""
    import torch

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{platform.machine()} {cpu_model()}".strip() + f", {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, torch {torch.__version__}, {torch.get_num_threads()} torch thread(s); "
            f"load average {load:.1f} at the start" + (f"; {note}" if note else ""))


def write(name: str, what: str, figures: dict, baseline: dict, started_machine: str, out: str | None = None) -> Path:
    """Write results/bench/<name>.json (or `out`) and say where."""
    path = Path(out) if out else BENCH / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    argv = [a for i, a in enumerate(sys.argv) if a != "--note" and (i == 0 or sys.argv[i - 1] != "--note")]
    argv[0] = str(Path(argv[0]).resolve().relative_to(ROOT)) if Path(argv[0]).resolve().is_relative_to(ROOT) else argv[0]
    data = {"name": name, "what": what, "command": "python " + " ".join(shlex.quote(a) for a in argv),
            "date": datetime.date.today().isoformat(), "machine": started_machine, "figures": figures,
            "baseline": baseline}
    path.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {path}", flush=True)
    return path


def add_arguments(ap) -> None:
    """--out and --note, for every benchmark."""
    ap.add_argument("--out", help="where to write the JSON (default results/bench/<name>.json)")
    ap.add_argument("--note", default="", help="said in the JSON's machine line, e.g. what else ran beside it")
