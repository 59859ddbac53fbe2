"""The serverless demo: every example review under every shipped model, as a static site.

    python -m tbptt_viz export --out site/

writes site/index.html (page and styles), site/index.js (the reviews, models, lessons and the look), site/demo.js
(the page's script), site/plotly.min.js (bundled, never fetched), one
data/<review>__<model>.js per pair and one data/<review>__<model>__<compare>.start.js per pair and compare model
(Start here's overview). Data files are scripts, not JSON fetched at view time, so the page opens from the file
system (file:// forbids fetch) as well as from any static host.

The page is guided as the app is (`export.guide`): Start here (the overview figure and its sentences) and the
Lessons (their texts, evidence and answers), all computed here by the app's own functions.

The look is the app's too: the page's colours, strip styles and chart layouts are generated here from
`present.colours`, `present.render` and `present.figures` (`page_style`), never copied into the page by hand.

Every script is a file of the site: the page has no inline script, and its Content-Security-Policy (CSP)
allows scripts from the site itself only ('self': no 'unsafe-inline', no 'unsafe-eval'), no connections, no
frames, no forms. Styles stay inline ('unsafe-inline' for style-src): plotly.js adds its own <style> element.

The numbers are the app's: each file holds what `analysis.review_flow`, occlusion, the context probe and the
memory trace return for that pair (full BPTT's per-position norms, chunked's for every offered K, the last-K
sweep), plus the traces of the app's own K-independent figures (bias curve, probe, memory). The page derives
last-K exactly as the app does (full BPTT's arrays masked before T-K) and draws the K-dependent charts.
"""
from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from tbptt_viz.attribution.methods import attribute, context_probe, memory_trace
from tbptt_viz.core.checkpoint import available_models, load_pretrained
from tbptt_viz.core.data import examples
from tbptt_viz.core.text import prepare_review
from tbptt_viz.export import guide
from tbptt_viz.gradients import analysis
from tbptt_viz.present import colours, figures, render

ASSETS = Path(__file__).resolve().parent / "static"

CSP = ("default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:; "
       "connect-src 'none'; base-uri 'none'; form-action 'none'; object-src 'none'; frame-src 'none'")


def page_css() -> str:
    """The page's style sheet: its own layout rules (static/demo.css) with the colours of the visual language put
    in for their names (/*surface:light*/ and the like), then the app's strip styles (render.strip_css)."""
    css = (ASSETS / "demo.css").read_text()
    for theme, t in colours.THEMES.items():
        for key, value in t.items():
            css = css.replace(f"/*{key}:{theme}*/", value if isinstance(value, str) else colours.hex_of(value))
    css = css.replace("/*cut*/", colours.CUT)
    return css + render.strip_css()
SIG = 5  # significant digits kept in the data files (the page shows 2-3)


def _num(v: float):
    if v is None or not math.isfinite(v):
        return None
    return float(f"{v:.{SIG}g}")


def _arr(a) -> list:
    return [_num(float(v)) for v in np.asarray(a, dtype=float).reshape(-1)]


def _traces(fig) -> list[dict]:
    """A figure's traces as plain JSON (its layout comes from `page_style`, made by the app's own functions)."""
    out = []
    for trace in fig.data:
        t = {"type": trace.type, "name": trace.name, "mode": getattr(trace, "mode", None),
             "xaxis": getattr(trace, "xaxis", None), "yaxis": getattr(trace, "yaxis", None),
             "showlegend": getattr(trace, "showlegend", None)}
        t["line"] = {k: v for k, v in trace.line.to_plotly_json().items()} if getattr(trace, "line", None) else None
        for key in ("x", "y"):
            values = getattr(trace, key)
            t[key] = [None if v is None else _num(float(v)) for v in values] if values is not None else None
        out.append({k: v for k, v in t.items() if v is not None})
    return out


def computed(model, review) -> guide.Computed:
    """The app's jobs for one (model, review): the training gradients, occlusion and the context probe."""
    prepared = prepare_review(review.text, model.vocab)
    ids = torch.tensor(prepared.ids)
    return guide.Computed(model=model, tokens=tuple(prepared.tokens), ids=tuple(prepared.ids),
                          rf=analysis.review_flow(model, ids, None), occlusion=attribute(model, ids, "occlusion").scores,
                          probe=context_probe(model, ids))


def pair_data(model, review, done: guide.Computed | None = None) -> dict:
    """Everything the static page shows for one (model, review), from the functions the app calls (`done`: what
    `computed` already returned for the pair)."""
    done = done or computed(model, review)
    ids = torch.tensor(done.ids)
    rf = done.rf
    f, grid = rf.full, rf.chunked
    probe = done.probe
    trace = memory_trace(model, ids)
    return {
        "tokens": list(done.tokens), "T": rf.T, "prob": _num(f.prob_positive), "label_used": f.label_used,
        "ks": [int(k) for k in grid.ks],
        "full": {"input": _arr(f.full_input_grad_norm), "hidden": _arr(f.full_hidden_grad_norm),
                 "cell": _arr(f.full_cell_grad_norm)},
        "chunked": {"input": [_arr(r) for r in grid.input_grad_norm], "hidden": [_arr(r) for r in grid.hidden_grad_norm],
                    "cell": [_arr(r) for r in grid.cell_grad_norm]},
        "sweep": {"cosine": _arr(f.sweep_cosine), "relative_error": _arr(f.sweep_relative_error)},
        "occlusion": _arr(done.occlusion),
        "probe": {"last_n": _arr(probe.prob_last_n), "without_first_n": _arr(probe.prob_without_first_n)},
        "memory": {"survival": _arr(trace.survival), "influence": _arr(trace.influence),
                   "forget": _arr(trace.forget_mean)},
        "figures": {"bias": _traces(figures.bias_curve(f, None)),
                    "probe": _traces(figures.context_probe_figure({"": probe})),
                    "memory": _traces(figures.memory_figure({"": trace}))},
    }


