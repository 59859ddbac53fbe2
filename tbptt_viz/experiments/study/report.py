"""The study's tables and headline sentences as Markdown, generated from results/imdb_study.json.

docs/study.md and the README hold these between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`
markers; `python -m tbptt_viz study --out ...` prints them, scripts/update_docs.py writes them in, and a
test fails when a generated block in the docs differs from what the JSON gives.
"""
from __future__ import annotations

import re
from pathlib import Path

from tbptt_viz.experiments.study.results import regimes_of


def _ci(s: dict | None, digits: int = 3) -> str:
    if not s or s.get("mean") is None:
        return "-"
    return f"{s['mean']:.{digits}f} [{s['low']:.{digits}f}, {s['high']:.{digits}f}]"


def _p(p: float) -> str:
    return "< 1e-16" if p < 1e-16 else f"{p:.2g}"


def _seeds(r) -> str:
    return str(len(r["seeds"]))


def markdown_tables(results: dict) -> str:
    regimes = regimes_of(results)
    first = next(iter(regimes.values()))
    out = [f"Every cell: mean over seeds [95% interval]. {results.get('intervals', '')}".rstrip(), "",
           "**Test accuracy** (all 25,000 test reviews; per-seed values in results/imdb_study.json)", "",
           "| regime | seeds | accuracy | " + " | ".join(first["accuracy"]["bins"]) + " |",
           "|---|---|---|" + "---|" * len(first["accuracy"]["bins"])]
    for name, r in regimes.items():
        out.append(f"| {name} | {_seeds(r)} | {_ci(r['accuracy']['overall'], 4)} | "
                   + " | ".join(_ci(s) for s in r["accuracy"]["by_length"]) + " |")
    comps = results.get("comparisons") or []
    if comps:
        out += ["", "**Paired accuracy differences** (same 25,000 reviews; a - b)", "",
                "| a | b | difference [95% CI] | paired t p | McNemar p per seed pair | same sign in every seed pair |",
                "|---|---|---|---|---|---|"]
        for c in comps:
            t = c["accuracy"]
            mc = ", ".join(_p(m["mcnemar_p"]) for m in t["seed_pairs"])
            out.append(f"| {c['a']} | {c['b']} | {t['diff']:+.4f} [{t['low']:+.4f}, {t['high']:+.4f}] | "
                       f"{_p(t['p'])} | {mc} | {'yes' if t['all_seeds'] else 'no'} |")
    p = first["planted"]
    n_planted = results.get("settings", {}).get("plant_sample", "")
    out += ["", "**Planted phrase contrast** P(pos | positive phrase) - P(pos | negative phrase), by tokens after "
                f"the phrase ({n_planted} balanced reviews)", "",
            "| regime | " + " | ".join(f"d={d}" for d in p["distances"]) + " |",
            "|---|" + "---|" * len(p["distances"])]
    for name, r in regimes.items():
        out.append(f"| {name} | " + " | ".join(_ci(s) for s in r["planted"]["contrast"]) + " |")
    if comps:
        out += ["", "**Planted at the very start**: a against b", "",
                "| a | b | contrast a | contrast b | ratio a/b | a below b in every seed pair |",
                "|---|---|---|---|---|---|"]
        for c in comps:
            s = c["start_contrast"]
            out.append(f"| {c['a']} | {c['b']} | {_ci(s['a'])} | {_ci(s['b'])} | {s['ratio']:.2f} | "
                       f"{'yes' if s['every_seed_pair_lower'] else 'no'} |")
    c = first["context"]
    out += ["", "**Context use**: mean |P(pos | last n tokens) - P(pos | whole review)|", "",
            "| regime | " + " | ".join(f"n={s}" for s in c["sizes"]) + " |", "|---|" + "---|" * len(c["sizes"])]
    for name, r in regimes.items():
        out.append(f"| {name} | " + " | ".join(_ci(s, 4) for s in r["context"]["mean_abs_diff"]) + " |")
    rows = [(n, r["attribution"]) for n, r in regimes.items() if r.get("attribution")]
    if rows:
        out += ["", "**Share of |attribution| on the first 30 tokens** (balanced reviews of 100-500 tokens)", "",
                "| regime | occlusion | integrated gradients, all | IG, converged only | IG converged fraction | "
                "IG evaluations (median) | IG reviews with a step credited as rank one |",
                "|---|---|---|---|---|---|---|"]
        for name, a in rows:
            ig = a.get("integrated_gradients", {})
            out.append(f"| {name} | {_ci(a.get('occlusion', {}).get('first_share'))} | {_ci(ig.get('first_share'))} "
                       f"| {_ci(ig.get('first_share_converged'))} | {_ci(ig.get('converged_fraction'), 2)} | "
                       f"{_ci(ig.get('evaluations_median'), 0)} | {_ci(ig.get('rank_one_fraction'), 2)} |")
    return "\n".join(out)


