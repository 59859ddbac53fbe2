"""Start here: the answer on one screen, for the review and models in the sidebar."""
from __future__ import annotations

import streamlit as st

from tbptt_viz.experiments.study.results import headline_contrast
from tbptt_viz.gradients import analysis
from tbptt_viz.present import figures
from tbptt_viz.present.render import strip_scale
from tbptt_viz.present.review import Review
from tbptt_viz.present.sentences import FIRST_N, opening_sentence, question, start_contrast, zero_gradient_sentence
from tbptt_viz.serving import jobs
from tbptt_viz.ui import services
from tbptt_viz.ui.model_use import attribution
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
    occ = {n: attribution(n, review.ids_of(n), "occlusion") for n in names}
    scale = strip_scale(*(a.scores for a in occ.values()))
    for col, n in zip(st.columns(len(names)), names):
        with col:
            html(f"<b>{esc(n)}</b> · P(positive) = {occ[n].prob_positive:.3f}")
            strip(review.tokens, occ[n].scores, "occlusion: logit drop when the token is replaced by padding",
                  scale=scale, signed=True, value_name="logit drop", first_n=FIRST_N,
                  note=" (one scale for both models)")
    probes = {n: services.compute(jobs.probe(n, review.ids_of(n)), f"the context probe for {n}") for n in names}
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