def _layout(fig) -> dict:
    """A figure's layout as plain JSON, without its template (the page adds the theme's text colour)."""
    layout = json.loads(fig.layout.to_json())
    layout.pop("template", None)
    return layout


def page_style(models: list[str]) -> dict:
    """What the page draws with, from the app's own modules: the colours (`colours.palette`, each model's colour),
    the K marks of the slider's ruler, and each chart's layout as `present.figures` lays it out (titles broken for
    a phone, legend and colour bar below, axis titles); the page adds only what changes with K."""
    empty = figures.built([], "", "", "")
    template = json.loads(json.dumps(figures.TEMPLATE["layout"]))
    return {
        "palette": colours.palette(), "model_colours": {m: colours.model_colour(m) for m in models},
        "k_marks": list(render.K_MARKS), "template": template, "chart_config": figures.CHART_CONFIG,
        "layouts": {
            "timeline": _layout(figures.built([], "Losses reaching each token", "token position t (the prediction "
                                              "is at the right end)", "losses reaching x_t",
                                              yaxis2={"overlaying": "y", "side": "right", "showgrid": False,
                                                      "rangemode": "tozero", "automargin": True,
                                                      "title": figures.axis_title("reach (steps)", "yaxis2")})),
            "through_time": _layout(figures.built([], "Gradient through time", "token position t (the prediction "
                                                  "is at the right end)", "gradient norm (log scale; zero cannot "
                                                  "be drawn)", yaxis={"type": "log", "exponentformat": "power"},
                                                  height=440)),
            "bias": _layout(figures.bias_curve(_SweepStub(), None)),
            "occlusion": _layout(figures.built([], "Occlusion: logit drop when the token is replaced by padding",
                                               "token position t (the prediction is at the right end)",
                                               "logit drop")),
            "probe": _layout(figures.context_probe_figure({})),
            "memory": _layout(figures.memory_figure({})),
        },
        "empty": _layout(empty),
    }


class _SweepStub:
    """No data: `bias_curve`'s layout alone."""
    sweep_k = sweep_cosine = sweep_relative_error = ()


def write_data(path: Path, key: str, data: dict) -> None:
    """One data file: a script that hands `data` to the page under `key` (a script, not JSON: file:// pages
    cannot fetch)."""
    path.write_text(f"TBPTT.add({json.dumps(key)}, {json.dumps(data, separators=(',', ':'))});\n")


def export_site(out: str | Path, models: list[str] | None = None, log=lambda s: None) -> dict:
    """Write the static site to `out`; returns a summary (files, bytes, seconds)."""
    started = time.perf_counter()
    out = Path(out)
    (out / "data").mkdir(parents=True, exist_ok=True)
    models = models or available_models()
    reviews = examples()
    index = {"models": [], "reviews": [{"id": r.id, "title": r.title, "label": r.label} for r in reviews]}
    done: dict[str, dict[str, guide.Computed]] = {r.id: {} for r in reviews}
    for name in models:
        model = load_pretrained(name)
        card = getattr(model, "card", {}) or {}
        index["models"].append({"name": name, "label": card.get("label", name),
                                "test_accuracy": card.get("test_accuracy")})
        for r in reviews:
            done[r.id][name] = computed(model, r)
    for name in models:
        for r in reviews:
            data = pair_data(done[r.id][name].model, r, done[r.id][name])
            key = f"{r.id}|{name}"
            write_data(out / "data" / f"{r.id}__{name}.js", key, data)
            # Start here for each compare model (one model alone: Start here shows it alone), in a file of its
            # own: the page loads it only when Start here is open
            for m in [m for m in models if m != name] or [name]:
                start = guide.start_here(done[r.id][name], name, {} if m == name else {m: done[r.id][m]})
                write_data(out / "data" / f"{r.id}__{name}__{m}.start.js", f"{key}|{m}|start", start)
        log(f"{name}: {len(reviews)} reviews")
    index.update(guide.page_text())
    index["lessons"] = guide.lessons(done.__getitem__, models)
    page = (ASSETS / "index.html").read_text()
    page = page.replace("/*CSP*/", CSP).replace("/*CSS*/", page_css())
    (out / "index.html").write_text(page)
    style = page_style(models)
    (out / "index.js").write_text(f"window.TBPTT_INDEX = {json.dumps(index)};\n"
                                  f"window.TBPTT_STYLE = {json.dumps(style)};\n")
    shutil.copy(ASSETS / "demo.js", out / "demo.js")
    import plotly

    shutil.copy(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", out / "plotly.min.js")
    files = [p for p in out.rglob("*") if p.is_file()]
    return {"files": len(files), "bytes": sum(p.stat().st_size for p in files), "models": len(models),
            "reviews": len(reviews), "seconds": round(time.perf_counter() - started, 1)}
