"""A 2,000-token review while other sessions browse: its first chart and its whole page (a script, not a test).

    python scripts/bench_long_review.py [--sessions 10] [--repeats 3] [--port 8779] [--out FILE.json]

Starts `streamlit run app.py` on 127.0.0.1 (the only address it talks to; scripts/local_server.py), waits for
the app's start-up warm-up to finish, and measures a new 2,000-token review of our own opened on "Start here"
by a protocol client (scripts/bench_load.py's: Streamlit's own websocket messages, so the times are the
server's), each element timed as it arrives:

    first chart   the training strips and the first occlusion strips of both models (the end of the review,
                  streamed in pieces) have been sent
    whole page    the page has finished (every occlusion piece in, the probe, the study chart)

Baseline, in the same run: the same measurement on the otherwise idle server (a different review, so nothing
is cached). Then `--sessions` sessions browse the whole time (scripts/soak.py's clients: example links, new
~200-word reviews, other K or scheme, a pause of 1-4 s between actions) while `--repeats` long reviews are
opened one after the other, each new. The browsing sessions' own page times during the run, the load average
and the server's memory (sum of PSS over its processes) are recorded with it, and so is the CPU time the
server's processes used during each long review (alone: what the review itself costs, whatever else the
machine runs; under load: its cost and the browsing sessions'). The goal (issue #24): the first chart within
5 s and the whole page within 30 s while ten other sessions browse.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
import bench_json  # noqa: E402
import bench_load  # noqa: E402 - pss_tree, Sampler, WORDS
import local_server  # noqa: E402
import soak  # noqa: E402 - the browsing sessions

BROWSE = {"example": 0.45, "custom": 0.25, "k": 0.30}  # what the other sessions do (no long review, no Lab run)


def long_text(n: int) -> str:
    """A review of our own of 2,000+ tokens, different for every n (nothing cached from another run)."""
    words = bench_load.WORDS
    return " ".join(words[(i * (n + 3)) % len(words)] + (" ." if i % 11 == 10 else "") for i in range(2100))


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the server's process tree has used so far, in seconds."""
    tick = os.sysconf("SC_CLK_TCK")

    def used(p):
        fields = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
        return sum(map(int, fields[11:15])) / tick  # utime, stime, cutime, cstime

    return bench_load.tree_sum(pid, used)


async def long_review(port: int, n: int, pid: int, limit: float = 300.0) -> dict:
    """Open the n-th long review on "Start here": when its training strips, its first occlusion strips and its
    whole page arrived (seconds), whether the first occlusion was drawn before every piece was in, and the CPU
    time the server used meanwhile (alone on the server: what the review costs; under load: everyone's)."""
    samples = []

    async def sample():
        while True:
            samples.append((time.perf_counter(), cpu_seconds(pid)))
            await asyncio.sleep(0.1)

    sampler = asyncio.ensure_future(sample())
    t0, cpu0 = time.perf_counter(), cpu_seconds(pid)
    took, page, ws = await local_server.protocol_page(port, urlencode({"review": "custom", "view": "Start here",
                                                                       "text": long_text(n)}), timeout=limit)
    sampler.cancel()
    cpu_end = cpu_seconds(pid)
    await ws.close()

    def cpu_at(seconds):
        if seconds is None:
            return None
        return round(next((c for t, c in samples if t - t0 >= seconds), cpu_end) - cpu0, 2)

    strips = next((t for t, kind, body in page.timeline if kind == "html" and "||dL/dx_t||" in body), None)
    occ = [t for t, kind, body in page.timeline if kind == "html" and "occlusion: logit drop" in body]
    streamed = [t for t, kind, body in page.timeline if kind == "markdown" and body.startswith("Computing occlusion")]
    first = occ[1] if len(occ) > 1 else None  # both models' strips (one html element each)
    first_chart = None if first is None or strips is None else max(first, strips)
    return {"training_strips_s": strips, "first_chart_s": first_chart, "whole_page_s": took,
            "server_cpu_first_chart_s": cpu_at(first_chart), "server_cpu_whole_page_s": round(cpu_end - cpu0, 2),
            "streamed": bool(streamed), "errors": page.errors}


