"""Issue 23's evidence in the page (AppTest): training exposure, connectivity and the logit_grad map, Shapley
values, the study's memory span. Every sentence equals the library's own function fed by a direct call of the
computing layer on the same review; the followed word lives in the URL (`source=`)."""
from __future__ import annotations

import base64
import copy
import html
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from tbptt_viz import load_pretrained
from tbptt_viz.core.data import examples, load_results
from tbptt_viz.core.text import prepare_review
from tbptt_viz.present.evidence_sentences import (connectivity_sentence, exposure_bounds_note, exposure_sentence,
                                                  memory_span_cell, memory_span_sentence, reached_window,
                                                  shapley_check_sentence, shapley_sentence, trained_window)
from tbptt_viz.present.names import METHOD_NAMES
from tbptt_viz.present.params import default_source

pytestmark = pytest.mark.slow  # page runs on the shipped models
ROOT = Path(__file__).resolve().parent.parent
MODELS = ("imdb-last-k30", "imdb-full")


def app(query: dict) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def clean(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert not [h.value for h in at.get("html") if "tv-notice tv-error" in h.value]
    return at


def paragraphs(at: AppTest) -> list[str]:
    """The views' computed sentences (escaped HTML paragraphs), as plain text."""
    return [html.unescape(re.sub(r"<[^>]+>", "", h.value)) for h in at.get("html") if h.value.startswith("<p>")]


def warnings(at: AppTest) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", "", h.value)) for h in at.get("html") if "tv-notice tv-warning" in h.value]


def review(example: str = "love-then-plot") -> tuple[torch.Tensor, tuple[str, ...]]:
    prepared = prepare_review(next(e.text for e in examples() if e.id == example), load_pretrained(MODELS[0]).vocab)
    return torch.tensor(prepared.ids), tuple(prepared.tokens)


def figures(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def values(v) -> np.ndarray:
    """A trace's array as plotly sends it: a list, or base64 typed data ({"bdata", "dtype", "shape"})."""
    if isinstance(v, dict):
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
        return a.reshape([int(n) for n in str(v["shape"]).split(",")]) if "shape" in v else a
    return np.array([np.nan if x is None else x for x in v], dtype=float)


def asked_keys(monkeypatch) -> list:
    """Record every key the compute service is asked for (and whether it was then cached)."""
    from tbptt_viz.serving.service import ComputeService

    asked = []
    request = ComputeService.request
    monkeypatch.setattr(ComputeService, "request", lambda self, key, *a, **kw: (
        asked.append((key, self.cached(key))), request(self, key, *a, **kw))[1])
    return asked


# ---- What training sees: where each word was trained ---------------------------------------------------------

def test_exposure_sentences_equal_word_exposure_and_the_k_slider_is_a_lookup(monkeypatch):
    from tbptt_viz.experiments.exposure import word_exposure

    asked = asked_keys(monkeypatch)
    at = clean(app({"view": "What training sees", "review": "love-then-plot", "scheme": "last-k", "k": "30"}))
    ids, tokens = review()
    S = default_source(tokens)
    assert tokens[S] == "love" and at.selectbox(key="word_training").value == S
    said = paragraphs(at)
    for name in MODELS:  # each model under the scheme on its card
        net = load_pretrained(name)
        c = net.card
        e = word_exposure(net, ids, c["scheme"], c["k"], c["k1"], c["k2"])
        assert any(p.startswith(f"{name} (trained with {c['label']}): ") and p.endswith(exposure_sentence(e, tokens, S))
                   for p in said), said
    chosen = word_exposure(load_pretrained(MODELS[0]), ids, "last-k", 30)
    assert f"Under the scheme chosen above ({chosen.label}): {exposure_sentence(chosen, tokens, S)}" in said
    strip = next(h.value for h in at.get("html") if "share in reach" in h.value and "tv-strip" in h.value)
    values = [float(v) for v in re.findall(r'data-value="([^"]+)"', strip)]
    np.testing.assert_allclose(values, chosen.share, rtol=1e-8)  # NaN for unknown words on both sides
    assert "source" not in at.query_params  # the default word: nothing in the link

    # the K slider: the strip follows it, and every key the page then asks for was already cached (no model pass)
    asked.clear()
    at.select_slider(key="k").set_value(100).run()
    clean(at)
    assert asked and all(cached for _, cached in asked), [k.kind for k, c in asked if not c]
    wider = word_exposure(load_pretrained(MODELS[0]), ids, "last-k", 100)
    assert f"Under the scheme chosen above ({wider.label}): {exposure_sentence(wider, tokens, S)}" in paragraphs(at)

    # another word: the sentences follow it and the link keeps it
    at.selectbox(key="word_training").set_value(0).run()
    clean(at)
    assert at.query_params["source"] == "0" and at.session_state["word"] == 0
    assert any(p.endswith(exposure_sentence(wider, tokens, 0)) for p in paragraphs(at))


def test_exposure_under_k1k2_with_k2_below_k1_says_its_counts_are_bounds():
    from tbptt_viz.experiments.exposure import word_exposure

    at = clean(app({"view": "What training sees", "scheme": "k1k2", "k1": "40", "k2": "10", "source": "3"}))
    ids, tokens = review()
    e = word_exposure(load_pretrained(MODELS[0]), ids, "k1k2", k1=40, k2=10)
    assert not e.exact and exposure_bounds_note(e) in [c.value for c in at.caption]
    assert f"Under the scheme chosen above ({e.label}): {exposure_sentence(e, tokens, 3)}" in paragraphs(at)
    assert "between" in exposure_sentence(e, tokens, 3)


@pytest.mark.parametrize("value,says", [("abc", "source is not a token position"),
                                        ("400", "source=400 is beyond this 229-token review")])
def test_a_bad_source_in_the_link_falls_back_to_the_default_word_with_a_notice(value, says):
    at = clean(app({"view": "What training sees", "source": value}))
    _, tokens = review()
    assert any(says in w for w in warnings(at)), warnings(at)
    assert at.selectbox(key="word_training").value == default_source(tokens)


# ---- Memory: how far a word travels ----------------------------------------------------------------------------

def test_connectivity_sentences_curves_and_window_equal_direct_calls():
    from tbptt_viz.attribution.connectivity import connectivity

    at = clean(app({"view": "Memory", "review": "love-then-plot", "scheme": "last-k", "k": "30", "source": "5"}))
    ids, tokens = review()
    T = len(ids)
    assert at.selectbox(key="word_memory").value == 5 and at.query_params["source"] == "5"
    said = paragraphs(at)
    conns = {}
    for name in MODELS:
        net = load_pretrained(name)
        conns[name] = connectivity(net, ids, 5)
        assert f"{name}. {connectivity_sentence(conns[name], tokens, name, trained_window(net.card))}" in said
    fig = next(f for f in figures(at) if "How strongly one word moves" in json.dumps(f["layout"]["title"]))
    first, last = reached_window("last-k", T, 30)
    assert first == T - 30 and last == T - 1
    band = next(s for s in fig["layout"]["shapes"] if s["type"] == "rect")
    assert (band["x0"], band["x1"]) == (first - 0.5, last + 0.5)
    curves = {tr["name"]: tr for tr in fig["data"]}
    for name in MODELS:
        np.testing.assert_allclose(values(curves[f"{name}: ||dh_t/dx_S||"]["y"]), conns[name].state_norm, rtol=1e-6)
        assert list(values(curves[f"{name}: ||dh_t/dx_S||"]["x"])) == list(range(5, T))  # the prediction last
    # the cell's curve on request; the study's span beside each model's sentence, from the shipped JSON
    at.multiselect(key="conn_curves").select("cell_norm").run()
    names = [tr["name"] for f in figures(clean(at)) for tr in f["data"]]
    assert f"{MODELS[1]}: ||dc_t/dx_S||" in names
    regimes = load_results("imdb_study.json")["regimes"]
    captions = [c.value for c in at.caption]
    for name in MODELS:
        if regimes[name].get("memory"):
            assert "Across the study's reviews: " + memory_span_sentence(name, regimes[name]["memory"]) in captions
        else:
            assert any("is not measured yet for" in c and name in c for c in captions)


def test_without_the_studys_span_the_page_says_the_sentence_is_this_reviews_alone(monkeypatch):
    from tbptt_viz.ui import services

    monkeypatch.setattr(services, "study_results", study_without_evidence)
    at = clean(app({"view": "Memory", "review": "love-then-plot", "scheme": "last-k", "k": "30", "source": "5"}))
    assert any("is not measured yet for imdb-last-k30, imdb-full" in c.value for c in at.caption)


def test_picking_a_word_redraws_and_the_map_comes_on_request(monkeypatch):
    from tbptt_viz.attribution.connectivity import connectivity, logit_grad_map

    asked = asked_keys(monkeypatch)
    at = clean(app({"view": "Memory", "review": "short-brilliant"}))
    ids, tokens = review("short-brilliant")
    assert not any(k.kind == "logit_map" for k, _ in asked)  # the map waits for the switch
    at.selectbox(key="word_memory").set_value(2).run()
    clean(at)
    assert at.query_params["source"] == "2"
    c = connectivity(load_pretrained(MODELS[0]), ids, 2)
    assert f"{MODELS[0]}. {connectivity_sentence(c, tokens, MODELS[0], 30)}" in paragraphs(at)
    at.toggle(key="logit_map").set_value(True).run()
    maps = [f for f in figures(clean(at)) if f["data"] and f["data"][0]["type"] == "heatmap"]
    assert len(maps) == 2
    m = logit_grad_map(load_pretrained(MODELS[0]), ids).logit_grad
    z = np.array([values(row) for row in maps[0]["data"][0]["z"]], dtype=float)
    np.testing.assert_allclose(z, np.log10(m), rtol=1e-9)  # NaN (t < S) in the same places
    # the K slider redraws the training window only: every key it asks for is cached (no model pass)
    asked.clear()
    at.select_slider(key="k").set_value(5).run()
    fig = next(f for f in figures(clean(at)) if "How strongly one word moves" in json.dumps(f["layout"]["title"]))
    band = next(s for s in fig["layout"]["shapes"] if s["type"] == "rect")
    assert (band["x0"], band["x1"]) == (len(ids) - 5 - 0.5, len(ids) - 1 + 0.5)
    assert asked and all(cached for _, cached in asked), [k.kind for k, c in asked if not c]


def study_without_evidence() -> dict:
    """The shipped study as it was before issue 23's measurements: no memory span, no words together."""
    study = copy.deepcopy(load_results("imdb_study.json"))
    for entry in (*study["regimes"].values(), *study["models"].values()):
        entry.pop("memory", None), entry.pop("together", None)
    return study


def study_with_evidence() -> dict:
    """The shipped study with issue 23's measurements for two regimes, pooled by the study's own function."""
    from tbptt_viz.experiments.study.stats import evidence_pooled

    study = copy.deepcopy(load_results("imdb_study.json"))
    lags = list(range(201))
    for name, spans, K in (("imdb-last-k30", (38, 45, 52), 30), ("imdb-full", (120, None, 160), None)):
        per_seed = [{"memory": {"span": s, "threshold": 0.01, "max_lag": 200, "pairs": 40, "reviews": 20,
                                "training_window": K, "lags": lags, "median_ratio": [0.97 ** j for j in lags]},
                     "together": {"n": 100, "exceeds_fraction": 0.6, "exceeds_clearly_fraction": 0.4,
                                  "median_ratio": 1.8, "same_sign_fraction": 0.9}} for s in spans]
        study["regimes"][name].update(evidence_pooled([0, 1, 2], per_seed))
    return study


def test_memory_span_from_the_study_sits_beside_the_training_window(monkeypatch):
    from tbptt_viz.ui import services

    study = study_with_evidence()
    monkeypatch.setattr(services, "study_results", lambda: study)
    at = clean(app({"view": "Memory"}))
    captions = [c.value for c in at.caption]
    for name in MODELS:
        assert "Across the study's reviews: " + memory_span_sentence(name, study["regimes"][name]["memory"]) in captions
    assert "after 45 tokens (trained through 30 tokens)" in memory_span_sentence(
        MODELS[0], study["regimes"][MODELS[0]]["memory"])


# ---- What the model uses: words together ----------------------------------------------------------------------

def test_shapley_in_the_method_menu_with_its_error_and_checks_equal_attribute():
    from tbptt_viz.attribution.methods import attribute, convergence_message

    at = clean(app({"view": "What the model uses", "review": "love-then-plot", "method": "shapley"}))
    assert at.selectbox(key="method").options == list(METHOD_NAMES.values())  # human names in the menu
    ids, tokens = review()
    said = paragraphs(at)
    notes = [w.value for w in at.warning] + [c.value for c in at.caption]
    for name in MODELS:
        net = load_pretrained(name)
        a = attribute(net, ids, "shapley", groups="sentences", samples=2)
        occ = attribute(net, ids, "occlusion").scores
        assert f"{name}. {shapley_sentence(a, tokens, occ)}" in said
        assert (convergence_message(a) or shapley_check_sentence(a)) in notes
    fig = next(f for f in figures(at) if "Words together" in json.dumps(f["layout"]["title"]))
    a = attribute(load_pretrained(MODELS[0]), ids, "shapley")
    np.testing.assert_allclose(values(fig["data"][0]["y"]), a.group_values, rtol=1e-9)
    assert any(s.value == "Full vs truncated backprop of the training loss" for s in at.subheader)
    assert any("has no backward pass" in i.value for i in at.info)  # nothing to truncate

    # spans of 20 tokens, more sampled orders: the key changes, the numbers follow
    at.selectbox(key="shapley_span").set_value(20)
    at.selectbox(key="shapley_samples").set_value(8).run()
    clean(at)
    a = attribute(load_pretrained(MODELS[0]), ids, "shapley", groups=20, samples=8)
    occ = attribute(load_pretrained(MODELS[0]), ids, "occlusion").scores
    assert f"{MODELS[0]}. {shapley_sentence(a, tokens, occ)}" in paragraphs(at)
    assert len(a.groups) == -(-len(ids) // 20)


# ---- Model zoo ---------------------------------------------------------------------------------------------------

def test_zoo_shows_the_memory_span_beside_each_k_and_says_what_is_not_measured(monkeypatch):
    from tbptt_viz.experiments.study.report import evidence_tables
    from tbptt_viz.experiments.study.results import regimes_of
    from tbptt_viz.ui import services

    monkeypatch.setattr(services, "study_results", study_without_evidence)
    at = clean(app({"view": "Model zoo"}))  # a study without the measurements: said once
    assert any(c.value.startswith("Not measured yet in results/imdb_study.json") for c in at.caption)
    table = at.table[0].value
    assert set(table["memory span (study, tokens)"]) == {"not measured yet"}
    assert table.loc["imdb-last-k30", "trained through (tokens)"] == "30"
    assert table.loc["imdb-full", "trained through (tokens)"] == "whole review"
    assert table.loc["imdb-k1k2-30-60", "trained through (tokens)"] == "60"

    study = study_with_evidence()
    monkeypatch.setattr(services, "study_results", lambda: study)
    at = clean(app({"view": "Model zoo"}))
    table = at.table[0].value
    for name in MODELS:
        assert table.loc[name, "memory span (study, tokens)"] == memory_span_cell(study["regimes"][name]["memory"])
    from scipy import stats

    half = stats.t.ppf(0.975, 2) * np.std([38, 45, 52], ddof=1) / np.sqrt(3)  # the 95% t-interval over 3 seeds
    want = f"45 [{45 - half:.0f}, {45 + half:.0f}] over seeds"
    assert table.loc["imdb-last-k30", "memory span (study, tokens)"] == want
    assert any(m.value.strip() == "\n".join(evidence_tables(regimes_of(study))).strip() for m in at.markdown)
    assert any("Memory span" in json.dumps(f["layout"]["title"]) for f in figures(at))
