"""A view's per-token numbers as the CSV and JSON files its download buttons offer."""
from __future__ import annotations

import json
import re

import numpy as np


def export_stem(view: str, meta: dict) -> str:
    """A file name stem naming the view, model, review, scheme, K and method."""
    parts = [view] + [str(meta[k]) for k in ("model", "review", "scheme", "k", "method") if meta.get(k) is not None]
    return "tbptt_viz_" + re.sub(r"[^A-Za-z0-9._-]+", "-", "_".join(parts))[:120]


def export_payload(view: str, tokens, columns: dict, meta: dict) -> tuple[str, str, str]:
    """(CSV text, JSON text, file stem) of a view's per-token numbers; the stem names model, review, scheme, K.

    `columns`: {name: (T,) array}; `meta`: the settings behind them (arrays become lists in the JSON)."""
    import pandas as pd

    T = len(tokens)
    table = pd.DataFrame({"t": np.arange(T), "token": list(tokens), "steps_from_end": T - 1 - np.arange(T),
                          **{k: np.asarray(v) for k, v in columns.items()}})
    plain = json.dumps({**meta, "view": view, "per_token": table.to_dict("list")},
                       default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v))
    return table.to_csv(index=False), plain, export_stem(view, meta)
