"""The Streamlit page through streamlit.testing.v1.AppTest: every view, URL state, hostile and bad input,
the lessons' order, the shared compute service under several sessions at once."""
from __future__ import annotations

import re
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from tbptt_viz.core.checkpoint import pretrained_dir, save_checkpoint
from tbptt_viz.present.params import VIEWS

ROOT = Path(__file__).resolve().parent.parent


def app(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at.run()


def htmls(at: AppTest) -> list[str]:
    return [h.value for h in at.get("html")]


def notices(at: AppTest, kind: str = "warning") -> list[str]:
    return [h for h in htmls(at) if f"tv-notice tv-{kind}" in h]


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert not notices(at, "error"), notices(at, "error")


def example_ids(model_name: str, example: str) -> torch.Tensor:
    from tbptt_viz import load_pretrained
    from tbptt_viz.core.data import examples
    from tbptt_viz.core.text import prepare_review

    model = load_pretrained(model_name)
    return torch.tensor(prepare_review(next(e.text for e in examples() if e.id == example), model.vocab).ids)


def test_default_page_opens_on_the_answer_offline():
    import json

    at = app()
    assert_clean(at)
    assert "Where do gradients go" in at.title[0].value
    assert any("P(positive)" in h for h in htmls(at))
    assert at.session_state["example"] == "love-then-plot" and at.session_state["method"] == "occlusion"
    # the opening view: the overview figure first, then the word strips, exposure and the study's headline figure
    # (its numbers against direct computations: tests/test_teaching.py)
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert titles[0] == "This review, token by token" and len(titles) == 3
    assert [s.value for s in at.subheader] == ["Word by word", "Where were these words trained?",
                                               "Across many reviews, and another recipe"]
    assert sum("tv-strip" in h for h in htmls(at)) >= 5
    T = len(example_ids("imdb-last-k30", "love-then-plot"))
    assert any(f"{T - 30} of {T} tokens get a gradient of exactly 0.0" in h for h in htmls(at))


def unreached(scheme: str, T: int, k: int, k1: int, k2: int) -> int:
    """Tokens no loss of the scheme back-propagates to, by the schemes' definitions written out here."""
    if scheme in ("full", "chunked"):  # chunked: every token lies in some chunk, and its loss reaches it
        return 0
    if scheme == "last-k":
        return max(0, T - k)
    ends = sorted({*range(k1 - 1, T, k1), T - 1})  # k1k2: a loss every k1 steps (and at the end), k2 steps back
    return sum(not any(p - k2 < t <= p for p in ends) for t in range(T))


# What each view shows when it has drawn: a subheader, a metric, a chart's title or a widget of its own.
SIGNS = {"Start here": lambda at: any(s.value.startswith("Across many reviews") for s in at.subheader),
         "Lessons": lambda at: at.selectbox(key="lesson_pick") is not None,
         "What training sees": lambda at: any(m.label == "loss against" for m in at.metric),
         "Gradient through time": lambda at: any("For every K, the cosine" in c.value for c in at.caption),
         "What the model uses": lambda at: any(s.value == "Full vs truncated backprop of the training loss"
                                               for s in at.subheader),
         "Memory": lambda at: any(m.value.startswith("**imdb-last-k30.** Direct path") for m in at.markdown),
         "Model zoo": lambda at: len(at.table) == 1,
         "Lab": lambda at: any(s.value == "Run one configuration live" for s in at.subheader)}


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["full", "last-k", "chunked", "k1k2"])
def test_every_view_renders_for_every_scheme(scheme):
    at = app({"review": "love-then-plot", "scheme": scheme, "k": "30", "k1": "20", "k2": "45"})
    T = len(example_ids("imdb-last-k30", "love-then-plot"))
    for tab in VIEWS:
        at.session_state["view"] = tab
        at.run()
        assert_clean(at)
        assert SIGNS[tab](at), tab
        if tab == "What training sees":
            zero = next(m.value for m in at.metric if m.label == "tokens with exactly zero gradient")
            assert zero == f"{unreached(scheme, T, 30, 20, 45)} of {T}"
    assert at.session_state["scheme"] == scheme


