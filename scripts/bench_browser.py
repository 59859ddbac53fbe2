"""What a student feels, measured in a real browser (a script, not a test).

    python scripts/bench_browser.py [--steps 12] [--port 8766]

Starts `streamlit run app.py` on 127.0.0.1 and exports the static demo to a temporary folder, then drives
Debian's chromium with Playwright. Reports medians over --steps interactions:
  app: a K slider step on "What training sees" (key press until the strips have changed and the page is idle),
       a method switch and a model switch on "What the model uses" (from the click on the chosen option until
       the page has changed and is idle), and the first chart of a fresh session on
       an example (after the start-up warm-up), with the floor for that last one: a Streamlit page holding only
       a title and a 3-bar plotly chart, opened the same way;
  static demo: a K step (until the strips have changed, and until the charts are redrawn after them), and
       export time and size.
Writes results/bench/browser.json (the floor page under "baseline"). Goals: a K step <= 250 ms, a method or
model switch <= 400 ms.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
import bench_json  # noqa: E402
import local_server  # noqa: E402

from tbptt_viz.present.names import method_name  # noqa: E402
FLAGS = local_server.FLAGS
IDLE = "!document.querySelector('[data-testid=\"stStatusWidget\"]')"


def settle(page, changed_js: str, timeout=60_000):
    page.wait_for_function(changed_js, timeout=timeout)
    page.wait_for_function(IDLE, timeout=timeout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--port", type=int, default=8766)
    bench_json.add_arguments(ap)
    args = ap.parse_args()
    started = bench_json.machine(args.note)
    from playwright.sync_api import sync_playwright

    from tbptt_viz.export.site import export_site

    site = Path(tempfile.mkdtemp())
    summary = export_site(site)
    print(f"static export: {summary['models']} models x {summary['reviews']} reviews, {summary['files']} files, "
          f"{summary['bytes'] / 1e6:.1f} MB, {summary['seconds']:.0f} s", flush=True)
    server, base = local_server.start(args.port)
    floor_app = site / "floor_app.py"
    floor_app.write_text("import plotly.graph_objects as go\nimport streamlit as st\n\nst.title('Floor')\n"
                         "st.plotly_chart(go.Figure(go.Bar(x=[1, 2, 3], y=[1, 3, 2])))\n")
    floor_server, floor_base = local_server.start(args.port + 1, script=str(floor_app))
    try:
        local_server.settle_warm_up(base)
        chromium = shutil.which("chromium") or "/usr/bin/chromium"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=FLAGS)
            first, first_strip, floor = [], [], []
            for i in range(3):
                pg = browser.new_page(viewport={"width": 1400, "height": 1000})
                t = time.perf_counter()
                pg.goto(f"{base}/?review=love-then-plot&model=imdb-last-k30&scheme=last-k&k=30")
                pg.locator(".tv-strip").first.wait_for(timeout=60_000)
                first_strip.append(time.perf_counter() - t)
                pg.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
                first.append(time.perf_counter() - t)
                pg.close()
            # the floor: a Streamlit page holding nothing but a title and a 3-bar plotly chart, same browser
            for i in range(3):
                pg = browser.new_page(viewport={"width": 1400, "height": 1000})
                t = time.perf_counter()
                pg.goto(floor_base)
                pg.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
                floor.append(time.perf_counter() - t)
                pg.close()
            pg = browser.new_page(viewport={"width": 1400, "height": 1000})
            pg.goto(f"{base}/?review=love-then-plot&view=What+training+sees&scheme=last-k&k=30")
            pg.locator(".tv-strip").nth(1).wait_for(timeout=60_000)
            pg.wait_for_function(IDLE)
            slider = pg.get_by_role("slider").first
            steps = []
            for i in range(args.steps):
                before = pg.locator(".tv-zero").count()
                slider.focus()
                t = time.perf_counter()
                slider.press("ArrowRight" if i % 2 == 0 else "ArrowLeft")
                settle(pg, f"document.querySelectorAll('.tv-zero').length != {before}")
                steps.append(time.perf_counter() - t)
            pg.goto(f"{base}/?review=love-then-plot&view=What+the+model+uses&method=occlusion")
            pg.locator(".tv-strip").first.wait_for(timeout=60_000)
            pg.wait_for_function(IDLE)
            switches = []
            methods = ["saliency", "input_x_gradient", "occlusion"]
            for i in range(args.steps):
                m = methods[i % 3]
                pg.locator('[data-testid="stSelectbox"]').filter(has_text="Attribution method").click()
                shown = method_name(m)  # the page lists methods by their human names
                option = pg.get_by_role("option", name=shown, exact=True)
                option.wait_for()
                t = time.perf_counter()  # from the choice (the open list is the user's own time)
                option.click()
                settle(pg, f"document.body.innerText.includes({json.dumps(shown + ' of the logit')})")
                switches.append(time.perf_counter() - t)
            model_switches = []
            names = ["imdb-chunked-k30", "imdb-last-k10", "imdb-last-k30"]
            for i in range(args.steps):
                m = names[i % 3]
                pg.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(has_text="Model").first.click()
                option = pg.get_by_role("option").filter(has_text=m).first
                option.wait_for()
                t = time.perf_counter()
                option.click()
                settle(pg, f"document.body.innerText.includes('{m} says')")
                model_switches.append(time.perf_counter() - t)
            static = browser.new_page(viewport={"width": 1400, "height": 1000})
            static.goto((site / "index.html").as_uri() + "#review=love-then-plot&model=imdb-last-k30&scheme=last-k&k=30&view=What+training+sees")
            static.locator(".tv-strip").nth(1).wait_for(timeout=30_000)
            ksteps, kcharts = [], []
            for i in range(args.steps):
                target = 8 + (i % 6)
                strips, charts = static.evaluate(f"""() => {{ const t0 = performance.now(); const k = document.getElementById('k');
                    k.value = '{target}'; k.dispatchEvent(new Event('input')); const t1 = performance.now() - t0;
                    return new Promise(r => setTimeout(() => requestAnimationFrame(() => r([t1, performance.now() - t0])), 0)); }}""")
                ksteps.append(strips / 1000)
                kcharts.append(charts / 1000)
            browser.close()
        med = lambda x: statistics.median(x)  # noqa: E731
        print(f"app, first chart of a fresh session on an example: median {med(first):.2f} s ({len(first)} sessions); "
              f"its first token strip (an HTML chart) {med(first_strip):.2f} s; floor: a Streamlit page with only a "
              f"title and a 3-bar plotly chart, {med(floor):.2f} s")
        print(f"app, K slider step (key press to settled strips): median {med(steps) * 1000:.0f} ms over {len(steps)}")
        print(f"app, attribution method switch: median {med(switches) * 1000:.0f} ms over {len(switches)}")
        print(f"app, model switch (sidebar, on 'What the model uses'): median {med(model_switches) * 1000:.0f} ms "
              f"over {len(model_switches)}")
        print(f"static demo, K step: strips updated in {med(ksteps) * 1000:.1f} ms, charts redrawn in "
              f"{med(kcharts) * 1000:.0f} ms (medians over {len(ksteps)})")
        bench_json.write(
            "browser", "the app in chromium on the same machine as its server, and the static demo (medians)",
            {"first_chart_s": med(first), "first_strip_s": med(first_strip), "sessions": len(first),
             "k_step_ms": med(steps) * 1000, "method_switch_ms": med(switches) * 1000,
             "model_switch_ms": med(model_switches) * 1000, "steps": args.steps,
             "goals_ms": {"k_step": 250, "method_switch": 400, "model_switch": 400},
             "static_k_step_strips_ms": med(ksteps) * 1000, "static_k_step_charts_ms": med(kcharts) * 1000,
             "static_export": {"models": summary["models"], "reviews": summary["reviews"], "files": summary["files"],
                               "megabytes": summary["bytes"] / 1e6, "seconds": summary["seconds"]}},
            {"what": "a Streamlit page holding only a title and a 3-bar plotly chart, opened the same way",
             "first_chart_s": med(floor)}, started, args.out)
    finally:
        for srv in (server, floor_server):
            srv.terminate()
            srv.wait(timeout=30)
        shutil.rmtree(site, ignore_errors=True)


if __name__ == "__main__":
    main()
