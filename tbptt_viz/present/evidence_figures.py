"""Figures for the evidence of issue 23: training exposure, connectivity, the logit_grad map, Shapley groups.

Each takes the computing layer's dataclasses (never a model) and returns a plotly Figure built in one step from
plain dicts. Token position runs left to right with the prediction at the right end; one colour per model
(`colours.model_colour`); legends below the plot so that they stay readable on a phone.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from tbptt_viz.present.colours import (
    NEUTRAL,
    OTHER_COLOURS,
    SEQUENTIAL_SCALE,
    WINDOW,
    model_colour,
)
from tbptt_viz.present.figures import built, colour_bar, mark_line, positive_or_none


def widest_first(exposures: dict) -> dict:
    """The models in the order their filled areas are drawn: the widest reach first, so that a full-BPTT model's
    100% never covers a truncated model's smaller shares."""
    def reach(e) -> float:
        share = e.share
        return float(np.nanmean(share)) if np.any(np.isfinite(share)) else 0.0
    return dict(sorted(exposures.items(), key=lambda item: -reach(item[1])))


def exposure_figure(exposures: dict, tokens) -> go.Figure:
    """Per model (its training scheme): for each token, the share of its word's training reviews in which an
    occurrence lay inside the reach of the training gradient (in_reach / occurrences), as filled steps.

    Where the counts are bounds (TBPTT with k2 < k1) the band between the two shares is drawn.
    Hover: the token and both counts. Unknown words are gaps."""
    t = np.arange(len(tokens))
    data = []
    for name, e in exposures.items():
        colour = model_colour(name)
        occ = np.maximum(e.occurrences, 1)
        low = np.where(e.occurrences > 0, e.in_reach / occ, np.nan)
        hover = [f"{tok}: {o:,} training reviews, {r:,} in reach" if o >= 0 else f"{tok}: unknown word"
                 for tok, o, r in zip(tokens, e.occurrences, e.in_reach)]
        share = [None if np.isnan(v) else float(v) for v in low]
        if not e.exact:
            high = np.where(e.occurrences > 0, e.in_reach_high / occ, np.nan)
            data.append({"type": "scatter", "x": t, "y": [None if np.isnan(v) else float(v) for v in high],
                         "name": f"{name}: at most ({e.label})", "line": {"shape": "hvh", "width": 0,
                                                                           "color": colour},
                         "hoverinfo": "skip", "showlegend": False})
            data.append({"type": "scatter", "x": t, "y": share, "name": f"{name}: between the bounds ({e.label})",
                         "fill": "tonexty", "line": {"shape": "hvh", "width": 1, "color": colour},
                         "hovertext": hover, "hoverinfo": "text"})
        else:
            data.append({"type": "scatter", "x": t, "y": share, "name": f"{name} ({e.label})", "fill": "tozeroy",
                         "line": {"shape": "hvh", "width": 1.5, "color": colour}, "hovertext": hover,
                         "hoverinfo": "text", "opacity": 0.8})
    return built(data, "Where each word was trained: share of its training reviews where the gradient reached it",
                   "token position t (the prediction is at the right end)", "share of the word's training reviews",
                   yaxis={"range": [0, 1.02], "tickformat": ".0%"}, showlegend=True)


# connectivity's curves: (legend name, line) — one dash per quantity, the model's colour for all of them
CURVES = {"state_norm": ("||dh_t/dx_S||", {"width": 3}), "cell_norm": ("||dc_t/dx_S||", {"width": 2, "dash": "dash"}),
          "logit_grad": ("||d logit_t/dx_S||", {"width": 2, "dash": "dot"})}