@pytest.mark.slow
def test_url_parameters_round_trip():
    q = {"review": "short-awful", "model": "imdb-full", "scheme": "chunked", "k": "5", "method": "saliency"}
    at = app(q)
    assert_clean(at)
    for key, value in q.items():
        assert at.query_params[key] in (value, [value])
    assert at.session_state["scheme"] == "chunked" and at.session_state["k_wanted"] == 5
    assert at.session_state["method"] == "saliency" and at.session_state["example"] == "short-awful"


@pytest.mark.slow
def test_a_short_review_clips_the_display_not_the_link():
    at = app({"review": "short-awful", "scheme": "last-k", "k": "100", "view": "What training sees"})
    assert_clean(at)
    assert at.session_state["k"] < 100 and at.query_params["k"] in ("100", ["100"])
    assert any("K=100 (your setting, kept in the link)" in c.value for c in at.caption)
    at.session_state["example"] = "love-then-plot"
    at.run()
    assert_clean(at)
    assert at.session_state["k"] == 100


@pytest.mark.slow
def test_bad_url_values_fall_back_with_visible_notices():
    at = app({"review": "no-such-review", "model": "gpt-9", "scheme": "sideways", "k": "-4", "method": "magic"})
    assert_clean(at)
    shown = " ".join(notices(at))
    for word in ("no-such-review", "gpt-9", "sideways", "parameter k", "magic"):
        assert word in shown
    assert at.session_state["scheme"] == "last-k"


PAYLOADS = [
    "Great film\r\r![p](http://127.0.0.1:9/pixel.png)\r\r[Log in](http://127.0.0.1:9/phish)",
    "ok\r\n# Heading\u2028**bold** $x^2$ :red[alert] :smile: <b>tag</b>\u0085> quote",
    '<script>alert("x")</script> <img src=x onerror=alert(1)> I love this film',
    "https://evil.example/login www.evil.example a_b_c `code` ~~strike~~",
]


@pytest.mark.slow
@pytest.mark.parametrize("payload", PAYLOADS)
def test_nothing_a_visitor_sends_is_interpreted(payload):
    """Review text and URL values reach the page only as escaped HTML, never through Markdown."""
    at = app({"review": "custom", "text": payload, "model": payload, "compare": payload, "view": "Memory"})
    assert not at.exception
    everything_markdown = " ".join([m.value for m in at.markdown] + [c.value for c in at.caption]
                                   + [w.value for w in at.warning] + [i.value for i in at.info]
                                   + [e.value for e in at.error] + [s.value for s in at.success])
    for piece in ("127.0.0.1", "evil.example", "Log in", ":red[", ":smile:", "$x^2$", "<b>", "<script", "Heading"):
        assert piece not in everything_markdown, piece
    # the page's own copy-link button is the one element allowed a script (ui/teacher.py; it holds no visitor text)
    page = " ".join(h for h in htmls(at) if 'id="tv-copy-link"' not in h)
    assert not re.search(r"<(a|img|script|iframe|h1)[\s>]", page)  # tags only as escaped text, e.g. &lt;img
    assert sum("<script" in h for h in htmls(at)) == 1
    assert "\r" not in page and "\r" not in at.session_state["text"]
    assert at.session_state["text"].startswith(payload.split("\r")[0].split("\n")[0])  # what was typed is kept


@pytest.mark.slow
def test_blank_text_gets_a_friendly_message():
    at = app({"review": "custom", "text": "x"})
    at.session_state["text"] = "   "
    at.run()
    assert not at.exception
    assert any("empty" in i.value for i in at.info)


@pytest.mark.slow
def test_long_text_keeps_its_end_by_default_and_says_so():
    text = "the opening line . " * 600 + "and finally a bad ending"  # 2,405 tokens
    at = app({"review": "custom", "text": text, "view": "Lessons"})  # the header says it; no view needs computing
    assert_clean(at)
    assert any("only the last 2000" in n for n in notices(at))
    assert at.session_state["keep"] == "last"
    at.radio(key="keep").set_value("first").run()
    assert any("only the first 2000" in n for n in notices(at))


