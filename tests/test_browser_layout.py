"""What a reader sees, measured in a real browser (Playwright + Debian's chromium): no chart's title, axis titles,
legend, colour bar, annotations or toolbar overlap or run off the chart, on a 390x844 phone (mobile user agent)
and a 1440x900 desktop, in every view of the app (a lesson open, a live Lab run drawn) and of the static demo; and
in the dark theme, strip tokens and chart titles keep a WCAG contrast of 4.5:1 or more.

Set TBPTT_VIZ_SCREENSHOTS=docs to write each view's screenshot at both sizes under the README's names.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from layout_check import CHART_BOXES, figure_problems, problems
from test_browser import CHROMIUM, FLAGS, browser, server  # noqa: F401 - the one server and browser fixtures

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="no chromium here (apt-get install chromium)")]
PHONE_UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
            "Mobile Safari/537.36")
SIZES = {"phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
                   "device_scale_factor": 2, "user_agent": PHONE_UA},
         "desktop": {"viewport": {"width": 1440, "height": 900}}}
# view -> (URL parameters that put its charts on screen, the name of its screenshot at desktop size)
VIEWS = {
    "Start here": ("", "start_here"),
    "Lessons": ("&teacher=1&lesson=2", "lessons"),  # a lesson open (its link loads it), its evidence a chart
    "What training sees": ("&scheme=chunked", "training_view"),  # chunked: its chart is drawn without a click
    "Gradient through time": ("&scheme=last-k&k=30", "gradient_through_time"),
    "What the model uses": ("&scheme=last-k", "what_the_model_uses"),
    "Memory": ("&scheme=last-k&k=30", "memory"),
    "Model zoo": ("", "model_zoo"),
    "Lab": ("&lab_epochs=2&lab_n_train=200&lab_seq_len=40", "lab"),  # a live run small enough for a test
}
STATIC_VIEWS = {"What training sees": "static_training", "Gradient through time": "static_gradient_through_time",
                "What the model uses": "static_what_the_model_uses", "Memory": "static_memory"}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from tbptt_viz.export.site import export_site

    out = tmp_path_factory.mktemp("site")
    export_site(out, ["imdb-last-k30", "imdb-full", "imdb-chunked-k30"])
    return out


def wait_idle(page) -> None:
    page.wait_for_timeout(300)
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000)
    page.wait_for_timeout(500)


def shot(page, name: str) -> None:
    """A screenshot of what the reader sees with the view's content at the top of the screen, written (as a
    palette PNG, small) only when TBPTT_VIZ_SCREENSHOTS names a folder."""
    folder = os.environ.get("TBPTT_VIZ_SCREENSHOTS")
    if not folder:
        return
    from PIL import Image

    target = ROOT / folder / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target))
    Image.open(target).convert("RGB").quantize(colors=128, dither=Image.Dither.NONE).save(target, optimize=True)


def open_view(page, server: str, view: str, query: str) -> None:
    page.goto(f"{server}/?view={view.replace(' ', '+')}{query}", wait_until="networkidle")
    page.get_by_text("Where do gradients go").wait_for(timeout=90_000)
    wait_idle(page)
    if view == "Lab":  # a live run drawn: its curve and the gradient views of its tiny model
        before = page.locator(".js-plotly-plot").count()
        page.get_by_role("button", name="Train live").click()
        page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length > {before}", timeout=300_000)
        wait_idle(page)
    page.locator(".js-plotly-plot, .tv-strip").first.wait_for(timeout=90_000)
    page.wait_for_timeout(800)  # plotly's second layout pass (automargin) settles


def to_content(page) -> None:
    """Scroll so that the open view's content (below its tab bar) starts at the top of the screen."""
    page.evaluate("() => { const t = document.querySelector('[role=tablist]'); if (t) t.scrollIntoView(); }")
    page.wait_for_timeout(300)


def ruler_problems(page, where: str) -> list[str]:
    """The K slider's ruler: its labels inside the screen and apart from each other."""
    boxes = page.evaluate("() => [...document.querySelectorAll('.tv-ticks span')].filter(e => e.offsetParent)"
                          ".map(e => { const r = e.getBoundingClientRect(); return [e.textContent, r.left, r.right]; })")
    width = page.evaluate("document.documentElement.clientWidth")
    found = [f"{where}: K mark {t!r} runs off the screen" for t, left, right in boxes if left < 0 or right > width]
    found += [f"{where}: K marks {a[0]!r} and {b[0]!r} overlap" for a, b in zip(boxes, boxes[1:]) if a[2] > b[1]]
    return found


