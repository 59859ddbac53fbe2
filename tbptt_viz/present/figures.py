"""Plotly figures from the analysis dataclasses. A figure never touches a model."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

FULL_STYLE = dict(dash="dot", width=2)
# A light template of a few lines: plotly's "plotly_white" spells out defaults for every trace type, so each
# figure's build and its JSON would carry them all.
LIGHT = {"layout": {"plot_bgcolor": "white", "paper_bgcolor": "white",
                    "xaxis": {"gridcolor": "#e8e8e8", "zerolinecolor": "#cfcfcf", "linecolor": "#cfcfcf",
                              "automargin": True},
                    "yaxis": {"gridcolor": "#e8e8e8", "zerolinecolor": "#cfcfcf", "linecolor": "#cfcfcf",
                              "automargin": True}}}
COLOURS = {"input": "#ff7f0e", "hidden": "#1f77b4", "cell": "#2ca02c", "full": "#7f7f7f", "cut": "#c0392b"}


def nice_ticks(low: float, high: float, n: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten) spanning [low, high], about n of them; the last may
    pass `high` by up to half a step (an axis whose range reaches past its data shows it)."""
    if not np.isfinite(low) or not np.isfinite(high) or high <= low:
        return [float(low)]
    raw = (high - low) / max(1, n - 1)
    mag = 10 ** np.floor(np.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    start = np.ceil(low / step) * step
    return [float(round(v, 12)) for v in np.arange(start, high + step / 2, step)]


def positive_or_none(a) -> list:
    """Log axes cannot show 0: exact zeros (no gradient) become gaps."""
    return [float(v) if v > 0 else None for v in np.asarray(a, dtype=float)]


def frame(height: int = 380, margin: tuple[int, int, int, int] = (55, 20, 60, 40), legend_y: float = -0.22) -> dict:
    """Height, margins (left, right, top, bottom) and a legend below the plot: on a 390-px phone screen a
    legend beside the plot would take half its width."""
    left, right, top, bottom = margin
    return {"height": height, "margin": {"l": left, "r": right, "t": top, "b": bottom},
            "legend": {"orientation": "h", "x": 0, "y": legend_y, "yanchor": "top", "font": {"size": 11}}}


def title_of(text: str) -> dict:
    """A figure title left-aligned, so that a long one wraps on a phone instead of running off both sides."""
    return {"text": text, "x": 0, "xanchor": "left", "font": {"size": 15}}


def lay_out(fig: go.Figure, title: str, x: str | None = None, y: str | None = None, *, height: int = 380,
            margin: tuple[int, int, int, int] = (55, 20, 60, 40), legend_y: float = -0.22, **layout) -> go.Figure:
    """The one layout of every figure: the light template, a left-aligned title, axis titles (where given),
    `frame`'s size and legend, then any further layout."""
    fig.layout.template = LIGHT  # replaces the default template (update_layout would merge into it)
    axes = {name: text for name, text in (("xaxis_title", x), ("yaxis_title", y)) if text is not None}
    fig.update_layout(title=title_of(title), **axes, **frame(height, margin, legend_y), **layout)
    return fig


def built(data: list[dict], title: str, x: str, y: str, shapes=(), annotations=(), **layout) -> go.Figure:
    """One figure built in one step from plain dicts, laid out like `lay_out`. Plotly then validates the whole
    figure once instead of once per add_trace / add_vrect / update call, which matters for the figures a K
    slider step redraws."""
    base = {"template": LIGHT, "title": title_of(title), **frame(), "shapes": list(shapes),
            "annotations": list(annotations)}
    for axis, text in (("xaxis", x), ("yaxis", y)):
        base[axis] = {"title": {"text": text}, **layout.pop(axis, {})}
    return go.Figure({"data": data, "layout": {**base, **layout}})


def _band(x0: float, x1: float, colour: str, opacity: float, text: str, where: str = "left",
          yref: str = "paper") -> tuple[dict, dict]:
    """A shaded x-range across the plot (or, with yref "y domain", one panel) with its label at the top
    (what add_vrect draws)."""
    return ({"type": "rect", "xref": "x", "yref": yref, "x0": x0, "x1": x1, "y0": 0, "y1": 1,
             "fillcolor": colour, "opacity": opacity, "line": {"width": 0}, "layer": "below"},
            {"xref": "x", "yref": yref, "x": x0 if where == "left" else x1, "y": 1, "text": text,
             "showarrow": False, "xanchor": where, "yanchor": "top"})


def _vline(x: float, colour: str, text: str) -> tuple[dict, dict]:
    return ({"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x, "y0": 0, "y1": 1,
             "line": {"color": colour, "dash": "dash"}},
            {"xref": "x", "yref": "paper", "x": x, "y": 1, "text": text, "showarrow": False, "xanchor": "left",
             "yanchor": "top", "font": {"color": colour}})


def gradient_through_time(view, full, T: int) -> go.Figure:
    """||dL/dx_t||, ||dL/dh_t||, ||dL/dc_t|| against token position (end on the right, as in every view),
    log y; the scheme solid, full BPTT dotted; positions with exactly zero gradient shaded and labelled."""
    t = np.arange(T)
    data = []
    for key, name in (("input", "||dL/dx_t||"), ("hidden", "||dL/dh_t||"), ("cell", "||dL/dc_t||")):
        data.append({"type": "scatter", "x": t, "y": positive_or_none(getattr(full, f"full_{key}_grad_norm")),
                     "mode": "lines+markers" if T == 1 else "lines", "name": f"{name} full BPTT",
                     "line": {"color": COLOURS[key], **FULL_STYLE}})
        if view.scheme != "full":  # under full BPTT the scheme's curves are the dotted ones
            data.append({"type": "scatter", "x": t, "y": positive_or_none(getattr(view, f"{key}_grad_norm")),
                         "mode": "lines", "name": f"{name} {view.label}",
                         "line": {"color": COLOURS[key], "width": 3}})
    marks = [_band(a - 0.5, b - 0.5, "#bbbbbb", 0.25, f"exactly 0 ({b - a} tokens)")
             for a, b in zero_runs(view.input_grad_norm)]
    if view.scheme == "last-k" and view.k < T:
        marks.append(_vline(T - view.k - 0.5, COLOURS["cut"], f"K={view.k}"))
    return built(data, "Gradient through time", "token position t (the prediction is at the right end)",
                  "gradient norm (log scale; zero cannot be drawn)", shapes=[m[0] for m in marks],
                  annotations=[m[1] for m in marks], yaxis={"type": "log", "exponentformat": "power"})


def zero_runs(values) -> list[tuple[int, int]]:
    """[start, end) runs of positions whose value is exactly 0."""
    zero = np.asarray(values) == 0
    runs, start = [], None
    for i, z in enumerate(zero):
        if z and start is None:
            start = i
        if not z and start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(zero)))
    return runs


