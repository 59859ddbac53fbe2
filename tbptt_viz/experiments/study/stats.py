"""Seeds pooled into regimes: means with 95% intervals, and paired tests of accuracy on the same reviews.

A regime is a training recipe (full BPTT, last-K with K = 30, ...); its models differ only in the seed, named
`<regime>-seed<N>` (seed 0 carries the bare name). Every number of a regime is the mean over its seeds with
a t-based 95% interval over seeds (mean +- t_{0.975, n-1} s / sqrt(n), s the sample SD, ddof = 1). With one
seed there is no spread over seeds to estimate, and the interval is the review-level one (mean +- 1.96 SEM),
marked `over: "reviews"`.
"""
from __future__ import annotations

import math
import re

import numpy as np

_SEED = re.compile(r"-seed(\d+)$")


def regime_of(name: str) -> tuple[str, int]:
    """('imdb-full', 2) from 'imdb-full-seed2'; ('imdb-full', 0) from 'imdb-full'."""
    m = _SEED.search(name)
    return (name[: m.start()], int(m.group(1))) if m else (name, 0)


def t_interval(values, sem_if_single: float | None = None) -> dict:
    """Mean and 95% interval of per-seed values (t over seeds; see the module docstring for one seed)."""
    from scipy import stats

    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if len(x) == 0:
        return {"mean": None, "low": None, "high": None, "n": 0, "sd": None, "over": "seeds"}
    mean = float(x.mean())
    if len(x) == 1:
        half = 1.96 * sem_if_single if sem_if_single is not None and math.isfinite(sem_if_single) else 0.0
        return {"mean": mean, "low": mean - half, "high": mean + half, "n": 1, "sd": None, "over": "reviews"}
    sd = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.975, len(x) - 1) * sd / math.sqrt(len(x)))
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": len(x), "sd": sd, "over": "seeds",
            "values": [float(v) for v in x]}


def paired_accuracy(correct_a: np.ndarray, correct_b: np.ndarray) -> dict:
    """Paired comparison on the same reviews. correct_* (seeds, N) bool; seeds may differ in number.

    Per review, each regime's accuracy is the fraction of its seeds that classify it correctly; the
    difference d_i is tested with a paired t-test over reviews (95% interval of the mean difference).
    Seed-matched pairs (seed s of A against seed s of B) also get McNemar's exact test, and `all_seeds`
    says whether every matched pair differs in the same direction.
    """
    from scipy import stats

    a, b = np.atleast_2d(correct_a).astype(float), np.atleast_2d(correct_b).astype(float)
    d = a.mean(0) - b.mean(0)
    n = len(d)
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    half = float(stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n))
    p = float(stats.ttest_rel(a.mean(0), b.mean(0)).pvalue) if sd > 0 else 1.0
    matched = []
    for s in range(min(len(a), len(b))):
        only_a = int(np.sum((a[s] == 1) & (b[s] == 0)))
        only_b = int(np.sum((a[s] == 0) & (b[s] == 1)))
        p_mc = float(stats.binomtest(only_a, only_a + only_b, 0.5).pvalue) if only_a + only_b else 1.0
        matched.append({"seed": s, "diff": (only_a - only_b) / n, "only_a": only_a, "only_b": only_b,
                        "mcnemar_p": p_mc})
    signs = {np.sign(m["diff"]) for m in matched}
    return {"diff": mean, "low": mean - half, "high": mean + half, "p": p, "n_reviews": n, "seed_pairs": matched,
            "all_seeds": len(signs) == 1 and 0 not in signs}


def _models_by_regime(results: dict) -> dict[str, list[tuple[int, str]]]:
    groups: dict[str, list[tuple[int, str]]] = {}
    for name in results["models"]:
        regime, seed = regime_of(name)
        groups.setdefault(regime, []).append((seed, name))
    return {r: sorted(v) for r, v in groups.items()}


