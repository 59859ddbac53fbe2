"""Plotly figures from the analysis dataclasses. A figure never touches a model."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from tbptt_viz.present import colours
from tbptt_viz.present.colours import CUT, NEUTRAL, ZERO_BAND, model_colour

# A chart's ground is the page's (transparent), its text the page's theme colour (Streamlit's, or the static demo's),
# its grid a translucent grey: the same figure reads on a light and on a dark page. A template of a few lines:
# plotly's own spell out defaults for every trace type, so each figure's build and its JSON would carry them all.
AXIS = {"gridcolor": colours.GRID, "zerolinecolor": colours.GRID, "linecolor": colours.GRID, "automargin": True,
        "title": {"font": {"size": 13}}}
TEMPLATE = {"layout": {"paper_bgcolor": colours.TRANSPARENT, "plot_bgcolor": colours.TRANSPARENT,
                       "font": {"size": 12}, "xaxis": AXIS, "yaxis": AXIS}}
LIGHT = TEMPLATE  # the name earlier code used

# A short toolbar (download as PNG; Streamlit adds full screen): the full one would need a wider strip above the
# title on a phone. The app's charts and the static demo's use it.
CHART_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": [
    "zoom2d", "pan2d", "select2d", "lasso2d", "zoomIn2d", "zoomOut2d", "autoScale2d", "resetScale2d"]}

# How many characters a line of each label holds on a 390-px phone (a chart there is about 358 px wide and, with
# its legend below, about 220 px tall): longer labels are broken at spaces onto more lines.
TITLE_CHARS, X_CHARS, Y_CHARS = 40, 36, 26
TOOLBAR = 30  # px at the top right that the chart's toolbar covers: the title starts below it


# A heatmap's colour bar lies under it, across (beside it, it squeezes the heatmap to nothing on a phone), its title
# under its numbers (above them, plotly lets the title touch the bar).
COLOUR_BAR = {"orientation": "h", "x": 0, "xanchor": "left", "xref": "container", "y": 0, "yanchor": "bottom",
              "yref": "container", "len": 200, "lenmode": "pixels", "thickness": 12}


def colour_bar(title: str) -> dict:
    return {**COLOUR_BAR, "title": {"text": title, "side": "bottom", "font": {"size": 12}}}


def wrap(text: str | None, width: int) -> str | None:
    """`text` broken at spaces into lines of at most `width` characters, joined by <br> (plotly never wraps a
    label: a long one runs off the chart). Existing <br> breaks are kept."""
    if not text:
        return text
    lines = []
    for part in text.split("<br>"):
        line = ""
        for word in part.split(" "):
            if line and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
    return "<br>".join(lines)


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


def frame(height: int = 400, margin: tuple[int, int, int, int] = (55, 20, 40, 10), legend_y: float = 0) -> dict:
    """Height, margins (left, right, top, bottom: the least each may be; titles, axis labels and the legend push
    them wider) and the legend under everything else: anchored to the figure's bottom edge, it pushes the bottom
    margin, so the x-axis title sits above it on any width (on a 390-px phone a legend beside the plot would take
    half its width, and one placed at a fraction of the plot's height lands on the axis title). `legend_y` is
    kept for callers; the legend's place no longer depends on it."""
    left, right, top, bottom = margin
    return {"height": height, "margin": {"l": left, "r": right, "t": top, "b": bottom},
            "legend": {"orientation": "h", "x": 0, "xanchor": "left", "y": 0, "yanchor": "bottom",
                       "yref": "container", "font": {"size": 11}, "entrywidthmode": "pixels"}}


TITLE_SIZE = 15
TITLE_GAP = 14  # px between the title's last line and the plot (or a top panel's own title)


def _lines(text: str) -> int:
    return (wrap(text, TITLE_CHARS) or "").count("<br>") + 1


def title_of(text: str, gap: int = TITLE_GAP) -> dict:
    """A figure title left-aligned just above the plot, broken into phone-wide lines, `gap` px above the plot.

    Plotly places a title of several lines by its first line and lets the others run down (into the plot, whatever
    its yanchor): the pad lifts the first line by the height of the others. Its room is the top margin
    `title_room` gives (plotly's own title automargin gives way to a legend below)."""
    pad = gap + int(np.ceil((_lines(text) - 1) * TITLE_SIZE * 1.3))
    return {"text": wrap(text, TITLE_CHARS), "x": 0, "xanchor": "left", "xref": "container", "y": 1,
            "yanchor": "bottom", "yref": "paper", "pad": {"b": pad, "l": 8}, "font": {"size": TITLE_SIZE}}


def title_room(text: str, gap: int = TITLE_GAP) -> int:
    """The top margin (px) that holds the toolbar's strip, then `title_of(text)`'s lines, then `gap`."""
    return TOOLBAR + int(np.ceil(_lines(text) * TITLE_SIZE * 1.3)) + gap + 4


def axis_title(text: str | None, axis: str) -> dict:
    """An axis title broken into lines that fit a phone: x titles across, y titles along the plot's height."""
    return {"text": wrap(text, X_CHARS if axis.startswith("x") else Y_CHARS)}


def _wrapped_axes(layout: dict) -> dict:
    """Every axis title in `layout` (xaxis, yaxis2, ...) broken into phone-wide lines."""
    for key, value in layout.items():
        if key[:5] in ("xaxis", "yaxis") and isinstance(value, dict) and isinstance(value.get("title"), dict):
            value["title"] = {**value["title"], **axis_title(value["title"].get("text"), key)}
    return layout


def lay_out(fig: go.Figure, title: str, x: str | None = None, y: str | None = None, *, height: int = 400,
            margin: tuple[int, int, int, int] = (55, 20, 40, 10), legend_y: float = 0, title_gap: int = TITLE_GAP,
            **layout) -> go.Figure:
    """The one layout of every figure: the theme-neutral template, a left-aligned title (`title_gap` px above the
    plot: more where a top panel has its own title), axis titles (where given), `frame`'s size and legend, then any
    further layout."""
    fig.layout.template = TEMPLATE  # replaces the default template (update_layout would merge into it)
    axes = {name: axis_title(text, name) for name, text in (("xaxis_title", x), ("yaxis_title", y)) if text is not None}
    left, right, top, bottom = margin
    fig.update_layout(title=title_of(title, title_gap), **axes,
                      **frame(height, (left, right, max(top, title_room(title, title_gap)), bottom), legend_y),
                      **layout)
    for axis, width in [(a, X_CHARS) for a in fig.select_xaxes()] + [(a, Y_CHARS) for a in fig.select_yaxes()]:
        axis.automargin = True  # every axis, subplots' and overlays' too, pushes the margins for its labels
        if axis.title.text:  # titles set per subplot (make_subplots) are wrapped too
            axis.title.text = wrap(axis.title.text, width)
    return fig


def built(data: list[dict], title: str, x: str, y: str, shapes=(), annotations=(), **layout) -> go.Figure:
    """One figure built in one step from plain dicts, laid out like `lay_out`. Plotly then validates the whole
    figure once instead of once per add_trace / add_vrect / update call, which matters for the figures a K
    slider step redraws."""
    gap = layout.pop("title_gap", TITLE_GAP)
    left, right, top, bottom = layout.pop("margin", (55, 20, 40, 10))
    size = frame(layout.pop("height", 400), (left, right, max(top, title_room(title, gap)), bottom))
    if isinstance(layout.get("legend"), dict):
        size["legend"] = {**size["legend"], **layout.pop("legend")}
    base = {"template": TEMPLATE, "title": title_of(title, gap), **size, "shapes": list(shapes),
            "annotations": list(annotations)}
    for axis, text in (("xaxis", x), ("yaxis", y)):
        base[axis] = {"title": axis_title(text, axis), **layout.pop(axis, {})}
    return go.Figure({"data": data, "layout": _wrapped_axes({**base, **layout})})


def _band(x0: float, x1: float, colour: str, opacity: float, text: str, where: str = "left",
          yref: str = "paper") -> tuple[dict, dict]:
    """A shaded x-range across the plot (or, with yref "y domain", one panel) with its label at the top
    (what add_vrect draws)."""
    return ({"type": "rect", "xref": "x", "yref": yref, "x0": x0, "x1": x1, "y0": 0, "y1": 1,
             "fillcolor": colour, "opacity": opacity, "line": {"width": 0}, "layer": "below"},
            {"xref": "x", "yref": yref, "x": x0 if where == "left" else x1, "y": 1, "text": text,
             "showarrow": False, "xanchor": where, "yanchor": "top"})


def mark_line(x: float, colour: str, text: str, right_half: bool = False, xref: str = "x",
           yref: str = "paper") -> tuple[dict, dict]:
    """A dashed vertical mark and its label at the top, on the side with room: left of the line when it stands in
    the plot's right half (`right_half`), where a label to its right would run off the chart on a phone. The label
    takes the page's text colour: the mark's own colour is too dark to read as text on a dark page."""
    return ({"type": "line", "xref": xref, "yref": yref, "x0": x, "x1": x, "y0": 0, "y1": 1,
             "line": {"color": colour, "dash": "dash"}},
            {"xref": xref, "yref": yref, "x": x, "y": 1, "text": text, "showarrow": False,
             "xanchor": "right" if right_half else "left", "yanchor": "top"})


QUANTITY_DASH = {"input": "solid", "hidden": "dash", "cell": "dot"}


def gradient_through_time(view, full, T: int, model: str = "") -> go.Figure:
    """||dL/dx_t||, ||dL/dh_t||, ||dL/dc_t|| against token position (the prediction at the right end, as in every
    view), log y; the scheme in the model's colour, full BPTT in grey, one dash per quantity; positions with exactly
    zero gradient shaded and labelled; the cut marked. `model`: whose gradients (its colour)."""
    t = np.arange(T)
    own = model_colour(model)
    data = []
    for key, name in (("input", "||dL/dx_t||"), ("hidden", "||dL/dh_t||"), ("cell", "||dL/dc_t||")):
        full_line = {"color": own if view.scheme == "full" else NEUTRAL, "dash": QUANTITY_DASH[key],
                     "width": 3 if view.scheme == "full" else 1.5}
        data.append({"type": "scatter", "x": t, "y": positive_or_none(getattr(full, f"full_{key}_grad_norm")),
                     "mode": "lines+markers" if T == 1 else "lines", "name": f"{name} full BPTT", "line": full_line})
        if view.scheme != "full":  # under full BPTT the full curves are the scheme's
            data.append({"type": "scatter", "x": t, "y": positive_or_none(getattr(view, f"{key}_grad_norm")),
                         "mode": "lines", "name": f"{name} {view.label}",
                         "line": {"color": own, "dash": QUANTITY_DASH[key], "width": 3}})
    marks = [_band(a - 0.5, b - 0.5, ZERO_BAND, 0.25, f"exactly 0 ({b - a} tokens)")
             for a, b in zero_runs(view.input_grad_norm)]
    if view.scheme == "last-k" and view.k < T:
        marks.append(mark_line(T - view.k - 0.5, CUT, f"K={view.k}", right_half=T - view.k > T / 2))
    return built(data, "Gradient through time", "token position t (the prediction is at the right end)",
                 "gradient norm (log scale; zero cannot be drawn)", shapes=[m[0] for m in marks],
                 annotations=[m[1] for m in marks], yaxis={"type": "log", "exponentformat": "power"},
                 height=440)


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


def bias_curve(full, k: int | None, model: str = "") -> go.Figure:
    """Cosine and relative error between the last-K and the full weight gradient, for every K, in the model's
    colour (cosine solid, relative error dashed).

    `k`: the last-K setting to mark (None: no marker, e.g. for schemes that are not last-K)."""
    own = model_colour(model)
    data = [{"type": "scatter", "x": full.sweep_k, "y": full.sweep_cosine, "name": "cosine(last-K, full)",
             "line": {"color": own, "width": 3}},
            {"type": "scatter", "x": full.sweep_k, "y": full.sweep_relative_error,
             "name": "relative error |G_K - G| / |G|", "line": {"color": own, "width": 2, "dash": "dash"}}]
    title = "How far is the last-K weight gradient from the full one?"
    if k is not None:
        kk = int(min(max(k, 1), len(full.sweep_k)))
        data.append({"type": "scatter", "x": [kk, kk],
                     "y": [full.sweep_cosine[kk - 1], full.sweep_relative_error[kk - 1]],
                     "mode": "markers+text", "marker": {"size": 12, "color": CUT, "symbol": "diamond"},
                     "name": f"K = {kk}", "text": [f"{full.sweep_cosine[kk - 1]:.2f}",
                                                   f"{full.sweep_relative_error[kk - 1]:.2f}"],
                     "textposition": "middle right"})
        title = "How far is the truncated weight gradient from the full one?"
    return built(data, title, "K, tokens back-propagated (log scale)", "cosine / relative error",
                 xaxis={"type": "log"})


def backprop_timeline(view) -> go.Figure:
    """Per position: how many loss terms reach x_t, and the longest distance to one of them."""
    t = np.arange(len(view.backprop_count))
    ends = view.windows[:, 0]
    top = max(1, int(view.backprop_reach.max()))
    data = [  # one filled step line, not a bar per token: the same picture as one SVG path
        {"type": "scatter", "x": t, "y": view.backprop_count, "name": "losses whose gradient reaches x_t",
         "line": {"color": colours.hex_of(colours.MAGNITUDE), "shape": "hvh", "width": 1}, "fill": "tozeroy"},
        {"type": "scatter", "x": t, "y": view.backprop_reach, "name": "longest reach (steps to that loss; -1 = none)",
         "yaxis": "y2", "line": {"color": NEUTRAL, "width": 2}},
        {"type": "scatter", "x": ends, "y": np.full(len(ends), view.backprop_count.max() + 0.3), "mode": "markers",
         "name": "a loss (prediction vs label) here",
         "marker": {"symbol": "triangle-down", "size": 10, "color": CUT}}]
    return built(data, f"Backprop count and reach: {view.label}", "token position t (the prediction is at the right "
                 "end)", "losses reaching x_t",
                 yaxis={"tickvals": nice_ticks(0, int(view.backprop_count.max()) + 1)},
                 yaxis2={"overlaying": "y", "side": "right", "title": axis_title("reach (steps)", "yaxis2"),
                         "showgrid": False, "range": [-1.5, top * 1.08], "tickvals": nice_ticks(0, top),
                         "automargin": True})


def _score_traces(tokens, rows: dict[str, np.ndarray], axes: dict | None = None) -> list[dict]:
    """Per model, its per-token scores as a filled step line in its colour, token position left to right: one SVG
    path per model, not T bars."""
    t = np.arange(len(tokens))
    return [{"type": "scatter", "x": t, "y": scores, "name": name, "legendgroup": name, "hovertext": list(tokens),
             "fill": "tozeroy", "line": {"shape": "hvh", "width": 1, "color": model_colour(name)}, **(axes or {})}
            for name, scores in rows.items()]


# The context probe's two counts, each on its own panel and axis: n tokens kept from the end (read from a fresh
# state), and n opening tokens removed.
PROBE_KEPT = ("Reading only the last n tokens", "n = tokens kept from the end")
PROBE_REMOVED = ("Without the first n tokens", "n = opening tokens removed")


def _probe_traces(probes: dict, kept: dict, removed: dict, legend: bool = True) -> list[dict]:
    """Per model (its colour): P(positive) reading only the last n tokens (on the `kept` axes) and with the first
    n removed (on the `removed` axes); one legend entry per model."""
    data = []
    for name, probe in probes.items():
        data += [{"type": "scatter", "x": probe.last_n, "y": probe.prob_last_n, **kept, "name": name or "P(positive)",
                  "legendgroup": name, "showlegend": legend, "line": {"color": model_colour(name), "width": 2.5}},
                 {"type": "scatter", "x": probe.removed_n, "y": probe.prob_without_first_n, **removed,
                  "name": name or "P(positive)", "legendgroup": name, "showlegend": False,
                  "line": {"color": model_colour(name), "width": 2.5}}]
    return data


PROB_AXIS = {"range": [0, 1], "tickvals": [0, 0.25, 0.5, 0.75, 1]}


def _half_line(xref: str, yref: str) -> dict:
    return {"type": "line", "xref": xref, "yref": yref, "x0": 0, "x1": 1, "y0": 0.5, "y1": 0.5,
            "line": {"color": NEUTRAL, "width": 1, "dash": "dot"}}


PANEL_GAP = 34  # px between a figure's title and its top panel: room for that panel's own title


def _panel_title(text: str, yref: str) -> dict:
    """A panel's title, left-aligned just above it (an annotation never wraps: keep it phone-short)."""
    return {"text": text, "xref": "paper", "yref": yref, "x": 0, "y": 1, "yanchor": "bottom", "xanchor": "left",
            "showarrow": False, "font": {"size": 13}, "yshift": 4}


def context_probe_figure(probes: dict) -> go.Figure:
    """Per model: P(positive) reading only the last n tokens (top panel) and with the first n removed (bottom
    panel), each count on its own axis."""
    return built(_probe_traces(probes, {}, {"xaxis": "x2", "yaxis": "y2"}),
                 "Context probe: how much of the review does the prediction need?", PROBE_KEPT[1], "P(positive)",
                 shapes=[_half_line("x domain", "y"), _half_line("x2 domain", "y2")],
                 annotations=[_panel_title(PROBE_KEPT[0], "y domain"), _panel_title(PROBE_REMOVED[0], "y2 domain")],
                 height=560, title_gap=PANEL_GAP, xaxis={"anchor": "y"}, yaxis={"domain": [0.6, 1.0], **PROB_AXIS},
                 xaxis2={"anchor": "y2", "title": axis_title(PROBE_REMOVED[1], "xaxis2")},
                 yaxis2={"domain": [0.0, 0.36], **PROB_AXIS, "title": axis_title("P(positive)", "yaxis2")})


def occlusion_probe_figure(tokens, occlusion: dict[str, np.ndarray], probes: dict, first_n: int = 30) -> go.Figure:
    """Three stacked panels in one figure (one chart to draw, not three), one colour per model: the logit drop
    when each token is replaced by padding (filled steps, token position left to right, the opening shaded), then
    the context probe's two counts on their own axes."""
    T = len(tokens)
    data = _score_traces(tokens, occlusion)
    data += _probe_traces(probes, {"xaxis": "x2", "yaxis": "y2"}, {"xaxis": "x3", "yaxis": "y3"}, legend=False)
    marks = [_band(-0.5, min(first_n, T) - 0.5, colours.FIRST_N, 0.15, f"first {first_n}", yref="y domain")] \
        if first_n and T else []  # the opening, shaded on the occlusion panel
    titles = [_panel_title(text, ref) for text, ref in (("Occlusion: logit drop per token", "y domain"),
                                                        (PROBE_KEPT[0], "y2 domain"),
                                                        (PROBE_REMOVED[0], "y3 domain"))]
    return built(data, "Occlusion and the context probe", "token position t (the prediction is at the right end)",
                 "logit drop", shapes=[m[0] for m in marks] + [_half_line("x2 domain", "y2"),
                                                               _half_line("x3 domain", "y3")],
                 annotations=titles + [m[1] for m in marks], height=820, title_gap=PANEL_GAP,
                 xaxis={"anchor": "y"}, yaxis={"domain": [0.72, 1.0]},
                 xaxis2={"anchor": "y2", "title": axis_title(PROBE_KEPT[1], "xaxis2")},
                 yaxis2={"domain": [0.36, 0.56], **PROB_AXIS, "title": axis_title("P(positive)", "yaxis2")},
                 xaxis3={"anchor": "y3", "title": axis_title(PROBE_REMOVED[1], "xaxis3")},
                 yaxis3={"domain": [0.0, 0.2], **PROB_AXIS, "title": axis_title("P(positive)", "yaxis3")})


def memory_figure(traces: dict, k: int | None = None) -> go.Figure:
    """Per model (its colour): the cell's direct path (forget-gate product to the end, solid) and the influence
    through every path (||d logit / d x_t||, normalised to its maximum, dotted), both on one log axis against
    token position."""
    data = []
    T = 0
    for name, trace in traces.items():
        T = len(trace.survival)
        t = np.arange(T)
        influence = np.asarray(trace.influence)
        rel = influence / influence.max() if influence.max() > 0 else influence
        colour = model_colour(name)
        data.append({"type": "scatter", "x": t, "y": positive_or_none(trace.survival),
                     "name": f"{name}: direct path (cell)", "line": {"color": colour, "width": 3}})
        data.append({"type": "scatter", "x": t, "y": positive_or_none(rel), "name": f"{name}: all paths (gradient)",
                     "line": {"color": colour, "width": 2, "dash": "dot"}})
    marks = [mark_line(T - k - 0.5, CUT, f"last K={k}", right_half=T - k > T / 2)] if k and k < T else []
    return built(data, "Memory: the cell's direct path and every path",
                 "token position t (the prediction is at the right end)",
                 "fraction surviving / relative influence (log)", shapes=[m[0] for m in marks],
                 annotations=[m[1] for m in marks], yaxis={"type": "log", "exponentformat": "power"}, height=440)


def ig_path_figure(attributions: dict) -> go.Figure:
    """F along integrated gradients' straight path, alpha from the baseline (0) to the review (1), per model."""
    data = [{"type": "scatter", "x": a.path_alpha, "y": a.path_value, "mode": "lines+markers",
             "marker": {"size": 4, "color": model_colour(name)}, "line": {"color": model_colour(name)},
             "name": f"{name} ({'converged' if a.converged else 'not converged'})"}
            for name, a in attributions.items() if a.path_alpha is not None]
    return built(data, "The function integrated gradients integrate, along its path",
                 "alpha (0 = all padding, 1 = the review)", "F (logit or loss)")


def headline_figure(contrast: dict, highlight: tuple[str, ...] = ()) -> go.Figure:
    """The study's headline: how far a polar phrase planted at the very start moves each regime's prediction,
    one bar per regime in its model's colour (the page's models strong, the others faint). The bars lie across,
    the models' names down the side: read across, they stay legible on a phone."""
    names = list(contrast)
    means = [contrast[n]["mean"] for n in names]
    err_hi = [contrast[n]["high"] - contrast[n]["mean"] if contrast[n]["high"] is not None else 0 for n in names]
    err_lo = [contrast[n]["mean"] - contrast[n]["low"] if contrast[n]["low"] is not None else 0 for n in names]
    over = {contrast[n].get("over", "seeds") for n in names}
    data = [{"type": "bar", "orientation": "h", "y": names, "x": means, "name": "contrast",
             "marker": {"color": [model_colour(n) for n in names],
                        "opacity": [1.0 if not highlight or n in highlight else 0.35 for n in names]},
             "error_x": {"type": "data", "array": err_hi, "arrayminus": err_lo, "visible": True, "color": NEUTRAL},
             "hovertext": [f"{contrast[n]['seeds']} seed(s)" for n in names]}]
    return built(data, "A polar phrase at the very start: how far it moves the prediction",
                 f"contrast in P(positive)<br>(95% interval over {' or '.join(sorted(over))})", "model (trained with)",
                 showlegend=False, yaxis={"autorange": "reversed"}, height=max(300, 150 + 34 * len(names)))