def bias_curve(full, k: int | None) -> go.Figure:
    """Cosine and relative error between the last-K and the full weight gradient, for every K.

    `k`: the last-K setting to mark (None: no marker, e.g. for schemes that are not last-K)."""
    data = [{"type": "scatter", "x": full.sweep_k, "y": full.sweep_cosine, "name": "cosine(last-K, full)",
             "line": {"color": "#1f77b4", "width": 3}},
            {"type": "scatter", "x": full.sweep_k, "y": full.sweep_relative_error,
             "name": "relative error |G_K - G| / |G|", "line": {"color": "#d62728", "width": 2}}]
    if k is None:
        return built(data, "How far is the last-K weight gradient from the full one?", "K (log scale)",
                      "cosine / relative error", xaxis={"type": "log"})
    kk = int(min(max(k, 1), len(full.sweep_k)))
    data.append({"type": "scatter", "x": [kk, kk], "y": [full.sweep_cosine[kk - 1], full.sweep_relative_error[kk - 1]],
                 "mode": "markers+text", "marker": {"size": 12, "color": "black"}, "name": f"K = {kk}",
                 "text": [f"{full.sweep_cosine[kk - 1]:.2f}", f"{full.sweep_relative_error[kk - 1]:.2f}"],
                 "textposition": "middle right"})
    return built(data, "How far is the truncated weight gradient from the full one?", "K (log scale)",
                  "cosine / relative error", xaxis={"type": "log"})


