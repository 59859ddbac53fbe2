"""The teaching page through AppTest: Start here's answer in one figure with a sentence per part (numbers against
direct computations), the opening-length control without a model pass, lessons that set up then ask (tries,
hints, the answer on request, resets, teacher mode, links to a lesson), and the teacher's tools (copy link,
glossary, presentation mode)."""
from __future__ import annotations

import html as markup
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from tbptt_viz.present.lessons import LESSONS, filled

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow  # each runs the Streamlit page


def app(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at.run()


def texts(at: AppTest) -> list[str]:
    """Every html element as the reader sees it: tags dropped, entities decoded."""
    return [markup.unescape(re.sub(r"<[^>]+>", "", h.value)) for h in at.get("html")]


def clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert not [h.value for h in at.get("html") if "tv-notice tv-error" in h.value]


def review(name: str, example: str = "love-then-plot"):
    from tbptt_viz import load_pretrained
    from tbptt_viz.core.data import examples
    from tbptt_viz.core.text import prepare_review

    m = load_pretrained(name)
    return m, prepare_review(next(e.text for e in examples() if e.id == example), m.vocab)


def chart_titles(at: AppTest) -> list[str]:
    return [json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "").replace("<br>", " ") for c in at.get("plotly_chart")]


# ---- Start here ---------------------------------------------------------------------------------------------
def direct_overview(n: int = 30):
    """The Start page's numbers, each computed here directly from the shipped models."""
    from tbptt_viz import attribute, context_probe, gradient_flow

    last, prepared = review("imdb-last-k30")
    full, _ = review("imdb-full")
    ids = torch.tensor(prepared.ids)
    T = len(ids)
    grads = {s: gradient_flow(last, ids, s, k=30, label=1).input_grad_norm for s in ("full", "last-k", "chunked")}
    occ = {name: attribute(m, ids, "occlusion").scores for name, m in (("imdb-last-k30", last), ("imdb-full", full))}
    probes = {name: context_probe(m, ids) for name, m in (("imdb-last-k30", last), ("imdb-full", full))}
    return T, prepared.tokens, grads, occ, probes


def test_start_here_answers_in_one_figure_with_a_sentence_per_part():
    from tbptt_viz.present.sentences import question

    at = app()
    clean(at)
    assert chart_titles(at)[0] == "This review, token by token"
    T, tokens, grads, occ, probes = direct_overview()
    shown = "\n".join(texts(at))
    zero = int(np.sum(grads["last-k"] == 0))
    assert zero == T - 30
    assert (f"Training (imdb-last-k30's weights): under last-K (K = 30) {zero} of {T} tokens get a gradient of exactly "
            f"0.0 from its loss; full BPTT gives the first token {grads['full'][0]:.2g}; chunked (K = 30) reaches "
            f"{int(np.sum(grads['chunked'] > 0))} of {T}, the first token ({grads['chunked'][0]:.2g}) from the loss at "
            "token 29.") in shown
    share = {n: np.abs(s[:30]).sum() / np.abs(s).sum() for n, s in occ.items()}
    assert (f"the first 30 tokens hold {share['imdb-last-k30']:.0%} for imdb-last-k30 and {share['imdb-full']:.0%} "
            "for imdb-full of the |logit drop|.") in shown
    p = {n: (pr.prob_positive, pr.prob_without_first_n[30]) for n, pr in probes.items()}
    assert (f"Without the first 30 tokens P(positive) goes from {p['imdb-last-k30'][0]:.2f} to "
            f"{p['imdb-last-k30'][1]:.2f} for imdb-last-k30 and from {p['imdb-full'][0]:.2f} to "
            f"{p['imdb-full'][1]:.2f} for imdb-full") in shown
    assert question() in shown and "That is the question's setup, not the shipped models'." in shown
    # the evidence of part 1: where 'love' was trained, under each model's own scheme
    from tbptt_viz import word_exposure

    m, prepared = review("imdb-last-k30")
    e = word_exposure(m, prepared.ids, "last-k", 30)
    love = prepared.tokens.index("love")
    assert (f"imdb-last-k30: 'love' occurs in {e.occurrences[love]:,} training reviews; under last-K (K = 30) it lies "
            f"inside the window in {e.in_reach[love]:,} of them") in shown
    assert f"imdb-full: 'love' occurs in {e.occurrences[love]:,} training reviews; under full BPTT" in shown
    # another recipe: both update rules, the script, the study's finding with its interval over seeds
    recipe = next(t for t in texts(at) if t.startswith("Another recipe"))
    assert "per-review" in recipe and "per-chunk" in recipe and "RNN/lstm_imdb_tbptt.py" in recipe
    assert re.search(r"mean [+-]\d\.\d+ \[[+-]\d\.\d+, [+-]\d\.\d+\] over seeds", recipe)
    assert any("95% interval over seeds" in c.value for c in at.caption)
    # one colour per model: the names in the sentences carry the model's colour
    from tbptt_viz.present.colours import model_colour

    raw = "".join(h.value for h in at.get("html"))
    assert f'color:{model_colour("imdb-full")};font-weight:600">imdb-full<' in raw


