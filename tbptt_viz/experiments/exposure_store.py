"""The exposure statistics as files: safetensors (numbers) + JSON (card with the sha256), never pickle.

Layout of `exposure.safetensors` (E rows, one per distinct (word, r_min); see `exposure`):

    word_start              uint32 (V+1,)  first row of each word
    distance_step           uint8  (E,)    r_min minus the previous row's r_min of the same word (the first
                                           row: r_min itself); 255 means "see the escape table"
    distance_escape_row     uint32 (D,)    rows whose step is >= 255 ...
    distance_escape_value   uint32 (D,)    ... and their steps
    pairs                   uint8  (E,)    (word, review) pairs with exactly this r_min; 255: see escape
    pairs_escape_row        uint32 (P,)
    pairs_escape_value      uint32 (P,)

Steps of r_min within a word are small (99.5% below 255 on IMDB) and so are the pair counts, so one byte a
row plus a short escape table keeps the file at ~2.8 MB for IMDB's 1.36 million rows, while every value
stays exact. Loading checks sizes, then the card's sha256, then every structural promise the queries rely on.
"""
from __future__ import annotations

import json
import time
from functools import lru_cache
from pathlib import Path

import numpy as np

from tbptt_viz.core.checkpoint import pretrained_dir, sha256
from tbptt_viz.experiments.exposure import ExposureStats, cumulative_within, occurrences_of

FORMAT = "tbptt-viz exposure statistics 1"
STATS_FILE, CARD_FILE = "exposure.safetensors", "exposure.json"
MAX_STATS_BYTES, MAX_CARD_BYTES = 32 << 20, 64 << 10
ESCAPE = 255
NAMES = {"word_start": np.uint32, "distance_step": np.uint8, "distance_escape_row": np.uint32,
         "distance_escape_value": np.uint32, "pairs": np.uint8, "pairs_escape_row": np.uint32,
         "pairs_escape_value": np.uint32}


class ExposureFileError(RuntimeError):
    """An exposure statistics file is missing, too large, tampered with or inconsistent."""


