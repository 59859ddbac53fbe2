"""The jobs a page waits for, as typed keys and the functions that compute them, for the ComputeService.

A key is a plain tuple naming everything its result depends on: (job, model name, token ids, *settings).

    ("prob", model, ids)                             P(positive): one forward pass (the page header)
    ("flow", model, ids, label)                      analysis.review_flow: training strips, gradient through time
    ("attr", model, ids, method, backprop, k, k1, k2, target, label)    attribute(...)
    ("probe", model, ids)                            context_probe
    ("memory", model, ids)                           memory_trace
    ("occ_piece", model, ids, lo, hi)                occlusion of positions lo..hi-1 (probe.pieces)
    ("probe_piece", model, ids, lo, hi)              the probe's runs starting at lo..hi-1

A long review (more than probe.FIRST_PIECE tokens) is streamed: its occlusion and probe are pieces, the last
FIRST_PIECE positions first at the visitor's priority (USER), the rest after at STREAM priority, so the first
chart (training strips and the end of the occlusion) comes within seconds and other visitors' first charts go
before the rest of it. How a view uses them:

    plan = view_plan(models, "Start here", main, compare, ids_main, ids_compare, label)
    tickets = {job.key: service.request(job.key, job.fn, job.kind, job.priority, owner=session) for job in plan}
    # draw as tickets complete; for occlusion: parts = {(lo, hi): result of each ("occ_piece", ...) done}
    scores = probe.join_pieces(T, parts)                # NaN where a piece has not arrived: "computing..."
    # all pieces in: the whole record, equal to the bit to attribute(model, ids, "occlusion")
    a = occlusion_from_parts(models.get(main), ids_main, parts)
    p = probe_from_parts(ids_main, probe_parts)         # equal to the bit to context_probe(model, ids)
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from tbptt_viz.attribution.methods import attribute, context_probe, memory_trace, occlusion_attribution
from tbptt_viz.attribution.probe import (FIRST_PIECE, join_pieces, occlusion_piece, pieces, probe_from_logits,
                                         probe_piece)
from tbptt_viz.gradients import analysis
from tbptt_viz.present.page import job_kind as kind_of  # "long" for a heavy job of a review over LONG_REVIEW
from tbptt_viz.serving.service import STREAM, USER, WARMUP, ServiceBusy

OCCLUSION_KEY = ("occlusion", "full", None, None, None, None, None)  # "attr" settings of plain occlusion


@dataclass(frozen=True)
class Job:
    key: tuple
    fn: Callable[[], Any]
    kind: str        # "analysis" or "long" (the service's share for long reviews)
    priority: int    # USER: the first chart; STREAM: the rest of a long review; WARMUP: start-up work


def streamed(ids: tuple) -> bool:
    """Whether a review's occlusion and probe come in pieces (more than FIRST_PIECE tokens)."""
    return len(ids) > FIRST_PIECE


def review_jobs(models, model: str, ids: tuple[int, ...], label: int | None = None) -> dict[tuple, Callable]:
    """key -> function for what the default views of one (model, review) need, each computed whole."""
    t = lambda: torch.tensor(ids)  # noqa: E731
    return {("flow", model, ids, label): lambda: analysis.review_flow(models.get(model), t(), label),
            ("attr", model, ids, *OCCLUSION_KEY): lambda: attribute(models.get(model), t(), "occlusion"),
            ("probe", model, ids): lambda: context_probe(models.get(model), t()),
            ("memory", model, ids): lambda: memory_trace(models.get(model), t())}


def piece_jobs(models, model: str, ids: tuple[int, ...], what: str) -> list[Job]:
    """A long review's occlusion (what="occ") or probe (what="probe") as pieces, in the order to run them:
    the last FIRST_PIECE positions at USER priority, the rest at STREAM."""
    fn = occlusion_piece if what == "occ" else probe_piece
    jobs = []
    for i, (lo, hi) in enumerate(pieces(len(ids))):
        key = (f"{what}_piece", model, ids, lo, hi)
        jobs.append(Job(key, lambda lo=lo, hi=hi: fn(models.get(model), torch.tensor(ids), lo, hi), kind_of(key),
                        USER if i == 0 else STREAM))
    return jobs


