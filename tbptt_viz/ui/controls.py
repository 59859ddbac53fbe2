"""The controls a visitor sets: the sidebar's review, models, scheme and loss label, and the K slider."""
from __future__ import annotations

import random

import streamlit as st

from tbptt_viz.core.data import examples
from tbptt_viz.core.schemes import SCHEME_NAMES
from tbptt_viz.core.text import clean_text
from tbptt_viz.gradients.analysis import k_choices
from tbptt_viz.present import params
from tbptt_viz.present.render import k_ticks
from tbptt_viz.present.sentences import describe_model
from tbptt_viz.ui import services
from tbptt_viz.ui.state import sync_url
from tbptt_viz.ui.widgets import notice

SOURCES = ("Example reviews", "IMDB test reviews", "Your own text")


def on_source_change() -> None:
    """Switching to "Your own text" starts from the review on screen, so nothing has to be retyped."""
    if st.session_state.source == "Your own text" and not st.session_state.get("text", "").strip():
        st.session_state.text = st.session_state.get("shown_text", "")


def on_upload() -> None:
    """An uploaded .txt replaces the box's text (the way back for a text too long for a link)."""
    upload = st.session_state.get("text_upload")
    if upload is not None:
        try:
            st.session_state.text = clean_text(params.text_from_file(upload.getvalue()))
        except ValueError as e:
            st.session_state.upload_error = f"{e}."


def review_controls(data_dir: str | None) -> tuple[str, str, int | None, str]:
    """(review id for the URL, text, true label or None, title) from the sidebar."""
    ex = {e.id: e for e in examples()}
    source = st.sidebar.radio("Review", SOURCES, key="source", on_change=on_source_change)
    if source == "Example reviews":
        rid = st.sidebar.selectbox("Example", list(ex), key="example", format_func=lambda i: ex[i].title)
        return rid, ex[rid].text, ex[rid].label, ex[rid].title
    if source == "Your own text":
        # no max_chars: the browser would keep the start of a long paste; prepare_review keeps its end
        text = st.sidebar.text_area("Your review", key="text", height=180, placeholder="Type or paste a review...")
        st.sidebar.file_uploader("Upload a .txt", type=["txt"], key="text_upload", on_change=on_upload)
        if st.session_state.get("upload_error"):
            with st.sidebar:
                notice("error", st.session_state.pop("upload_error"))
        too_long = params.link_notice(params.Settings(review=params.CUSTOM, text=text))
        if too_long:
            st.sidebar.caption(too_long)
            st.sidebar.download_button("Download this text (.txt)", params.text_file(text), params.TEXT_FILE_NAME,
                                       "text/plain", key="text_download", on_click="ignore")
        return params.CUSTOM, clean_text(text), None, "Your review"
    rows = services.imdb_rows(data_dir)
    fallback = ex["love-then-plot"]
    if isinstance(rows, str):
        st.sidebar.info("IMDB reviews are not available here (no data folder, and the hub cannot be reached). "
                        "The examples and your own text still work.")
        return fallback.id, fallback.text, fallback.label, fallback.title
    label = st.sidebar.radio("Label", ["any", "positive", "negative"], horizontal=True, key="imdb_label")
    lo, hi = st.sidebar.slider("Length (words)", 10, 1000, (100, 300), step=10, key="imdb_len")
    pool = params.imdb_pool(rows, label, lo, hi)
    current = st.session_state.get("imdb_id")
    if current not in pool:  # none yet, a link to a review this data lacks, or one the filters now exclude
        if not pool:
            st.sidebar.warning("No IMDB review matches these filters; widen the length range.")
            return fallback.id, fallback.text, fallback.label, fallback.title
        current = st.session_state.imdb_id = random.Random().choice(pool)
    st.sidebar.button("Random review", key="imdb_random", on_click=lambda: st.session_state.update(
        imdb_id=random.Random().choice(pool)))
    options = ([current] if current not in pool[:300] else []) + pool[:300]
    st.session_state.imdb_pick = current
    st.sidebar.selectbox(f"Review ({len(pool)} match)", options, key="imdb_pick",
                         on_change=lambda: st.session_state.update(imdb_id=st.session_state.imdb_pick),
                         format_func=lambda r: f"{r} · {'pos' if rows[r][1] else 'neg'} · {rows[r][2]} words")
    text, y, _ = rows[current]
    return params.IMDB_PREFIX + current, text, y, f"IMDB {current}"


def model_controls(models: list[str]) -> tuple[str, str | None]:
    """(chosen model, compare model or None); a compare model known not to load is replaced by a working one."""
    cards = services.cards()

    def describe(name):
        return describe_model(name, cards.get(name, {}))

    model = st.sidebar.selectbox("Model", models, key="model", format_func=describe)
    broken = set(services.store().broken)
    others = [m for m in models if m != model]
    if st.session_state.get("compare") not in others or st.session_state.get("compare") in broken:
        st.session_state.compare = params.default_compare(model, models, broken)
    if not others:
        return model, None
    compare = st.sidebar.selectbox("Compare with", others, key="compare", format_func=describe)
    return model, compare


def scheme_controls(has_label: bool) -> bool:
    """The truncation scheme and, for a review with a true label, whether the loss uses it (else the model's
    own prediction). Returns whether the true label is used."""
    st.sidebar.radio("Truncation scheme", list(SCHEME_NAMES), key="scheme", format_func=SCHEME_NAMES.get,
                     help="full BPTT, or how training cuts the gradient")
    return has_label and st.sidebar.toggle("Loss against the true label", key="use_true",
                                           help="off: the model's own prediction")


def k_control(T: int, scheme: str, where=st) -> int:
    """The K slider for a T-token review. The URL keeps the K the user chose; a short review clips the display."""
    choices = k_choices(T)
    wanted = int(st.session_state.get("k_wanted", 30))
    st.session_state.k = params.snap_k(wanted, choices)
    if scheme == "k1k2":
        c1, c2 = where.columns(2)
        c1.number_input("k1 (a loss every k1 steps)", 1, 2000, key="k1", step=1)
        c2.number_input("k2 (each back-propagated over k2)", 1, 2000, key="k2", step=1)
        return st.session_state.k
    if scheme == "full":
        return T
    k = where.select_slider("K (truncation length)", choices, key="k",
                            on_change=lambda: st.session_state.update(k_wanted=st.session_state.k),
                            help="last-K: only the last K tokens get gradient. chunked: a loss every K tokens. "
                                 f"{T} = the whole review (no truncation).")
    where.html(k_ticks(choices))
    if k != wanted:
        where.caption(f"K={wanted} (your setting, kept in the link) is more than this {T}-token review offers; "
                      f"showing K={k}.")
    sync_url(k=str(wanted))
    return int(k)
