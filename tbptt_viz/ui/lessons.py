"""Lessons: opening one loads its review, model and scheme and draws its evidence; then it asks. Any number of
tries, a hint after a wrong one, the answer on request; a reset for each lesson and for all. The rules live in
`present.lessons.Progress`; this module only draws them."""
from __future__ import annotations

from dataclasses import replace

import streamlit as st

from tbptt_viz.core.data import examples
from tbptt_viz.core.text import prepare_review
from tbptt_viz.present import evidence_figures
from tbptt_viz.present.evidence_sentences import connectivity_sentence
from tbptt_viz.present.lessons import LESSONS, Lesson, Progress, filled, verdict, word_position
from tbptt_viz.present.overview import opening_length, overview, overview_figure
from tbptt_viz.present.review import Review
from tbptt_viz.present.sentences import (another_recipe, exposure_line, gradient_ratio_sentence, opening_overview,
                                         start_contrast, use_overview)
from tbptt_viz.present import figures
from tbptt_viz.serving import jobs
from tbptt_viz.serving.jobs import ViewSettings
from tbptt_viz.ui import services, training
from tbptt_viz.ui.prose import paragraph, question_block
from tbptt_viz.ui.widgets import chart, guarded, how_to_read, notice

LESSON_KEY = "lesson"  # URL parameter: the open lesson, 1..len(LESSONS)


# ---- state -------------------------------------------------------------------------------------------------
def progress(n: int) -> Progress:
    return st.session_state.get(f"lesson_progress_{n}", Progress())


def set_progress(n: int, p: Progress) -> None:
    st.session_state[f"lesson_progress_{n}"] = p


def active() -> int | None:
    n = st.session_state.get("lesson_active")
    return n if isinstance(n, int) and 0 <= n < len(LESSONS) else None


def apply_lesson(n: int) -> None:
    """Open lesson n: its preset is applied before the widgets are drawn (a callback, or the first run), so the
    header, the sidebar and the evidence all show the lesson's review, model and scheme."""
    preset = dict(LESSONS[n].preset)
    preset.pop("word", None)
    if "review" in preset:
        st.session_state.source, st.session_state.example = "Example reviews", preset.pop("review")
    models = services.shipped_models()
    for key, value in preset.items():
        if key not in ("model", "compare") or value in models:
            st.session_state[key] = value
    if "k" in preset:
        st.session_state.k_wanted = preset["k"]
    st.session_state.lesson_active = n
    st.query_params[LESSON_KEY] = str(n + 1)


def on_pick() -> None:
    n = st.session_state.get("lesson_pick")
    if n is not None:
        apply_lesson(int(n))


def open_from_url(view: str) -> None:
    """First run of a session on the Lessons view: a link with lesson=N opens lesson N with its preset."""
    if st.session_state.get("lesson_url_read"):
        return
    st.session_state.lesson_url_read = True
    raw = str(st.query_params.get(LESSON_KEY, ""))
    if view != "Lessons" or not raw:
        return
    if raw.isdigit() and 1 <= int(raw) <= len(LESSONS):
        apply_lesson(int(raw) - 1)
    else:
        notice("warning", f"URL parameter {LESSON_KEY} must be a lesson number from 1 to {len(LESSONS)}; pick a "
                          "lesson from the list instead.")


def reset_lesson(n: int) -> None:
    set_progress(n, Progress())
    st.session_state[f"guess_{n}"] = None


def reset_all() -> None:
    for n in range(len(LESSONS)):
        reset_lesson(n)


def check(n: int) -> None:
    lesson = LESSONS[n]
    guess = st.session_state.get(f"guess_{n}")
    if guess is not None:
        set_progress(n, progress(n).check(lesson, list(lesson_text(n).options).index(guess)))


def give_up(n: int) -> None:
    set_progress(n, progress(n).give_up())


# ---- what the page computes for a lesson -------------------------------------------------------------------
def lesson_tokens(n: int) -> tuple[str, ...]:
    """The tokens of the lesson's own review, as its model reads them (the text is filled from these)."""
    lesson = LESSONS[n]
    text = next(e.text for e in examples() if e.id == lesson.preset["review"])
    return tuple(prepare_review(text, services.get_model(lesson.preset["model"]).vocab).tokens)


