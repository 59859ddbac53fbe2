"""The study's tables and headline sentences as Markdown, generated from results/imdb_study.json.

docs/study.md and the README hold these between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`
markers; `python -m tbptt_viz study --out ...` prints them, scripts/update_docs.py writes them in, and a
test fails when a generated block in the docs differs from what the JSON gives.

Every interval printed here names what it is over (tbptt_viz.experiments.study.stats): a column holds one
kind only, and a cell whose interval is of another kind raises instead of being printed under the wrong name.
"""
from __future__ import annotations

import re
from pathlib import Path

from tbptt_viz.experiments.study.results import regimes_of
from tbptt_viz.experiments.study.stats import REVIEWS, SEEDS

SAME_SIGN = "the same sign in every seed pair"
MATCHED = ("matched seed pairs: seed s of both regimes starts from the same initial weights and sees the training "
           "batches in the same order")


def _num(x, digits: int, signed: bool = False) -> str:
    return "-" if x is None else f"{x:{'+' if signed else ''}.{digits}f}"


def _cell(s: dict | None, digits: int = 3, over: str = SEEDS, signed: bool = False) -> str:
    """'mean [low, high]' of an interval over `over`; the mean alone where there is no interval."""
    if not s or s.get("mean") is None:
        return "-"
    if s.get("over") != over:
        raise ValueError(f"an interval over {s.get('over')} in a column over {over}")
    if s.get("low") is None:
        why = {SEEDS: f"{s.get('n', 1)} seed, no interval", REVIEWS: "no interval"}.get(over, "no interval")
        return f"{_num(s['mean'], digits, signed)} ({why})"
    return (f"{_num(s['mean'], digits, signed)} [{_num(s['low'], digits, signed)}, "
            f"{_num(s['high'], digits, signed)}]")


def _prediction(s: dict, digits: int = 4) -> str:
    p = s.get("prediction") or {}
    return "-" if p.get("low") is None else f"[{p['low']:.{digits}f}, {p['high']:.{digits}f}]"


def _p(p: float) -> str:
    return "< 1e-16" if p < 1e-16 else f"{p:.2g}"


def _pairs(d: dict, digits: int) -> str:
    return ", ".join(_num(x, digits, True) for x in d["per_pair"])


def _judged(d: dict) -> str:
    """The verdict of a matched difference, and whether every seed pair has its sign ("in every seed pair"
    means each matched pair, everywhere: accuracy and planted contrast alike)."""
    v, every = d["verdict"], d.get("every_seed_pair")
    sign = {"higher": "positive", "lower": "negative"}
    if v in sign:
        return f"{v}, and {sign[v]} in every seed pair" if every == v else \
            f"{v}, though not {sign[v]} in every seed pair"
    return v + (f", although {sign[every]} in every seed pair" if every else "")


def _difference(d: dict, digits: int) -> str:
    """'per matched seed pair: a, b, c, mean m [lo, hi] over seeds: verdict'."""
    return (f"per matched seed pair: {_pairs(d, digits)}, mean {_cell(d['over_seeds'], digits, signed=True)} "
            f"over seeds: {_judged(d)}")


def _seed_list(r) -> str:
    return ", ".join(str(s) for s in r["seeds"])