def aggregate(results: dict) -> dict:
    """Per regime: every table's numbers as mean over seeds with a 95% interval (see the module docstring)."""
    from tbptt_viz.experiments.study.measure import unpack_bits

    out = {}
    for regime, members in _models_by_regime(results).items():
        ms = [results["models"][name] for _, name in members]
        p0, c0 = ms[0]["planted"], ms[0]["context"]
        one = len(ms) == 1
        r = {"seeds": [s for s, _ in members], "models": [name for _, name in members],
             "accuracy": {"overall": t_interval([m["accuracy"]["overall"] for m in ms]),
                          "bins": ms[0]["accuracy"]["bins"],
                          "by_length": [t_interval([m["accuracy"]["accuracy"][j] for m in ms])
                                        for j in range(len(ms[0]["accuracy"]["bins"]))]},
             "planted": {"distances": p0["distances"],
                         **{key: [t_interval([m["planted"][key][j] for m in ms],
                                             m_sem(ms, key, j) if one else None)
                                  for j in range(len(p0["distances"]))]
                            for key in ("contrast", "positive_increase", "negative_decrease")}},
             "context": {"sizes": c0["sizes"], "n": c0["n"],
                         **{key: [t_interval([m["context"][key][j] for m in ms]) for j in range(len(c0["sizes"]))]
                            for key in ("mean_abs_diff", "accuracy_last_n")}},
             "attribution": {}}
        if "start" in p0["distances"]:
            r["planted"]["start_contrast"] = r["planted"]["contrast"][p0["distances"].index("start")]
        for method in ("occlusion", "integrated_gradients"):
            have = [m["attribution"][method] for m in ms if method in m.get("attribution", {})]
            if not have:
                continue
            keys = ["first_share", "last_share"] + (["converged_fraction", "first_share_converged",
                                                     "last_share_converged", "evaluations_median",
                                                     "rank_one_fraction"]
                                                    if method == "integrated_gradients" else [])
            keys = [k for k in keys if all(k in h for h in have)]  # rank_one_fraction: studies since 2026-11-27
            r["attribution"][method] = {k: t_interval([h[k] for h in have],
                                                      h_sem(have, k) if len(have) == 1 else None) for k in keys}
            r["attribution"][method]["n_reviews"] = have[0]["n"]
            r["attribution"][method]["seeds"] = len(have)
        n = results["reviews"]
        r["_correct"] = np.stack([unpack_bits(m["accuracy"]["correct_bits"], n) for m in ms])
        out[regime] = r
    return out


def m_sem(ms, key, j):
    sem_key = {"contrast": "contrast_sem", "positive_increase": "positive_sem", "negative_decrease": "negative_sem"}
    return ms[0]["planted"][sem_key[key]][j]


def h_sem(have, key):
    return have[0].get(key.replace("share", "sem").replace("_converged", "")) if key.endswith("share") else None


def comparisons(regimes: dict, pairs) -> list[dict]:
    """Paired accuracy tests and the planted-at-start contrast for each (a, b) pair of regimes present."""
    out = []
    for a, b in pairs:
        if a not in regimes or b not in regimes:
            continue
        ra, rb = regimes[a], regimes[b]
        test = paired_accuracy(ra["_correct"], rb["_correct"])
        ca = ra["planted"].get("start_contrast", {}).get("values") or [ra["planted"]["start_contrast"]["mean"]]
        cb = rb["planted"].get("start_contrast", {}).get("values") or [rb["planted"]["start_contrast"]["mean"]]
        out.append({"a": a, "b": b, "accuracy": test,
                    "start_contrast": {"a": ra["planted"]["start_contrast"], "b": rb["planted"]["start_contrast"],
                                       "ratio": ra["planted"]["start_contrast"]["mean"]
                                       / rb["planted"]["start_contrast"]["mean"],
                                       "every_seed_pair_lower": all(x < y for x in ca for y in cb),
                                       "every_seed_pair_higher": all(x > y for x in ca for y in cb)}})
    return out


PAIRS = (("imdb-last-k30", "imdb-full"), ("imdb-last-k10", "imdb-full"), ("imdb-last-k100", "imdb-full"),
         ("imdb-chunked-k30", "imdb-full"), ("imdb-k1k2-30-60", "imdb-full"), ("imdb-chunked-k30", "imdb-last-k30"),
         ("imdb-k1k2-30-60", "imdb-chunked-k30"))


def with_regimes(results: dict) -> dict:
    """The results dict with `regimes` (pooled over seeds) and `comparisons` added, JSON-ready."""
    from tbptt_viz.experiments.study.measure import plain

    regimes = aggregate(results)
    comps = comparisons(regimes, PAIRS)
    for r in regimes.values():
        r.pop("_correct")
    return {**results, "regimes": plain(regimes), "comparisons": plain(comps),
            "intervals": "95% t-interval over seeds (sample SD, ddof=1); with one seed, mean +- 1.96 SEM over "
                         "reviews; accuracy differences: paired t-test over the same test reviews (per-review "
                         "accuracy averaged over seeds) and McNemar's exact test per matched seed pair"}
