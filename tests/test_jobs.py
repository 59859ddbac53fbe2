"""The job schema: each key computes what it names, each view's job list is what the page then asks the
service for (recorded during real page runs), and warm-up and prefetch request exactly those keys."""
from __future__ import annotations

from itertools import permutations
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import seq

from tbptt_viz.present.review import Review
from tbptt_viz.serving import jobs
from tbptt_viz.serving.jobs import LONG_REVIEW, JobKey, ViewSettings, kind_of, view_jobs, warm_up_jobs
from tbptt_viz.serving.service import same_as_sequential

ROOT = Path(__file__).resolve().parent.parent
IDS, OTHER = (5, 6, 7, 8) * 10, (9, 10, 11, 12) * 10  # 40 tokens, one sequence per model's vocabulary
TOKENS = ("the", "plot", "was", "awful") * 10           # the first sentiment-bearing word: "awful", position 3
REVIEW = Review("m", "c", IDS, OTHER, TOKENS, 1, "r")


def test_job_kind_marks_long_reviews_only():
    long_ids, short_ids = tuple(range(LONG_REVIEW + 1)), tuple(range(LONG_REVIEW))
    assert kind_of(jobs.attribution("m", long_ids, "occlusion")) == "long"
    assert kind_of(jobs.memory("m", long_ids)) == "long" and kind_of(jobs.sanity("m", long_ids, "saliency")) == "long"
    assert kind_of(jobs.probe("m", short_ids)) == "analysis"
    # the first chart's bounded jobs never wait behind long ones: the header's forward pass, the flow, and
    # occlusion's last piece; the rest of a long review's pieces are long
    first, *rest = jobs.piece_keys("occ_piece", "m", long_ids)
    assert kind_of(jobs.prediction("m", long_ids)) == kind_of(jobs.flow("m", long_ids)) == kind_of(first) == \
        "analysis"
    assert {kind_of(k) for k in rest + jobs.piece_keys("probe_piece", "m", long_ids)} == {"long"}

    class Config:
        def to_dict(self):
            return {"seed": 0, "task": "prefix"}

    lab = jobs.lab(Config())
    assert kind_of(lab) == "lab" and lab.config == (("seed", 0), ("task", "prefix")) and lab == jobs.lab(Config())


def test_keys_are_hashable_values_and_unknown_kinds_are_refused():
    a = jobs.attribution("m", [1, 2], "saliency", "chunked", 5, target="loss")
    assert a == jobs.attribution("m", (1, 2), "saliency", "chunked", 5, None, None, "loss") and hash(a) == hash(
        jobs.attribution("m", (1, 2), "saliency", "chunked", 5, target="loss"))
    assert a != jobs.attribution("m", (1, 2), "saliency", "chunked", 5) and a.ids == (1, 2)
    assert jobs.flow("m", (1,), None) != jobs.flow("m", (1,), 0)
    with pytest.raises(ValueError, match="unknown job kind"):
        JobKey("gradients", "m", (1,))


def test_run_computes_what_each_key_names(model):
    """Each kind against its function called directly on the same model and ids."""
    from tbptt_viz import attribute, context_probe, gradient_flow, memory_trace
    from tbptt_viz.attribution.methods import sanity_check
    from tbptt_viz.gradients.analysis import review_flow

    class Store:
        def get(self, name):
            assert name == "tiny"
            return model

    ids = seq(15)
    t = tuple(ids.tolist())
    rf = jobs.run(jobs.flow("tiny", t, 1), Store())
    np.testing.assert_array_equal(rf.chunked.input_grad_norm, review_flow(model, ids, 1).chunked.input_grad_norm)
    np.testing.assert_array_equal(jobs.run(jobs.k1k2("tiny", t, 0, 3, 7), Store()).input_grad_norm,
                                  gradient_flow(model, ids, "k1k2", k1=3, k2=7, label=0).input_grad_norm)
    got = jobs.run(jobs.attribution("tiny", t, "saliency", "last-k", 4, target="loss", label=1), Store())
    np.testing.assert_array_equal(got.scores, attribute(model, ids, "saliency", "last-k", 4, target="loss",
                                                        label=1).scores)
    assert got.k == 4 and got.target == "loss" and got.label_used == 1
    np.testing.assert_array_equal(jobs.run(jobs.probe("tiny", t), Store()).prob_last_n,
                                  context_probe(model, ids).prob_last_n)
    np.testing.assert_array_equal(jobs.run(jobs.memory("tiny", t), Store()).influence, memory_trace(model, ids).influence)
    with torch.no_grad():
        assert jobs.run(jobs.prediction("tiny", t), Store()) == pytest.approx(torch.sigmoid(model(ids[None])).item())
    assert jobs.run(jobs.sanity("tiny", t, "saliency"), Store()).relative_change == \
        sanity_check(model, ids, "saliency").relative_change
    with pytest.raises(ValueError):
        jobs.run(JobKey("lab"), Store())