@pytest.mark.slow
def test_corrupted_weights_show_an_error_not_a_traceback(tmp_path, monkeypatch, model):
    for name in ("imdb-full", "imdb-last-k30"):
        shutil.copytree(pretrained_dir() / name, tmp_path / name)
    save_checkpoint(model.float(), tmp_path / "broken-model", {"scheme": "full"})
    raw = bytearray((tmp_path / "broken-model" / "model.safetensors").read_bytes())
    raw[-1] ^= 0xFF
    (tmp_path / "broken-model" / "model.safetensors").write_bytes(bytes(raw))
    monkeypatch.setenv("TBPTT_VIZ_PRETRAINED", str(tmp_path))
    at = app({"model": "broken-model"})
    assert_clean(at)  # the page falls back to a working model and says why, once
    moved = [n for n in notices(at) if "Model broken-model cannot be loaded" in n]
    assert len(moved) == 1 and "sha256" in moved[0] and "showing imdb-full instead" in moved[0]
    assert at.session_state["model"] == "imdb-full" and at.get("plotly_chart")
    assert not any(o.startswith("broken-model") for o in at.selectbox(key="model").options)


@pytest.mark.slow
def test_a_broken_default_model_falls_back_with_one_notice(tmp_path, monkeypatch):
    """imdb-last-k30 (the default) tampered and re-hashed: NaN weights only the new check catches."""
    import json

    from safetensors.torch import load_file, save_file

    from tbptt_viz.core.checkpoint import HASHED, sha256

    for name in ("imdb-full", "imdb-last-k30", "imdb-last-k10"):
        shutil.copytree(pretrained_dir() / name, tmp_path / name)
    folder = tmp_path / "imdb-last-k30"
    state = load_file(str(folder / "model.safetensors"))
    state["head.weight"][0, 0] = float("nan")
    save_file(state, str(folder / "model.safetensors"))
    card = json.loads((folder / "card.json").read_text())
    (folder / "card.json").write_text(json.dumps({**card, **{k: sha256(folder / n) for k, n in HASHED.items()}}))
    monkeypatch.setenv("TBPTT_VIZ_PRETRAINED", str(tmp_path))
    at = app()
    assert_clean(at)
    assert at.session_state["model"] == "imdb-full" and len(at.get("plotly_chart")) >= 1
    said = [n for n in notices(at) if "imdb-last-k30" in n]
    assert len(said) == 1 and "NaN" in said[0] and "showing imdb-full instead" in said[0]  # one notice
    assert [o.split(" ·")[0] for o in at.selectbox(key="model").options] == ["imdb-full", "imdb-last-k10"]
    at.run()
    assert not [n for n in notices(at) if "imdb-last-k30" in n]  # said once, on the first run


@pytest.mark.slow
def test_a_broken_compare_model_never_breaks_the_default_page(tmp_path, monkeypatch):
    for name in ("imdb-full", "imdb-last-k30", "imdb-last-k10"):
        shutil.copytree(pretrained_dir() / name, tmp_path / name)
    raw = bytearray((tmp_path / "imdb-full" / "model.safetensors").read_bytes())
    raw[-1] ^= 0xFF
    (tmp_path / "imdb-full" / "model.safetensors").write_bytes(bytes(raw))
    monkeypatch.setenv("TBPTT_VIZ_PRETRAINED", str(tmp_path))
    at = app()  # default model imdb-last-k30, default compare imdb-full: broken
    assert not at.exception and not notices(at, "error")
    assert sum("cannot be loaded" in n for n in notices(at)) == 1  # said once
    at.run()
    assert at.session_state["compare"] == "imdb-last-k10"  # fell back to a working model
    assert not notices(at, "error")


# The lessons' flow (set up, ask, hints, resets, teacher mode): tests/test_teaching.py.


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["last-k", "chunked"])
def test_lab_live_run_shows_the_tiny_model_through_the_same_views(scheme):
    from tbptt_viz.experiments.lab.runs import LabConfig, live_run

    at = app({"view": "Lab"})
    at.selectbox(key="lab_scheme").set_value(scheme)
    values = {"lab_seq_len": 40, "lab_n_train": 60, "lab_epochs": 2, "lab_hidden": 8, "lab_k": 10}
    for key, value in values.items():
        at.number_input(key=key).set_value(value)
    next(b for b in at.button if b.label == "Train live").click().run()
    assert_clean(at)
    metric = next(m for m in at.metric if "test accuracy" in m.label)
    config = LabConfig(task="prefix", scheme=scheme, k=10, seq_len=40, n_train=60, epochs=2, hidden=8, clean_last=10,
                       distance=20)
    assert metric.value == f"{live_run(config, lambda *progress: None).test_accuracy:.3f}"  # the same run, here
    assert f"({config.task}, {config.scheme_label}, seed 0)" in metric.label
    assert any("tv-strip" in h for h in htmls(at))
    assert at.query_params["lab_scheme"] in (scheme, [scheme]) and at.query_params["lab_epochs"] in ("2", ["2"])
    # a tab round trip keeps the form's values and the run
    at.session_state["view"] = "Start here"
    at.run()
    at.session_state["view"] = "Lab"
    at.run()
    assert at.number_input(key="lab_epochs").value == 2 and any("test accuracy" in m.label for m in at.metric)


