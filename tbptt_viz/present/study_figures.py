"""Plotly figures of the IMDB study, from its results dict (they never touch a model).

Each regime is drawn as the mean over its seeds with whiskers for the 95% interval over seeds (none where a
regime has one seed); integrated gradients, measured on seed 0 only, with its 95% interval over that model's
reviews, and the legend says so. Each regime in its model's colour (`colours.model_colour`), as in every view.
Legends sit below the plots so that they stay readable on a phone; an axis of distance before the end runs so that
the end (the prediction) is on the right.
"""
from __future__ import annotations

import plotly.graph_objects as go

from tbptt_viz.experiments.study.results import regimes_of
from tbptt_viz.present.colours import NEUTRAL, model_colour
from tbptt_viz.present.figures import lay_out
from tbptt_viz.present.names import method_name

SIZE = {"height": 520}  # taller than the review figures: the legend below takes a row per regime on a phone


def _colours(names) -> dict[str, str]:
    return {name: model_colour(name) for name in names}


def _whiskers(stats) -> dict:
    """Plotly error bars from interval dicts; no whisker where there is no interval."""
    return dict(type="data", symmetric=False, visible=True, thickness=1, color=NEUTRAL,
                array=[s["high"] - s["mean"] if s.get("high") is not None else 0 for s in stats],
                arrayminus=[s["mean"] - s["low"] if s.get("low") is not None else 0 for s in stats])


def _band(fig, x, stats, name, colour, strong: bool | None = None):
    """One regime's means with its 95% whiskers; `strong` True/False draws it highlighted/dimmed."""
    mean = [s["mean"] for s in stats]
    width = 2 if strong is None else (4 if strong else 1.5)
    fig.add_trace(go.Scatter(x=x, y=mean, mode="lines+markers", name=name, line=dict(color=colour, width=width),
                             marker=dict(color=colour), opacity=1.0 if strong is not False else 0.45,
                             error_y={**_whiskers(stats), "color": colour}))


def _strong(name: str, highlight) -> bool | None:
    return (name in highlight) if highlight else None


def planted_figure(results: dict, highlight: tuple = ()) -> go.Figure:
    """`highlight`: the regimes to draw strong (the page's chosen and compare models), the rest dimmed."""
    regimes = regimes_of(results)
    colour = _colours(regimes)
    fig = go.Figure()
    for name, r in regimes.items():
        x = [str(d) for d in r["planted"]["distances"]]
        _band(fig, x, r["planted"]["contrast"], f"{name} ({len(r['seeds'])} seed(s))", colour[name],
              _strong(name, highlight))
    # d counts tokens between the phrase and the end: the largest d (the start) on the left, the end on the right
    order = [str(d) for d in next(iter(regimes.values()))["planted"]["distances"]][::-1] if regimes else []
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=order)
    return lay_out(fig, "Planted phrase: how far back does each regime react?",
                   "d = tokens between the phrase and the end ('start': the phrase opens the review)",
                   "contrast: P(pos | positive phrase) - P(pos | negative)", **SIZE)


def context_figure(results: dict, highlight: tuple = ()) -> go.Figure:
    regimes = regimes_of(results)
    colour = _colours(regimes)
    fig = go.Figure()
    for name, r in regimes.items():
        _band(fig, [str(s) for s in r["context"]["sizes"]], r["context"]["mean_abs_diff"], name, colour[name],
              _strong(name, highlight))
    fig.update_xaxes(type="category")
    return lay_out(fig, "Context use: reading only the last n tokens", "n = tokens kept from the end",
                   "mean |P(pos | last n) - P(pos | whole)|", **SIZE)


def length_figure(results: dict, highlight: tuple = ()) -> go.Figure:
    regimes = regimes_of(results)
    colour = _colours(regimes)
    fig = go.Figure()
    for name, r in regimes.items():
        stats = r["accuracy"]["by_length"]
        fig.add_trace(go.Bar(x=list(r["accuracy"]["bins"]), y=[s["mean"] for s in stats], name=name,
                             marker_color=colour[name], opacity=1.0 if _strong(name, highlight) is not False else 0.45,
                             error_y=_whiskers(stats)))
    fig.update_layout(barmode="group")
    return lay_out(fig, "Accuracy by review length", "review length (tokens)", "accuracy on test reviews", **SIZE)