def occlusion_from_parts(model, ids, parts: dict[tuple[int, int], np.ndarray]):
    """The whole occlusion Attribution once every piece is in (equal to attribute(model, ids, "occlusion"))."""
    scores = join_pieces(len(ids), parts)
    if np.isnan(scores).any():
        raise ValueError("occlusion is not complete: some pieces have not arrived")
    return occlusion_attribution(model, torch.tensor(ids), scores)


def probe_from_parts(ids, parts: dict[tuple[int, int], np.ndarray]):
    """The whole ContextProbe once every piece is in (equal to context_probe(model, ids))."""
    logits = join_pieces(len(ids), parts)
    if np.isnan(logits).any():
        raise ValueError("the probe is not complete: some pieces have not arrived")
    return probe_from_logits(torch.tensor(ids), logits)


# What each view waits for, by job ("flow": the main model's gradients; the rest for both models).
VIEW_JOBS = {"Start here": ("flow", "occ", "probe"), "What training sees": ("flow",),
             "Gradient through time": ("flow",), "What the model uses": ("occ", "probe"),
             "Memory": ("memory", "occ")}


def view_plan(models, view: str, main: str, compare: str | None, ids_main: tuple, ids_compare: tuple | None,
              label: int | None = None) -> list[Job]:
    """Every job `view` needs, in the order to queue them: the first chart's jobs (USER) first. Occlusion and
    the probe of a long review are pieces (`piece_jobs`); of a short one, whole jobs."""
    wanted = VIEW_JOBS.get(view, ())
    plan: list[Job] = []
    later: list[Job] = []
    for name, ids in ((main, ids_main), (compare, ids_compare)):
        if name is None or ids is None:
            continue
        whole = review_jobs(models, name, ids, label)
        for what in wanted:
            if what == "flow":
                if name == main:
                    key = ("flow", name, ids, label)
                    plan.append(Job(key, whole[key], kind_of(key), USER))
            elif what in ("occ", "probe") and streamed(ids):
                first, *rest = piece_jobs(models, name, ids, what)
                plan.append(first)
                later += rest
            else:
                key = {"occ": ("attr", name, ids, *OCCLUSION_KEY), "probe": ("probe", name, ids),
                       "memory": ("memory", name, ids)}[what]
                plan.append(Job(key, whole[key], kind_of(key), USER))
    return plan + later


def warm_up(service, models, names: list[str], texts: list[tuple[str, int | None]], backlog: int = 16,
            pause: float = 0.5) -> int:
    """Queue every text under every model at WARMUP priority, never more than `backlog` warm-up jobs waiting
    at once (the queue stays free for visitors, and is never refused for warm-up work). `texts`: (text,
    label) pairs; each is computed for the model's own prediction and, when given, for its label. Returns the
    jobs queued; a model that cannot load is skipped."""
    from tbptt_viz.core.text import prepare_review

    queued = 0
    for name in names:
        try:
            vocab = models.get(name).vocab
        except Exception:  # noqa: BLE001 - the page lists a broken model; warm-up skips it
            continue
        for text, label in texts:
            ids = tuple(prepare_review(text, vocab).ids)
            jobs = {**review_jobs(models, name, ids), **(review_jobs(models, name, ids, label) if label is not None
                                                        else {})}
            for key, fn in jobs.items():
                while service.queued(WARMUP) >= backlog:
                    time.sleep(pause)
                try:
                    service.request(key, fn, kind_of(key), priority=WARMUP)
                    queued += 1
                except ServiceBusy:
                    time.sleep(pause)
    return queued
