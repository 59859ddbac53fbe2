"""tbptt-viz: where gradients go when an LSTM is trained with truncated backpropagation through time.

This file only wires widgets to tbptt_viz: every number comes from a tested function there, every heavy
computation runs in the shared compute service (bounded workers, identical requests coalesced), and
nothing a visitor sends is rendered as Markdown or HTML (review text goes through escaped HTML only).
Run: streamlit run app.py  (optional: streamlit run app.py -- --data-dir ../shared/data/imdb)
"""
from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import os
import random
import sys
import threading
import time

import numpy as np
import pandas as pd
import streamlit as st
import torch

from tbptt_viz.gradients import analysis

from tbptt_viz.present import figures

from tbptt_viz.present import page

from tbptt_viz.present import params
from tbptt_viz.core.checkpoint import CheckpointError, available_models, load_pretrained, model_cards, pretrained_dir
from tbptt_viz.core.data import examples, load_imdb, load_results
from tbptt_viz.present.lessons import LESSONS
from tbptt_viz.present.render import STRIP_CSS, legend, text_block, token_strip
from tbptt_viz.core.schemes import SCHEME_NAMES, SchemeError
from tbptt_viz.serving.service import ComputeService, ModelStore
from tbptt_viz.core.text import EmptyReview, prepare_review

torch.set_num_threads(1)  # one review's small ops run fastest on one thread; two workers use both cores

TABS = ["Start here", "Lessons", "What training sees", "Gradient through time", "What the model uses", "Memory",
        "Model zoo", "Lab"]
SCHEME_VIEWS = ("Start here", "Lessons", "What training sees", "Gradient through time", "What the model uses",
                "Memory")  # the views where the truncation scheme means something
FIRST_N = page.FIRST_N


def cli_args() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", default=None, help="folder with IMDB test.jsonl[.gz]")
    return p.parse_known_args(sys.argv[1:])[0]


# ---------------------------------------------------------------- the shared compute layer
@st.cache_resource(show_spinner=False)
def _store(folder: str) -> ModelStore:
    return ModelStore(load_pretrained)


@st.cache_resource(show_spinner=False)
def _service(folder: str) -> ComputeService:
    # Three workers for two cores: at most one waits on a live Lab run (its training runs in a forked child)
    # and long reviews get one while others wait (two when nobody does), so one is always free for everyone
    # else's pages; sessions take turns (the `owner` of each request).
    svc = ComputeService(workers=3, cache_entries=2048, limits={"lab": 1}, shares={"long": 1}, cache_bytes=192 << 20)
    if os.environ.get("TBPTT_VIZ_WARMUP", "1") != "0":  # the tests turn it off: they measure their own work
        threading.Thread(target=warm_up, args=(svc, _store(folder)), name="tbptt-viz-warm-up", daemon=True).start()
    return svc


# One model store and one compute service per models folder: cached results are keyed by model name, so a
# different folder (another deployment's weights, a test's) must never see them.
def store() -> ModelStore:
    return _store(str(pretrained_dir()))


def service() -> ComputeService:
    return _service(str(pretrained_dir()))


def jobs(models: ModelStore, model: str, ids: tuple[int, ...], label: int | None = None) -> dict:
    """key -> function for what the default views of one (model, review) need (serving.jobs)."""
    from tbptt_viz.serving.jobs import review_jobs

    return review_jobs(models, model, ids, label)


def warm_up(svc: ComputeService, models: ModelStore) -> None:
    """Queue every example review under every shipped model at low priority, a few at a time (serving.jobs):
    a class opening the same link finds a warm cache, and a visitor's own request always goes first."""
    from tbptt_viz.serving.jobs import warm_up as queue_examples

    queue_examples(svc, models, available_models(), [(ex.text, ex.label) for ex in examples()])


def session_id() -> str | None:
    """This visitor's session: the compute service lets sessions take turns."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else None


def submit(key: tuple, fn, kind: str = "analysis"):
    """Queue a job (or join the identical one) under its kind: a long review's jobs are "long"."""
    return service().request(key, fn, page.job_kind(key, kind), owner=session_id())


def compute(key: tuple, fn, what: str, kind: str = "analysis"):
    """Ask the service for `key`; if it takes a moment, say what is computed and how many requests are ahead
    (the note changes only when the queue does, so a waiting page costs the server next to nothing)."""
    ticket = submit(key, fn, kind)
    if not ticket.done():
        concurrent.futures.wait([ticket.future], timeout=0.4)
    if not ticket.done():
        box, shown = st.empty(), None
        while not ticket.done():
            ahead = ticket.position()
            if ahead != shown:
                box.info(f"Computing {what}... " + (f"{ahead} request(s) from other visitors are ahead of yours."
                                                    if ahead else "running now."))
                shown = ahead
            concurrent.futures.wait([ticket.future], timeout=1.0)
        box.empty()
    return ticket.result()


def get_model(name: str):
    return store().get(name)


# What each view waits for, by job kind ("flow": the main model's gradients; the rest for both models).
VIEW_JOBS = {"Start here": ("flow", "attr", "probe"), "What training sees": ("flow",),
             "Gradient through time": ("flow",), "What the model uses": ("attr", "probe"),
             "Memory": ("memory", "attr")}


def prefetch(r, view: str) -> None:
    """Queue every job the view is about to wait for, before it waits for the first: a view asks for them
    one after another, and queued together they run on both workers at once (25 new reviews at once: p95
    4.7-6.2 s instead of 8.0 s). A long review's jobs still run one at a time (`page.job_kind`)."""
    kinds = VIEW_JOBS.get(view, ())
    if view == "What the model uses":
        if st.session_state.get("method", "occlusion") != "occlusion":
            kinds = tuple(k for k in kinds if k != "attr")  # the queued jobs are occlusion's; the strips want another
        if r["T"] > page.LONG_REVIEW and not st.session_state.get("occ_long"):
            kinds = tuple(k for k in kinds if k != "probe")  # a long review's probe waits for a click there
    for n in (m for m in (r["model"], r["compare"]) if m):
        try:
            ids = r["ids"] if n == r["model"] else ids_for(n, r["tokens"])
        except CheckpointError:
            continue  # the view reports a model that cannot load
        for key, fn in jobs(store(), n, ids, r["label"]).items():
            if key[0] in kinds and (key[0] != "flow" or n == r["model"]):
                submit(key, fn)


def review_flow(model, ids, label):
    return compute(("flow", model, ids, label), jobs(store(), model, ids, label)[("flow", model, ids, label)],
                   "the gradients of this review")


