"""Start here: the answer in the first screen (one overview figure and one sentence per part), then the same
evidence word by word, where each word was trained, the study over many reviews and another recipe."""
from __future__ import annotations

import numpy as np
import streamlit as st

from tbptt_viz.core.bounds import whole_number
from tbptt_viz.experiments.study.results import headline_contrast
from tbptt_viz.gradients import analysis
from tbptt_viz.present import evidence_figures, figures
from tbptt_viz.present.evidence_figures import widest_first
from tbptt_viz.present.overview import (
    Overview,
    opening_length,
    overview,
    overview_figure,
    strongest_opening_token,
)
from tbptt_viz.present.render import strip_scale
from tbptt_viz.present.review import Review
from tbptt_viz.present.sentences import (
    FIRST_N,
    another_recipe,
    exposure_line,
    opening_overview,
    start_contrast,
    training_overview,
    use_overview,
)
from tbptt_viz.serving import jobs
from tbptt_viz.ui import services
from tbptt_viz.ui.prose import paragraph, question_block
from tbptt_viz.ui.training import review_flow, training_strips
from tbptt_viz.ui.widgets import chart, esc, how_to_read, html, notice, strip

OPENING_KEY = "opening"  # URL parameter: the opening's length (tokens), 30 by default


def opening_wanted() -> int:
    """The opening length the visitor chose (kept across reviews and in the link); read from the URL once."""
    ss = st.session_state
    if "opening_wanted" not in ss:
        ss.opening_wanted = FIRST_N
        raw = st.query_params.get(OPENING_KEY)
        if raw is not None:
            try:
                ss.opening_wanted = whole_number(OPENING_KEY, str(raw), 1)
            except ValueError:
                notice("warning", f"URL parameter {OPENING_KEY} is not a whole number >= 1; using {FIRST_N}")
    return int(ss.opening_wanted)


def keep_opening() -> None:
    st.session_state.opening_wanted = int(st.session_state.opening_n)
    st.query_params[OPENING_KEY] = str(st.session_state.opening_n)


def show(review: Review) -> None:
    T, names = review.T, review.names
    k = jobs.shown_k(T, int(st.session_state.get("k_wanted", 30)))
    question_block("The figure answers it on this review; the sentences with it say what it shows.")
    rf = review_flow(review)  # the jobs in view_jobs("Start here") order: flow, occlusion, probes, exposure
    occ = {n: a.scores for n, a in first_chart(review, rf, k).items()}
    # the overview reads the probe at the opening's length only: a long review's is one or two pieces
    probes = services.probes(review, jobs.opening(T))
    ov = answer_fragment(review, rf, k, occ, probes)
    word_by_word(review, rf, ov)
    where_trained(review, ov)
    across_reviews(names)


def first_chart(review: Review, rf: analysis.ReviewFlow, k: int) -> dict:
    """Both models' occlusion records. A long review's (jobs.streamed) pieces arrive the end first: while they
    do, its first chart is drawn at once (the training strips, and the occlusion strips with the tokens still to
    come left blank), then replaced by the overview once every piece is in."""
    if not jobs.streamed(review.ids):
        return services.occlusions(review)
    early = st.empty()
    with early.container():
        st.caption(f"A long review ({review.T:,} tokens): its occlusion is computed in pieces, the end first, and "
                   "drawn as they arrive; the overview figure follows once every piece is in.")
        training_strips(review.tokens, rf, analysis.scheme_view(rf, "last-k", k))
        occ = services.occlusions(review, lambda scores, done, total: occlusion_strips(review, scores, (done, total)))
    early.empty()
    return occ


def occlusion_strips(review: Review, scores: dict, progress: tuple[int, int]) -> None:
    """Occlusion of both models, one scale, while a long review's pieces arrive (`progress`: pieces done, of how
    many): the tokens not computed yet (NaN) stay blank."""
    scale = max((float(np.nanmax(np.abs(v))) for v in scores.values() if np.isfinite(v).any()), default=0.0)
    left = int(np.isnan(next(iter(scores.values()))).sum())
    st.caption(f"Computing occlusion, the end of the review first: {review.T - left:,} of {review.T:,} tokens "
               f"so far ({progress[0]} of {progress[1]} pieces); blank tokens are still to come.")
    for col, n in zip(st.columns(len(review.names)), review.names):
        with col:
            html(f"<b>{esc(n)}</b>")
            strip(review.tokens, scores[n], "occlusion: logit drop when the token is replaced by padding",
                  scale=scale, signed=True, value_name="logit drop", first_n=FIRST_N,
                  note=" (one scale for both models)")


def longest_opening(probes: dict, T: int) -> int:
    """The longest opening the probes hold P(positive) without for every length up to it: T - 1 for a review
    computed whole; for a long review, the end of the pieces asked for (jobs.opening), so the opening slider
    never asks for a new model pass."""
    held = np.all([np.isfinite(p.prob_without_first_n) for p in probes.values()], axis=0)
    missing = np.flatnonzero(~held[1:])
    return int(missing[0]) if missing.size else max(T - 1, 0)