def markdown_tables(results: dict) -> str:
    regimes = regimes_of(results)
    first = next(iter(regimes.values()))
    bins = first["accuracy"]["bins"]
    out = [results.get("intervals", ""), "",
           "**Test accuracy** (all 25,000 test reviews; per-seed values in results/imdb_study.json): mean over "
           "seeds [95% interval over seeds], and where one new seed would land (95% prediction interval)", "",
           "| regime | seeds | accuracy | one new seed | " + " | ".join(bins) + " |",
           "|---|---|---|---|" + "---|" * len(bins)]
    for name, r in regimes.items():
        acc = r["accuracy"]["overall"]
        out.append(f"| {name} | {_seed_list(r)} | {_cell(acc, 4)} | {_prediction(acc)} | "
                   + " | ".join(_cell(s) for s in r["accuracy"]["by_length"]) + " |")
    comps = results.get("comparisons") or []
    if comps and "per_pair" in comps[0]["accuracy"]:
        out += ["", f"**Accuracy differences a - b** over {MATCHED}. The verdict rests on the interval over seeds; "
                    "McNemar's test and the pooled interval are over the same 25,000 reviews, for these trained "
                    "models only", "",
                "| a | b | a - b per matched seed pair | mean [95% interval over seeds] | verdict | "
                "McNemar p per seed pair (over reviews) | seed pairs pooled: mean [95% interval over reviews] |",
                "|---|---|---|---|---|---|---|"]
        for c in comps:
            t = c["accuracy"]
            pooled = t.get("pooled_over_reviews")
            out.append(f"| {c['a']} | {c['b']} | {_pairs(t, 4)} | {_cell(t['over_seeds'], 4, signed=True)} | "
                       f"{_judged(t)} | {', '.join(_p(m['mcnemar_p']) for m in t['mcnemar'])} | "
                       + (f"{_num(pooled['mean'], 4, True)} [{_num(pooled['low'], 4, True)}, "
                          f"{_num(pooled['high'], 4, True)}]" if pooled else "-") + " |")
    p = first["planted"]
    n_planted = results.get("settings", {}).get("plant_sample", "")
    out += ["", "**Planted phrase contrast** P(pos | positive phrase) - P(pos | negative phrase), by tokens after "
                f"the phrase ({n_planted} balanced reviews): mean over seeds [95% interval over seeds]", "",
            "| regime | " + " | ".join(f"d={d}" for d in p["distances"]) + " |",
            "|---|" + "---|" * len(p["distances"])]
    for name, r in regimes.items():
        out.append(f"| {name} | " + " | ".join(_cell(s) for s in r["planted"]["contrast"]) + " |")
    starts = [c for c in comps if "per_pair" in c.get("start_contrast", {})]
    if starts:
        out += ["", "**Planted at the very start**: contrast a and b, mean over seeds [95% interval over seeds]; "
                    f"a - b over the {MATCHED}", "",
                "| a | b | contrast a | contrast b | ratio of means a/b | a - b per matched seed pair | "
                "mean [95% interval over seeds] | verdict |", "|---|---|---|---|---|---|---|---|"]
        for c in starts:
            s = c["start_contrast"]
            out.append(f"| {c['a']} | {c['b']} | {_cell(s['a'])} | {_cell(s['b'])} | {_num(s['ratio'], 2)} | "
                       f"{_pairs(s, 3)} | {_cell(s['over_seeds'], 3, signed=True)} | {_judged(s)} |")
    c = first["context"]
    cols = [j for j, s in enumerate(c["sizes"]) if s != "all"]  # n = all is 0 by definition
    out += ["", "**Context use**: mean |P(pos | last n tokens) - P(pos | whole review)|, mean over seeds [95% "
                "interval over seeds]", "",
            "| regime | " + " | ".join(f"n={c['sizes'][j]}" for j in cols) + " |", "|---|" + "---|" * len(cols)]
    for name, r in regimes.items():
        out.append(f"| {name} | " + " | ".join(_cell(r["context"]["mean_abs_diff"][j], 4) for j in cols) + " |")
    out += _attribution_table(results, regimes)
    return "\n".join(out + evidence_tables(regimes))


def evidence_tables(regimes: dict) -> list[str]:
    """Issue 23's tables (memory span beside K; words acting together), only when the study measured them."""
    out = []
    mem = [(n, r["memory"]) for n, r in regimes.items() if r.get("memory")]
    if mem:
        m0 = mem[0][1]
        out += ["", f"**Memory span**: the first lag at which the median ||dh_(S+lag)/dx_S|| falls below "
                    f"{m0['threshold']:.0%} of its value at the source (followed up to {m0['max_lag']} tokens); "
                    "mean over the seeds measured [95% interval over seeds]", "",
                "| regime | training window (K or k2) | memory span (tokens) | seeds measured | seeds without a span "
                "within the lags |", "|---|---|---|---|---|"]
        for name, m in mem:
            out.append(f"| {name} | {m['training_window'] or 'whole review'} | {_cell(m['span'], 0)} | "
                       f"{', '.join(map(str, m['seeds']))} | {m['without_span']} |")
    tog = [(n, r["together"]) for n, r in regimes.items() if r.get("together")]
    if tog:
        t0 = tog[0][1]
        out += ["", "**Words together**: the opening sentence's Shapley value against the sum of its tokens' "
                    f"single-token occlusion (seed {t0['seed']} only, {t0['n_reviews']} reviews of 100-500 tokens; "
                    "fractions of reviews [Wilson's 95% interval over reviews])", "",
                "| regime | abs(value) > abs(occlusion sum) | by more than its 95% sampling error | "
                "median abs(value) / abs(sum) | same sign |", "|---|---|---|---|---|"]
        for name, t in tog:
            out.append(f"| {name} | {_cell(t['exceeds_fraction'], 2, REVIEWS)} | "
                       f"{_cell(t['exceeds_clearly_fraction'], 2, REVIEWS)} | {t['median_ratio']:.2f} | "
                       f"{_cell(t['same_sign_fraction'], 2, REVIEWS)} |")
    return out


