"""The Lab sweep's tables as Markdown, generated from results/lab.json (docs/lab.md holds them between
`<!-- generated:lab_tables -->` markers; a test fails when they differ from the JSON).

Every cell: mean ± sample standard deviation over seeds (ddof = 1), the worst seed in brackets."""
from __future__ import annotations

GROUPS = {
    "prefix": ("An opening T-3 steps before the end (prefix)", ("k", "seq_len", "short_frac")),
    "forget-bias": ("Forget-gate bias and distance (prefix, no short examples)", ("k", "seq_len", "forget_bias")),
    "any-one": ("How far back does a 1 count? (any-one)", ("k", "seq_len", "clean_last", "ones_in_window_frac")),
    "planted": ("One decisive word d steps before the end (planted)", ("k", "seq_len", "distance")),
}


def _cell(s: dict) -> str:
    return f"{s['mean']:.2f} ± {s['std']:.2f} ({s['min']:.2f})"


def markdown_tables(results: dict) -> str:
    out = [f"Seeds {', '.join(map(str, results.get('seeds', [])))}; chance is 0.50. Each cell: mean ± sample "
           "standard deviation over seeds (ddof = 1), the worst seed in brackets."]
    for group, (title, keys) in GROUPS.items():
        rows = [r for r in results["rows"] if r["group"] == group]
        if not rows:
            continue
        extra = group == "any-one"
        out += ["", f"**{title}**", "",
                "| scheme | " + " | ".join(keys) + " | test accuracy | epochs to 90% (per seed) |"
                + (" negatives |" if extra else ""),
                "|---|" + "---|" * (len(keys) + 2) + ("---|" if extra else "")]
        for r in rows:
            c = r["config"]
            e90 = r.get("epochs_to_90") or []
            e90 = e90.get("values", []) if isinstance(e90, dict) else e90
            epochs = ", ".join("never" if e is None else str(e) for e in e90)
            out.append(f"| {r['scheme_label']} | " + " | ".join(str(c[k]) for k in keys)
                       + f" | {_cell(r['test_accuracy'])} | {epochs} |"
                       + (f" {_cell(r['negative_accuracy'])} |" if extra and isinstance(r.get('negative_accuracy'), dict)
                          else (" - |" if extra else "")))
    return "\n".join(out)
