"""The page logic that app.py wires to widgets, each function against a hand computation."""
import json

import numpy as np
import pytest

from tbptt_viz.present import page


def test_clean_text_normalises_every_line_break_and_drops_controls():
    assert page.clean_text("a\r\nb\rc\u2028d\u2029e\x85f\x0bg\x0ch") == "a\nb\nc\nd\ne\nf\ng\nh"
    assert page.clean_text("x\x00y\x1bz\tw") == "xyz\tw" and page.clean_text(None) == ""


def test_default_compare_avoids_the_model_itself_and_broken_ones():
    models = ["imdb-full", "imdb-last-k30", "imdb-last-k10"]
    assert page.default_compare("imdb-last-k30", models) == "imdb-full"
    assert page.default_compare("imdb-full", models) == "imdb-last-k30"
    assert page.default_compare("imdb-last-k30", models, {"imdb-full"}) == "imdb-last-k10"
    assert page.default_compare("only", ["only"]) is None


def test_imdb_pool_filters_label_and_length():
    rows = {"a": ("t", 1, 150), "b": ("t", 0, 150), "c": ("t", 1, 600)}
    assert page.imdb_pool(rows, "positive", 100, 300) == ["a"]
    assert page.imdb_pool(rows, "any", 100, 1000) == ["a", "b", "c"]
    assert page.imdb_pool(rows, "negative", 200, 300) == []


def test_nice_ticks_are_round():
    assert page.nice_ticks(0, 21.8) == [0, 10, 20]
    assert page.nice_ticks(0, 1) == pytest.approx([0, 0.25, 0.5, 0.75, 1.0]) or \
        page.nice_ticks(0, 1) == pytest.approx([0, 0.5, 1.0])
    assert page.nice_ticks(0, 60, 7) == [0, 10, 20, 30, 40, 50, 60]
    assert page.nice_ticks(3, 3) == [3.0]


def test_first_share_and_strip_scale():
    assert page.first_share([1.0, -1.0, 2.0], 1) == pytest.approx(0.25) and page.first_share([0.0], 1) == 0.0
    assert page.strip_scale(np.array([1.0, -3.0]), np.array([2.0])) == 3.0 and page.strip_scale(np.array([])) == 0.0


def test_export_payload_names_the_settings():
    csv, plain, stem = page.export_payload("gradients", ["a", "b"], {"x": np.array([1.0, 2.0])},
                                           {"model": "imdb-full", "review": "imdb:test/1_10", "scheme": "last-k",
                                            "k": 30, "method": None})
    assert stem == "tbptt_viz_gradients_imdb-full_imdb-test-1_10_last-k_30"
    assert csv.splitlines()[0] == "t,token,steps_from_end,x" and csv.splitlines()[2] == "1,b,0,2.0"
    data = json.loads(plain)
    assert data["model"] == "imdb-full" and data["k"] == 30 and data["per_token"]["x"] == [1.0, 2.0]


def test_headline_contrast_from_regimes_and_from_single_models():
    regimes = {"regimes": {"imdb-full": {"planted": {"start_contrast": {"mean": 0.2, "low": 0.1, "high": 0.3,
                                                                         "n": 3}}}}}
    assert page.headline_contrast(regimes) == {"imdb-full": {"mean": 0.2, "low": 0.1, "high": 0.3, "seeds": 3,
                                                             "over": "seeds"}}
    single = {"models": {"m": {"planted": {"distances": [0, "start"], "contrast": [0.5, 0.2],
                                           "contrast_sem": [0.01, 0.05]}}}}
    got = page.headline_contrast(single)["m"]
    assert got["mean"] == 0.2 and got["low"] == pytest.approx(0.2 - 1.96 * 0.05) and got["seeds"] == 1
    assert got["over"] == "reviews"
    assert page.headline_contrast(None) is None


def test_job_kind_marks_long_reviews_only():
    from tbptt_viz.present.page import LONG_REVIEW, job_kind

    long_ids, short_ids = tuple(range(LONG_REVIEW + 1)), tuple(range(LONG_REVIEW))
    assert job_kind(("attr", "m", long_ids, "occlusion")) == "long"
    assert job_kind(("probe", "m", short_ids)) == "analysis"
    assert job_kind(("prob", "m", long_ids)) == "analysis"  # one forward pass: the header never waits
    assert job_kind(("lab", (("seed", 0),)), "lab") == "lab" and job_kind(("lab",)) == "analysis"
