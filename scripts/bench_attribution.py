"""Time the attribution methods, the context probe and the memory trace (a script, not a test).

    OMP_NUM_THREADS=1 python scripts/bench_attribution.py [--model imdb-full] [--threads 1] [--lengths 100 500 2000]

Ratios are measured in the same run: occlusion against captum's FeatureAblation (one re-run per token;
with its default of one perturbation per call, and batched), the context probe against one model call
per n. Each timing is the best of --repeats runs, as wall time and as this process's CPU time (on a
shared machine wall time includes waiting for a core; CPU time does not). Goal at T = 500 on one core:
the four methods + probe + memory trace under 1 s, occlusion >= 3x faster than FeatureAblation.
Writes results/bench/attribution.json (milliseconds; the baselines under "baseline").
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_json  # noqa: E402

from tbptt_viz.attribution.methods import METHODS, attribute, context_probe, memory_trace
from tbptt_viz.core.model import LSTMClassifier, ModelConfig


def best_of(fn, repeats: int = 1) -> tuple[float, float, object]:
    """(best wall seconds, best CPU seconds, result)."""
    wall, cpu, out = [], [], None
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return min(wall), min(cpu), out


def show(label: str, wall: float, cpu: float, into: dict | None = None) -> None:
    print(f"  {label:<40} {wall * 1e3:8.1f} ms wall {cpu * 1e3:8.1f} ms CPU")
    if into is not None:
        into[label] = {"wall_ms": wall * 1e3, "cpu_ms": cpu * 1e3}


def feature_ablation(model, ids, batch: int):
    from captum.attr import FeatureAblation

    T = len(ids)
    ablate = FeatureAblation(lambda i, lengths: model(i, lengths))
    return ablate.attribute(ids[None], baselines=0, additional_forward_args=(torch.tensor([T]),),
                            perturbations_per_eval=batch)[0]


@torch.no_grad()
def probe_one_run_per_n(model, ids):
    return [torch.sigmoid(model(ids[None, len(ids) - n :])).item() for n in range(1, len(ids) + 1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="a shipped model name or checkpoint folder (default: random weights, "
                                    "ModelConfig(20000, 64, 128), the shipped size)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: small ops run faster)")
    ap.add_argument("--lengths", type=int, nargs="+", default=[100, 500, 2000], help="review lengths T")
    ap.add_argument("--repeats", type=int, default=3, help="best of this many runs for our functions")
    ap.add_argument("--ablation-batch", type=int, default=64, help="FeatureAblation perturbations_per_eval")
    ap.add_argument("--skip-baselines-above", type=int, default=2000, help="no baselines for longer reviews")
    ap.add_argument("--default-ablation-up-to", type=int, default=500,
                    help="also time FeatureAblation with one perturbation per call up to this T (it is slow)")
    bench_json.add_arguments(ap)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    started = bench_json.machine(args.note)
    if args.model:
        from tbptt_viz.cli.engine import load_model

        model = load_model(args.model)
    else:
        torch.manual_seed(0)
        model = LSTMClassifier(ModelConfig(20000, 64, 128)).eval()
    V = model.config.vocab_size
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), model "
          f"{args.model or 'random weights'} (E={model.config.embed_dim}, H={model.config.hidden_size})")
    gen = torch.Generator().manual_seed(1)
    warm = torch.randint(2, V, (50,), generator=gen)
    for method in METHODS:  # first calls pay for imports and allocator warm-up
        attribute(model, warm, method)
    context_probe(model, warm), memory_trace(model, warm)

    figures = {"model": args.model or "random weights", "rows": []}
    baseline = {"what": "captum's FeatureAblation (one re-run per token) for occlusion; one model call per n for "
                        "the context probe", "rows": []}
    for T in args.lengths:
        ids = torch.randint(2, V, (T,), generator=gen)
        print(f"\nT = {T}")
        row, base = {"T": T}, {"T": T}
        figures["rows"].append(row)
        total = np.zeros(2)
        results = {}
        for method in METHODS:
            *took, results[method] = best_of(lambda: attribute(model, ids, method), args.repeats)
            total += took
            show(method, *took, row)
        *took, probe = best_of(lambda: context_probe(model, ids), args.repeats)
        probe_took = took
        total += took
        show("context_probe", *took, row)
        *took, _ = best_of(lambda: memory_trace(model, ids), args.repeats)
        total += took
        show("memory_trace", *took, row)
        show("all four methods + probe + memory trace", *total, row)
        for name in ("last-k", "chunked"):
            *took, _ = best_of(lambda: attribute(model, ids, "integrated_gradients", name, k=30), args.repeats)
            show(f"integrated_gradients, {name} K=30", *took, row)
        if T > args.skip_baselines_above:
            continue
        baseline["rows"].append(base)
        occ = results["occlusion"]
        for batch in ([1, args.ablation_batch] if T <= args.default_ablation_up_to else [args.ablation_batch]):
            *fa_took, ablation = best_of(lambda: feature_ablation(model, ids, batch))
            *occ_took, _ = best_of(lambda: attribute(model, ids, "occlusion"))
            diff = float(np.abs(occ.scores - ablation.double().numpy()).max())
            print(f"  occlusion vs captum FeatureAblation (perturbations_per_eval={batch}): "
                  f"{fa_took[0] / occ_took[0]:.1f}x faster by wall, {fa_took[1] / occ_took[1]:.1f}x by CPU "
                  f"({fa_took[1] * 1e3:.0f} vs {occ_took[1] * 1e3:.0f} ms CPU); max |diff| {diff:.1e}")
            base[f"feature_ablation_{batch}_per_call"] = {
                "wall_ms": fa_took[0] * 1e3, "cpu_ms": fa_took[1] * 1e3, "occlusion_wall_ms": occ_took[0] * 1e3,
                "occlusion_cpu_ms": occ_took[1] * 1e3, "speedup_wall": fa_took[0] / occ_took[0],
                "speedup_cpu": fa_took[1] / occ_took[1], "max_difference": diff}
        *direct_took, direct = best_of(lambda: probe_one_run_per_n(model, ids))
        diff = float(np.abs(probe.prob_last_n - np.array(direct)).max())
        print(f"  context probe vs one run per n: {direct_took[0] / probe_took[0]:.1f}x faster by wall, "
              f"{direct_took[1] / probe_took[1]:.1f}x by CPU ({direct_took[1] * 1e3:.0f} vs "
              f"{probe_took[1] * 1e3:.0f} ms CPU); max |diff| {diff:.1e}")
        base["probe_one_run_per_n"] = {"wall_ms": direct_took[0] * 1e3, "cpu_ms": direct_took[1] * 1e3,
                                       "speedup_wall": direct_took[0] / probe_took[0],
                                       "speedup_cpu": direct_took[1] / probe_took[1], "max_difference": diff}
    bench_json.write("attribution", "the four attribution methods, the context probe and the memory trace; "
                     "occlusion against captum's FeatureAblation", figures, baseline, started, args.out)


if __name__ == "__main__":
    main()