def attribution_figure(results: dict, highlight: tuple = ()) -> go.Figure:
    """Per regime (its colour), the share of |attribution| on the first 30 tokens by occlusion (solid bars) and by
    integrated gradients (hatched bars), across, the regimes down the side (legible on a phone)."""
    regimes = regimes_of(results)
    fig = go.Figure()
    for method, key, label, pattern in (("occlusion", "first_share", "occlusion (interval over seeds)", ""),
                                        ("integrated_gradients", "first_share_converged",
                                         f"{method_name('integrated_gradients')} (seed 0, converged reviews)", "/")):
        names = [n for n, r in regimes.items() if method in r.get("attribution", {})]
        a = [regimes[n]["attribution"][method] for n in names]
        stats = [x[key] if method == "occlusion" else x["single_seed"].get(key, {"mean": None}) for x in a]
        whiskers = _whiskers(stats)
        fig.add_trace(go.Bar(y=names, x=[s["mean"] for s in stats], name=label, orientation="h",
                             marker=dict(color=[model_colour(n) for n in names],
                                         opacity=[1.0 if not highlight or n in highlight else 0.45 for n in names],
                                         pattern=dict(shape=pattern, fillmode="replace" if pattern else "overlay",
                                                      fgcolor=[model_colour(n) for n in names])),
                             error_x=whiskers))
    fig.update_layout(barmode="group", yaxis=dict(autorange="reversed"))
    return lay_out(fig, "Share of |attribution| on the first 30 tokens (reviews of 100-500 tokens)",
                   "share of total |attribution|", "regime (trained with)", height=520)


def memory_figure(results: dict, highlight: tuple = ()) -> go.Figure:
    """Per regime: the median over (review, source) of ||dh_(S+lag)/dx_S|| relative to lag 0, log y, with the
    1% line and each regime's training window marked on its own curve. Empty for studies without it."""
    regimes = {n: r for n, r in regimes_of(results).items() if r.get("memory")}
    colour = _colours(list(regimes_of(results)))
    fig = go.Figure()
    threshold = 0.01
    for name, r in regimes.items():
        m = r["memory"]
        threshold = m["threshold"]
        strong = _strong(name, highlight)
        y = [v if v and v > 0 else None for v in m["median_ratio"]]
        fig.add_trace(go.Scatter(x=m["lags"], y=y, mode="lines", name=f"{name} ({len(m['seeds'])} seed(s))",
                                 line=dict(color=colour[name], width=2 if strong is None else (4 if strong else 1.5)),
                                 opacity=1.0 if strong is not False else 0.45))
        K = m.get("training_window")
        if K is not None and K <= m["max_lag"] and y[K] is not None:
            fig.add_trace(go.Scatter(x=[K], y=[y[K]], mode="markers", marker=dict(color=colour[name], size=10,
                                                                                  symbol="diamond"),
                                     name=f"{name}: its training window K = {K}", showlegend=False,
                                     hovertext=f"{name}: training window {K}"))
    fig.add_hline(y=threshold, line=dict(color=NEUTRAL, dash="dot"), annotation_text=f"{threshold:.0%}")
    fig.update_layout(yaxis=dict(type="log", exponentformat="power"))
    return lay_out(fig, "Memory span: how far a word still moves the state (diamond: its training window)",
                   "tokens after the source word (lag)", "median ||dh/dx_S|| relative to lag 0 (log)", **SIZE)


FIGURES = {"planted": planted_figure, "context": context_figure, "length": length_figure,
           "attribution": attribution_figure, "memory": memory_figure}

# name -> (figure, how to read it): the app shows the sentence under each figure
FIGURES_WITH_READING = {
    "planted": (planted_figure, "A short polar phrase is planted d tokens before the end of 1,000 test reviews "
                                "(balanced); the line is how far P(positive) moves between the positive and the "
                                "negative phrase, mean over seeds, whiskers the 95% interval over seeds. A regime "
                                "whose line falls towards 'start' reacts less to words far from the end."),
    "context": (context_figure, "How much the prediction changes when the model reads only the last n tokens "
                                "from a fresh state: small values at small n mean the end decides the prediction."),
    "length": (length_figure, "Accuracy on all 25,000 test reviews, split by length in tokens; whiskers are the "
                              "95% interval over seeds."),
    "attribution": (attribution_figure, "Of each review's total |attribution|, the share on its first 30 tokens, "
                                        "by occlusion (solid bars: every review of the sample; mean over seeds, "
                                        "whiskers over seeds) and by integrated gradients (hatched bars: only "
                                        "reviews where they "
                                        "converged; seed 0 alone, whiskers over its reviews); an even "
                                        "spread would give 30/T for a review of T tokens."),
}