def test_the_opening_length_reads_the_probe_and_runs_no_model(monkeypatch):
    from tbptt_viz.serving import jobs

    calls = []
    run = jobs.run
    monkeypatch.setattr(jobs, "run", lambda key, models: (calls.append(key), run(key, models))[1])
    at = app()
    clean(at)
    before = len(calls)
    at.slider(key="opening_n").set_value(10).run()
    clean(at)
    assert len(calls) == before  # every number came from the cached flow, occlusion and probe
    _, _, _, _, probes = direct_overview()
    p = probes["imdb-full"]
    assert any("Without the first 10 tokens" in t and f"from {p.prob_positive:.2f} to "
               f"{p.prob_without_first_n[10]:.2f} for imdb-full" in t for t in texts(at))
    assert at.query_params["opening"] in ("10", ["10"])


def test_the_opening_length_comes_from_the_link_and_a_bad_one_says_so():
    at = app({"opening": "12"})
    clean(at)
    assert at.slider(key="opening_n").value == 12
    bad = app({"opening": "many"})
    assert bad.slider(key="opening_n").value == 30
    assert any("URL parameter opening is not a whole number" in h.value for h in bad.get("html"))


def test_a_one_token_review_has_no_opening_control():
    at = app({"review": "custom", "text": "wonderful"})
    clean(at)
    assert not [s for s in at.slider if s.key == "opening_n"] and chart_titles(at)[0] == "This review, token by token"


# ---- Lessons ------------------------------------------------------------------------------------------------
def lesson_shown(n: int) -> object:
    m, prepared = review(LESSONS[n].preset["model"], LESSONS[n].preset["review"])
    return filled(LESSONS[n], prepared.tokens)


def test_opening_a_lesson_sets_it_up_then_asks_with_hints_and_any_number_of_tries():
    at = app({"view": "Lessons"})
    clean(at)
    assert any(i.value.startswith("Pick a lesson") for i in at.info)
    at.selectbox(key="lesson_pick").set_value(1).run()  # lesson 2: full BPTT on love-then-plot
    clean(at)
    ss = at.session_state
    assert (ss["model"], ss["scheme"], ss["example"], ss["compare"]) == ("imdb-full", "full", "love-then-plot",
                                                                         "imdb-last-k30")
    assert any("imdb-full says P(positive)" in t for t in texts(at))  # the header shows the lesson's model
    assert "Gradient through time" in chart_titles(at)  # the evidence is on screen
    lesson = lesson_shown(1)
    _, prepared = review("imdb-full")
    from_end = len(prepared.tokens) - 1 - prepared.tokens.index("love")
    assert from_end == 227 and f"({from_end} tokens before the end)" in lesson.question
    assert any(m.value == f"**{lesson.question}**" for m in at.markdown)
    assert not at.success and not at.info  # the answer is hidden
    assert not any("times the one at the last token" in t for t in texts(at))  # so is the sentence that states it
    for tries, wrong in enumerate([0, 1, 0], start=1):
        at.radio(key="guess_1").set_value(lesson.options[wrong]).run()
        at.button(key="check_1").click().run()
        clean(at)
        warning = next(w.value for w in at.warning if w.value.startswith("Not quite"))
        assert f"({tries} tr" in warning and lesson.hint in warning and not at.success and not at.info
    at.radio(key="guess_1").set_value(lesson.options[lesson.answer]).run()
    at.button(key="check_1").click().run()
    clean(at)
    assert at.success[0].value == "Right. " + lesson.reveal
    from tbptt_viz import gradient_flow

    m, _ = review("imdb-full")
    g = gradient_flow(m, torch.tensor(prepared.ids), "full", label=1).full_input_grad_norm
    assert any(f"is {g[1] / g[-1]:.2g} times the one at the last token" in t for t in texts(at))
    at.button(key="reset_1").click().run()
    assert not at.success and at.radio(key="guess_1").value is None and "check_1" in [b.key for b in at.button]


