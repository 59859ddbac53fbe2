"""Audit: does "converged" integrated gradients mean every token's score is within the tolerance? (a script)

    OMP_NUM_THREADS=1 python scripts/audit_ig.py --data-dir PATH [--reviews 50] [--models imdb-full,...]
        [--extra 16879,6755] [--before REV] [--captum 8] [--out results/audit_ig.json]

For each model and each seeded IMDB test review (cut to its last --length tokens), `attribute(...,
"integrated_gradients")` against an independent reference (tests/ig_reference.py: plain float64 autograd,
adaptive 8-point Gauss-Legendre with its own per-token error estimate, to within 5% of the tolerance). A
result is checkable when the reference's own error estimate is within 10% of the tolerance; it is "beyond"
when it says converged and ||scores - reference||_2 > tolerance. --before REV runs the integrator of that git
revision on the same reviews (the same target) for the count before a change. --captum N also runs captum's
IntegratedGradients (10,000 Gauss-Legendre steps) on the first N checkable results of at most
--captum-max-tokens tokens whose path is smooth (the reference needed no piece narrower than 1e-6), a second
oracle.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from ig_reference import reference_ig  # noqa: E402
from tbptt_viz.attribution.methods import attribute  # noqa: E402
from tbptt_viz.core.checkpoint import load_pretrained  # noqa: E402
from tbptt_viz.core.data import load_imdb, seeded_subset  # noqa: E402
from tbptt_viz.core.model import flush_denormals  # noqa: E402
from tbptt_viz.attribution.targets import window_target  # noqa: E402
from tbptt_viz.core.text import prepare_review  # noqa: E402


def integrator_at(rev: str):
    """The integrator as it was at git revision `rev`, as a module: tbptt_viz/attribution/integrated.py, or
    tbptt_viz/integrated.py before the subpackages (its one relative import made absolute)."""
    for path in ("tbptt_viz/attribution/integrated.py", "tbptt_viz/integrated.py"):
        shown = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, capture_output=True, text=True)
        if shown.returncode == 0:
            break
    else:
        raise SystemExit(f"no integrator at {rev}")
    src = shown.stdout
    module = types.ModuleType(f"integrated_{rev}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    src = src.replace("from .targets", "from tbptt_viz.attribution.targets")
    exec(compile(src, module.__name__, "exec"), module.__dict__)
    return module


def captum_ig(model, ids, steps: int = 10000) -> np.ndarray:
    from captum.attr import IntegratedGradients

    m = __import__("copy").deepcopy(model).double().eval()
    x = m.embedding.weight.detach()[ids][None]
    base = m.embedding.weight.detach()[torch.zeros_like(ids)][None]
    fn = lambda e: m.forward_embedded(e, torch.full((e.shape[0],), len(ids)))  # noqa: E731
    with flush_denormals():
        out = IntegratedGradients(fn).attribute(x, baselines=base, n_steps=steps, method="gausslegendre",
                                                internal_batch_size=250)
    return out[0].sum(-1).detach().numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True, help="folder with test.jsonl[.gz]")
    ap.add_argument("--models", default="imdb-full,imdb-chunked-k30,imdb-last-k30", help="comma-separated models")
    ap.add_argument("--reviews", type=int, default=50, help="seeded sample of test reviews (default 50)")
    ap.add_argument("--seed", type=int, default=7, help="sample seed (default 7)")
    ap.add_argument("--extra", default="16879,6755,22132", help="test review rows added to the sample")
    ap.add_argument("--length", type=int, default=500, help="keep each review's last N tokens (default 500)")
    ap.add_argument("--before", help="also run the integrator of this git revision")
    ap.add_argument("--captum", type=int, default=0, help="captum at 10,000 steps on this many smooth results")
    ap.add_argument("--captum-max-tokens", type=int, default=200, help="only on reviews this short (default 200)")
    ap.add_argument("--out", help="write every row as JSON here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = load_imdb("test", args.data_dir)
    sample = seeded_subset(rows, args.reviews, args.seed)
    extra = [rows[int(i)] for i in args.extra.split(",") if i]
    sample = extra + [r for r in sample if r.id not in {e.id for e in extra}]
    old = integrator_at(args.before) if args.before else None
    print(f"{len(sample)} test reviews (seed {args.seed} + {args.extra}), last {args.length} tokens; "
          f"before = {args.before}", flush=True)
    out, captum_left = [], args.captum
    for name in args.models.split(","):
        model = load_pretrained(name)
        for r in sample:
            ids = torch.tensor(prepare_review(r.text, model.vocab, max_tokens=args.length).ids)
            t = time.perf_counter()
            a = attribute(model, ids, "integrated_gradients")
            row = {"model": name, "review": r.id, "T": len(ids), "tolerance": a.tolerance,
                   "converged": a.converged, "error_estimate": a.error_estimate, "evaluations": a.evaluations,
                   "rank_one": a.rank_one_intervals, "seconds": time.perf_counter() - t}
            if old is not None:
                with flush_denormals():
                    b = old.integrate(window_target(model, ids, [(len(ids) - 1, 0)]))
                before = b.scores
                row.update(before_converged=bool(b.converged), before_evaluations=b.evaluations)
            t = time.perf_counter()
            ref = reference_ig(model, ids, eps=0.05 * a.tolerance, max_evaluations=40000)
            row.update(reference_error=ref.error, reference_evaluations=ref.evaluations,
                       reference_seconds=time.perf_counter() - t, checkable=ref.error <= 0.1 * a.tolerance,
                       error=float(np.linalg.norm(a.scores - ref.scores)))
            if old is not None:
                row["before_error"] = float(np.linalg.norm(before - ref.scores))
            smooth = not ref.narrow and ref.smallest > 1e-6
            if captum_left > 0 and row["checkable"] and smooth and len(ids) <= args.captum_max_tokens:
                c = captum_ig(model, ids)
                row.update(captum_vs_reference=float(np.linalg.norm(c - ref.scores)),
                           captum_error=float(np.linalg.norm(a.scores - c)))
                if old is not None:
                    row["before_captum_error"] = float(np.linalg.norm(before - c))
                captum_left -= 1
            out.append(row)
            print(" ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
    print()
    for name in args.models.split(",") + ["all"]:
        rs = [r for r in out if r["model"] == name or name == "all"]
        ok = [r for r in rs if r["checkable"]]
        line = (f"{name:<18} results {len(rs)}, checkable {len(ok)}: converged {sum(r['converged'] for r in ok)}, "
                f"of them beyond tolerance {sum(r['converged'] and r['error'] > r['tolerance'] for r in ok)}, "
                f"max error/tolerance among converged "
                f"{max([r['error'] / r['tolerance'] for r in ok if r['converged']], default=float('nan')):.3f}")
        if old is not None:
            line += (f" | before: converged {sum(r['before_converged'] for r in ok)}, beyond "
                     f"{sum(r['before_converged'] and r['before_error'] > r['tolerance'] for r in ok)}, max "
                     f"{max([r['before_error'] / r['tolerance'] for r in ok if r['before_converged']], default=0):.2f}")
        print(line)
    cap = [r for r in out if "captum_error" in r]
    if cap:
        print(f"captum (10,000 steps) on {len(cap)} smooth results: |captum - reference| / tolerance max "
              f"{max(r['captum_vs_reference'] / r['tolerance'] for r in cap):.3g}; |ours - captum| / tolerance max "
              f"{max(r['captum_error'] / r['tolerance'] for r in cap):.3g}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=1, default=lambda v: v.item()))  # numpy scalars


if __name__ == "__main__":
    main()
