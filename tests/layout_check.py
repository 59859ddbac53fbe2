"""Test oracle for the browser tests: what a reader sees of each chart, measured from the rendered page.

`CHART_BOXES` (run in the page) returns, for every visible plotly chart, the bounding boxes of its title, axis
titles, legend, colour bar (its bar, numbers and title), annotations and toolbar (modebar), and the chart's own box.
`problems` turns them into sentences: two of them overlapping, or one cut by the chart's edge.
"""
from __future__ import annotations

CHART_BOXES = """() => {
  const box = (el) => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const out = [];
  for (const plot of document.querySelectorAll('.js-plotly-plot')) {
    if (!plot.getClientRects().length || plot.offsetWidth === 0) continue;   // a closed tab or expander
    const svg = plot.querySelector('.main-svg');
    if (!svg) continue;
    const items = [];
    const add = (kind, el) => {
      const b = box(el);
      if (b[2] - b[0] > 0.5 && b[3] - b[1] > 0.5) items.push({kind, box: b, text: (el.textContent || '').trim().slice(0, 60)});
    };
    plot.querySelectorAll('text.gtitle').forEach((e) => add('title', e));
    plot.querySelectorAll('g.infolayer > g[class^="g-x"] > text, g.infolayer > g[class^="g-y"] > text')
      .forEach((e) => add('axis title', e));
    plot.querySelectorAll('g.legend > rect.bg').forEach((e) => add('legend', e));
    plot.querySelectorAll('g.colorbar').forEach((bar) => {
      bar.querySelectorAll('.cbfills').forEach((e) => add('colour bar', e));
      bar.querySelectorAll('.cbtitle text').forEach((e) => add('colour bar title', e));
      bar.querySelectorAll('text').forEach((e) => { if (!e.closest('.cbtitle')) add('colour bar number', e); });
    });
    plot.querySelectorAll('g.annotation').forEach((e) => add('annotation', e));
    plot.querySelectorAll('.modebar').forEach((e) => add('toolbar', e));
    const title = plot.querySelector('text.gtitle');
    out.push({chart: title ? title.textContent.slice(0, 60) : '(untitled chart)', box: box(plot), items});
  }
  return out;
}"""


def _overlap(a, b) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 1 and h > 1 else 0.0


def problems(charts: list[dict], where: str = "") -> list[str]:
    """Every overlap between two labelled parts of a chart (annotations are only checked against the other
    kinds: labels inside the plot may sit side by side) and every part cut by the chart's edge."""
    found = []
    for c in charts:
        left, top, right, bottom = c["box"]
        items = c["items"]
        for it in items:
            l, t, r, b = it["box"]
            if l < left - 1 or t < top - 1 or r > right + 1 or b > bottom + 1:
                found.append(f"{where}{c['chart']!r}: {it['kind']} {it['text']!r} is cut by the chart's edge "
                             f"({[round(v) for v in it['box']]} outside {[round(v) for v in c['box']]})")
        for i, a in enumerate(items):
            for b in items[i + 1:]:
                if a["kind"] == b["kind"] == "annotation":
                    continue
                if _overlap(a["box"], b["box"]):
                    found.append(f"{where}{c['chart']!r}: {a['kind']} {a['text']!r} overlaps {b['kind']} {b['text']!r}")
    return found


def plotly_js() -> str:
    from pathlib import Path

    import plotly

    return str(Path(plotly.__file__).parent / "package_data" / "plotly.min.js")


def figure_problems(page, figures: dict, width: int, dark: bool = False) -> list[str]:
    """Draw each figure (name -> plotly JSON dict) alone at `width` px in `page` with the app's chart toolbar, as
    Streamlit does (the page's font and text colour), and return `problems` for all of them."""
    from tbptt_viz.present.figures import CHART_CONFIG

    colour = "#fafafa" if dark else "#31333f"
    page.set_content(f'<html><body style="margin:0;font-family:sans-serif;background:{"#0e1117" if dark else "#fff"}">'
                     f'<div id="c" style="width:{width}px"></div></body></html>')
    page.add_script_tag(path=plotly_js())
    found = []
    for name, fig in figures.items():
        page.evaluate("""([fig, config, colour]) => {
            const div = document.getElementById('c');
            Plotly.purge(div);
            const layout = {...fig.layout, font: {...(fig.layout.font || {}), color: colour}};
            return Plotly.newPlot(div, fig.data, layout, {...config,
              modeBarButtonsToAdd: [{name: 'Fullscreen', icon: Plotly.Icons.autoscale, click: () => {}}]});
        }""", [fig, CHART_CONFIG, colour])
        found += problems(page.evaluate(CHART_BOXES), f"[{width}px] {name}: ")
    return found
