"""Every number the README and docs quote from the study or the Lab is generated from the committed JSON:
these tests fail when a generated block differs from what the JSON gives (run scripts/update_docs.py)."""
import json
from pathlib import Path

import pytest

from tbptt_viz.experiments.study.report import BLOCK, generated_blocks, stale_blocks

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "docs" / "study.md", ROOT / "docs" / "lab.md"]


@pytest.fixture(scope="module")
def blocks():
    return generated_blocks(json.loads((ROOT / "results" / "imdb_study.json").read_text()),
                            json.loads((ROOT / "results" / "lab.json").read_text()))


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_generated_blocks_equal_the_json(path, blocks):
    names = [m.group(1) for m in BLOCK.finditer(path.read_text())]
    assert names, f"{path.name} has no generated block"
    assert not stale_blocks(path, blocks), f"{path.name}: run python scripts/update_docs.py"
    for name in names:
        assert blocks[name].strip(), f"{name} is empty"


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
    assert f"({soak['sessions']} sessions, {soak['requests']} requests): {soak['errors']} errors" in readme
    assert f"peak PSS {soak['peak_pss_mb']:.0f} MB" in readme and soak["peak_pss_mb"] <= 800
