"""The page's access to the shared compute service and the model store, and what it reads from disk.

One store and one service per process and models folder (`st.cache_resource`): cached results are keyed by
model name, so a different folder (another deployment's weights, a test's) never sees another's results.
"""
from __future__ import annotations

import concurrent.futures
import os
import threading
from typing import Any, Callable

import streamlit as st
import torch

from tbptt_viz.attribution.probe import join_pieces, probe_from_logits
from tbptt_viz.core.checkpoint import available_models, load_pretrained, model_cards, pretrained_dir
from tbptt_viz.core.data import examples, load_imdb, load_results
from tbptt_viz.core.text import clean_text
from tbptt_viz.present.review import Review
from tbptt_viz.present.sentences import queue_note
from tbptt_viz.serving import jobs
from tbptt_viz.serving.jobs import JobKey
from tbptt_viz.serving.service import ComputeService, ModelStore, ServiceBusy, Ticket


@st.cache_resource(show_spinner=False)
def _store(folder: str) -> ModelStore:
    return ModelStore(load_pretrained)


@st.cache_resource(show_spinner=False)
def _service(folder: str) -> ComputeService:
    # Three workers for two cores: at most one waits on a live Lab run (its training runs in a forked child),
    # and long reviews get one while others wait (two when nobody does), so one is always free for everyone
    # else's pages; sessions take turns (the `owner` of each request). 64 MB of results, least recently used
    # dropped first (192 MB before): with it the 20-minute soak's samples (results/bench/soak.json) stayed within
    # 800 MB; the start-up warm-up of every example under every model plus one long review fill it
    # (results/bench/memory_jobs.json: 62 MB cached).
    svc = ComputeService(workers=3, cache_entries=2048, limits={"lab": 1}, shares={"long": 1}, cache_bytes=64 << 20)
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
    """Queue what the default views ask for on every example under every shipped model, at low priority and a
    few at a time (jobs.warm_up): a class opening the same link finds a warm cache, and a visitor's own
    request always goes first."""
    jobs.warm_up(svc, models, available_models(), [(ex.text, ex.label) for ex in examples()])


def session_id() -> str | None:
    """This visitor's session: the compute service lets sessions take turns (None outside a page run)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else None


def submit(key: JobKey, fn: Callable | None = None) -> Ticket:
    """Queue a job (or join the identical one) for this session; `fn` computes it when the key alone cannot
    (a Lab run). Raises ServiceBusy when the server's queue is full (`widgets.guarded` says to try again)."""
    job = jobs.job(key, store(), fn)
    return service().request(job.key, job.fn, job.kind, job.priority, owner=session_id())


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


def gather(keys: list[JobKey], what: str, progress: Callable[[dict[JobKey, Any], int], None] | None = None
           ) -> dict[JobKey, Any]:
    """Ask for every key at once and wait for them all: {key: result}. While they arrive, `progress(done,
    total)` draws what is in (`done`: {key: result} so far) in one place on the page, redrawn as more land;
    before the first arrives, or without `progress`, a note says what is computed and how much is ahead."""
    tickets = {key: submit(key) for key in keys}
    futures = [t.future for t in tickets.values()]
    concurrent.futures.wait(futures, timeout=0.4)
    box, shown = None, None
    while not all(t.done() for t in tickets.values()):
        done = {key: t.result() for key, t in tickets.items() if t.done()}
        ahead = min(t.position() for t in tickets.values() if not t.done())
        state = (len(done), ahead if not done or progress is None else None)
        if state != shown:
            box = box or st.empty()
            with box.container():
                if done and progress is not None:
                    progress(done, len(tickets))
                else:
                    st.info(queue_note(what, ahead))
            shown = state
        concurrent.futures.wait([f for f in futures if not f.done()], timeout=1.0,
                                return_when=concurrent.futures.FIRST_COMPLETED)
    if box is not None:
        box.empty()
    return {key: t.result() for key, t in tickets.items()}


def joined(review: Review, keys: dict[str, list[JobKey]], done: dict[JobKey, Any]) -> dict:
    """{model: (T,) values of its pieces in `done`}, NaN where a piece has not arrived (probe.join_pieces)."""
    return {n: join_pieces(review.T, {(k.lo, k.hi): done[k] for k in keys[n] if k in done}) for n in keys}


def occlusions(review: Review, draw: Callable[[dict, int, int], None] | None = None) -> dict:
    """Plain occlusion of the review for every model on the page: {model: Attribution}. A long review's
    pieces stream in (jobs.occlusion_keys): `draw(scores, done, total)` shows them as they land, `scores`
    {model: (T,) with NaN where not computed yet}; the result is the whole record, equal to the bit to the
    unstreamed one."""
    keys = {n: jobs.occlusion_keys(n, review.ids_of(n)) for n in review.names}
    if not jobs.streamed(review.ids):
        return {n: compute(keys[n][0], f"occlusion for {n}") for n in review.names}
    progress = None if draw is None else (lambda done, total: draw(joined(review, keys, done), len(done), total))
    done = gather(jobs.interleaved(*keys.values()), "occlusion, the end of the review first", progress)
    return {n: jobs.occlusion_from_parts(get_model(n), review.ids_of(n), {(k.lo, k.hi): done[k] for k in keys[n]})
            for n in keys}


def probes(review: Review, positions: tuple[int, ...] | None = None) -> dict:
    """The context probe of the review for every model on the page: {model: ContextProbe} (a long review's
    pieces gathered first, jobs.probe_keys). With `positions`, a long review's probe holds the variants b in
    `positions` (and whatever shares their pieces) and NaN elsewhere: for a view that reads only those."""
    keys = {n: jobs.probe_keys(n, review.ids_of(n), positions) for n in review.names}
    if not jobs.streamed(review.ids):
        return {n: compute(keys[n][0], f"the context probe for {n}") for n in review.names}
    done = gather(jobs.interleaved(*keys.values()), "the context probe")
    parts = {n: {(k.lo, k.hi): done[k] for k in keys[n]} for n in keys}
    if positions is not None:
        return {n: probe_from_logits(torch.tensor(review.ids_of(n)), join_pieces(review.T, parts[n])) for n in keys}
    return {n: jobs.probe_from_parts(review.ids_of(n), parts[n]) for n in keys}


def prefetch(review: Review, view: str, settings: jobs.ViewSettings) -> None:
    """Queue every job the view is about to wait for, before it waits for the first: a view asks for them one
    after another, and queued together they run on all workers at once. A full queue stops the prefetch
    quietly (the view asks again, and says so if the server is still busy)."""
    for key in jobs.view_jobs(view, review, settings):
        try:
            submit(key)
        except ServiceBusy:
            return


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
