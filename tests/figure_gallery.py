"""Test helper: every figure function of present/, drawn on small data (a seeded tiny model and the committed
results/ files), so that the colour scan and the layout checks see each of them."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch
from conftest import seq

from tbptt_viz import attribute, connectivity, logit_grad_map, word_exposure
from tbptt_viz.attribution.methods import context_probe, memory_trace
from tbptt_viz.attribution.probe import occlusion_scores
from tbptt_viz.core.data import load_results
from tbptt_viz.core.text import Vocab
from tbptt_viz.experiments.exposure import build_exposure, vocab_sha256
from tbptt_viz.experiments.study.results import headline_contrast
from tbptt_viz.gradients.analysis import review_flow, scheme_view
from tbptt_viz.present import evidence_figures, figures, lab_figures, study_figures
from tbptt_viz.present.overview import overview, overview_figure

# long enough for the labels and bands of a real review, short enough for milliseconds
T = 60
NAMES = ("imdb-last-k30", "imdb-full")


def gallery(model) -> dict:
    """name -> plotly Figure, for every figure function (the review figures for two zoo models' names)."""
    ids = seq(T)
    tokens = [model.vocab.itos[i] for i in ids.tolist()]
    rf = review_flow(model, ids, label=1)
    out = {}
    for scheme, k in (("last-k", 20), ("chunked", 15), ("full", T)):
        out[f"gradient_through_time[{scheme}]"] = figures.gradient_through_time(scheme_view(rf, scheme, k), rf.full, T,
                                                                                 NAMES[0])
        out[f"backprop_timeline[{scheme}]"] = figures.backprop_timeline(scheme_view(rf, scheme, k))
    out["bias_curve"] = figures.bias_curve(rf.full, 20, NAMES[0])
    out["bias_curve[no k]"] = figures.bias_curve(rf.full, None, NAMES[0])
    traces = {n: memory_trace(model, seq(T, seed=j + 1)) for j, n in enumerate(NAMES)}
    out["memory_figure"] = figures.memory_figure(traces, 20)
    probes = {n: context_probe(model, seq(T, seed=j + 1)) for j, n in enumerate(NAMES)}
    out["context_probe_figure"] = figures.context_probe_figure(probes)
    occ = {n: occlusion_scores(model, seq(T, seed=j + 1)) for j, n in enumerate(NAMES)}
    out["occlusion_probe_figure"] = figures.occlusion_probe_figure(tokens, occ, probes, 30)
    ig = {n: attribute(model, seq(12, seed=j + 1), "integrated_gradients") for j, n in enumerate(NAMES)}
    out["ig_path_figure"] = figures.ig_path_figure(ig)
    study = load_results("imdb_study.json")
    out["headline_figure"] = figures.headline_figure(headline_contrast(study), highlight=NAMES)
    for make in study_figures.FIGURES.values():
        out[f"study.{make.__name__}"] = make(study, NAMES)
    lab = load_results("lab.json")
    for name in ("prefix_heatmaps", "any_one_by_position", "planted_by_distance", "forget_bias_figure"):
        out[f"lab.{name}"] = getattr(lab_figures, name)(lab)
    run = SimpleNamespace(curve=SimpleNamespace(loss=np.linspace(0.7, 0.1, 8), test_accuracy=np.linspace(0.5, 1, 8)),
                          config=SimpleNamespace(task="prefix", scheme_label="last-K (K=10)", seq_len=100))
    out["lab.training_curve"] = lab_figures.training_curve(run)
    vocab = Vocab(("<pad>", "<unk>", "good", "bad", "film", "."))
    stats = build_exposure([[2, 4, 5], [4, 3, 5], [2, 2, 4, 4, 4, 4, 3]], len(vocab), vocab_sha256(vocab))
    exposures = {"imdb-last-k30": word_exposure(vocab, [2, 1, 4, 3] * 10, "last-k", k=10, stats=stats),
                 "imdb-k1k2-30-60": word_exposure(vocab, [2, 1, 4, 3] * 10, "k1k2", k1=12, k2=6, stats=stats)}
    out["exposure_figure"] = evidence_figures.exposure_figure(exposures, ["good", "zzz", "film", "bad"] * 10)
    c = {n: connectivity(model, seq(T, seed=j + 1), 5) for j, n in enumerate(NAMES)}
    out["connectivity_figure"] = evidence_figures.connectivity_figure(c, tokens, window=(T - 30, T - 1),
                                                                      window_label="last K = 30")
    out["logit_grad_map_figure"] = evidence_figures.logit_grad_map_figure(logit_grad_map(model, seq(30)), tokens[:30])
    words = tokens[:30]
    a = attribute(model, torch.tensor(model.vocab.encode(words)), "shapley", groups=3)
    out["shapley_figure"] = evidence_figures.shapley_figure(a, words, occlusion_scores(model, seq(30)), name=NAMES[1])
    ov = overview(tokens, NAMES[0], rf, 20, {n: occ[n] for n in NAMES}, probes, 10)
    out["overview_figure"] = overview_figure(ov)
    return out