def _attribution_table(results: dict, regimes: dict) -> list[str]:
    rows = [(n, r["attribution"]) for n, r in regimes.items() if r.get("attribution")]
    if not rows:
        return []
    s = results.get("settings", {})
    lo, hi = s.get("attribution_min_len", 100), s.get("attribution_max_len", 500)
    # the per-token error column exists for studies run with per-token error control (issue #22)
    per_token = any("error_to_tolerance_median" in a.get("integrated_gradients", {}).get("single_seed", {})
                    for _, a in rows)
    out = ["", f"**Share of |attribution| on the first {s.get('edge', 30)} tokens** (balanced reviews of {lo}-{hi} "
               "tokens). Occlusion ran on every seed; integrated gradients (IG) on seed 0 alone, so its columns are "
               "one model's numbers with 95% intervals over that model's reviews (Wilson's for fractions), "
               "nothing about other seeds", "",
           "| regime | occlusion: mean over seeds [interval over seeds] | occlusion, seed 0 only [interval over "
           "reviews] | IG, all reviews, seed 0 only [interval over reviews] | IG, converged reviews, seed 0 only "
           "[interval over reviews] | IG converged fraction, seed 0 only [interval over reviews] | IG evaluations, "
           "seed 0 only (median over reviews) | IG reviews with a step credited as rank one, seed 0 only "
           "[interval over reviews] |" + (" IG per-token error estimate / tolerance, seed 0 only (median over "
                                         "reviews) |" if per_token else ""),
           "|---|---|---|---|---|---|---|---|" + ("---|" if per_token else "")]
    for name, a in rows:
        occ, ig = a.get("occlusion", {}), a.get("integrated_gradients", {}).get("single_seed", {})
        one = occ.get("single_seed", {})
        ev = ig.get("evaluations_median", {}).get("mean")
        err = ig.get("error_to_tolerance_median", {}).get("mean")
        out.append(f"| {name} | {_cell(occ.get('first_share'))} | {_cell(one.get('first_share'), over=REVIEWS)} | "
                   f"{_cell(ig.get('first_share'), over=REVIEWS)} | "
                   f"{_cell(ig.get('first_share_converged'), over=REVIEWS)} | "
                   f"{_cell(ig.get('converged_fraction'), 2, REVIEWS)} | {'-' if ev is None else f'{ev:.0f}'} | "
                   f"{_cell(ig.get('rank_one_fraction'), 2, REVIEWS)} |"
                   + ((" - |" if err is None else f" {err:.2f} |") if per_token else ""))
    return out


def _comparison(results: dict, a: str, b: str) -> dict | None:
    return next((c for c in results.get("comparisons", []) if c["a"] == a and c["b"] == b), None)


def headline(results: dict) -> str:
    """The README's answer in numbers, each number from the JSON and each interval named."""
    regimes = regimes_of(results)
    full, lk = regimes.get("imdb-full"), regimes.get("imdb-last-k30")
    if not full or not lk:
        return ""
    comp = _comparison(results, "imdb-last-k30", "imdb-full")
    n = len(full["seeds"])
    lines = [f"- Test accuracy on all 25,000 test reviews, mean over {n} seeds [95% interval over seeds]: full BPTT "
             f"{_cell(full['accuracy']['overall'], 4)}, last-K (K = 30) {_cell(lk['accuracy']['overall'], 4)}."]
    if comp and "per_pair" in comp["accuracy"]:
        lines[-1] += (f" Last-K minus full BPTT (seed s of both starts from the same initial weights and batch "
                      f"order), {_difference(comp['accuracy'], 4)}.")
    start = start_contrast_sentence(results)
    if start:
        lines.append(f"- {start}")
    for name in ("imdb-chunked-k30", "imdb-k1k2-30-60"):
        c = _comparison(results, name, "imdb-full")
        if c and "per_pair" in c["accuracy"] and "per_pair" in c.get("start_contrast", {}):
            lines.append(f"- {name} minus full BPTT: accuracy {_difference(c['accuracy'], 4)}; phrase at the very "
                         f"start {_difference(c['start_contrast'], 3)}.")
    return "\n".join(lines)