def test_run_computes_the_evidence_jobs(model):
    """Connectivity, the logit_grad map and shapley's options on the tiny model; exposure (a lookup in the shipped
    statistics, which count the shipped vocabulary) on a shipped model: each against a direct call."""
    from tbptt_viz import attribute, load_pretrained
    from tbptt_viz.attribution.connectivity import connectivity, logit_grad_map
    from tbptt_viz.experiments.exposure import word_exposure
    from tbptt_viz.gradients.analysis import k_choices

    shipped = {"tiny": model, "imdb-k1k2-30-60": load_pretrained("imdb-k1k2-30-60")}

    class Store:
        def get(self, name):
            return shipped[name]

    ids = seq(15)
    t = tuple(ids.tolist())
    got = jobs.run(jobs.connectivity("tiny", t, 4), Store())
    np.testing.assert_array_equal(got.state_norm, connectivity(model, ids, 4).state_norm)
    assert got.source == 4 and jobs.connectivity("tiny", t, 4).options == (("source", 4),)
    np.testing.assert_array_equal(jobs.run(jobs.logit_map("tiny", t), Store()).logit_grad,
                                  logit_grad_map(model, ids).logit_grad)
    got = jobs.run(jobs.attribution("tiny", t, "shapley", groups=1, samples=4), Store())  # 15 groups: sampled
    want = attribute(model, ids, "shapley", groups=1, samples=4)
    np.testing.assert_array_equal(got.group_values, want.group_values)
    np.testing.assert_array_equal(got.standard_error, want.standard_error)
    assert got.samples == 4 and len(got.groups) == 15
    net = shipped["imdb-k1k2-30-60"]
    words = tuple(net.vocab.encode("i love this film , it is great".split()))
    trained = jobs.run(jobs.exposure("imdb-k1k2-30-60", words), Store())  # the scheme on the model's card
    direct = word_exposure(net, words, "k1k2", k1=30, k2=60)
    np.testing.assert_array_equal(trained.in_reach, direct.in_reach)
    assert (trained.scheme, trained.k1, trained.k2) == ("k1k2", 30, 60)
    sweep = jobs.run(jobs.exposure_sweep("imdb-k1k2-30-60", words, "last-k"), Store())
    assert list(sweep) == k_choices(len(words))
    for k, e in sweep.items():
        np.testing.assert_array_equal(e.in_reach, word_exposure(net, words, "last-k", k).in_reach)
    bounds = jobs.run(jobs.exposure("imdb-k1k2-30-60", words, "k1k2", k1=40, k2=10), Store())
    assert not bounds.exact and np.all(bounds.in_reach <= bounds.in_reach_high)
    assert kind_of(jobs.exposure_sweep("m", tuple(range(LONG_REVIEW + 1)), "last-k")) == "analysis"  # a lookup
    assert kind_of(jobs.connectivity("m", tuple(range(LONG_REVIEW + 1)), 0)) == "long"


