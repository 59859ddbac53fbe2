"""Server-side timings of the app: a new 500-token review, and a K slider move (which must not run the model).

Measures (1) the analysis functions the app calls for a new review, and (2) whole script runs through
streamlit's AppTest: first run of a review, then K changes on the "What training sees" and "Gradient through
time" views. Writes results/bench/app.json; the baseline is what a K step would cost if it ran the model (the
review's gradient flow, recomputed).
Usage: python scripts/bench_app.py [--model imdb-last-k30] [--compare imdb-full]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import bench_json  # noqa: E402

import torch  # noqa: E402

from tbptt_viz.gradients import analysis  # noqa: E402
from tbptt_viz.attribution.methods import attribute, context_probe, memory_trace  # noqa: E402
from tbptt_viz.core.checkpoint import load_pretrained  # noqa: E402
from tbptt_viz.core.data import examples  # noqa: E402
from tbptt_viz.core.text import prepare_review  # noqa: E402


def review_of(n_tokens: int, vocab) -> str:
    """The embedded examples joined until they are at least n_tokens long."""
    text = ""
    while len(prepare_review(text or "x", vocab).ids) < n_tokens:
        text += " ".join(e.text for e in examples())
    return text


def timed(fn, *args, **kw):
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="imdb-last-k30")
    ap.add_argument("--compare", default="imdb-full")
    bench_json.add_arguments(ap)
    args = ap.parse_args()
    torch.set_num_threads(1)  # as the app does
    started = bench_json.machine(args.note)
    model, other = load_pretrained(args.model), load_pretrained(args.compare)
    review = prepare_review(review_of(500, model.vocab), model.vocab, max_tokens=500)
    text = " ".join(review.tokens)
    ids = torch.tensor(review.ids)
    print(f"review: {ids.numel()} tokens; model {args.model}, compare {args.compare}; 1 torch thread")
    t0 = time.perf_counter()
    for m in (model, other):  # one-time costs of a fresh process (imports, first autograd/captum calls)
        analysis.review_flow(m, ids[:20], 1)
        attribute(m, ids[:20], "integrated_gradients")
        attribute(m, ids[:20], "occlusion")
        context_probe(m, ids[:20])
    fresh = time.perf_counter() - t0
    print(f"  warm-up of a fresh server process (once)             {fresh * 1000:7.0f} ms")
    parts = {}
    rf, parts["gradient flow (full + sweep + chunked K grid)"] = timed(analysis.review_flow, model, ids, 1)
    for name, m in ((args.model, model), (args.compare, other)):
        _, parts[f"integrated gradients ({name})"] = timed(attribute, m, ids, "integrated_gradients")
    _, parts["occlusion"] = timed(attribute, model, ids, "occlusion")
    _, parts["context probe"] = timed(context_probe, model, ids)
    _, parts["memory trace"] = timed(memory_trace, model, ids)
    for k, v in parts.items():
        print(f"  {k:<48} {v * 1000:7.0f} ms")
    print(f"  {'new review, all views':<48} {sum(parts.values()) * 1000:7.0f} ms  (goal < 1500)")
    slices = []
    for k in analysis.k_choices(rf.T):
        for scheme in ("last-k", "chunked"):
            _, s = timed(analysis.scheme_view, rf, scheme, k)
            slices.append(s)
    print(f"  K slider: slicing one (scheme, K) view, median {statistics.median(slices) * 1e6:.0f} us, no model pass")

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.query_params.update({"review": "custom", "text": text, "model": args.model, "scheme": "last-k", "k": "30"})
    _, first = timed(at.run)
    at.session_state["view"] = "What training sees"
    at.run()
    print(f"AppTest: first run of the review (Start here) {first * 1000:.0f} ms")
    k_steps = {}
    for view in ("What training sees", "Gradient through time"):
        at.session_state["view"] = view
        at.run()
        times = []
        for k in (10, 50, 100, 30, 200, 20):
            at.session_state["k"] = k
            _, s = timed(at.run)
            times.append(s)
        print(f"AppTest: K change on {view!r}: median {statistics.median(times) * 1000:.0f} ms, "
              f"max {max(times) * 1000:.0f} ms (goal < 200 ms server time)")
        k_steps[view] = {"median_ms": statistics.median(times) * 1000, "max_ms": max(times) * 1000, "steps": len(times)}
    flow_s = parts["gradient flow (full + sweep + chunked K grid)"]
    bench_json.write(
        "app", "the app's server side: a new review's computations, a K step (slicing, and whole AppTest runs)",
        {"review_tokens": int(ids.numel()), "model": args.model, "compare": args.compare,
         "fresh_process_warm_up_ms": fresh * 1000, "parts_ms": {k: v * 1000 for k, v in parts.items()},
         "new_review_all_views_ms": sum(parts.values()) * 1000,
         "k_slice_median_us": statistics.median(slices) * 1e6, "apptest_first_run_ms": first * 1000,
         "apptest_k_step": k_steps},
        {"what": "a K step that ran the model: the review's gradient flow recomputed", "k_step_ms": flow_s * 1000,
         "speedup_of_slicing": flow_s / statistics.median(slices)}, started, args.out)


if __name__ == "__main__":
    main()