def med(x):
    return round(statistics.median(x), 2) if x else None


async def under_load(port: int, sessions: int, repeats: int, sampler, pid: int) -> tuple[dict, list]:
    browse = soak.Soak(port, 60.0, sessions, seed=1, mix=BROWSE)
    browse.long_busy, browse.lab_busy = asyncio.Lock(), asyncio.Lock()
    browse.start = time.monotonic()
    browse.deadline = browse.start + 3600
    crowd = [asyncio.ensure_future(browse.session(s)) for s in range(sessions)]
    await asyncio.sleep(20)  # the class is browsing when the long review arrives
    load_before = os.getloadavg()[0]
    t0 = time.monotonic() - browse.start
    runs = []
    for r in range(repeats):
        runs.append(await long_review(port, 100 + r, pid))
        print(f"  long review {r + 1}: first chart {runs[-1]['first_chart_s']:.1f} s, whole page "
              f"{runs[-1]['whole_page_s']:.1f} s (streamed: {runs[-1]['streamed']})", flush=True)
    t1 = time.monotonic() - browse.start
    load_after = os.getloadavg()[0]
    browse.deadline = 0  # the sessions finish their current visit and stop
    await asyncio.gather(*crowd)
    during = [r for r in browse.records if t0 <= r["at_s"] - r["seconds"] and r["at_s"] <= t1]
    ok = [r["seconds"] for r in during if not r["error"]]
    crowd_figures = {"sessions": sessions, "requests_during": len(during),
                     "errors_during": sum(1 for r in during if r["error"]), "page_p50_s": med(ok),
                     "page_p95_s": soak.percentile(ok, 0.95), "load_average_before": round(load_before, 1),
                     "load_average_after": round(load_after, 1), "memory_peak_mb": round(sampler.peak / 1024, 1)}
    return crowd_figures, runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=10, help="sessions browsing meanwhile (default 10)")
    ap.add_argument("--repeats", type=int, default=3, help="long reviews opened under load (default 3)")
    ap.add_argument("--port", type=int, default=8779)
    bench_json.add_arguments(ap)
    args = ap.parse_args()
    started = bench_json.machine(args.note)
    server, base = local_server.start(args.port)
    sampler = bench_load.Sampler(server.pid)
    sampler.start()
    figures, baseline, finished = {}, {}, False
    try:
        local_server.settle_warm_up(base)
        alone = asyncio.run(long_review(args.port, 0, server.pid))
        print(f"alone: first chart {alone['first_chart_s']:.1f} s, whole page {alone['whole_page_s']:.1f} s",
              flush=True)
        baseline = {"what": "the same measurement on the otherwise idle server", **alone}
        crowd, runs = asyncio.run(asyncio.wait_for(under_load(args.port, args.sessions, args.repeats, sampler,
                                                              server.pid),
                                                   timeout=1800))
        figures = {"review_tokens": 2000, "view": "Start here", "runs": runs,
                   "first_chart_s": [r["first_chart_s"] for r in runs],
                   "whole_page_s": [r["whole_page_s"] for r in runs],
                   "first_chart_max_s": max(r["first_chart_s"] for r in runs),
                   "whole_page_max_s": max(r["whole_page_s"] for r in runs),
                   "errors": sum(len(r["errors"]) for r in runs), "browsing": crowd,
                   "goals_s": {"first_chart": 5, "whole_page": 30}}
        finished = True
    finally:
        sampler.stop = True
        server.terminate()
        server.wait(timeout=30)
    if finished:
        print(f"under load ({args.sessions} sessions browsing): first chart {figures['first_chart_s']} s, whole page "
              f"{figures['whole_page_s']} s; browsing pages meanwhile p95 {figures['browsing']['page_p95_s']} s; load "
              f"average {figures['browsing']['load_average_before']}-{figures['browsing']['load_average_after']}",
              flush=True)
        bench_json.write("long_review", "a 2,000-token review on Start here while other sessions browse: its first "
                         "chart and its whole page, server side", figures, baseline, started, args.out)


if __name__ == "__main__":
    main()
