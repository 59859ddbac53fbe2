"""A soak test: ten or more sessions of mixed traffic against one local server for N minutes, with the server's
memory sampled throughout (a script, not a test).

    python scripts/soak.py --minutes 20 [--sessions 12] [--port 8777] [--out results/bench/soak.json]

Starts `streamlit run app.py` on 127.0.0.1 (the only address it talks to; scripts/local_server.py) and stops
it at the end, whatever happens. Every session is one websocket client speaking Streamlit's own protocol (the
messages a browser sends and receives; the clients of scripts/bench_load.py), kept open like a browser tab,
and loops until the time is up over a mix of what a class does:

    example   an example review's link, on a random view and model
    custom    a new ~200-word review of its own on a random view
    k         the same page with another K or scheme (the K slider's rerun)
    lab       a small live Lab run (within the live budget), "Train live" pressed
    long      a 2,000-token review on "Start here" or "What training sees"

with a pause of 1-4 s between actions. Bounded: the sessions, the minutes, every action's time limit (a
timed-out action counts as an error) and the number of long reviews and Lab runs in flight (one each at a
time, as a class would rarely do more). Every 30 s the server's total memory is sampled: the sum of PSS
(/proc/PID/smaps_rollup) over its process tree, forked Lab runs included. Writes errors, p50/p95 per kind
and the memory curve as JSON.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import bench_load  # noqa: E402 - the protocol clients' helpers (pss_tree, reviews)
import local_server  # noqa: E402

VIEWS = ("Start here", "What training sees", "Gradient through time", "What the model uses", "Memory", "Lessons",
         "Model zoo")
EXAMPLES = ("love-then-plot", "hate-then-plot", "plot-then-love", "mixed-mostly-positive", "short-awful", "never-boring")
MODELS = ("imdb-last-k30", "imdb-full", "imdb-chunked-k30", "imdb-last-k10", "imdb-last-k100", "imdb-k1k2-30-60",
          "imdb-chunked-k30-per-chunk")
MIX = {"example": 0.34, "custom": 0.22, "k": 0.24, "lab": 0.08, "long": 0.12}
LIMIT_S = {"example": 120, "custom": 180, "k": 120, "lab": 300, "long": 400}
LAB_QUERY = "view=Lab&lab_epochs=3&lab_n_train=400&lab_seq_len=60&lab_hidden=16"


def percentile(values, q):
    if not values:
        return None
    v = sorted(values)
    return round(v[min(len(v) - 1, max(0, int(round(q * len(v))) - 1))], 2)


class Soak:
    def __init__(self, port: int, minutes: float, sessions: int, seed: int, mix: dict | None = None):
        self.port, self.deadline, self.sessions = port, time.monotonic() + 60 * minutes, sessions
        self.mix = dict(mix or MIX)  # kind -> share of the visits
        self.rng = random.Random(seed)
        self.records: list[dict] = []
        self.examples = list(EXAMPLES)
        self.long_busy, self.lab_busy = None, None  # asyncio locks, made inside the event loop
        self.start = time.monotonic()

    def query(self, rng, kind: str, n: int) -> str:
        if kind == "example":
            return urlencode({"review": rng.choice(self.examples), "view": rng.choice(VIEWS),
                              "model": rng.choice(MODELS)})
        if kind == "custom":
            return urlencode({"review": "custom", "view": rng.choice(VIEWS[:5]), "text": bench_load.review(n)})
        if kind == "long":
            words = bench_load.WORDS[:]
            rng.shuffle(words)
            return urlencode({"review": "custom", "view": rng.choice(("Start here", "What training sees")),
                              "text": " ".join(words * 40)})
        raise ValueError(kind)

    async def session(self, s: int) -> None:
        rng = random.Random(self.rng.random())
        last = self.query(rng, "example", 0)  # the visitor's last link (what "k" reopens)
        n = 0
        while time.monotonic() < self.deadline:
            kind = rng.choices(list(self.mix), weights=list(self.mix.values()))[0]
            lock = {"long": self.long_busy, "lab": self.lab_busy}.get(kind)
            if lock is not None and lock.locked():
                kind = "example"  # one long review and one Lab run in flight at a time
                lock = None
            n += 1
            t = time.perf_counter()
            try:
                if lock is not None:
                    async with lock:
                        error, query = await self.visit(kind, rng, s * 100_000 + n, last)
                else:
                    error, query = await self.visit(kind, rng, s * 100_000 + n, last)
                if kind in ("example", "custom"):
                    last = query
            except Exception as e:  # noqa: BLE001 - every failure is a counted error, never a crash
                error = f"{type(e).__name__}: {str(e)[:160]}"
            self.records.append({"session": s, "kind": kind, "seconds": round(time.perf_counter() - t, 3),
                                 "error": error, "at_s": round(time.monotonic() - self.start, 1)})
            await asyncio.sleep(rng.uniform(1, 4))

    async def visit(self, kind, rng, n, last) -> tuple[str | None, str]:
        """One visit: a new session opens the link (for the Lab, then presses "Train live") and leaves.
        Returns (error or None, the link's query)."""
        limit = LIMIT_S[kind]
        ws = None
        try:
            if kind == "lab":
                query = f"{LAB_QUERY}&lab_seed={n}"  # each visitor's own run (an identical one would be cached)
                _, page, ws = await local_server.protocol_page(self.port, query, timeout=limit)
                from streamlit.proto.WidgetStates_pb2 import WidgetState

                press = WidgetState(id=page.buttons["Train live"], trigger_value=True)
                _, page, ws = await local_server.protocol_page(self.port, query, ws=ws, widgets=[press],
                                                               timeout=limit)
                trained = page.kinds.get("metric", 0) > 0
                return ("; ".join(page.errors) or (None if trained else "the Lab run showed no result")), query
            if kind == "k":
                q = dict(pair.split("=", 1) for pair in last.split("&") if "=" in pair)
                q.update(k=str(rng.choice((1, 5, 10, 20, 30, 50, 100, 200))), scheme=rng.choice(("last-k", "chunked")))
                query = "&".join(f"{k}={v}" for k, v in q.items())
            else:
                query = self.query(rng, kind, n)
            _, page, ws = await local_server.protocol_page(self.port, query, timeout=limit)
            return ("; ".join(page.errors) or None), query
        finally:
            await self.close(ws)

    @staticmethod
    async def close(ws):
        if ws is not None:
            try:
                await ws.close()
            except Exception:  # noqa: BLE001 - already gone
                pass
        return None

    async def run(self, minutes: float, server_pid: int, curve: list) -> None:
        self.long_busy, self.lab_busy = asyncio.Lock(), asyncio.Lock()
        start = self.start = time.monotonic()
        self.deadline = start + 60 * minutes

        async def sample():
            while time.monotonic() < self.deadline + 5:
                curve.append({"t_s": round(time.monotonic() - start, 1),
                              "pss_mb": round(bench_load.pss_tree(server_pid) / 1024, 1)})
                await asyncio.sleep(30)

        sampler = asyncio.ensure_future(sample())
        await asyncio.gather(*[self.session(s) for s in range(self.sessions)])
        curve.append({"t_s": round(time.monotonic() - start, 1),
                      "pss_mb": round(bench_load.pss_tree(server_pid) / 1024, 1)})
        sampler.cancel()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, required=True, help="how long the traffic runs (at most 240)")
    ap.add_argument("--sessions", type=int, default=12, help="concurrent sessions, 10..50 (default 12)")
    ap.add_argument("--port", type=int, default=8777)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "results" / "bench" / "soak.json"))
    args = ap.parse_args()
    if not 0 < args.minutes <= 240 or not 10 <= args.sessions <= 50:
        ap.error("--minutes must be in (0, 240] and --sessions in 10..50")
    server, base = local_server.start(args.port)
    curve: list = []
    soak = Soak(args.port, args.minutes, args.sessions, args.seed)
    started, load_before = time.strftime("%Y-%m-%d %H:%M"), os.getloadavg()[0]
    try:
        asyncio.run(asyncio.wait_for(soak.run(args.minutes, server.pid, curve),
                                     timeout=60 * args.minutes + max(LIMIT_S.values()) + 120))
    finally:
        server.terminate()
        server.wait(timeout=30)
    by_kind = {}
    for kind in MIX:
        rows = [r for r in soak.records if r["kind"] == kind]
        ok = [r["seconds"] for r in rows if not r["error"]]
        by_kind[kind] = {"requests": len(rows), "errors": sum(1 for r in rows if r["error"]),
                         "p50_s": percentile(ok, 0.5), "p95_s": percentile(ok, 0.95),
                         "max_s": round(max(ok), 2) if ok else None}
    errors = [r for r in soak.records if r["error"]]
    pss = [c["pss_mb"] for c in curve]
    half = len(pss) // 2
    result = {"minutes": args.minutes, "sessions": args.sessions, "requests": len(soak.records),
              "errors": len(errors), "error_examples": [f"{r['kind']}: {r['error']}" for r in errors[:10]],
              "by_kind": by_kind, "memory_curve": curve, "peak_pss_mb": max(pss) if pss else None,
              "memory_first_half_mean_mb": round(statistics.mean(pss[:half]), 1) if half else None,
              "memory_second_half_mean_mb": round(statistics.mean(pss[half:]), 1) if half else None,
              "started": started, "date": time.strftime("%Y-%m-%d %H:%M"),
              "command": f"python scripts/soak.py --minutes {args.minutes:g} --sessions {args.sessions}",
              "machine": f"{platform.machine()}, {os.cpu_count()} CPUs shared with other jobs (load average "
                         f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end); server and clients "
                         "on the same machine"}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "memory_curve"}, indent=1))
    print(f"memory (PSS, MB) every 30 s: {pss}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
