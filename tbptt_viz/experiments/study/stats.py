"""Seeds pooled into regimes, and regimes compared seed pair by seed pair; every interval says what it is over.

A regime is a training recipe (full BPTT, last-K with K = 30, ...); its models differ only in the seed, named
`<regime>-seed<N>` (seed 0 carries the bare name). Seed s of every regime starts from the same initial weights
and sees the training batches in the same order (the seed drives both), so seed s of regime A and seed s of
regime B form a *matched seed pair*. Three kinds of interval, each dict saying which in `over`:

- over seeds (`t_interval`): a regime's number is the mean of its per-seed values x_1..x_n with the 95%
  t-interval of that mean, mean +- t_{0.975, n-1} s / sqrt(n) (s the sample SD, ddof = 1), and the 95%
  prediction interval for one new seed, mean +- t_{0.975, n-1} s sqrt(1 + 1/n). With one seed there is
  no spread to estimate: no interval (low = high = None), never a zero-width one.
- over reviews, one model (`review_interval`, `proportion_interval`): for numbers measured on seed 0 only
  (integrated gradients); mean +- 1.96 SEM over the reviews, or Wilson's score interval for a fraction.
  These say how precisely that one model was measured, nothing about other seeds.
- a comparison of regimes A and B (`compare`): the per-pair differences d_s = x_A(s) - x_B(s) over the
  matched seed pairs, with the t-interval of their mean (over seeds). "higher"/"lower" only where that
  interval excludes 0, else "not established with n seeds"; "in every seed pair" always means every
  matched pair has the same sign. For accuracy the pooled paired interval over the 25,000 reviews (per
  review, the fraction of seeds right) and McNemar's exact test per matched pair are kept, labelled as
  over reviews: they measure how well these particular models are told apart, not a new seed's result.
"""
from __future__ import annotations

import math
import re

import numpy as np

_SEED = re.compile(r"-seed(\d+)$")
Z95 = 1.959964  # two-sided 95% normal quantile

SEEDS = "seeds"
REVIEWS = "reviews"
POOLED = "reviews (seed pairs pooled)"


def regime_of(name: str) -> tuple[str, int]:
    """('imdb-full', 2) from 'imdb-full-seed2'; ('imdb-full', 0) from 'imdb-full'."""
    m = _SEED.search(name)
    return (name[: m.start()], int(m.group(1))) if m else (name, 0)


def _finite(values) -> np.ndarray:
    return np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)


def t_interval(values) -> dict:
    """Mean of per-seed values with the 95% t-interval of the mean and the 95% prediction interval for one new
    seed (module docstring). Fewer than two values: no interval."""
    from scipy import stats

    x = _finite(values)
    out = {"mean": None, "low": None, "high": None, "n": len(x), "sd": None, "over": SEEDS,
           "values": [float(v) for v in x], "prediction": {"low": None, "high": None}}
    if len(x) == 0:
        return out
    out["mean"] = float(x.mean())
    if len(x) < 2:
        return out
    sd = float(x.std(ddof=1))
    t = float(stats.t.ppf(0.975, len(x) - 1))
    half, pred = t * sd / math.sqrt(len(x)), t * sd * math.sqrt(1 + 1 / len(x))
    return {**out, "low": out["mean"] - half, "high": out["mean"] + half, "sd": sd,
            "prediction": {"low": out["mean"] - pred, "high": out["mean"] + pred}}


def review_interval(mean: float | None, sem: float | None, n: int, seed: int = 0) -> dict:
    """One model's mean over n reviews with mean +- 1.96 SEM (no interval without an SEM)."""
    ok = mean is not None and sem is not None and math.isfinite(sem)
    half = Z95 * sem if ok else None
    return {"mean": mean, "low": mean - half if ok else None, "high": mean + half if ok else None, "n": n,
            "over": REVIEWS, "seed": seed}


