"""The static site's guided part (export/guide.py): Start here's overview and the Lessons are what the app's own
functions compute, and their numbers agree with plain re-runs of the model and float64 autograd with explicit
detach (conftest.reference). The exported files are read back as the page reads them."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import reference, seq

from tbptt_viz.attribution.methods import attribute, context_probe
from tbptt_viz.export import guide
from tbptt_viz.gradients.analysis import review_flow
from tbptt_viz.present.lessons import LESSONS, TEXT_FIELDS, filled
from tbptt_viz.present.overview import overview, overview_figure
from tbptt_viz.present.sentences import (
    FIRST_N,
    opening_overview,
    question,
    training_overview,
    use_overview,
)

T = 60
NAMES = ("imdb-last-k30", "imdb-full")


def computed(model, ids, tokens=None) -> guide.Computed:
    """The pair's jobs, each by its own call (`tokens`: as the page shows them; default the vocabulary's words)."""
    tokens = tokens or [model.vocab.itos[i] for i in ids.tolist()]
    return guide.Computed(model=model, tokens=tuple(tokens),
                          ids=tuple(ids.tolist()), rf=review_flow(model, ids, None),
                          occlusion=attribute(model, ids, "occlusion").scores, probe=context_probe(model, ids))


@pytest.fixture
def pair(model):
    """Two page models on one tiny model: the chosen reads seq(T), the compared one another review of length T
    (its occlusion and probe differ), as two vocabularies would give."""
    return computed(model, seq(T, seed=4)), computed(model, seq(T, seed=5))


def test_start_here_is_the_overview_the_app_draws(pair):
    chosen, other = pair
    start = guide.start_here(chosen, NAMES[0], {NAMES[1]: other})
    # the direct call the app's Start here makes (K = 30 shown, the opening FIRST_N)
    ov = overview(chosen.tokens, NAMES[0], chosen.rf, 30, {NAMES[0]: chosen.occlusion, NAMES[1]: other.occlusion},
                  {NAMES[0]: chosen.probe, NAMES[1]: other.probe}, FIRST_N)
    assert start["figure"] == guide.rounded(json.loads(overview_figure(ov).to_json()))
    assert start["sentences"] == [training_overview(ov), use_overview(ov), opening_overview(ov)]
    assert (start["k"], start["n"]) == (30, FIRST_N)
    # and it would differ for another opening: the comparison can fail
    other_ov = overview(chosen.tokens, NAMES[0], chosen.rf, 30, {NAMES[0]: chosen.occlusion,
                                                                 NAMES[1]: other.occlusion},
                        {NAMES[0]: chosen.probe, NAMES[1]: other.probe}, 10)
    assert start["sentences"][2] != opening_overview(other_ov)


def trace_values(figure: dict, what: str) -> list[float]:
    """customdata of the heatmap rows whose hover names `what`, in drawing order."""
    return [np.array(t["customdata"][0], dtype=float) for t in figure["data"]
            if t["type"] == "heatmap" and what in t.get("hovertemplate", "")]


def test_start_heres_numbers_equal_plain_reruns_and_float64_autograd(model, pair):
    chosen, other = pair
    figure = guide.start_here(chosen, NAMES[0], {NAMES[1]: other})["figure"]
    ids = torch.tensor(chosen.ids)
    label = chosen.rf.full.label_used
    norms = lambda windows: reference(model, ids, windows, label)[0].norm(dim=1).numpy()
    full, last, chunked = (trace_values(figure, f"{s} ||dL/dx_t||")[0] for s in
                           ("full BPTT", "last-K (K=30)", "chunked (K=30)"))
    np.testing.assert_allclose(full, norms([(T - 1, 0)]), rtol=5.1e-5, atol=1e-15)  # 5 digits kept
    np.testing.assert_allclose(last, norms([(T - 1, T - 30)]), rtol=5.1e-5, atol=1e-15)  # 5 digits kept
    np.testing.assert_allclose(chunked, norms([(29, 0), (59, 30)]), rtol=5.1e-5, atol=1e-15)  # 5 digits kept
    assert np.all(last[:T - 30] == 0)  # an exact zero stays exactly zero in the page's data
    # P(positive) dots: the whole review and the review without its first 30 tokens, by plain forward passes
    dots = [t for t in figure["data"] if t["type"] == "scatter" and t.get("xaxis") == "x2"]
    with torch.no_grad():
        for c, pair_dots in zip((chosen, other), (dots[0:2], dots[2:4])):
            x = torch.tensor(c.ids)
            whole, without = torch.sigmoid(model(x[None])).item(), torch.sigmoid(model(x[FIRST_N:][None])).item()
            assert pair_dots[0]["x"][0] == pytest.approx(whole, rel=1e-4)
            assert pair_dots[1]["x"][0] == pytest.approx(without, rel=1e-4)


def test_one_model_alone_gets_its_own_overview(pair):
    chosen, _ = pair
    start = guide.start_here(chosen, NAMES[0], {})
    assert len([t for t in start["figure"]["data"] if t.get("xaxis") == "x2"]) == 2
    assert NAMES[1] not in " ".join(start["sentences"])


def test_rounded_keeps_five_digits_and_drops_what_json_cannot_hold():
    assert guide.rounded({"a": [1.23456789, 2, "x", None], "b": float("nan")}) == {"a": [1.2346, 2, "x", None],
                                                                                 "b": None}


def lesson_review(model) -> torch.Tensor:
    """A tiny review with the lessons' word 'love' near its start."""
    ids = seq(T, seed=6).clone()
    love = model.vocab.encode(["love"])[0]
    ids[ids == love] = model.vocab.encode(["film"])[0]
    ids[1] = love
    return ids


