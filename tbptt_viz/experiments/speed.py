"""The speed figures the README and docs/design.md quote, written from the benchmarks' JSON (results/bench/).

Each benchmark script writes results/bench/<name>.json (scripts/bench_json.py: "figures", "baseline",
"machine", "date", "command"); `blocks` turns them into the docs' generated blocks, so a figure in the docs is
always the last run's and tests/test_docs.py fails when a block is stale. A benchmark this module has no
formatter for may carry its own one-line "summary" (and "what") for the table. Other measurements kept in
results/bench (the soak, memory, link limits, the Lab budget's calibration: no "figures" against a
"baseline") are not speed rows; the docs quote them as registered facts (tests/test_facts.py).
"""
from __future__ import annotations

import json
from pathlib import Path

# the table's rows, in this order
ORDER = ("flow", "attribution", "ig", "app", "browser", "load", "long_review", "train", "cli")


def load(folder: Path) -> dict[str, dict]:
    """{name: the benchmark's JSON} for every results/bench/*.json that is a benchmark's (figures against a
    baseline measured in the same run)."""
    out = {}
    for p in sorted(Path(folder).glob("*.json")):
        data = json.loads(p.read_text())
        if isinstance(data, dict) and {"figures", "baseline"} <= set(data):
            out[p.stem] = data
    return out


def _s(seconds: float) -> str:
    return f"{seconds:.2g} s" if seconds < 10 else f"{seconds:.0f} s"


def _ms(ms: float) -> str:
    return f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms"


def flow_rows(b: dict) -> list[tuple[str, str]]:
    naive = {r["T"]: r for r in b["baseline"]["rows"]}
    parts = [f"T={r['T']}: {_s(r['seconds'])} vs {_s(naive[r['T']]['seconds'])} ({r['speedup']:.0f}x)"
             for r in b["figures"]["rows"] if r["T"] >= 500]
    last = b["figures"]["rows"][-1]
    return [("`gradient_flow` with the whole last-K sweep vs one autograd backward per K",
             "; ".join(parts) + f", {last['peak_mb']:.0f} MB at T={last['T']}")]


def attribution_rows(b: dict) -> list[tuple[str, str]]:
    rows = {r["T"]: r for r in b["figures"]["rows"]}
    mid = rows.get(500) or next(iter(rows.values()))
    names = (("occlusion", "occlusion"), ("integrated_gradients", "IG"), ("saliency", "saliency"),
             ("input_x_gradient", "input x gradient"), ("context_probe", "probe"), ("memory_trace", "memory"))
    each = ", ".join(f"{label} {mid[key]['wall_ms'] / 1000:.2f}" for key, label in names)
    total = mid["all four methods + probe + memory trace"]
    text = f"{total['wall_ms'] / 1000:.2f} s wall, {total['cpu_ms'] / 1000:.2f} s CPU ({each}, wall)"
    if 2000 in rows:
        text += (f"; at T=2000 occlusion {rows[2000]['occlusion']['wall_ms'] / 1000:.1f} s and the probe "
                 f"{rows[2000]['context_probe']['wall_ms'] / 1000:.1f} s")
    out = [(f"the four attribution methods + probe + memory trace, T={mid['T']} ({b['figures']['model']})", text)]
    base = {r["T"]: r for r in b["baseline"]["rows"]}.get(mid["T"])
    if base:
        one, many = base.get("feature_ablation_1_per_call"), next(
            (v for k, v in base.items() if k.startswith("feature_ablation_") and k != "feature_ablation_1_per_call"),
            None)
        parts = []
        if one:
            parts.append(f"{one['speedup_cpu']:.1f}x less CPU time than its default (one perturbation per call)")
        if many:
            parts.append(f"{many['speedup_cpu']:.1f}x less than batched")
        diff = max(v["max_difference"] for v in (one, many) if v)
        probe = base["probe_one_run_per_n"]
        out.append((f"occlusion vs captum `FeatureAblation`, and the context probe vs one model call per n, "
                    f"T={mid['T']}", ", ".join(parts) + f"; max difference {diff:.1g}; the probe "
                    f"{probe['speedup_cpu']:.1f}x less CPU time"))
    return out


def app_rows(b: dict) -> list[tuple[str, str]]:
    f, base = b["figures"], b["baseline"]
    steps = "; ".join(f"{_ms(v['median_ms'])} on '{view}'" for view, v in f["apptest_k_step"].items())
    return [(f"the app's server side, a new {f['review_tokens']}-token review and a K step",
             f"every view's computations {f['new_review_all_views_ms'] / 1000:.2f} s; a K step slices the "
             f"precomputed arrays in {f['k_slice_median_us']:.0f} us instead of a model pass "
             f"({_ms(base['k_step_ms'])}); a whole page run after a K step (AppTest, median) {steps}")]


