"""A class opening the app at once: errors, time to the first chart, memory (a script, not a test).

    python scripts/bench_load.py [--sessions 25] [--port 8765] [--clients protocol|browser]

Starts `streamlit run app.py` on 127.0.0.1 (the only address it talks to) and stops by itself. Clients:
  protocol (default): each session is a websocket client speaking Streamlit's own protocol (the messages a
      browser sends and receives), so the numbers are the server's: on a real class the browsers run on the
      students' machines, not on the server's two cores. A page counts as shown when the server has sent all
      of it (script finished); its errors and values are read from the elements it sent.
  browser: Debian's chromium driven by Playwright, on this same machine (its rendering competes with the
      server for the two cores, so this measures a class whose browsers run on the server).
Scenarios, one after the other on the same server:
  (a) N sessions open the same shared example link at once;
  (b) N sessions open distinct ~200-word custom reviews on "What the model uses" at once; every occlusion
      score shown is compared with a sequential computation in this process, equal within float32 rounding
      (serving.service.same_as_sequential: |shown - sequential| <= 1e-5 + 1e-5 |sequential|);
  (c) one 2,000-token review;
  (d) one session's page load, idle and while another session trains a Lab model;
  (e) (protocol clients) the same page load while another session's 2,000-token review is computed.
Memory is the sum of PSS (/proc/PID/smaps_rollup) over the server's process tree, sampled every 0.25 s;
peak and the idle value after (a)-(c) are printed. Each scenario has a time limit and the script ends with
the server even when one fails. Writes results/bench/load.json (a page on an idle server under "baseline");
a short check of the script itself: --sessions 3 --out /tmp/load.json.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
import bench_json  # noqa: E402
import local_server  # noqa: E402
from tbptt_viz.serving.service import FLOAT32_ATOL, FLOAT32_RTOL, same_as_sequential  # noqa: E402

TOLERANCE = f"|shown - sequential| <= {FLOAT32_ATOL:g} + {FLOAT32_RTOL:g} |sequential|"

FLAGS = local_server.FLAGS
FIGURES: dict = {}  # what each scenario measured, written to the JSON at the end
BASELINE: dict = {}
WORDS = ["the", "film", "was", "slow", "at", "first", "but", "the", "actors", "kept", "it", "alive", "and", "the", "music", "carried", "every", "scene", "while", "the", "plot", "wandered", "through", "a", "small", "town", "where", "nothing", "much", "happened", "until", "the", "ending", "which", "felt", "earned", "and", "warm", "although", "some", "viewers", "will", "find", "it", "dull", "and", "others", "will", "call", "it", "a", "quiet", "triumph", "of", "patient", "storytelling"]


def children(pid: int) -> list[int]:
    """pid's child processes, forked from any of its threads (a Lab run forks from a worker thread, and
    /proc/PID/task/PID/children lists only the main thread's)."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            found += [int(c) for c in open(f"/proc/{pid}/task/{task}/children").read().split()]
        except OSError:
            pass
    return found


