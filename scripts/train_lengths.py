"""Write results/train_lengths.json: the length distribution of the IMDB training split in project tokens.

    python scripts/train_lengths.py --data-dir /path/to/imdb [--out results/train_lengths.json]

The shipped models were trained on every review of this split (no length cap); the app and the README state
the distribution from this file, and tests check those sentences against it without the data.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tbptt_viz.core.data import DataUnavailable, load_imdb  # noqa: E402
from tbptt_viz.experiments.train_lengths import length_distribution  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True, help="folder with train.jsonl[.gz] ({'text', 'label'} per line)")
    ap.add_argument("--out", default=str(ROOT / "results" / "train_lengths.json"), help="JSON file to write")
    args = ap.parse_args()
    try:
        rows = load_imdb("train", args.data_dir)
    except DataUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    summary = {"split": "train", **length_distribution(r.text for r in rows)}
    source = next(p for p in (Path(args.data_dir) / n for n in ("train.jsonl.gz", "train.jsonl")) if p.is_file())
    summary["source"] = {"file": source.name, "sha256": hashlib.sha256(source.read_bytes()).hexdigest()}
    Path(args.out).write_text(json.dumps(summary, indent=1) + "\n")
    print(f"{summary['reviews']} reviews: {summary['shorter']['fraction']:.1%} shorter than {summary['band'][0]} "
          f"tokens, {summary['within']['fraction']:.1%} within, {summary['longer']['fraction']:.1%} longer "
          f"(up to {summary['max']}); wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
