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
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="no chromium here (apt-get install chromium)")]
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
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(server, browser):
    pg = browser.new_page(viewport={"width": 1400, "height": 1700})
    yield pg
    pg.close()


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


def watch(page) -> dict:
    """Collect every request's URL and every page error while the page is used."""
    seen = {"requests": [], "errors": []}
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    return seen


def foreign(urls, allowed: str) -> list[str]:
    return [u for u in urls if not (u.startswith(allowed) or u.startswith("data:") or u.startswith("blob:"))]


def no_horizontal_overflow(page) -> None:
    width = page.evaluate("document.documentElement.clientWidth")
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width + 2, f"page is {scroll}px wide on a {width}px screen"


def test_views_render_in_a_browser(server, page, tmp_path):
    seen = watch(page)
    page.goto(f"{server}/?review=love-then-plot&scheme=last-k&k=30", wait_until="networkidle")
    page.get_by_text("Where do gradients go").wait_for(timeout=60_000)
    wait_idle(page)
    page.locator(".tv-strip").first.wait_for(timeout=60_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    no_exception(page)
    assert page.get_by_role("tab", selected=True).inner_text().strip() == "Start here"  # a picture first
    shot(page, "start_here_page", tmp_path)  # docs/start_here.png is the first screen: test_teaching_browser.py

    open_tab(page, "What training sees")
    page.locator(".tv-strip").first.wait_for(timeout=30_000)
    assert page.locator(".tv-zero").count() > 50  # the opening is hatched: exactly zero gradient
    # two gradient strips (one cut), then the exposure strip of "Where each word was trained"
    assert page.locator(".tv-cut").count() == 1 and page.locator(".tv-legend").count() == 3
    # under last-K the count/reach chart waits for a click (the strips already show its one loss)
    assert page.locator(".js-plotly-plot").count() == 0
    page.get_by_text("Show the chart of losses reaching each token").click()
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
    # the export is built on click, named after the settings, and holds the per-token numbers
    with page.expect_download(timeout=30_000) as download:
        page.get_by_role("button", name="Download CSV").first.click()  # the gradients' (the exposure's follows)
    name = download.value.suggested_filename
    assert name.startswith("tbptt_viz_gradients_imdb-last-k30_love-then-plot_last-k_") and name.endswith(".csv")
    assert Path(download.value.path()).read_text().startswith("t,token,steps_from_end,full_input_grad_norm")

    for tab in ("Gradient through time", "What the model uses", "Memory", "Model zoo", "Lab", "Lessons"):
        open_tab(page, tab)
        if tab != "Lessons":
            page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
        no_exception(page)
        shot(page, tab.lower().replace(" ", "_"), tmp_path)
    assert not foreign(seen["requests"], server) and not seen["errors"], (foreign(seen["requests"], server),
                                                                           seen["errors"])

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


def test_every_view_fits_a_phone(server, browser, tmp_path):
    pg = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                          has_touch=True)
    for tab in ("Start here", "What training sees", "Gradient through time", "What the model uses", "Memory",
                "Model zoo", "Lab"):
        pg.goto(f"{server}/?view={tab.replace(' ', '+')}", wait_until="networkidle")
        pg.get_by_text("Where do gradients go").wait_for(timeout=60_000)
        wait_idle(pg)
        # every view draws a chart; under last-K "What training sees" draws its strips (its plotly chart waits
        # for a click there)
        pg.locator(".tv-strip" if tab == "What training sees" else ".js-plotly-plot").first.wait_for(timeout=60_000)
        no_exception(pg)
        no_horizontal_overflow(pg)
        tabs = pg.get_by_role("tab")
        assert tabs.count() == 8 and pg.get_by_role("tab", name=tab).is_visible()  # the tab bar scrolls to it
        shot(pg, "phone_" + tab.lower().replace(" ", "_") + ("_page" if tab == "Start here" else ""), tmp_path)
    pg.close()