def proportion_interval(k: int, n: int, seed: int = 0) -> dict:
    """One model's fraction k/n of reviews with Wilson's 95% score interval (stays inside [0, 1])."""
    if n <= 0:
        return {"mean": None, "low": None, "high": None, "n": 0, "over": REVIEWS, "seed": seed}
    p, z2 = k / n, Z95 ** 2
    centre, half = (p + z2 / (2 * n)) / (1 + z2 / n), Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return {"mean": p, "low": max(0.0, centre - half), "high": min(1.0, centre + half), "n": n, "over": REVIEWS,
            "seed": seed}


def verdict(interval: dict) -> str:
    """'higher' or 'lower' where a difference's interval excludes 0, else 'not established with n seeds'."""
    low, high = interval.get("low"), interval.get("high")
    if low is not None and low > 0:
        return "higher"
    if high is not None and high < 0:
        return "lower"
    n = interval.get("n", 0)
    return f"not established with {n} seed{'s' if n != 1 else ''}"


def every_pair(diffs) -> str | None:
    """'higher'/'lower' when every matched seed pair's difference has that sign, else None."""
    d = _finite(diffs)
    if len(d) and np.all(d > 0):
        return "higher"
    if len(d) and np.all(d < 0):
        return "lower"
    return None


def matched_difference(a: dict[int, float], b: dict[int, float]) -> dict:
    """x_A(s) - x_B(s) for every seed s both regimes have, with its interval over seeds and what it establishes."""
    seeds = sorted(s for s in set(a) & set(b) if a[s] is not None and b[s] is not None)
    diffs = [a[s] - b[s] for s in seeds]
    over = t_interval(diffs)
    return {"seeds": seeds, "per_pair": diffs, "over_seeds": over, "verdict": verdict(over),
            "every_seed_pair": every_pair(diffs)}


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> dict:
    """McNemar's exact test on one matched pair's per-review correctness (bool (N,) each); over reviews."""
    from scipy import stats

    only_a = int(np.sum(correct_a & ~correct_b))
    only_b = int(np.sum(~correct_a & correct_b))
    p = float(stats.binomtest(only_a, only_a + only_b, 0.5).pvalue) if only_a + only_b else 1.0
    return {"only_a": only_a, "only_b": only_b, "diff": (only_a - only_b) / len(correct_a), "mcnemar_p": p}


def pooled_over_reviews(correct_a: np.ndarray, correct_b: np.ndarray) -> dict:
    """Paired t-interval over reviews of d_i = (fraction of A's seeds right) - (fraction of B's seeds right).

    correct_* (seeds, N) bool, the matched seeds only. It treats the reviews as the sample and the models as
    fixed, so it is narrower than the interval over seeds and says nothing about a new seed.
    """
    from scipy import stats

    d = np.atleast_2d(correct_a).mean(0) - np.atleast_2d(correct_b).mean(0)
    n, mean, sd = len(d), float(d.mean()), float(d.std(ddof=1))
    half = float(stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n))
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": n, "over": POOLED}


def _models_by_regime(results: dict) -> dict[str, list[tuple[int, str]]]:
    groups: dict[str, list[tuple[int, str]]] = {}
    for name in results["models"]:
        regime, seed = regime_of(name)
        groups.setdefault(regime, []).append((seed, name))
    return {r: sorted(v) for r, v in groups.items()}


PLANTED_SEM = {"contrast": "contrast_sem", "positive_increase": "positive_sem", "negative_decrease": "negative_sem"}
IG_SHARES = ("first_share", "last_share", "first_share_converged", "last_share_converged")


def _single_seed(method: str, seed: int, m: dict) -> dict:
    """One model's attribution numbers, each with its interval over that model's reviews (seed `seed` only)."""
    n = m["n"]
    out = {"seed": seed, "n_reviews": n}
    for key in ("first_share", "last_share") + (IG_SHARES[2:] if method == "integrated_gradients" else ()):
        if key in m:  # an SEM over the converged reviews only where the study stored one
            sem = m.get(key.replace("share", "sem"))
            if sem is None and key.endswith("_converged") and m.get("n_converged") == n:
                sem = m.get(key.replace("share_converged", "sem"))  # every review converged: the same reviews
            out[key] = review_interval(m[key], sem, m.get("n_converged", n) if key.endswith("_converged") else n,
                                       seed)
    if "converged_fraction" in m:
        out["converged_fraction"] = proportion_interval(round(m["converged_fraction"] * n), n, seed)
    if "rank_one_fraction" in m:
        out["rank_one_fraction"] = proportion_interval(round(m["rank_one_fraction"] * n), n, seed)
    for key in ("evaluations_median", "error_to_tolerance_median"):  # medians over reviews: no spread stored
        if key in m:  # error_to_tolerance_median: studies with per-token error control (issue #22)
            out[key] = review_interval(m[key], None, n, seed)
    return out


