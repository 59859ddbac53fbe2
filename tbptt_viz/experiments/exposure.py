"""Training exposure: where in the training set each word of a review received a training gradient.

A word's embedding is trained only where a training loss's gradient reaches it. For a training review of
T tokens, position t is reached when some window (p, s) of the scheme has s <= t <= p
(`core.schemes.backprop_count(windows, T)[t] > 0`). For a word w:

    occurrences(w) = #{training reviews containing w}
    in_reach(w)    = #{training reviews with at least one occurrence of w at a reached position}

Which positions are reached, with r = T-1-t the distance from the review's end:

    full, chunked:        every position                      -> in_reach = occurrences
    last-K:               r < K                               -> needs, per (word, review), r_min
    TBPTT(k1, k2), k2>=k1: every position (each loss every k1 steps reaches k2 >= k1 back)
    TBPTT(k1, k2), k2<k1:  r < k2, or (t mod k1) >= k1 - k2   (the next loss at or after t is
                          min(k1 - 1 - t mod k1, r) steps away and must be < k2)

So one number per (word, review) pair, the smallest distance from the end of the word's occurrences,
makes every last-K count exact for every K: in_reach_K(w) = #{pairs of w with r_min < K}. The statistics
store, per word, the sorted distinct r_min values with the cumulative number of pairs up to each
(`ExposureStats`), built once from the training split (`build_exposure`) and shipped as a file
(`exposure_store`).

TBPTT with k2 < k1 also depends on every occurrence's position modulo k1, i.e. on all 6.6 million token
positions of the IMDB training split, not one number per pair; the smallest encoding measured for them is
8.5 MB (lzma), against 1.1 MB for everything else. So for k2 < k1 the counts are exact bounds, not exact
values: at least the pairs with an occurrence inside the last k2 tokens (the final window reaches them),
at most every pair (`WordExposure.exact` is False and `in_reach_high` carries the upper bound).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence

import numpy as np

from tbptt_viz.core.schemes import make_scheme
from tbptt_viz.core.text import UNK_ID


@dataclass(frozen=True)
class ExposureStats:
    """Per word, the distribution of r_min (the last occurrence's distance from its review's end).

    Entries of word w are rows word_start[w] .. word_start[w+1]-1, sorted by distance (strictly increasing).
    """

    reviews: int                 # training reviews counted
    tokens: int                  # training tokens counted (unknown words included)
    word_start: np.ndarray       # (V+1,) int64 first row of each word
    distance: np.ndarray         # (U,) int64 distinct r_min values of the word
    pairs_within: np.ndarray     # (U,) int64 pairs of the word with r_min <= distance (cumulative)
    occurrences: np.ndarray      # (V,) int64 reviews containing the word (its last cumulative count)
    vocab_sha256: str            # the vocabulary the ids refer to (sha256 of its JSON file)
    meta: dict                   # where the statistics come from (data, date, command)

    @property
    def vocab_size(self) -> int:
        return len(self.word_start) - 1

    def pairs_closer_than(self, ids: np.ndarray, k: int) -> np.ndarray:
        """(N,) for each word id: training reviews with an occurrence less than k tokens from the end."""
        ids = np.asarray(ids, dtype=np.int64)
        start, end = self.word_start[ids], self.word_start[ids + 1]
        out = np.zeros(len(ids), dtype=np.int64)
        for j, (a, b) in enumerate(zip(start.tolist(), end.tolist())):  # one binary search per word
            n = int(np.searchsorted(self.distance[a:b], k, side="left"))   # rows with r_min < k
            out[j] = self.pairs_within[a + n - 1] if n else 0
        return out


def build_exposure(encoded: Iterable[Sequence[int]], vocab_size: int, vocab_sha256: str,
                   meta: dict | None = None) -> ExposureStats:
    """The statistics of a training split given as id lists (whole reviews: the shipped models train on
    every token, max_len None). Padding (0) and unknown words (1) are not counted."""
    lengths, chunks = [], []
    for seq in encoded:
        a = np.asarray(seq, dtype=np.int64).reshape(-1)
        if a.size and (a.min() < 0 or a.max() >= vocab_size):
            raise ValueError(f"a review holds ids outside 0..{vocab_size - 1}")
        lengths.append(len(a))
        chunks.append(a)
    lengths = np.asarray(lengths, dtype=np.int64)
    words = np.concatenate(chunks) if chunks else np.zeros(0, np.int64)          # (N,) every token
    review = np.repeat(np.arange(len(lengths)), lengths)                          # (N,) its review
    t = np.arange(len(words)) - np.repeat(np.cumsum(lengths) - lengths, lengths)  # (N,) its position
    r = lengths[review] - 1 - t                                                   # (N,) distance from the end
    keep = words > UNK_ID
    words, review, r = words[keep], review[keep], r[keep]
    # r_min per (word, review) pair: sort by (word, review, r), keep each pair's first row
    order = np.lexsort((r, review, words))
    words, review, r = words[order], review[order], r[order]
    first = np.ones(len(words), dtype=bool)
    first[1:] = (words[1:] != words[:-1]) | (review[1:] != review[:-1])
    pair_word, pair_r = words[first], r[first]
    # distinct (word, r_min) with the number of pairs at each, then cumulative within the word
    stride = int(pair_r.max()) + 1 if len(pair_r) else 1
    keys, counts = np.unique(pair_word * stride + pair_r, return_counts=True)
    entry_word, distance = keys // stride, keys % stride
    word_start = np.searchsorted(entry_word, np.arange(vocab_size + 1), side="left").astype(np.int64)
    within = cumulative_within(counts, word_start)
    return ExposureStats(int(len(lengths)), int(lengths.sum()), word_start, distance.astype(np.int64), within,
                         occurrences_of(within, word_start), vocab_sha256, dict(meta or {}))


def cumulative_within(counts: np.ndarray, word_start: np.ndarray) -> np.ndarray:
    """Running sums of `counts` that restart at every word's first row."""
    total = np.cumsum(np.asarray(counts, dtype=np.int64))
    before = np.concatenate([[0], total])[word_start[:-1]]           # (V,) sum before each word
    return total - np.repeat(before, np.diff(word_start))


