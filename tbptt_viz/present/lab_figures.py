"""Plotly figures of lab results: the sweep's JSON (results/lab.json) and one run's training curve.

Every function takes plain data (the sweep dict, or a LabResult's curve and config) and returns a
go.Figure; none touches a model.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tbptt_viz.core.per_chunk import UPDATES
from tbptt_viz.core.schemes import SCHEME_NAMES, SCHEMES
from tbptt_viz.present.colours import (
    CUT,
    NEUTRAL,
    OTHER_COLOURS,
    SEQUENTIAL_SCALE,
    WINDOW,
)
from tbptt_viz.present.figures import PANEL_GAP, colour_bar, lay_out, mark_line, wrap

# In the sweep, TBPTT runs with k2 = 2 k1 and the heatmap columns are k1: say so in the row label.
LAB_SCHEME_NAMES = {**SCHEME_NAMES, "k1k2": "TBPTT(k1=K, k2=2K)"}

UPDATE_SUFFIX = {"per-review": "", "per-chunk": ",<br>a step per chunk"}  # heatmap row labels
# The Lab's tiny models are no zoo model: their series take the colours colours.py keeps for other models.
COLOURS = OTHER_COLOURS


ROOM = {"margin": (60, 20, 40, 10)}  # stacked panels: their titles, axis titles and colour bars push the margins

PANEL_CHARS = 28  # a panel's title over a phone's plot, narrowed by the row labels: about 190 px


def _panel_titles(fig) -> None:
    """make_subplots' panel titles, left-aligned over their panels and broken into phone-wide lines (centred, a
    title wider than a phone's plot runs off both sides)."""
    for note in fig.layout.annotations:
        note.update(x=0, xanchor="left", xref="paper", text=wrap(note.text, PANEL_CHARS), font=dict(size=13))


def rows_of(results: dict, group: str) -> list[dict]:
    """The sweep rows of one group ("prefix", "any-one", "planted", "forget-bias"); ValueError if none."""
    rows = [r for r in results.get("rows", []) if r.get("group") == group]
    if not rows:
        raise ValueError(f"the lab results have no {group!r} rows; run `python -m tbptt_viz lab sweep`")
    return rows


def row_kind(row: dict) -> tuple[str, str]:
    """(scheme, update rule) of a sweep row; rows from before the rule existed are per-review."""
    return row["config"]["scheme"], row["config"].get("update", "per-review")


def _cell_text(stats: dict) -> str:
    return f"{stats['mean']:.2f} ± {stats['std']:.2f}"


def prefix_heatmaps(results: dict) -> go.Figure:
    """Test accuracy on long sequences, scheme and update rule (rows) x K (columns), one panel per short fraction.

    Full BPTT has no K: its one result fills every K column (the hover says so).
    """
    rows = rows_of(results, "prefix")
    shorts = sorted({r["config"]["short_frac"] for r in rows})
    ks = sorted({r["config"]["k"] for r in rows if r["config"]["scheme"] != "full"})
    schemes = [(s, u) for s in SCHEMES for u in UPDATES if any(row_kind(r) == (s, u) for r in rows)]
    T = rows[0]["config"]["seq_len"]
    fig = make_subplots(rows=len(shorts), cols=1, shared_xaxes=True, vertical_spacing=0.12,
                        subplot_titles=[f"{s:.0%} short training examples" for s in shorts])
    for col, short in enumerate(shorts, 1):  # one panel per short fraction, stacked
        z = np.full((len(schemes), len(ks)), np.nan)
        text = np.full((len(schemes), len(ks)), "", dtype=object)
        hover = np.full((len(schemes), len(ks)), "not run", dtype=object)
        for r in rows:
            c = r["config"]
            if c["short_frac"] != short:
                continue
            i = schemes.index(row_kind(r))
            cols = range(len(ks)) if c["scheme"] == "full" else [ks.index(c["k"])]
            for j in cols:
                z[i, j] = r["test_accuracy"]["mean"]
                text[i, j] = _cell_text(r["test_accuracy"])
                note = " (full BPTT ignores K)" if c["scheme"] == "full" else ""
                hover[i, j] = (f"{r['scheme_label']}{note}<br>seeds: "
                               + ", ".join(f"{v:.2f}" for v in r["test_accuracy"]["values"]))
        fig.add_trace(go.Heatmap(z=z, x=[f"K={k}" for k in ks], y=[LAB_SCHEME_NAMES[s] + UPDATE_SUFFIX[u] for s, u in schemes], text=text,
                                 texttemplate="%{text}", hovertext=hover, hoverinfo="text", zmin=0.4, zmax=1.0,
                                 colorscale=SEQUENTIAL_SCALE, showscale=col == len(shorts),
                                 colorbar=colour_bar("accuracy")), row=col, col=1)
        fig.update_yaxes(title_text="training scheme", autorange="reversed", row=col, col=1)
    fig.update_xaxes(title_text="K (window / chunk length)", row=len(shorts), col=1)
    _panel_titles(fig)
    return lay_out(fig, f"prefix task: accuracy on {T}-token test sequences (mean ± sample SD over seeds; "
                        "0.5 = chance)", height=max(260, 50 * len(schemes)) * len(shorts) + 260, title_gap=PANEL_GAP,
                   **ROOM)


