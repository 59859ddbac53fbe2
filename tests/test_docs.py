"""Every number the README and docs quote from the study, the Lab or a benchmark is generated from the committed
JSON: these tests fail when a generated block differs from what the JSON gives (run scripts/update_docs.py)."""
import json
from pathlib import Path

import numpy as np
import pytest

from tbptt_viz.core.checkpoint import model_cards
from tbptt_viz.experiments import speed
from tbptt_viz.experiments.study.report import BLOCK, stale_blocks
from tbptt_viz.present.sentences import generated_blocks

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "docs" / "study.md", ROOT / "docs" / "lab.md", ROOT / "docs" / "design.md"]
BENCH = ROOT / "results" / "bench"


@pytest.fixture(scope="module")
def blocks():
    return generated_blocks(json.loads((ROOT / "results" / "imdb_study.json").read_text()),
                            json.loads((ROOT / "results" / "lab.json").read_text()),
                            json.loads((ROOT / "results" / "train_lengths.json").read_text()),
                            {c["name"]: c for c in model_cards()}, speed.load(BENCH),
                            speed.measurements(BENCH))


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_generated_blocks_equal_the_json(path, blocks):
    names = [m.group(1) for m in BLOCK.finditer(path.read_text())]
    assert names, f"{path.name} has no generated block"
    assert not stale_blocks(path, blocks), f"{path.name}: run python scripts/update_docs.py"
    for name in names:
        assert name in blocks and blocks[name].strip(), f"{name} is empty or has no generator"


def test_the_speed_figures_are_generated_from_every_benchmark():
    text = (ROOT / "docs" / "design.md").read_text()
    assert "<!-- generated:speed_table -->" in text and "<!-- generated:speed_class -->" in (ROOT / "README.md").read_text()
    benches = speed.load(BENCH)
    assert {"flow", "attribution", "app", "browser"} <= set(benches)
    for name, b in benches.items():
        assert {"figures", "baseline", "machine", "date", "command"} <= set(b), name
        assert f"`scripts/bench_{name}.py`" in text and b["date"] in text and b["machine"] in text


