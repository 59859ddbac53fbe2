"""The teaching page in a real browser (Debian's chromium via playwright): Start here's figure and sentences fit
the first screen at 1440x900 and two screens of a phone at 390x844; the copy-link button copies the page's URL;
present=1 hides the sidebar and enlarges the type; a lesson sets up, then asks.

Set TBPTT_VIZ_SCREENSHOTS=docs to save docs/start_here.png, docs/phone_start_here.png and docs/lesson_1.png.
"""
from __future__ import annotations

import pytest
from test_browser import CHROMIUM, FLAGS, browser, no_exception, server, shot, wait_idle  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="no chromium here (apt-get install chromium)")]
PHONE_UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile "
            "Safari/537.36")
# Where the first screen's parts are, in page coordinates (the main area scrolls, the window does not).
LAYOUT = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const top = main ? main.scrollTop : 0;
  const box = el => { const b = el.getBoundingClientRect(); return {top: b.top + top, bottom: b.bottom + top}; };
  const tabs = document.querySelector('[role="tablist"]');
  const figure = document.querySelector('.st-key-overview');
  const says = [...document.querySelectorAll('.tv-say')].slice(0, 3).map(box);
  return {tabs: tabs && box(tabs), figure: figure && box(figure), says};
}"""


def open_start(page, url: str) -> dict:
    page.goto(url, wait_until="networkidle")
    page.get_by_text("Where do gradients go").wait_for(timeout=60_000)
    wait_idle(page)
    page.locator(".st-key-overview .js-plotly-plot").wait_for(timeout=60_000)
    page.wait_for_timeout(800)  # plotly draws after the element appears
    no_exception(page)
    return page.evaluate(LAYOUT)


def test_the_answer_fits_the_first_screen_on_a_desktop(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    at = open_start(page, f"{server}/?review=love-then-plot")
    assert at["tabs"]["bottom"] < at["figure"]["top"] and len(at["says"]) == 3
    assert at["figure"]["bottom"] <= 900 and max(s["bottom"] for s in at["says"]) <= 900, at
    assert page.locator(".st-key-overview svg.main-svg").first.is_visible()
    shot_first_screen(page, "start_here", tmp_path)
    page.close()


def test_the_answer_fits_two_screens_on_a_phone(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                            has_touch=True, user_agent=PHONE_UA)
    at = open_start(page, f"{server}/?review=love-then-plot")
    assert at["figure"]["bottom"] <= 2 * 844 and max(s["bottom"] for s in at["says"]) <= 2 * 844, at
    width = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 2
    figure = page.locator(".st-key-overview .js-plotly-plot").bounding_box()
    assert figure["x"] >= 0 and figure["x"] + figure["width"] <= width + 1  # the figure is not clipped
    page.set_viewport_size({"width": 390, "height": 2 * 844})  # the picture: the two screens at once
    page.wait_for_timeout(800)
    shot_first_screen(page, "phone_start_here", tmp_path)
    page.close()


def shot_first_screen(page, name: str, tmp_dir) -> None:
    import os
    from pathlib import Path

    folder = os.environ.get("TBPTT_VIZ_SCREENSHOTS")
    target = (Path(__file__).resolve().parent.parent / folder) if folder else tmp_dir
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / f"{name}.png"))  # the viewport: what the visitor sees without scrolling


def test_copy_link_copies_the_page_url(server, browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    page = context.new_page()
    open_start(page, f"{server}/?review=short-awful&model=imdb-full&view=Start+here")
    button = page.locator("#tv-copy-link")
    assert button.is_visible() and button.inner_text() == "Copy link"
    button.click()
    page.get_by_text("Link copied").wait_for(timeout=5_000)
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.url == button.get_attribute("data-url")
    assert "review=short-awful" in copied and "model=imdb-full" in copied
    # the glossary, one click away
    page.get_by_role("button", name="Glossary").click()
    page.get_by_text("Backpropagation through time: the gradient").wait_for(timeout=5_000)
    context.close()


def test_present_mode_hides_the_sidebar_and_enlarges_the_type(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    open_start(page, f"{server}/?review=love-then-plot")
    normal = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.tv-say')).fontSize)")
    assert page.locator('[data-testid="stSidebar"]').is_visible()
    open_start(page, f"{server}/?review=love-then-plot&present=1")
    assert not page.locator('[data-testid="stSidebar"]').is_visible()
    assert page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)") == 21
    assert page.evaluate("parseFloat(getComputedStyle(document.querySelector('.tv-say')).fontSize)") > 1.25 * normal
    shot(page, "present_start_here", tmp_path)
    page.close()


def test_a_lesson_sets_up_its_evidence_then_asks(server, browser, tmp_path):
    from tbptt_viz.present.lessons import LESSONS

    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{server}/?view=Lessons&lesson=1", wait_until="networkidle")
    page.get_by_text("Where do gradients go").wait_for(timeout=60_000)
    wait_idle(page)
    page.locator(".tv-strip").first.wait_for(timeout=60_000)  # the evidence before any answer
    assert page.locator(".tv-zero").count() > 50 and page.locator(".tv-cut").count() == 1
    lesson = LESSONS[0]
    assert page.get_by_text("Right.").count() == 0
    page.get_by_text(lesson.options[0], exact=True).click()
    wait_idle(page)
    page.get_by_role("button", name="Check my answer").click()
    wait_idle(page)
    assert page.get_by_text("Not quite").is_visible()
    page.get_by_text(lesson.options[lesson.answer], exact=True).click()
    wait_idle(page)
    page.get_by_role("button", name="Check my answer").click()
    wait_idle(page)
    page.get_by_text("Right. Exactly zero.").wait_for(timeout=10_000)
    assert page.get_by_role("tab", selected=True).inner_text().strip() == "Lessons"
    no_exception(page)
    page.set_viewport_size({"width": 1440, "height": 1500})  # the picture: the evidence, the question, the answer
    page.wait_for_timeout(800)
    shot(page, "lesson_1", tmp_path)
    page.close()