def aggregate(results: dict) -> dict:
    """Per regime: every number over seeds (t-interval, prediction interval), and the attribution numbers of
    the lowest seed that has them with intervals over reviews (see the module docstring)."""
    from tbptt_viz.experiments.study.measure import unpack_bits

    out = {}
    for regime, members in _models_by_regime(results).items():
        seeds = [s for s, _ in members]
        ms = [results["models"][name] for _, name in members]
        p0, c0 = ms[0]["planted"], ms[0]["context"]
        r = {"seeds": seeds, "models": [name for _, name in members],
             "accuracy": {"overall": t_interval([m["accuracy"]["overall"] for m in ms]),
                          "bins": ms[0]["accuracy"]["bins"],
                          "by_length": [t_interval([m["accuracy"]["accuracy"][j] for m in ms])
                                        for j in range(len(ms[0]["accuracy"]["bins"]))]},
             "planted": {"distances": p0["distances"],
                         **{key: [t_interval([m["planted"][key][j] for m in ms]) for j in range(len(p0["distances"]))]
                            for key in PLANTED_SEM}},
             "context": {"sizes": c0["sizes"], "n": c0["n"],
                         **{key: [t_interval([m["context"][key][j] for m in ms]) for j in range(len(c0["sizes"]))]
                            for key in ("mean_abs_diff", "accuracy_last_n")}},
             "attribution": {}}
        if "start" in p0["distances"]:
            j = p0["distances"].index("start")
            r["planted"]["start_contrast"] = r["planted"]["contrast"][j]
            r["planted"]["start_contrast_seed0"] = review_interval(p0["contrast"][j], p0[PLANTED_SEM["contrast"]][j],
                                                                   p0["n"][j], seeds[0])
        for method in ("occlusion", "integrated_gradients"):
            have = [(s, m["attribution"][method]) for s, m in zip(seeds, ms) if method in m.get("attribution", {})]
            if not have:
                continue
            a = {"n_reviews": have[0][1]["n"], "seeds": len(have),
                 "single_seed": _single_seed(method, *have[0])}
            if method == "occlusion":  # measured on every seed: over seeds as well
                a.update({k: t_interval([h[k] for _, h in have]) for k in ("first_share", "last_share")})
            r["attribution"][method] = a
        r.update(evidence_pooled(seeds, ms))
        n = results["reviews"]
        r["_per_seed"] = {s: {"accuracy": m["accuracy"]["overall"],
                              "start_contrast": (m["planted"]["contrast"][m["planted"]["distances"].index("start")]
                                                 if "start" in m["planted"]["distances"] else None),
                              "correct": unpack_bits(m["accuracy"]["correct_bits"], n)}
                          for s, m in zip(seeds, ms)}
        out[regime] = r
    return out


def compare(ra: dict, rb: dict) -> dict:
    """Regime A against regime B over their matched seed pairs: accuracy and the planted-at-the-start contrast."""
    pa, pb = ra["_per_seed"], rb["_per_seed"]
    acc = matched_difference({s: v["accuracy"] for s, v in pa.items()}, {s: v["accuracy"] for s, v in pb.items()})
    seeds = acc["seeds"]
    acc["mcnemar"] = [{"seed": s, **mcnemar(pa[s]["correct"], pb[s]["correct"])} for s in seeds]
    if len(seeds) > 1:
        acc["pooled_over_reviews"] = pooled_over_reviews(np.stack([pa[s]["correct"] for s in seeds]),
                                                         np.stack([pb[s]["correct"] for s in seeds]))
    out = {"accuracy": acc}
    sa, sb = ra["planted"].get("start_contrast"), rb["planted"].get("start_contrast")
    if sa and sb:
        out["start_contrast"] = {"a": sa, "b": sb,
                                 "ratio": sa["mean"] / sb["mean"] if sb["mean"] else None,
                                 **matched_difference({s: v["start_contrast"] for s, v in pa.items()},
                                                      {s: v["start_contrast"] for s, v in pb.items()})}
    return out


