"""`streamlit run app.py` on 127.0.0.1 for the benchmark scripts: started, waited for, stopped."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def start(port: int) -> tuple[subprocess.Popen, str]:
    """(the server process, its base URL) once /_stcore/health answers (at most a minute)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                               "--server.port", str(port), "--server.address", "127.0.0.1",
                               "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            if urllib.request.urlopen(f"{base}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    return server, base


def settle_warm_up(base: str) -> None:
    """Open the page once (Streamlit runs the app's script, and so starts its warm-up of every example
    under every model, only when a first visitor connects), then wait for the warm-up before measuring."""
    import shutil

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=FLAGS)
        page = browser.new_page()
        page.goto(base)
        page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
        browser.close()
    time.sleep(float(os.environ.get("BENCH_SETTLE_S", "60")))