def test_view_jobs_list_what_each_view_waits_for_in_order():
    from tbptt_viz.attribution.methods import METHODS

    occ = [jobs.attribution("m", IDS, "occlusion"), jobs.attribution("c", OTHER, "occlusion")]
    probes = [jobs.probe("m", IDS), jobs.probe("c", OTHER)]
    flow = jobs.flow("m", IDS, 1)
    trained = [jobs.exposure("m", IDS), jobs.exposure("c", OTHER)]  # each model's own scheme, from its card
    assert view_jobs("Start here", REVIEW) == [flow, *occ, *probes, *trained]
    assert view_jobs("Gradient through time", REVIEW) == [flow]
    # exposure: every K of the slider at once under last-K and chunked, then each model's own training scheme
    trained = [jobs.exposure("m", IDS), jobs.exposure("c", OTHER)]
    assert view_jobs("What training sees", REVIEW) == [flow, jobs.exposure_sweep("m", IDS, "last-k"), *trained]
    assert view_jobs("What training sees", REVIEW, ViewSettings(scheme="chunked", k=7)) == \
        [flow, jobs.exposure_sweep("m", IDS, "chunked"), *trained]
    assert view_jobs("What training sees", REVIEW, ViewSettings(scheme="full")) == \
        [flow, jobs.exposure("m", IDS, "full"), *trained]
    assert view_jobs("What training sees", REVIEW, ViewSettings(scheme="k1k2", k1=4, k2=9)) == \
        [flow, jobs.k1k2("m", IDS, 1, 4, 9), jobs.exposure("m", IDS, "k1k2", k1=4, k2=9), *trained]
    assert view_jobs("What the model uses", REVIEW) == [*occ, *probes]  # occlusion: nothing to truncate
    # shapley: its groups and samples are in the key; nothing to truncate; occlusion for the opening's comparison
    shap = ViewSettings(method="shapley", shapley_span=5, shapley_samples=8)
    assert view_jobs("What the model uses", REVIEW, shap) == [
        jobs.attribution("m", IDS, "shapley", groups=5, samples=8),
        jobs.attribution("c", OTHER, "shapley", groups=5, samples=8), *occ, *probes]
    assert jobs.attribution("m", IDS, "shapley", groups="sentences", samples=2) in \
        view_jobs("What the model uses", REVIEW, ViewSettings(method="shapley"))
    saliency = [jobs.attribution("m", IDS, "saliency"), jobs.attribution("c", OTHER, "saliency")]
    loss = jobs.attribution("m", IDS, "saliency", target="loss")
    assert view_jobs("What the model uses", REVIEW, ViewSettings(method="saliency")) == [*saliency, loss, *occ, *probes]
    # chunked: the truncated attribution runs; K is the slider's nearest value to the chosen one (37 -> 40 here)
    chunked = ViewSettings(scheme="chunked", k=37, method="saliency")
    assert view_jobs("What the model uses", REVIEW, chunked) == [
        *saliency, loss, jobs.attribution("m", IDS, "saliency", "chunked", 40, None, None, "loss"), *occ, *probes]
    k1k2 = ViewSettings(scheme="k1k2", k1=4, k2=9, method="input_x_gradient", truncated=True)
    assert jobs.attribution("m", IDS, "input_x_gradient", "k1k2", None, 4, 9, "loss") in \
        view_jobs("What the model uses", REVIEW, k1k2)
    ig = ViewSettings(method="integrated_gradients", scheme="chunked")  # its truncated run waits for a click
    assert view_jobs("What the model uses", REVIEW, ig)[2] == jobs.attribution("m", IDS, "integrated_gradients",
                                                                                target="loss")
    assert len(view_jobs("What the model uses", REVIEW, ig)) == 7
    assert view_jobs("What the model uses", REVIEW, ViewSettings(method="saliency", truncated=False)) == \
        [*saliency, *occ, *probes]
    assert view_jobs("What the model uses", REVIEW, ViewSettings(scheme="full", method="saliency")) == \
        [*saliency, *occ, *probes]
    sanity = view_jobs("What the model uses", REVIEW, ViewSettings(sanity=True))
    others = [m for m in METHODS if m != "occlusion"]  # every method the agreement table compares
    shapley = {"groups": "sentences", "samples": 2}
    assert sanity == [*occ, *(jobs.attribution("m", IDS, m, **(shapley if m == "shapley" else {})) for m in others),
                      jobs.sanity("m", IDS, "occlusion"), *probes]  # each key once, where it is first asked for
    # Memory: connectivity of the followed word (default: the first sentiment-bearing word), the map on request
    memory = [jobs.memory("m", IDS), jobs.memory("c", OTHER), *occ]
    assert view_jobs("Memory", REVIEW) == [*memory, jobs.connectivity("m", IDS, 3), jobs.connectivity("c", OTHER, 3)]
    assert view_jobs("Memory", REVIEW, ViewSettings(source=(7, "awful"), logit_map=True)) == [
        *memory, jobs.connectivity("m", IDS, 7), jobs.connectivity("c", OTHER, 7), jobs.logit_map("m", IDS),
        jobs.logit_map("c", OTHER)]
    for gone in ((7, "plot"), 40, (-1, None)):  # another word at 7 now (the review changed), or not a position
        assert jobs.connectivity("m", IDS, 3) in view_jobs("Memory", REVIEW, ViewSettings(source=gone))
    assert jobs.connectivity("m", IDS, 39) in view_jobs("Memory", REVIEW, ViewSettings(source=39))  # from a link
    assert view_jobs("Model zoo", REVIEW) == view_jobs("Lab", REVIEW) == view_jobs("Lessons", REVIEW) == []
    # the lessons' own evidence: the chosen word's connectivity for both models; exposure needs no model pass
    assert view_jobs("How far a word reaches", REVIEW, ViewSettings(source=5)) == [
        jobs.connectivity("m", IDS, 5), jobs.connectivity("c", OTHER, 5)]
    assert view_jobs("Where words were trained", REVIEW) == trained
    # no word, or one past the review's end: the word the views follow by default ("awful", position 3)
    assert view_jobs("How far a word reaches", REVIEW) == view_jobs("How far a word reaches", REVIEW,
                                                                     ViewSettings(source=40)) == [
        jobs.connectivity("m", IDS, 3), jobs.connectivity("c", OTHER, 3)]
    alone = Review("m", None, IDS, (), (), None)
    assert view_jobs("Start here", alone) == [jobs.flow("m", IDS), occ[0], probes[0], trained[0]]