def test_the_answer_on_request_and_a_reset_for_all_lessons():
    at = app({"view": "Lessons", "lesson": "1"})
    clean(at)
    lesson = lesson_shown(0)
    assert "give_up_0" not in [b.key for b in at.button]  # offered after a try
    at.radio(key="guess_0").set_value(lesson.options[0]).run()
    at.button(key="check_0").click().run()
    at.button(key="give_up_0").click().run()
    clean(at)
    assert at.info[0].value == f"The answer: {lesson.options[lesson.answer]}. {lesson.reveal}"
    assert any(c.value == "Lessons answered: 1." for c in at.caption)
    at.button(key="lesson_reset_all").click().run()
    assert not at.info and not at.success and at.radio(key="guess_0").value is None


def test_lesson_5_prints_the_studys_numbers_with_their_intervals():
    from tbptt_viz.core.data import load_results
    from tbptt_viz.present.sentences import start_contrast

    at = app({"view": "Lessons", "lesson": "5"})
    clean(at)
    assert chart_titles(at)[0] == "This review, token by token"
    lesson = lesson_shown(4)
    assert len(lesson.options) >= 3
    at.radio(key="guess_4").set_value(lesson.options[lesson.answer]).run()
    at.button(key="check_4").click().run()
    clean(at)
    numbers = start_contrast(load_results("imdb_study.json"))
    assert "(mean over 3 seeds [95% interval over seeds])" in numbers and numbers in texts(at)


def test_lesson_7_names_both_update_rules_and_the_studys_finding():
    from tbptt_viz.core.data import load_results
    from tbptt_viz.experiments.study.report import update_rule

    at = app({"view": "Lessons", "lesson": "7", "teacher": "1"})  # teacher mode: the answer at once
    clean(at)
    assert at.session_state["scheme"] == "chunked" and at.session_state["model"] == "imdb-chunked-k30"
    assert any("Teacher mode" in c.value for c in at.caption)
    assert at.info and at.info[0].value.startswith("The answer: Yes: from the loss at the end of the first chunk, "
                                                   "token 29.")
    lesson = lesson_shown(6)
    assert "per-review" in lesson.explain and "per-chunk" in lesson.explain and "RNN/lstm_imdb_tbptt.py" in \
        lesson.explain
    assert any(t.endswith(update_rule(load_results("imdb_study.json"))) for t in texts(at))


@pytest.mark.parametrize("n", [3, 5])
def test_the_evidence_lessons_draw_exposure_and_connectivity(n):
    at = app({"view": "Lessons", "lesson": str(n + 1)})
    clean(at)
    want = {3: "Where each word was trained", 5: "How strongly one word moves every later state"}[n]
    assert any(t.startswith(want) for t in chart_titles(at))
    lesson = lesson_shown(n)
    at.radio(key=f"guess_{n}").set_value(lesson.options[lesson.answer]).run()
    at.button(key=f"check_{n}").click().run()
    clean(at)
    after = "\n".join(texts(at))
    if n == 3:
        assert "imdb-last-k30: 'love' occurs in" in after and "imdb-full: 'love' occurs in" in after
    else:
        assert "'love' (token 1): its effect on imdb-last-k30's hidden state" in after


def test_a_bad_lesson_in_the_link_says_so():
    at = app({"view": "Lessons", "lesson": "<b>99</b>"})
    clean(at)
    assert any("URL parameter lesson must be a lesson number from 1 to 7" in h.value for h in at.get("html"))
    assert at.selectbox(key="lesson_pick").value is None and not any("<b>" in h.value for h in at.get("html")
                                                                       if "tv-notice" in h.value)


def test_a_lesson_whose_review_was_changed_offers_to_load_it_again():
    at = app({"view": "Lessons", "lesson": "1"})
    at.session_state["example"] = "short-awful"
    at.run()
    clean(at)
    assert any("another review or model" in w.value for w in at.warning)
    at.button(key="lesson_reload").click().run()
    assert at.session_state["example"] == "love-then-plot" and not at.warning


