"""Lessons: each asks first; a right answer (or the last try) reveals the answer and sets up its evidence."""
from __future__ import annotations

import streamlit as st

from tbptt_viz.present.lessons import LESSONS, Progress, verdict
from tbptt_viz.present.review import Review
from tbptt_viz.present.sentences import question
from tbptt_viz.ui import gradient_time, memory, model_use, services, training
from tbptt_viz.ui.widgets import guarded

# A lesson's evidence, drawn inline under its question: the view of its tab, for the analysed review.
EVIDENCE = {"What training sees": training.show, "Gradient through time": gradient_time.show,
            "What the model uses": model_use.show, "Memory": memory.show}


def progress(n: int) -> Progress:
    return st.session_state.get(f"lesson_progress_{n}", Progress())


def evidence_view() -> str | None:
    """The view whose evidence a lesson shows inline on this run (None when no lesson's evidence is open)."""
    n = st.session_state.get("lesson_active")
    if n is None or not (st.session_state.get("teacher") or progress(n).revealed):
        return None
    return LESSONS[n].tab


def apply_lesson(n: int) -> None:
    """Button callback: the lesson's preset, applied before the widgets are drawn; its view opens inline."""
    preset = dict(LESSONS[n].preset)
    if "review" in preset:
        st.session_state.source, st.session_state.example = "Example reviews", preset.pop("review")
    for key, value in preset.items():
        if key != "model" or value in services.shipped_models():
            st.session_state[key] = value
    if "k" in preset:
        st.session_state.k_wanted = preset["k"]
    st.session_state.lesson_active = st.session_state.lesson_open = n


def show(review: Review | None) -> None:
    st.markdown(f"**The question.** {question()} Each step asks first; answer, then look at the evidence.")
    teacher = st.session_state.get("teacher", False)
    if teacher:
        st.caption("Teacher mode (teacher=1 in the link): answers are shown at once.")
    for n, lesson in enumerate(LESSONS):
        with st.expander(lesson.title, expanded=n == st.session_state.get("lesson_open", 0)):
            st.write(lesson.explain)
            guess = st.radio(lesson.question, lesson.options, index=None, key=f"guess_{n}")
            choice = None if guess is None else lesson.options.index(guess)
            p = progress(n)
            if not (teacher or p.revealed) and st.button("Check my answer", key=f"check_{n}", disabled=guess is None):
                p = st.session_state[f"lesson_progress_{n}"] = p.check(lesson, choice)
                if p.retry:
                    st.warning("Not quite. Think about it once more and try again.")
            right = verdict(p, lesson, choice, teacher)
            if right is None:
                continue
            (st.success if right else st.info)(("Right. " if right else "The answer: ") + lesson.reveal)
            st.button(f"Set up the evidence here (view: {lesson.tab})", key=f"lesson_{n}", on_click=apply_lesson,
                      args=(n,))
            if st.session_state.get("lesson_active") == n and review is not None:  # the evidence, below its question
                guarded(lesson.tab, EVIDENCE[lesson.tab], review)
