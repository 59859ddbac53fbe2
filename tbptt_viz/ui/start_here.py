"""Start here: the answer on one screen, for the review and models in the sidebar."""
from __future__ import annotations

import numpy as np
import streamlit as st

from tbptt_viz.experiments.study.results import headline_contrast
from tbptt_viz.gradients import analysis
from tbptt_viz.present import figures
from tbptt_viz.present.review import Review
from tbptt_viz.present.sentences import FIRST_N, opening_sentence, question, start_contrast, zero_gradient_sentence
from tbptt_viz.serving import jobs
from tbptt_viz.ui import services
from tbptt_viz.ui.training import review_flow, training_strips
from tbptt_viz.ui.widgets import chart, esc, how_to_read, html, strip


def show(review: Review) -> None:
    T, names = review.T, review.names
    k = jobs.shown_k(T, int(st.session_state.get("k_wanted", 30)))
    st.markdown(f"**The question.** {question()} Three parts answer it, each measured below on this review.")
    rf = review_flow(review)
    view = analysis.scheme_view(rf, "last-k", k)
    st.subheader("1. Training time: the opening gets exactly zero gradient")
    training_strips(review.tokens, rf, view)
    st.markdown(zero_gradient_sentence(view, rf.full))
    st.subheader("2. Prediction time: the opening still passes through the state")
    # a long review's occlusion streams in, the end first: the strips are drawn as its pieces land
    occ = services.occlusions(review, lambda scores, done, total: occlusion_strips(review, scores, (done, total)))
    occlusion_strips(review, {n: occ[n].scores for n in names}, probs={n: occ[n].prob_positive for n in names})
    probes = services.probes(review, jobs.opening(T))  # what the sentence reads: a long review's is one piece
    opening = opening_sentence({n: occ[n].scores for n in names}, probes, T)
    if opening:
        st.markdown(opening)
    st.subheader("3. Across many reviews, and another recipe")
    study = services.study_results()
    contrast = headline_contrast(study)
    if contrast:
        chart(figures.headline_figure(contrast, highlight=names), key="headline")
        headline = start_contrast(study)
        if headline:
            st.markdown(headline)
        how_to_read("Each bar is one training regime; the whisker is its 95% interval. Chunked training puts a loss "
                    "every K tokens, so early words get a gradient from an earlier loss: see 'What training sees' "
                    "with the chunked scheme.")


def occlusion_strips(review: Review, scores: dict, progress: tuple[int, int] | None = None,
                     probs: dict | None = None) -> None:
    """Occlusion of both models, one scale. While a long review's pieces arrive (`progress`: pieces done, of
    how many) the tokens not computed yet (NaN) stay blank."""
    scale = max((float(np.nanmax(np.abs(v))) for v in scores.values() if np.isfinite(v).any()), default=0.0)
    if progress is not None:
        left = int(np.isnan(next(iter(scores.values()))).sum())
        st.caption(f"Computing occlusion, the end of the review first: {review.T - left:,} of {review.T:,} tokens "
                   f"so far ({progress[0]} of {progress[1]} pieces); blank tokens are still to come.")
    for col, n in zip(st.columns(len(review.names)), review.names):
        with col:
            html(f"<b>{esc(n)}</b>" + (f" · P(positive) = {probs[n]:.3f}" if probs else ""))
            strip(review.tokens, scores[n], "occlusion: logit drop when the token is replaced by padding",
                  scale=scale, signed=True, value_name="logit drop", first_n=FIRST_N,
                  note=" (one scale for both models)")
