"""Reading the study's JSON (results/imdb_study.json) in either of its two shapes.

A study run with several seeds per regime has `regimes` (means over seeds with 95% intervals, from
`stats.with_regimes`); an older or single-seed file has only `models`. Everything that reads the file for a
figure, a table or a sentence goes through these functions, so each shape is parsed in one place.
"""
from __future__ import annotations

from tbptt_viz.experiments.study.measure import ZOO_ORDER
from tbptt_viz.experiments.study.stats import review_interval, t_interval


def regimes_of(results: dict) -> dict:
    """The pooled regimes in the zoo's order; an older results file without them gives one pseudo-regime per
    model (its intervals from the one seed's standard errors)."""
    if results.get("regimes"):
        names = sorted(results["regimes"], key=lambda n: (ZOO_ORDER.index(n) if n in ZOO_ORDER else len(ZOO_ORDER), n))
        return {n: results["regimes"][n] for n in names}
    out = {}
    for name, m in results["models"].items():  # one model each: intervals over its reviews where it has an SEM
        p = m["planted"]
        out[name] = {"seeds": [m["card"].get("seed", 0)],
                     "accuracy": {"overall": t_interval([m["accuracy"]["overall"]]), "bins": m["accuracy"]["bins"],
                                  "by_length": [t_interval([a]) for a in m["accuracy"]["accuracy"]]},
                     "planted": {"distances": p["distances"],
                                 "contrast": [review_interval(c, s, n) for c, s, n in
                                              zip(p["contrast"], p["contrast_sem"], p["n"])]},
                     "context": {"sizes": m["context"]["sizes"],
                                 "mean_abs_diff": [t_interval([v]) for v in m["context"]["mean_abs_diff"]]},
                     "attribution": {}}
    return out


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