def k1k2_flow(model, ids, label, k1, k2):
    from tbptt_viz.gradients.flow import gradient_flow

    return compute(("k1k2", model, ids, label, k1, k2),
                   lambda: gradient_flow(get_model(model), torch.tensor(ids), "k1k2", k1=k1, k2=k2, label=label),
                   "TBPTT(k1, k2) gradients")


def attribution(model, ids, method, backprop="full", k=None, k1=None, k2=None, target=None, label=None):
    from tbptt_viz.attribution.methods import attribute

    return compute(("attr", model, ids, method, backprop, k, k1, k2, target, label),
                   lambda: attribute(get_model(model), torch.tensor(ids), method, backprop, k, k1, k2, target, label),
                   f"{method.replace('_', ' ')} for {model}")


def probe(model, ids):
    from tbptt_viz.attribution.methods import context_probe

    return compute(("probe", model, ids), lambda: context_probe(get_model(model), torch.tensor(ids)),
                   f"the context probe for {model}")


def memory(model, ids):
    from tbptt_viz.attribution.methods import memory_trace

    return compute(("memory", model, ids), lambda: memory_trace(get_model(model), torch.tensor(ids)),
                   f"the memory trace for {model}")


def sanity(model, ids, method):
    from tbptt_viz.attribution.methods import METHODS, method_agreement, sanity_check

    scores = {m: attribution(model, ids, m).scores for m in METHODS}  # each cached on its own
    return compute(("sanity", model, ids, method), lambda: (method_agreement(scores), sanity_check(
        get_model(model), torch.tensor(ids), method)), "the sanity check")


@st.cache_data(show_spinner=False, ttl=60)
def _models_in(folder: str) -> list[str]:
    return available_models()


def shipped_models() -> list[str]:
    """The models of this deployment's folder, read at most once a minute (not on every page run)."""
    return list(_models_in(str(pretrained_dir())))


@st.cache_resource(show_spinner=False, ttl=60)
def study_results() -> dict | None:
    """results/imdb_study.json, parsed at most once a minute and shared read-only by every page run."""
    return load_results("imdb_study.json")


@st.cache_data(show_spinner=False)
def get_cards() -> dict[str, dict]:
    return {c["name"]: c for c in model_cards()}


@st.cache_resource(show_spinner=False)
def get_imdb(data_dir: str | None) -> dict[str, tuple[str, int, int]] | str:
    """{id: (text, label, words)} of the IMDB test split, or the reason it is unavailable."""
    try:
        return {r.id: (page.clean_text(r.text), r.label, len(r.text.split())) for r in load_imdb("test", data_dir)}
    except Exception as e:  # noqa: BLE001 - a broken file must not break the page
        return str(e)


# ---------------------------------------------------------------- safe output
def html(markup: str) -> None:
    """Our own HTML (escaped wherever it holds a visitor's text): never passes through Markdown. The strips'
    style sheet is sent once per page (`main`), not with every element: each new sheet restyles the page."""
    st.html(markup)


def notice(kind: str, text: str) -> None:
    """A message that may quote a visitor's value: shown as escaped HTML in the message's colours."""
    import html as h

    colours = {"warning": ("#fff8e1", "#8a6d00"), "error": ("#fdecea", "#a12622"), "info": ("#e8f1fb", "#1d4f91")}
    bg, fg = colours[kind]
    st.html(f'<div role="alert" class="tv-notice tv-{kind}" style="background:{bg};color:{fg};padding:0.6rem 0.8rem;'
            f'border-radius:0.4rem;overflow-wrap:anywhere">{h.escape(text)}</div>')


# A short toolbar (download as PNG, full screen): the full one covers the title on a phone.
CHART_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": [
    "zoom2d", "pan2d", "select2d", "lasso2d", "zoomIn2d", "zoomOut2d", "autoScale2d", "resetScale2d"]}


def chart(fig, key: str) -> None:
    st.plotly_chart(fig, key=key, config=CHART_CONFIG)


def how_to_read(text: str) -> None:
    st.caption(f"**How to read this.** {text}")


# ---------------------------------------------------------------- state and controls
def init_state(models: list[str], example_ids: list[str], status: dict[str, str | None]) -> None:
    """First run of a session: settings from the URL (bad values fall back, with a notice); a model that
    cannot be loaded is named once, and never shown in place of a working one."""
    if "initialised" in st.session_state:
        return
    raw = {k: page.clean_text(v) if isinstance(v, str) else v for k, v in st.query_params.to_dict().items()}
    s, notices = params.parse_query(raw, models, example_ids)
    model, moved = params.working_model(s.model, status)
    notices += [n for n in (params.broken_notice(status), moved) if n]
    s = dataclasses.replace(s, model=model or s.model)
    lab_values, lab_notices = params.lab_state(raw)
    notices += lab_notices
    view = st.query_params.get("view")
    if view is not None and view not in TABS:
        notices.append(f"unknown view {view!r} in the URL; opening {TABS[0]}")
    st.session_state.update(
        initialised=True, url_notices=notices, use_true=True, trunc_toggle=True, model=s.model, scheme=s.scheme,
        k=s.k, k_wanted=s.k, k1=s.k1, k2=s.k2, compare=s.compare or None, method=s.method, text=s.text,
        keep="last", teacher=str(st.query_params.get("teacher", "")) in ("1", "true", "yes"),
        example=s.review if s.review in example_ids else example_ids[0],
        imdb_id=s.review[len(params.IMDB_PREFIX):] if s.review.startswith(params.IMDB_PREFIX) else None,
        source="Your own text" if s.review == params.CUSTOM else
        "IMDB test reviews" if s.review.startswith(params.IMDB_PREFIX) else "Example reviews",
        **lab_values)


def on_source_change() -> None:
    """Switching to "Your own text" starts from the review on screen, so nothing has to be retyped."""
    if st.session_state.source == "Your own text" and not st.session_state.get("text", "").strip():
        st.session_state.text = st.session_state.get("shown_text", "")


def on_upload() -> None:
    """An uploaded .txt replaces the box's text (the way back for a text too long for a link)."""
    upload = st.session_state.get("text_upload")
    if upload is not None:
        try:
            st.session_state.text = page.clean_text(params.text_from_file(upload.getvalue()))
        except ValueError as e:
            st.session_state.upload_error = f"{e}."


