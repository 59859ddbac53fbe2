"""Peak memory of one server process computing every view of a 2,000-token review (a script, not a test).

    python scripts/measure_memory.py [--page] [--warm-up | --no-warm-up] [--streamed] [--out FILE.json]

--page: the page itself, as Streamlit renders it (streamlit.testing.v1.AppTest runs app.py in this process,
with the app's own service and its warm-up on, as on a server): a 2,000-token review of our own opened on
each review view in turn ("What training sees", "What the model uses" with occlusion and the probe asked for,
"Start here", "Memory", "Gradient through time"). This is the figure the README quotes.

Without --page, the same work without Streamlit:
one process set up as the app sets up its server: the model store with every shipped model loaded, the
compute service with the app's workers, limits and shares, and (by default) the app's start-up warm-up of
every example review under every model running beside it, as it does from a server's first visitor on. Then
the jobs of every view ("Start here", "What training sees", "Gradient through time", "What the model uses",
"Memory") for a 2,000-token review under the default pair of models are queued at once, waited for, and
drawn: every figure and token strip those views build. Resident memory (VmRSS) is sampled every 20 ms; the
peak, the resident memory before and after, and each phase's peak are printed and written as JSON.

--streamed queues the views' jobs as the page does (serving.jobs.view_jobs: a long review's occlusion and
probe as pieces, the end first); without it occlusion and the probe are one whole job each, as the page
computed them before issue #24.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORDS = ("the film was slow at first but the actors kept it alive and the music carried every scene while the plot "
         "wandered").split()


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Peak(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self.phase_peak, self.stop = 0.0, 0.0, False

    def run(self):
        while not self.stop:
            v = rss_mb()
            self.peak, self.phase_peak = max(self.peak, v), max(self.phase_peak, v)
            time.sleep(0.02)

    def phase(self) -> float:
        p, self.phase_peak = self.phase_peak, rss_mb()
        return round(p, 1)


def draw_views(main, compare, tokens, results) -> int:
    """Build every figure and strip the five review views draw from these results ({"flow", "occlusion",
    "probe", "memory"}, the last three by model); returns their count."""
    import numpy as np

    from tbptt_viz.gradients import analysis
    from tbptt_viz.present import figures, render

    rf, occ, probes, traces = results["flow"], results["occlusion"], results["probe"], results["memory"]
    made = []
    T = rf.T
    for scheme, k in (("last-k", 30), ("chunked", 30), ("full", T)):
        view = analysis.scheme_view(rf, scheme, k)
        made += [figures.gradient_through_time(view, rf.full, T), figures.backprop_timeline(view),
                 render.token_strip(tokens, view.input_grad_norm, scale=float(np.max(view.input_grad_norm)))]
    made += [figures.bias_curve(rf.full, 30), render.token_strip(tokens, rf.full.full_input_grad_norm)]
    made += [render.token_strip(tokens, occ[n].scores, signed=True) for n in occ]
    made.append(figures.occlusion_probe_figure(tokens, {n: a.scores for n, a in occ.items()}, probes))
    made.append(figures.memory_figure(traces, 30))
    for fig in made:
        if hasattr(fig, "to_plotly_json"):
            json.dumps(fig.to_plotly_json(), default=str)  # what st.plotly_chart serialises
    return len(made)


def page_mode(args, sampler: Peak, start_rss: float) -> dict:
    """Every review view of the real page in this process (AppTest), the app's warm-up beside it."""
    os.environ["TBPTT_VIZ_WARMUP"] = "1" if args.warm_up else "0"
    from streamlit.testing.v1 import AppTest

    text = " ".join(WORDS * 200)
    phases, seconds, errors = {}, {}, []
    for view in ("What training sees", "What the model uses", "Start here", "Memory", "Gradient through time"):
        t = time.perf_counter()
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=1800)
        at.query_params.update(review="custom", text=text, view=view)
        at.session_state["occ_long"] = True  # occlusion and the probe of a long review, asked for
        at.run()
        errors += [e.value for e in at.exception] + [e.value for e in at.error]
        seconds[view] = round(time.perf_counter() - t, 1)
        phases[view] = sampler.phase()
    return {"phases_peak_rss_mb": phases, "seconds_per_view": seconds, "errors": errors}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--page", action="store_true", help="render the real page's views (Streamlit's AppTest)")
    ap.add_argument("--warm-up", dest="warm_up", action="store_true", default=True,
                    help="run the app's warm-up beside the review (default)")
    ap.add_argument("--no-warm-up", dest="warm_up", action="store_false")
    ap.add_argument("--streamed", action="store_true", help="occlusion and probe of the long review as pieces")
    ap.add_argument("--out", help="JSON to write (default results/bench/memory.json with --page, else "
                                  "results/bench/memory_jobs.json)")
    args = ap.parse_args()
    args.out = args.out or str(ROOT / "results" / "bench" / ("memory.json" if args.page else "memory_jobs.json"))
    sampler = Peak()
    sampler.start()
    start_rss = rss_mb()
    if args.page:
        result = page_mode(args, sampler, start_rss)
        sampler.stop = True
        result = {"peak_rss_mb": round(sampler.peak, 1), **result, "start_rss_mb": round(start_rss, 1),
                  "end_rss_mb": round(rss_mb(), 1), "review_tokens": 2000, "warm_up": args.warm_up,
                  "command": "python scripts/measure_memory.py --page" + ("" if args.warm_up else " --no-warm-up"),
                  "machine": f"{platform.machine()}, {os.cpu_count()} CPUs shared with other jobs (load average "
                             f"{os.getloadavg()[0]:.1f} at the end)", "date": time.strftime("%Y-%m-%d %H:%M")}
        print(json.dumps(result, indent=1))
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1))
        return

    import torch

    from tbptt_viz.core.checkpoint import available_models, load_pretrained
    from tbptt_viz.core.data import examples
    from tbptt_viz.core.text import prepare_review
    from tbptt_viz.present import figures  # noqa: F401 - what the page has imported before any review
    from tbptt_viz.present.review import Review
    from tbptt_viz.serving import jobs
    from tbptt_viz.serving.service import ComputeService, ModelStore

    torch.set_num_threads(1)
    phases = {"imports": sampler.phase()}
    store = ModelStore(load_pretrained)
    names = available_models()
    store.status(names)
    phases["models loaded"] = sampler.phase()
    # the app's service (app.py `_service`)
    svc = ComputeService(workers=3, cache_entries=2048, limits={"lab": 1}, shares={"long": 1}, cache_bytes=64 << 20)
    warm = None
    if args.warm_up:
        texts = [(ex.text, ex.label) for ex in examples()]
        warm = threading.Thread(target=jobs.warm_up, args=(svc, store, names, texts), daemon=True)
        warm.start()
        time.sleep(2.0)  # the warm-up is under way when the visitor arrives
    main_model, compare = "imdb-last-k30", "imdb-full"
    text = " ".join(WORDS * 200)
    ids = tuple(prepare_review(text, store.get(main_model).vocab).ids)
    tokens = list(prepare_review(text, store.get(main_model).vocab).tokens)
    t0 = time.perf_counter()
    review = Review(main_model, compare, ids, ids, tuple(tokens), None)
    views = ("Start here", "What training sees", "Gradient through time", "What the model uses", "Memory")
    settings = jobs.ViewSettings(long_review=True)  # occlusion and the probe asked for on "What the model uses"
    if args.streamed:
        keys = list(dict.fromkeys(k for view in views for k in jobs.view_jobs(view, review, settings)))
    else:
        keys = [jobs.flow(main_model, ids)] + [k for n in (main_model, compare) for k in
                                               (jobs.attribution(n, ids, "occlusion"), jobs.probe(n, ids),
                                                jobs.memory(n, ids))]
    tickets = {}
    for key in keys:
        job = jobs.job(key, store)
        tickets[key] = svc.request(job.key, job.fn, job.kind, job.priority, owner="visitor")
    first = [t for k, t in tickets.items() if k.kind == "flow" or k.kind == "occ_piece" and k.hi == len(ids)]
    for t in first:
        t.result()
    first_s = time.perf_counter() - t0 if args.streamed else None
    done = {k: t.result() for k, t in tickets.items()}
    results = {"flow": done[jobs.flow(main_model, ids)], "occlusion": {}, "probe": {}, "memory": {}}
    for n in (main_model, compare):
        results["memory"][n] = done[jobs.memory(n, ids)]
        if args.streamed:
            parts = {what: {(k.lo, k.hi): done[k] for k in keys if k.kind == what and k.model == n}
                     for what in ("occ_piece", "probe_piece")}
            results["occlusion"][n] = jobs.occlusion_from_parts(store.get(n), ids, parts["occ_piece"])
            results["probe"][n] = jobs.probe_from_parts(ids, parts["probe_piece"])
        else:
            results["occlusion"][n] = done[jobs.attribution(n, ids, "occlusion")]
            results["probe"][n] = done[jobs.probe(n, ids)]
    computed_s = time.perf_counter() - t0
    phases["long review computed"] = sampler.phase()
    n_figures = draw_views(main_model, compare, tokens, results)
    phases["views drawn"] = sampler.phase()
    if warm is not None:
        warm.join()
        while svc.busy():
            time.sleep(0.5)
        phases["warm-up finished"] = sampler.phase()
    svc.stop()
    sampler.stop = True
    result = {"peak_rss_mb": round(sampler.peak, 1), "phases_peak_rss_mb": phases, "start_rss_mb": round(start_rss, 1),
              "end_rss_mb": round(rss_mb(), 1), "cached_mb": round(svc.cached_bytes / 2**20, 1),
              "review_tokens": len(ids), "models": names, "warm_up": args.warm_up, "streamed": args.streamed,
              "long_review_s": round(computed_s, 1), "first_chart_jobs_s": None if first_s is None else round(first_s, 1),
              "figures_and_strips": n_figures,
              "command": "python scripts/measure_memory.py" + ("" if args.warm_up else " --no-warm-up")
              + (" --streamed" if args.streamed else ""),
              "machine": f"{platform.machine()}, {os.cpu_count()} CPUs shared with other jobs (load average "
                         f"{os.getloadavg()[0]:.1f} at the end), torch {torch.__version__}, 1 thread per worker",
              "date": time.strftime("%Y-%m-%d %H:%M")}
    print(json.dumps(result, indent=1))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
