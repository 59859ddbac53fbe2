"""Write every generated document: the blocks of README.md and docs/*.md (from results/*.json, the benchmarks'
results/bench/*.json and the model cards), docs/api.md (from the docstrings and the CLI's parsers: scripts/gen_api.py) and
docs/tutorial.ipynb (from docs/tutorial.py: scripts/gen_notebook.py).

    python scripts/update_docs.py          # rewrite them
    python scripts/update_docs.py --check  # exit 1 if any differs from what its source gives (tests do the same)
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from gen_api import render as render_api  # noqa: E402
from gen_notebook import NOTEBOOK, SOURCE, notebook  # noqa: E402
from tbptt_viz.core.checkpoint import model_cards  # noqa: E402
from tbptt_viz.experiments import speed  # noqa: E402
from tbptt_viz.experiments.study.report import fill, stale_blocks  # noqa: E402
from tbptt_viz.present.sentences import generated_blocks  # noqa: E402

DOCS = (ROOT / "README.md", ROOT / "docs" / "study.md", ROOT / "docs" / "lab.md", ROOT / "docs" / "design.md")
API = ROOT / "docs" / "api.md"


def whole_files() -> dict[Path, str]:
    """Files generated whole: {path: what it should hold}."""
    return {API: render_api(), NOTEBOOK: notebook(SOURCE.read_text())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="report stale documents and exit 1, writing nothing")
    args = ap.parse_args()
    blocks = generated_blocks(json.loads((ROOT / "results" / "imdb_study.json").read_text()),
                              json.loads((ROOT / "results" / "lab.json").read_text()),
                              json.loads((ROOT / "results" / "train_lengths.json").read_text()),
                              {c["name"]: c for c in model_cards()}, speed.load(ROOT / "results" / "bench"),
                              speed.measurements(ROOT / "results" / "bench"))
    stale = {str(p.relative_to(ROOT)): stale_blocks(p, blocks) for p in DOCS if p.exists()}
    files = whole_files()
    for path, text in files.items():
        stale[str(path.relative_to(ROOT))] = [] if path.exists() and path.read_text() == text else ["the whole file"]
    if args.check:
        bad = {p: s for p, s in stale.items() if s}
        print("stale: " + ", ".join(f"{p} ({', '.join(s)})" for p, s in bad.items()) if bad else "docs up to date")
        return 1 if bad else 0
    for p in DOCS:
        if p.exists():
            p.write_text(fill(p.read_text(), blocks))
    for path, text in files.items():
        path.write_text(text)
    print("updated " + ", ".join(stale))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