def review_controls(data_dir: str | None) -> tuple[str, str, int | None, str]:
    """(review id for the URL, text, true label or None, title) from the sidebar."""
    ex = {e.id: e for e in examples()}
    sources = ["Example reviews", "IMDB test reviews", "Your own text"]
    source = st.sidebar.radio("Review", sources, key="source", on_change=on_source_change)
    if source == "Example reviews":
        rid = st.sidebar.selectbox("Example", list(ex), key="example", format_func=lambda i: ex[i].title)
        return rid, ex[rid].text, ex[rid].label, ex[rid].title
    if source == "Your own text":
        # no max_chars: the browser would keep the start of a long paste; prepare_review keeps its end
        text = st.sidebar.text_area("Your review", key="text", height=180, placeholder="Type or paste a review...")
        st.sidebar.file_uploader("Upload a .txt", type=["txt"], key="text_upload", on_change=on_upload)
        if st.session_state.get("upload_error"):
            notice("error", st.session_state.pop("upload_error"))
        too_long = params.link_notice(params.Settings(review=params.CUSTOM, text=text))
        if too_long:
            st.sidebar.caption(too_long)
            st.sidebar.download_button("Download this text (.txt)", params.text_file(text), params.TEXT_FILE_NAME,
                                       "text/plain", key="text_download")
        return params.CUSTOM, page.clean_text(text), None, "Your review"
    rows = get_imdb(data_dir)
    fallback = ex["love-then-plot"]
    if isinstance(rows, str):
        st.sidebar.info("IMDB reviews are not available here (no data folder, and the hub cannot be reached). "
                        "The examples and your own text still work.")
        return fallback.id, fallback.text, fallback.label, fallback.title
    label = st.sidebar.radio("Label", ["any", "positive", "negative"], horizontal=True, key="imdb_label")
    lo, hi = st.sidebar.slider("Length (words)", 10, 1000, (100, 300), step=10, key="imdb_len")
    pool = page.imdb_pool(rows, label, lo, hi)
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
    cards = get_cards()

    def describe(name):
        c = cards.get(name, {})
        acc = c.get("test_accuracy")
        return f"{name} · {c.get('label', c.get('scheme', '?'))}" + (f" · acc {acc:.3f}" if acc else "")

    model = st.sidebar.selectbox("Model", models, key="model", format_func=describe)
    broken = set(store().broken)
    others = [m for m in models if m != model]
    if st.session_state.get("compare") not in others or st.session_state.get("compare") in broken:
        st.session_state.compare = page.default_compare(model, models, broken)
    if not others:
        return model, None
    compare = st.sidebar.selectbox("Compare with", others, key="compare", format_func=describe)
    return model, compare


def scheme_control() -> str:
    return st.sidebar.radio("Truncation scheme", list(SCHEME_NAMES), key="scheme", format_func=SCHEME_NAMES.get,
                            help="full BPTT, or how training cuts the gradient")


def k_control(T: int, scheme: str, where=st) -> int:
    """The K slider for a T-token review. The URL keeps the K the user chose; a short review clips the display."""
    choices = analysis.k_choices(T)
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
    if k != wanted:
        where.caption(f"K={wanted} (your setting, kept in the link) is more than this {T}-token review offers; "
                      f"showing K={k}.")
    sync_url(k=str(wanted))
    return int(k)


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


# ---------------------------------------------------------------- the review and its strips
def prepare(text: str, model: str):
    """(prepared review, None) or (None, what to do instead)."""
    try:
        net = get_model(model)
    except CheckpointError as e:
        return None, f"Model {model} cannot be loaded ({e}). Pick another model in the sidebar."
    try:
        return prepare_review(text, net.vocab, keep=st.session_state.get("keep", "last")), None
    except EmptyReview:
        return None, "The review is empty. Type or paste a review in the sidebar, or pick an example."


def ids_for(model: str, tokens) -> tuple[int, ...]:
    return tuple(get_model(model).vocab.encode(tokens))


def strip(tokens, values, label: str, *, scale: float, signed: bool = False, value_name: str, note: str = "",
          **kw) -> None:
    html(token_strip(tokens, values, scale=scale, signed=signed, label=label, value_name=value_name, **kw)
         + legend(scale, signed, value_name, note))


def export_buttons(view: str, tokens, columns: dict, meta: dict) -> None:
    """CSV and JSON downloads, built only when clicked (never on the K slider's path) and without a rerun."""
    stem = page.export_stem(view, meta)
    c1, c2, _ = st.columns([1, 1, 3])
    c1.download_button("Download CSV", lambda: page.export_payload(view, tokens, columns, meta)[0], f"{stem}.csv",
                       "text/csv", key=f"csv_{view}", on_click="ignore")
    c2.download_button("Download JSON", lambda: page.export_payload(view, tokens, columns, meta)[1],
                       f"{stem}.json", "application/json", key=f"json_{view}", on_click="ignore")


def guarded(title: str, draw, *args) -> None:
    """Draw one view; an error becomes a message and the rest of the page still works."""
    try:
        draw(*args)
    except (ImportError, ModuleNotFoundError) as e:
        st.info(f"{title} is not available in this installation ({type(e).__name__}).")
    except (SchemeError, ValueError, CheckpointError) as e:
        notice("error", f"{title} could not be drawn: {e}. Change the setting in the sidebar; the other views "
                        "still work.")
    except Exception as e:  # noqa: BLE001 - nothing may reach the page as a traceback
        notice("error", f"{title} could not be drawn ({type(e).__name__}: {e}). Try another review, a shorter text "
                        "or another model; the other views still work.")


# ---------------------------------------------------------------- views
@st.fragment
def k_fragment(title: str, draw, *args) -> None:
    """A view whose controls (the K slider) rerun only this part of the page, never the whole script."""
    guarded(title, draw, *args)


def scheme_view(r, scheme: str, k: int, label):
    rf = review_flow(r["model"], r["ids"], label)
    k1k2 = k1k2_flow(r["model"], r["ids"], label, int(st.session_state.k1), int(st.session_state.k2)) \
        if scheme == "k1k2" else None
    return rf, analysis.scheme_view(rf, scheme, k if scheme in ("last-k", "chunked") else rf.T, k1k2)


def training_strips(r, rf, view) -> None:
    tokens, T, f = r["tokens"], r["T"], rf.full
    full_scale = page.strip_scale(f.full_input_grad_norm)
    if view.scheme == "full" or not np.any(view.input_grad_norm != f.full_input_grad_norm):
        strip(tokens, f.full_input_grad_norm, f"{view.label if view.scheme != 'full' else 'Full BPTT'}: ||dL/dx_t|| "
              "(no truncation on this review: one strip)", scale=full_scale, value_name="||dL/dx_t||")
        return
    boundary = int(view.windows[:, 1].min()) if view.scheme == "last-k" and view.k < T else None
    shared = view.scheme == "last-k"  # inside the window last-K equals full BPTT: one scale shows that
    scale = full_scale if shared else page.strip_scale(view.input_grad_norm)
    strip(tokens, f.full_input_grad_norm, "Full BPTT: ||dL/dx_t|| (darker = larger)", scale=full_scale,
          value_name="||dL/dx_t||", zero_is_cut=True)
    strip(tokens, view.input_grad_norm, f"{view.label}: ||dL/dx_t|| (hatched grey = exactly zero)", scale=scale,
          value_name="||dL/dx_t||", zero_is_cut=True, boundary=boundary,
          boundary_text=f" K={view.k}: gradient stops here" if boundary is not None else "",
          note=" (the same scale as full BPTT)" if shared else " (its own scale: many losses add up)")