@pytest.mark.slow
def test_lab_refuses_a_bad_configuration_with_a_message():
    at = app({"view": "Lab"})
    at.selectbox(key="lab_task").set_value("planted")
    at.number_input(key="lab_distance").set_value(150)  # within the field's bounds, but not within 30 tokens
    at.number_input(key="lab_seq_len").set_value(30)
    next(b for b in at.button if b.label == "Train live").click().run()
    assert not at.exception and not at.metric  # nothing trained
    errors = notices(at, "error")
    assert any("distance 150 must be below seq_len 30" in n and "Change the setting and train again" in n
               for n in errors)  # what to change
    assert not at.session_state["lab_runs"] if "lab_runs" in at.session_state else True


@pytest.mark.slow
def test_sidebar_scheme_is_hidden_where_it_does_nothing():
    at = app({"view": "Lab"})
    assert not any(r.key == "scheme" for r in at.sidebar.radio)
    at = app({"view": "What training sees"})
    assert any(r.key == "scheme" for r in at.sidebar.radio)


@pytest.mark.slow
def test_method_agreement_and_sanity_check_render():
    from scipy.stats import spearmanr

    from tbptt_viz import load_pretrained
    from tbptt_viz.attribution.methods import METHODS, attribute
    from tbptt_viz.present.names import METHOD_NAMES

    at = app({"review": "short-brilliant", "method": "saliency", "view": "What the model uses"})
    at.session_state["sanity"] = True
    at.run()
    assert_clean(at)
    table = at.dataframe[0].value
    assert list(table.index) == [METHOD_NAMES[m] for m in METHODS]  # every method of the menu, shapley included
    model = load_pretrained(at.session_state["model"])
    ids = example_ids(at.session_state["model"], "short-brilliant")
    a, b = (abs(attribute(model, ids, m).scores) for m in ("saliency", "occlusion"))
    assert table.loc[METHOD_NAMES["saliency"], METHOD_NAMES["occlusion"]] == pytest.approx(
        round(spearmanr(a, b).statistic, 2), abs=0.011)
    c = abs(attribute(model, ids, "shapley", groups="sentences", samples=2).scores)
    assert table.loc[METHOD_NAMES["shapley"], METHOD_NAMES["occlusion"]] == pytest.approx(
        round(spearmanr(c, b).statistic, 2), abs=0.011)


@pytest.mark.slow
def test_integrated_gradients_say_whether_they_converged():
    from tbptt_viz import load_pretrained
    from tbptt_viz.attribution.methods import attribute

    at = app({"review": "love-then-plot", "method": "integrated_gradients", "view": "What the model uses"})
    assert_clean(at)
    said = " ".join([c.value for c in at.caption] + [w.value for w in at.warning])
    stepped = []
    for name in ("imdb-last-k30", "imdb-full"):
        a = attribute(load_pretrained(name), example_ids(name, "love-then-plot"), "integrated_gradients")
        if a.converged:
            assert f"{a.evaluations} gradient evaluations" in said
            stepped.append(bool(a.rank_one_intervals))
        else:
            assert "Not to be trusted" in said
    assert said.count("the integrator shared the change out along that direction") == sum(stepped)
    assert any(p for p in at.get("plotly_chart"))  # the path chart


@pytest.mark.slow
def test_leaving_k1k2_and_switching_sources_keeps_state():
    at = app({"scheme": "k1k2", "k1": "20", "k2": "45", "view": "What training sees"})
    at.session_state["scheme"] = "last-k"
    at.run()
    at.session_state["k_wanted"] = 10
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