def tree_sum(pid: int, read) -> float:
    """Sum of read(p) over pid and its descendants (a process gone meanwhile counts 0)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            total += read(p)
            todo += children(p)
        except OSError:
            pass
    return total


def pss_tree(pid: int) -> int:
    """Sum of PSS in kB over pid and its descendants."""
    return tree_sum(pid, lambda p: sum(int(line.split()[1]) for line in open(f"/proc/{p}/smaps_rollup")
                                       if line.startswith("Pss:")))


class Sampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.last, self.stop = pid, 0, 0, False

    def run(self):
        while not self.stop:
            self.last = pss_tree(self.pid)
            self.peak = max(self.peak, self.last)
            time.sleep(0.25)


def review(i: int) -> str:
    rng = random.Random(i)
    return " ".join(rng.choice(WORDS) for _ in range(200)) + (" i loved it ." if i % 2 else " i hated it .")


async def first_chart(browser, url: str, selector: str, timeout: float = 120.0):
    """(seconds to the first `selector` with no 'Computing' note left, error text or None, page)."""
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await ctx.new_page()
    t = time.perf_counter()
    try:
        await page.goto(url, timeout=timeout * 1000)
        await page.locator(selector).first.wait_for(timeout=timeout * 1000)
        await page.wait_for_function("!document.body.innerText.includes('Computing ')", timeout=timeout * 1000)
        took = time.perf_counter() - t
        errors = await page.locator('[data-testid="stException"], .tv-error').count()
        return took, (f"{errors} error element(s)" if errors else None), page
    except Exception as e:  # noqa: BLE001 - reported, not raised
        return time.perf_counter() - t, f"{type(e).__name__}: {str(e)[:120]}", page


async def protocol_scenarios(port: int, n: int, sampler: Sampler, which: str = "abcd", probes: int = 9) -> None:
    from urllib.parse import urlencode

    import torch

    from tbptt_viz import load_pretrained
    from tbptt_viz.attribution.methods import attribute
    from tbptt_viz.core.text import prepare_review

    async def one(query):
        try:
            took, page, ws = await local_server.protocol_page(port, query)
            await ws.close()
            return took, ("; ".join(page.errors) or None), page
        except Exception as e:  # noqa: BLE001 - reported, not raised
            return float("nan"), f"{type(e).__name__}: {str(e)[:120]}", None

    def report(tag, res, extra="", name="", **more):
        times, errs = [r[0] for r in res if not r[1]], [r[1] for r in res if r[1]]
        print(f"{tag}: {len(errs)} errors{extra}; whole page sent p50 {med(times):.1f} s, p95 {p95(times):.1f} s; "
              f"memory peak {sampler.peak / 1024:.0f} MB", flush=True)
        FIGURES[name] = {"sessions": len(res), "errors": len(errs), "page_p50_s": med(times),
                         "page_p95_s": p95(times), "memory_peak_mb": sampler.peak / 1024, **more}
        if errs:
            print("    e.g. " + errs[0], flush=True)

    if "d" in which and set(which) <= {"d"}:
        return await lab_scenario(port, one, probes)
    link = "review=love-then-plot&model=imdb-last-k30&scheme=last-k&k=30"
    res = await asyncio.gather(*[one(link) for _ in range(n)])
    missing = sum(1 for r in res if r[2] is not None and not r[2].kinds.get("plotly_chart"))
    report(f"(a) {n} sessions, same link", res, f", {missing} without a chart", "same_link", without_chart=missing)
    queries = [urlencode({"review": "custom", "view": "What the model uses", "text": review(i)}) for i in range(n)]
    res = await asyncio.gather(*[one(q) for q in queries])
    model = load_pretrained("imdb-last-k30")
    wrong = 0
    for i, (took, err, page) in enumerate(res):
        if err:
            continue
        shown = page.values()
        want = attribute(model, torch.tensor(prepare_review(review(i), model.vocab).ids), "occlusion").scores
        if not same_as_sequential(shown, want):
            wrong += 1
    report(f"(b) {n} sessions, distinct reviews", res, f", {wrong} with a value differing from the sequential "
                                                      f"computation by more than float32 rounding ({TOLERANCE})",
           "distinct_reviews", values_off=wrong, tolerance=TOLERANCE)
    long_text = " ".join(WORDS * 45)
    res = [await one(urlencode({"review": "custom", "view": v, "text": long_text}))
           for v in ("Start here", "What training sees", "What the model uses", "Memory")]
    print(f"(c) a 2,000-token review on four views: {', '.join(f'{r[0]:.1f} s' for r in res)} "
          f"({sum(1 for r in res if r[1])} errors); memory peak {sampler.peak / 1024:.0f} MB", flush=True)
    FIGURES["long_review"] = {"views": ["Start here", "What training sees", "What the model uses", "Memory"],
                              "page_s": [r[0] for r in res], "errors": sum(1 for r in res if r[1]),
                              "memory_peak_mb": sampler.peak / 1024}
    await asyncio.sleep(2)
    print(f"    memory after (a)-(c), idle: {sampler.last / 1024:.0f} MB", flush=True)
    FIGURES["memory_idle_after_mb"] = sampler.last / 1024
    if "d" in which:
        await lab_scenario(port, one, probes)


async def lab_scenario(port: int, one, probes: int) -> None:
    """(d) a new review's page, idle and while a Lab run trains (`probes` pages each)."""
    from urllib.parse import urlencode

    probe = lambda j: urlencode({"review": "custom", "view": "What the model uses", "text": review(5000 + j)})
    for j in range(3):  # not timed: the first new reviews of a session pay one-time costs
        await one(probe(900 + j))
    idle = [(await one(probe(j)))[0] for j in range(probes)]
    lab_query = "view=Lab&lab_epochs=5&lab_n_train=2000&lab_seq_len=200&lab_hidden=64"
    _, page, ws = await local_server.protocol_page(port, lab_query)
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    press = WidgetState(id=page.buttons["Train live"], trigger_value=True)
    lab = asyncio.ensure_future(local_server.protocol_page(port, lab_query, ws=ws, widgets=[press], timeout=600))
    await asyncio.sleep(3)
    busy = [(await one(probe(100 + j)))[0] for j in range(probes)]
    trained = lab.done()
    await lab
    await ws.close()
    print(f"(d) a new review's page: idle {med(idle):.2f} s, while a Lab run trains {med(busy):.2f} s "
          f"({med(busy) / med(idle):.2f}x){'' if not trained else ' (the Lab run ended before the probes did)'}",
          flush=True)
    BASELINE.update(what="a new review's page on an otherwise idle server", page_s=med(idle), pages=len(idle))
    FIGURES["beside_lab_run"] = {"page_s": med(busy), "relative_to_idle": med(busy) / med(idle),
                                 "lab_run_ended_first": trained}
    # (e) the same while another visitor's 2,000-token review is computed
    long_text = " ".join(WORDS * 45) + " a different ending for this run ."
    heavy = asyncio.ensure_future(one(urlencode({"review": "custom", "view": "Start here", "text": long_text})))
    await asyncio.sleep(2)
    busy = [(await one(probe(200 + j)))[0] for j in range(probes)]
    done_first = heavy.done()
    await heavy
    print(f"(e) a new review's page while a 2,000-token review is computed: {med(busy):.2f} s "
          f"({med(busy) / med(idle):.2f}x idle){' (the long review ended first)' if done_first else ''}", flush=True)
    FIGURES["beside_long_review"] = {"page_s": med(busy), "relative_to_idle": med(busy) / med(idle),
                                     "long_review_ended_first": done_first}


