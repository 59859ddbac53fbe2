"""The job schema: what each view computes, under a key that names everything the result depends on.

    JobKey       one computation: its kind, the model, the token ids and the settings it needs
    run(key)     computes what a key names (the compute service calls it on a worker)
    kind_of      the service's kind: "long" reviews and "lab" runs are capped, so a worker stays free
    job(key)     the Job the service is handed: key, fn, kind, priority (USER; WARMUP for start-up work)
    view_jobs    what a view asks for, in the order it waits for them; the page queues them all at once
                 before the view waits for the first (prefetch), so they run on every worker together
    warm_up_jobs what the default views ask for on an example review, queued at start-up at low priority

The views ask for `view_jobs` and nothing else (tests/test_jobs.py records what the service receives during a
page run), so prefetch and warm-up compute exactly what the page then shows.

A long review (more than probe.FIRST_PIECE tokens) is streamed: its occlusion and context probe are pieces
of positions (`occlusion_keys`, `probe_keys`), the last FIRST_PIECE first, each at most PIECE_ROW_STEPS LSTM
row-steps. A view lists them after what its first chart needs, so the first chart (the training strips and
the occlusion of the last FIRST_PIECE tokens) comes within seconds; the rest follows in the session's turns
(the service serves sessions round-robin, and long reviews on at most their share of the workers while
others wait), so it never waits for a quiet moment and never holds up another visitor for long. A view draws
what has arrived (`probe.join_pieces`: NaN where a piece is missing) and, once every piece is in, the whole
record (`occlusion_from_parts`, `probe_from_parts`), equal to the bit to the unstreamed computation:

    t:      0 ............................... T-500 ......... T-1
    piece:  | 7 | 6 | ...  |  2  |     1     |        0        |      computed 0, 1, 2, ... (both models in turn)
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from tbptt_viz.present.params import DEFAULTS, SHAPLEY_SAMPLES, snap_k, source_position
from tbptt_viz.present.review import Review
from tbptt_viz.serving.service import USER, WARMUP

LONG_REVIEW = 800  # tokens above which occlusion and the context probe wait for a click (both grow with T^2)
KINDS = ("flow", "k1k2", "attr", "probe", "memory", "prob", "sanity", "lab", "occ_piece", "probe_piece", "exposure",
         "exposure_sweep", "connectivity", "logit_map")
LOOKUPS = ("prob", "exposure", "exposure_sweep")  # a forward pass or a table lookup: never queued as "long"


@dataclass(frozen=True)
class JobKey:
    """One computation. Two equal keys always give equal results, so the service computes each once."""

    kind: str                       # one of KINDS
    model: str = ""                 # a shipped model's name ("" for a Lab run, whose model is trained by it)
    ids: tuple[int, ...] = ()       # (T,) token ids in that model's vocabulary
    label: int | None = None        # the training loss's label (None: the model's own prediction)
    method: str | None = None       # attr, sanity: the attribution method
    backprop: str = "full"          # attr: the scheme whose windows the gradient is taken through
    k: int | None = None            # attr: K of last-k / chunked
    k1: int | None = None           # k1k2, attr: TBPTT(k1, k2)'s settings
    k2: int | None = None
    target: str | None = None       # attr: logit | loss (None: the method's default)
    config: tuple = ()              # lab: the LabConfig's (field, value) pairs, sorted
    lo: int | None = None           # occ_piece, probe_piece: the positions lo..hi-1 (probe.pieces)
    hi: int | None = None
    options: tuple = ()             # attr, sanity: shapley's (name, value) keyword arguments, sorted;
                                    # connectivity: (("source", S),)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown job kind {self.kind!r}; one of {KINDS}")


@dataclass(frozen=True)
class Job:
    """What the compute service is handed for one key."""

    key: JobKey
    fn: Callable[[], Any]
    kind: str        # the service's kind (kind_of): "analysis", "long" or "lab"
    priority: int    # USER, or WARMUP for start-up work


def flow(model: str, ids, label: int | None = None) -> JobKey:
    """The review's gradient flow: full BPTT with the last-K sweep and chunked on the K grid."""
    return JobKey("flow", model, tuple(ids), label)


def k1k2(model: str, ids, label: int | None, k1: int, k2: int) -> JobKey:
    return JobKey("k1k2", model, tuple(ids), label, k1=int(k1), k2=int(k2))


