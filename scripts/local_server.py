"""`streamlit run app.py` on 127.0.0.1 for the benchmark scripts: started, waited for, stopped."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def start(port: int, script: str = "app.py") -> tuple[subprocess.Popen, str]:
    """(the server process, its base URL) once /_stcore/health answers (at most a minute). Run from the
    repository root, so the project's .streamlit/config.toml applies to any script."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true",
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


class Page:
    """What a protocol client received for one run of the page."""

    def __init__(self):
        self.htmls, self.markdowns, self.kinds, self.buttons, self.errors = [], [], {}, {}, []
        self.timeline: list[tuple[float, str, str]] = []  # (seconds since the request, element kind, its text)

    def values(self) -> list[float]:
        """data-value of every token of the first strip."""
        import re

        for h in self.htmls:
            if 'class="tv-strip' in h:
                strip = h[h.index('class="tv-strip'):]
                return [float(v) for v in re.findall(r'data-value="([^"]+)"', strip.split("</div>")[0])]
        return []


async def protocol_page(port: int, query: str, ws=None, widgets=None, timeout: float = 180.0):
    """Open (or rerun, on `ws`) the page with `query`: (seconds until the server finished sending it, Page, ws)."""
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    t = time.perf_counter()
    if ws is None:
        ws = await websockets.connect(f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"],
                                      max_size=None, open_timeout=timeout)
    msg = BackMsg()
    msg.rerun_script.query_string = query
    msg.rerun_script.page_script_hash = ""
    for w in widgets or []:
        msg.rerun_script.widget_states.widgets.append(w)
    await ws.send(msg.SerializeToString())
    page = Page()

    async def read():
        while True:
            fm = ForwardMsg()
            fm.ParseFromString(await ws.recv())
            kind = fm.WhichOneof("type")
            if kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
                el = fm.delta.new_element
                ek = el.WhichOneof("type")
                page.kinds[ek] = page.kinds.get(ek, 0) + 1
                body = el.html.body if ek == "html" else el.markdown.body if ek == "markdown" else ""
                page.timeline.append((time.perf_counter() - t, ek, body[:2000]))
                if ek == "markdown":
                    page.markdowns.append(el.markdown.body)
                if ek == "html":
                    page.htmls.append(el.html.body)
                    if "tv-error" in el.html.body:
                        page.errors.append(el.html.body[-200:])
                elif ek == "exception":
                    page.errors.append(f"{el.exception.type}: {el.exception.message[:120]}")
                elif ek == "button":
                    page.buttons[el.button.label] = el.button.id
            if kind == "script_finished":
                return

    await asyncio.wait_for(read(), timeout)
    return time.perf_counter() - t, page, ws


def settle_warm_up(base: str, limit_s: float = 600.0) -> None:
    """Open the page once (Streamlit runs the app's script, and so starts its warm-up of every example
    under every model, only when a first visitor connects), then wait until the server's compute queue is
    empty three checks in a row, 3 s apart (the page's "Timing" note counts the requests waiting or running),
    so no measurement shares the cores with the warm-up. BENCH_SETTLE_S, if set, is a fixed wait instead."""
    import asyncio
    import re

    async def busy(port: int) -> int | None:
        _, page, ws = await protocol_page(port, "review=love-then-plot&view=Lab")
        await ws.close()
        found = [re.search(r"requests waiting or running: (\d+)", body) for body in page.markdowns]
        return next((int(m.group(1)) for m in found if m), None)

    port, start = int(base.rsplit(":", 1)[1]), time.perf_counter()
    if os.environ.get("BENCH_SETTLE_S"):
        asyncio.run(busy(port))
        time.sleep(float(os.environ["BENCH_SETTLE_S"]))
        return
    idle = 0  # the warm-up queues a few jobs at a time: the queue can be empty for a moment before it ends
    while time.perf_counter() - start < limit_s:
        idle = idle + 1 if asyncio.run(busy(port)) == 0 else 0
        if idle == 3:
            print(f"warm-up done after {time.perf_counter() - start:.0f} s", flush=True)
            return
        time.sleep(3)