def start_contrast_sentence(results: dict, a: str = "imdb-last-k30", b: str = "imdb-full",
                            names: tuple[str, str] = ("last-K (K = 30)", "full BPTT")) -> str:
    """How far a polar phrase planted at the very start moves regime a and regime b, with the matched-pair
    verdict (the README's and the Start page's sentence); "" when the study lacks the comparison."""
    c = _comparison(results, a, b)
    s = c.get("start_contrast") if c else None
    if not s or "per_pair" not in s:
        return ""
    n = s["a"]["n"]
    return (f"A strongly polar phrase planted at the very start moves {names[0]} by {_cell(s['a'])} and {names[1]} "
            f"by {_cell(s['b'])} (mean over {n} seeds [95% interval over seeds]), a ratio of {_num(s['ratio'], 2)}. "
            f"{names[0][0].upper() + names[0][1:]} minus {names[1]}, {_difference(s, 3)}.")


def findings(results: dict) -> str:
    """Which differences the seeds establish and which they do not, one line per comparison, from the JSON."""
    lines = []
    for c in results.get("comparisons", []):
        if "per_pair" not in c["accuracy"]:
            continue
        line = f"- {c['a']} minus {c['b']}: accuracy {_difference(c['accuracy'], 4)}"
        s = c.get("start_contrast")
        if s and "per_pair" in s:
            line += f"; phrase at the very start (ratio of means {_num(s['ratio'], 2)}) {_difference(s, 3)}"
        lines.append(line + ".")
    return "\n".join(lines)


UPDATE_PAIR = ("imdb-chunked-k30-per-chunk", "imdb-chunked-k30")  # the update rule: a step per chunk vs per review


def update_rule(results: dict) -> str:
    """Does the update rule matter on IMDB? The per-chunk vs per-review comparison over matched seed pairs, with
    McNemar's p per pair (over reviews), in one paragraph; "" when the study lacks it."""
    c = _comparison(results, *UPDATE_PAIR)
    if not c or "per_pair" not in c["accuracy"] or "per_pair" not in c.get("start_contrast", {}):
        return ""
    acc, start = c["accuracy"], c["start_contrast"]
    mcnemar = ", ".join(_p(m["mcnemar_p"]) for m in acc.get("mcnemar", []))
    n, every = len(acc["per_pair"]), acc.get("every_seed_pair")
    if acc["verdict"] in ("higher", "lower"):
        plain = f"a step per chunk gives {acc['verdict']} test accuracy over seeds"
    elif every:
        sure = all(m["mcnemar_p"] < 0.05 for m in acc.get("mcnemar", []))
        plain = (f"a step per chunk gave {every} test accuracy in each of the {n} seed pairs"
                 + (" (McNemar's p < 0.05 in each)" if sure else "")
                 + f", but the pairs differ too much to establish the difference over seeds with {n} seeds")
    else:
        plain = f"no difference in test accuracy is established with {n} seeds"
    return (f"A step after every chunk ({UPDATE_PAIR[0]}) minus one step per review ({UPDATE_PAIR[1]}): test "
            f"accuracy {_difference(acc, 4)} (McNemar's p per matched pair over the same "
            f"{results.get('reviews', 0):,} test reviews: {mcnemar}); contrast for a phrase planted at the very "
            f"start {_difference(start, 3)}. In plain words: {plain}.")


BLOCK = re.compile(r"<!-- generated:(\w+) -->\n(.*?)<!-- /generated:\1 -->", re.S)


def generated_blocks(results: dict, lab: dict | None = None) -> dict[str, str]:
    blocks = {"study_tables": markdown_tables(results), "headline": headline(results), "findings": findings(results),
              "update_rule": update_rule(results)}
    if lab is not None:
        from tbptt_viz.experiments.lab.report import markdown_tables as lab_tables

        blocks["lab_tables"] = lab_tables(lab)
    return blocks


def fill(text: str, blocks: dict[str, str]) -> str:
    """Replace every generated block of `text` by the current value of its name."""
    def put(m):
        body = blocks.get(m.group(1), m.group(2)).strip("\n")
        return f"<!-- generated:{m.group(1)} -->\n{body}\n<!-- /generated:{m.group(1)} -->"
    return BLOCK.sub(put, text)


def stale_blocks(path: Path, blocks: dict[str, str]) -> list[str]:
    """Names of the generated blocks in `path` that differ from `blocks`."""
    return [m.group(1) for m in BLOCK.finditer(path.read_text())
            if blocks.get(m.group(1), m.group(2)).strip("\n") != m.group(2).strip("\n")]