def attribution(model: str, ids, method: str, backprop: str = "full", k: int | None = None, k1: int | None = None,
                k2: int | None = None, target: str | None = None, label: int | None = None, **options) -> JobKey:
    """`attribute(model, ids, method, backprop, k, k1, k2, target, label, **options)` (options: shapley's)."""
    return JobKey("attr", model, tuple(ids), label, method, backprop, k, k1, k2, target,
                  options=tuple(sorted(options.items())))


def exposure(model: str, ids, scheme: str = "trained", k: int | None = None, k1: int | None = None,
             k2: int | None = None) -> JobKey:
    """`word_exposure` of the review's words under one scheme; "trained": the scheme on the model's card."""
    return JobKey("exposure", model, tuple(ids), backprop=scheme, k=k, k1=k1, k2=k2)


def exposure_sweep(model: str, ids, scheme: str) -> JobKey:
    """{K: word_exposure} under last-k or chunked for every K the slider offers: the slider only slices it."""
    return JobKey("exposure_sweep", model, tuple(ids), backprop=scheme)


def connectivity(model: str, ids, source: int) -> JobKey:
    """`connectivity(model, ids, source)`: how strongly the word at `source` moves every later state."""
    return JobKey("connectivity", model, tuple(ids), options=(("source", int(source)),))


def logit_map(model: str, ids) -> JobKey:
    """`logit_grad_map(model, ids)`: every word's pull on every later prediction (T <= 300)."""
    return JobKey("logit_map", model, tuple(ids))


def probe(model: str, ids) -> JobKey:
    return JobKey("probe", model, tuple(ids))


def memory(model: str, ids) -> JobKey:
    return JobKey("memory", model, tuple(ids))


def prediction(model: str, ids) -> JobKey:
    """P(positive): one forward pass, for the page's header."""
    return JobKey("prob", model, tuple(ids))


def sanity(model: str, ids, method: str, **options) -> JobKey:
    """The model-parameter randomisation test of `method` (options: shapley's, as for `attribution`)."""
    return JobKey("sanity", model, tuple(ids), method=method, options=tuple(sorted(options.items())))


def lab(config) -> JobKey:
    """A live Lab run of `config` (a LabConfig); it is computed by the function the page passes with it."""
    return JobKey("lab", config=tuple(sorted(config.to_dict().items())))


# ---- a long review's pieces -------------------------------------------------------------------------------

def streamed(ids) -> bool:
    """Whether a review's occlusion and probe come in pieces (more than probe.FIRST_PIECE tokens)."""
    from tbptt_viz.attribution.probe import FIRST_PIECE

    return len(ids) > FIRST_PIECE


def piece_keys(what: str, model: str, ids) -> list[JobKey]:
    """A review's occlusion (what="occ_piece") or probe (what="probe_piece") pieces, in the order to run
    them: the last FIRST_PIECE positions first, then earlier ones going back (probe.pieces)."""
    from tbptt_viz.attribution.probe import pieces

    ids = tuple(ids)
    return [JobKey(what, model, ids, lo=lo, hi=hi) for lo, hi in pieces(len(ids))]


def occlusion_keys(model: str, ids) -> list[JobKey]:
    """What plain occlusion of a review is computed as: one job, or a long review's pieces."""
    return piece_keys("occ_piece", model, ids) if streamed(ids) else [attribution(model, ids, "occlusion")]


def probe_keys(model: str, ids, positions: tuple[int, ...] | None = None) -> list[JobKey]:
    """What the context probe of a review is computed as: one job, or a long review's pieces. With
    `positions` (variants b: the model reading ids[b:]) a long review's probe is only the pieces holding them,
    for a view that reads nothing else (a fraction of the work: the probe costs T(T+1)/2 row-steps)."""
    if not streamed(ids):
        return [probe(model, ids)]
    keys = piece_keys("probe_piece", model, ids)
    return keys if positions is None else [k for k in keys if any(k.lo <= b < k.hi for b in positions)]


def opening(T: int) -> tuple[int, int]:
    """The probe's variants "Start here" asks for: the whole review (b = 0) and the review without its first
    FIRST_N tokens (the overview's default opening, present.overview); on a long review the piece holding them
    bounds its opening slider."""
    from tbptt_viz.present.sentences import FIRST_N

    return 0, max(0, min(FIRST_N, T - 1))