def browser_rows(b: dict) -> list[tuple[str, str]]:
    f, floor = b["figures"], b["baseline"]
    export = f["static_export"]
    return [("the app in chromium (on the same machine as the server): K step; method switch; model switch; first "
             "chart of a fresh session",
             f"{_ms(f['k_step_ms'])}; {_ms(f['method_switch_ms'])}; {_ms(f['model_switch_ms'])}; "
             f"{f['first_chart_s']:.2f} s, against {floor['first_chart_s']:.2f} s in the same run for a Streamlit "
             f"page holding only a title and a 3-bar chart (medians; goals: a K step within "
             f"{f['goals_ms']['k_step']} ms, a switch within {f['goals_ms']['method_switch']} ms)"),
            ("the static demo",
             f"{export['megabytes']:.1f} MB for {export['models']} models x {export['reviews']} reviews, exported in "
             f"{export['seconds']:.0f} s; on a K change the strips update in {_ms(f['static_k_step_strips_ms'])} "
             f"and the charts are redrawn {_ms(f['static_k_step_charts_ms'])} after")]


def load_rows(b: dict) -> list[tuple[str, str]]:
    f = b["figures"]
    parts = []
    if "same_link" in f:
        parts.append(f"{f['same_link']['sessions']} sessions on one example link: whole page p95 "
                     f"{f['same_link']['page_p95_s']:.1f} s")
    if "distinct_reviews" in f:
        d = f["distinct_reviews"]
        parts.append(f"{d['sessions']} distinct reviews: p95 {d['page_p95_s']:.1f} s, {d['errors']} errors, "
                     f"{d['values_off']} values off beyond float32 rounding")
    parts.append(f"peak {f['memory_peak_mb'] / 1024:.2f} GB PSS")
    if "beside_lab_run" in f:
        parts.append(f"a page beside a live Lab run {f['beside_lab_run']['relative_to_idle']:.2f}x, beside a "
                     f"2,000-token review {f['beside_long_review']['relative_to_idle']:.2f}x")
    return [("a class at once, server side (protocol clients)", "; ".join(parts))]


def train_rows(b: dict) -> list[tuple[str, str]]:
    f = b["figures"]
    each = ", ".join(f"{r['scheme']} {r['relative_to_full']:.2f}x" for r in f["rows"])
    return [(f"one training epoch on {f['reviews']} IMDB reviews, each scheme against full BPTT "
             f"({_s(b['baseline']['seconds'])})", each)]


def ig_rows(b: dict) -> list[tuple[str, str]]:
    f, base = b["figures"], b["baseline"]["models"]
    ms = f["models"]

    def span(key, fmt, of=ms):
        values = [m[key] for m in of.values()]
        return f"{min(values):{fmt}}-{max(values):{fmt}}"

    return [(f"integrated gradients with per-token error control on {f['reviews']} seeded IMDB test reviews (last "
             f"{f['length']} tokens), {len(ms)} models",
             f"converged on {span('converged_fraction', '.0%')} (per model); median {span('evaluations_p50', '.0f')} "
             f"gradient evaluations, p95 {span('evaluations_p95', '.0f')}; median {span('seconds_p50', '.2f')} s per "
             f"review, {span('seconds_ratio_p50_to_fixed', '.1f')}x the fixed 50-point rule's time in the same run; "
             f"that rule was within tolerance per token on {span('within_tolerance_per_token', '.0%', base)}")]


def cli_rows(b: dict) -> list[tuple[str, str]]:
    f, base = b["figures"], b["baseline"]
    lo, hi = min(r["min_s"] for r in f.values()), max(r["max_s"] for r in f.values())
    bare, torch_ = base["python -c pass"], base['python -c "import torch"']
    return [(f"a refusal of the command line ({len(f)} kinds of bad argument), against starting Python and "
             "importing torch", f"{lo:.2f}-{hi:.2f} s against {bare['min_s']:.2f}-{bare['max_s']:.2f} s for "
             f"`python -c pass` and {torch_['min_s']:.1f}-{torch_['max_s']:.1f} s for `import torch`")]


def long_review_rows(b: dict) -> list[tuple[str, str]]:
    f, alone = b["figures"], b["baseline"]
    crowd = f["browsing"]
    span = lambda v: f"{min(v):.1f}-{max(v):.1f} s" if len(v) > 1 else f"{v[0]:.1f} s"  # noqa: E731
    return [(f"a {f['review_tokens']:,}-token review on '{f['view']}': first chart (training strips and the "
             "occlusion of its last 500 tokens), whole page",
             f"alone {alone['first_chart_s']:.1f} s and {alone['whole_page_s']:.1f} s (server CPU "
             f"{alone['server_cpu_first_chart_s']:.1f} s and {alone['server_cpu_whole_page_s']:.1f} s); while "
             f"{crowd['sessions']} sessions browse {span(f['first_chart_s'])} and {span(f['whole_page_s'])} "
             f"({len(f['runs'])} reviews; their pages p95 {crowd['page_p95_s']:.1f} s; load average "
             f"{crowd['load_average_before']:.1f}-{crowd['load_average_after']:.1f}; goals "
             f"{f['goals_s']['first_chart']} s and {f['goals_s']['whole_page']} s)")]