# The lessons in a browser (set up, then ask): tests/test_teaching_browser.py.


def connectivity_chart(page):
    return page.locator(".js-plotly-plot").filter(has_text="How strongly one word moves")


def section_shot(page, top, name: str, tmp_dir: Path) -> None:
    """A screenshot of the window scrolled so that `top` (a heading's text, or a locator) is at its top: the page
    scrolls inside its main block, so a full-page shot stops at the first screen."""
    where = page.get_by_role("heading", name=top) if isinstance(top, str) else top
    where.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)
    folder = os.environ.get("TBPTT_VIZ_SCREENSHOTS")
    target = (ROOT / folder) if folder else tmp_dir
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / f"{name}.png"))


def test_the_followed_word_redraws_connectivity_and_the_evidence_views_draw(server, page, tmp_path):
    """Memory: another word in the picker redraws the curves (their source mark) and goes into the link; the
    exposure, Shapley and zoo sections draw. Screenshots: evidence_*.png."""
    page.goto(f"{server}/?view=Memory&review=love-then-plot&scheme=last-k&k=30", wait_until="networkidle")
    page.get_by_text("Where do gradients go").wait_for(timeout=60_000)
    wait_idle(page)
    connectivity_chart(page).wait_for(timeout=60_000)
    assert "source: love" in connectivity_chart(page).inner_text()
    picker = page.locator('[data-testid="stSelectbox"]').filter(has_text="Follow the word")
    picker.click()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    wait_idle(page)
    connectivity_chart(page).wait_for(timeout=60_000)
    assert "source: this" in connectivity_chart(page).inner_text()  # token 2 of "i love this film ."
    assert "source=2" in page.url
    no_exception(page)
    section_shot(page, "How far a word travels", "evidence_memory", tmp_path)

    open_tab(page, "What training sees")
    page.get_by_text("Where each word was trained").wait_for(timeout=60_000)
    assert page.get_by_text("'this' occurs in").count() >= 2  # the followed word is shared by the views
    no_exception(page)
    section_shot(page, "Where each word was trained", "evidence_training", tmp_path)

    page.goto(f"{server}/?view=What+the+model+uses&review=love-then-plot&method=shapley", wait_until="networkidle")
    page.get_by_text("Where do gradients go").wait_for(timeout=60_000)
    wait_idle(page)
    page.locator(".js-plotly-plot").filter(has_text="Words together").first.wait_for(timeout=60_000)
    assert page.get_by_text("Together, the opening").count() == 2
    no_exception(page)
    section_shot(page, page.locator('[data-testid="stSelectbox"]').filter(has_text="Groups"), "evidence_model_uses",
                 tmp_path)

    open_tab(page, "Model zoo")
    page.get_by_text("How far each model carries a word").wait_for(timeout=60_000)
    no_exception(page)
    section_shot(page, "How far each model carries a word, and words together", "evidence_zoo", tmp_path)


def test_hostile_text_and_links_are_shown_as_text(server, page):
    from urllib.parse import quote

    seen = watch(page)
    hostile = ('<img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script> I love this\r\r'
               '![p](http://127.0.0.1:9/pixel.png)\r\r[Log in](http://127.0.0.1:9/phish)')
    page.goto(f"{server}/?review=custom&view=Memory&text={quote(hostile)}&model={quote('https://127.0.0.1:9/x')}",
              wait_until="networkidle")
    page.get_by_text("Where do gradients go").wait_for(timeout=60_000)
    wait_idle(page)
    page.get_by_text("Review text").click()
    wait_idle(page)
    assert page.evaluate("window.__pwned === undefined")
    assert page.locator("main img[src*='127.0.0.1:9'], main a[href*='127.0.0.1:9'], main a[href*='phish']").count() == 0
    assert page.locator(".tv-strip img").count() == 0 and page.locator(".tv-strip script").count() == 0
    assert not [u for u in seen["requests"] if "127.0.0.1:9" in u]
    no_exception(page)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from tbptt_viz.export.site import export_site

    out = tmp_path_factory.mktemp("site")
    export_site(out, ["imdb-last-k30", "imdb-full", "imdb-chunked-k30"])
    return out


