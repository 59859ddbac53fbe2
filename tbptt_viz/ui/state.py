"""The session's settings and the URL: read once when a session opens, written back as they change."""
from __future__ import annotations

import dataclasses

import streamlit as st

from tbptt_viz.core.text import clean_text
from tbptt_viz.present import params
from tbptt_viz.present.lessons import LESSONS
from tbptt_viz.serving.jobs import ViewSettings

# Widget values that must survive runs in which their widget is not drawn (another source, another scheme,
# another tab): Streamlit forgets those, so each run re-assigns them first.
KEEP = ("source", "example", "text", "imdb_label", "imdb_len", "imdb_id", "model", "compare", "scheme", "k",
        "timeline_toggle", "k_wanted", "k1", "k2", "method", "use_true", "sanity", "trunc_toggle", "occ_long", "keep",
        "logit_map", "shapley_span", "shapley_samples", "exposure_chart",
        *params.LAB_KEYS, *(f"guess_{n}" for n in range(len(LESSONS))))


def init_state(models: list[str], example_ids: list[str], status: dict[str, str | None]) -> None:
    """First run of a session: settings from the URL (bad values fall back, with a notice). `status`: {model:
    None when it loads, else why not}; a model that cannot be loaded is named once, and never shown in place
    of a working one."""
    if "initialised" in st.session_state:
        return
    raw = {k: clean_text(v) if isinstance(v, str) else v for k, v in st.query_params.to_dict().items()}
    s, notices = params.parse_query(raw, models, example_ids)
    model, moved = params.working_model(s.model, status)  # one notice for a broken default, one for the others
    notices += [n for n in (moved, params.broken_notice(status, named=(s.model,) if moved else ())) if n]
    s = dataclasses.replace(s, model=model or s.model)
    lab_values, lab_notices = params.lab_state(raw)
    notices += lab_notices
    view = st.query_params.get("view")
    if view is not None and view not in params.VIEWS:
        notices.append(f"unknown view {view!r} in the URL; opening {params.VIEWS[0]}")
    st.session_state.update(
        initialised=True, url_notices=notices, use_true=True, trunc_toggle=True, model=s.model, scheme=s.scheme,
        k=s.k, k_wanted=s.k, k1=s.k1, k2=s.k2, compare=s.compare or None, method=s.method, text=s.text,
        keep="last", word=s.source, word_token=None,
        teacher=str(st.query_params.get("teacher", "")) in ("1", "true", "yes"),
        example=s.review if s.review in example_ids else example_ids[0],
        imdb_id=s.review[len(params.IMDB_PREFIX):] if s.review.startswith(params.IMDB_PREFIX) else None,
        source="Your own text" if s.review == params.CUSTOM else
        "IMDB test reviews" if s.review.startswith(params.IMDB_PREFIX) else "Example reviews",
        **lab_values)


def keep_widget_values() -> None:
    for key in KEEP:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def pop_url_notices() -> list[str]:
    """The notices about bad URL values, once: on the run that read the URL."""
    return st.session_state.pop("url_notices", [])


def current_view() -> str:
    return st.session_state.get("view") or st.query_params.get("view") or params.VIEWS[0]


def sync_url(**values) -> None:
    for key, value in values.items():
        if value is None or value == "":
            if key in st.query_params:
                del st.query_params[key]
        elif st.query_params.get(key) != value:
            st.query_params[key] = value


def sync_settings(review_id: str, text: str, model: str, compare: str | None) -> None:
    s = params.Settings(review_id, text, model, st.session_state.scheme, int(st.session_state.get("k_wanted", 30)),
                        int(st.session_state.k1), int(st.session_state.k2), st.session_state.method, compare or "")
    q = params.to_query(s)
    sync_url(**{key: q.get(key) for key in ("review", "text", "model", "scheme", "k", "k1", "k2", "method",
                                             "compare")})


def view_settings() -> ViewSettings:
    """The session's settings and switches that decide what the views compute."""
    ss = st.session_state
    return ViewSettings(scheme=ss.scheme, k=int(ss.get("k_wanted", 30)), k1=int(ss.k1), k2=int(ss.k2),
                        method=ss.get("method", "occlusion"), long_review=bool(ss.get("occ_long")),
                        truncated=bool(ss.get("trunc_toggle", True)), sanity=bool(ss.get("sanity")),
                        source=followed(), logit_map=bool(ss.get("logit_map")),
                        shapley_span=int(ss.get("shapley_span", 0)),
                        shapley_samples=int(ss.get("shapley_samples", params.SHAPLEY_SAMPLES[0])))


def followed() -> tuple | None:
    """The word the visitor follows, (position, token); the token is None while it comes from a link."""
    word = st.session_state.get("word")
    return None if word is None else (int(word), st.session_state.get("word_token"))