FORMATTERS = {"cli": cli_rows, "long_review": long_review_rows, "flow": flow_rows,
              "attribution": attribution_rows, "ig": ig_rows, "app": app_rows, "browser": browser_rows,
              "load": load_rows, "train": train_rows}


def speed_table(benches: dict[str, dict]) -> str:
    """design.md's table: one row per figure, its script, and under it where and when each was measured."""
    lines = ["| what | script | measured |", "|---|---|---|"]
    names = [n for n in ORDER if n in benches] + sorted(n for n in benches if n not in ORDER)
    for name in names:
        b = benches[name]
        rows = FORMATTERS[name](b) if name in FORMATTERS else [(b.get("what", name), b.get("summary", ""))]
        lines += [f"| {what} | `scripts/bench_{name}.py` | {text} |" for what, text in rows]
    lines.append("")
    lines += [f"- `{name}` ({benches[name]['date']}): {benches[name]['machine']}; `{benches[name]['command']}`"
              for name in names]
    return "\n".join(lines)


def class_figures(benches: dict[str, dict]) -> str:
    """The README's figures for a class opening the app at once (bench_load, and bench_browser's floor)."""
    floor = benches.get("browser", {}).get("baseline", {}).get("first_chart_s")
    drawing = (f"while a student's browser adds its own drawing: {floor:.1f} s for a fresh tab of even a one-chart "
               "Streamlit page on the benchmark machine's chromium" if floor else
               "while a student's browser adds its own drawing")
    long = []
    if "long_review" in benches:
        (what, text), = long_review_rows(benches["long_review"])
        b = benches["long_review"]
        long = ["", f"{what[0].upper()}{what[1:]}, measured with `scripts/bench_long_review.py` on {b['machine']} "
                    f"({b['date']}; server side, as above): {text}."]
    if "load" not in benches:
        return "\n".join([f"Measured with `scripts/bench_load.py` (one server; its clients speak Streamlit's own "
                          f"websocket protocol, so the figures are the server's, {drawing}): not yet run on this "
                          "version of the code; `python scripts/bench_load.py` writes results/bench/load.json and "
                          "`python scripts/update_docs.py` puts its figures here.", *long])
    b = benches["load"]
    f = b["figures"]
    lines = [f"Measured with `scripts/bench_load.py` on {b['machine']} ({b['date']}; one server; the clients speak "
             f"Streamlit's own websocket protocol from another process, so the figures are the server's, "
             f"{drawing}):"]
    if "same_link" in f:
        s = f["same_link"]
        lines.append(f"- {s['sessions']} sessions opening the same example link at once: {s['errors']} errors, the "
                     f"whole page sent to each within {s['page_p95_s']:.1f} s (p95).")
    if "distinct_reviews" in f:
        d = f["distinct_reviews"]
        lines.append(f"- {d['sessions']} sessions opening distinct 200-word reviews on \"What the model uses\" at "
                     f"once: {d['errors']} errors, {d['values_off']} scores differing from a sequential computation "
                     f"by more than float32 rounding ({d.get('tolerance', 'serving.service.same_as_sequential')}), "
                     f"the whole page sent within {d['page_p95_s']:.1f} s (p95; {d['page_p50_s']:.1f} s median).")
    if "long_review" in f:
        r = f["long_review"]
        each = ", ".join(f"{v} {t:.1f} s" for v, t in zip(r["views"], r["page_s"]))
        lines.append(f"- One 2,000-token review opened on {len(r['views'])} views one after another (whole page "
                     f"sent): {each}; {r['errors']} errors.")
    idle = f" ({f['memory_idle_after_mb'] / 1024:.2f} GB idle after)" if "memory_idle_after_mb" in f else ""
    lines.append(f"- Memory, the sum of PSS over the server's processes: at most {f['memory_peak_mb'] / 1024:.2f} GB "
                 f"through the whole run{idle}.")
    if "beside_lab_run" in f:
        lines.append(f"- Another visitor's new review takes {f['beside_lab_run']['relative_to_idle']:.2f}x as long as "
                     f"on an idle server while a Lab run trains, and {f['beside_long_review']['relative_to_idle']:.2f}x "
                     "while someone's 2,000-token review is computed.")
    if "same_link" in f:
        lines.append("")
        lines.append(f"Per replica, plan on a class of about {f['same_link']['sessions']} opening the app at once.")
    return "\n".join(lines + long)


