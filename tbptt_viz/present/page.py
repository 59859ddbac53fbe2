"""The app's page logic that is not widgets: choices, summaries, sentences and exports, each a tested
function (this module never imports streamlit; app.py only wires widgets to it)."""
from __future__ import annotations

import json
import re

import numpy as np

FIRST_N = 30  # the "first words" of the question
LONG_REVIEW = 800  # tokens above which occlusion and the context probe wait for a click (both grow with T^2)

# Line breaks in every form a visitor can send: CRLF, CR, NEL, LS, PS, VT, FF. Normalised to "\n" before any
# text is stored, rendered or sent back in a link, so no renderer can see a bare CR as a block break.
_BREAKS = re.compile(r"\r\n|[\r\x85\u2028\u2029\x0b\x0c]")
# Other control characters (NUL and friends) are dropped; tab and newline stay.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """A visitor's text with line breaks normalised to \\n and control characters removed."""
    return _CONTROL.sub("", _BREAKS.sub("\n", str(text or "")))


def default_compare(model: str, models: list[str], broken: set[str] = frozenset()) -> str | None:
    """The model shown beside `model`: imdb-full (or imdb-last-k30 beside it), else any working one."""
    working = [m for m in models if m != model and m not in broken]
    for preferred in ("imdb-full", "imdb-last-k30"):
        if preferred in working:
            return preferred
    return working[0] if working else None


def imdb_pool(rows: dict, label: str, lo: int, hi: int) -> list[str]:
    """IMDB ids whose label matches `label` (any | positive | negative) and whose word count is in [lo, hi]."""
    wanted = {"any": (0, 1), "positive": (1,), "negative": (0,)}[label]
    return [rid for rid, (_, y, n) in rows.items() if y in wanted and lo <= n <= hi]


def strip_scale(*arrays) -> float:
    """One colour scale for strips that are compared: the largest |value| among them (0 when all are empty)."""
    values = [float(np.max(np.abs(a))) for a in arrays if len(a)]
    return max(values, default=0.0)


def nice_ticks(low: float, high: float, n: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten) spanning [low, high]."""
    if not np.isfinite(low) or not np.isfinite(high) or high <= low:
        return [float(low)]
    raw = (high - low) / max(1, n - 1)
    mag = 10 ** np.floor(np.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    start = np.ceil(low / step) * step
    return [float(round(v, 12)) for v in np.arange(start, high + step / 2, step)]


def first_share(scores, n: int = FIRST_N) -> float:
    """Share of sum |scores| on the first n tokens (0 when there is no mass)."""
    mass = np.abs(np.asarray(scores, dtype=float))
    total = mass.sum()
    return float(mass[:n].sum() / total) if total > 0 else 0.0


def export_stem(view: str, meta: dict) -> str:
    """A file name stem naming the view, model, review, scheme, K and method."""
    parts = [view] + [str(meta[k]) for k in ("model", "review", "scheme", "k", "method") if meta.get(k) is not None]
    return "tbptt_viz_" + re.sub(r"[^A-Za-z0-9._-]+", "-", "_".join(parts))[:120]


def export_payload(view: str, tokens, columns: dict, meta: dict) -> tuple[str, str, str]:
    """(CSV text, JSON text, file stem) of a view's per-token numbers; the stem names model, review, scheme, K."""
    import pandas as pd

    T = len(tokens)
    table = pd.DataFrame({"t": np.arange(T), "token": list(tokens), "steps_from_end": T - 1 - np.arange(T),
                          **{k: np.asarray(v) for k, v in columns.items()}})
    plain = json.dumps({**meta, "view": view, "per_token": table.to_dict("list")},
                       default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v))
    return table.to_csv(index=False), plain, export_stem(view, meta)


def memory_sentence(trace, occlusion_scores=None) -> str:
    """What the Memory view measures, as computed for this review (no claim that is not on the page)."""
    T = len(trace.survival)
    n = min(FIRST_N, T)
    influence = np.asarray(trace.influence)
    share = float(influence[:n].sum() / influence.sum()) if influence.sum() > 0 else 0.0
    s = (f"Direct path: of what the cell wrote at the first token, a fraction {trace.survival[0]:.2g} is left at the "
         f"prediction (mean over units). All paths: the first {n} tokens hold {share:.0%} of the gradient norm "
         "of the prediction with respect to the inputs.")
    if occlusion_scores is not None:
        s += f" Occlusion puts {first_share(occlusion_scores, n):.0%} of its |effect| on them."
    return s


def forget_gate_sentence(trace, n: int = FIRST_N) -> str:
    """The mean forget gate over the first n tokens, as measured (replaces any claim that they stay near 1)."""
    n = min(n, len(trace.forget_mean))
    return f"mean forget gate over the first {n} tokens: {float(np.mean(trace.forget_mean[:n])):.2f}"


def headline_contrast(study: dict | None) -> dict[str, dict] | None:
    """Per model (or regime): the planted-at-the-start contrast, with a 95% interval where the study has one.

    Returns {name: {"mean", "low", "high", "seeds", "over"}} or None when the study is missing; `over` says
    what the interval is over ("seeds", or "reviews" for a study of single models); low/high are None where
    there is no interval (a regime of one seed).
    """
    if not study:
        return None
    out = {}
    regimes = study.get("regimes")
    if regimes:
        for name, r in regimes.items():
            c = r.get("planted", {}).get("start_contrast")
            if c:
                out[name] = {"mean": c["mean"], "low": c["low"], "high": c["high"], "seeds": c["n"], "over": "seeds"}
        return out or None
    for name, m in study.get("models", {}).items():
        p = m.get("planted", {})
        if "start" in p.get("distances", []):
            j = p["distances"].index("start")
            mean, sem = p["contrast"][j], p.get("contrast_sem", [0] * len(p["distances"]))[j]
            out[name] = {"mean": mean, "low": mean - 1.96 * sem, "high": mean + 1.96 * sem, "seeds": 1,
                         "over": "reviews"}
    return out or None


def job_kind(key: tuple, kind: str = "analysis") -> str:
    """The compute service's kind for a job keyed (name, model, ids, ...): "long" when the review has more
    than LONG_REVIEW tokens (the app lets at most one worker run those, so another is always free for
    everyone else's pages), else `kind` unchanged."""
    ids = key[2] if len(key) > 2 else None
    heavy = key[0] != "prob"  # one forward pass: the page header never waits behind long jobs
    return "long" if heavy and kind == "analysis" and isinstance(ids, tuple) and len(ids) > LONG_REVIEW else kind
