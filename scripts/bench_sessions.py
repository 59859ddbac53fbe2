"""Server-side capacity without browsers: N sessions run the app's script at once in one process (a script).

    python scripts/bench_sessions.py [--sessions 25]

Each session is a streamlit.testing AppTest in its own thread, all in this process, sharing the app's
cached models and compute service exactly as a server's sessions do; no browser competes for the CPU, so
this measures what a server does per visitor. Scenarios: (a) the same shared example link, (b) distinct
~200-word custom reviews on "What the model uses" (every occlusion score checked against a sequential
computation). Reports errors, p50/p95 seconds per session and this process's PSS before and after.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TBPTT_VIZ_WARMUP", "1")
WORDS = ("the film was slow at first but the actors kept it alive and the music carried every scene while the plot "
         "wandered through a small town where nothing much happened until the ending which felt earned").split()


def pss_mb() -> float:
    for line in open("/proc/self/smaps_rollup"):
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def review(i: int) -> str:
    rng = random.Random(i)
    return " ".join(rng.choice(WORDS) for _ in range(200)) + (" i loved it ." if i % 2 else " i hated it .")


def run_all(queries: list[dict]) -> tuple[list[float], list[str], list]:
    from streamlit.testing.v1 import AppTest

    times, errors, apps = [0.0] * len(queries), [], [None] * len(queries)

    def one(i):
        t = time.perf_counter()
        try:
            at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
            for k, v in queries[i].items():
                at.query_params[k] = v
            at.run()
            if at.exception:
                errors.append(at.exception[0].value[:120])
            apps[i] = at
        except Exception as e:  # noqa: BLE001 - reported
            errors.append(f"{type(e).__name__}: {e}"[:120])
        times[i] = time.perf_counter() - t

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(queries))]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return times, errors, apps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=25)
    args = ap.parse_args()
    import torch

    from tbptt_viz import load_pretrained
    from tbptt_viz.attribution.methods import attribute
    from tbptt_viz.core.text import prepare_review

    q = lambda x: sorted(x)[max(0, round(0.95 * len(x)) - 1)]  # noqa: E731
    t0 = time.perf_counter()
    run_all([{}])  # the first visit: loads the models and starts the warm-up
    print(f"first visit {time.perf_counter() - t0:.1f} s; PSS {pss_mb():.0f} MB", flush=True)
    time.sleep(float(os.environ.get("BENCH_SETTLE_S", "90")))
    print(f"after the warm-up: PSS {pss_mb():.0f} MB", flush=True)
    n = args.sessions
    times, errors, _ = run_all([{"review": "love-then-plot", "model": "imdb-last-k30", "scheme": "last-k",
                                 "k": "30"}] * n)
    print(f"(a) {n} sessions, same link: {len(errors)} errors; per session p50 {statistics.median(times):.1f} s, "
          f"p95 {q(times):.1f} s; PSS {pss_mb():.0f} MB", flush=True)
    queries = [{"review": "custom", "text": review(i), "view": "What the model uses"} for i in range(n)]
    times, errors, apps = run_all(queries)
    model = load_pretrained("imdb-last-k30")
    wrong = 0
    for i, at in enumerate(apps):
        if at is None:
            continue
        want = attribute(model, torch.tensor(prepare_review(review(i), model.vocab).ids), "occlusion").scores
        strip = next(h.value for h in at.get("html") if 'class="tv-strip"' in h.value)
        shown = [float(v) for v in __import__("re").findall(r'data-value="([^"]+)"', strip)]
        if len(shown) != len(want) or max(abs(a - b) for a, b in zip(shown, want)) > 1e-6:
            wrong += 1
    print(f"(b) {n} sessions, distinct reviews: {len(errors)} errors, {wrong} differing from the sequential "
          f"computation; per session p50 {statistics.median(times):.1f} s, p95 {q(times):.1f} s; "
          f"PSS {pss_mb():.0f} MB", flush=True)
    if errors:
        print("    e.g. " + errors[0])


if __name__ == "__main__":
    main()