def test_lesson_texts_are_present_lessons_output(model):
    c = computed(model, lesson_review(model))
    entries = {i + 1: guide.lesson_entry(i + 1, lesson, {n: c for n in guide_models()}, None)
               for i, lesson in enumerate(LESSONS)}
    for i, lesson in enumerate(LESSONS):
        entry, want = entries[i + 1], filled(lesson, c.tokens)
        assert {f: entry[f] for f in TEXT_FIELDS} == {f: getattr(want, f) for f in TEXT_FIELDS}
        assert entry["options"] == list(want.options) and entry["answer"] == want.answer
        assert entry["preset"] == {k: v for k, v in lesson.preset.items() if k != "word"}
        assert entry["tab"] == lesson.tab and entry["number"] == i + 1
        assert "{" not in json.dumps([entry[f] for f in TEXT_FIELDS])  # every placeholder filled
        # the page draws the two views it has; every other lesson brings its evidence as a figure or says why not
        if lesson.tab in guide.PAGE_VIEWS:
            assert entry["draws"] == lesson.tab and entry["figure"] is None
        else:
            assert entry["figure"] is not None or entry["missing"]
    # lesson 2's evidence sentence: full BPTT's ratio at 'love' against the last token, from float64 autograd
    g = reference(model, torch.tensor(c.ids), [(T - 1, 0)], c.rf.full.label_used)[0].norm(dim=1).numpy()
    assert f"{g[1] / g[-1]:.2g} times" in entries[2]["found"][0]
    # the lesson on the figure of Start here uses the lesson's own K as the opening
    assert (LESSONS[4].preset["model"], LESSONS[4].preset["compare"]) == NAMES
    ov = overview(c.tokens, NAMES[0], c.rf, 30, {n: c.occlusion for n in NAMES}, {n: c.probe for n in NAMES},
                  LESSONS[4].preset["k"])
    assert entries[5]["found"] == [use_overview(ov), opening_overview(ov)]
    # the tiny model has no training statistics: the exposure lesson says so instead of drawing nothing
    assert entries[4]["figure"] is None and "not available" in entries[4]["missing"]


def guide_models() -> set[str]:
    return {name for lesson in LESSONS for name in (lesson.preset["model"], lesson.preset.get("compare")) if name}


def test_only_lessons_whose_models_were_exported(model, monkeypatch):
    c = computed(model, lesson_review(model))
    monkeypatch.setattr(guide, "load_results", lambda name: None)
    got = guide.lessons(lambda review: {n: c for n in guide_models()}, ["imdb-last-k30", "imdb-full"])
    want = [i + 1 for i, lesson in enumerate(LESSONS)
            if {lesson.preset["model"], lesson.preset.get("compare")} <= {"imdb-last-k30", "imdb-full"}]
    assert [e["number"] for e in got] == want and 1 in want and 7 not in want  # lesson 7 needs the chunked model


