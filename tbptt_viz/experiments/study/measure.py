"""The IMDB study: can a classifier trained with truncated BPTT use words far from the end of a review?

Four measurements per model, each a pure function of (model, encoded reviews, settings), and two more from
`study.evidence` (issue 23): the memory span beside the training K, and the opening sentence's Shapley value
against its tokens' occlusion:

1. `accuracy_by_length`: accuracy overall and by review length in tokens.
2. `planted_shift`: a short polar phrase inserted d tokens before the end; mean change in P(positive).
3. `context_use`: |P(pos | last n tokens) - P(pos | whole review)|, the probe of Khandelwal et al. 2018,
   "Sharp Nearby, Fuzzy Far Away" (https://arxiv.org/abs/1805.04623).
4. `attribution_shares`: share of |attribution| in the first and in the last `edge` tokens.

Accuracy, planted phrases and context use go through `batch_logits`: length-sorted, right-padded batches,
each row read at its own last real token, so results equal one-review-at-a-time runs up to float32
rounding (within 2e-6 of a logit on the shipped models; tests/test_facts.py measures it).
Attribution uses tbptt_viz's own occlusion and integrated gradients, one review at a time. `run_study`
ties the four together for several models; `study_stats` pools seeds into regimes, `study_report`
writes the tables and `figures_study` the figures, all from the results dict.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from tbptt_viz.attribution.integrated import MAX_EVALUATIONS_DEFAULT
from tbptt_viz.core.model import LSTMClassifier
from tbptt_viz.core.text import UNK_ID, tokenize
from tbptt_viz.core.train import length_batches, pad_batch
from tbptt_viz.experiments.study.defaults import NEGATIVE_PHRASE, POSITIVE_PHRASE, ZOO_ORDER  # noqa: F401 - public here

START = "start"                              # plant the phrase before the first token
LENGTH_EDGES = (0, 30, 100, 250, 500)        # bins [0,30) [30,100) [100,250) [250,500) [500,inf)
LENGTH_LABELS = ("< 30", "30-99", "100-249", "250-499", ">= 500")
PLANT_DISTANCES = (0, 5, 10, 20, 30, 50, 100, 200, START)
CONTEXT_SIZES = (5, 10, 20, 30, 50, 100, 200, "all")
TOKEN_BUDGET = 65536  # padded tokens per batch: keeps one CPU core busy, a few hundred MB at most
CARD_FIELDS = ("name", "scheme", "k", "k1", "k2", "label", "seed", "test_accuracy", "sha256", "config_sha256",
               "vocab_sha256")


# ---------------------------------------------------------------------------------------------------------
# Batched model calls
# ---------------------------------------------------------------------------------------------------------
@torch.no_grad()
def batch_logits(model: LSTMClassifier, seqs: Sequence[Sequence[int]], token_budget: int = TOKEN_BUDGET) -> np.ndarray:
    """Logits (N,) float64 of every sequence, in input order, from length-sorted right-padded batches."""
    lengths = [len(s) for s in seqs]
    if lengths and min(lengths) == 0:
        raise ValueError("a sequence has no tokens")
    out = np.empty(len(seqs))
    for batch in length_batches(lengths, token_budget=token_budget):
        ids, lens = pad_batch([list(seqs[i]) for i in batch])
        out[batch] = model(ids, lens).double().numpy()  # each row read at its own last real token
    return out


def probs(model: LSTMClassifier, seqs: Sequence[Sequence[int]], token_budget: int = TOKEN_BUDGET) -> np.ndarray:
    """P(positive) (N,) float64."""
    return 1.0 / (1.0 + np.exp(-batch_logits(model, seqs, token_budget)))


def encode_phrase(model: LSTMClassifier, phrase: str) -> list[int]:
    """Phrase -> ids; refuses words outside the model's vocabulary (an <unk> would not be a polar signal)."""
    tokens = tokenize(phrase)
    ids = model.vocab.encode(tokens)
    unknown = [t for t, i in zip(tokens, ids) if i == UNK_ID]
    if not tokens or unknown:
        raise ValueError(f"phrase {phrase!r} must be non-empty words of the vocabulary; unknown: {unknown}")
    return ids