def occurrences_of(pairs_within: np.ndarray, word_start: np.ndarray) -> np.ndarray:
    """(V,) each word's last cumulative count (0 for words never seen)."""
    has = np.diff(word_start) > 0
    out = np.zeros(len(word_start) - 1, dtype=np.int64)
    out[has] = pairs_within[word_start[1:][has] - 1]
    return out


@dataclass(frozen=True)
class WordExposure:
    """For each token of a review: in how many training reviews its word occurs, and in how many of them an
    occurrence lies where the scheme's training gradient reaches. -1 marks unknown words (no statistics)."""

    ids: np.ndarray            # (T,) token ids
    known: np.ndarray          # (T,) bool: a vocabulary word (not <unk>/<pad>)
    occurrences: np.ndarray    # (T,) int64 training reviews containing the word; -1 if unknown
    in_reach: np.ndarray       # (T,) int64 of those, reviews where the gradient reaches it (lower bound if not exact)
    in_reach_high: np.ndarray  # (T,) int64 upper bound (equal to in_reach when exact)
    exact: bool                # False only for TBPTT(k1, k2) with k2 < k1 (see the module docstring)
    reviews: int               # training reviews in all
    scheme: str
    k: int | None
    k1: int | None
    k2: int | None
    label: str                 # the scheme's label, e.g. "last-K (K=30)"

    @property
    def share(self) -> np.ndarray:
        """(T,) in_reach / occurrences (NaN for unknown words and words never seen in training)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.occurrences > 0, self.in_reach / np.maximum(self.occurrences, 1), np.nan)


def exposure_of(stats: ExposureStats, ids, scheme: str = "last-k", k: int | None = None, k1: int | None = None,
                k2: int | None = None) -> WordExposure:
    """Training exposure of each token of `ids` under a scheme (see the module docstring)."""
    sch = make_scheme(scheme, k, k1, k2)
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    if ids.size and (ids.min() < 0 or ids.max() >= stats.vocab_size):
        raise ValueError(f"token ids must be in 0..{stats.vocab_size - 1}")
    known = ids > UNK_ID
    words, where = np.unique(ids[known], return_inverse=True)   # each distinct word searched once
    occ = stats.occurrences[words]
    if sch.name == "last-k":
        low = high = stats.pairs_closer_than(words, sch.k)
    elif sch.name == "k1k2" and sch.k2 < sch.k1:
        low, high = stats.pairs_closer_than(words, sch.k2), occ  # the final window reaches the last k2 tokens
    else:  # full, chunked, k1k2 with k2 >= k1: every position is reached by some window
        low = high = occ
    out = []
    for values in (occ, low, high):
        full = np.full(len(ids), -1, dtype=np.int64)
        full[known] = values[where]
        out.append(full)
    return WordExposure(ids, known, out[0], out[1], out[2], not (sch.name == "k1k2" and sch.k2 < sch.k1),
                        stats.reviews, sch.name, sch.k, sch.k1, sch.k2, sch.label)


def vocab_sha256(vocab) -> str:
    """sha256 of the vocabulary's JSON file as `Vocab.save` writes it (the cards' `vocab_sha256`)."""
    return _vocab_digest(tuple(vocab.itos))


@lru_cache(maxsize=8)
def _vocab_digest(itos: tuple) -> str:
    return hashlib.sha256(json.dumps({"itos": list(itos)}, ensure_ascii=False).encode("utf-8")).hexdigest()


def word_exposure(model, ids, scheme: str = "last-k", k: int | None = None, k1: int | None = None,
                  k2: int | None = None, stats: ExposureStats | None = None) -> WordExposure:
    """Training exposure of each token of `ids` for a model's vocabulary (see the module docstring).

    Args:
        model: an LSTMClassifier with a vocabulary (or a Vocab): only its vocabulary is read, to check that
            the statistics count the same words; the model is never run.
        ids: the review's token ids (T,).
        scheme, k, k1, k2: the training scheme whose reach is counted (full | last-k | chunked | k1k2).
        stats: the statistics; default the shipped ones (pretrained/exposure.safetensors, built from the
            IMDB training split by `python -m tbptt_viz exposure-stats`).
    Returns:
        WordExposure: occurrences, in_reach (and its upper bound when not exact) per token.
    """
    vocab = getattr(model, "vocab", model)
    if vocab is None or not hasattr(vocab, "itos"):
        raise ValueError("word_exposure needs a model with a vocabulary (or a Vocab)")
    max_len = ((getattr(model, "card", None) or {}).get("train_config") or {}).get("max_len")
    if max_len:
        raise ValueError(f"this model was trained on reviews cut to {max_len} tokens; the statistics count whole "
                         "reviews (max_len None), so their positions would not be the model's")
    if stats is None:
        from tbptt_viz.experiments.exposure_store import shipped_exposure

        stats = shipped_exposure()
    if vocab_sha256(vocab) != stats.vocab_sha256:
        raise ValueError("the exposure statistics were built for another vocabulary; rebuild them with "
                         "`python -m tbptt_viz exposure-stats --vocab <this model's vocab.json>`")
    return exposure_of(stats, ids, scheme, k, k1, k2)