def lesson_text(n: int) -> Lesson:
    return filled(LESSONS[n], lesson_tokens(n))


def evidence_view() -> str | None:
    """The view whose jobs the open lesson's evidence asks for (None when no lesson is open)."""
    n = active()
    return None if n is None else LESSONS[n].tab


def evidence_settings(view: str, settings: ViewSettings) -> tuple[str | None, ViewSettings]:
    """What the page prefetches on `view`: on Lessons, the open lesson's evidence view, with its word as the
    connectivity source."""
    if view != "Lessons":
        return view, settings
    n = active()
    if n is None:
        return None, settings
    return LESSONS[n].tab, replace(settings, source=word_position(LESSONS[n], lesson_tokens(n)))


# ---- drawing -----------------------------------------------------------------------------------------------
def show(review: Review | None) -> None:
    question_block("Each lesson loads its review, model and scheme and shows the evidence, then asks.")
    teacher = st.session_state.get("teacher", False)
    if teacher:
        st.caption("Teacher mode (teacher=1 in the link): answers are shown at once.")
    n = active()
    st.session_state.lesson_pick = n
    pick, reset = st.columns([4, 1], vertical_alignment="bottom")
    pick.selectbox("Lesson", list(range(len(LESSONS))), key="lesson_pick", index=None, on_change=on_pick,
                   placeholder="Pick a lesson to open it", format_func=lambda j: LESSONS[j].title)
    reset.button("Reset all lessons", key="lesson_reset_all", on_click=reset_all)
    done = progress_note()
    if done:
        st.caption(done)
    if n is None:
        st.info("Pick a lesson: it loads its review, model and scheme, shows the evidence, then asks a question.")
        return
    lesson = lesson_text(n)
    st.subheader(lesson.title)
    if review is None or review.review_id != lesson.preset["review"] or review.model != lesson.preset["model"]:
        st.warning("The sidebar now shows another review or model than this lesson's.")
        st.button("Load this lesson's review and model again", key="lesson_reload", on_click=apply_lesson, args=(n,))
        return
    st.write(lesson.explain)
    found: list[str] = []  # the evidence's computed sentences: they state the answer, so they come with it
    guarded(lesson.tab, lambda: found.extend(EVIDENCE[lesson.tab](review, lesson) or ()))
    ask(n, lesson, teacher, found, review.names)


def progress_note() -> str:
    """Where the visitor stands over all lessons (the lesson menu's labels stay fixed: a widget's options are
    its identity)."""
    answered = [str(j + 1) for j in range(len(LESSONS)) if progress(j).revealed]
    tried = [str(j + 1) for j in range(len(LESSONS)) if progress(j).tries and not progress(j).revealed]
    parts = ([f"answered: {', '.join(answered)}"] if answered else []) + ([f"tried: {', '.join(tried)}"]
                                                                         if tried else [])
    return "Lessons " + "; ".join(parts) + "." if parts else ""


def ask(n: int, lesson: Lesson, teacher: bool, found: list[str], names: tuple) -> None:
    """The question under the evidence, the check, the hint after a wrong answer, and the answer with the
    evidence's computed sentences (`found`) and the lesson's numbers from the study."""
    st.markdown(f"**{lesson.question}**")
    guess = st.radio("Your answer", lesson.options, index=None, key=f"guess_{n}", label_visibility="collapsed")
    choice = None if guess is None else lesson.options.index(guess)
    p = progress(n)
    buttons = st.columns([1, 1, 1, 2])
    if not (teacher or p.revealed):
        buttons[0].button("Check my answer", key=f"check_{n}", disabled=guess is None, on_click=check, args=(n,))
        if p.can_give_up:
            buttons[1].button("Show the answer", key=f"give_up_{n}", on_click=give_up, args=(n,))
    buttons[2].button("Reset this lesson", key=f"reset_{n}", on_click=reset_lesson, args=(n,))
    if p.retry:
        tried = ", ".join(f"'{lesson.options[c]}'" for c in dict.fromkeys(p.wrong))
        st.warning(f"Not quite ({p.tries} tr{'y' if p.tries == 1 else 'ies'} so far; not {tried}). "
                   f"Hint: {lesson.hint}")
    right = verdict(p, lesson, choice, teacher)
    if right is None:
        return
    if right:
        st.success("Right. " + lesson.reveal)
    else:
        st.info("The answer: " + lesson.options[lesson.answer] + ". " + lesson.reveal)
    for sentence in found:
        paragraph(sentence, names)
    numbers = lesson_numbers(lesson)
    if numbers:
        paragraph(numbers, names)