def balanced_sample(labels: Sequence[int], n: int, seed: int, eligible: Sequence[bool] | None = None) -> np.ndarray:
    """Sorted indices of n//2 eligible reviews per label (fewer where fewer exist), seeded."""
    labels = np.asarray(labels)
    ok = np.ones(len(labels), bool) if eligible is None else np.asarray(eligible, bool)
    rng = np.random.default_rng(seed)
    picks = []
    for label in (0, 1):
        pool = np.flatnonzero(ok & (labels == label))
        picks.append(rng.choice(pool, size=min(n // 2, len(pool)), replace=False))
    return np.sort(np.concatenate(picks)).astype(int)


# ---------------------------------------------------------------------------------------------------------
# 1. Accuracy by length
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LengthAccuracy:
    bins: tuple[str, ...]   # (L,) bin names, [lo, hi) in tokens
    count: np.ndarray       # (L,) reviews per bin
    correct: np.ndarray     # (L,) correctly classified reviews per bin
    accuracy: np.ndarray    # (L,) correct / count (nan for an empty bin)
    overall: float          # accuracy over all reviews
    n: int


def accuracy_by_length(lengths: Sequence[int], logits: Sequence[float], labels: Sequence[int]) -> LengthAccuracy:
    """Accuracy of logit > 0 overall and within each length bin of LENGTH_EDGES."""
    lengths, labels = np.asarray(lengths), np.asarray(labels)
    right = (np.asarray(logits) > 0).astype(int) == labels
    which = np.searchsorted(LENGTH_EDGES, lengths, side="right") - 1  # (N,) bin index
    count = np.bincount(which, minlength=len(LENGTH_EDGES))
    correct = np.bincount(which, weights=right, minlength=len(LENGTH_EDGES)).astype(int)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = correct / count
    return LengthAccuracy(LENGTH_LABELS, count, correct, acc, float(right.mean()) if len(right) else math.nan,
                          len(right))


# ---------------------------------------------------------------------------------------------------------
# 2. Planted signal
# ---------------------------------------------------------------------------------------------------------
def plant(ids: Sequence[int], phrase: Sequence[int], d: int | str) -> list[int]:
    """Insert `phrase` so that exactly d review tokens follow its last token.

        review r_0 .. r_{T-1}:   r_0 ... r_{T-d-1} | phrase | r_{T-d} ... r_{T-1}
                                                          ^ last phrase token, then d tokens to the end

    d = 0 appends the phrase (its last token is the final token); d = T, or "start", puts it before r_0.
    A distance outside 0..T would place the phrase outside the sequence and is refused.
    """
    T = len(ids)
    if d == START:
        d = T
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or not 0 <= d <= T:
        raise ValueError(f"cannot plant {d!r} tokens before the end of a {T}-token review (need 0 <= d <= {T})")
    if not phrase:
        raise ValueError("the planted phrase is empty")
    return [*ids[: T - d], *phrase, *ids[T - d :]]


@dataclass(frozen=True)
class PlantedShift:
    distances: tuple             # (D,) ints or "start"
    n: np.ndarray                # (D,) reviews with at least d tokens (all for "start")
    positive_increase: np.ndarray  # (D,) mean P(pos | positive phrase planted) - P(pos | review)
    negative_decrease: np.ndarray  # (D,) mean P(pos | review) - P(pos | negative phrase planted)
    positive_sem: np.ndarray     # (D,) standard error of positive_increase
    negative_sem: np.ndarray     # (D,) standard error of negative_decrease
    contrast: np.ndarray         # (D,) mean P(pos | positive planted) - P(pos | negative planted), same reviews
    contrast_sem: np.ndarray     # (D,) its standard error (the unmodified review cancels out of this one)
    n_against: np.ndarray        # (D, 2) reviews labelled against each phrase: (negative reviews, positive reviews)
    positive_increase_against: np.ndarray  # (D,) positive phrase, negative reviews only
    negative_decrease_against: np.ndarray  # (D,) negative phrase, positive reviews only


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if len(x) else math.nan


def _sem(x: np.ndarray) -> float:
    return float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else math.nan


def planted_shift(model: LSTMClassifier, seqs: Sequence[Sequence[int]], labels: Sequence[int],
                  positive: Sequence[int], negative: Sequence[int], distances: Sequence = PLANT_DISTANCES,
                  base: np.ndarray | None = None, token_budget: int = TOKEN_BUDGET) -> PlantedShift:
    """Mean shift in P(positive) when a polar phrase (ids) is planted d tokens before the end.

    Only reviews with T >= d take part at distance d. `base` (N,) P(positive) of the unmodified
    reviews, computed here when not given. `contrast` compares the two planted copies directly, so
    whatever inserting any five tokens does to a review cancels out of it. All planted copies of one distance run as one batched call.
    """
    labels = np.asarray(labels)
    base = probs(model, seqs, token_budget) if base is None else np.asarray(base)
    cols = {k: [] for k in ("n", "pi", "nd", "ps", "ns", "c", "cs", "na", "pia", "nda")}
    for d in distances:
        rows = [i for i, s in enumerate(seqs) if d == START or len(s) >= d]
        both = probs(model, [plant(seqs[i], p, d) for p in (positive, negative) for i in rows], token_budget)
        up = both[: len(rows)] - base[rows]    # positive phrase: how much P(pos) rises
        down = base[rows] - both[len(rows) :]  # negative phrase: how much P(pos) falls
        neg_rows, pos_rows = labels[rows] == 0, labels[rows] == 1
        for key, value in (("n", len(rows)), ("pi", _mean(up)), ("nd", _mean(down)), ("ps", _sem(up)),
                           ("ns", _sem(down)), ("c", _mean(up + down)), ("cs", _sem(up + down)), ("na", (int(neg_rows.sum()), int(pos_rows.sum()))),
                           ("pia", _mean(up[neg_rows])), ("nda", _mean(down[pos_rows]))):
            cols[key].append(value)
    a = {k: np.array(v) for k, v in cols.items()}
    return PlantedShift(tuple(distances), a["n"].astype(int), a["pi"], a["nd"], a["ps"], a["ns"], a["c"], a["cs"],
                        a["na"].reshape(-1, 2).astype(int), a["pia"], a["nda"])


# ---------------------------------------------------------------------------------------------------------
# 3. Context use (Khandelwal et al. 2018)
# ---------------------------------------------------------------------------------------------------------
def last_n(ids: Sequence[int], n: int | str) -> list[int]:
    """The last n tokens (the whole review when n >= T or n == "all")."""
    if n == "all":
        return list(ids)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"context size must be a whole number >= 1 or 'all', got {n!r}")
    return list(ids[-n:])


@dataclass(frozen=True)
class ContextUse:
    sizes: tuple                 # (S,) n values (ints, "all")
    n: np.ndarray                # (S,) reviews longer than n (all reviews for "all")
    mean_abs_diff: np.ndarray    # (S,) mean |P(pos | last n) - P(pos | whole)|
    flip_rate: np.ndarray        # (S,) share whose predicted class changes when only the last n are read
    accuracy_last_n: np.ndarray  # (S,) accuracy reading only the last n tokens, on those reviews
    accuracy_whole: np.ndarray   # (S,) accuracy reading the whole review, on the same reviews


def context_use(model: LSTMClassifier, seqs: Sequence[Sequence[int]], labels: Sequence[int],
                sizes: Sequence = CONTEXT_SIZES, base: np.ndarray | None = None,
                token_budget: int = TOKEN_BUDGET) -> ContextUse:
    """How much the prediction changes when the model reads only the last n tokens (from a zero state).

    For each n only reviews with T > n take part (shorter ones are unchanged by construction).
    "all" re-runs the whole reviews through the same batched path: its difference measures rounding only.
    """
    labels = np.asarray(labels)
    base = probs(model, seqs, token_budget) if base is None else np.asarray(base)
    cols = {k: [] for k in ("n", "diff", "flip", "acc_n", "acc_w")}
    for n in sizes:
        rows = [i for i, s in enumerate(seqs) if n == "all" or len(s) > n]
        p = probs(model, [last_n(seqs[i], n) for i in rows], token_budget)
        w, y = base[rows], labels[rows]
        for key, value in (("n", len(rows)), ("diff", _mean(np.abs(p - w))),
                           ("flip", _mean(((p > 0.5) != (w > 0.5)).astype(float))),
                           ("acc_n", _mean(((p > 0.5) == y).astype(float))),
                           ("acc_w", _mean(((w > 0.5) == y).astype(float)))):
            cols[key].append(value)
    a = {k: np.array(v) for k, v in cols.items()}
    return ContextUse(tuple(sizes), a["n"].astype(int), a["diff"], a["flip"], a["acc_n"], a["acc_w"])


# ---------------------------------------------------------------------------------------------------------
# 4. Attribution mass at the edges: occlusion (exact) and integrated gradients (with their own check)
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AttributionShares:
    method: str
    edge: int                  # tokens counted at each end
    n: int                     # reviews
    first_share: np.ndarray    # (R,) sum |a[:edge]| / sum |a| per review
    last_share: np.ndarray     # (R,) sum |a[-edge:]| / sum |a| per review
    uniform_share: np.ndarray  # (R,) edge / T: either share if |attribution| were spread evenly
    converged: np.ndarray | None = None     # (R,) bool, integrated gradients only
    evaluations: np.ndarray | None = None   # (R,) gradient evaluations, integrated gradients only
    relative_gap: np.ndarray | None = None  # (R,) |completeness gap| / |F(x) - F(baseline)|
    relative_error: np.ndarray | None = None  # (R,) per-token error estimate (L2) / tolerance: converged iff <= 1
    rank_one: np.ndarray | None = None      # (R,) path intervals credited as rank one (integrated.py)


def edge_shares(scores: Sequence[np.ndarray], edge: int, method: str, **checks) -> AttributionShares:
    """Share of total |attribution| in the first and last `edge` tokens of each review."""
    first, last, uniform = [], [], []
    for a in scores:
        a = np.abs(np.asarray(a, float))
        total = a.sum()
        first.append(a[:edge].sum() / total if total > 0 else math.nan)
        last.append(a[-edge:].sum() / total if total > 0 else math.nan)
        uniform.append(min(edge, len(a)) / len(a))
    return AttributionShares(method, edge, len(first), np.array(first), np.array(last), np.array(uniform), **checks)


def occlusion_shares(model: LSTMClassifier, seqs: Sequence[Sequence[int]], edge: int = 30) -> AttributionShares:
    from tbptt_viz.attribution.probe import occlusion_scores

    return edge_shares([occlusion_scores(model, list(s)) for s in seqs], edge, "occlusion")


def ig_shares(model: LSTMClassifier, seqs: Sequence[Sequence[int]], edge: int = 30, points: int = 4,
              max_evaluations: int = MAX_EVALUATIONS_DEFAULT) -> AttributionShares:
    """Integrated gradients of the logit per review (tbptt_viz.attribution: adaptive, float64), with each
    review's convergence, evaluations, per-token error estimate (over its tolerance) and relative completeness
    gap recorded next to its shares."""
    from tbptt_viz.attribution.methods import attribute

    results = [attribute(model, list(s), "integrated_gradients", points=points, max_evaluations=max_evaluations)
               for s in seqs]
    gaps = [abs(r.completeness_gap) / max(abs(r.target_change), 1e-12) for r in results]
    return edge_shares([r.scores for r in results], edge, "integrated_gradients",
                       converged=np.array([r.converged for r in results]),
                       evaluations=np.array([r.evaluations for r in results]), relative_gap=np.array(gaps),
                       relative_error=np.array([r.error_estimate / r.tolerance for r in results]),
                       rank_one=np.array([r.rank_one_intervals for r in results]))


# ---------------------------------------------------------------------------------------------------------
# The whole study
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StudySettings:
    plant_sample: int = 1000          # balanced seeded sample for planted signal and context use
    attribution_sample: int = 200     # balanced seeded sample for occlusion shares
    ig_sample: int = 100              # the first N of that sample for integrated gradients
    ig_points: int = 4                # Gauss-Legendre nodes per path interval
    ig_max_evaluations: int = MAX_EVALUATIONS_DEFAULT  # per review, before it is reported unconverged
    attribution_min_len: int = 100    # attribution sample: reviews of min..max tokens
    attribution_max_len: int = 500
    edge: int = 30                    # tokens counted at each end for attribution shares
    memory_sample: int = 50           # memory span: reviews of the planted sample longer than memory_max_lag
    memory_max_lag: int = 500         # lags followed from each source (every shipped model falls below 1% within it)
    memory_sources: int = 2           # sources per review, evenly spaced from the first token
    together_sample: int = 50         # opening sentence's Shapley value: first N of the attribution sample
    together_samples: int = 2         # permutations per repeat (antithetic pairs)
    together_repeats: int = 8         # independent repeats (standard error)
    distances: tuple = PLANT_DISTANCES
    context_sizes: tuple = CONTEXT_SIZES
    positive_phrase: str = POSITIVE_PHRASE
    negative_phrase: str = NEGATIVE_PHRASE
    seed: int = 0
    token_budget: int = TOKEN_BUDGET
    notes: dict = field(default_factory=lambda: {
        "length": "tokens of the project tokenizer, whole review (no cut), bins [lo, hi)",
        "planted": "phrase inserted so that exactly d review tokens follow its last token; d=0 appends it; "
                   "'start' puts it before the first token; only reviews with T >= d take part",
        "context": "last n tokens read from a zero state; only reviews with T > n take part",
        "attribution": "per-token scores of the logit, |.| shares of the review's total; occlusion on every "
                       "review of the sample, integrated gradients (adaptive, all-pad baseline) on the first "
                       "ig_sample of them, reported on all and on the converged ones",
        "correct": "accuracy.correct_bits: one bit per test review (1 = classified correctly), base64 of "
                   "numpy.packbits in review order, for paired tests between models",
        "memory": "memory span: first lag at which the median over (review, source) of ||dh_{S+lag}/dx_S||_F / "
                  "||dh_S/dx_S||_F falls below 1% (experiments/study/evidence.py)",
        "together": "opening sentence's Shapley value (sentences as players) vs the sum of its tokens' occlusion",
    })


def plain(obj):
    """Dataclass/numpy -> JSON-ready lists and floats, nan -> None."""
    if hasattr(obj, "__dataclass_fields__"):
        obj = asdict(obj)
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return plain(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return None if not math.isfinite(obj) else round(float(obj), 6)
    return obj


def pack_bits(flags) -> str:
    import base64

    return base64.b64encode(np.packbits(np.asarray(flags, dtype=bool)).tobytes()).decode()


def unpack_bits(text: str, n: int) -> np.ndarray:
    import base64

    return np.unpackbits(np.frombuffer(base64.b64decode(text), dtype=np.uint8))[:n].astype(bool)


def study_model(model: LSTMClassifier, encoded: Sequence[Sequence[int]], labels: Sequence[int],
                settings: StudySettings, with_ig: bool = True, log: Callable = lambda s: None) -> dict:
    """All four measurements for one model -> a JSON-ready dict (with seconds spent on each)."""
    budget, seconds = settings.token_budget, {}
    t = time.perf_counter()
    logits = batch_logits(model, encoded, budget)
    accuracy = accuracy_by_length([len(s) for s in encoded], logits, labels)
    correct = (logits > 0).astype(int) == np.asarray(labels)
    seconds["accuracy"] = time.perf_counter() - t
    log(f"accuracy {accuracy.overall:.4f} on {accuracy.n} reviews ({seconds['accuracy']:.0f} s)")

    t = time.perf_counter()
    rows = balanced_sample(labels, settings.plant_sample, settings.seed)
    sample, y = [encoded[i] for i in rows], np.asarray(labels)[rows]
    base = 1.0 / (1.0 + np.exp(-logits[rows]))  # the unmodified reviews, already computed above
    planted = planted_shift(model, sample, y, encode_phrase(model, settings.positive_phrase),
                            encode_phrase(model, settings.negative_phrase), settings.distances, base, budget)
    seconds["planted"] = time.perf_counter() - t
    log(f"planted signal on {len(rows)} reviews ({seconds['planted']:.0f} s)")

    t = time.perf_counter()
    context = context_use(model, sample, y, settings.context_sizes, base, budget)
    seconds["context"] = time.perf_counter() - t
    log(f"context use ({seconds['context']:.0f} s)")

    t = time.perf_counter()
    lengths = np.array([len(s) for s in encoded])
    fits = (lengths >= settings.attribution_min_len) & (lengths <= settings.attribution_max_len)
    arows = balanced_sample(labels, settings.attribution_sample, settings.seed + 1, fits)
    attr_seqs = [encoded[i] for i in arows]
    occlusion = occlusion_shares(model, attr_seqs, settings.edge)
    seconds["occlusion"] = time.perf_counter() - t
    log(f"occlusion on {occlusion.n} reviews ({seconds['occlusion']:.0f} s)")
    attribution = {"occlusion": _share_summary(occlusion, settings)}
    if with_ig and settings.ig_sample > 0:
        t = time.perf_counter()
        ig = ig_shares(model, attr_seqs[: settings.ig_sample], settings.edge, settings.ig_points,
                       settings.ig_max_evaluations)
        seconds["integrated_gradients"] = time.perf_counter() - t
        attribution["integrated_gradients"] = _share_summary(ig, settings)
        log(f"integrated gradients on {ig.n} reviews, {np.mean(ig.converged):.0%} converged "
            f"({seconds['integrated_gradients']:.0f} s)")

    from tbptt_viz.experiments.study.evidence import study_evidence

    evidence, spent = study_evidence(model, encoded, labels, settings, log)
    seconds.update(spent)
    card = getattr(model, "card", {}) or {}
    out = plain({
        "card": {k: card.get(k) for k in CARD_FIELDS},
        "accuracy": accuracy,
        "planted": planted,
        "context": context,
        "attribution": attribution,
        **evidence,
        "seconds": seconds,
    })
    out["accuracy"]["correct_bits"] = pack_bits(correct)
    return out


def _share_summary(shares: AttributionShares, settings: StudySettings) -> dict:
    out = {"method": shares.method, "edge": shares.edge, "n": shares.n,
           "first_share": _mean(shares.first_share), "last_share": _mean(shares.last_share),
           "first_sem": _sem(shares.first_share), "last_sem": _sem(shares.last_share),
           "uniform_share": _mean(shares.uniform_share),
           "review_lengths": [settings.attribution_min_len, settings.attribution_max_len]}
    if shares.converged is not None:
        ok = shares.converged
        out.update({"points": settings.ig_points, "max_evaluations": settings.ig_max_evaluations,
                    "converged_fraction": _mean(ok.astype(float)), "n_converged": int(ok.sum()),
                    "evaluations_median": float(np.median(shares.evaluations)),
                    "evaluations_p95": float(np.percentile(shares.evaluations, 95)),
                    "relative_gap_median": float(np.median(shares.relative_gap)),
                    "relative_gap_max": float(np.max(shares.relative_gap)),
                    "error_to_tolerance_median": float(np.median(shares.relative_error)),
                    "error_to_tolerance_max": float(np.max(shares.relative_error)),
                    "rank_one_fraction": _mean((shares.rank_one > 0).astype(float)),
                    "first_share_converged": _mean(shares.first_share[ok]),
                    "last_share_converged": _mean(shares.last_share[ok])})
    return out


def run_study(models: dict[str, LSTMClassifier], encoded: Sequence[Sequence[int]], labels: Sequence[int],
              settings: StudySettings = StudySettings(), log: Callable = lambda s: None,
              ig_models: Sequence[str] | None = None) -> dict:
    """The study for every model (name -> model, all sharing one vocabulary) on the same encoded reviews.

    `ig_models`: the models that also get integrated gradients (default: all)."""
    if not models:
        raise ValueError("no models to study")
    if not encoded or any(len(s) == 0 for s in encoded):
        raise ValueError("the reviews must be non-empty")
    start = time.perf_counter()
    results = {}
    for name, model in models.items():
        log(f"== {name}")
        t = time.perf_counter()
        results[name] = study_model(model, encoded, labels, settings, ig_models is None or name in ig_models,
                                    lambda s: log(f"  {name}: {s}"))
        results[name]["wall_time_s"] = round(time.perf_counter() - t, 1)
    return plain({
        "question": "Can an LSTM trained with truncated BPTT (last-K, chunked, k1k2) use words far from the end?",
        "settings": settings,
        "reviews": len(encoded),
        "labels": {"negative": int(np.sum(np.asarray(labels) == 0)), "positive": int(np.sum(np.asarray(labels) == 1))},
        "models": results,
        "total_wall_time_s": round(time.perf_counter() - start, 1),
        "torch_threads": torch.get_num_threads(),
    })