def test_the_page_text_is_the_apps_question():
    assert guide.page_text() == {"question": question()}


# ---- the exported site, read back as the page reads it (the shipped models: slow)

def read_data(path) -> dict:
    raw = path.read_text()
    return json.loads(raw[raw.index(", ") + 2: raw.rindex(");")])


def page_index(site) -> dict:
    page = (site / "index.js").read_text()  # the page's one script of data (no inline script: its CSP)
    start = page.index("window.TBPTT_INDEX = ") + len("window.TBPTT_INDEX = ")
    return json.JSONDecoder().raw_decode(page[start:])[0]


@pytest.mark.slow
def test_the_exported_site_holds_start_here_and_the_lessons(tmp_path):
    from tbptt_viz import load_pretrained
    from tbptt_viz.core.data import examples, load_results
    from tbptt_viz.core.text import prepare_review
    from tbptt_viz.export.site import export_site

    models = ["imdb-last-k30", "imdb-full", "imdb-chunked-k30"]
    export_site(tmp_path, models)
    loaded = {m: load_pretrained(m) for m in models}
    text = {e.id: e.text for e in examples()}
    done = {}

    def computed_for(review_id):
        if review_id not in done:
            prepared = {m: prepare_review(text[review_id], model.vocab) for m, model in loaded.items()}
            done[review_id] = {m: computed(model, torch.tensor(prepared[m].ids), prepared[m].tokens)
                               for m, model in loaded.items()}
        return done[review_id]

    # Start here for love-then-plot, imdb-last-k30 beside imdb-full: the direct overview call's figure and sentences
    c = computed_for("love-then-plot")
    start = read_data(tmp_path / "data" / "love-then-plot__imdb-last-k30__imdb-full.start.js")
    ov = overview(c["imdb-last-k30"].tokens, "imdb-last-k30", c["imdb-last-k30"].rf, 30,
                  {m: c[m].occlusion for m in ("imdb-last-k30", "imdb-full")},
                  {m: c[m].probe for m in ("imdb-last-k30", "imdb-full")}, FIRST_N)
    assert start["figure"] == guide.rounded(json.loads(overview_figure(ov).to_json()))
    assert start["sentences"] == [training_overview(ov), use_overview(ov), opening_overview(ov)]
    with torch.no_grad():  # the numbers that separate the models, by plain forward passes
        for m, dot in zip(("imdb-last-k30", "imdb-full"), (0, 2)):
            x = torch.tensor(c[m].ids)
            shown = [t for t in start["figure"]["data"] if t.get("xaxis") == "x2"]
            assert shown[dot]["x"][0] == pytest.approx(torch.sigmoid(loaded[m](x[None])).item(), rel=1e-4)
            assert shown[dot + 1]["x"][0] == pytest.approx(torch.sigmoid(loaded[m](x[FIRST_N:][None])).item(),
                                                           rel=1e-4)
    assert len(list((tmp_path / "data").glob("*.start.js"))) == len(examples()) * len(models) * (len(models) - 1)
    # the lessons: every one (their models were exported), their texts the app's, their evidence computed
    index = page_index(tmp_path)
    assert index["question"] == question()
    assert [e["number"] for e in index["lessons"]] == list(range(1, len(LESSONS) + 1))
    study = load_results("imdb_study.json")
    for entry, lesson in zip(index["lessons"], LESSONS):
        want = guide.lesson_entry(entry["number"], lesson, computed_for(lesson.preset["review"]), study)
        assert entry == guide.rounded(json.loads(json.dumps(want)))
        tokens = computed_for(lesson.preset["review"])[lesson.preset["model"]].tokens
        assert entry["question"] == filled(lesson, tokens).question
    assert index["lessons"][3]["found"] and index["lessons"][3]["figure"]  # exposure: the shipped statistics
    assert index["lessons"][4]["numbers"]  # lesson 5 prints the study's numbers
