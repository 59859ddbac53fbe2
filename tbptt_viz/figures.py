"""Plotly figures from the analysis dataclasses. A figure never touches a model."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

FULL_STYLE = dict(dash="dot", width=2)
# A light template of a few lines: plotly's "plotly_white" spells out defaults for every trace type, which
# made each figure's build and its JSON (7.5 KB for a 6-bar chart) cost 50 ms a page run on this CPU.
LIGHT = {"layout": {"plot_bgcolor": "white", "paper_bgcolor": "white",
                    "xaxis": {"gridcolor": "#e8e8e8", "zerolinecolor": "#cfcfcf", "linecolor": "#cfcfcf"},
                    "yaxis": {"gridcolor": "#e8e8e8", "zerolinecolor": "#cfcfcf", "linecolor": "#cfcfcf"}}}
COLOURS = {"input": "#ff7f0e", "hidden": "#1f77b4", "cell": "#2ca02c", "full": "#7f7f7f", "cut": "#c0392b"}


def round_ticks(low: float, high: float) -> list[float]:
    """Readable tick values: 1, 2 or 5 times a power of ten (whole numbers where the axis counts)."""
    from .page import nice_ticks

    return nice_ticks(low, high)


def _positive_or_none(a) -> list:
    """Log axes cannot show 0: exact zeros (no gradient) become gaps."""
    return [float(v) if v > 0 else None for v in np.asarray(a, dtype=float)]


def _layout(fig: go.Figure, title: str, x: str, y: str, **kw) -> go.Figure:
    # legends below the plot and titles that wrap: readable on a 390-px phone screen too
    fig.layout.template = LIGHT  # replaces the default template (update_layout would merge into it)
    fig.update_layout(title=dict(text=title, x=0, xanchor="left", font=dict(size=15)), xaxis_title=x,
                      yaxis_title=y, height=380, margin=dict(l=55, r=20, t=60, b=40),
                      legend=dict(orientation="h", x=0, y=-0.22, yanchor="top", font=dict(size=11)), **kw)
    return fig


def gradient_through_time(view, full, T: int) -> go.Figure:
    """||dL/dx_t||, ||dL/dh_t||, ||dL/dc_t|| against token position (end on the right, as in every view),
    log y; the scheme solid, full BPTT dotted; positions with exactly zero gradient shaded and labelled."""
    t = np.arange(T)
    fig = go.Figure()
    for key, name in (("input", "||dL/dx_t||"), ("hidden", "||dL/dh_t||"), ("cell", "||dL/dc_t||")):
        fig.add_trace(go.Scatter(x=t, y=_positive_or_none(getattr(full, f"full_{key}_grad_norm")),
                                 mode="lines+markers" if T == 1 else "lines", name=f"{name} full BPTT",
                                 line=dict(color=COLOURS[key], **FULL_STYLE)))
        if view.scheme != "full":  # under full BPTT the scheme's curves are the dotted ones
            fig.add_trace(go.Scatter(x=t, y=_positive_or_none(getattr(view, f"{key}_grad_norm")), mode="lines",
                                     name=f"{name} {view.label}", line=dict(color=COLOURS[key], width=3)))
    for a, b in zero_runs(view.input_grad_norm):
        fig.add_vrect(x0=a - 0.5, x1=b - 0.5, fillcolor="#bbbbbb", opacity=0.25, line_width=0,
                      annotation_text=f"exactly 0 ({b - a} tokens)", annotation_position="top left")
    if view.scheme == "last-k" and view.k < T:
        fig.add_vline(x=T - view.k - 0.5, line=dict(color=COLOURS["cut"], dash="dash"),
                      annotation_text=f"K={view.k}", annotation_font_color=COLOURS["cut"])
    fig.update_yaxes(type="log", exponentformat="power")
    return _layout(fig, "Gradient through time", "token position t (the prediction is at the right end)",
                   "gradient norm (log scale; zero cannot be drawn)")


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
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=full.sweep_k, y=full.sweep_cosine, name="cosine(last-K, full)",
                             line=dict(color="#1f77b4", width=3)))
    fig.add_trace(go.Scatter(x=full.sweep_k, y=full.sweep_relative_error, name="relative error |G_K - G| / |G|",
                             line=dict(color="#d62728", width=2)))
    if k is None:
        fig.update_xaxes(type="log")
        return _layout(fig, "How far is the last-K weight gradient from the full one?", "K (log scale)",
                       "cosine / relative error")
    kk = int(min(max(k, 1), len(full.sweep_k)))
    fig.add_trace(go.Scatter(x=[kk, kk], y=[full.sweep_cosine[kk - 1], full.sweep_relative_error[kk - 1]],
                             mode="markers+text", marker=dict(size=12, color="black"), name=f"K = {kk}",
                             text=[f"{full.sweep_cosine[kk - 1]:.2f}", f"{full.sweep_relative_error[kk - 1]:.2f}"],
                             textposition="middle right"))
    fig.update_xaxes(type="log")
    return _layout(fig, "How far is the truncated weight gradient from the full one?", "K (log scale)",
                   "cosine / relative error")


def backprop_timeline(view) -> go.Figure:
    """Per position: how many loss terms reach x_t, and the longest distance to one of them."""
    t = np.arange(len(view.backprop_count))
    fig = go.Figure()
    fig.add_trace(go.Bar(x=t, y=view.backprop_count, name="losses whose gradient reaches x_t",
                         marker_color="#ff7f0e"))
    fig.add_trace(go.Scatter(x=t, y=view.backprop_reach, name="longest reach (steps to that loss; -1 = none)",
                             yaxis="y2", line=dict(color="#1f77b4")))
    ends = view.windows[:, 0]
    fig.add_trace(go.Scatter(x=ends, y=np.full(len(ends), view.backprop_count.max() + 0.3), mode="markers",
                             name="a loss (prediction vs label) here", marker=dict(symbol="triangle-down", size=10,
                                                                                 color="#c0392b")))
    top = max(1, int(view.backprop_reach.max()))
    fig.update_layout(yaxis2=dict(overlaying="y", side="right", title="reach (steps)", showgrid=False,
                                  range=[-1.5, top * 1.08], tickvals=round_ticks(0, top)),
                      yaxis=dict(tickvals=round_ticks(0, int(view.backprop_count.max()) + 1)))
    return _layout(fig, f"Backprop count and reach: {view.label}", "token position t", "count")


def attribution_bars(tokens, rows: dict[str, np.ndarray], first_n: int = 30, last_k: int = 0,
                     title: str = "Attribution per token") -> go.Figure:
    """Per-token scores of one or more attributions (e.g. two models) over the same positions."""
    t = np.arange(len(tokens))
    fig = go.Figure()
    for name, scores in rows.items():
        fig.add_trace(go.Bar(x=t, y=scores, name=name, hovertext=list(tokens)))
    T = len(tokens)
    if first_n:
        fig.add_vrect(x0=-0.5, x1=min(first_n, T) - 0.5, fillcolor="#7b3fa0", opacity=0.08, line_width=0,
                      annotation_text=f"first {first_n}", annotation_position="top left")
    if 0 < last_k < T:
        fig.add_vrect(x0=T - last_k - 0.5, x1=T - 0.5, fillcolor="#1f77b4", opacity=0.08, line_width=0,
                      annotation_text=f"last {last_k}", annotation_position="top right")
    fig.update_layout(barmode="group", showlegend=True)
    return _layout(fig, title, "token position t", "score")


def context_probe_figure(probes: dict) -> go.Figure:
    """Per model: P(positive) reading only the last n tokens, and with the first n removed."""
    fig = go.Figure()
    dash = ("solid", "dot", "dash")
    for j, (name, probe) in enumerate(probes.items()):
        fig.add_trace(go.Scatter(x=probe.last_n, y=probe.prob_last_n, name=f"{name}: only the last n tokens",
                                 line=dict(color="#1f77b4", width=3, dash=dash[j % 3])))
        fig.add_trace(go.Scatter(x=probe.removed_n, y=probe.prob_without_first_n,
                                 name=f"{name}: first n tokens removed", line=dict(color="#ff7f0e", width=2,
                                                                                   dash=dash[j % 3])))
    fig.add_hline(y=0.5, line=dict(color="#bbb", width=1))
    fig.update_yaxes(range=[0, 1], tickvals=[0, 0.25, 0.5, 0.75, 1])
    return _layout(fig, "Context probe: how much of the review does the prediction need?", "n (tokens)",
                   "P(positive)")


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
        fig.add_trace(go.Scatter(x=t, y=_positive_or_none(trace.survival), name=f"{name}: direct path (cell)",
                                 line=dict(color="#2ca02c", width=3, dash=dash[j % 3])))
        fig.add_trace(go.Scatter(x=t, y=_positive_or_none(rel), name=f"{name}: all paths (gradient)",
                                 line=dict(color="#9467bd", width=2, dash=dash[j % 3])))
    if k and k < T:
        fig.add_vline(x=T - k - 0.5, line=dict(color=COLOURS["cut"], dash="dash"), annotation_text=f"last K={k}")
    fig.update_layout(yaxis=dict(type="log", exponentformat="power"))
    return _layout(fig, "Memory: the cell's direct path and every path", "token position t",
                   "fraction surviving / relative influence (log)")


def ig_path_figure(attributions: dict) -> go.Figure:
    """F along integrated gradients' straight path, alpha from the baseline (0) to the review (1)."""
    fig = go.Figure()
    for name, a in attributions.items():
        if a.path_alpha is None:
            continue
        fig.add_trace(go.Scatter(x=a.path_alpha, y=a.path_value, mode="lines+markers", marker=dict(size=4),
                                 name=f"{name} ({'converged' if a.converged else 'not converged'})"))
    return _layout(fig, "The function integrated gradients integrate, along its path",
                   "alpha (0 = all padding, 1 = the review)", "F (logit or loss)")


def headline_figure(contrast: dict, highlight: tuple[str, ...] = ()) -> go.Figure:
    """The study's headline: how far a polar phrase planted at the very start moves each regime's prediction."""
    names = list(contrast)
    means = [contrast[n]["mean"] for n in names]
    err_hi = [contrast[n]["high"] - contrast[n]["mean"] for n in names]
    err_lo = [contrast[n]["mean"] - contrast[n]["low"] for n in names]
    colours = ["#c0392b" if n in highlight else "#7f7f7f" for n in names]
    fig = go.Figure(go.Bar(x=names, y=means, marker_color=colours,
                           error_y=dict(type="data", array=err_hi, arrayminus=err_lo, visible=True),
                           hovertext=[f"{contrast[n]['seeds']} seed(s)" for n in names]))
    return _layout(fig, "A polar phrase at the very start: how far it moves the prediction",
                   "model (trained with)", "contrast in P(positive) (95% interval)")
