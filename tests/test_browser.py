"""The app in a real browser: Playwright driving Debian's chromium against `streamlit run app.py`.

Set TBPTT_VIZ_SCREENSHOTS=docs to save the screenshots shown in the README.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium here (apt-get install chromium)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not become healthy within 90 s")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1700})
        yield pg
        browser.close()


def shot(page, name: str, tmp_dir: Path) -> None:
    folder = os.environ.get("TBPTT_VIZ_SCREENSHOTS")
    target = (ROOT / folder) if folder else tmp_dir
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / f"{name}.png"), full_page=True)


def wait_idle(page) -> None:
    """Streamlit shows a 'running' widget while the script runs; wait until it is gone."""
    page.wait_for_timeout(300)
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    page.wait_for_timeout(300)


def no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]').first.inner_text()


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    wait_idle(page)


def test_views_render_in_a_browser(server, page, tmp_path):
    page.goto(f"{server}/?review=love-then-plot&scheme=last-k&k=30", wait_until="networkidle")
    page.get_by_text("Where do gradients go").wait_for(timeout=60_000)
    wait_idle(page)
    no_exception(page)
    shot(page, "lessons", tmp_path)

    open_tab(page, "What training sees")
    page.locator(".tv-strip").first.wait_for(timeout=30_000)
    assert page.locator(".tv-zero").count() > 50  # the opening is hatched: exactly zero gradient
    assert page.locator(".tv-cut").count() == 1
    page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
    no_exception(page)
    shot(page, "training_view", tmp_path)

    # move K with the keyboard on the slider: fewer zero tokens after moving right
    zeros_before = page.locator(".tv-zero").count()
    slider = page.get_by_role("slider").first
    slider.focus()
    for _ in range(3):
        slider.press("ArrowRight")
    wait_idle(page)
    page.locator(".tv-strip").first.wait_for()
    assert page.locator(".tv-zero").count() < zeros_before
    assert "k=" in page.url and "k=30" not in page.url  # the URL follows the slider
    no_exception(page)

    for tab in ("Gradient through time", "What the model uses", "Memory", "Model zoo", "Lab"):
        open_tab(page, tab)
        if tab != "Model zoo":
            page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
        no_exception(page)
        shot(page, tab.lower().replace(" ", "_"), tmp_path)

    # a shared link reopens the same tab and settings
    open_tab(page, "Memory")
    assert "view=Memory" in page.url
    link = page.url
    page.goto("about:blank")
    page.goto(link, wait_until="networkidle")
    page.get_by_text("Where do gradients go").wait_for(timeout=60_000)
    wait_idle(page)
    assert page.get_by_role("tab", selected=True).inner_text().strip() == "Memory"
    no_exception(page)


def test_lessons_click_through(server, page):
    page.goto(server, wait_until="networkidle")
    page.get_by_text("Where do gradients go").wait_for(timeout=60_000)
    wait_idle(page)
    from playwright.sync_api import expect

    from tbptt_viz.lessons import LESSONS

    for n, lesson in enumerate(LESSONS):
        open_tab(page, "Lessons")
        expander = page.locator('[data-testid="stExpander"]').filter(has_text=lesson.title)
        if n:
            expander.locator("summary").click()
        expander.get_by_role("button", name="Set up this step").click()
        expect(page.get_by_role("tab", selected=True)).to_have_text(lesson.tab, timeout=30_000)
        wait_idle(page)
        no_exception(page)


def test_hostile_text_is_shown_as_text(server, page):
    from urllib.parse import quote

    hostile = '<img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script> I love this'
    page.goto(f"{server}/?review=custom&text={quote(hostile)}", wait_until="networkidle")
    page.get_by_text("Where do gradients go").wait_for(timeout=60_000)
    wait_idle(page)
    open_tab(page, "What training sees")
    page.locator(".tv-strip").first.wait_for(timeout=30_000)
    assert page.evaluate("window.__pwned === undefined")
    assert page.locator(".tv-strip img").count() == 0 and page.locator(".tv-strip script").count() == 0
    no_exception(page)
