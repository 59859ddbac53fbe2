"""The lessons' rules: set up, then ask; as many tries as the visitor likes, a hint after a wrong one, the answer
on request; a reset; teacher mode shows it at once. And their text: placeholders filled from the lesson's own
review, three or more options where the question allows, each answer true for the shipped models."""
import re

import pytest

from tbptt_viz.present.lessons import EVIDENCE_VIEWS, LESSONS, Lesson, Progress, context, filled, verdict, word_position
from tbptt_viz.present.params import VIEWS

LESSON = LESSONS[0]
RIGHT, WRONG, OTHER = LESSON.answer, (LESSON.answer + 1) % len(LESSON.options), (LESSON.answer + 2) % len(
    LESSON.options)


def test_a_right_answer_reveals_at_once():
    p = Progress().check(LESSON, RIGHT)
    assert p == Progress(tries=1, revealed=True, right=True) and not p.retry and not p.can_give_up
    assert verdict(p, LESSON, RIGHT) is True


def test_wrong_answers_never_reveal_by_themselves_and_each_shows_the_hint():
    p = Progress()
    for n, choice in enumerate([WRONG, OTHER, WRONG, OTHER, WRONG], start=1):
        p = p.check(LESSON, choice)
        assert p.retry and not p.revealed and p.tries == n and p.can_give_up  # still hidden: try again, with a hint
        assert verdict(p, LESSON, choice) is None
    assert p.wrong == (WRONG, OTHER, WRONG, OTHER, WRONG)
    right = p.check(LESSON, RIGHT)
    assert right.revealed and right.right and right.tries == 6 and verdict(right, LESSON, RIGHT) is True
    assert right.check(LESSON, WRONG) == right  # revealed: further checks change nothing


def test_asking_for_the_answer_reveals_it_as_not_right():
    assert not Progress().can_give_up  # offered only after a try
    p = Progress().check(LESSON, WRONG).give_up()
    assert p.revealed and p.gave_up and p.right is False and verdict(p, LESSON, None) is False
    assert p.give_up() == p and p.check(LESSON, RIGHT) == p


def test_an_optional_limit_still_reveals_after_that_many_tries():
    p = Progress().check(LESSON, WRONG, max_tries=2)
    assert p.retry
    last = p.check(LESSON, WRONG, max_tries=2)
    assert last.revealed and last.right is False


def test_reset():
    p = Progress().check(LESSON, WRONG).check(LESSON, RIGHT)
    assert p.reset() == Progress() and Progress().reset() == Progress()


@pytest.mark.parametrize("choice,shown", [(None, False), (RIGHT, True), (WRONG, False)])
def test_teacher_mode_shows_every_answer_judged_by_the_current_choice(choice, shown):
    assert verdict(Progress(), LESSON, choice, teacher=True) is shown


def test_every_lesson_is_answerable_and_opens_its_evidence():
    assert len(LESSONS) == 7 and sum(lesson.tab in EVIDENCE_VIEWS for lesson in LESSONS) == 2
    for lesson in LESSONS:
        assert 0 <= lesson.answer < len(lesson.options) and len(lesson.options) >= 3
        assert lesson.tab in (*VIEWS[:6], *EVIDENCE_VIEWS) and lesson.question.endswith("?") and lesson.hint
        assert {"review", "model", "scheme"} <= set(lesson.preset)


def test_no_right_answer_is_the_only_hedged_option():
    """Hedging words ("can", "depends", "may") in the right option alone would give the answer away."""
    hedge = re.compile(r"\b(can|could|may|might|depends|empirical)\b", re.I)
    for lesson in LESSONS:
        right = lesson.options[lesson.answer]
        others = [o for j, o in enumerate(lesson.options) if j != lesson.answer]
        assert not hedge.search(right) or any(hedge.search(o) for o in others), lesson.title


def test_placeholders_are_filled_from_the_review_tokens():
    lesson = Lesson("t {T}", {"review": "r", "word": "love", "k": 5}, "Start here", "{word} at {word_t}",
                    "{word_from_end} from the end, first loss {first_loss}?", ("a {k}", "b", "c"), 0, "{n}", "{T}")
    tokens = ("i", "love", "it", ".", "the", "plot", "goes", "on")
    f = filled(lesson, tokens)
    assert (f.title, f.explain, f.question, f.options[0], f.reveal, f.hint) == (
        "t 8", "love at 1", "6 from the end, first loss 4?", "a 5", "5", "8")
    assert word_position(lesson, tokens) == 1 and context(lesson, ("a",) * 3)["first_loss"] == 2
    assert word_position(lesson, ("no", "such", "word")) is None


def test_every_lesson_fills_from_its_own_review():
    from tbptt_viz import load_pretrained
    from tbptt_viz.core.data import examples
    from tbptt_viz.core.text import prepare_review

    for lesson in LESSONS:
        text = next(e.text for e in examples() if e.id == lesson.preset["review"])
        tokens = prepare_review(text, load_pretrained(lesson.preset["model"]).vocab).tokens
        f = filled(lesson, tokens)
        words = " ".join([f.title, f.explain, f.question, *f.options, f.hint, f.reveal])
        assert "{" not in words and "}" not in words, lesson.title
        if "word" in lesson.preset:
            assert lesson.preset["word"] in tokens