def show_start(r) -> None:
    """The answer on one screen, for the review and models in the sidebar."""
    tokens, T, model, compare = r["tokens"], r["T"], r["model"], r["compare"]
    k = int(st.session_state.get("k_wanted", 30))
    kk = params.snap_k(k, analysis.k_choices(T))
    st.markdown("**The question.** A classifier is trained with last-K truncation (K = 30) on reviews of 100-300 "
                "words. If the gradient never reaches the first words, how can it learn that reviews opening "
                "\"I love this\" are positive? Three parts answer it, each measured below on this review.")
    rf = review_flow(model, r["ids"], r["label"])
    view = analysis.scheme_view(rf, "last-k", kk)
    zero = int(np.sum(view.input_grad_norm == 0))
    st.subheader("1. Training time: the opening gets exactly zero gradient")
    training_strips(r, rf, view)
    st.markdown(f"Under last-K with K = {kk}, **{zero} of {T}** tokens of this review get a gradient of exactly "
                f"0.0 from its loss; under full BPTT the first token gets {rf.full.full_input_grad_norm[0]:.2g}. "
                "A last-K model learns opening words only where they fall inside some review's last K tokens.")
    st.subheader("2. Prediction time: the opening still passes through the state")
    names = [n for n in (model, compare) if n]
    occ = {n: attribution(n, r["ids"] if n == model else ids_for(n, tokens), "occlusion") for n in names}
    scale = page.strip_scale(*(a.scores for a in occ.values()))
    cols = st.columns(len(names))
    for col, n in zip(cols, names):
        with col:
            html(f"<b>{_esc(n)}</b> · P(positive) = {occ[n].prob_positive:.3f}")
            strip(tokens, occ[n].scores, "occlusion: logit drop when the token is replaced by padding", scale=scale,
                  signed=True, value_name="logit drop", first_n=FIRST_N, note=" (one scale for both models)")
    probes = {n: probe(n, r["ids"] if n == model else ids_for(n, tokens)) for n in names}
    n_first = min(FIRST_N, T - 1)
    parts = [f"{n}: {page.first_share(occ[n].scores):.0%} of |occlusion| on the first {min(FIRST_N, T)} tokens; "
             f"without them P(positive) goes from {probes[n].prob_positive:.2f} to "
             f"{probes[n].prob_without_first_n[n_first]:.2f}" for n in names if T > 1]
    st.markdown("On this review — " + "; ".join(parts) + ".")
    st.subheader("3. Across many reviews, and another recipe")
    contrast = page.headline_contrast(study_results())
    if contrast:
        chart(figures.headline_figure(contrast, highlight=tuple(names)), key="headline")
        a, b = contrast.get("imdb-last-k30") or contrast.get("last-k30"), contrast.get("imdb-full") or \
            contrast.get("full")
        if a and b and b["mean"] > 0:
            st.markdown(f"A strongly polar phrase planted at the very start of IMDB test reviews moves last-K "
                        f"(K = 30) by {a['mean']:.3f} [{a['low']:.3f}, {a['high']:.3f}] and full BPTT by "
                        f"{b['mean']:.3f} [{b['low']:.3f}, {b['high']:.3f}] (95% intervals; "
                        f"{a['seeds']} and {b['seeds']} seed(s)): about {a['mean'] / b['mean']:.2f} times as much.")
        how_to_read("Each bar is one training regime; the whisker is its 95% interval. Chunked training puts a loss "
                    "every K tokens, so early words get a gradient from an earlier loss: see 'What training sees' "
                    "with the chunked scheme.")


def show_training_view(r, label) -> None:
    scheme = st.session_state.scheme
    k = k_control(r["T"], scheme)
    rf, view = scheme_view(r, scheme, k, label)
    T, f = r["T"], rf.full
    training_strips(r, rf, view)
    zero = int(np.sum(view.input_grad_norm == 0))
    c1, c2, c3 = st.columns(3)
    c1.metric("tokens with exactly zero gradient", f"{zero} of {T}")
    c2.metric(f"gradient reaching the first {min(FIRST_N, T)} tokens", f"{view.input_grad_norm[:FIRST_N].sum():.3g}",
              help="sum of ||dL/dx_t|| over the first tokens under the chosen scheme")
    c3.metric("loss against", f"{'positive' if f.label_used else 'negative'} ({f.label_source})")
    how_to_read("Each token is shaded by how much gradient the training loss sends to its embedding; the legend "
                "under each strip gives the value of the darkest colour. Under truncation the tokens before the cut "
                "are hatched: their gradient is exactly zero, so this review teaches the model nothing about them.")
    # Under full BPTT and last-K one loss at the end reaches a contiguous run of tokens: the strips above say
    # all the chart would. Its redraw is most of a K step's time in the browser, so there it waits for a click.
    if view.scheme in ("chunked", "k1k2") or st.toggle("Show the chart of losses reaching each token",
                                                       key="timeline_toggle"):
        chart(figures.backprop_timeline(view), key="timeline")
    how_to_read("The filled steps count how many loss terms back-propagate to each token; the blue line is the "
                "longest distance from the token to such a loss. Full and last-K have one loss at the end; chunked "
                "and TBPTT(k1, k2) have one every K (or k1) steps, so every token gets a gradient from some nearby "
                "loss.")
    export_buttons("gradients", r["tokens"], {
        "full_input_grad_norm": f.full_input_grad_norm, "scheme_input_grad_norm": view.input_grad_norm,
        "full_hidden_grad_norm": f.full_hidden_grad_norm, "scheme_hidden_grad_norm": view.hidden_grad_norm,
        "full_cell_grad_norm": f.full_cell_grad_norm, "scheme_cell_grad_norm": view.cell_grad_norm,
        "backprop_count": view.backprop_count, "backprop_reach": view.backprop_reach},
        {**r["meta"], "scheme": view.scheme, "scheme_label": view.label, "k": view.k, "windows": view.windows,
         "label_used": f.label_used, "label_source": f.label_source, "prob_positive": f.prob_positive})


