"""The evidence figures (by their data), computed sentences and lesson drafts, checked against the shipped models."""
import numpy as np
import pytest
import torch

from conftest import seq
from tbptt_viz import attribute, connectivity, logit_grad_map, word_exposure
from tbptt_viz.attribution.probe import occlusion_scores
from tbptt_viz.core.data import examples
from tbptt_viz.core.text import Vocab, prepare_review
from tbptt_viz.experiments.exposure import build_exposure, vocab_sha256
from tbptt_viz.present import evidence_figures as figs
from tbptt_viz.present.colours import model_colour
from tbptt_viz.present.evidence_lessons import EVIDENCE_LESSONS
from tbptt_viz.present.lessons import word_position
from tbptt_viz.present.evidence_sentences import (connectivity_sentence, exposure_sentence, shapley_sentence,
                                                 span_of)

VOCAB = Vocab(("<pad>", "<unk>", "good", "bad", "film", "."))


def small_exposure(scheme="last-k", **kw):
    stats = build_exposure([[2, 4, 5], [4, 3, 5], [2, 2, 4, 4, 4, 4, 3]], len(VOCAB), vocab_sha256(VOCAB))
    return word_exposure(VOCAB, [2, 1, 4, 3], scheme, stats=stats, **kw)


def test_exposure_figure_draws_the_share_per_model_and_bounds():
    exact, bounds = small_exposure(k=2), small_exposure("k1k2", k1=3, k2=1)
    tokens = ["good", "zzz", "film", "bad"]
    fig = figs.exposure_figure({"imdb-last-k30": exact, "imdb-k1k2-30-60": bounds}, tokens)
    first = fig.data[0]
    share = [e / o if o > 0 else None for e, o in zip(exact.in_reach, exact.occurrences)]
    assert list(first.y) == [None if s is None else pytest.approx(s) for s in share]
    assert first.line.color == model_colour("imdb-last-k30") and "unknown word" in first.hovertext[1]
    assert len(fig.data) == 3 and fig.data[2].fill == "tonexty"  # the k2 < k1 band: upper then lower
    assert list(fig.data[1].y)[0] == pytest.approx(bounds.in_reach_high[0] / bounds.occurrences[0])


def test_exposure_sentences_say_the_counts():
    tokens = ["good", "zzz", "film", "bad"]
    e = small_exposure(k=3)
    assert exposure_sentence(e, tokens, 0) == ("'good' occurs in 2 training reviews; under last-K (K = 3) it lies "
                                               "inside the window in 1 of them: that is where its "
                                               "embedding was trained.")
    assert "never lies inside the window" in exposure_sentence(small_exposure(k=2), tokens, 0)
    assert "not in the vocabulary" in exposure_sentence(e, tokens, 1)
    assert "every token" in exposure_sentence(small_exposure("chunked", k=2), tokens, 2)
    assert "between" in exposure_sentence(small_exposure("k1k2", k1=3, k2=1), tokens, 0)


def test_connectivity_and_map_figures_carry_the_numbers(model):
    ids = seq(12)
    tokens = [f"w{i}" for i in range(12)]
    c = connectivity(model, ids, 3)
    fig = figs.connectivity_figure({"imdb-full": c}, tokens, window=(7, 11), window_label="last K = 5")
    assert list(fig.data[0].x) == list(range(3, 12)) and list(fig.data[0].y) == pytest.approx(list(c.state_norm))
    assert list(fig.data[1].y) == pytest.approx(list(c.logit_grad)) and fig.layout.yaxis.type == "log"
    assert fig.layout.shapes[0].x0 == 6.5 and fig.layout.shapes[1].x0 == 3  # the window, then the source
    m = logit_grad_map(model, ids)
    heat = figs.logit_grad_map_figure(m, tokens).data[0]
    assert heat.z[3][5] == pytest.approx(np.log10(m.logit_grad[3, 5])) and heat.z[5][3] is None


def test_span_and_connectivity_sentence(model):
    c = connectivity(model, seq(12), 0)
    span = span_of(c.state_norm)
    below = np.flatnonzero(c.state_norm < 0.01 * c.state_norm[0])
    assert span == (int(below[0]) if below.size else None)
    assert span_of([2.0, 1.0, 0.01, 0.5]) == 2 and span_of([1.0, 0.5]) is None
    text = connectivity_sentence(c, [f"w{i}" for i in range(12)], "tiny", window=4)
    assert text.startswith("'w0' (token 0): its effect on tiny's hidden state") and "through 4 tokens" in text


def test_shapley_figure_and_sentence(model, vocab):
    words = "good film . it was bad ! the end .".split()
    ids = torch.tensor(vocab.encode(words))
    a = attribute(model, ids, "shapley")
    occ = occlusion_scores(model, ids)
    fig = figs.shapley_figure(a, words, occ, name="imdb-full")
    assert list(fig.data[0].y) == pytest.approx(list(a.group_values)) and list(fig.data[0].width) == pytest.approx([2.85, 3.8, 2.85])
    assert list(fig.data[1].y) == pytest.approx([occ[0:3].sum(), occ[3:7].sum(), occ[7:10].sum()])
    assert "exact" in fig.layout.title.text
    text = shapley_sentence(a, words, occ)
    assert f"{a.group_values[0]:+.2f} (exact)" in text and f"{occ[:3].sum():+.2f} in total" in text
    sampled = attribute(model, seq(30), "shapley", groups=3)
    title = figs.shapley_figure(sampled, [f"w{i}" for i in range(30)]).layout.title.text
    assert "95% bars over 8 repeats" in title.replace("<br>", " ")  # broken into phone-wide lines