def test_a_speed_row_is_its_json():
    """A hand-made benchmark file gives the sentence its numbers say."""
    flow = {"figures": {"rows": [{"T": 100, "seconds": 0.01, "peak_mb": 1, "speedup": 9},
                                 {"T": 500, "seconds": 0.15, "peak_mb": 20, "speedup": 54.4},
                                 {"T": 2000, "seconds": 0.74, "peak_mb": 134.2, "speedup": 414.2}]},
            "baseline": {"rows": [{"T": 100, "seconds": 0.09}, {"T": 500, "seconds": 8.2}, {"T": 2000, "seconds": 307}]},
            "machine": "m", "date": "d", "command": "c"}
    assert speed.flow_rows(flow)[0][1] == "T=500: 0.15 s vs 8.2 s (54x); T=2000: 0.74 s vs 307 s (414x), 134 MB at T=2000"
    other = {"what": "float32 against float64", "summary": "3x faster", "machine": "m",
             "date": "d", "command": "c", "figures": {}, "baseline": {}}
    table = speed.speed_table({"precision": other})
    assert "| float32 against float64 | `scripts/bench_precision.py` | 3x faster |" in table
    one = {"converged_fraction": 0.97, "evaluations_p50": 100, "evaluations_p95": 900, "seconds_p50": 0.5,
           "seconds_ratio_p50_to_fixed": 2.0}
    ig = {"figures": {"reviews": 200, "length": 500, "models": {"a": one, "b": {**one, "converged_fraction": 1.0,
                                                                                "seconds_p50": 0.25}}},
          "baseline": {"models": {"a": {"within_tolerance_per_token": 0.3}, "b": {"within_tolerance_per_token": 0.5}}},
          "machine": "m", "date": "d", "command": "c"}
    assert speed.ig_rows(ig) == [("integrated gradients with per-token error control on 200 seeded IMDB test reviews "
                                  "(last 500 tokens), 2 models",
                                  "converged on 97%-100% (per model); median 100-100 gradient evaluations, p95 900-900; "
                                  "median 0.25-0.50 s per review, 2.0-2.0x the fixed 50-point rule's time in the same "
                                  "run; that rule was within tolerance per token on 30%-50%")]
    assert "not yet run" in speed.class_figures({})
    cli = {"figures": {"a": {"min_s": 0.2, "max_s": 0.31}, "b": {"min_s": 0.16, "max_s": 0.2}},
           "baseline": {"python -c pass": {"min_s": 0.04, "max_s": 0.07},
                        'python -c "import torch"': {"min_s": 1.88, "max_s": 2.73}}}
    assert speed.cli_rows(cli)[0][1] == ("0.16-0.31 s against 0.04-0.07 s for `python -c pass` and 1.9-2.7 s for "
                                         "`import torch`")
    run = {"first_chart_s": 4.3, "whole_page_s": 23.3}
    long = {"figures": {"review_tokens": 2000, "view": "Start here", "runs": [run, run],
                        "first_chart_s": [4.3, 5.6], "whole_page_s": [23.3, 26.8], "goals_s": {"first_chart": 5,
                                                                                              "whole_page": 30},
                        "browsing": {"sessions": 10, "page_p95_s": 1.76, "load_average_before": 3.3,
                                     "load_average_after": 4.3}},
            "baseline": {"first_chart_s": 2.0, "whole_page_s": 12.0, "server_cpu_first_chart_s": 2.5,
                         "server_cpu_whole_page_s": 15.0}, "machine": "m", "date": "d", "command": "c"}
    assert speed.long_review_rows(long)[0][1] == (
        "alone 2.0 s and 12.0 s (server CPU 2.5 s and 15.0 s); while 10 sessions browse 4.3-5.6 s and 23.3-26.8 s "
        "(2 reviews; their pages p95 1.8 s; load average 3.3-4.3; goals 5 s and 30 s)")
    assert "scripts/bench_long_review.py" in speed.class_figures({"long_review": long})
    assert set(speed.load(BENCH)) >= {"cli", "long_review"} and "soak" not in speed.load(BENCH)  # not a benchmark


def test_study_json_has_three_seeds_per_regime_and_its_own_checks():
    study = json.loads((ROOT / "results" / "imdb_study.json").read_text())
    regimes = study["regimes"]
    assert len(regimes) == 7 and all(len(r["seeds"]) >= 3 for r in regimes.values())
    for name, r in regimes.items():
        ig = r["attribution"].get("integrated_gradients", {}).get("single_seed")
        assert r["attribution"]["occlusion"]["n_reviews"] >= 100
        if ig:  # recorded, never silently replaced by another method
            assert 0 <= ig["converged_fraction"]["mean"] <= 1 and ig["evaluations_median"]["mean"] >= 8
    for m in study["models"].values():
        assert "attribution_check" not in m and "gradient_x_input" not in json.dumps(m["attribution"])
    # every seed's card is in results/seeds (or ships under pretrained/), with the hashes to check a retrain
    for name in study["models"]:
        card = ROOT / "results" / "seeds" / f"{name}.json"
        shipped = ROOT / "pretrained" / name / "card.json"
        data = json.loads((card if card.exists() else shipped).read_text())
        assert {"sha256", "config_sha256", "vocab_sha256", "test_accuracy", "train_config"} <= set(data)
        assert data["test_accuracy"] == pytest.approx(study["models"][name]["accuracy"]["overall"], abs=6e-5)


# ---------------------------------------------------------------------------------------------------------
# What the generated text claims, recomputed here from the per-seed values alone (scipy, not the package)
# ---------------------------------------------------------------------------------------------------------
def _per_seed(study: dict, regime: str, value) -> dict[int, float]:
    out = {}
    for name, m in study["models"].items():
        base, _, seed = name.partition("-seed")
        if (name if not seed else base) == regime and (not seed or seed.isdigit()):
            out[int(seed or 0)] = value(m)
    return out


def _start(m):
    return m["planted"]["contrast"][m["planted"]["distances"].index("start")]