def show_gradient_time_view(r, label) -> None:
    scheme = st.session_state.scheme
    k = k_control(r["T"], scheme)
    rf, view = scheme_view(r, scheme, k, label)
    T, f = r["T"], rf.full
    chart(figures.gradient_through_time(view, f, T), key="through_time")
    ratio = f.full_input_grad_norm[0] / f.full_input_grad_norm[-1] if f.full_input_grad_norm[-1] > 0 else np.nan
    how_to_read("Token position runs left to right as in every view, the prediction at the right end. Dotted: full "
                "BPTT; solid: the chosen scheme; the grey band marks positions whose gradient is exactly zero (a log "
                f"axis cannot draw 0). Under full BPTT here, ||dL/dx|| at the first token is {ratio:.2g} times the "
                "one at the last token.")
    chart(figures.bias_curve(f, view.k if view.scheme == "last-k" else None), key="bias")
    at_k = (f"At K = {view.k}: cosine {view.sweep_cosine:.3f}, relative error {view.sweep_relative_error:.3f}. "
            if view.scheme == "last-k" else "The curve is last-K's; the chosen scheme is not a last-K partial sum, "
            "so no point on it is marked. ")
    how_to_read("For every K, the cosine between the last-K and the full gradient of the LSTM's weights, and their "
                f"relative distance. {at_k}A cosine near 1 means truncation barely changes this step's update "
                "direction; the gap is the bias truncation introduces.")


def attribution_strips(r, names, method) -> dict:
    out = {n: attribution(n, r["ids"] if n == r["model"] else ids_for(n, r["tokens"]), method) for n in names}
    scale = page.strip_scale(*(a.scores for a in out.values()))
    cols = st.columns(len(names))
    for col, n in zip(cols, names):
        a = out[n]
        with col:
            html(f"<b>{_esc(n)}</b> · P(positive) = {a.prob_positive:.3f}")
            strip(r["tokens"], a.scores, f"{method.replace('_', ' ')} of the logit (green: towards positive, red: "
                  f"towards negative; purple underline: first {FIRST_N})", scale=scale, signed=True,
                  value_name="score", first_n=FIRST_N, note=" (one scale for both models)")
            shares = page.first_share(a.scores)
            st.caption(f"first {FIRST_N} tokens: {shares:.0%} of |attribution|")
            convergence_note(a)
    return out


def convergence_note(a) -> None:
    from tbptt_viz.attribution.methods import convergence_message, steep_step_message

    if a.converged is None:
        return
    message = convergence_message(a)
    if message:
        st.warning(message)
    else:
        st.caption(f"Integrated gradients converged: the scores add up to the {a.target}'s change "
                   f"{a.target_change:+.3f} within {abs(a.completeness_gap):.2g} (tolerance {a.tolerance:.2g}; "
                   f"{a.evaluations} gradient evaluations). {steep_step_message(a) or ''}")


def show_model_use_view(r) -> None:
    names = [n for n in (r["model"], r["compare"]) if n]
    method_fragment(r, names)
    st.subheader("Occlusion and the context probe, both models")
    T = r["T"]
    if T <= page.LONG_REVIEW or st.toggle(f"Compute them for this {T}-token review (a few seconds)", key="occ_long"):
        occ = {n: attribution(n, r["ids"] if n == r["model"] else ids_for(n, r["tokens"]), "occlusion")
               for n in names}
        probes = {n: probe(n, r["ids"] if n == r["model"] else ids_for(n, r["tokens"])) for n in names}
        chart(figures.occlusion_probe_figure(r["tokens"], {n: occ[n].scores for n in names}, probes, FIRST_N),
              key="occlusion_probe")  # one chart with two panels: half the browser's drawing on a model switch
        how_to_read("Occlusion replaces one token by padding and re-runs the model: the line is how much the logit "
                    "drops at each token. The probe shows the prediction when the model reads only the last n "
                    "tokens, or loses the first n: if the curves move only when n passes the opening, the opening "
                    "matters.")
        export_buttons("occlusion", r["tokens"], {f"occlusion ({n})": occ[n].scores for n in names},
                       {**r["meta"], "method": "occlusion", "compare": r["compare"],
                        **{f"probe_prob_without_first_n ({n})": probes[n].prob_without_first_n for n in names}})


@st.fragment
def method_fragment(r, names) -> None:
    """The method-dependent part of "What the model uses": a method switch reruns only this."""
    guarded("What the model uses", method_part, r, names)


def method_part(r, names) -> None:
    from tbptt_viz.attribution.methods import METHODS

    method = st.selectbox("Attribution method", METHODS, key="method",
                          help="occlusion: replace one token by padding and re-run (exact, the default). Gradient "
                               "methods add detail; integrated gradients check their own completeness.")
    sync_url(method=method)
    out = attribution_strips(r, names, method)
    how_to_read("Attribution asks what the trained model uses when it predicts, with no truncation. Comparing a model "
                "trained with truncation to one trained without shows whether it learned to use early words.")
    if method == "integrated_gradients":
        with st.expander("Integrated gradients along the path", expanded=any(a.converged is False
                                                                             for a in out.values())):
            chart(figures.ig_path_figure(out), key="ig_path")
            how_to_read("The logit along the straight path from an all-padding review (alpha = 0) to this one "
                        "(alpha = 1). Integrated gradients integrate its slope token by token; where it jumps, the "
                        "integrator narrows its steps around the jump. Where every gradient near a jump points the "
                        "same way, the jump is shared out along that direction instead (the note under the strips "
                        "says when); where even that fails, the strips are marked as not to be trusted.")
    export_buttons("attribution", r["tokens"], {f"{method} ({n})": out[n].scores for n in names},
                   {**r["meta"], "method": method, "compare": r["compare"],
                    **{f"ig ({n})": {"converged": out[n].converged, "completeness_gap": out[n].completeness_gap,
                                     "evaluations": out[n].evaluations,
                                     "rank_one_intervals": out[n].rank_one_intervals}
                       for n in names if out[n].converged is not None}})
    truncation_section(r, method)
    with st.expander("Do the methods agree, and do they depend on the trained weights?"):
        if st.toggle("Compute (all four methods, and the same with the LSTM's weights randomised)", key="sanity"):
            agreement, check = sanity(r["model"], r["ids"], method)
            st.dataframe(pd.DataFrame(agreement.spearman, index=agreement.methods, columns=agreement.methods).round(2))
            st.caption(f"Spearman rank correlation of |scores| between methods. Randomising the LSTM's weights "
                       f"(Adebayo et al. 2018) changes {method}'s scores by {check.relative_change:.0%} "
                       f"(rank correlation with the trained model's {check.rank_correlation:.2f}): a method that "
                       "barely changes would be explaining the input, not the model.")