def _escaped(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bytes with 255 where too large, rows of those, their full values)."""
    rows = np.flatnonzero(values >= ESCAPE).astype(np.uint32)
    return np.minimum(values, ESCAPE).astype(np.uint8), rows, values[rows].astype(np.uint32)


def _unescaped(small: np.ndarray, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = small.astype(np.int64)
    out[rows.astype(np.int64)] = values
    return out


def save_exposure(stats: ExposureStats, path: str | Path, card: dict | None = None) -> dict:
    """Write `path` (.safetensors) and its card next to it (`<stem>.json`); returns the card."""
    from safetensors.numpy import save_file

    path = Path(path)
    if stats.word_start[-1] >= 2**32 or stats.reviews >= 2**32:
        raise ValueError("too many rows for the file format (uint32)")
    ws = stats.word_start
    first = np.zeros(len(stats.distance), dtype=bool)
    first[ws[:-1][np.diff(ws) > 0]] = True
    steps = np.where(first, stats.distance, np.diff(stats.distance, prepend=0))
    pairs = np.where(first, stats.pairs_within, np.diff(stats.pairs_within, prepend=0))
    d_small, d_rows, d_values = _escaped(steps)
    p_small, p_rows, p_values = _escaped(pairs)
    tensors = {"word_start": ws.astype(np.uint32), "distance_step": d_small, "distance_escape_row": d_rows,
               "distance_escape_value": d_values, "pairs": p_small, "pairs_escape_row": p_rows,
               "pairs_escape_value": p_values}
    header = {"format": FORMAT, "reviews": str(stats.reviews), "tokens": str(stats.tokens),
              "vocab_sha256": stats.vocab_sha256}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=header)
    card = {"format": FORMAT, "file": path.name, "reviews": stats.reviews, "tokens": stats.tokens,
            "rows": int(len(stats.distance)), "vocab_size": stats.vocab_size, "vocab_sha256": stats.vocab_sha256,
            "max_len": None, "built_on": time.strftime("%Y-%m-%d"), **stats.meta, **(card or {}),
            "bytes": path.stat().st_size, "sha256": sha256(path)}
    path.with_suffix(".json").write_text(json.dumps(card, indent=2))
    return card


def _fail(path, why: str):
    raise ExposureFileError(f"{path}: {why}; rebuild it with `python -m tbptt_viz exposure-stats`")


def load_exposure(path: str | Path) -> ExposureStats:
    """Read and check the statistics (sizes, sha256 against the card, structure); arrays are read-only."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = Path(path)
    card_path = path.with_suffix(".json")
    for p, limit in ((path, MAX_STATS_BYTES), (card_path, MAX_CARD_BYTES)):
        if not p.is_file():
            raise ExposureFileError(f"{p}: missing; build it with `python -m tbptt_viz exposure-stats`")
        if p.stat().st_size > limit:
            _fail(p, f"{p.stat().st_size:,} bytes is over the {limit:,}-byte limit")
    try:
        card = json.loads(card_path.read_text())
    except (OSError, ValueError) as e:
        _fail(card_path, f"unreadable ({e})")
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        _fail(card_path, f"not an exposure card (expected format {FORMAT!r})")
    if sha256(path) != card.get("sha256"):
        _fail(path, "does not match the sha256 in its card (corrupted or tampered)")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as f:
            header = f.metadata() or {}
        arrays = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        _fail(path, f"not a readable safetensors file ({e})")
    if set(arrays) != set(NAMES) or any(arrays[n].dtype != d or arrays[n].ndim != 1 for n, d in NAMES.items()):
        _fail(path, f"must hold exactly {', '.join(NAMES)} as 1-D arrays of the documented types")
    if header.get("format") != FORMAT or header.get("vocab_sha256") != card.get("vocab_sha256"):
        _fail(path, "its header disagrees with its card")
    try:
        reviews, tokens = int(header["reviews"]), int(header["tokens"])
    except (KeyError, ValueError):
        _fail(path, "its header lacks whole numbers for reviews and tokens")
    ws = arrays["word_start"].astype(np.int64)
    rows = len(arrays["distance_step"])
    if len(ws) < 3 or ws[0] != 0 or ws[-1] != rows or np.any(np.diff(ws) < 0) or len(arrays["pairs"]) != rows:
        _fail(path, "word_start does not partition the rows")
    for kind in ("distance", "pairs"):
        r, v = arrays[f"{kind}_escape_row"], arrays[f"{kind}_escape_value"]
        small = arrays["distance_step" if kind == "distance" else "pairs"]
        if len(r) != len(v) or np.any(np.diff(r.astype(np.int64)) <= 0) or (len(r) and r[-1] >= rows) \
                or np.any(v < ESCAPE) or not np.array_equal(np.flatnonzero(small == ESCAPE), r):
            _fail(path, f"its {kind} escape table is inconsistent")
    steps = _unescaped(arrays["distance_step"], arrays["distance_escape_row"], arrays["distance_escape_value"])
    pairs = _unescaped(arrays["pairs"], arrays["pairs_escape_row"], arrays["pairs_escape_value"])
    first = np.zeros(rows, dtype=bool)
    first[ws[:-1][np.diff(ws) > 0]] = True
    if np.any(steps[~first] < 1) or np.any(pairs < 1):
        _fail(path, "distances must increase within a word and every row must count a pair")
    distance = cumulative_within(steps, ws)
    within = cumulative_within(pairs, ws)
    occurrences = occurrences_of(within, ws)
    if len(occurrences) and occurrences.max() > reviews:
        _fail(path, "a word occurs in more reviews than the file counts")
    meta = {k: card[k] for k in ("data", "built_on", "command") if k in card}
    for a in (ws, distance, within, occurrences):
        a.flags.writeable = False  # shared by every request: nothing may change it
    return ExposureStats(reviews, tokens, ws, distance, within, occurrences, header["vocab_sha256"], meta)


def shipped_path() -> Path:
    return pretrained_dir() / STATS_FILE


def shipped_exposure() -> ExposureStats:
    """The shipped statistics (pretrained/exposure.safetensors), loaded and checked once per process."""
    return _cached(str(shipped_path()))


@lru_cache(maxsize=2)
def _cached(path: str) -> ExposureStats:
    return load_exposure(path)
