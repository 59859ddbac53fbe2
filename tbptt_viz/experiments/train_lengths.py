"""How long the shipped models' training reviews are, in the tokens the models read.

The student's question assumes reviews of 100-300 words; the shipped models were trained on every IMDB
training review with no length cap (`train_config.max_len` is null in every card). This module counts the
training split's lengths with the project tokenizer (words and punctuation marks, `<br />` dropped) so the
page and the docs can say both, separately. `scripts/train_lengths.py --data-dir PATH` writes the summary to
results/train_lengths.json, which the app and the tests read without the data.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from tbptt_viz.core.text import tokenize

BAND = (100, 300)  # the question's "100-300 words", inclusive at both ends
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
EDGES = (0, 50, 100, 150, 200, 250, 300, 400, 500, 750, 1000, 1500, 2000, 3000)


def length_distribution(texts: Iterable[str], band: tuple[int, int] = BAND) -> dict:
    """Token counts of `texts` summarised: how many fall below, inside and above `band` (inclusive), the
    extremes, quantiles and a histogram on EDGES ([lo, hi) bins, the last one open)."""
    n_tokens = np.array([len(tokenize(t)) for t in texts])
    if len(n_tokens) == 0:
        raise ValueError("no reviews")
    lo, hi = band
    parts = {"shorter": n_tokens < lo, "within": (n_tokens >= lo) & (n_tokens <= hi), "longer": n_tokens > hi}
    edges = list(EDGES) + [int(n_tokens.max()) + 1] if n_tokens.max() >= EDGES[-1] else list(EDGES)
    counts, _ = np.histogram(n_tokens, bins=edges)
    return {"reviews": int(len(n_tokens)), "band": [lo, hi],
            **{k: {"count": int(m.sum()), "fraction": round(float(m.mean()), 6)} for k, m in parts.items()},
            "min": int(n_tokens.min()), "max": int(n_tokens.max()), "mean": round(float(n_tokens.mean()), 2),
            "quantiles": {str(q): float(np.quantile(n_tokens, q)) for q in QUANTILES},
            "histogram": {"edges": edges, "counts": counts.tolist()},
            "tokens": "tbptt_viz.core.text.tokenize: words (inner apostrophes kept) and punctuation marks, "
                      "lower-cased, <br /> dropped"}
