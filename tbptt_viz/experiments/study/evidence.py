"""Two study measurements for issue 23: the models' memory span, and words that act together.

1. `memory_span`: for sources S in study reviews, the ratio state_norm[S + lag] / state_norm[S] with
   state_norm[t] = ||dh_t / dx_S||_F (`attribution.connectivity`). The span is the first lag at which the
   median ratio over all (review, source) pairs falls below 1%: how far the trained model carries a word
   forward, to set beside the K it was trained with.
2. `group_vs_occlusion`: on attribution reviews, the opening sentence's Shapley value (the whole sentence as
   one player, `attribution.shapley`) against the sum of its tokens' single-token occlusion scores. When a
   verdict is said several times, removing one word changes little while the sentence as a whole matters:
   the measurement counts how often |value| exceeds |sum of occlusion|, and how often it does so by more
   than the value's own 95% sampling error.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from scipy import stats

from tbptt_viz.attribution.connectivity import connectivity
from tbptt_viz.attribution.probe import occlusion_scores
from tbptt_viz.attribution.shapley import group_shapley, sentence_groups
from tbptt_viz.core.model import LSTMClassifier

SPAN_THRESHOLD = 0.01


@dataclass(frozen=True)
class MemorySpan:
    lags: np.ndarray           # (L,) 0..max_lag
    median_ratio: np.ndarray   # (L,) median over (review, source) of state_norm[S+lag] / state_norm[S]
    low_ratio: np.ndarray      # (L,) 25th percentile
    high_ratio: np.ndarray     # (L,) 75th percentile
    pairs: int                 # (review, source) pairs
    reviews: int
    span: int | None           # first lag with median_ratio < threshold; None if not within max_lag
    threshold: float
    max_lag: int


def memory_span(model: LSTMClassifier, seqs: Sequence[Sequence[int]], max_lag: int = 200, sources: int = 2,
                threshold: float = SPAN_THRESHOLD) -> MemorySpan:
    """The memory span over reviews longer than max_lag: `sources` positions per review, evenly spaced from 0
    to T - max_lag - 1 (so every source has the whole curve); each curve runs on the review cut at S+max_lag."""
    curves = []
    used = 0
    for s in seqs:
        T = len(s)
        if T <= max_lag:
            continue
        used += 1
        for S in np.unique(np.linspace(0, T - max_lag - 1, sources).round().astype(int)):
            c = connectivity(model, torch.as_tensor(list(s[: S + max_lag + 1])), int(S))
            curves.append(c.state_norm / c.state_norm[0] if c.state_norm[0] > 0 else np.zeros_like(c.state_norm))
    if not curves:
        raise ValueError(f"no review is longer than max_lag = {max_lag} tokens")
    ratio = np.stack(curves)                                     # (pairs, max_lag + 1)
    median = np.median(ratio, 0)
    below = np.flatnonzero(median < threshold)
    return MemorySpan(np.arange(max_lag + 1), median, np.percentile(ratio, 25, 0), np.percentile(ratio, 75, 0),
                      len(curves), used, int(below[0]) if below.size else None, threshold, max_lag)


@dataclass(frozen=True)
class GroupVsOcclusion:
    """Per review (R,): the opening sentence's Shapley value and the sum of its tokens' occlusion."""

    group_value: np.ndarray      # phi of the opening sentence
    half_width: np.ndarray       # its 95% half-width over repeats (0 when exact)
    occlusion_sum: np.ndarray    # sum over its tokens of logit(review) - logit(token replaced by padding)
    opening_tokens: np.ndarray   # tokens in the opening sentence
    groups: np.ndarray           # sentences in the review
    exact: np.ndarray            # bool: every coalition evaluated (<= 8 sentences)
    converged: np.ndarray        # bool: every sentence's value within tolerance

    @property
    def exceeds(self) -> np.ndarray:
        return np.abs(self.group_value) > np.abs(self.occlusion_sum)

    @property
    def exceeds_clearly(self) -> np.ndarray:
        """|value| minus its 95% sampling half-width still exceeds |sum of occlusion|."""
        return np.abs(self.group_value) - self.half_width > np.abs(self.occlusion_sum)


def group_vs_occlusion(model: LSTMClassifier, seqs: Sequence[Sequence[int]], samples: int = 2, repeats: int = 8,
                       seed: int = 0) -> GroupVsOcclusion:
    """The opening sentence as one player (sentences of the model's vocabulary) vs its tokens' occlusion."""
    if model.vocab is None:
        raise ValueError("sentence groups need the model's vocabulary")
    rows = []
    for s in seqs:
        ids = torch.as_tensor(list(s))
        groups = sentence_groups(model.vocab.decode(ids.tolist()))
        r = group_shapley(model, ids, groups, samples, repeats, seed)
        start, end = (int(v) for v in r.groups[0])
        half = 0.0 if r.exact else float(stats.t.ppf(0.975, repeats - 1) * r.standard_error[0])
        occ = float(occlusion_scores(model, ids)[start:end].sum())
        rows.append((r.values[0], half, occ, end - start, len(r.groups), r.exact, r.converged))
    a = list(zip(*rows)) if rows else [[]] * 7
    return GroupVsOcclusion(*(np.asarray(v, dtype=float) for v in a[:3]), np.asarray(a[3], dtype=int),
                            np.asarray(a[4], dtype=int), np.asarray(a[5], dtype=bool), np.asarray(a[6], dtype=bool))


def summarise_memory(m: MemorySpan, card: dict) -> dict:
    """JSON-ready: the span beside the training window (K, or k2 for TBPTT), and the curve at a few lags."""
    window = card.get("k2") if card.get("scheme") == "k1k2" else card.get("k")
    return {"span": m.span, "threshold": m.threshold, "max_lag": m.max_lag, "pairs": m.pairs, "reviews": m.reviews,
            "training_window": window, "scheme": card.get("scheme"),
            "lags": m.lags.tolist(), "median_ratio": m.median_ratio.tolist(), "low_ratio": m.low_ratio.tolist(),
            "high_ratio": m.high_ratio.tolist(),
            "how": "median over (review, source) of ||dh_{S+lag}/dx_S||_F / ||dh_S/dx_S||_F; span = first lag "
                   "with median below threshold (None: not within max_lag)"}


def summarise_together(g: GroupVsOcclusion, samples: int, repeats: int) -> dict:
    n = len(g.group_value)
    frac = lambda a: float(np.mean(a)) if n else math.nan  # noqa: E731
    ratio = np.abs(g.group_value) / np.maximum(np.abs(g.occlusion_sum), 1e-12)
    return {"n": n, "exceeds_fraction": frac(g.exceeds), "exceeds_clearly_fraction": frac(g.exceeds_clearly),
            "exceeds_sem": float(np.std(g.exceeds, ddof=1) / math.sqrt(n)) if n > 1 else None,
            "median_ratio": float(np.median(ratio)) if n else None,
            "same_sign_fraction": frac(np.sign(g.group_value) == np.sign(g.occlusion_sum)),
            "exact_fraction": frac(g.exact), "converged_fraction": frac(g.converged),
            "opening_tokens_median": float(np.median(g.opening_tokens)) if n else None,
            "sentences_median": float(np.median(g.groups)) if n else None, "samples": samples, "repeats": repeats,
            "how": "opening sentence's Shapley value (sentences as players, all-padding baseline, logit) vs the sum "
                   "of its tokens' single-token occlusion; exceeds: |value| > |sum|; clearly: by more than the "
                   "value's 95% half-width over repeats (0 when exact, <= 8 sentences)"}


def study_evidence(model: LSTMClassifier, encoded: Sequence[Sequence[int]], labels: Sequence[int], settings,
                   log=lambda s: None) -> tuple[dict, dict]:
    """Both measurements on the study's own samples -> ({"memory": ..., "together": ...}, seconds spent).

    Memory: the first settings.memory_sample reviews longer than memory_max_lag of the planted-phrase sample.
    Together: the first settings.together_sample reviews of the attribution sample (100-500 tokens)."""
    import time

    from tbptt_viz.experiments.study.measure import balanced_sample

    out, seconds = {}, {}
    card = getattr(model, "card", {}) or {}
    if settings.memory_sample > 0:
        t = time.perf_counter()
        rows = balanced_sample(labels, settings.plant_sample, settings.seed)
        long = [encoded[i] for i in rows if len(encoded[i]) > settings.memory_max_lag][: settings.memory_sample]
        if long:
            m = memory_span(model, long, settings.memory_max_lag, settings.memory_sources)
            out["memory"] = summarise_memory(m, card)
            log(f"memory span {m.span} (K {out['memory']['training_window']}) over {m.pairs} sources")
        else:
            out["memory"] = {"pairs": 0, "max_lag": settings.memory_max_lag,
                             "note": "no review of the sample is longer than max_lag"}
        seconds["memory"] = time.perf_counter() - t
    if settings.together_sample > 0:
        t = time.perf_counter()
        lengths = np.array([len(s) for s in encoded])
        fits = (lengths >= settings.attribution_min_len) & (lengths <= settings.attribution_max_len)
        arows = balanced_sample(labels, settings.attribution_sample, settings.seed + 1, fits)
        g = group_vs_occlusion(model, [encoded[i] for i in arows[: settings.together_sample]],
                               settings.together_samples, settings.together_repeats, settings.seed)
        out["together"] = summarise_together(g, settings.together_samples, settings.together_repeats)
        seconds["together"] = time.perf_counter() - t
        log(f"opening sentence's Shapley value exceeds its occlusion sum on {out['together']['exceeds_fraction']:.0%} "
            f"of {g.group_value.size} reviews ({seconds['together']:.0f} s)")
    return out, seconds