def backprop_timeline(view) -> go.Figure:
    """Per position: how many loss terms reach x_t, and the longest distance to one of them."""
    t = np.arange(len(view.backprop_count))
    ends = view.windows[:, 0]
    top = max(1, int(view.backprop_reach.max()))
    data = [  # one filled step line, not a bar per token: the same picture as one SVG path
        {"type": "scatter", "x": t, "y": view.backprop_count, "name": "losses whose gradient reaches x_t",
         "line": {"color": "#ff7f0e", "shape": "hvh", "width": 1}, "fill": "tozeroy"},
        {"type": "scatter", "x": t, "y": view.backprop_reach, "name": "longest reach (steps to that loss; -1 = none)",
         "yaxis": "y2", "line": {"color": "#1f77b4"}},
        {"type": "scatter", "x": ends, "y": np.full(len(ends), view.backprop_count.max() + 0.3), "mode": "markers",
         "name": "a loss (prediction vs label) here",
         "marker": {"symbol": "triangle-down", "size": 10, "color": "#c0392b"}}]
    return built(data, f"Backprop count and reach: {view.label}", "token position t", "count",
                  yaxis={"tickvals": nice_ticks(0, int(view.backprop_count.max()) + 1)},
                  yaxis2={"overlaying": "y", "side": "right", "title": {"text": "reach (steps)"}, "showgrid": False,
                          "range": [-1.5, top * 1.08], "tickvals": nice_ticks(0, top)})


def _score_traces(tokens, rows: dict[str, np.ndarray]) -> list[dict]:
    """Per-token scores as filled step lines, token position left to right: one SVG path per row, not T bars."""
    t = np.arange(len(tokens))
    colours = ("#2c7fb8", "#d95f0e", "#7b3fa0")
    return [{"type": "scatter", "x": t, "y": scores, "name": name, "hovertext": list(tokens), "fill": "tozeroy",
             "line": {"shape": "hvh", "width": 1, "color": colours[j % 3]}}
            for j, (name, scores) in enumerate(rows.items())]


def _probe_traces(probes: dict, axes: dict | None = None) -> list[dict]:
    """Per model: P(positive) reading only the last n tokens, and with the first n removed."""
    dash = ("solid", "dot", "dash")
    data = []
    for j, (name, probe) in enumerate(probes.items()):
        data += [{"type": "scatter", "x": probe.last_n, "y": probe.prob_last_n, **(axes or {}),
                  "name": f"{name}: only the last n tokens",
                  "line": {"color": "#1f77b4", "width": 3, "dash": dash[j % 3]}},
                 {"type": "scatter", "x": probe.removed_n, "y": probe.prob_without_first_n, **(axes or {}),
                  "name": f"{name}: first n tokens removed",
                  "line": {"color": "#ff7f0e", "width": 2, "dash": dash[j % 3]}}]
    return data


PROB_AXIS = {"range": [0, 1], "tickvals": [0, 0.25, 0.5, 0.75, 1]}


def _half_line(xref: str, yref: str) -> dict:
    return {"type": "line", "xref": xref, "yref": yref, "x0": 0, "x1": 1, "y0": 0.5, "y1": 0.5,
            "line": {"color": "#bbb", "width": 1}}


def context_probe_figure(probes: dict) -> go.Figure:
    """Per model: P(positive) reading only the last n tokens, and with the first n removed."""
    return built(_probe_traces(probes), "Context probe: how much of the review does the prediction need?",
                  "n (tokens)", "P(positive)", shapes=[_half_line("x domain", "y")], yaxis=PROB_AXIS)