def lesson_numbers(lesson: Lesson) -> str:
    """The computed paragraph shown with an answer: the study's numbers with their intervals."""
    study = services.study_results()
    if lesson.numbers == "start_contrast":
        return start_contrast(study)
    if lesson.numbers == "update_rule":
        return another_recipe(study)
    return ""


# ---- each lesson's evidence: a compact piece of a view, for the review and models on screen ------------------
def k_of(review: Review) -> int:
    return jobs.shown_k(review.T, int(st.session_state.get("k_wanted", 30)))


def training_evidence(review: Review, lesson: Lesson) -> list[str]:
    scheme = st.session_state.scheme
    rf, view = training.scheme_view(review, scheme, k_of(review))
    training.training_strips(review.tokens, rf, view)
    if view.scheme in ("chunked", "k1k2"):
        chart(figures.backprop_timeline(view), key="lesson_timeline")
    return []


def gradient_evidence(review: Review, lesson: Lesson) -> list[str]:
    rf, view = training.scheme_view(review, st.session_state.scheme, k_of(review))
    chart(figures.gradient_through_time(view, rf.full, review.T), key="lesson_through_time")
    t = word_position(lesson, review.tokens)
    return [] if t is None else [gradient_ratio_sentence(rf.full.full_input_grad_norm, t, review.tokens[t])]


def overview_evidence(review: Review, lesson: Lesson) -> list[str]:
    rf = training.review_flow(review)
    occ = {n: a.scores for n, a in services.occlusions(review).items()}  # a long review's in pieces
    n = opening_length(lesson.preset.get("k", 30), review.T)
    probes = services.probes(review, (0, n))  # the variants the overview reads (a long review: their pieces)
    ov = overview(review.tokens, review.model, rf, k_of(review), occ, probes, n)
    chart(overview_figure(ov), key="lesson_overview")
    return [use_overview(ov), opening_overview(ov)]


def exposure_evidence(review: Review, lesson: Lesson) -> list[str]:
    from tbptt_viz.present.evidence_figures import widest_first
    from tbptt_viz.ui.start_here import trained_exposures

    exposures, problems = trained_exposures(review)
    for problem in problems:
        st.caption(f"Training exposure is not available for {problem}")
    chart(evidence_figures.exposure_figure(widest_first(exposures), review.tokens), key="lesson_exposure")
    how_to_read("Hover a word for its two counts: the training reviews that contain it, and those in which the "
                "training gradient reached it under each model's scheme.")
    t = word_position(lesson, review.tokens)
    return [] if t is None else [exposure_line(name, e, review.tokens, t) for name, e in exposures.items()]


def connectivity_evidence(review: Review, lesson: Lesson) -> list[str]:
    t = word_position(lesson, review.tokens)
    if t is None:
        st.info("This review does not contain the lesson's word.")
        return []
    k = int(lesson.preset.get("k", 30))
    found = {n: services.compute(jobs.connectivity(n, review.ids_of(n), t), f"how far '{review.tokens[t]}' reaches "
                                 f"in {n}") for n in review.names}
    window = (t, min(t + k - 1, review.T - 1))
    chart(evidence_figures.connectivity_figure(found, review.tokens, window=window,
                                               window_label=""), key="lesson_reach")
    how_to_read("Solid: ||dh_t/dx_S||, how strongly the word moves the hidden state at each later token t; dotted: "
                "how strongly it moves the prediction the model would make if the review ended at t. Log axis.")
    cards = services.cards()
    return [connectivity_sentence(c, review.tokens, name, cards.get(name, {}).get("k")
                                  if cards.get(name, {}).get("scheme") == "last-k" else None)
            for name, c in found.items()]


EVIDENCE = {"What training sees": training_evidence, "Gradient through time": gradient_evidence,
            "Start here": overview_evidence, "Where words were trained": exposure_evidence,
            "How far a word reaches": connectivity_evidence}