def _t95(x, scale=1.0):
    from scipy import stats

    x = np.asarray(x, float)
    return stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=scale * x.std(ddof=1) / np.sqrt(len(x)))


@pytest.fixture(scope="module")
def study():
    return json.loads((ROOT / "results" / "imdb_study.json").read_text())


def test_every_verdict_in_the_docs_holds_over_matched_seed_pairs(study, blocks):
    """'higher'/'lower' only where the t-interval of the matched seed-pair differences excludes 0; 'in every
    seed pair' only where each matched pair has that sign; the verdict printed is the one recomputed here."""
    assert study["comparisons"], "no comparisons in the study JSON"
    for c in study["comparisons"]:
        for key, value, digits in (("accuracy", lambda m: m["accuracy"]["overall"], 4), ("start_contrast", _start, 3)):
            a, b = _per_seed(study, c["a"], value), _per_seed(study, c["b"], value)
            d = [a[s] - b[s] for s in sorted(set(a) & set(b))]
            lo, hi = _t95(d)
            want = "higher" if lo > 0 else "lower" if hi < 0 else f"not established with {len(d)} seeds"
            got = c[key]
            assert got["verdict"] == want and got["per_pair"] == pytest.approx(d, abs=2e-6)
            assert (got["over_seeds"]["low"], got["over_seeds"]["high"]) == (pytest.approx(lo, abs=2e-6),
                                                                             pytest.approx(hi, abs=2e-6))
            every = "higher" if all(x > 0 for x in d) else "lower" if all(x < 0 for x in d) else None
            assert got["every_seed_pair"] == every
            line = next(x for x in blocks["findings"].splitlines() if x.startswith(f"- {c['a']} minus {c['b']}:"))
            assert f"mean {np.mean(d):+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}] over seeds: {want}" in line
    # the numbers: last-K minus full over seeds, and chunked/k1k2 vs full not established
    lk = next(c for c in study["comparisons"] if (c["a"], c["b"]) == ("imdb-last-k30", "imdb-full"))
    assert (round(lk["accuracy"]["over_seeds"]["low"], 3), round(lk["accuracy"]["over_seeds"]["high"], 3)) == \
        (-0.056, -0.014)
    readme = (ROOT / "README.md").read_text()
    assert "p < 1e-16" not in readme and "[-0.0377, -0.0321]" not in readme  # the pooled interval, unlabelled


def test_new_seed_column_is_a_prediction_interval(study, blocks):
    table = blocks["study_tables"]
    for regime in study["regimes"]:
        x = list(_per_seed(study, regime, lambda m: m["accuracy"]["overall"]).values())
        lo, hi = _t95(x, scale=np.sqrt(len(x) + 1))  # s sqrt(1 + 1/n) = (s / sqrt(n)) sqrt(n + 1)
        mlo, mhi = _t95(x)
        row = next(r for r in table.splitlines() if r.startswith(f"| {regime} | 0, "))
        assert f"| {np.mean(x):.4f} [{mlo:.4f}, {mhi:.4f}] | [{lo:.4f}, {hi:.4f}] |" in row


def test_single_seed_columns_say_so_and_no_interval_is_zero_width(study, blocks):
    import re

    text = "\n".join(blocks[k] for k in ("headline", "findings", "study_tables"))
    for lo, hi in re.findall(r"\[([-+]?\d+\.\d+), ([-+]?\d+\.\d+)\]", text):
        assert float(lo) < float(hi) or float(lo) == float(hi) == 1.0, f"zero-width interval [{lo}, {hi}]"
    header = next(r for r in blocks["study_tables"].splitlines() if r.startswith("| regime | occlusion"))
    ig_columns = [h for h in header.split("|") if "IG" in h]
    assert ig_columns and all("seed 0 only" in h for h in ig_columns)
    for r in study["regimes"].values():  # IG measured on one seed: its intervals are over that seed's reviews
        ig = r["attribution"].get("integrated_gradients")
        if ig:
            assert all(v["over"] == "reviews" and v["seed"] == 0 for k, v in ig["single_seed"].items()
                       if isinstance(v, dict))
    doc = (ROOT / "docs" / "study.md").read_text()
    assert "honest spread of what a rerun" not in doc and "prediction interval" in doc