def attribution_keys(model: str, ids, method: str, **options) -> list[JobKey]:
    """`attribution(model, ids, method, **options)` of the logit, plain occlusion of a long review in pieces."""
    return occlusion_keys(model, ids) if method == "occlusion" else [attribution(model, ids, method, **options)]


def interleaved(*lists: list[JobKey]) -> list[JobKey]:
    """The lists' keys taken in turn (piece 0 of each model, then piece 1 of each, ...): both models'
    strips fill in together."""
    out = []
    for i in range(max((len(x) for x in lists), default=0)):
        out += [x[i] for x in lists if i < len(x)]
    return out


def occlusion_from_parts(model, ids, parts: dict):
    """The whole occlusion Attribution from its pieces {(lo, hi): scores} (equal to the bit to
    attribute(model, ids, "occlusion")); ValueError while a piece is missing."""
    import numpy as np
    import torch

    from tbptt_viz.attribution.methods import occlusion_attribution
    from tbptt_viz.attribution.probe import join_pieces

    scores = join_pieces(len(ids), parts)
    if np.isnan(scores).any():
        raise ValueError("occlusion is not complete: some pieces have not arrived")
    return occlusion_attribution(model, torch.tensor(ids), scores)


def probe_from_parts(ids, parts: dict):
    """The whole ContextProbe from its pieces {(lo, hi): logits} (equal to the bit to context_probe(model, ids));
    ValueError while a piece is missing."""
    import numpy as np
    import torch

    from tbptt_viz.attribution.probe import join_pieces, probe_from_logits

    logits = join_pieces(len(ids), parts)
    if np.isnan(logits).any():
        raise ValueError("the probe is not complete: some pieces have not arrived")
    return probe_from_logits(torch.tensor(ids), logits)


# ---- computing a key --------------------------------------------------------------------------------------

def run(key: JobKey, models) -> Any:
    """Compute what `key` names; `models`: a ModelStore (its models are only read)."""
    import torch

    if key.kind == "lab":
        raise ValueError("a Lab run is computed by the function its page passes with the key")
    model, ids = models.get(key.model), torch.tensor(key.ids)
    if key.kind == "flow":
        from tbptt_viz.gradients.analysis import review_flow

        return review_flow(model, ids, key.label)
    if key.kind == "k1k2":
        from tbptt_viz.gradients.flow import gradient_flow

        return gradient_flow(model, ids, "k1k2", k1=key.k1, k2=key.k2, label=key.label)
    if key.kind == "prob":
        return model.prob_positive(ids)
    if key.kind in ("occ_piece", "probe_piece"):
        from tbptt_viz.attribution import probe as pieces

        piece = pieces.occlusion_piece if key.kind == "occ_piece" else pieces.probe_piece
        return piece(model, ids, key.lo, key.hi)
    if key.kind in ("exposure", "exposure_sweep"):
        return exposure_of_key(key, model)
    if key.kind in ("connectivity", "logit_map"):
        from tbptt_viz.attribution import connectivity

        if key.kind == "logit_map":
            return connectivity.logit_grad_map(model, ids)
        return connectivity.connectivity(model, ids, **dict(key.options))
    from tbptt_viz.attribution import methods

    options = dict(key.options)
    if key.kind == "attr":
        return methods.attribute(model, ids, key.method, key.backprop, key.k, key.k1, key.k2, key.target, key.label,
                                 **options)
    if key.kind == "probe":
        return methods.context_probe(model, ids)
    if key.kind == "memory":
        return methods.memory_trace(model, ids)
    return methods.sanity_check(model, ids, key.method, **options)


def exposure_of_key(key: JobKey, model):
    """A lookup in the shipped statistics (no model pass): one WordExposure, or {K: WordExposure} for a sweep."""
    from tbptt_viz.experiments.exposure import word_exposure
    from tbptt_viz.gradients.analysis import k_choices

    if key.kind == "exposure_sweep":
        return {k: word_exposure(model, key.ids, key.backprop, k) for k in k_choices(len(key.ids))}
    if key.backprop == "trained":
        card = getattr(model, "card", None) or {}
        return word_exposure(model, key.ids, card.get("scheme"), card.get("k"), card.get("k1"), card.get("k2"))
    return word_exposure(model, key.ids, key.backprop, key.k, key.k1, key.k2)