@st.fragment
def answer_fragment(review: Review, rf: analysis.ReviewFlow, k: int, occ: dict, probes: dict) -> Overview:
    """The first screen: the figure, and beside it the opening-length control and one sentence per part. The
    control reruns only this fragment, and reads the probe already computed (it holds every n): no model pass."""
    T = review.T
    left, right = st.columns([3, 2], gap="medium")
    most = longest_opening(probes, T)
    n = opening_length(opening_wanted(), T)
    n = min(n, most) if most >= 1 else n
    ov = overview(review.tokens, review.model, rf, k, occ, probes, n)
    with left:
        chart(overview_figure(ov), key="overview")
    with right:
        for sentence in (training_overview(ov), use_overview(ov), opening_overview(ov)):
            paragraph(sentence, review.names)
        if most > 1:
            st.session_state.opening_n = n
            st.slider("Opening length (tokens)", 1, most, key="opening_n", on_change=keep_opening,
                      help="How many first tokens count as the opening: the dotted boxes in the figure, and the "
                           "tokens removed for P(positive) without the opening (read from the context probe, "
                           "which holds every length: no new model pass).")
            if most < T - 1:
                st.caption(f"On a review this long the context probe is computed for openings up to {most:,} "
                           "tokens (one piece of it), so the slider stops there.")
    return ov


def word_by_word(review: Review, rf: analysis.ReviewFlow, ov: Overview) -> None:
    """The figure's rows as token strips, for reading the words."""
    st.subheader("Word by word")
    f, tokens = rf.full, review.tokens
    last, chunked = ov.gradient[1], ov.gradient[2]
    full_scale = strip_scale(f.full_input_grad_norm)
    strip(tokens, f.full_input_grad_norm, f"Full BPTT: ||dL/dx_t|| of this review's loss ({review.model}'s weights)",
          scale=full_scale, value_name="||dL/dx_t||", zero_is_cut=True)
    strip(tokens, last, f"{ov.schemes[1]}: ||dL/dx_t|| (hatched grey = exactly zero)", scale=full_scale,
          value_name="||dL/dx_t||", zero_is_cut=True, boundary=ov.cut,
          boundary_text=f" K={ov.k}: gradient stops here" if ov.cut is not None else "",
          note=" (the same scale as full BPTT)")
    strip(tokens, chunked, f"{ov.schemes[2]}: ||dL/dx_t||, a loss every {ov.k} tokens",
          scale=strip_scale(chunked), value_name="||dL/dx_t||", zero_is_cut=True,
          note=" (its own scale: several losses add up)")
    scale = strip_scale(*ov.occlusion)
    for col, name, scores in zip(st.columns(len(ov.models)), ov.models, ov.occlusion):
        with col:
            strip(tokens, scores, f"{name}: occlusion, the logit drop when the token is replaced by padding",
                  scale=scale, signed=True, value_name="logit drop", first_n=ov.n,
                  note=" (one scale for both models)")


def where_trained(review: Review, ov: Overview) -> None:
    """Part 1's evidence: where in the training set each word of this review received gradient, per model."""
    st.subheader("Where were these words trained?")
    exposures, problems = trained_exposures(review)
    for problem in problems:
        st.caption(f"Training exposure is not available for {problem}")
    if not exposures:
        return
    first = next(iter(exposures.values()))
    t = strongest_opening_token(ov, first.known)
    if t is not None:
        for name, e in exposures.items():
            paragraph(exposure_line(name, e, review.tokens, t), review.names)
    chart(evidence_figures.exposure_figure(widest_first(exposures), review.tokens), key="exposure")
    how_to_read("For each word of this review, the share of the training reviews containing it in which the "
                "training gradient reached it under each model's own scheme (from the shipped statistics of the "
                "IMDB training split). A word's embedding is one vector: it is trained wherever the word falls "
                f"inside a window, and read wherever it appears. The word in the sentence above is the opening's "
                f"word that moves the models most (largest |occlusion| in the first {max(ov.n, 1)} tokens).")


def trained_exposures(review: Review) -> tuple[dict, list[str]]:
    """({model: its words' training exposure under its own scheme}, problems): lookups in the shipped statistics
    through the service (no model pass); a model whose statistics do not fit (another vocabulary, a length cap)
    gives a problem to show instead."""
    found, problems = {}, []
    for name in review.names:
        try:
            found[name] = services.compute(jobs.exposure(name, review.ids_of(name)), f"training exposure for {name}")
        except (ValueError, OSError, RuntimeError) as e:
            problems.append(f"{name}: {e}")
    return found, problems


def across_reviews(names: tuple) -> None:
    st.subheader("Across many reviews, and another recipe")
    study = services.study_results()
    contrast = headline_contrast(study)
    if contrast:
        chart(figures.headline_figure(contrast, highlight=names), key="headline")
        headline = start_contrast(study)
        if headline:
            paragraph(headline, names)
        how_to_read("Each bar is one training regime: the mean over its seeds, the whisker its 95% interval over "
                    "seeds.")
    paragraph(another_recipe(study), names)
    st.caption("See it on this review: the chunked row of the figure above, or What training sees with the "
               "chunked scheme.")