def evidence_pooled(seeds: list[int], ms: list[dict]) -> dict:
    """Issue 23's measurements: the memory span (over the seeds that have it) and how often the opening
    sentence's Shapley value exceeds its tokens' occlusion sum (the lowest seed that has it, with Wilson's
    intervals over its reviews). Absent from studies run before them."""
    out = {}
    mem = [(s, m["memory"]) for s, m in zip(seeds, ms) if m.get("memory", {}).get("pairs")]
    if mem:
        first, spans = mem[0][1], [m["span"] for _, m in mem]
        out["memory"] = {"span": t_interval([v for v in spans if v is not None]), "seeds": [s for s, _ in mem],
                         "without_span": sum(v is None for v in spans), "max_lag": first["max_lag"],
                         "threshold": first["threshold"], "training_window": first["training_window"],
                         "lags": first["lags"],
                         "median_ratio": [float(np.mean([m["median_ratio"][j] for _, m in mem]))
                                          for j in range(len(first["lags"]))]}
    together = [(s, m["together"]) for s, m in zip(seeds, ms) if m.get("together", {}).get("n")]
    if together:
        seed, t = together[0]
        n = t["n"]
        out["together"] = {"seed": seed, "n_reviews": n, "median_ratio": t["median_ratio"],
                           **{key: proportion_interval(round(t[key] * n), n, seed)
                              for key in ("exceeds_fraction", "exceeds_clearly_fraction", "same_sign_fraction")}}
    return out


# Comparisons the study reports, (a, b) meaning a - b. Any pair of regimes works; add pairs here.
PAIRS = (("imdb-last-k30", "imdb-full"), ("imdb-last-k10", "imdb-full"), ("imdb-last-k100", "imdb-full"),
         ("imdb-chunked-k30", "imdb-full"), ("imdb-k1k2-30-60", "imdb-full"), ("imdb-chunked-k30", "imdb-last-k30"),
         ("imdb-k1k2-30-60", "imdb-chunked-k30"),
         ("imdb-chunked-k30-per-chunk", "imdb-chunked-k30"))  # the update rule: a step per chunk vs per review


def comparisons(regimes: dict, pairs=PAIRS) -> list[dict]:
    """`compare` for each (a, b) of `pairs` whose regimes are both present."""
    return [{"a": a, "b": b, **compare(regimes[a], regimes[b])} for a, b in pairs if a in regimes and b in regimes]


INTERVALS = ("Every interval is 95% and says what it is over. Over seeds: the t-interval of the mean of the "
             "per-seed values (sample SD, ddof = 1), and a prediction interval for one new seed; none with one "
             "seed. Over reviews (seed 0 only): mean +- 1.96 SEM over one model's reviews, Wilson's interval for "
             "a fraction. Comparisons: differences over the matched seed pairs (seed s of both regimes: the same "
             "initial weights and batch order), 'higher'/'lower' only where their interval over seeds excludes 0; "
             "McNemar's exact test per matched pair and the paired interval with the seed pairs pooled are over "
             "reviews.")


def with_regimes(results: dict, pairs=PAIRS) -> dict:
    """The results dict with `regimes` (pooled over seeds) and `comparisons` recomputed, JSON-ready. Keys the
    results carry beyond these (new measurements) pass through untouched."""
    from tbptt_viz.experiments.study.measure import plain

    regimes = aggregate(results)
    comps = comparisons(regimes, pairs)
    for r in regimes.values():
        r.pop("_per_seed")
    return {**results, "regimes": plain(regimes), "comparisons": plain(comps), "intervals": INTERVALS}