def connectivity_figure(connections: dict, tokens, window: tuple[int, int] | None = None,
                        window_label: str = "training window",
                        curves: tuple[str, ...] = ("state_norm", "logit_grad")) -> go.Figure:
    """Per model: ||dh_t/dx_S|| (solid) and ||d logit(h_t)/dx_S|| (dotted) for t >= S on one log axis, the
    source marked, and `window` = (first, last) position a training loss at the end reaches shaded.
    `curves`: which of state_norm, cell_norm (dashed) and logit_grad to draw."""
    data, shapes, notes = [], [], []
    S = None
    for name, c in connections.items():
        colour = model_colour(name)
        S = c.source
        hover = [f"t={t} {tokens[t]}" for t in c.positions]
        for curve in curves:
            label, line = CURVES[curve]
            data.append({"type": "scatter", "x": c.positions, "y": positive_or_none(getattr(c, curve)),
                         "name": f"{name}: {label}", "line": {"color": colour, **line}, "hovertext": hover})
    if window is not None:
        a, b = window
        shapes.append({"type": "rect", "xref": "x", "yref": "paper", "x0": a - 0.5, "x1": b + 0.5, "y0": 0, "y1": 1,
                       "fillcolor": WINDOW, "opacity": 0.3, "line": {"width": 0}, "layer": "below"})
        notes.append({"xref": "x", "yref": "paper", "x": b + 0.5, "y": 0, "text": window_label, "showarrow": False,
                      "xanchor": "right", "yanchor": "bottom"})
    if S is not None:  # the source word: a grey mark (no model's colour, not the truncation's)
        line, note = mark_line(S, NEUTRAL, f"source: {tokens[S]}", right_half=S > len(tokens) / 2)
        shapes.append(line)
        notes.append(note)
    return built(data, "How strongly one word moves every later state",
                   "token position t (the prediction is at the right end)",
                   "norm (log scale)", shapes=shapes, annotations=notes,
                   xaxis={"range": [-0.5, len(tokens) - 0.5]}, yaxis={"type": "log", "exponentformat": "power"})


def logit_grad_map_figure(m, tokens) -> go.Figure:
    """The whole map: ||d logit(h_t)/dx_S|| for source S (rows) and position t (columns), log10 colour; the upper
    triangle (t < S) is blank: a word cannot move an earlier state."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(m.logit_grad > 0, np.log10(m.logit_grad), np.nan)
    z = [[None if np.isnan(v) else float(v) for v in row] for row in z]
    T = len(tokens)
    data = [{"type": "heatmap", "z": z, "x": np.arange(T), "y": np.arange(T), "colorscale": SEQUENTIAL_SCALE,
             "colorbar": colour_bar("log10 ||d logit/dx_S||"),
             "hovertemplate": "source %{y}, t %{x}: 10^%{z:.2f}<extra></extra>"}]
    return built(data, "Every word's pull on every later prediction",
                   "position t read (the prediction if the review ended here)", "source word S (position)",
                   yaxis={"autorange": "reversed"}, height=520)


def shapley_figure(a, tokens, occlusion: np.ndarray | None = None, name: str | None = None) -> go.Figure:
    """Each group's Shapley value as a bar as wide as its tokens, with its 95% error bar over repeats (none when
    exact); with `occlusion` (per token), the sum of the group's single-token occlusion scores as a marker."""
    from scipy.stats import t as student_t

    g = np.asarray(a.groups)
    centre = (g[:, 0] + g[:, 1] - 1) / 2
    width = g[:, 1] - g[:, 0]
    half = a.standard_error * (student_t.ppf(0.975, a.repeats - 1) if a.repeats else 0.0)
    colour = model_colour(name) if name else OTHER_COLOURS[0]
    text = [" ".join(tokens[s:e])[:80] for s, e in g.tolist()]
    data = [{"type": "bar", "x": centre, "y": a.group_values, "width": width * 0.95, "name": "group's Shapley value",
             "marker": {"color": colour}, "hovertext": text,
             "error_y": {"type": "data", "array": half, "visible": bool(a.repeats), "thickness": 1.5}}]
    if occlusion is not None:
        sums = [float(np.sum(occlusion[s:e])) for s, e in g.tolist()]
        data.append({"type": "scatter", "x": centre, "y": sums, "mode": "markers", "name": "sum of its tokens' "
                     "single-token occlusion", "marker": {"symbol": "diamond", "size": 9, "color": NEUTRAL}})
    how = "exact" if a.repeats is None else f"{a.samples * a.repeats} sampled orders, 95% bars over {a.repeats} repeats"
    return built(data, f"Words together: Shapley value of each group ({how})",
                   "token position t (the prediction is at the right end)",
                   "change of the logit", showlegend=True, bargap=0)