def truncation_section(r, method) -> None:
    """Full vs truncated backprop of the same target, the training loss, for the main model."""
    from tbptt_viz.attribution.methods import truncation_removed_share

    st.subheader("Full vs truncated backprop of the training loss")
    scheme = st.session_state.scheme
    if method == "occlusion":
        st.info("Occlusion has no backward pass, so there is nothing to truncate. Pick saliency, input x gradient "
                "or integrated gradients to see what truncation removes.")
        return
    if scheme == "full":
        st.info("Choose a truncated scheme in the sidebar to compare.")
        return
    if not st.toggle("Show the truncated attribution next to the full one", key="trunc_toggle"):
        return
    T, model = r["T"], r["model"]
    k = k_control(T, scheme)
    full = attribution(model, r["ids"], method, target="loss")
    if scheme == "last-k" and method != "integrated_gradients":
        trunc = analysis.truncate_last_k(full, k)  # no model pass: the full loss gradient, masked
    elif method == "integrated_gradients" and not st.button(f"Compute integrated gradients under {SCHEME_NAMES[scheme]}"
                                                             " (a few seconds)", key="trunc_ig") and \
            not service().cached(("attr", model, r["ids"], method, scheme, *trunc_args(scheme, k), "loss", None)):
        return
    else:
        trunc = attribution(model, r["ids"], method, scheme, *trunc_args(scheme, k), target="loss")
    boundary = T - k if scheme == "last-k" and k < T else None
    scale = page.strip_scale(full.scores, trunc.scores)
    target = f"the training loss against label {full.label_used}"
    strip(r["tokens"], full.scores, f"{model}: full backprop of {target}", scale=scale, signed=True,
          value_name="score", note=" (green lowers the loss)")
    strip(r["tokens"], trunc.scores, f"{model}: backprop {SCHEME_NAMES[scheme]} of {target}", scale=scale,
          signed=True, value_name="score", boundary=boundary, zero_is_cut=True, boundary_text=f" K={k}")
    c1, c2 = st.columns(2)
    c1.metric("share of |attribution| outside every window (cut off)",
              f"{truncation_removed_share(full.scores, trunc.windows, T):.0%}")
    c2.metric("how much truncation changes the attribution", f"{analysis.attribution_change(full.scores, trunc.scores):.0%}",
              help="sum |truncated - full| / sum |full|")
    if method == "integrated_gradients":
        st.caption(f"Both are integrated gradients of the same target, each checked against its own: full "
                   f"{full.completeness_gap:+.2g} of {full.target_change:+.3f}, truncated {trunc.completeness_gap:+.2g} "
                   f"of {trunc.target_change:+.3f} (the windows' tokens moved from padding with their entering state "
                   "held). Within those gaps, the difference between the strips is the truncation, not the method.")
        convergence_note(trunc)
    else:
        st.caption("Both strips are exact gradients of the same training loss; the difference is the truncation alone.")


def trunc_args(scheme: str, k: int) -> tuple:
    if scheme == "k1k2":
        return None, int(st.session_state.k1), int(st.session_state.k2)
    return k, None, None


def show_memory_view(r) -> None:
    names = [n for n in (r["model"], r["compare"]) if n]
    traces = {n: memory(n, r["ids"] if n == r["model"] else ids_for(n, r["tokens"])) for n in names}
    k = int(st.session_state.k) if st.session_state.scheme == "last-k" else None
    chart(figures.memory_figure(traces, k), key="memory")
    for n in names:
        occ = attribution(n, r["ids"] if n == r["model"] else ids_for(n, r["tokens"]), "occlusion")
        st.markdown(f"**{_esc(n)}.** " + page.memory_sentence(traces[n], occ.scores) + " "
                    + page.forget_gate_sentence(traces[n]).capitalize() + ".")
    how_to_read("Green: the cell's direct path, the product of forget gates from each position to the end (what "
                "the cell wrote at t still there at the prediction, mean over units). Purple: every path at once, "
                "the gradient of the prediction with respect to each input, relative to its largest value. A word "
                "can matter through the hidden state and later gates long after its direct survival is near 0.")
    export_buttons("memory", r["tokens"], {f"{key} ({n})": getattr(traces[n], key) for n in names
                                           for key in ("forget_mean", "survival", "influence", "cell_norm")},
                   {**r["meta"], "compare": r["compare"]})


def show_lessons(r) -> None:
    st.markdown("**The question.** A classifier is trained with last-K truncation (K = 30) on reviews of 100-300 "
                "words. If the gradient never reaches the first words, how can it learn that reviews opening "
                "\"I love this\" are positive? Each step asks first; answer, then look at the evidence.")
    teacher = st.session_state.get("teacher", False)
    if teacher:
        st.caption("Teacher mode (teacher=1 in the link): answers are shown at once.")
    for n, lesson in enumerate(LESSONS):
        with st.expander(lesson.title, expanded=n == st.session_state.get("lesson_open", 0)):
            st.write(lesson.explain)
            guess = st.radio(lesson.question, lesson.options, index=None, key=f"guess_{n}")
            tries = st.session_state.setdefault(f"tries_{n}", 0)
            revealed = teacher or st.session_state.get(f"revealed_{n}", False)
            if not revealed and st.button("Check my answer", key=f"check_{n}", disabled=guess is None):
                right = lesson.options.index(guess) == lesson.answer
                st.session_state[f"tries_{n}"] = tries = tries + 1
                if right or tries >= 2:
                    st.session_state[f"revealed_{n}"] = revealed = True
                    st.session_state[f"right_{n}"] = right
                else:
                    st.warning("Not quite. Think about it once more and try again.")
            if revealed:
                right = st.session_state.get(f"right_{n}", guess is not None and
                                             lesson.options.index(guess) == lesson.answer)
                (st.success if right else st.info)(("Right. " if right else "The answer: ") + lesson.reveal)
                st.button(f"Set up the evidence here (view: {lesson.tab})", key=f"lesson_{n}",
                          on_click=apply_lesson, args=(n,))
                if st.session_state.get("lesson_active") == n and r is not None:  # the evidence, below its question
                    fn, *args = LESSON_VIEWS[lesson.tab](r)
                    guarded(lesson.tab, fn, *args)


LESSON_VIEWS = {  # a lesson's view, drawn inline: tab -> (function, its arguments) for the analysed review
    "What training sees": lambda r: (show_training_view, r, r["label"]),
    "Gradient through time": lambda r: (show_gradient_time_view, r, r["label"]),
    "What the model uses": lambda r: (show_model_use_view, r),
    "Memory": lambda r: (show_memory_view, r),
}


