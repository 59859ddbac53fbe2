"""The Streamlit page through streamlit.testing.v1.AppTest: every view, URL state, hostile and bad input."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tbptt_viz.checkpoint import pretrained_dir, save_checkpoint

ROOT = Path(__file__).resolve().parent.parent
TABS = ["Lessons", "What training sees", "Gradient through time", "What the model uses", "Memory", "Model zoo",
        "Lab"]


def app(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at.run()


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_default_page_offline_on_embedded_example():
    at = app()
    assert_clean(at)
    assert "Where do gradients go" in at.title[0].value
    assert any("P(positive)" in m.value for m in at.markdown)
    assert at.session_state["example"] == "love-then-plot"


@pytest.mark.parametrize("scheme", ["full", "last-k", "chunked", "k1k2"])
def test_every_view_renders_for_every_scheme(scheme):
    at = app({"review": "love-then-plot", "scheme": scheme, "k": "30", "k1": "20", "k2": "45"})
    for tab in TABS:
        at.session_state["view"] = tab
        at.run()
        assert_clean(at)
    assert at.session_state["scheme"] == scheme


def test_url_parameters_round_trip():
    q = {"review": "short-awful", "model": "imdb-full", "scheme": "chunked", "k": "5", "method": "saliency"}
    at = app(q)
    assert_clean(at)
    for key, value in q.items():
        assert at.query_params[key] == [value] or at.query_params[key] == value
    assert at.session_state["scheme"] == "chunked" and at.session_state["k"] == 5
    assert at.session_state["method"] == "saliency" and at.session_state["example"] == "short-awful"


def test_k_snaps_to_the_reviews_choices_and_url_follows():
    at = app({"review": "short-awful", "scheme": "last-k", "k": "999"})
    assert_clean(at)
    k = at.session_state["k"]
    assert k < 999 and str(k) in str(at.query_params["k"])


def test_bad_url_values_fall_back_with_visible_notices():
    at = app({"review": "no-such-review", "model": "gpt-9", "scheme": "sideways", "k": "-4", "method": "magic"})
    assert_clean(at)
    notices = " ".join(w.value for w in at.warning).replace("\\", "")  # markdown escapes
    for word in ("no-such-review", "gpt-9", "sideways", "k=-4", "magic"):
        assert word in notices
    assert at.session_state["scheme"] == "last-k"


def test_hostile_review_is_rendered_escaped():
    hostile = '<script>alert("x")</script> <img src=x onerror=alert(1)> I love this film'
    at = app({"review": "custom", "text": hostile})
    at.session_state["view"] = "What training sees"
    at.run()
    assert_clean(at)
    html = " ".join(m.value for m in at.markdown)
    assert "&lt;script&gt;" in html and "<script>" not in html and "<img" not in html
    assert at.session_state["text"] == hostile  # what the user typed is kept


def test_blank_text_gets_a_friendly_message():
    at = app({"review": "custom", "text": "x"})
    at.session_state["text"] = "   "
    at.run()
    assert not at.exception
    assert any("empty" in i.value for i in at.info)


def test_long_text_is_cut_with_a_notice():
    at = app({"review": "custom", "text": "good film . " * 800})
    assert_clean(at)
    assert any("2000" in w.value for w in at.warning)


def test_corrupted_weights_show_an_error_not_a_traceback(tmp_path, monkeypatch, model):
    for name in ("imdb-full", "imdb-last-k30"):
        if (pretrained_dir() / name).is_dir():
            shutil.copytree(pretrained_dir() / name, tmp_path / name)
    save_checkpoint(model.float(), tmp_path / "broken-model", {"scheme": "full"})
    raw = bytearray((tmp_path / "broken-model" / "model.safetensors").read_bytes())
    raw[-1] ^= 0xFF
    (tmp_path / "broken-model" / "model.safetensors").write_bytes(bytes(raw))
    monkeypatch.setenv("TBPTT_VIZ_PRETRAINED", str(tmp_path))
    at = app({"model": "broken-model"})
    assert not at.exception
    assert any("sha256" in e.value and "broken-model" in e.value for e in at.error)


def test_lesson_button_applies_its_preset():
    at = app()
    at.button(key="lesson_4").click().run()
    assert_clean(at)
    assert at.session_state["scheme"] == "chunked" and at.session_state["view"] == "What training sees"
    at.query_params.pop("view", None)  # the tab is bound to the URL: going back to the default tab clears it
    at.session_state["view"] = "Lessons"
    at.run()
    at.radio(key="guess_4").set_value(at.radio(key="guess_4").options[1]).run()
    assert any(s.value.startswith("Right.") for s in at.success)


@pytest.mark.parametrize("scheme", ["last-k", "chunked"])
def test_lab_live_run_shows_the_tiny_model_through_the_same_views(scheme):
    at = app()
    at.session_state["view"] = "Lab"
    at.run()
    at.selectbox(key="lab_scheme").set_value(scheme)
    values = {"Sequence length (0 = task default)": 40, "Training sequences": 60, "Epochs": 2, "Hidden size": 8,
              "K (or k1)": 10}
    for ni in at.number_input:
        if ni.label in values:
            ni.set_value(values[ni.label])
    next(b for b in at.button if b.label == "Train live").click().run()
    assert_clean(at)
    metric = next(m for m in at.metric if "test accuracy" in m.label)
    assert 0.0 <= float(metric.value) <= 1.0
    assert any("tv-strip" in m.value for m in at.markdown)


def test_lab_refuses_a_bad_configuration_with_a_message():
    at = app()
    at.session_state["view"] = "Lab"
    at.run()
    at.selectbox(key="lab_task").set_value("planted")
    for ni in at.number_input:
        if ni.label == "planted: distance d":
            ni.set_value(500)
        if ni.label == "Sequence length (0 = task default)":
            ni.set_value(30)
    next(b for b in at.button if b.label == "Train live").click().run()
    assert not at.exception
    assert at.warning or at.error  # capped with a notice, or refused with what to change


def test_method_agreement_and_sanity_check_render():
    at = app({"review": "short-brilliant", "method": "saliency"})
    at.session_state["view"] = "What the model uses"
    at.session_state["sanity"] = True
    at.run()
    assert_clean(at)
    table = at.dataframe[0].value
    assert list(table.index) == ["integrated_gradients", "saliency", "input_x_gradient", "occlusion"]
    # one cell against an independent computation: scipy's Spearman on |scores| from a fresh run
    import torch
    from scipy.stats import spearmanr

    from tbptt_viz import load_pretrained
    from tbptt_viz.attribution import attribute
    from tbptt_viz.data import examples
    from tbptt_viz.text import prepare_review

    model = load_pretrained(at.session_state["model"])
    ids = torch.tensor(prepare_review(next(e.text for e in examples() if e.id == "short-brilliant"), model.vocab).ids)
    a, b = (abs(attribute(model, ids, m).scores) for m in ("saliency", "occlusion"))
    assert table.loc["saliency", "occlusion"] == pytest.approx(round(spearmanr(a, b).statistic, 2), abs=0.011)


def test_leaving_k1k2_and_switching_sources_keeps_state():
    at = app({"scheme": "k1k2", "k1": "20", "k2": "45"})
    at.session_state["scheme"] = "last-k"
    at.run()
    at.session_state["k"] = 10
    at.run()
    assert_clean(at)
    at.session_state["scheme"] = "k1k2"
    at.run()
    assert_clean(at)
    assert (at.session_state["k1"], at.session_state["k2"]) == (20, 45)
    at.session_state["source"] = "Your own text"
    at.run()
    at.text_area(key="text").input("my own words about a film").run()
    at.session_state["source"] = "Example reviews"
    at.run()
    at.session_state["source"] = "Your own text"
    at.run()
    assert_clean(at)
    assert at.text_area(key="text").value == "my own words about a film"


def test_a_shared_link_reopens_the_same_view():
    at = app()
    at.session_state["source"] = "Your own text"
    at.run()
    at.text_area(key="text").input("a <b>bold</b> claim: this film is wonderful").run()
    at.session_state["scheme"] = "chunked"
    at.session_state["method"] = "occlusion"
    at.run()
    assert_clean(at)
    link = {k: (v[-1] if isinstance(v, list) else v) for k, v in at.query_params.items()}
    again = app(link)
    assert_clean(again)
    for key in ("source", "text", "scheme", "method", "model", "k"):
        assert again.session_state[key] == at.session_state[key], key
    # the open tab is bound to the URL by the browser; tests/test_browser.py checks that part


def test_zero_gradient_count_shown_equals_tokens_before_the_window():
    from tbptt_viz import gradient_flow, load_pretrained
    from tbptt_viz.data import examples
    from tbptt_viz.text import prepare_review

    at = app({"review": "love-then-plot", "model": "imdb-last-k30", "scheme": "last-k", "k": "30"})
    at.session_state["view"] = "What training sees"
    at.run()
    assert_clean(at)
    text = next(e.text for e in examples() if e.id == "love-then-plot")
    model = load_pretrained("imdb-last-k30")
    T = len(prepare_review(text, model.vocab).ids)
    metric = next(m for m in at.metric if m.label == "tokens with exactly zero gradient")
    assert metric.value == f"{T - 30} of {T}"
    assert any(f"{T} tokens" in m.value and "P(positive) = " in m.value for m in at.markdown)
    import torch

    prob = gradient_flow(model, torch.tensor(prepare_review(text, model.vocab).ids), "full").prob_positive
    assert any(f"P(positive) = {prob:.3f}" in m.value for m in at.markdown)


def test_broken_card_does_not_take_the_app_down(tmp_path, monkeypatch):
    for name in ("imdb-full", "imdb-last-k30"):
        shutil.copytree(pretrained_dir() / name, tmp_path / name)
    (tmp_path / "imdb-full" / "card.json").write_text("{oops")
    monkeypatch.setenv("TBPTT_VIZ_PRETRAINED", str(tmp_path))
    at = app()
    assert_clean(at)
    assert at.session_state["model"] == "imdb-last-k30"


def test_zoo_table_shows_every_cards_accuracy():
    from tbptt_viz.checkpoint import model_cards

    at = app()
    at.session_state["view"] = "Model zoo"
    at.run()
    assert_clean(at)
    table = at.table[0].value
    for card in model_cards():
        assert table.loc[card["name"], "test accuracy"] == card["test_accuracy"]


def test_a_short_review_does_not_shrink_the_chosen_k_for_good():
    at = app({"review": "love-then-plot", "scheme": "last-k", "k": "100"})
    at.session_state["example"] = "short-awful"
    at.run()
    assert at.session_state["k"] < 100
    at.session_state["example"] = "love-then-plot"
    at.run()
    assert_clean(at)
    assert at.session_state["k"] == 100


def test_url_notices_show_once_and_compare_round_trips():
    at = app({"k": "-3", "compare": "imdb-last-k10", "view": "Nope"})
    assert any("k=-3" in w.value.replace("\\", "") for w in at.warning)
    assert any("Nope" in w.value for w in at.warning)
    assert at.session_state["compare"] == "imdb-last-k10"
    assert at.query_params["compare"] in ("imdb-last-k10", ["imdb-last-k10"])
    at.session_state["scheme"] = "chunked"
    at.run()
    assert not at.warning


def test_chunked_attribution_change_shown_equals_a_direct_computation():
    import torch

    from tbptt_viz import load_pretrained
    from tbptt_viz.attribution import attribute
    from tbptt_viz.data import examples
    from tbptt_viz.text import prepare_review

    at = app({"review": "short-brilliant", "scheme": "chunked", "k": "5", "method": "saliency",
              "model": "imdb-last-k30"})
    at.session_state["view"] = "What the model uses"
    at.run()
    assert_clean(at)
    model = load_pretrained("imdb-last-k30")
    ids = torch.tensor(prepare_review(next(e.text for e in examples() if e.id == "short-brilliant"),
                                      model.vocab).ids)
    full = attribute(model, ids, "saliency").scores
    trunc = attribute(model, ids, "saliency", backprop="chunked", k=5).scores
    want = sum(abs(t - f) for t, f in zip(trunc, full)) / sum(abs(f) for f in full)
    metric = next(m for m in at.metric if m.label == "how much truncation changes the attribution")
    assert metric.value == f"{want:.0%}"
    cut = next(m for m in at.metric if m.label.startswith("share of |attribution| outside"))
    assert cut.value == "0%"  # chunked cuts no token off


def test_long_review_computes_occlusion_and_probe_on_request():
    at = app({"review": "custom", "text": "the plot moves on . " * 220})  # about 1,100 tokens
    at.session_state["view"] = "What the model uses"
    at.run()
    assert_clean(at)
    charts = len(at.get("plotly_chart"))
    at.toggle(key="occ_long").set_value(True).run()
    assert_clean(at)
    assert len(at.get("plotly_chart")) == charts + 2
