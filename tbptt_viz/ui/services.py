"""The page's access to the shared compute service and the model store, and what it reads from disk.

One store and one service per process and models folder (`st.cache_resource`): cached results are keyed by
model name, so a different folder (another deployment's weights, a test's) never sees another's results.
"""
from __future__ import annotations

import concurrent.futures
import os
import threading
from typing import Callable

import streamlit as st

from tbptt_viz.core.checkpoint import CheckpointError, available_models, load_pretrained, model_cards, pretrained_dir
from tbptt_viz.core.data import examples, load_imdb, load_results
from tbptt_viz.core.text import clean_text, prepare_review
from tbptt_viz.present.review import Review
from tbptt_viz.present.sentences import queue_note
from tbptt_viz.serving import jobs
from tbptt_viz.serving.jobs import JobKey
from tbptt_viz.serving.service import WARMUP, ComputeService, ModelStore, Ticket


@st.cache_resource(show_spinner=False)
def _store(folder: str) -> ModelStore:
    return ModelStore(load_pretrained)


@st.cache_resource(show_spinner=False)
def _service(folder: str) -> ComputeService:
    # Three workers: at most one waits on a live Lab run (its training runs in a forked child) and at most one
    # works on long reviews, so one is always free for everyone else's pages.
    svc = ComputeService(workers=3, cache_entries=2048, limits={"lab": 1, "long": 1}, cache_bytes=192 << 20)
    if os.environ.get("TBPTT_VIZ_WARMUP", "1") != "0":  # the tests turn it off: they measure their own work
        threading.Thread(target=warm_up, args=(svc, _store(folder)), name="tbptt-viz-warm-up", daemon=True).start()
    return svc


def store() -> ModelStore:
    return _store(str(pretrained_dir()))


def service() -> ComputeService:
    return _service(str(pretrained_dir()))


def get_model(name: str):
    return store().get(name)


def warm_up(svc: ComputeService, models: ModelStore) -> None:
    """Queue what the default views ask for on every example under every shipped model, at low priority: a
    class opening the same link finds a warm cache, and a visitor's own request always goes first."""
    for name in available_models():
        try:
            vocab = models.get(name).vocab
        except CheckpointError:
            continue
        for ex in examples():
            prepared = prepare_review(ex.text, vocab)
            for key in jobs.warm_up_jobs(name, prepared.ids, ex.label, prepared.tokens):
                svc.request(key, lambda key=key: jobs.run(key, models), jobs.kind_of(key), priority=WARMUP)


def submit(key: JobKey, fn: Callable | None = None) -> Ticket:
    """Queue a job (or join the identical one); `fn` computes it when the key alone cannot (a Lab run)."""
    return service().request(key, fn or (lambda: jobs.run(key, store())), jobs.kind_of(key))


def compute(key: JobKey, what: str = "", fn: Callable | None = None,
            progress: Callable[[int], tuple[float, str]] | None = None):
    """Ask the service for `key` and wait. If that takes a moment, say what is computed and how many requests
    are ahead; a job that reports its own progress passes `progress` (requests ahead -> (fraction, text)) and is
    shown as a bar. The note changes only when the queue does, so a waiting page costs the server next to
    nothing."""
    ticket = submit(key, fn)
    if not ticket.done():
        concurrent.futures.wait([ticket.future], timeout=0.4)
    if not ticket.done():
        box, shown = st.empty(), None
        while not ticket.done():
            ahead = ticket.position()
            note = queue_note(what, ahead) if progress is None else progress(ahead)
            if note != shown:
                if progress is None:
                    box.info(note)
                else:
                    box.progress(note[0], text=note[1])
                shown = note
            concurrent.futures.wait([ticket.future], timeout=1.0 if progress is None else 0.3)
        box.empty()
    return ticket.result()


def prefetch(review: Review, view: str, settings: jobs.ViewSettings) -> None:
    """Queue every job the view is about to wait for, before it waits for the first: a view asks for them one
    after another, and queued together they run on all workers at once."""
    for key in jobs.view_jobs(view, review, settings):
        submit(key)


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
def _cards_in(folder: str) -> dict[str, dict]:
    return {c["name"]: c for c in model_cards()}


def cards() -> dict[str, dict]:
    """The shipped models' cards by name, read once per models folder."""
    return _cards_in(str(pretrained_dir()))


@st.cache_resource(show_spinner=False)
def imdb_rows(data_dir: str | None) -> dict[str, tuple[str, int, int]] | str:
    """{id: (text, label, words)} of the IMDB test split, or the reason it is unavailable."""
    try:
        return {r.id: (clean_text(r.text), r.label, len(r.text.split())) for r in load_imdb("test", data_dir)}
    except Exception as e:  # noqa: BLE001 - a broken file must not break the page
        return str(e)