def headline(results: dict) -> str:
    """The README's answer in numbers, each number from the JSON."""
    regimes = regimes_of(results)
    full, lk = regimes.get("imdb-full"), regimes.get("imdb-last-k30")
    if not full or not lk:
        return ""
    comp = next((c for c in results.get("comparisons", []) if c["a"] == "imdb-last-k30" and c["b"] == "imdb-full"),
                None)
    s = comp["start_contrast"] if comp else None
    acc = comp["accuracy"] if comp else None
    lines = [f"- Test accuracy, mean over {len(full['seeds'])} seeds [95% interval]: full BPTT "
             f"{_ci(full['accuracy']['overall'], 4)}, last-K (K = 30) {_ci(lk['accuracy']['overall'], 4)}"
             + (f"; paired difference {acc['diff']:+.4f} [{acc['low']:+.4f}, {acc['high']:+.4f}]"
                f"{', the same sign in every seed pair' if acc['all_seeds'] else ''}." if acc else ".")]
    if s:
        lines.append(f"- A strongly polar phrase planted at the very start moves last-K (K = 30) by "
                     f"{_ci(s['a'])} and full BPTT by {_ci(s['b'])}: a ratio of {s['ratio']:.2f}"
                     + (", lower in every seed pair." if s["every_seed_pair_lower"] else
                        "; not lower in every seed pair."))
    for name in ("imdb-chunked-k30", "imdb-k1k2-30-60"):
        r = regimes.get(name)
        if r:
            lines.append(f"- {name}: accuracy {_ci(r['accuracy']['overall'], 4)}, start contrast "
                         f"{_ci(r['planted'].get('start_contrast'))}.")
    return "\n".join(lines)


def findings(results: dict) -> str:
    """Which differences hold across every seed and which do not, one line per comparison, from the JSON."""
    lines = []
    for c in results.get("comparisons", []):
        t, s = c["accuracy"], c["start_contrast"]
        sign = "higher" if t["diff"] > 0 else "lower"
        n = len(t["seed_pairs"])
        holds = f"the same sign in all {n} matched seed pair(s)" if t["all_seeds"] else \
            f"not the same sign in all {n} matched seed pairs"
        lines.append(f"- {c['a']} vs {c['b']}: accuracy {sign} by {abs(t['diff']):.4f} "
                     f"[{t['low']:+.4f}, {t['high']:+.4f}], paired p {_p(t['p'])}, {holds}; reaction to a phrase at "
                     f"the very start {s['ratio']:.2f} times as large"
                     + ("; lower in every seed pair." if s["every_seed_pair_lower"] else
                        "; higher in every seed pair." if s["every_seed_pair_higher"] else
                        "; the seeds overlap."))
    return "\n".join(lines)


BLOCK = re.compile(r"<!-- generated:(\w+) -->\n(.*?)<!-- /generated:\1 -->", re.S)


def generated_blocks(results: dict, lab: dict | None = None) -> dict[str, str]:
    blocks = {"study_tables": markdown_tables(results), "headline": headline(results), "findings": findings(results)}
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