def any_one_by_position(results: dict) -> go.Figure:
    """any-one: accuracy on test positives against how far before the end their 1 sits, a line per K,
    one panel per fraction of training positives with a 1 in the last M positions."""
    rows = rows_of(results, "any-one")
    fracs = sorted({r["config"]["ones_in_window_frac"] for r in rows})
    ks = sorted({r["config"]["k"] for r in rows})
    L, M = rows[0]["config"]["seq_len"], rows[0]["config"]["clean_last"]
    fig = make_subplots(rows=len(fracs), cols=1, shared_xaxes=True, vertical_spacing=0.14,
                        subplot_titles=[f"{f:.0%} of training positives have their 1 in the last {M}" for f in fracs])
    for col, frac in enumerate(fracs, 1):
        for r in rows:
            c = r["config"]
            if c["ones_in_window_frac"] != frac:
                continue
            mean = np.array(r["accuracy_by_position"]["mean"])  # (L,) by position j of the 1
            std = np.array(r["accuracy_by_position"]["std"])
            steps_back = c["seq_len"] - 1 - np.arange(c["seq_len"])
            neg = r["negative_accuracy"]["mean"]
            fig.add_trace(go.Scatter(x=steps_back, y=mean, error_y=dict(type="data", array=std, visible=True),
                                     mode="lines+markers", line=dict(color=COLOURS[ks.index(c["k"]) % len(COLOURS)]),
                                     name=f"{r['scheme_label']}, {frac:.0%} in window (all-zero negatives: {neg:.2f})"),
                          row=col, col=1)
        fig.add_vrect(x0=-0.5, x1=M - 0.5, fillcolor=WINDOW, opacity=0.3, line_width=0, row=col, col=1)
        fig.update_yaxes(title_text="accuracy on test positives", range=[-0.05, 1.05], row=col, col=1)
    # steps before the end, reversed: the end (0) on the right, as position runs in every view
    fig.update_xaxes(range=[L - 0.5, -0.5])
    fig.update_xaxes(title_text="steps from the 1 to the end (0 = the last token, on the right)", row=len(fracs), col=1)
    _panel_titles(fig)
    return lay_out(fig, f"any-one (L={L}): how far back does a 1 still count? (shaded: the last M={M} positions)",
                   height=300 * len(fracs) + 300, title_gap=PANEL_GAP + 18, **ROOM)


def planted_by_distance(results: dict) -> go.Figure:
    """planted: test accuracy against the distance d of the decisive word from the end, a line per scheme."""
    rows = rows_of(results, "planted")
    fig = go.Figure()
    labels = sorted({r["scheme_label"] for r in rows})
    for n, label in enumerate(labels):
        sel = sorted((r for r in rows if r["scheme_label"] == label), key=lambda r: r["config"]["distance"])
        fig.add_trace(go.Scatter(x=[r["config"]["distance"] for r in sel],
                                 y=[r["test_accuracy"]["mean"] for r in sel],
                                 error_y=dict(type="data", array=[r["test_accuracy"]["std"] for r in sel]),
                                 mode="lines+markers", name=label, line=dict(color=COLOURS[n % len(COLOURS)])))
    for k in sorted({r["config"]["k"] for r in rows if r["config"]["scheme"] == "last-k"}):
        # near the end (the right, the axis being reversed): its label goes to the line's left
        line, note = mark_line(k - 0.5, CUT, f"last-K edge (K={k})", right_half=True)
        fig.add_shape(line)
        fig.add_annotation(note)
    T = rows[0]["config"]["seq_len"]
    fig.update_xaxes(title_text="d = steps from the decisive word to the last token (the end on the right)",
                     autorange="reversed")
    fig.update_yaxes(title_text="test accuracy", range=[0.4, 1.05])
    return lay_out(fig, f"planted: one word decides, d steps before the end of {T} tokens (mean ± sample SD over "
                        "seeds)", **ROOM)


def forget_bias_figure(results: dict) -> go.Figure:
    """prefix without short examples, last-K: accuracy against sequence length at each initial forget bias
    (longer sequences: the opening lies further before the window), with full BPTT as markers."""
    rows = rows_of(results, "forget-bias")
    fig = go.Figure()
    for n, (scheme, fb) in enumerate(sorted({(r["config"]["scheme"], r["config"]["forget_bias"]) for r in rows})):
        sel = sorted((r for r in rows if (r["config"]["scheme"], r["config"]["forget_bias"]) == (scheme, fb)),
                     key=lambda r: r["config"]["seq_len"])
        fig.add_trace(go.Scatter(x=[r["config"]["seq_len"] for r in sel], y=[r["test_accuracy"]["mean"] for r in sel],
                                 error_y=dict(type="data", array=[r["test_accuracy"]["std"] for r in sel]),
                                 mode="lines+markers" if len(sel) > 1 else "markers", marker=dict(size=10),
                                 name=f"{sel[0]['scheme_label']}, forget bias {fb:g}",
                                 line=dict(color=COLOURS[n % len(COLOURS)])))
    fig.update_xaxes(title_text="sequence length T (the opening lies T-3 steps before the end)")
    fig.update_yaxes(title_text="test accuracy", range=[0.4, 1.05])
    return lay_out(fig, "prefix, no short examples: does anything learn the opening? (mean ± sample SD over seeds)",
                   height=440, **ROOM)


def training_curve(result) -> go.Figure:
    """One run (a LabResult, or anything with .curve and .config): training loss and test accuracy per epoch."""
    loss, acc = np.asarray(result.curve.loss), np.asarray(result.curve.test_accuracy)
    epochs = np.arange(1, len(loss) + 1)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=epochs, y=loss, name="training loss (the scheme's windowed loss)",
                             line=dict(color=NEUTRAL, dash="dash")))
    fig.add_trace(go.Scatter(x=epochs, y=acc, name="test accuracy", yaxis="y2", line=dict(color=COLOURS[0], width=3)))
    fig.update_layout(xaxis_title="epoch", yaxis_title="training loss",
                      yaxis2=dict(title="test accuracy", overlaying="y", side="right", range=[0, 1.05]))
    c = result.config
    return lay_out(fig, f"{c.task}: {c.scheme_label}, T={c.seq_len}", **ROOM)