def first_chart(key: JobKey) -> bool:
    """Whether `key` is part of a page's first chart on any review: the header's forward pass and the exposure
    lookups (`LOOKUPS`), the training strips' flow, and occlusion's first piece (the last FIRST_PIECE tokens). Each is bounded work (about a
    second of one core at 2,000 tokens), so on a long review too they are served as everyone's are."""
    return key.kind in (*LOOKUPS, "flow") or (key.kind == "occ_piece" and key.hi == len(key.ids))


def kind_of(key: JobKey) -> str:
    """The compute service's kind: "lab" for a live run; "long" for a review of more than LONG_REVIEW tokens
    (the app gives those a share of the workers, so another is always free for everyone else's pages), except
    its first chart's jobs (`first_chart`), which never wait behind long jobs; else "analysis"."""
    if key.kind == "lab":
        return "lab"
    return "long" if not first_chart(key) and len(key.ids) > LONG_REVIEW else "analysis"


def job(key: JobKey, models, fn: Callable[[], Any] | None = None, priority: int = USER) -> Job:
    """The Job for `key`: `fn` computes it when the key alone cannot (a Lab run); WARMUP `priority` for the
    server's own start-up work."""
    return Job(key, fn or (lambda: run(key, models)), kind_of(key), priority)


# ---- what the views ask for -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ViewSettings:
    """What the views' jobs depend on besides the review: the session's settings and switches."""

    scheme: str = DEFAULTS.scheme
    k: int = DEFAULTS.k             # the K the visitor chose; a view shows the nearest of k_choices(T)
    k1: int = DEFAULTS.k1
    k2: int = DEFAULTS.k2
    method: str = DEFAULTS.method
    long_review: bool = False       # "What the model uses": occlusion and the probe asked for on a long review
    truncated: bool = True          # "What the model uses": the truncated attribution shown
    sanity: bool = False            # "What the model uses": the methods' agreement and sanity check asked for
    source: tuple | int | None = None  # "What training sees", "Memory": the followed word, (position, token) or
                                    # a position; None or no longer in the review: `params.default_source`
    logit_map: bool = False         # "Memory": the whole logit_grad map asked for
    shapley_span: int = 0           # "What the model uses", shapley: groups of this many tokens (0: sentences)
    shapley_samples: int = SHAPLEY_SAMPLES[0]  # shapley: sampled orders per repeat


def shown_k(T: int, k: int) -> int:
    """The K a view shows for the chosen `k` on a T-token review: the nearest one the slider offers."""
    from tbptt_viz.gradients.analysis import k_choices

    return snap_k(k, k_choices(T))


def truncation_settings(s: ViewSettings, T: int) -> tuple[int | None, int | None, int | None]:
    """(k, k1, k2) of the truncated attribution under the chosen scheme."""
    return (None, s.k1, s.k2) if s.scheme == "k1k2" else (shown_k(T, s.k), None, None)


def method_options(s: ViewSettings, method: str) -> dict:
    """The keyword arguments a method gets on the page: shapley's groups and samples; none for the others."""
    if method != "shapley":
        return {}
    return {"groups": s.shapley_span or "sentences", "samples": s.shapley_samples}


def exposure_jobs(review: Review, s: ViewSettings) -> list[JobKey]:
    """Exposure under the chosen scheme (every K at once for last-k and chunked: the slider slices it), then
    under each model's own training scheme."""
    m, ids = review.model, review.ids
    chosen = exposure_sweep(m, ids, s.scheme) if s.scheme in ("last-k", "chunked") else \
        exposure(m, ids, "k1k2", k1=s.k1, k2=s.k2) if s.scheme == "k1k2" else exposure(m, ids, "full")
    return [chosen] + [exposure(n, review.ids_of(n)) for n in review.names]


