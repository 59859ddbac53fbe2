"""Write the generated blocks of README.md and docs/*.md from results/*.json and the model cards.

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

from tbptt_viz.core.checkpoint import model_cards  # noqa: E402
from tbptt_viz.experiments.study.report import fill, stale_blocks  # noqa: E402
from tbptt_viz.present.sentences import generated_blocks  # noqa: E402

DOCS = (ROOT / "README.md", ROOT / "docs" / "study.md", ROOT / "docs" / "lab.md")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    blocks = generated_blocks(json.loads((ROOT / "results" / "imdb_study.json").read_text()),
                              json.loads((ROOT / "results" / "lab.json").read_text()),
                              json.loads((ROOT / "results" / "train_lengths.json").read_text()),
                              {c["name"]: c for c in model_cards()})
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
