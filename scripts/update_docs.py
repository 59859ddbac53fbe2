"""Write the generated blocks of README.md and docs/*.md from results/ (the study, the Lab, the benchmarks).

    python scripts/update_docs.py          # rewrite the blocks
    python scripts/update_docs.py --check  # exit 1 if a block differs from the JSON (tests do the same)
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tbptt_viz.experiments import speed  # noqa: E402
from tbptt_viz.experiments.study.report import fill, generated_blocks, stale_blocks  # noqa: E402

DOCS = (ROOT / "README.md", ROOT / "docs" / "study.md", ROOT / "docs" / "lab.md", ROOT / "docs" / "design.md")


def all_blocks() -> dict[str, str]:
    """Every generated block: the study's and the Lab's tables and sentences, and the speed figures."""
    return {**generated_blocks(json.loads((ROOT / "results" / "imdb_study.json").read_text()),
                               json.loads((ROOT / "results" / "lab.json").read_text())),
            **speed.blocks(speed.load(ROOT / "results" / "bench"))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    blocks = all_blocks()
    stale = {str(p.relative_to(ROOT)): stale_blocks(p, blocks) for p in DOCS if p.exists()}
    if args.check:
        bad = {p: s for p, s in stale.items() if s}
        print("stale: " + ", ".join(f"{p} ({', '.join(s)})" for p, s in bad.items()) if bad else "docs up to date")
        return 1 if bad else 0
    for p in DOCS:
        if p.exists():
            p.write_text(fill(p.read_text(), blocks))
    print("updated " + ", ".join(stale))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