# ---- every figure function alone, on small data: fast, and it names the figure that breaks

def test_every_figure_fits_a_phone_and_a_desktop(model, browser):
    import json

    from figure_gallery import gallery

    figs = {name: json.loads(fig.to_json()) for name, fig in gallery(model).items()}
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    found = figure_problems(page, figs, 358) + figure_problems(page, figs, 1100)
    page.close()
    assert not found, "\n".join(found)


def test_the_checker_sees_an_overlap_and_a_cut(browser):
    """The check can fail: the old layout (a long title and a legend at y=-0.22 of the plot) is caught."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    old = {"data": [{"type": "scatter", "y": [1, 2], "name": "a"}, {"type": "scatter", "y": [2, 1], "name": "b"}],
           "layout": {"title": {"text": "How far is the truncated weight gradient from the full one?", "x": 0,
                                "xanchor": "left"}, "height": 380, "margin": {"l": 55, "r": 20, "t": 60, "b": 40},
                      "xaxis": {"title": {"text": "token position t (the prediction is at the right end)"}},
                      "yaxis": {"title": {"text": "gradient norm (log scale; zero cannot be drawn)"}},
                      "legend": {"orientation": "h", "x": 0, "y": -0.22, "yanchor": "top"}}}
    found = " ".join(figure_problems(page, {"old": old}, 358))
    page.close()
    assert "is cut by the chart's edge" in found and "overlaps" in found


# ---- the app: every view at both sizes

@pytest.mark.parametrize("size", list(SIZES))
def test_every_view_keeps_its_charts_clear(server, browser, size):
    context = browser.new_context(**SIZES[size])
    page = context.new_page()
    found, seen = [], {}
    for view, (query, name) in VIEWS.items():
        open_view(page, server, view, query)
        assert page.locator('[data-testid="stException"]').count() == 0, view
        charts = page.evaluate(CHART_BOXES)
        seen[view] = len(charts)
        found += problems(charts, f"[{size}] {view}: ") + ruler_problems(page, f"[{size}] {view}")
        width, scroll = page.evaluate("[document.documentElement.clientWidth, document.documentElement.scrollWidth]")
        if scroll > width + 2:
            found.append(f"[{size}] {view}: the page is {scroll}px wide on a {width}px screen")
        to_content(page)
        shot(page, ("phone_" + view.lower().replace(" ", "_")) if size == "phone" else name)
    context.close()
    assert all(seen.values()), f"a view drew no chart: {seen}"
    assert not found, "\n".join(found)


# ---- the static demo: every view at both sizes

@pytest.mark.parametrize("size", list(SIZES))
def test_the_static_demo_keeps_its_charts_clear(site, browser, size):
    context = browser.new_context(**SIZES[size])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    found = []
    for view, name in STATIC_VIEWS.items():
        scheme = "chunked" if view == "What training sees" else "last-k"
        page.goto(site.joinpath("index.html").as_uri() + "#review=love-then-plot&model=imdb-last-k30&compare=imdb-full"
                  f"&scheme={scheme}&k=30&view={view.replace(' ', '+')}")
        page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
        page.wait_for_timeout(600)
        found += static_problems(page, f"[static {size}] {view}")
        shot(page, name if size == "desktop" else "phone_" + name)
    context.close()
    assert not errors and not found, "\n".join(errors + found)


CONTROLS_FIT = """() => {
  const panel = document.querySelector('#controls').getBoundingClientRect();
  const out = [];
  for (const el of document.querySelectorAll('#controls select, #controls input, #lesson')) {
    const r = el.getBoundingClientRect(), within = el.id === 'lesson' ? el.closest('#view').getBoundingClientRect() : panel;
    if (r.width && (r.left < within.left - 1 || r.right > within.right + 1)) out.push(`${el.id}: ${Math.round(r.left)}-${Math.round(r.right)} outside ${Math.round(within.left)}-${Math.round(within.right)}`);
  }
  return out;
}"""


def static_problems(page, where: str) -> list[str]:
    """What a reader of the static demo would see break: chart parts overlapping or cut, the K ruler's marks,
    a menu wider than its panel, a page wider than the screen. The settings (folded on a phone) are opened for the
    check, as a reader would, and left as they were."""
    folded = page.evaluate("() => { const d = document.getElementById('settings'); const was = !d.open; "
                           "d.open = true; return was; }")
    page.wait_for_timeout(400)  # the charts follow the new width of the page
    found = problems(page.evaluate(CHART_BOXES), f"{where}: ") + ruler_problems(page, where)
    found += [f"{where}: menu {m}" for m in page.evaluate(CONTROLS_FIT)]
    if folded:
        page.evaluate("document.getElementById('settings').open = false")
        page.wait_for_timeout(300)
    width, scroll = page.evaluate("[document.documentElement.clientWidth, document.documentElement.scrollWidth]")
    if scroll > width + 2:
        found.append(f"{where}: the page is {scroll}px wide on a {width}px screen")
    return found


@pytest.mark.parametrize("size", list(SIZES))
def test_the_static_demo_is_guided_and_keeps_clear(site, browser, size):
    """Start here and a lesson from their links, at 390x844 and 1440x900: the overview figure and its sentences,
    the lesson set up (its review, model and scheme, its evidence) then asking; a wrong answer gives the hint,
    tries go on, the right one reveals, reset clears; nothing overlaps, is cut or runs off the screen."""
    from tbptt_viz.present.lessons import LESSONS

    context = browser.new_context(**SIZES[size])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    home = site.joinpath("index.html").as_uri()
    page.goto(home + "#view=Start+here&review=love-then-plot&model=imdb-last-k30&compare=imdb-full")
    page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
    page.wait_for_timeout(800)
    assert page.get_by_role("tab", name="Start here").get_attribute("aria-selected") == "true"
    assert page.locator("text.gtitle").first.text_content().startswith("This review, token by token")
    assert page.locator(".say").count() == 3 and "view=Start+here" in page.url
    # the answer near the top: on a phone the settings start folded, the figure begins on the first screen and
    # its sentences end within two
    folded = page.evaluate("!document.getElementById('settings').open")
    assert folded == (size == "phone")
    top = page.evaluate("document.querySelector('.start .js-plotly-plot').getBoundingClientRect().top + scrollY")
    end = page.evaluate("[...document.querySelectorAll('.start .say')].pop().getBoundingClientRect().bottom + scrollY")
    height = SIZES[size]["viewport"]["height"]
    assert top < height and end <= 2 * height, (top, end)
    found = static_problems(page, f"[static {size}] Start here")
    shot(page, "static_start_here" if size == "desktop" else "phone_static_start_here")
    for n in (3, 5):  # a lesson drawn by the page's own view (3), one whose evidence is an exported figure (5)
        lesson = LESSONS[n - 1]
        page.goto(home + f"#view=Lessons&lesson={n}")
        page.locator(".ask").wait_for(timeout=30_000)
        page.wait_for_timeout(800)
        assert f"lesson={n}" in page.url and f"review={lesson.preset['review']}" in page.url
        assert f"model={lesson.preset['model']}" in page.url and page.locator("h2").text_content() == lesson.title
        assert page.locator(".tv-strip" if lesson.tab == "What training sees" else ".js-plotly-plot").count()
        found += static_problems(page, f"[static {size}] lesson {n}")
        if n == 3:
            shot(page, "static_lesson" if size == "desktop" else "phone_static_lesson")
    # lesson 5 open: two wrong tries (a hint each time), then the right answer, then reset
    lesson = LESSONS[4]
    options = page.locator(".ask label")
    assert options.count() == len(lesson.options) >= 3 and page.locator(".right, .answer").count() == 0
    wrong = [i for i in range(len(lesson.options)) if i != lesson.answer]
    for tries, i in enumerate(wrong[:2], start=1):
        options.nth(i).click()
        page.get_by_role("button", name="Check my answer").click()
        assert f"({tries} tr" in page.locator(".hint").text_content() and "Hint:" in page.locator(".hint").text_content()
    options.nth(lesson.answer).click()
    page.get_by_role("button", name="Check my answer").click()
    assert page.locator(".right").text_content().startswith("Right.") and page.locator(".hint").count() == 0
    assert page.locator(".ask .say").count() >= 2  # the evidence's computed sentences and the study's numbers
    page.get_by_role("button", name="Reset this lesson").click()
    assert page.locator(".right, .answer, .hint").count() == 0 and page.locator(".ask input:checked").count() == 0
    # teacher=1, as in the app: the answer at once, nothing to check
    page.goto(home + "#view=Lessons&lesson=5&teacher=1")
    page.locator(".answer").wait_for(timeout=10_000)
    assert page.get_by_role("button", name="Check my answer").count() == 0 and "teacher=1" in page.url
    context.close()
    assert not errors and not found, "\n".join(errors + found)


# ---- dark and light: contrast computed from the rendered styles

CONTRASTS = """() => {
  const parse = (c) => { const m = (c || '').match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const v = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number); return [v[0], v[1], v[2], v.length > 3 ? v[3] : 1]; };
  const over = (top, ground) => [0, 1, 2].map((i) => ground[i] + (top[i] - ground[i]) * top[3]).concat([1]);
  const ground = (el) => {           // what is painted behind `el`: its ancestors' backgrounds, composited
    const layers = [];
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const bg = parse(getComputedStyle(e).backgroundColor);
      if (bg && bg[3] > 0) layers.push(bg);
      if (bg && bg[3] === 1) break;
    }
    return layers.reverse().reduce((g, c) => over(c, g), [255, 255, 255, 1]);
  };
  const hatch = (el) => (getComputedStyle(el).backgroundImage.match(/rgba?\\([^)]+\\)/g) || []).map(parse);
  const out = [];
  [...document.querySelectorAll('.tv-tok')].filter((e) => e.offsetParent).slice(0, 600).forEach((e) => {
    const g = ground(e.parentElement), own = parse(getComputedStyle(e).backgroundColor);
    const grounds = hatch(e).length ? hatch(e).map((c) => over(c, g)) : [own && own[3] > 0 ? over(own, g) : g];
    out.push({what: 'strip token ' + JSON.stringify(e.textContent), ink: parse(getComputedStyle(e).color), grounds});
  });
  document.querySelectorAll('.tv-label, .tv-legend span:not(.bar), .tv-cut').forEach((e) => {
    if (e.offsetParent && e.textContent.trim())
      out.push({what: 'strip text ' + JSON.stringify(e.textContent.slice(0, 30)), ink: parse(getComputedStyle(e).color),
                grounds: [ground(e)]});
  });
  document.querySelectorAll('.js-plotly-plot').forEach((plot) => {
    if (!plot.offsetParent) return;
    const paper = parse(plot._fullLayout && plot._fullLayout.paper_bgcolor) || [0, 0, 0, 0];
    const g = over(paper, ground(plot));
    plot.querySelectorAll('text.gtitle').forEach((t) =>
      out.push({what: 'chart title ' + JSON.stringify(t.textContent.slice(0, 40)), ink: parse(getComputedStyle(t).fill),
                grounds: [g]}));
  });
  return out;
}"""


def wcag(a, b) -> float:
    """WCAG 2 contrast ratio of two sRGB colours (0-255), written out here as the oracle."""
    def lum(c):
        lin = [(v / 255) / 12.92 if v / 255 <= 0.04045 else ((v / 255 + 0.055) / 1.055) ** 2.4 for v in c[:3]]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def low_contrast(items: list[dict], where: str) -> list[str]:
    found = []
    for it in items:
        ink = it["ink"]
        if ink[3] < 1:  # text drawn translucent: composite it over each ground
            pairs = [([g[i] + (ink[i] - g[i]) * ink[3] for i in range(3)], g) for g in it["grounds"]]
        else:
            pairs = [(ink, g) for g in it["grounds"]]
        worst = min(wcag(i, g) for i, g in pairs)
        if worst < 4.5:
            found.append(f"{where}: {it['what']} has contrast {worst:.2f} (ink {ink}, ground {it['grounds'][0]})")
    return found


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_strips_and_chart_titles_keep_their_contrast(server, site, browser, scheme):
    context = browser.new_context(color_scheme=scheme, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    found, counted = [], {"strip token": 0, "chart title": 0}
    for view, query in (("What training sees", "&scheme=last-k&k=30"), ("What the model uses", "&scheme=last-k"),
                        ("Gradient through time", "&scheme=last-k&k=30")):
        open_view(page, server, view, query)
        if scheme == "dark":  # the page itself follows the browser's setting
            bg = page.evaluate("getComputedStyle(document.querySelector('.stApp')).backgroundColor")
            assert sum(map(int, re.findall(r"\d+", bg)[:3])) < 3 * 80, bg
        items = page.evaluate(CONTRASTS)
        for kind in counted:
            counted[kind] += sum(it["what"].startswith(kind) for it in items)
        found += low_contrast(items, f"[{scheme}] {view}")
    for view in ("What training sees", "What the model uses", "Gradient through time"):
        page.goto(site.joinpath("index.html").as_uri() + "#review=love-then-plot&model=imdb-last-k30"
                  f"&compare=imdb-full&scheme=last-k&k=30&view={view.replace(' ', '+')}")
        page.locator(".tv-strip, .js-plotly-plot").first.wait_for(timeout=30_000)
        page.wait_for_timeout(500)
        found += low_contrast(page.evaluate(CONTRASTS), f"[{scheme} static] {view}")
    context.close()
    assert counted["strip token"] > 200 and counted["chart title"] >= 2, counted
    assert not found, "\n".join(found[:40])
