"""The review under the title: prepared for the chosen and the compare model, with its prediction."""
from __future__ import annotations

import streamlit as st

from tbptt_viz.core.checkpoint import CheckpointError
from tbptt_viz.core.text import EmptyReview, prepare_review
from tbptt_viz.present.render import text_block
from tbptt_viz.present.review import Review
from tbptt_viz.serving import jobs
from tbptt_viz.serving.service import ServiceBusy
from tbptt_viz.ui import services
from tbptt_viz.ui.widgets import esc, html, notice

EMPTY = "The review is empty. Type or paste a review in the sidebar, or pick an example."
BUSY = "The server is busy with other visitors' requests right now: try again in a moment (change a setting or reload)."


def review_header(review_id: str, text: str, title: str, model: str, compare: str | None, true_label: int | None,
                  use_true: bool) -> tuple[Review | None, str]:
    """Prepare the review and show its header; (the Review, "") or (None, what to do instead), said on the page.

    `use_true`: the training loss uses the true label (else the model's own prediction)."""
    try:
        net = services.get_model(model)
        prepared = prepare_review(text, net.vocab, keep=st.session_state.get("keep", "last"))
    except CheckpointError as e:
        problem = f"Model {model} cannot be loaded ({e}). Pick another model in the sidebar."
        notice("error", problem)
        return None, problem
    except EmptyReview:
        st.info(EMPTY)
        return None, EMPTY
    if prepared.was_cut:
        st.radio("This review is longer than 2,000 tokens: use its", ["last", "first"], key="keep", horizontal=True,
                 format_func=lambda v: f"{v} 2,000 tokens" + (" (the end: what last-K trains on)" if v == "last"
                                                              else ""))
        notice("warning", f"Long review: {prepared.notice}.")
    compare_ids: tuple[int, ...] = ()
    if compare is not None:  # the model controls already avoid models known to be broken
        try:
            compare_ids = tuple(services.get_model(compare).vocab.encode(prepared.tokens))
        except CheckpointError:
            notice("warning", f"The compare model {compare} cannot be loaded; pick another in the sidebar.")
            compare = None
    review = Review(model, compare, tuple(prepared.ids), compare_ids, tuple(prepared.tokens),
                    true_label if use_true else None, review_id)
    try:
        prob = services.compute(jobs.prediction(model, review.ids), "the prediction")  # one forward pass
    except ServiceBusy:
        notice("warning", BUSY)
        return None, BUSY
    T = review.T
    truth = "" if true_label is None else f" · true label: {'positive' if true_label else 'negative'}"
    html(f"<b>{esc(title)}</b> · {T} token{'s' if T != 1 else ''} · <b>{esc(model)}</b> says P(positive) = "
         f"{prob:.3f} ({'positive' if prob > 0.5 else 'negative'}){esc(truth)}")
    with st.expander("Review text", expanded=False):
        html(text_block(text))
    return review, ""
