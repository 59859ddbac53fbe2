"""Every number the README and docs quote from the study, the Lab or a benchmark is generated from the committed
JSON: these tests fail when a generated block differs from what the JSON gives (run scripts/update_docs.py)."""
import json
from pathlib import Path

import pytest

from tbptt_viz.experiments import speed
from tbptt_viz.experiments.study.report import BLOCK, generated_blocks, stale_blocks

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "docs" / "study.md", ROOT / "docs" / "lab.md", ROOT / "docs" / "design.md"]
BENCH = ROOT / "results" / "bench"


@pytest.fixture(scope="module")
def blocks():
    return {**generated_blocks(json.loads((ROOT / "results" / "imdb_study.json").read_text()),
                               json.loads((ROOT / "results" / "lab.json").read_text())),
            **speed.blocks(speed.load(BENCH))}


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
    other = {"what": "integrated gradients on 200 reviews", "summary": "converged on 100%", "machine": "m",
             "date": "d", "command": "c", "figures": {}, "baseline": {}}
    table = speed.speed_table({"ig": other})
    assert "| integrated gradients on 200 reviews | `scripts/bench_ig.py` | converged on 100% |" in table
    assert "not yet run" in speed.class_figures({})


def test_study_json_has_three_seeds_per_regime_and_its_own_checks():
    study = json.loads((ROOT / "results" / "imdb_study.json").read_text())
    regimes = study["regimes"]
    assert len(regimes) == 6 and all(len(r["seeds"]) >= 3 for r in regimes.values())
    for name, r in regimes.items():
        ig = r["attribution"].get("integrated_gradients")
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