@pytest.mark.slow
def test_your_own_text_starts_from_the_review_on_screen():
    from tbptt_viz.core.data import examples

    at = app({"review": "short-awful"})
    at.sidebar.radio(key="source").set_value("Your own text").run()
    assert at.text_area(key="text").value == next(e.text for e in examples() if e.id == "short-awful")


@pytest.mark.slow
def test_a_shared_link_reopens_the_same_view():
    at = app()
    at.session_state["source"] = "Your own text"
    at.run()
    at.text_area(key="text").input("a <b>bold</b> claim: this film is wonderful").run()
    at.session_state["scheme"] = "chunked"
    at.session_state["method"] = "saliency"
    at.run()
    assert_clean(at)
    link = {k: (v[-1] if isinstance(v, list) else v) for k, v in at.query_params.items()}
    again = app(link)
    assert_clean(again)
    for key in ("source", "text", "scheme", "method", "model", "k_wanted"):
        assert again.session_state[key] == at.session_state[key], key


@pytest.mark.slow
def test_zero_gradient_count_shown_equals_tokens_before_the_window():
    from tbptt_viz import gradient_flow, load_pretrained

    at = app({"review": "love-then-plot", "model": "imdb-last-k30", "scheme": "last-k", "k": "30",
              "view": "What training sees"})
    assert_clean(at)
    ids = example_ids("imdb-last-k30", "love-then-plot")
    T = len(ids)
    metric = next(m for m in at.metric if m.label == "tokens with exactly zero gradient")
    assert metric.value == f"{T - 30} of {T}"
    prob = gradient_flow(load_pretrained("imdb-last-k30"), ids, "full").prob_positive
    assert any(f"{T} tokens" in h and f"P(positive) = {prob:.3f}" in h for h in htmls(at))
    assert any("tv-legend" in h for h in htmls(at))  # every strip has a numeric legend


@pytest.mark.slow
def test_full_scheme_shows_one_strip():
    at = app({"scheme": "full", "view": "What training sees"})
    assert_clean(at)
    gradient = [h for h in htmls(at) if "||dL/dx_t||" in h]  # the exposure strip below it is another view's
    assert sum(h.count('class="tv-strip"') for h in gradient) == 1


@pytest.mark.slow
def test_broken_card_does_not_take_the_app_down(tmp_path, monkeypatch):
    for name in ("imdb-full", "imdb-last-k30"):
        shutil.copytree(pretrained_dir() / name, tmp_path / name)
    (tmp_path / "imdb-full" / "card.json").write_text("{oops")
    monkeypatch.setenv("TBPTT_VIZ_PRETRAINED", str(tmp_path))
    at = app()
    assert_clean(at)
    assert at.session_state["model"] == "imdb-last-k30"


@pytest.mark.slow
def test_zoo_table_shows_every_cards_accuracy_from_the_files():
    import json

    at = app({"view": "Model zoo"})
    assert_clean(at)
    table = at.table[0].value
    for card_file in sorted(pretrained_dir().glob("*/card.json")):  # read here, not through the app's code
        card = json.loads(card_file.read_text())
        assert table.loc[card_file.parent.name, "test accuracy"] == card["test_accuracy"]
    study = json.loads((Path(__file__).parents[1] / "results" / "imdb_study.json").read_text())
    has_memory = any(m.get("memory") for m in study["models"].values())  # the memory-span figure, once measured
    assert len(at.get("plotly_chart")) == 4 + has_memory
    assert sum("How to read this" in c.value for c in at.caption) >= 5 + has_memory


@pytest.mark.slow
def test_url_notices_show_once_and_compare_round_trips():
    at = app({"k": "-3", "compare": "imdb-last-k10", "view": "Nope"})
    assert any("parameter k" in n for n in notices(at)) and any("Nope" in n for n in notices(at))
    assert at.session_state["compare"] == "imdb-last-k10"
    assert at.query_params["compare"] in ("imdb-last-k10", ["imdb-last-k10"])
    at.session_state["scheme"] = "chunked"
    at.run()
    assert not notices(at)


