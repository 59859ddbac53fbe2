"""Memory: how much of what the cell wrote at each position survives to the prediction, directly and through
every path; and how far one word travels (connectivity), beside the window training reached."""
from __future__ import annotations

import numpy as np
import streamlit as st

from tbptt_viz.attribution.connectivity import MAX_MAP_TOKENS
from tbptt_viz.core.schemes import SCHEME_NAMES
from tbptt_viz.experiments.study.results import regimes_of
from tbptt_viz.present import evidence_figures, figures
from tbptt_viz.present.evidence_sentences import (connectivity_sentence, memory_span_sentence, reached_window,
                                                  trained_window)
from tbptt_viz.present.review import Review
from tbptt_viz.present.sentences import forget_gate_sentence, memory_sentence
from tbptt_viz.serving import jobs
from tbptt_viz.ui import services
from tbptt_viz.ui.controls import k_control
from tbptt_viz.ui.widgets import chart, esc, export_buttons, guarded, how_to_read, html
from tbptt_viz.ui.word import followed_word

CURVE_NAMES = {"state_norm": "hidden state ||dh_t/dx_S||", "cell_norm": "cell state ||dc_t/dx_S||",
               "logit_grad": "prediction ||d logit_t/dx_S||"}


def show(review: Review) -> None:
    memory_fragment(review)


@st.fragment
def memory_fragment(review: Review) -> None:
    """The whole view reruns alone when its K slider or its word changes: both only redraw (the memory traces
    and the connectivity curves do not depend on K, and each word's curves are one cached job)."""
    guarded("Memory", draw, review)


def draw(review: Review) -> None:
    scheme = st.session_state.scheme
    k = k_control(review.T, scheme)
    memory_part(review, k if scheme == "last-k" else None)
    guarded("How far a word travels", reach_part, review, scheme, k)


def memory_part(review: Review, k: int | None) -> None:
    names = review.names
    traces = {n: services.compute(jobs.memory(n, review.ids_of(n)), f"the memory trace for {n}") for n in names}
    chart(figures.memory_figure(traces, k), key="memory")
    occlusions = services.occlusions(review)  # a long review's in pieces, as the other views ask for it
    for n in names:
        occ = occlusions[n]
        st.markdown(f"**{esc(n)}.** " + memory_sentence(traces[n], occ.scores) + " "
                    + forget_gate_sentence(traces[n]).capitalize() + ".")
    how_to_read("Each model in its own colour. Solid: the cell's direct path, the product of forget gates from each "
                "position to the end (what the cell wrote at t still there at the prediction, mean over units). "
                "Dotted: every path at once, the gradient of the prediction with respect to each input, relative to "
                "its largest value. A word "
                "can matter through the hidden state and later gates long after its direct survival is near 0.")
    export_buttons("memory", review.tokens, {f"{key} ({n})": getattr(traces[n], key) for n in names
                                             for key in ("forget_mean", "survival", "influence", "cell_norm")},
                   {**review.meta, "compare": review.compare})


def reach_part(review: Review, scheme: str, k: int) -> None:
    """Connectivity (issue 23, part 2): the forward pass is never truncated, so a word moves every later state;
    how strongly, against the window the training loss at the end reached."""
    st.subheader("How far a word travels")
    names, T, ss = review.names, review.T, st.session_state
    S = followed_word(review, "memory")
    conns = {n: services.compute(jobs.connectivity(n, review.ids_of(n), S), f"connectivity for {n}") for n in names}
    first, last = reached_window(scheme, T, k, ss.k1, ss.k2)
    label = f"{SCHEME_NAMES[scheme]}: the loss at the end reaches back to token {first}"
    curves = st.multiselect("Curves", list(CURVE_NAMES), default=["state_norm", "logit_grad"], key="conn_curves",
                            format_func=CURVE_NAMES.get) or ["state_norm"]
    chart(evidence_figures.connectivity_figure(conns, review.tokens, window=(first, last), window_label=label,
                                               curves=tuple(curves)), key="connectivity")
    cards, study = services.cards(), services.study_results()
    regimes = regimes_of(study) if study else {}
    missing = []
    for n in names:
        html(f"<p><b>{esc(n)}.</b> "
             f"{esc(connectivity_sentence(conns[n], review.tokens, n, trained_window(cards.get(n, {}))))}</p>")
        memory = regimes.get(n, {}).get("memory")
        if memory:
            st.caption("Across the study's reviews: " + memory_span_sentence(n, memory))
        else:
            missing.append(n)
    if missing:
        st.caption(f"The study's memory span over many reviews (results/imdb_study.json) is not measured yet for "
                   f"{', '.join(missing)}; the sentence above is this review's alone.")
    how_to_read("Pick a word: the curves show how strongly it still moves the hidden state (solid), the cell "
                "(dashed) and the prediction the model would make if the review ended there (dotted), at every later "
                "position, on a log scale: the forward pass carries every word to the end, truncated or not. The "
                "shaded band is what the training loss at the end back-propagated through under the chosen scheme "
                "and K. Under truncation no training gradient spans more than K tokens (k2 under TBPTT): where a "
                "curve stays high far beyond that, the model carries the word further than any training loss "
                "reached back.")
    before = np.full(S, np.nan)  # a word cannot move an earlier state: blank before the source
    export_buttons("connectivity", review.tokens, {f"{key} ({n})": np.concatenate([before, getattr(conns[n], key)])
                                                   for n in names for key in ("state_norm", "cell_norm", "logit_grad")},
                   {**review.meta, "compare": review.compare, "source": S, "source_token": review.tokens[S]})
    logit_map_part(review)


def logit_map_part(review: Review) -> None:
    """The whole map of logit_grad over (source, t), asked for: one batched backward pass per model."""
    if review.T > MAX_MAP_TOKENS:
        st.caption(f"The map of every word's pull on every later prediction is drawn for reviews up to "
                   f"{MAX_MAP_TOKENS} tokens; this one has {review.T}.")
        return
    if not st.toggle("Show every word's pull on every later prediction (one batched backward pass per model)",
                     key="logit_map"):
        return
    cols = st.columns(len(review.names))
    for col, n in zip(cols, review.names):
        m = services.compute(jobs.logit_map(n, review.ids_of(n)), f"the logit_grad map for {n}")
        with col:
            html(f"<b>{esc(n)}</b>")
            chart(evidence_figures.logit_grad_map_figure(m, review.tokens), key=f"logit_map_{n}")
    how_to_read("Row S is the word at position S; column t is the prediction the model would make if the review "
                "ended at t. Colour: how strongly that word moves that prediction (log10 of the gradient norm). "
                "Read a row left to right to follow one word; the right-hand column is the actual prediction.")