def apply_lesson(n: int) -> None:
    """Button callback: the lesson's preset, applied before the widgets are drawn; its view opens inline."""
    preset = dict(LESSONS[n].preset)
    if "review" in preset:
        st.session_state.source, st.session_state.example = "Example reviews", preset.pop("review")
    for key, value in preset.items():
        if key != "model" or value in shipped_models():
            st.session_state[key] = value
    if "k" in preset:
        st.session_state.k_wanted = preset["k"]
    st.session_state.lesson_active = st.session_state.lesson_open = n


def show_zoo(highlight: tuple = ()) -> None:
    cards = get_cards()
    if not cards:
        st.error("No shipped models found under pretrained/. Retrain them with scripts/train_zoo.sh (see README).")
        return
    rows = [{"model": c["name"], "scheme": c.get("label", c.get("scheme")), "test accuracy": c.get("test_accuracy"),
             "epochs": c.get("epochs"), "seed": c.get("seed")} for c in cards.values()]
    st.table(pd.DataFrame(rows).set_index("model"))
    how_to_read("Each model has the same vocabulary, architecture and number of epochs; only the truncation used "
                "in training differs. Accuracy is on all 25,000 IMDB test reviews. The study below gives each "
                "regime's mean over its seeds with a 95% interval; the chosen and compare models are drawn strong.")
    study = study_results()
    if study is None:
        st.info("The IMDB study (results/imdb_study.json) is not in this installation.")
        return
    from tbptt_viz.present import study_figures as figures_study

    for name, (make, reading) in figures_study.FIGURES_WITH_READING.items():
        chart(make(study, highlight), key=f"study_{name}")
        how_to_read(reading)


def show_lab() -> None:
    from tbptt_viz.present import lab_figures as figures_lab
    from tbptt_viz.serving.isolate import run_isolated
    from tbptt_viz.experiments.lab.runs import LabConfigError, live_run, load_lab_results
    from tbptt_viz.experiments.lab.settings import LIVE_BUDGET, lab_budget, over_budget

    st.markdown("Tiny LSTMs trained in seconds on synthetic tasks built to test the answers' claims, with the "
                "same truncation schemes and training code as the IMDB models.")
    results = load_lab_results()
    if results is None:
        st.info("The precomputed sweep (results/lab.json) is not in this installation; live runs still work.")
    else:
        for name in ("prefix_heatmaps", "any_one_by_position", "planted_by_distance", "forget_bias_figure"):
            guarded(name, lambda fn=getattr(figures_lab, name): chart(fn(results), key=f"lab_{name}"))
        how_to_read("Accuracy on long test sequences, mean over seeds with the sample standard deviation over seeds "
                    "in the hover text; chance is 0.5. A scheme that never back-propagates to the decisive tokens "
                    "usually stays at chance, but not always: a trace of an early token carried by the recurrence "
                    "into the window can be learned there (see the forget-bias rows).")
    st.subheader("Run one configuration live")
    try:
        config = lab_form()
        refusal = None if config is None else over_budget(lab_budget(config.to_dict()), LIVE_BUDGET)
        if refusal:  # never trains on a value the visitor did not choose: say what to change instead
            notice("error", f"This configuration is too large for a live run on a shared server: {refusal}.")
        if config is not None and not refusal:
            progress: dict = {"done": 0, "total": 1}
            key = ("lab", tuple(sorted(config.to_dict().items())))
            bar = st.progress(0.0, text="waiting for a free worker (one live run at a time)...")
            # trained in a child process forked from the server: it never competes for the server's
            # interpreter lock, so other visitors' pages stay as fast as on an idle server
            ticket = service().request(key, lambda: run_isolated(live_run, config, progress=lambda d, t, loss:
                                                                 progress.update(done=d, total=t, loss=loss)),
                                       kind="lab", owner=session_id())
            while not ticket.done():
                ahead = ticket.position()
                bar.progress(min(1.0, progress["done"] / max(1, progress["total"])),
                             text=f"{ahead} run(s) ahead of yours" if ahead and not progress["done"] else
                             f"batch {progress['done']}/{progress['total']}")
                concurrent.futures.wait([ticket.future], timeout=0.3)
            bar.empty()
            runs = st.session_state.setdefault("lab_runs", [])
            runs.append(ticket.result())
            del runs[:-2]
            sync_url(**params.lab_query(config))
    except (LabConfigError, ValueError) as e:
        notice("error", f"This configuration cannot run: {e}. Change the setting and train again.")
    runs = st.session_state.get("lab_runs", [])
    if not runs:
        return
    cols = st.columns(len(runs))
    for col, result in zip(cols, runs[::-1]):
        with col:
            c = result.config
            st.metric(f"test accuracy ({c.task}, {c.scheme_label}, seed {c.seed})", f"{result.test_accuracy:.3f}",
                      help=f"trained in {result.wall_time_s:.1f} s")
            chart(figures_lab.training_curve(result), key=f"lab_curve_{id(result)}")
    result = runs[-1]
    c = result.config
    ids = tuple(int(i) for i in result.sample_ids)
    rf = analysis.review_flow(result.model, torch.tensor(ids), result.sample_label)
    T = rf.T
    k = params.snap_k(c.k or T, analysis.k_choices(T)) if c.scheme in ("last-k", "chunked") else T
    from tbptt_viz.gradients.flow import gradient_flow

    k1k2 = gradient_flow(result.model, torch.tensor(ids), "k1k2", k1=c.k1, k2=c.k2, label=result.sample_label) \
        if c.scheme == "k1k2" else None
    view = analysis.scheme_view(rf, c.scheme, k, k1k2)
    st.markdown(f"**A test sequence through the newest tiny model** (P(positive) = {rf.full.prob_positive:.3f})")
    training_strips({"tokens": result.sample_tokens, "T": T}, rf, view)
    chart(figures.gradient_through_time(view, rf.full, T), key="lab_through_time")


