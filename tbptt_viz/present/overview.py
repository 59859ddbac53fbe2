"""The Start page's one figure: the whole answer on one review, token by token, the prediction at the right end.

    rows (token position t = 0 .. T-1, left to right)         what they show
    full BPTT      ####################################▼      ||dL/dx_t|| of this review's loss, one model's weights
    last-K         0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 |#######▼    exactly 0 left of the cut
    chunked        #####▼#####▼#####▼#####▼#####▼#####▼##▼     a loss every K tokens reaches every token
    model A uses   [opening]  occlusion: logit drop per token  one diverging scale for both models
    model B uses   [opening]  ...
    P(positive)    model A  ●---->  whole review -> without the first n tokens
                   model B  ●------------>

`overview` gathers the computed arrays into an `Overview` (no model pass: it slices a `ReviewFlow` and reads the
context probe, which holds P(positive) without the first n tokens for every n); `overview_figure` draws it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from tbptt_viz.gradients.analysis import ReviewFlow, scheme_view
from tbptt_viz.present.colours import (
    CUT,
    DIVERGING_SCALE,
    FIRST_N,
    GRID,
    NEUTRAL,
    SEQUENTIAL_SCALE,
    TRANSPARENT,
    ZERO_BAND,
    model_colour,
)
from tbptt_viz.present.figures import TEMPLATE, axis_title, title_of

DECADES = 4          # the gradient rows show 4 orders of magnitude below the largest value; smaller ones at the floor
ZERO = ZERO_BAND     # an exact zero: the cell is drawn, in the zero band's grey, outside the colour scale
LOSS = NEUTRAL       # the ▼ that marks a loss (no model's colour: every scheme has losses)
GAMMA = 0.6          # occlusion colour = sign(v) |v / max|^0.6, as the strips shade (small values stay visible)


@dataclass(frozen=True)
class Overview:
    """What the Start page shows for one review. T tokens, M models; arrays indexed by token position t."""

    tokens: tuple[str, ...]       # (T,)
    model: str                    # the model whose weights the training gradients are taken at
    k: int                        # K of last-K and chunked
    n: int                        # the opening's length: tokens removed for prob_without (0 for a 1-token review)
    schemes: tuple[str, ...]      # ("full BPTT", "last-K (K=30)", "chunked (K=30)")
    gradient: np.ndarray          # (3, T) ||dL/dx_t|| of the review's loss under each scheme
    losses: tuple[np.ndarray, ...]  # per scheme, the positions of its losses
    cut: int | None               # last-K: the first position inside the window (None: K >= T, nothing cut)
    models: tuple[str, ...]       # (M,)
    occlusion: np.ndarray         # (M, T) logit(review) - logit(review with token t replaced by padding)
    prob: np.ndarray              # (M,) P(positive) of the whole review
    prob_without: np.ndarray      # (M,) P(positive) with the first n tokens removed

    @property
    def T(self) -> int:
        return len(self.tokens)

    @property
    def opening_share(self) -> np.ndarray:
        """(M,) share of sum_t |occlusion| on the first n tokens (0 when a model's occlusion is all zero)."""
        mass = np.abs(self.occlusion)
        total = mass.sum(axis=1)
        return np.where(total > 0, mass[:, :self.n].sum(axis=1) / np.where(total > 0, total, 1), 0.0)


def opening_length(n: int, T: int) -> int:
    """The opening length the page uses for a chosen n: 1..T-1 (removing all T tokens leaves no review)."""
    return int(min(max(int(n), 1), T - 1)) if T > 1 else 0


def overview(tokens, model: str, rf: ReviewFlow, k: int, occlusion: dict[str, np.ndarray], probes: dict,
             n: int) -> Overview:
    """Gather the figure's arrays: full BPTT, last-K and chunked at `k` (one of `k_choices(T)`) from `rf`,
    occlusion per model (one dict entry per model, in the page's order) and each model's context probe read
    at the opening length n (clipped by `opening_length`)."""
    T = rf.T
    views = [scheme_view(rf, "full", T), scheme_view(rf, "last-k", k), scheme_view(rf, "chunked", k)]
    last = views[1]
    cut = int(last.windows[:, 1].min()) if last.k < T else None
    n = opening_length(n, T)
    names = tuple(occlusion)
    return Overview(
        tokens=tuple(tokens), model=model, k=int(views[1].k), n=n,
        schemes=("full BPTT", f"last-K (K={last.k})", f"chunked (K={views[2].k})"),
        gradient=np.stack([v.input_grad_norm for v in views]).astype(float),
        losses=tuple(np.sort(v.windows[:, 0]).astype(int) for v in views), cut=cut, models=names,
        occlusion=np.stack([np.asarray(occlusion[m], dtype=float) for m in names]),
        prob=np.array([probes[m].prob_positive for m in names], dtype=float),
        prob_without=np.array([probes[m].prob_without_first_n[n] for m in names], dtype=float))


def strongest_opening_token(ov: Overview, known) -> int | None:
    """The opening token (t < n, a vocabulary word) with the largest |occlusion| summed over the models; None
    when the opening has no vocabulary word. The Start page counts this word's training exposure."""
    t = np.arange(ov.T)
    candidates = (t < max(ov.n, 1)) & np.asarray(known, dtype=bool)
    if not candidates.any():
        return None
    weight = np.where(candidates, np.abs(ov.occlusion).sum(axis=0), -1.0)
    return int(np.argmax(weight))


# ---- the figure -----------------------------------------------------------------------------------------------
LABEL, ROW, GAP, X_AXIS, P_AXIS = 19, 13, 6, 60, 54   # pixels: a row's label, a row, panel gap, axis areas
# (an axis area holds its tick labels and a title of two lines: titles are broken to fit a phone's width)
TOP, BOTTOM = 46, 62                                  # title; the two colour bars under the plot


def _log_floor(gradient: np.ndarray) -> tuple[float, float]:
    """(floor, top) of the gradient rows' log10 colour range."""
    positive = gradient[gradient > 0]
    top = float(np.log10(positive.max())) if positive.size else 0.0
    return top - DECADES, top


def _row_label(text: str, y_top: float, colour: str | None = None) -> dict:
    """A row's label above it: in a model's colour, or (None) in the page's ink, light or dark."""
    font = {"size": 11} if colour is None else {"size": 11, "color": colour}
    return {"text": text, "xref": "paper", "yref": "paper", "x": 0, "y": y_top, "xanchor": "left",
            "yanchor": "middle", "showarrow": False, "font": font}


def _y(i: int) -> str:
    """Plotly's name of the i-th y axis (the first is "y", not "y1")."""
    return "y" if i == 1 else f"y{i}"


def _layout_key(i: int) -> str:
    return "yaxis" if i == 1 else f"yaxis{i}"


def _num(v: float) -> str:
    return "0" if v == 0 else f"{v:+.2g}"


def _heat_row(axis: str, z, values, tokens, what: str, **trace) -> dict:
    return {"type": "heatmap", "x": np.arange(len(tokens)), "y": [0], "z": [z], "yaxis": axis,
            "customdata": [values], "text": [list(tokens)], "xgap": 0, "ygap": 0,
            "hovertemplate": f"t=%{{x}} %{{text}}<br>{what}: %{{customdata:.3g}}<extra></extra>", **trace}


def overview_figure(ov: Overview) -> go.Figure:
    """The Start page's figure (see the module docstring). Gradient rows share one log colour scale (an exact
    zero is a grey cell with no colour of the scale, and the cut a red line); occlusion rows share one diverging
    scale; the last panel has one arrow per model from P(positive) of the whole review to P(positive) without
    the first n tokens. Row labels sit above their rows, so nothing needs a left margin on a phone."""
    T, M = ov.T, len(ov.models)
    heights = [LABEL + ROW] * 3 + [GAP] + [LABEL + ROW] * M + [X_AXIS] + [LABEL + ROW] * M + [P_AXIS]
    plot = sum(heights)
    top_of = np.cumsum([0] + heights)  # pixels from the top of the plot area to each block's top

    def domain(block: int) -> list[float]:  # a row's own area, below its label
        return [1 - (top_of[block] + heights[block]) / plot, 1 - (top_of[block] + LABEL) / plot]

    def label_y(block: int) -> float:
        return 1 - (top_of[block] + LABEL / 2) / plot  # the middle of its band

    floor, top = _log_floor(ov.gradient)
    data, shapes, notes, axes = [], [], [], {}
    row_axis = {"range": [-0.5, 0.5], "visible": False, "fixedrange": True}
    zero_count = (ov.gradient == 0).sum(axis=1)
    for j, (name, g) in enumerate(zip(ov.schemes, ov.gradient)):
        axis = _y(j + 1)
        axes[_layout_key(j + 1)] = {**row_axis, "domain": domain(j), "anchor": "x"}
        logged = np.where(g > 0, np.log10(np.maximum(g, 10 ** floor)), np.nan)
        data.append(_heat_row(axis, [None if np.isnan(v) else float(v) for v in logged], g, ov.tokens,
                              f"{name} ||dL/dx_t||", coloraxis="coloraxis"))
        if zero_count[j]:
            data.append(_heat_row(axis, [0.0 if v == 0 else None for v in g], g, ov.tokens,
                                  f"{name}: exactly", colorscale=[[0, ZERO], [1, ZERO]], showscale=False, zmin=0,
                                  zmax=1))
        ends = ov.losses[j]
        data.append({"type": "scatter", "x": ends, "y": [0.5] * len(ends), "yaxis": axis, "mode": "markers",
                     "marker": {"symbol": "triangle-down", "size": 7, "color": LOSS}, "cliponaxis": False,
                     "hovertemplate": "a loss (prediction vs label) at t=%{x}<extra></extra>", "showlegend": False})
        if j == 0:
            text = "full BPTT: training gradient ||dL/dx_t|| (▼ a loss)"
        elif j == 1:
            text = (f"{name}: exactly 0 left of the cut ({zero_count[j]} tokens)" if ov.cut is not None
                    else f"{name}: nothing cut (the review fits in K)")
        else:
            text = f"{name}: a loss every {ov.k} tokens"
        notes.append(_row_label(text, label_y(j)))
    if ov.cut is not None:
        shapes.append({"type": "line", "xref": "x", "yref": "y2 domain", "x0": ov.cut - 0.5, "x1": ov.cut - 0.5,
                       "y0": -0.1, "y1": 1.1, "line": {"color": CUT, "width": 2.5}})
    occ_max = float(np.max(np.abs(ov.occlusion))) if ov.occlusion.size else 0.0
    occ_max = occ_max or 1.0
    for i, name in enumerate(ov.models):
        block = 4 + i
        axis = f"y{block}"
        axes[f"yaxis{block}"] = {**row_axis, "domain": domain(block), "anchor": "x"}
        shaded = np.sign(ov.occlusion[i]) * (np.abs(ov.occlusion[i]) / occ_max) ** GAMMA
        data.append(_heat_row(axis, [float(v) for v in shaded], ov.occlusion[i], ov.tokens, f"{name} logit drop",
                              coloraxis="coloraxis2"))
        notes.append(_row_label(f"{name} uses (occlusion: logit drop per token)", label_y(block),
                                model_colour(name)))
    last_occ = 3 + M
    axes["xaxis"] = {"domain": [0, 1], "anchor": f"y{last_occ}", "range": [-0.5, T - 0.5], "showgrid": False,
                     "zeroline": False, "ticks": "outside", "ticklen": 3, "tickfont": {"size": 10},
                     "title": {**axis_title("token position t (the prediction is at the right end)", "x"), "font": {"size": 11},
                               "standoff": 4}}
    for axis in ([1, 2, 3] + list(range(4, 4 + M))) if ov.n else []:  # the opening, boxed on every token row
        shapes.append({"type": "rect", "xref": "x", "yref": f"{_y(axis)} domain", "x0": -0.5, "x1": ov.n - 0.5,
                       "y0": 0, "y1": 1, "line": {"color": FIRST_N, "width": 1.5, "dash": "dot"},
                       "fillcolor": TRANSPARENT})
    # P(positive): one row per model, each on its own y axis, all on one x axis from 0 to 1
    p_blocks = [5 + M + i for i in range(M)]
    axes["xaxis2"] = {"domain": [0, 1], "anchor": f"y{p_blocks[-1]}", "range": [0, 1],
                      "tickvals": [0, 0.25, 0.5, 0.75, 1], "tickfont": {"size": 10}, "ticks": "outside", "ticklen": 3,
                      "showgrid": True, "gridcolor": GRID, "zeroline": False, "fixedrange": True,
                      "title": {**axis_title("P(positive): whole review ● → without the opening", "x"), "font": {"size": 11},
                                "standoff": 4}}
    for i, (name, p, q) in enumerate(zip(ov.models, ov.prob, ov.prob_without)):
        block, colour = p_blocks[i], model_colour(name)
        axis = f"y{block}"
        axes[f"yaxis{block}"] = {**row_axis, "domain": domain(block), "anchor": "x2"}
        shapes.append({"type": "line", "xref": "x2", "yref": f"{axis} domain", "x0": 0.5, "x1": 0.5, "y0": 0,
                       "y1": 1, "line": {"color": NEUTRAL, "width": 1, "dash": "dash"}})
        data.append({"type": "scatter", "x": [p], "y": [0], "xaxis": "x2", "yaxis": axis, "mode": "markers",
                     "marker": {"size": 10, "color": colour}, "showlegend": False, "cliponaxis": False,
                     "hovertemplate": f"{name}: P(positive) of the whole review %{{x:.3f}}<extra></extra>"})
        data.append({"type": "scatter", "x": [q], "y": [0], "xaxis": "x2", "yaxis": axis, "mode": "markers",
                     "marker": {"size": 9, "color": TRANSPARENT, "line": {"color": colour, "width": 2}},
                     "showlegend": False, "cliponaxis": False,
                     "hovertemplate": f"{name}: without the first {ov.n} tokens %{{x:.3f}}<extra></extra>"})
        notes.append({"x": q, "y": 0, "ax": p, "ay": 0, "xref": "x2", "yref": axis, "axref": "x2", "ayref": axis,
                      "showarrow": bool(abs(q - p) > 0.01), "arrowhead": 2, "arrowsize": 1, "arrowwidth": 2,
                      "arrowcolor": colour, "text": "", "standoff": 5})
        notes.append(_row_label(f"{name}: P(positive) {p:.2f} → {q:.2f} without the first {ov.n}",
                                label_y(block), colour))
    notes.append({**_row_label(f"dotted boxes: the opening (the first {ov.n} tokens)", 1 + 12 / plot),
                  "font": {"size": 11, "color": FIRST_N}})
    ticks = list(range(int(np.ceil(floor)), int(np.floor(top)) + 1))
    bar = {"orientation": "h", "thickness": 8, "len": 0.46, "lenmode": "fraction", "y": -12 / plot,
           "yanchor": "top", "yref": "paper", "tickfont": {"size": 10}, "title": {"side": "top", "font": {"size": 11}}}
    layout = {
        "template": TEMPLATE,
        "title": {**title_of("This review, token by token"), "yref": "container", "y": 1, "yanchor": "top",
                  "pad": {"t": 6}},
        "height": plot + TOP + BOTTOM, "margin": {"l": 8, "r": 8, "t": TOP, "b": BOTTOM}, "showlegend": False,
        "shapes": shapes, "annotations": notes, **axes,
        "coloraxis": {"colorscale": SEQUENTIAL_SCALE, "cmin": floor - 0.5, "cmax": top,
                      "colorbar": {**bar, "x": 0, "xanchor": "left", "tickvals": ticks,
                                   "ticktext": [f"1e{v}" for v in ticks],
                                   "title": {**bar["title"], "text": "||dL/dx_t|| (log; grey = exactly 0)"}}},
        "coloraxis2": {"colorscale": DIVERGING_SCALE, "cmin": -1, "cmax": 1,
                       "colorbar": {**bar, "x": 1, "xanchor": "right", "tickvals": [-1, 0, 1],  # three ticks: five collide on a phone
                                    "ticktext": [_num(v * occ_max) for v in (-1, 0, 1)],
                                    "title": {**bar["title"], "text": "logit drop (blue: toward positive)"}}},
        "hoverlabel": {"font": {"size": 11}},
    }
    return go.Figure({"data": data, "layout": layout})