def test_a_long_review_waits_for_a_click_before_occlusion_and_the_probe():
    long = Review("m", None, tuple(range(2, LONG_REVIEW + 3)), (), (), None)
    assert all(k.kind != "probe_piece" for k in view_jobs("What the model uses", long))
    assert set(jobs.probe_keys("m", long.ids)) <= set(view_jobs("What the model uses", long,
                                                                ViewSettings(long_review=True)))


def test_a_long_review_is_asked_for_in_pieces_the_end_first():
    """Over FIRST_PIECE tokens, occlusion and the probe are pieces covering every position once, the last
    FIRST_PIECE first, after what the first chart needs; both models' pieces alternate; "Start here" asks only
    for the probe's pieces its sentence reads."""
    from tbptt_viz.attribution.probe import FIRST_PIECE

    T = 2000
    review = Review("m", "c", tuple(range(2, T + 2)), tuple(range(3, T + 3)), ("w",) * T, 1)
    keys = view_jobs("Start here", review)
    assert keys[0] == jobs.flow("m", review.ids, 1)
    occ = [k for k in keys if k.kind == "occ_piece"]
    opening = [k for k in keys if k.kind == "probe_piece"]  # its sentence reads two variants: one piece each
    exposures = [jobs.exposure("m", review.ids), jobs.exposure("c", review.compare_ids)]  # lookups, last
    assert len(keys) == 1 + len(occ) + len(opening) + 2 and keys.index(opening[0]) > keys.index(occ[-1])
    assert keys[-2:] == exposures and {kind_of(k) for k in exposures} == {"analysis"}
    assert [(k.model, k.lo) for k in opening] == [("m", 0), ("c", 0)] and jobs.opening(T) == (0, 30)
    assert all(k.hi > 30 for k in opening)
    probes = [k for k in view_jobs("What the model uses", review, ViewSettings(long_review=True))
              if k.kind == "probe_piece"]  # the probe's chart: every piece
    assert [k.model for k in occ[:4]] == ["m", "c", "m", "c"]  # interleaved: both strips fill in together
    for pieces in (occ, probes):
        for name in ("m", "c"):
            mine = [(k.lo, k.hi) for k in pieces if k.model == name]
            assert mine[0] == (T - FIRST_PIECE, T) and sorted(mine) == mine[::-1]  # the end first, going back
            covered = np.zeros(T, int)
            for lo, hi in mine:
                covered[lo:hi] += 1
            assert (covered == 1).all()
    assert [(k.lo, k.hi) for k in keys[1:3]] == [(T - FIRST_PIECE, T)] * 2  # the first chart's, first
    assert [kind_of(k) for k in keys[:3]] == ["analysis"] * 3  # the first chart: served as everyone's is
    assert {kind_of(k) for k in keys[3:-2]} == {"long"}  # the rest: long reviews' share of the workers
    short = Review("m", None, tuple(range(2, FIRST_PIECE + 2)), (), (), None)
    assert view_jobs("Start here", short)[1:] == [jobs.attribution("m", short.ids, "occlusion"),
                                                  jobs.probe("m", short.ids), jobs.exposure("m", short.ids)]
    memory = view_jobs("Memory", review)
    assert memory[:2] == [jobs.memory("m", review.ids), jobs.memory("c", review.compare_ids)]
    assert memory[2:2 + len(occ)] == occ and {k.kind for k in memory[2 + len(occ):]} == {"connectivity"}