def view_jobs(view: str, review: Review, s: ViewSettings = ViewSettings()) -> list[JobKey]:
    """Every job `view` asks for on `review`, in the order it waits for them (the header's prediction aside).

    Jobs behind a button (integrated gradients under truncation) are not listed: they run when asked."""
    from tbptt_viz.attribution.choices import METHODS
    from tbptt_viz.gradients.analysis import truncation_route

    m, ids, names = review.model, review.ids, review.names
    occlusion = interleaved(*(occlusion_keys(n, review.ids_of(n)) for n in names))
    probes = interleaved(*(probe_keys(n, review.ids_of(n)) for n in names))
    if view == "Start here":  # the probe feeds one sentence there: only the variants it reads
        keys = [flow(m, ids, review.label), *occlusion,
                *interleaved(*(probe_keys(n, review.ids_of(n), opening(review.T)) for n in names)),
                *(exposure(n, review.ids_of(n)) for n in names)]  # then each model's training exposure
    elif view == "Where words were trained":  # a lesson's evidence: each model's exposure under its own scheme
        keys = [exposure(n, review.ids_of(n)) for n in names]
    elif view == "How far a word reaches":  # a lesson's evidence: the lesson's word's connectivity, both models
        source = source_position(s.source, review.tokens)
        keys = [connectivity(n, review.ids_of(n), source) for n in names]
    elif view in ("What training sees", "Gradient through time"):
        keys = [flow(m, ids, review.label)] + ([k1k2(m, ids, review.label, s.k1, s.k2)] if s.scheme == "k1k2" else [])
        if view == "What training sees":
            keys += exposure_jobs(review, s)
    elif view == "What the model uses":
        keys = interleaved(*(attribution_keys(n, review.ids_of(n), s.method, **method_options(s, s.method))
                             for n in names))
        route = truncation_route(s.scheme, s.method)
        if s.truncated and route in ("mask", "ask", "run"):
            keys.append(attribution(m, ids, s.method, target="loss"))
            if route == "run":
                keys.append(attribution(m, ids, s.method, s.scheme, *truncation_settings(s, review.T), target="loss"))
        if s.sanity:
            keys += [key for method in METHODS for key in attribution_keys(m, ids, method, **method_options(s, method))]
            keys.append(sanity(m, ids, s.method, **method_options(s, s.method)))
        if review.T <= LONG_REVIEW or s.long_review:
            keys += occlusion + probes
    elif view == "Memory":
        from tbptt_viz.attribution.connectivity import MAX_MAP_TOKENS

        source = source_position(s.source, review.tokens)
        keys = [memory(n, review.ids_of(n)) for n in names] + occlusion
        keys += [connectivity(n, review.ids_of(n), source) for n in names]
        if s.logit_map and review.T <= MAX_MAP_TOKENS:
            keys += [logit_map(n, review.ids_of(n)) for n in names]
    else:
        keys = []
    return list(dict.fromkeys(keys))  # each once, in order


# The views an example's default page shows; the start-up warm-up computes what they ask for.
WARM_VIEWS = ("Start here", "What training sees", "What the model uses", "Memory")


def warm_up_jobs(model: str, ids, label: int | None, tokens=()) -> list[JobKey]:
    """What the default views ask for on one example under `model`, alone or beside another model (as the
    compare model it is asked for the same attributions, probe, memory trace, exposure and connectivity), with
    the loss against the example's label and against the model's own prediction, after the header's
    prediction. `tokens`: the example's, which decide the word the views follow by default."""
    keys = [prediction(model, ids)]
    for loss_label in (label, None):
        review = Review(model, None, tuple(ids), (), tuple(tokens), loss_label)
        keys += [key for view in WARM_VIEWS for key in view_jobs(view, review)]
    return list(dict.fromkeys(keys))



def warm_up(service, models, names: list[str], texts: list[tuple[str, int | None]], backlog: int = 16,
            pause: float = 0.5) -> int:
    """Queue `warm_up_jobs` of every text under every model at WARMUP priority, never more than `backlog`
    warm-up jobs waiting at once: visitors' requests always find the queue short, and warm-up work is never
    refused. `texts`: (text, label) pairs. Returns the jobs queued; a model that cannot load is skipped."""
    from tbptt_viz.core.text import prepare_review

    queued = 0
    for name in names:
        try:
            vocab = models.get(name).vocab
        except Exception:  # noqa: BLE001 - the page lists a broken model; warm-up skips it
            continue
        for text, label in texts:
            prepared = prepare_review(text, vocab)
            for key in warm_up_jobs(name, prepared.ids, label, prepared.tokens):
                while service.queued(WARMUP) >= backlog:
                    time.sleep(pause)
                w = job(key, models, priority=WARMUP)
                service.request(w.key, w.fn, w.kind, priority=w.priority)
                queued += 1
    return queued
