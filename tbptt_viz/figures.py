"""Plotly figures from the analysis dataclasses. A figure never touches a model."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

FULL_STYLE = dict(dash="dot", width=2)
COLOURS = {"input": "#ff7f0e", "hidden": "#1f77b4", "cell": "#2ca02c", "full": "#7f7f7f", "cut": "#c0392b"}


def _positive_or_none(a) -> list:
    """Log axes cannot show 0: exact zeros (no gradient) become gaps."""
    return [float(v) if v > 0 else None for v in np.asarray(a, dtype=float)]


def _layout(fig: go.Figure, title: str, x: str, y: str, **kw) -> go.Figure:
    fig.update_layout(title=title, xaxis_title=x, yaxis_title=y, height=360, margin=dict(l=60, r=20, t=50, b=50),
                      legend=dict(orientation="h", y=-0.25), template="plotly_white", **kw)
    return fig


def gradient_through_time(view, full, T: int) -> go.Figure:
    """||dL/dx_t||, ||dL/dh_t||, ||dL/dc_t|| against steps from the end (log-log), scheme solid, full dotted."""
    dist = np.arange(T)[::-1] + 1  # 1 = the last token
    fig = go.Figure()
    for key, name in (("input", "||dL/dx_t||"), ("hidden", "||dL/dh_t||"), ("cell", "||dL/dc_t||")):
        fig.add_trace(go.Scatter(x=dist, y=_positive_or_none(getattr(full, f"full_{key}_grad_norm")),
                                 mode="lines+markers" if T == 1 else "lines", name=f"{name} full BPTT",
                                 line=dict(color=COLOURS[key], **FULL_STYLE)))
        if view.scheme != "full":  # under full BPTT the scheme's curves are the dotted ones
            fig.add_trace(go.Scatter(x=dist, y=_positive_or_none(getattr(view, f"{key}_grad_norm")), mode="lines",
                                     name=f"{name} {view.label}", line=dict(color=COLOURS[key], width=3)))
    if view.scheme == "last-k" and view.k < T:
        # plotly quirk on log axes: the line takes data units, its annotation takes log10 units
        fig.add_vline(x=view.k + 0.5, line=dict(color=COLOURS["cut"], dash="dash"))
        fig.add_annotation(x=float(np.log10(view.k + 0.5)), y=1, yref="paper", text=f"K={view.k}",
                           showarrow=False, font=dict(color=COLOURS["cut"]), yanchor="bottom")
    fig.update_xaxes(type="log")
    fig.update_yaxes(type="log", exponentformat="power")
    return _layout(fig, "Gradient through time", "steps from the end (1 = last token, log scale)",
                   "gradient norm (log scale)")


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
    fig.update_layout(yaxis2=dict(overlaying="y", side="right", title="reach (steps)", rangemode="tozero",
                                  showgrid=False, range=[-1.5, max(1, int(view.backprop_reach.max())) * 1.08]))
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


def context_probe_figure(probe, prob_full: float) -> go.Figure:
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=probe.last_n, y=probe.prob_last_n, name="sees only the last n tokens",
                             line=dict(color="#1f77b4", width=3)))
    fig.add_trace(go.Scatter(x=probe.removed_n, y=probe.prob_without_first_n, name="first n tokens removed",
                             line=dict(color="#ff7f0e", width=2)))
    fig.add_hline(y=prob_full, line=dict(color="#555", dash="dot"), annotation_text="whole review")
    fig.add_hline(y=0.5, line=dict(color="#bbb", width=1))
    fig.update_yaxes(range=[0, 1])
    return _layout(fig, "Context probe: how much of the review does the prediction need?", "n (tokens)",
                   "P(positive)")


def memory_figure(trace, k: int | None = None) -> go.Figure:
    T = len(trace.survival)
    t = np.arange(T)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=t, y=trace.survival, name="survival to the end (mean over units)",
                             line=dict(color="#2ca02c", width=3)))
    fig.add_trace(go.Scatter(x=t, y=trace.forget_mean, name="mean forget gate f_t", line=dict(color="#9467bd")))
    fig.add_trace(go.Scatter(x=t, y=trace.cell_norm, name="||c_t||", yaxis="y2", line=dict(color="#8c564b")))
    if k and k < T:
        fig.add_vline(x=T - k - 0.5, line=dict(color=COLOURS["cut"], dash="dash"), annotation_text=f"last K={k}")
    # survival spans many orders of magnitude (1e-7 from the opening is common): a log axis shows it
    fig.update_layout(yaxis=dict(type="log", exponentformat="power"),
                      yaxis2=dict(overlaying="y", side="right", title="||c_t||", showgrid=False, rangemode="tozero"))
    return _layout(fig, "Memory: how much of what is written at t survives to the prediction", "token position t",
                   "fraction / gate value (log scale)")
