"""Re-derive the study's integrated-gradient columns after a change to the integrator (a script, not a test).

    OMP_NUM_THREADS=1 python scripts/study_ig.py --data-dir PATH [--study results/imdb_study.json]
        [--models imdb-full,...]

The IG columns are the only part of the study that depends on tbptt_viz/attribution/integrated.py. This reruns
exactly that measurement (`measure.ig_shares` on the first `ig_sample` reviews of the study's own attribution
sample, with the study's settings: seed, sample sizes, points, evaluation cap) for each model that has it
(default: every model the study holds IG for, the seed-0 ones), replaces each model's
attribution["integrated_gradients"] and its seconds, and merges the result back in place with
`python -m tbptt_viz study --merge` (which recomputes the regimes, comparisons, tables and figures from the
models' measurements, and computes nothing else). Everything else in the study is left as it was.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tbptt_viz.core.checkpoint import load_pretrained  # noqa: E402
from tbptt_viz.core.data import load_imdb, seeded_subset  # noqa: E402
from tbptt_viz.core.text import tokenize  # noqa: E402
from tbptt_viz.experiments.study import measure  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True, help="folder with test.jsonl[.gz]")
    ap.add_argument("--study", default=str(ROOT / "results" / "imdb_study.json"))
    ap.add_argument("--models", help="comma-separated (default: every model the study holds IG for)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    study_path = Path(args.study)
    study = json.loads(study_path.read_text())
    s = study["settings"]
    names = args.models.split(",") if args.models else [
        n for n, m in study["models"].items() if "integrated_gradients" in m.get("attribution", {})]
    rows = load_imdb("test", args.data_dir)
    rows = seeded_subset(rows, study.get("data", {}).get("limit"), s["seed"])
    for name in names:
        model = load_pretrained(name).float().eval()
        encoded = [model.vocab.encode(tokenize(r.text)) for r in rows]
        keep = [i for i, e in enumerate(encoded) if e]
        encoded, labels = [encoded[i] for i in keep], [rows[i].label for i in keep]
        lengths = np.array([len(e) for e in encoded])
        fits = (lengths >= s["attribution_min_len"]) & (lengths <= s["attribution_max_len"])
        arows = measure.balanced_sample(labels, s["attribution_sample"], s["seed"] + 1, fits)
        seqs = [encoded[i] for i in arows][: s["ig_sample"]]
        t = time.perf_counter()
        ig = measure.ig_shares(model, seqs, s["edge"], s["ig_points"], s["ig_max_evaluations"])
        seconds = time.perf_counter() - t
        settings = measure.StudySettings(**{k: v for k, v in s.items() if k in measure.StudySettings.__dataclass_fields__
                                            and k != "notes"})
        entry = study["models"][name]
        entry["attribution"]["integrated_gradients"] = measure.plain(measure._share_summary(ig, settings))
        entry.setdefault("seconds", {})["integrated_gradients"] = round(seconds, 1)
        print(f"{name}: {ig.n} reviews, converged {np.mean(ig.converged):.0%}, evaluations median "
              f"{np.median(ig.evaluations):.0f}, {seconds:.0f} s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        part = Path(tmp) / "part.json"
        part.write_text(json.dumps(study))
        subprocess.run([sys.executable, "-m", "tbptt_viz", "study", "--merge", str(part), "--out", str(study_path)],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    print(f"merged into {study_path}")


if __name__ == "__main__":
    main()
