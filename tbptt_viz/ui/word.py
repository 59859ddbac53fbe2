"""The word a view follows (where it was trained, how far it travels): one choice shared by the views and kept in
the link as `source=` (its token position)."""
from __future__ import annotations

import streamlit as st

from tbptt_viz.present import params
from tbptt_viz.present.review import Review
from tbptt_viz.ui.state import followed, sync_url
from tbptt_viz.ui.widgets import notice


def picked(key: str, tokens) -> None:
    """Selectbox callback: the visitor's word, with its token, so that another review drops it."""
    st.session_state.word = int(st.session_state[key])
    st.session_state.word_token = tokens[st.session_state.word]


def followed_word(review: Review, where: str) -> int:
    """Draw the word picker (widget key `word_<where>`: one per view) and return the followed position.

    A position from a link that this review does not have falls back to the default word, with a notice; a word
    picked on another review is dropped silently (the review changed under it)."""
    ss = st.session_state
    chosen = followed()
    S = params.source_position(chosen, review.tokens)
    if chosen is not None and S != chosen[0]:
        if chosen[1] is None:
            notice("warning", f"URL parameter source={chosen[0]} is beyond this {review.T}-token review (positions "
                              f"0-{review.T - 1}); following '{review.tokens[S]}' (token {S}) instead.")
        ss.word = ss.word_token = None
    elif chosen is not None:
        ss.word_token = review.tokens[S]  # a link's position, now pinned to its word
    key = f"word_{where}"
    ss[key] = S
    tokens = review.tokens
    st.selectbox("Follow the word", range(review.T), key=key, format_func=lambda t: f"{t}: {tokens[t]}",
                 on_change=picked, args=(key, tokens),
                 help="Token position and word; the default is the review's first sentiment-bearing word (or its "
                      "first word). The link keeps your choice.")
    sync_url(source=None if ss.get("word") is None else str(S))
    return S