def review(name: str, model):
    text = next(e.text for e in examples() if e.id == "love-then-plot")
    return prepare_review(text, model.vocab)


def test_exposure_lesson_answer_holds_for_the_shipped_model():
    from tbptt_viz import load_pretrained

    lesson = EVIDENCE_LESSONS[0]
    model = load_pretrained(lesson.preset["model"])
    r = review(lesson.preset["review"], model)
    love = r.tokens.index("love")
    e = word_exposure(model, r.ids, "last-k", lesson.preset["k"])
    assert 0 < e.in_reach[love] < e.occurrences[love] / 2  # "a minority, but not none"
    assert lesson.answer == 1 and "minority" in lesson.options[lesson.answer]


def test_connectivity_lesson_answer_holds_for_the_shipped_model():
    from tbptt_viz import load_pretrained

    lesson = EVIDENCE_LESSONS[1]
    model = load_pretrained(lesson.preset["model"])
    r = review(lesson.preset["review"], model)
    source = word_position(lesson, r.tokens)
    assert r.tokens[source] == "love"
    c = connectivity(model, torch.tensor(r.ids), source)
    K = lesson.preset["k"]
    span = span_of(c.state_norm)
    assert span is None or span > K  # it reaches past the window: "No"
    assert np.all(c.state_norm[: K + 1] > 0.01 * c.state_norm[0])
    assert c.state_norm[K] < c.state_norm[0]  # and it fades: not "it grows with distance"
    assert lesson.answer == 1 and lesson.options[1].startswith("No")


def test_the_window_the_final_loss_reaches_by_the_schemes_definitions():
    from tbptt_viz.present.evidence_sentences import reached_window, trained_window

    T = 100
    assert reached_window("full", T) == (0, 99)
    assert reached_window("last-k", T, 30) == (70, 99) and reached_window("last-k", T, 200) == (0, 99)
    assert reached_window("chunked", T, 30) == (90, 99)      # the last chunk starts at 90 (0, 30, 60, 90)
    assert reached_window("k1k2", T, k1=30, k2=60) == (40, 99)  # a loss at the end, 60 tokens back
    assert trained_window({"scheme": "last-k", "k": 30}) == 30 and trained_window({"scheme": "full", "k": None}) is None
    assert trained_window({"scheme": "k1k2", "k": None, "k1": 30, "k2": 60}) == 60


def test_the_bounds_note_says_what_the_bounds_are():
    from tbptt_viz.present.evidence_sentences import exposure_bounds_note

    e = small_exposure("k1k2", k1=3, k2=1)
    note = exposure_bounds_note(e)
    assert "TBPTT(k1 = 3, k2 = 1)" in note and "within the last 1 tokens" in note
    # the lower bound: reviews with an occurrence in the last k2 = 1 tokens; the upper: every review with it
    reviews = [[2, 4, 5], [4, 3, 5], [2, 2, 4, 4, 4, 4, 3]]
    for t, w in enumerate([2, 1, 4, 3]):
        if w > 1:
            assert e.in_reach[t] == sum(r[-1] == w for r in reviews)
            assert e.in_reach_high[t] == sum(w in r for r in reviews)


def test_the_shapley_check_sentence_states_the_attributions_own_numbers(model, vocab):
    from scipy.stats import t as student_t

    from tbptt_viz.present.evidence_sentences import shapley_check_sentence

    words = "good film . it was bad ! the end .".split()
    exact = attribute(model, torch.tensor(vocab.encode(words)), "shapley")
    text = shapley_check_sentence(exact)
    assert f"{exact.target_change:+.3f} within {abs(exact.completeness_gap):.2g}" in text
    assert f"all {2 ** 3} coalitions of the 3 groups" in text
    sampled = attribute(model, seq(30), "shapley", groups=3, samples=4)
    half = np.max(sampled.standard_error) * student_t.ppf(0.975, 7)
    text = shapley_check_sentence(sampled)
    assert "32 sampled orders of the 10 groups" in text and f"at most {half:.2f} (tolerance {sampled.tolerance:.2f})" in text


def test_memory_span_cell_reads_the_pooled_study_entry():
    from tbptt_viz.present.evidence_sentences import memory_span_cell

    assert memory_span_cell(None) == "not measured yet"
    span = {"mean": 45.0, "low": 28.4, "high": 61.6}
    assert memory_span_cell({"span": span, "max_lag": 200}) == "45 [28, 62] over seeds"
    assert memory_span_cell({"span": {"mean": 45.0, "low": None}, "max_lag": 200}) == "45 (one seed)"
    assert memory_span_cell({"span": {"mean": None}, "max_lag": 200}) == "beyond 200 tokens"