def test_pieces_joined_equal_the_whole_computation_to_the_bit(model, monkeypatch):
    """Each piece computed by `run`, joined: occlusion and the probe equal attribute(...) and context_probe(...)
    exactly (they compute the same pieces), within float32 rounding of one batch over every position, and a
    missing piece shows as NaN (never as a value) until it arrives."""
    from tbptt_viz import attribute, context_probe
    from tbptt_viz.attribution import probe

    class Store:
        def get(self, name):
            return model

    ids = tuple(seq(37).tolist())
    original = probe.pieces
    # small pieces on a short review: the same code path as a 2,000-token one
    monkeypatch.setattr(probe, "pieces", lambda T, first=10, row_steps=120: original(T, first, row_steps))
    keys = jobs.piece_keys("occ_piece", "tiny", ids)
    probe_keys = jobs.piece_keys("probe_piece", "tiny", ids)
    assert len(keys) > 3 and (keys[0].lo, keys[0].hi) == (27, 37)
    parts = {(k.lo, k.hi): jobs.job(k, Store()).fn() for k in keys}  # what the service runs for each piece
    a = jobs.occlusion_from_parts(model, ids, parts)
    want = attribute(model, torch.tensor(ids), "occlusion")
    np.testing.assert_array_equal(a.scores, want.scores)
    assert a.logit == want.logit and a.method == "occlusion" and a.note == want.note
    p = jobs.probe_from_parts(ids, {(k.lo, k.hi): jobs.run(k, Store()) for k in probe_keys})
    np.testing.assert_array_equal(p.prob_last_n, context_probe(model, torch.tensor(ids)).prob_last_n)
    monkeypatch.undo()
    one_batch = attribute(model, torch.tensor(ids), "occlusion")  # 37 tokens: one piece, one batch
    assert same_as_sequential(a.scores, one_batch.scores)  # other batch shapes: float32 rounding only
    assert same_as_sequential(p.prob_last_n, context_probe(model, torch.tensor(ids)).prob_last_n)
    first = {(keys[0].lo, keys[0].hi): parts[(keys[0].lo, keys[0].hi)]}
    partial = probe.join_pieces(len(ids), first)
    assert np.isnan(partial[:27]).all() and np.array_equal(partial[27:], want.scores[27:])
    with pytest.raises(ValueError, match="not complete"):
        jobs.occlusion_from_parts(model, ids, first)


def test_warm_up_requests_exactly_what_the_default_views_ask_for_on_every_pair_of_models():
    ids = {"a": IDS, "b": OTHER, "c": (3, 4) * 20}
    warm = {key for name in ids for key in warm_up_jobs(name, ids[name], 1, TOKENS)}
    asked = {jobs.prediction(name, ids[name]) for name in ids}  # each page's header
    for model, compare in permutations(ids, 2):
        for label in (1, None):  # the loss against the true label, or the model's own prediction
            review = Review(model, compare, ids[model], ids[compare], TOKENS, label)
            asked |= {key for view in jobs.WARM_VIEWS for key in view_jobs(view, review)}
    assert warm == asked