def test_hardening_figures_in_the_readme_are_the_benchmarks_json():
    """The README's figures on refusals, links and memory are read from the committed benchmark JSON."""
    readme = " ".join((ROOT / "README.md").read_text().split())  # line breaks do not matter
    bench = ROOT / "results" / "bench"
    cli = json.loads((bench / "cli.json").read_text())
    lo = min(f["min_s"] for f in cli["figures"].values())
    hi = max(f["max_s"] for f in cli["figures"].values())
    base, torch_ = cli["baseline"]["python -c pass"], cli["baseline"]['python -c "import torch"']
    assert f"at {lo:.2f}-{hi:.2f} s" in readme and hi <= 1.5
    assert f"{base['min_s']:.2f}-{base['max_s']:.2f} s for `python -c pass`" in readme
    assert f"{torch_['min_s']:.1f}-{torch_['max_s']:.1f} s for `python -c \"import torch\"`" in readme
    link = json.loads((bench / "link_limit.json").read_text())
    assert f"{link['longest_http_200_query_chars']:,} characters answers HTTP 200" in readme
    assert link["browser_4096_below_longest"] is True and link["browser_at_longest"] is not True
    assert f"chromium opens {link['longest_http_200_query_chars'] - 4096:,} characters" in readme
    memory = json.loads((bench / "memory.json").read_text())
    assert f"peaked at {memory['peak_rss_mb']:.0f} MB" in readme and memory["peak_rss_mb"] <= 850
    assert not memory["errors"]
    soak = json.loads((bench / "soak.json").read_text())
    assert speed.soak_text(soak) in readme  # the generated block (test_generated_blocks_equal_the_json)


def test_the_soak_paragraph_is_its_json():
    curve = [{"t_s": 0.0, "pss_mb": 60.0}, {"t_s": 300.0, "pss_mb": 500.0}, {"t_s": 600.0, "pss_mb": 520.0},
             {"t_s": 900.0, "pss_mb": 510.0}, {"t_s": 1200.0, "pss_mb": 530.0}]
    kind = {"requests": 10, "errors": 0, "p50_s": 0.31, "p95_s": 6.44, "max_s": 9.0}
    soak = {"minutes": 20.0, "sessions": 12, "requests": 1500, "errors": 0, "error_examples": [],
            "by_kind": {"example": kind, "long": {**kind, "requests": 1, "errors": 1}, "lab": {**kind, "requests": 0,
                                                                                              "p50_s": None}},
            "memory_curve": curve, "peak_pss_mb": 530.0, "memory_first_half_mean_mb": 280.0,
            "memory_second_half_mean_mb": 520.0, "date": "d", "command": "c", "machine": "m"}
    text = speed.soak_text(soak)
    assert text.startswith("Its last run, 20 minutes (d; `c`; m): 12 sessions, 1,500 visits, 0 errors.")
    assert "example links 0.3/6.4 s (10 visits); 2,000-token reviews 0.3/6.4 s (1 visit, 1 failed)." in text
    assert "live Lab runs" not in text  # none ran
    assert "500-530 MB after the first 5 minutes, peak 530 MB" in text and "(5 samples)" in text
    # the second half (600..1200 s: 520, 510, 530) rises 10 MB over 10 minutes: +1.0 MB per minute
    assert speed.trend_mb_per_minute(curve) == pytest.approx(1.0) and "moves +1.0 MB per minute" in text
    # whole 5-minute windows: [0, 300) holds 60, [300, 600) 500, [600, 900) 520, [900, 1200) 510; the sample at
    # 1200 s opens a window the run does not finish
    assert speed.window_floors(curve) == [60.0, 500.0, 520.0, 510.0]
    assert "each whole 5-minute window after the first (what the server keeps between bursts of work): " \
           "500, 520, 510 MB." in text
    assert "soak" in speed.blocks({}, {"soak": soak}) and "soak" not in speed.blocks({})
    short = {**soak, "minutes": 2.0, "memory_curve": curve[:1]}
    assert "60-60 MB over the run" in speed.soak_text(short)