@pytest.mark.slow
def test_chunked_attribution_change_shown_equals_a_direct_computation():
    from tbptt_viz import load_pretrained
    from tbptt_viz.attribution.methods import attribute

    at = app({"review": "short-brilliant", "scheme": "chunked", "k": "5", "method": "saliency",
              "model": "imdb-last-k30", "view": "What the model uses"})
    assert_clean(at)
    model = load_pretrained("imdb-last-k30")
    ids = example_ids("imdb-last-k30", "short-brilliant")
    full = attribute(model, ids, "saliency", target="loss").scores
    trunc = attribute(model, ids, "saliency", backprop="chunked", k=5).scores
    want = np.abs(trunc - full).sum() / np.abs(full).sum()
    metric = next(m for m in at.metric if m.label == "how much truncation changes the attribution")
    assert metric.value == f"{want:.0%}"
    cut = next(m for m in at.metric if m.label.startswith("share of |attribution| outside"))
    assert cut.value == "0%"  # chunked cuts no token off


@pytest.mark.slow
def test_lab_link_values_out_of_range_fall_back_to_defaults_with_notices():
    at = app({"view": "Lab", "lab_epochs": "5000", "lab_k": "900", "lab_hidden": "5000", "lab_n_train": "0",
              "lab_seed": "50000"})
    assert_clean(at)
    state = {k: at.session_state[f"lab_{k}"] for k in ("epochs", "k", "hidden", "n_train", "seed")}
    assert state == {"epochs": 20, "k": 30, "hidden": 32, "n_train": 1000, "seed": 50000}
    said = [n for n in notices(at) if n.count("URL parameter lab_")]
    assert len(said) == 4 and any("lab_epochs=&#x27;5000&#x27; is not a whole number from 1 to 20" in n for n in said)
    assert at.number_input(key="lab_epochs").max == 20 and at.number_input(key="lab_hidden").max == 64


@pytest.mark.slow
def test_a_lab_run_over_the_live_budget_is_refused_not_shrunk():
    at = app({"view": "Lab", "lab_epochs": "20", "lab_n_train": "2000", "lab_seq_len": "200", "lab_hidden": "64"})
    assert_clean(at)
    at.button(key="FormSubmitter:lab_form-Train live").click().run()
    assert any("too large for a live run" in n and "over the 90 s budget" in n for n in notices(at, "error"))
    assert not at.session_state["lab_runs"] if "lab_runs" in at.session_state else True


@pytest.mark.slow
def test_the_text_box_keeps_a_long_paste_and_offers_a_file_for_sharing():
    text = "the opening line . " * 3000 + "and finally a bad ending"  # 57,024 characters, 12,005 tokens
    at = app({"view": "Lab"})
    at.radio(key="source").set_value("Your own text").run()
    assert not at.text_area(key="text").max_chars  # 0: no limit (a limit keeps the start of a paste)
    at.text_area(key="text").set_value(text).run()
    assert_clean(at)
    assert any("only the last 2000" in n for n in notices(at, "warning"))
    assert "text" not in at.query_params and at.query_params["review"] == "custom"
    assert any("too long for a link" in c.value for c in at.caption)
    assert [d.label for d in at.get("download_button")][-1:] == ["Download this text (.txt)"]