def test_a_lessons_prefetch_asks_for_exactly_what_its_evidence_waits_for(monkeypatch):
    from tbptt_viz.present.review import Review
    from tbptt_viz.serving import jobs
    from tbptt_viz.serving.service import ComputeService
    from tbptt_viz.ui import services

    asked = []
    request = ComputeService.request
    monkeypatch.setattr(ComputeService, "request", lambda self, key, *a, **kw: (asked.append(key),
                                                                                request(self, key, *a, **kw))[1])
    prefetch = services.prefetch
    monkeypatch.setattr(services, "prefetch", lambda *a: None)
    at = app({"view": "Lessons", "lesson": "6"})
    clean(at)
    m, prepared = review("imdb-last-k30")
    full, _ = review("imdb-full")
    r = Review("imdb-last-k30", "imdb-full", tuple(prepared.ids), tuple(full.vocab.encode(prepared.tokens)),
               tuple(prepared.tokens), 1, "love-then-plot")
    want = {jobs.prediction(r.model, r.ids),
            *jobs.view_jobs("How far a word reaches", r, jobs.ViewSettings(source=1))}
    assert set(asked) == want and jobs.connectivity("imdb-full", r.compare_ids, 1) in want
    asked.clear()
    monkeypatch.setattr(services, "prefetch", prefetch)
    at.run()
    assert set(asked) == want


# ---- for the teacher ----------------------------------------------------------------------------------------
def test_copy_link_and_glossary_on_every_view_and_presentation_mode():
    from tbptt_viz.present.glossary import GLOSSARY

    for view in ("Start here", "Model zoo"):
        at = app({"view": view})
        clean(at)
        copy = [h.value for h in at.get("html") if 'id="tv-copy-link"' in h.value]
        assert len(copy) == 1 and "navigator.clipboard.writeText(url)" in copy[0] and "window.location.href" in copy[0]
        assert copy[0].count("<script") == 1  # our own, the only script the page holds (see test_app)
        assert [p.proto.popover.label for p in at.get("popover")] == ["Glossary"]
        words = "".join(m.value for m in at.markdown)
        assert all(f"**{t.term}**" in words for t in GLOSSARY)
        assert not any('class="tv-present"' in h.value for h in at.get("html"))
    shown = app({"view": "Start here", "present": "1"})
    clean(shown)
    style = next(h.value for h in shown.get("html") if 'class="tv-present"' in h.value)
    assert '[data-testid="stSidebar"]' in style and "display:none" in style and "html{font-size:21px}" in style
    assert shown.session_state["present"] is True


def test_a_long_review_streams_its_first_chart_and_bounds_the_opening_to_the_probe_computed(monkeypatch):
    """A review over probe.FIRST_PIECE tokens: the page asks for exactly view_jobs (occlusion and the opening's
    probe piece, never the whole probe), draws the overview once every occlusion piece is in, and the opening
    slider stops where the probe piece it asked for ends (no model pass from the slider, a link's longer opening
    kept within it)."""
    from tbptt_viz import load_pretrained
    from tbptt_viz.attribution.probe import pieces
    from tbptt_viz.core.text import prepare_review
    from tbptt_viz.present.review import Review
    from tbptt_viz.serving import jobs
    from tbptt_viz.serving.service import ComputeService

    text = "the film was good and the plot was bad . " * 60
    asked = []
    request = ComputeService.request
    monkeypatch.setattr(ComputeService, "request", lambda self, key, *a, **kw: (asked.append(key),
                                                                                request(self, key, *a, **kw))[1])
    ran, run = [], jobs.run
    monkeypatch.setattr(jobs, "run", lambda key, models: (ran.append(key), run(key, models))[1])
    at = app({"review": "custom", "text": text, "opening": "300"})
    clean(at)
    last, full = load_pretrained("imdb-last-k30"), load_pretrained("imdb-full")
    prepared = prepare_review(text, last.vocab)
    T = len(prepared.ids)
    assert jobs.streamed(prepared.ids) and T == 600
    review = Review("imdb-last-k30", "imdb-full", tuple(prepared.ids), tuple(full.vocab.encode(prepared.tokens)),
                    tuple(prepared.tokens), None)
    assert set(asked) == {jobs.prediction(review.model, review.ids), *jobs.view_jobs("Start here", review)}
    assert not [k for k in asked if k.kind == "probe"]  # never the whole probe
    hi = next(h for lo, h in pieces(T) if lo == 0)
    assert at.slider(key="opening_n").max == hi - 1 and at.slider(key="opening_n").value == hi - 1  # 300: kept in
    assert any(f"openings up to {hi - 1:,} tokens" in c.value for c in at.caption)
    assert chart_titles(at)[0] == "This review, token by token"
    before = len(ran)
    at.slider(key="opening_n").set_value(10).run()
    clean(at)
    assert len(ran) == before and at.slider(key="opening_n").value == 10  # the slider reads what is computed