def test_static_demo_opens_from_the_file_system(site, browser, tmp_path):
    from tbptt_viz import load_pretrained
    from tbptt_viz.gradients import analysis
    from tbptt_viz.core.data import examples
    from tbptt_viz.core.text import prepare_review

    pg = browser.new_page(viewport={"width": 1300, "height": 1400})
    seen = watch(pg)
    console = []
    pg.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    # every Content-Security-Policy violation the page raises while it is used (none are allowed)
    pg.add_init_script("window.__csp = []; document.addEventListener('securitypolicyviolation', e => "
                       "window.__csp.push([e.violatedDirective, e.blockedURI, e.sourceFile, e.lineNumber].join(' ')))")
    pg.goto((site / "index.html").as_uri() + "#review=love-then-plot&model=imdb-last-k30&compare=imdb-full"
            "&scheme=last-k&k=30&view=What+training+sees")
    pg.locator(".tv-strip").first.wait_for(timeout=30_000)
    pg.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
    zeros = pg.locator(".tv-zero").count()
    # the strip's numbers are the app's: last-K at K = 30 equals scheme_view of the same review flow
    model = load_pretrained("imdb-last-k30")
    text = next(e.text for e in examples() if e.id == "love-then-plot")
    ids = prepare_review(text, model.vocab).ids
    view = analysis.scheme_view(analysis.review_flow(model, __import__("torch").tensor(ids)), "last-k", 30)
    shown = [float(v) for v in pg.locator(".tv-strip").nth(1).locator(".tv-tok").evaluate_all(
        "els => els.map(e => e.dataset.value)")]
    assert shown == pytest.approx(list(view.input_grad_norm), rel=1e-4, abs=1e-12)
    assert zeros == int((view.input_grad_norm == 0).sum()) == len(ids) - 30
    shot(pg, "static_training", tmp_path)
    # K: a bigger K leaves fewer zero tokens, and the hash follows
    pg.locator("#k").fill("20")
    pg.locator("#k").dispatch_event("input")
    pg.wait_for_timeout(200)
    assert pg.locator(".tv-strip").nth(1).locator(".tv-zero").count() < len(ids) - 30 and "k=" in pg.url
    # review and model switch; every view draws
    pg.select_option("#review", "short-awful")
    pg.select_option("#model", "imdb-chunked-k30")
    pg.wait_for_timeout(300)
    assert "review=short-awful" in pg.url and "model=imdb-chunked-k30" in pg.url
    for view_name in ("Gradient through time", "What the model uses", "Memory"):
        pg.get_by_role("tab", name=view_name).click()
        pg.locator(".js-plotly-plot").first.wait_for(timeout=10_000)
        shot(pg, "static_" + view_name.lower().replace(" ", "_"), tmp_path)
        if view_name == "What the model uses":
            assert pg.locator(".cols b").count() == 2  # both models side by side
    assert not foreign(seen["requests"], site.as_uri()), foreign(seen["requests"], site.as_uri())
    assert not seen["errors"] and not console, (seen["errors"], console)
    csp = pg.evaluate("document.querySelector('meta[http-equiv=\"Content-Security-Policy\"]').content")
    assert "script-src 'self';" in csp and "unsafe-eval" not in csp and pg.locator("script:not([src])").count() == 0
    # the listener works: an inline script injected now is blocked and reported
    pg.evaluate("() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
                " document.body.appendChild(s); }")
    pg.wait_for_timeout(200)
    violations = pg.evaluate("window.__csp")
    assert pg.evaluate("window.__ran === undefined") and len(violations) == 1 and "script-src" in violations[0]
    pg.close()