def med(x):
    return statistics.median(x) if x else float("nan")


def p95(x):
    return sorted(x)[max(0, int(round(0.95 * len(x))) - 1)] if x else float("nan")


async def scenarios(base: str, n: int, sampler: Sampler) -> None:
    import torch
    from playwright.async_api import async_playwright

    from tbptt_viz import load_pretrained
    from tbptt_viz.attribution.methods import attribute
    from tbptt_viz.core.text import prepare_review

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=FLAGS)
        # (a) the same shared link
        link = f"{base}/?review=love-then-plot&model=imdb-last-k30&scheme=last-k&k=30"
        res = await asyncio.gather(*[first_chart(browser, link, ".js-plotly-plot") for _ in range(n)])
        times, errs = [r[0] for r in res if not r[1]], [r[1] for r in res if r[1]]
        print(f"(a) {n} sessions, same link: {len(errs)} errors, first chart p50 {med(times):.1f} s, "
              f"p95 {p95(times):.1f} s; memory peak {sampler.peak / 1024:.0f} MB", flush=True)
        if errs:
            print("    e.g. " + errs[0], flush=True)
        for r in res:
            await r[2].context.close()
        # (b) distinct custom reviews on "What the model uses"
        urls = [f"{base}/?review=custom&view=What+the+model+uses&text={quote(review(i))}" for i in range(n)]
        res = await asyncio.gather(*[first_chart(browser, u, ".tv-strip") for u in urls])
        model = load_pretrained("imdb-last-k30")
        wrong = 0
        for i, (took, err, page) in enumerate(res):
            if err:
                continue
            shown = await page.locator(".tv-strip").first.locator(".tv-tok").evaluate_all(
                "els => els.map(e => parseFloat(e.dataset.value))")
            want = attribute(model, torch.tensor(prepare_review(review(i), model.vocab).ids), "occlusion").scores
            if not same_as_sequential(shown, want):
                wrong += 1
        times, errs = [r[0] for r in res if not r[1]], [r[1] for r in res if r[1]]
        print(f"(b) {n} sessions, distinct reviews: {len(errs)} errors, {wrong} with a value differing from the "
              f"sequential computation by more than float32 rounding ({TOLERANCE}); first chart p50 "
              f"{med(times):.1f} s, p95 {p95(times):.1f} s; memory peak {sampler.peak / 1024:.0f} MB", flush=True)
        if errs:
            print("    e.g. " + errs[0])
        for r in res:
            await r[2].context.close()
        # (c) one 2,000-token review
        long_text = " ".join(WORDS * 30)
        took, err, page = await first_chart(browser, f"{base}/?review=custom&view=What+training+sees&text="
                                            f"{quote(long_text[:8000])}", ".tv-strip")
        await page.context.close()
        took2, err2, page = await first_chart(browser, f"{base}/?review=custom&view=Start+here&text="
                                              f"{quote(' '.join(WORDS * 45))}", ".tv-strip")
        print(f"(c) a long review: {took:.1f} s ({err or 'ok'}); a 2,000-token one on Start here {took2:.1f} s "
              f"({err2 or 'ok'}); memory peak {sampler.peak / 1024:.0f} MB", flush=True)
        await page.context.close()
        time.sleep(2)
        print(f"    memory after (a)-(c), idle: {sampler.last / 1024:.0f} MB", flush=True)
        # (d) a page while a Lab run trains
        probe_url = f"{base}/?review=custom&view=What+the+model+uses&text={quote(review(999))}"
        idle = []
        for j in range(3):
            took, err, page = await first_chart(browser, probe_url.replace("999", str(1000 + j)) + f"+{j}", ".tv-strip")
            idle.append(took)
            await page.context.close()
        lab = await browser.new_context()
        lab_page = await lab.new_page()
        await lab_page.goto(f"{base}/?view=Lab&lab_epochs=5&lab_n_train=2000&lab_seq_len=200&lab_hidden=64")
        await lab_page.get_by_role("button", name="Train live").wait_for(timeout=60_000)
        await lab_page.get_by_role("button", name="Train live").click()
        await asyncio.sleep(3)
        busy = []
        for j in range(3):
            took, err, page = await first_chart(browser, probe_url.replace("999", str(2000 + j)) + f"+{j}", ".tv-strip")
            busy.append(took)
            await page.context.close()
        print(f"(d) a new review's page: idle {med(idle):.2f} s, while a Lab run trains "
              f"{med(busy):.2f} s ({med(busy) / med(idle):.2f}x)", flush=True)
        await browser.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=25)
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--clients", choices=("protocol", "browser"), default="protocol")
    ap.add_argument("--scenarios", default="abcd", help="protocol clients: which of (a)-(d) to run, e.g. d "
                                                        "((d) includes (e), a page beside a 2,000-token review)")
    bench_json.add_arguments(ap)
    args = ap.parse_args()
    started = bench_json.machine(args.note)
    server, base = local_server.start(args.port)
    finished = False  # a run that failed part-way writes no JSON (it would replace a whole one)
    sampler = Sampler(server.pid)
    sampler.start()
    try:
        local_server.settle_warm_up(base)
        print(f"server up, warm-up done: {sampler.last / 1024:.0f} MB (PSS, all processes)", flush=True)
        FIGURES["memory_after_warm_up_mb"] = sampler.last / 1024
        run = (protocol_scenarios(args.port, args.sessions, sampler, args.scenarios) if args.clients == "protocol"
               else scenarios(base, args.sessions, sampler))
        asyncio.run(asyncio.wait_for(run, timeout=1500))
        finished = True
    finally:
        sampler.stop = True
        print(f"peak server memory (sum of PSS) over the whole run: {sampler.peak / 1024:.0f} MB")
        server.terminate()
        server.wait(timeout=30)
        FIGURES.update(memory_peak_mb=sampler.peak / 1024, clients=args.clients, scenarios=args.scenarios)
    if finished:
        bench_json.write("load", "a class opening the app at once, server side: errors, time to the whole page, "
                         "memory (sum of PSS over the server's processes)", FIGURES, BASELINE, started, args.out)


if __name__ == "__main__":
    main()