def lab_form():
    """The live-run form, its values kept in the session and the URL; returns a LabConfig when submitted."""
    from tbptt_viz.experiments.lab.runs import TASKS, LabConfig
    from tbptt_viz.experiments.lab.settings import FORM_BOUNDS as B
    from tbptt_viz.experiments.lab.settings import LIVE_BUDGET

    with st.form("lab_form"):
        c1, c2, c3, c4 = st.columns(4)
        task = c1.selectbox("Task", TASKS, key="lab_task",
                            help="prefix: the label is in the opening 'i love/hate this'. any-one: is there a 1 "
                                 "anywhere? planted: the decisive word sits d steps from the end.")
        scheme = c2.selectbox("Scheme", list(SCHEME_NAMES), format_func=SCHEME_NAMES.get, key="lab_scheme")
        k = c3.number_input("K (or k1)", *B["k"], key="lab_k")
        seed = c4.number_input("Seed", *B["seed"], key="lab_seed")
        c1, c2, c3, c4 = st.columns(4)
        seq_len = c1.number_input("Sequence length (0 = task default)", *B["seq_len"], key="lab_seq_len")
        short_frac = c2.slider("prefix: short examples", 0.0, 1.0, step=0.05, key="lab_short_frac")
        clean_last = c3.number_input("any-one: no 1 in the last M", *B["clean_last"], key="lab_clean_last")
        ones_frac = c4.slider("any-one: fraction with a 1 there", 0.0, 1.0, step=0.05, key="lab_ones_frac")
        c1, c2, c3, c4 = st.columns(4)
        distance = c1.number_input("planted: distance d", *B["distance"], key="lab_distance")
        n_train = c2.number_input("Training sequences", *B["n_train"], key="lab_n_train")
        epochs = c3.number_input("Epochs", *B["epochs"], key="lab_epochs")
        hidden = c4.number_input("Hidden size", *B["hidden"], key="lab_hidden")
        st.caption("Live runs have a budget so that one visitor cannot hold a shared server for minutes (one runs at "
                   f"a time; others wait their turn): about {LIVE_BUDGET['memory_mb']} MB of memory and "
                   f"{60 * LIVE_BUDGET['minutes']:.0f} s, estimated from the settings before training starts.")
        if not st.form_submit_button("Train live"):
            return None
    return LabConfig(task=task, scheme=scheme, k=int(k), seq_len=int(seq_len) or None, short_frac=float(short_frac),
                     clean_last=int(clean_last), ones_in_window_frac=float(ones_frac), distance=int(distance),
                     n_train=int(n_train), epochs=int(epochs), hidden=int(hidden), seed=int(seed))


def _esc(text: str) -> str:
    import html as h

    return h.escape(str(text))


# ---------------------------------------------------------------- page
# Widget values that must survive runs in which their widget is not drawn (another source, another scheme,
# another tab): Streamlit forgets those, so each run re-assigns them first.
KEEP = ("source", "example", "text", "imdb_label", "imdb_len", "imdb_id", "model", "compare", "scheme", "k",
        "timeline_toggle",
        "k_wanted", "k1", "k2", "method", "use_true", "sanity", "trunc_toggle", "occ_long", "keep",
        *params.LAB_KEYS, *(f"guess_{n}" for n in range(len(LESSONS))))


def main() -> None:
    st.set_page_config(page_title="tbptt-viz: where gradients go", layout="wide")
    started = time.perf_counter()
    st.html(STRIP_CSS)  # a style-only element: Streamlit adds it to the page without taking space
    st.title("Where do gradients go under truncated BPTT?")
    models = shipped_models()
    if not models:
        st.error("No models found under pretrained/. Reinstall the project or retrain (see README).")
        return
    service()  # starts the workers and the warm-up once per process
    status = store().status(models)  # each model loaded once per process; a broken one is listed with why
    init_state(models, [e.id for e in examples()], status)
    models = [m for m in models if status[m] is None] or models
    for key in KEEP:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    for text in st.session_state.pop("url_notices", []):  # shown once, on the run that read the URL
        notice("warning", text)

    view_name = st.session_state.get("view") or st.query_params.get("view") or TABS[0]
    review_id, text, true_label, title = review_controls(cli_args().data_dir)
    st.session_state.shown_text = text
    model, compare = model_controls(models)
    if view_name in SCHEME_VIEWS:
        scheme_control()
    use_true = true_label is not None and view_name in SCHEME_VIEWS and st.sidebar.toggle(
        "Loss against the true label", key="use_true", help="off: the model's own prediction")
    sync_settings(review_id, text, model, compare)

    review, problem = prepare(text, model)
    r = None
    if review is not None:
        if review.was_cut:
            st.radio("This review is longer than 2,000 tokens: use its", ["last", "first"], key="keep", horizontal=True,
                     format_func=lambda v: f"{v} 2,000 tokens" + (" (the end: what last-K trains on)" if v == "last"
                                                                  else ""))
            notice("warning", f"Long review: {review.notice}.")
        if compare is not None:  # model_controls already avoids models known to be broken
            try:
                get_model(compare)
            except CheckpointError:
                notice("warning", f"The compare model {compare} cannot be loaded; pick another in the sidebar.")
                compare = None
        ids, tokens, T = review.ids, list(review.tokens), len(review.ids)
        r = {"model": model, "compare": compare, "ids": ids, "tokens": tokens, "T": T, "label": true_label if use_true
             else None, "meta": {"model": model, "review": review_id, "tokens": T}}
        prob = compute(("prob", model, ids), lambda: get_model(model).prob_positive(torch.tensor(ids)),
                       "the prediction")  # one forward pass, not a whole analysis
        truth = "" if true_label is None else f" · true label: {'positive' if true_label else 'negative'}"
        html(f"<b>{_esc(title)}</b> · {T} token{'s' if T != 1 else ''} · <b>{_esc(model)}</b> says P(positive) = "
             f"{prob:.3f} ({'positive' if prob > 0.5 else 'negative'}){_esc(truth)}")
        with st.expander("Review text", expanded=False):
            html(text_block(text))
    elif "empty" in problem:
        st.info(problem)
    else:
        notice("error", problem)

    if r is not None:
        prefetch(r, view_name)
    tabs = st.tabs(TABS, key="view", bind="query-params")
    draws = {"Model zoo": (show_zoo, tuple(n for n in (model, compare) if n)), "Lab": (show_lab,),
             "Lessons": (show_lessons, r)}
    if r is not None:
        draws.update({"Start here": (show_start, r),
                      "What training sees": (k_fragment, "What training sees", show_training_view, r, r["label"]),
                      "Gradient through time": (k_fragment, "Gradient through time", show_gradient_time_view, r,
                                                r["label"]),
                      "What the model uses": (show_model_use_view, r), "Memory": (show_memory_view, r)})
    for name, tab in zip(TABS, tabs):
        if tab.open is False:
            continue
        with tab:
            if name not in draws:
                st.info(problem)
                continue
            fn, *args = draws[name]
            guarded(name, fn, *args)
    with st.expander("Timing (server side)"):
        st.write(f"whole page {1000 * (time.perf_counter() - started):.0f} ms; requests waiting or running: "
                 f"{service().busy()}")


main()
