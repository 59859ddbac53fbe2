"""The lessons' rules: ask first, a retry after a wrong answer, then the answer; teacher mode shows it at once."""
import pytest

from tbptt_viz.present.lessons import LESSONS, MAX_TRIES, Progress, verdict
from tbptt_viz.present.params import VIEWS

LESSON = LESSONS[0]
RIGHT, WRONG = LESSON.answer, (LESSON.answer + 1) % len(LESSON.options)


def test_a_right_answer_reveals_at_once():
    p = Progress().check(LESSON, RIGHT)
    assert p == Progress(tries=1, revealed=True, right=True) and not p.retry
    assert verdict(p, LESSON, RIGHT) is True


def test_a_wrong_answer_allows_a_retry_then_the_answer_shows():
    p = Progress().check(LESSON, WRONG)
    assert p.retry and not p.revealed and verdict(p, LESSON, WRONG) is None  # still hidden
    assert MAX_TRIES == 2
    last = p.check(LESSON, WRONG)
    assert last.revealed and last.right is False and not last.retry and verdict(last, LESSON, WRONG) is False
    assert last.check(LESSON, RIGHT) == last  # revealed: further checks change nothing
    assert p.check(LESSON, RIGHT) == Progress(tries=2, revealed=True, right=True)


def test_unlimited_tries_and_reset():
    p = Progress()
    for _ in range(5):
        p = p.check(LESSON, WRONG, max_tries=None)
    assert p.tries == 5 and p.retry
    assert p.check(LESSON, RIGHT, max_tries=None).revealed and p.reset() == Progress()


@pytest.mark.parametrize("choice,shown", [(None, False), (RIGHT, True), (WRONG, False)])
def test_teacher_mode_shows_every_answer_judged_by_the_current_choice(choice, shown):
    assert verdict(Progress(), LESSON, choice, teacher=True) is shown


def test_every_lesson_is_answerable_and_opens_a_review_view():
    for lesson in LESSONS:
        assert 0 <= lesson.answer < len(lesson.options) and len(lesson.options) >= 2
        assert lesson.tab in VIEWS[2:6] and lesson.question.endswith("?")