def occlusion_probe_figure(tokens, occlusion: dict[str, np.ndarray], probes: dict, first_n: int = 30) -> go.Figure:
    """Two panels in one figure (one chart to draw, not two): top, per model, the logit drop when each token
    is replaced by padding (filled steps, token position left to right); bottom, the context probe."""
    T = len(tokens)
    data = _score_traces(tokens, {f"occlusion ({name})": scores for name, scores in occlusion.items()})
    data += _probe_traces(probes, {"xaxis": "x2", "yaxis": "y2"})
    marks = [_band(-0.5, min(first_n, T) - 0.5, "#7b3fa0", 0.08, f"first {first_n}", yref="y domain")] \
        if first_n and T else []  # the opening, shaded on the occlusion panel
    # short panel titles (an annotation does not wrap on a phone); the top panel's x axis is named in its title
    titles = [{"text": text, "xref": "paper", "yref": "paper", "x": 0, "y": y, "yanchor": "bottom", "xanchor": "left",
               "showarrow": False, "font": {"size": 13}}
              for text, y in (("Occlusion: logit drop per token t", 1.0), ("Context probe: P(positive) vs n", 0.42))]
    return built(data, "Occlusion and the context probe", "", "logit drop",
                  shapes=[m[0] for m in marks] + [_half_line("x2 domain", "y2")],
                  annotations=titles + [m[1] for m in marks], height=640,
                  margin={"l": 55, "r": 20, "t": 70, "b": 40},
                  xaxis={"anchor": "y"}, yaxis={"domain": [0.56, 0.98]},
                  xaxis2={"anchor": "y2", "title": {"text": "n (tokens)"}},
                  yaxis2={"domain": [0.0, 0.38], **PROB_AXIS, "title": {"text": "P(positive)"}},
                  legend={**frame()["legend"], "y": -0.12})


def memory_figure(traces: dict, k: int | None = None) -> go.Figure:
    """Per model: the cell's direct path (forget-gate product to the end) and the influence through every
    path (||d logit / d x_t||, normalised to its maximum), both on one log axis against token position."""
    fig = go.Figure()
    dash = ("solid", "dot", "dash")
    T = 0
    for j, (name, trace) in enumerate(traces.items()):
        T = len(trace.survival)
        t = np.arange(T)
        influence = np.asarray(trace.influence)
        rel = influence / influence.max() if influence.max() > 0 else influence
        fig.add_trace(go.Scatter(x=t, y=positive_or_none(trace.survival), name=f"{name}: direct path (cell)",
                                 line=dict(color="#2ca02c", width=3, dash=dash[j % 3])))
        fig.add_trace(go.Scatter(x=t, y=positive_or_none(rel), name=f"{name}: all paths (gradient)",
                                 line=dict(color="#9467bd", width=2, dash=dash[j % 3])))
    if k and k < T:
        fig.add_vline(x=T - k - 0.5, line=dict(color=COLOURS["cut"], dash="dash"), annotation_text=f"last K={k}")
    fig.update_layout(yaxis=dict(type="log", exponentformat="power"))
    return lay_out(fig, "Memory: the cell's direct path and every path", "token position t",
                   "fraction surviving / relative influence (log)")


def ig_path_figure(attributions: dict) -> go.Figure:
    """F along integrated gradients' straight path, alpha from the baseline (0) to the review (1)."""
    fig = go.Figure()
    for name, a in attributions.items():
        if a.path_alpha is None:
            continue
        fig.add_trace(go.Scatter(x=a.path_alpha, y=a.path_value, mode="lines+markers", marker=dict(size=4),
                                 name=f"{name} ({'converged' if a.converged else 'not converged'})"))
    return lay_out(fig, "The function integrated gradients integrate, along its path",
                   "alpha (0 = all padding, 1 = the review)", "F (logit or loss)")


def headline_figure(contrast: dict, highlight: tuple[str, ...] = ()) -> go.Figure:
    """The study's headline: how far a polar phrase planted at the very start moves each regime's prediction."""
    names = list(contrast)
    means = [contrast[n]["mean"] for n in names]
    err_hi = [contrast[n]["high"] - contrast[n]["mean"] if contrast[n]["high"] is not None else 0 for n in names]
    err_lo = [contrast[n]["mean"] - contrast[n]["low"] if contrast[n]["low"] is not None else 0 for n in names]
    over = {contrast[n].get("over", "seeds") for n in names}
    colours = ["#c0392b" if n in highlight else "#7f7f7f" for n in names]
    fig = go.Figure(go.Bar(x=names, y=means, marker_color=colours,
                           error_y=dict(type="data", array=err_hi, arrayminus=err_lo, visible=True),
                           hovertext=[f"{contrast[n]['seeds']} seed(s)" for n in names]))
    return lay_out(fig, "A polar phrase at the very start: how far it moves the prediction",
                   "model (trained with)", f"contrast in P(positive) (95% interval over {' or '.join(sorted(over))})")