# Other measurements with a generated block of their own (a file name in results/bench, without .json).
MEASUREMENTS = ("soak",)
SOAK_KINDS = {"example": "example links", "custom": "new reviews", "k": "another K or scheme",
              "lab": "live Lab runs", "long": "2,000-token reviews"}


def measurements(folder: Path) -> dict[str, dict]:
    """{name: its JSON} for each of MEASUREMENTS found in `folder` (results/bench)."""
    return {name: json.loads((Path(folder) / f"{name}.json").read_text()) for name in MEASUREMENTS
            if (Path(folder) / f"{name}.json").exists()}


def trend_mb_per_minute(curve: list[dict]) -> float:
    """The slope of a least-squares line through the second half of the memory curve, in MB per minute: how
    memory moved once the server had warmed up (0 for fewer than two samples)."""
    half = curve[len(curve) // 2:]
    if len(half) < 2:
        return 0.0
    t = [c["t_s"] / 60 for c in half]
    m = [c["pss_mb"] for c in half]
    mt, mm = sum(t) / len(t), sum(m) / len(m)
    var = sum((x - mt) ** 2 for x in t)
    return sum((x - mt) * (y - mm) for x, y in zip(t, m)) / var if var else 0.0


SOAK_GOAL_MB = 800  # issue #24: the soak's peak total PSS, leaving a margin under a small host's 1 GB


def soak_text(soak: dict) -> str:
    """The README's account of the last scripts/soak.py run (results/bench/soak.json)."""
    kinds = "; ".join(
        f"{label} {v['p50_s']:.1f}/{v['p95_s']:.1f} s ({v['requests']:,} visit{'s' if v['requests'] != 1 else ''}"
        + (f", {v['errors']} failed" if v["errors"] else "") + ")"
        for kind, label in SOAK_KINDS.items() if (v := soak["by_kind"].get(kind)) and v["requests"] and v["p50_s"] is not None)
    curve = soak["memory_curve"]
    floors = window_floors(curve)[1:]
    settled = [c["pss_mb"] for c in curve if c["t_s"] >= 300]
    span = "after the first 5 minutes" if settled else "over the run"
    settled = settled or [c["pss_mb"] for c in curve]
    errors = f"{soak['errors']} errors" if soak["errors"] != 1 else "1 error"
    if soak["errors"]:
        errors += " (" + "; ".join(soak["error_examples"][:3]) + ")"
    return (f"Its last run, {soak['minutes']:g} minutes ({soak['date']}; `{soak['command']}`; {soak['machine']}): "
            f"{soak['sessions']} sessions, {soak['requests']:,} visits, {errors}. Seconds per visit, p50/p95: "
            f"{kinds}. The server's total PSS, sampled every 30 s ({len(curve)} samples): "
            f"{min(settled):.0f}-{max(settled):.0f} MB {span}, peak {soak['peak_pss_mb']:.0f} MB "
            f"({'within' if soak['peak_pss_mb'] <= SOAK_GOAL_MB else 'above'} the goal of {SOAK_GOAL_MB} MB; a small host's 1 GB); mean {soak['memory_first_half_mean_mb']:.0f} MB over the "
            f"run's first half and {soak['memory_second_half_mean_mb']:.0f} MB over its second, where a straight "
            f"line through the second half's samples (least squares) moves {trend_mb_per_minute(curve):+.1f} MB per "
            f"minute." + (f" The lowest sample of each whole 5-minute window after the first (what the server keeps "
                          f"between bursts of work): {', '.join(f'{v:.0f}' for v in floors)} MB." if floors else ""))


def window_floors(curve: list[dict], minutes: float = 5) -> list[float]:
    """The lowest PSS sample (MB) of each whole `minutes`-long window of the memory curve (one the curve runs
    to the end of), in time order: what the server holds between the bursts of work in flight (the samples
    themselves swing by hundreds of MB)."""
    if not curve:
        return []
    floors: dict[int, float] = {}
    whole = int((curve[-1]["t_s"] + 1) // (60 * minutes))
    for c in curve:
        w = int(c["t_s"] // (60 * minutes))
        if w < whole:
            floors[w] = min(floors.get(w, float("inf")), c["pss_mb"])
    return [floors[w] for w in sorted(floors)]


def blocks(benches: dict[str, dict], measured: dict[str, dict] | None = None) -> dict[str, str]:
    """The generated blocks: `speed_table` (docs/design.md), `speed_class` and, given `measurements`, `soak`
    (README.md)."""
    out = {"speed_table": speed_table(benches), "speed_class": class_figures(benches)}
    if measured and "soak" in measured:
        out["soak"] = soak_text(measured["soak"])
    return out