def test_the_app_warms_every_example_under_every_shipped_model(monkeypatch):
    from tbptt_viz import load_pretrained
    from tbptt_viz.core.data import examples
    from tbptt_viz.core.text import prepare_review
    from tbptt_viz.serving.service import WARMUP, ModelStore
    from tbptt_viz.ui import services

    shipped = ["imdb-last-k30", "imdb-full"]  # two of the shipped models: what loops over all of them is the same
    monkeypatch.setattr(services, "available_models", lambda: shipped)

    class Recorder:
        def __init__(self):
            self.requests = []

        def request(self, key, fn, kind, priority):
            self.requests.append((key, kind, priority))

        def queued(self, priority=None):
            return 0  # never a backlog here: warm-up queues everything at once

    svc = Recorder()
    services.warm_up(svc, ModelStore(load_pretrained))
    prepared = {(name, ex.id): prepare_review(ex.text, load_pretrained(name).vocab) for name in shipped
                for ex in examples()}
    want = [key for name in shipped for ex in examples()
            for key in warm_up_jobs(name, prepared[name, ex.id].ids, ex.label, prepared[name, ex.id].tokens)]
    assert [key for key, _, _ in svc.requests] == want
    assert {p for _, _, p in svc.requests} == {WARMUP} and all(k == kind_of(key) for key, k, _ in svc.requests)


# ---- what the page asks for -------------------------------------------------------------------------------

def page_review(query: dict) -> Review:
    """The Review the page builds for an example and its two models, built here from the files."""
    from tbptt_viz import load_pretrained
    from tbptt_viz.core.data import examples
    from tbptt_viz.core.text import prepare_review

    ex = next(e for e in examples() if e.id == query.get("review", "love-then-plot"))
    model, compare = query.get("model", "imdb-last-k30"), query.get("compare", "imdb-full")
    prepared = prepare_review(ex.text, load_pretrained(model).vocab)
    return Review(model, compare, tuple(prepared.ids), tuple(load_pretrained(compare).vocab.encode(prepared.tokens)),
                  tuple(prepared.tokens), ex.label, ex.id)


PAGES = [
    {"view": "Start here"}, {"view": "What training sees"}, {"view": "Gradient through time"},
    {"view": "What the model uses"}, {"view": "Memory"}, {"view": "Model zoo"},
    {"view": "What training sees", "scheme": "k1k2", "k1": "20", "k2": "45"},
    {"view": "What the model uses", "review": "short-brilliant", "scheme": "chunked", "k": "5", "method": "saliency"},
    {"view": "What the model uses", "review": "short-awful", "method": "input_x_gradient"},
    {"view": "What training sees", "scheme": "chunked", "source": "4"},
    {"view": "What training sees", "scheme": "k1k2", "k1": "40", "k2": "10"},
    {"view": "Memory", "review": "short-brilliant", "source": "7"},
    {"view": "What the model uses", "review": "short-awful", "method": "shapley"},
]


@pytest.mark.slow
@pytest.mark.parametrize("query", PAGES, ids=lambda q: "-".join(q.values()))
def test_prefetch_and_the_views_ask_for_exactly_the_view_jobs(query, monkeypatch):
    """Record every key the compute service receives during a page run: with prefetch off, the view's own
    requests; with it on, nothing more. Both equal `view_jobs` (and the header's prediction)."""
    from streamlit.testing.v1 import AppTest

    from tbptt_viz.serving.service import ComputeService
    from tbptt_viz.ui import services

    asked = []
    request = ComputeService.request
    monkeypatch.setattr(ComputeService, "request", lambda self, key, *a, **kw: (asked.append(key),
                                                                                request(self, key, *a, **kw))[1])
    prefetch = services.prefetch
    monkeypatch.setattr(services, "prefetch", lambda *a: None)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    review = page_review(query)
    q = {k: query[k] for k in ("scheme", "method") if k in query}
    settings = ViewSettings(**q, **{k: int(query[k]) for k in ("k", "k1", "k2", "source") if k in query})
    want = {jobs.prediction(review.model, review.ids), *view_jobs(query["view"], review, settings)}
    assert set(asked) == want
    asked.clear()
    monkeypatch.setattr(services, "prefetch", prefetch)
    at.run()
    assert set(asked) == want
