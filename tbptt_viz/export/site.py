"""The serverless demo: every example review under every shipped model, as a static site.

    python -m tbptt_viz export --out site/

writes site/index.html (page and styles), site/index.js (the list of reviews and models), site/demo.js (the
page's script), site/plotly.min.js (bundled, never fetched) and one data/<review>__<model>.js per pair. Data
files are scripts, not JSON fetched at view time, so the page opens from the file system (file:// forbids
fetch) as well as from any static host.

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

from tbptt_viz.gradients import analysis

from tbptt_viz.present import figures
from tbptt_viz.attribution.methods import attribute, context_probe, memory_trace
from tbptt_viz.core.checkpoint import available_models, load_pretrained
from tbptt_viz.core.data import examples
from tbptt_viz.core.text import prepare_review

ASSETS = Path(__file__).resolve().parent / "static"
CSP = ("default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:; "
       "connect-src 'none'; base-uri 'none'; form-action 'none'; object-src 'none'; frame-src 'none'")
SIG = 5  # significant digits kept in the data files (the page shows 2-3)


def _num(v: float):
    if v is None or not math.isfinite(v):
        return None
    return float(f"{v:.{SIG}g}")


def _arr(a) -> list:
    return [_num(float(v)) for v in np.asarray(a, dtype=float).reshape(-1)]


def _traces(fig) -> list[dict]:
    """A figure's traces as plain JSON (its layout comes from the page, like the app's)."""
    out = []
    for trace in fig.data:
        t = {"type": trace.type, "name": trace.name, "mode": getattr(trace, "mode", None)}
        t["line"] = {k: v for k, v in trace.line.to_plotly_json().items()} if getattr(trace, "line", None) else None
        for key in ("x", "y"):
            values = getattr(trace, key)
            t[key] = [None if v is None else _num(float(v)) for v in values] if values is not None else None
        out.append({k: v for k, v in t.items() if v is not None})
    return out


def pair_data(model, review) -> dict:
    """Everything the static page shows for one (model, review), from the functions the app calls."""
    prepared = prepare_review(review.text, model.vocab)
    ids = torch.tensor(prepared.ids)
    rf = analysis.review_flow(model, ids, None)
    f, grid = rf.full, rf.chunked
    occ = attribute(model, ids, "occlusion")
    probe = context_probe(model, ids)
    trace = memory_trace(model, ids)
    return {
        "tokens": list(prepared.tokens), "T": rf.T, "prob": _num(f.prob_positive), "label_used": f.label_used,
        "ks": [int(k) for k in grid.ks],
        "full": {"input": _arr(f.full_input_grad_norm), "hidden": _arr(f.full_hidden_grad_norm),
                 "cell": _arr(f.full_cell_grad_norm)},
        "chunked": {"input": [_arr(r) for r in grid.input_grad_norm], "hidden": [_arr(r) for r in grid.hidden_grad_norm],
                    "cell": [_arr(r) for r in grid.cell_grad_norm]},
        "sweep": {"cosine": _arr(f.sweep_cosine), "relative_error": _arr(f.sweep_relative_error)},
        "occlusion": _arr(occ.scores),
        "probe": {"last_n": _arr(probe.prob_last_n), "without_first_n": _arr(probe.prob_without_first_n)},
        "memory": {"survival": _arr(trace.survival), "influence": _arr(trace.influence),
                   "forget": _arr(trace.forget_mean)},
        "figures": {"bias": _traces(figures.bias_curve(f, None)),
                    "probe": _traces(figures.context_probe_figure({"": probe})),
                    "memory": _traces(figures.memory_figure({"": trace}))},
    }


def export_site(out: str | Path, models: list[str] | None = None, log=lambda s: None) -> dict:
    """Write the static site to `out`; returns a summary (files, bytes, seconds)."""
    started = time.perf_counter()
    out = Path(out)
    (out / "data").mkdir(parents=True, exist_ok=True)
    models = models or available_models()
    reviews = examples()
    index = {"models": [], "reviews": [{"id": r.id, "title": r.title, "label": r.label} for r in reviews]}
    for name in models:
        model = load_pretrained(name)
        card = getattr(model, "card", {}) or {}
        index["models"].append({"name": name, "label": card.get("label", name),
                                "test_accuracy": card.get("test_accuracy")})
        for r in reviews:
            data = pair_data(model, r)
            key = f"{r.id}|{name}"
            (out / "data" / f"{r.id}__{name}.js").write_text(
                f"TBPTT.add({json.dumps(key)}, {json.dumps(data, separators=(',', ':'))});\n")
        log(f"{name}: {len(reviews)} reviews")
    page = (ASSETS / "index.html").read_text()
    page = page.replace("/*CSP*/", CSP).replace("/*CSS*/", (ASSETS / "demo.css").read_text())
    (out / "index.html").write_text(page)
    (out / "index.js").write_text(f"window.TBPTT_INDEX = {json.dumps(index)};\n")
    shutil.copy(ASSETS / "demo.js", out / "demo.js")
    import plotly

    shutil.copy(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", out / "plotly.min.js")
    files = [p for p in out.rglob("*") if p.is_file()]
    return {"files": len(files), "bytes": sum(p.stat().st_size for p in files), "models": len(models),
            "reviews": len(reviews), "seconds": round(time.perf_counter() - started, 1)}