@pytest.mark.slow
def test_a_long_review_streams_its_occlusion_the_end_first_then_shows_the_whole_record(monkeypatch):
    """A 2,000-token review on "Start here": the occlusion strips are drawn while pieces are missing (NaN, the
    end computed first), then replaced by the overview and the word-by-word strips, whole; the page asks for
    pieces only, never a whole occlusion or probe, and the values it ends with are the sequential computation's
    (float32 rounding: other batch shapes)."""
    from tbptt_viz import attribute, load_pretrained
    from tbptt_viz.core.text import prepare_review
    from tbptt_viz.serving import jobs
    from tbptt_viz.serving.service import ComputeService, same_as_sequential
    from tbptt_viz.ui import start_here

    gate, drawn, asked = threading.Event(), [], []
    run, draw, request = jobs.run, start_here.occlusion_strips, ComputeService.request

    def held_run(key, models):  # the rest of the review waits until the page has drawn its first part
        if key.kind in ("occ_piece", "probe_piece") and key.hi < len(key.ids):
            gate.wait(120)
        return run(key, models)

    def recorded(review, scores, progress):
        drawn.append((progress, {n: int(np.isnan(v).sum()) for n, v in scores.items()}))
        gate.set()
        return draw(review, scores, progress)

    monkeypatch.setattr(jobs, "run", held_run)
    monkeypatch.setattr(start_here, "occlusion_strips", recorded)
    monkeypatch.setattr(ComputeService, "request", lambda self, key, *a, **kw: (asked.append(key),
                                                                                request(self, key, *a, **kw))[1])
    words = "the film was slow at first but the actors kept it alive and the music carried every scene".split()
    text = " ".join(words[i % len(words)] + ("" if i % 7 else " .") for i in range(2100))
    at = app({"review": "custom", "text": text, "view": "Start here"})
    assert_clean(at)
    partial = [missing for progress, missing in drawn]
    assert partial and all(0 < n < 2000 for n in partial[0].values())  # drawn with the start still missing
    assert not [k for k in asked if k.kind in ("attr", "probe")]  # pieces, never the whole job
    assert {k.kind for k in asked} >= {"occ_piece", "probe_piece", "flow"}
    assert not [h for h in htmls(at) if "occlusion: logit drop" in h]  # the streamed strips, replaced
    strips = [h for h in htmls(at) if "imdb-last-k30: occlusion, the logit drop" in h]
    model = load_pretrained("imdb-last-k30")
    ids = torch.tensor(prepare_review(text, model.vocab).ids)
    shown = [float(v) for v in re.findall(r'data-value="([^"]+)"', strips[0])]
    assert len(shown) == 2000 and same_as_sequential(shown, attribute(model, ids, "occlusion").scores)


@pytest.mark.slow
def test_long_review_computes_occlusion_and_probe_on_request():
    at = app({"review": "custom", "text": "the plot moves on . " * 220, "view": "What the model uses"})
    assert_clean(at)
    charts = len(at.get("plotly_chart"))
    at.toggle(key="occ_long").set_value(True).run()
    assert_clean(at)
    assert len(at.get("plotly_chart")) == charts + 1  # occlusion and the probe: one figure, two panels


@pytest.mark.slow
def test_every_review_view_offers_both_exports():
    # "What the model uses" exports the chosen method's scores and, apart, occlusion with the probe; "What
    # training sees" the gradients and the exposure; "Memory" the traces and the connectivity curves
    for view, n in (("What training sees", 2), ("What the model uses", 2), ("Memory", 2)):
        at = app({"review": "short-awful", "view": view})
        assert_clean(at)
        assert [d.label for d in at.get("download_button")] == ["Download CSV", "Download JSON"] * n, view


@pytest.mark.slow
def test_several_sessions_at_once_get_the_sequential_numbers():
    """Four sessions open distinct custom reviews on 'What the model uses' at the same time; every shown
    number equals a fresh sequential computation (the shared model is never changed)."""
    from tbptt_viz import load_pretrained
    from tbptt_viz.attribution.methods import attribute
    from tbptt_viz.core.text import prepare_review

    texts = [f"review {i}: the film was {w} and the plot {v} ." * 3
             for i, (w, v) in enumerate([("great", "moved"), ("awful", "dragged"), ("fine", "worked"),
                                          ("boring", "stalled")])]
    results, errors = {}, []

    def visit(i):
        try:
            at = app({"review": "custom", "text": texts[i], "method": "integrated_gradients",
                      "view": "What the model uses"})
            results[i] = at
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=visit, args=(i,)) for i in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors
    models = {name: load_pretrained(name) for name in ("imdb-last-k30", "imdb-full")}
    assert sorted(results) == [0, 1, 2, 3]
    for i, at in results.items():
        assert_clean(at)
        strips = [h for h in htmls(at) if "integrated gradients of the logit" in h]
        assert len(strips) == 2  # the chosen model, then the compare model
        said = " ".join(c.value for c in at.caption) + " ".join(w.value for w in at.warning)
        for strip, (name, model) in zip(strips, models.items()):
            ids = torch.tensor(prepare_review(texts[i], model.vocab).ids)
            a = attribute(model, ids, "integrated_gradients")
            shown = [float(v) for v in re.findall(r'data-value="([^"]+)"', strip)]
            np.testing.assert_allclose(shown, a.scores, rtol=1e-8, atol=1e-12, err_msg=f"{name}, review {i}")
            assert f"{a.target_change:+.3f}" in said or f"{a.target_change:+.2f}" in said
