"""The lab: generators, caps, the claims of the truncation question as small seeded training runs, CLI, figures.

Claim settings were checked on seeds 0-4 while developing (prefix T=60, K=30, 1500 sequences, 8 epochs:
last-K without short examples ended at 0.48-0.59; chunked and last-K with 20% short examples at 1.0;
any-one K=5 with 20% of 1s in the window at 1.0 for every position of the 1). Each test uses seed 0.
"""
from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import torch

from tbptt_viz.present import lab_figures as figures_lab
from tbptt_viz.experiments.lab.runs import (FILLER, LAB_VOCAB, OPENINGS, LabConfig, LabConfigError, add_to_sweep,
                                            any_one_split, build_model, lab_run, load_lab_results, make_splits,
                                            planted_split, prefix_split, run_sweep, sequence_steps, sweep_configs)
from tbptt_viz.core.schemes import make_scheme
from tbptt_viz.core.train import pad_batch, scheme_loss

ROOT = Path(__file__).resolve().parent.parent
ID = {w: i for i, w in enumerate(LAB_VOCAB.itos)}
# The claim runs: long sequences of 60 tokens, so the opening lies 57+ steps before the end (K=30).
PREFIX = dict(task="prefix", seq_len=60, k=30, n_train=1500, epochs=8, n_test=200)


@lru_cache(maxsize=None)
def run(**kw):
    return lab_run(LabConfig(**kw))


# ---- generators --------------------------------------------------------------------------------------------

def test_prefix_labels_depend_only_on_the_opening_and_short_fraction_is_exact():
    split = prefix_split(200, 60, 0.25, np.random.default_rng(0))
    lengths = split.lengths()
    assert np.sum(lengths < 60) == 50 and np.all((lengths[lengths < 60] >= 5) & (lengths[lengths < 60] <= 30))
    assert np.sum(split.labels) == 100  # balanced
    for ids, y in zip(split.ids, split.labels):
        words = LAB_VOCAB.decode(ids)
        assert tuple(words[:3]) == OPENINGS[int(y)]
        assert set(words[3:]) <= set(FILLER)  # the rest says nothing about the label
    short = [s for s in split.ids if len(s) < 60]
    assert {LAB_VOCAB.decode(s)[1] for s in short} == {"love", "hate"}


def test_any_one_clean_last_and_window_fraction_are_respected():
    L, M = 20, 10
    split = any_one_split(400, L, M, 0.0, np.random.default_rng(1))
    ones = np.array([[t == ID["1"] for t in s] for s in split.ids])  # (N, L)
    assert ones.shape == (400, L) and np.all(ones.sum(1) == split.labels)  # label = "a 1 appears"
    assert np.all(np.flatnonzero(ones.any(0)) < L - M)  # no 1 in the last M positions
    assert np.all(ones.argmax(1)[split.labels == 1] == split.position[split.labels == 1])
    mixed = any_one_split(400, L, M, 0.2, np.random.default_rng(1))
    pos = mixed.position[mixed.labels == 1]
    assert np.sum(pos >= L - M) == round(0.2 * 200)
    test = any_one_split(400, L, 0, 0.0, np.random.default_rng(2), spread=True)
    counts = np.bincount(test.position[test.labels == 1], minlength=L)
    assert counts.max() - counts.min() <= 1  # every position of the 1 equally tested


@pytest.mark.parametrize("d", [0, 7, 59])
def test_planted_word_sits_exactly_d_steps_before_the_end(d):
    split = planted_split(50, 60, d, np.random.default_rng(3))
    for ids, y in zip(split.ids, split.labels):
        words = LAB_VOCAB.decode(ids)
        decisive = [t for t, w in enumerate(words) if w in ("good", "bad")]
        assert decisive == [59 - d] and words[59 - d] == ("good" if y else "bad")


def test_splits_are_seeded_and_the_test_set_does_not_depend_on_training_size():
    a = make_splits(LabConfig(task="planted", seed=4, n_train=50, n_test=20))
    b = make_splits(LabConfig(task="planted", seed=4, n_train=50, n_test=20))
    c = make_splits(LabConfig(task="planted", seed=5, n_train=50, n_test=20))
    d = make_splits(LabConfig(task="planted", seed=4, n_train=80, n_test=20))
    assert a[0].ids == b[0].ids and a[1].ids == b[1].ids and np.array_equal(a[0].labels, b[0].labels)
    assert a[0].ids != c[0].ids
    assert a[1].ids == d[1].ids
    assert all(len(s) == 100 for s in a[1].ids)  # test sequences are long


def test_config_defaults_and_bad_settings():
    assert LabConfig(task="any-one").seq_len == 20 and LabConfig().seq_len == 100
    c = LabConfig(scheme="k1k2", k=10)
    assert (c.k1, c.k2) == (10, 20) and c.scheme_label == "TBPTT(k1=10, k2=20)"
    for bad in (dict(task="nope"), dict(scheme="nope"), dict(short_frac=1.5), dict(task="planted", distance=100),
                dict(k=0), dict(n_train=1), dict(task="any-one", clean_last=21), dict(lr=0.0), dict(epochs=0)):
        with pytest.raises(ValueError):
            LabConfig(**bad)


@pytest.mark.parametrize("kw", [dict(scheme="last-k", k=7), dict(scheme="chunked", k=6), dict(scheme="full"),
                                dict(scheme="k1k2", k1=5, k2=12)])
def test_sequence_steps_counts_the_lstm_steps_training_runs(kw):
    """Count the row-steps (rows x time steps) nn.LSTM receives while scheme_loss trains on one 23-token
    sequence."""
    config = LabConfig(task="planted", seq_len=23, distance=3, hidden=4, embed=4, **kw)
    model = build_model(config)
    seen = []
    model.lstm.register_forward_hook(lambda mod, inputs, out: seen.append(inputs[0].shape[0] * inputs[0].shape[1]))
    ids, lengths = pad_batch([list(make_splits(config)[0].ids[0])])
    scheme = make_scheme(config.scheme, config.k, config.k1, config.k2)
    scheme_loss(model, ids, lengths, torch.tensor([1]), scheme)
    assert sum(seen) == sequence_steps(config)


# ---- the claims ---------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_last_k_never_learns_the_opening_and_never_touches_its_embedding():
    """Claim (1): the opening lies outside every last-K window, so its words get exactly zero gradient
    (their embedding rows end training bit for bit as initialised) and long reviews stay at chance."""
    r = run(**PREFIX, scheme="last-k")
    assert r.test_accuracy <= 0.6
    init = build_model(r.config).embedding.weight.detach()
    now = r.model.embedding.weight.detach()
    for word in ("i", "love", "hate", "this"):
        assert torch.equal(now[ID[word]], init[ID[word]]), word
    assert not torch.equal(now[ID["film"]], init[ID["film"]])  # filler inside the window did move


@pytest.mark.slow
def test_chunked_training_learns_the_opening():
    """Claim (3): the first chunk's loss reaches the opening; later chunks teach the state to keep it."""
    r = run(**PREFIX, scheme="chunked")
    assert r.test_accuracy >= 0.9
    assert r.config.scheme_label == "chunked (K=30)"


@pytest.mark.slow
def test_last_k_with_short_reviews_learns_the_opening_for_long_reviews():
    """Claim (1), second half: short examples put the opening inside the window; the test set is long only."""
    r = run(**PREFIX, scheme="last-k", short_frac=0.2)
    assert r.test_accuracy >= 0.9
    # what the test set is made of: 60-token sequences only
    assert all(len(s) == 60 for s in make_splits(r.config)[1].ids)


def test_zero_gradient_is_not_zero_influence_when_the_state_keeps_the_opening():
    """A caveat to claim (1), measured: with a large initial forget bias (3) and the opening ending 13 steps
    before the window starts (T=45, K=30), last-K classifies long sequences well above chance although the
    opening's embeddings never change. The untrained recurrence carries a trace of the opening into the
    window, and the weights inside the window learn to read that trace (accuracy after 5 epochs on
    seeds 0-4: 0.90, 0.90, 0.83, 0.93, 0.94; at forget bias 1 or T=100 it stays at chance, see the sweep)."""
    r = run(task="prefix", scheme="last-k", k=30, seq_len=45, forget_bias=3.0, epochs=5, n_test=200)
    assert r.test_accuracy >= 0.75
    init = build_model(r.config).embedding.weight.detach()
    for word in ("i", "love", "hate", "this"):
        assert torch.equal(r.model.embedding.weight[ID[word]], init[ID[word]]), word


def test_any_one_without_a_1_in_the_window_gives_the_1_no_gradient():
    """No training positive has its 1 in the last M=10 positions, so under last-K with K=5 <= M the loss
    gradient never reaches a 1: checked on one batch at initialisation and over a whole training run.
    (Test accuracy is another matter: the detached state still carries the 1 into the window and the
    window's weights can learn to read it; measured, that happened on some seeds and not others.)"""
    config = LabConfig(task="any-one", scheme="last-k", k=5, clean_last=10, n_train=200, epochs=2, n_test=40)
    train_split, _ = make_splits(config)
    model = build_model(config)
    ids, lengths = pad_batch([list(s) for s in train_split.ids])
    scheme_loss(model, ids, lengths, torch.tensor(train_split.labels), make_scheme("last-k", 5)).backward()
    grad = model.embedding.weight.grad
    assert torch.all(grad[ID["1"]] == 0) and grad[ID["0"]].abs().sum() > 0
    r = lab_run(config)
    assert torch.equal(r.model.embedding.weight[ID["1"]], build_model(config).embedding.weight[ID["1"]])


@pytest.mark.slow
def test_any_one_with_some_1s_in_the_window_generalises_further_back_than_k():
    """20% of training positives have their 1 in the last 10 positions; last-K with K=5 then classifies
    test 1s at every distance up to 19 steps back, far beyond K (it learns to hold a 1, not where it was)."""
    r = run(task="any-one", scheme="last-k", k=5, clean_last=10, ones_in_window_frac=0.2, n_test=200)
    beyond_k = r.accuracy_by_position[: r.config.seq_len - 5]  # the 1 at least K steps before the end
    assert np.all(beyond_k >= 0.9) and r.negative_accuracy >= 0.9
    # the 1 now sits inside some windows, so its embedding was trained
    assert not torch.equal(r.model.embedding.weight[ID["1"]], build_model(r.config).embedding.weight[ID["1"]])


def test_run_numbers_match_an_independent_per_sequence_evaluation():
    r = lab_run(LabConfig(task="any-one", scheme="chunked", k=4, n_train=96, epochs=2, n_test=60, seed=3))
    _, test = make_splits(r.config)
    with torch.no_grad():  # one sequence at a time, no padding, no batching
        pred = np.array([int(r.model(torch.tensor([s]))[0] > 0) for s in test.ids])
    correct = pred == test.labels
    assert r.test_accuracy == pytest.approx(correct.mean())
    assert r.curve.test_accuracy[-1] == pytest.approx(r.test_accuracy)  # the last epoch's evaluation
    assert r.curve.loss.shape == r.curve.test_accuracy.shape == (2,)
    for j in range(r.config.seq_len):
        assert r.accuracy_by_position[j] == pytest.approx(correct[test.position == j].mean())
    assert r.negative_accuracy == pytest.approx(correct[test.labels == 0].mean())
    assert r.sample_label == 1 and list(r.sample_ids).index(ID["1"]) == 0  # earliest 1 among test positives


# ---- sweep, results file ----------------------------------------------------------------------------------

def test_sweep_configs_are_the_documented_grid():
    from collections import Counter

    from tbptt_viz.experiments.lab.runs import sweep_configs

    cells = sweep_configs()
    # prefix: 2 short fractions x (full + 3 schemes x 2 K + per-chunk chunked and k1k2 x 2 K); any-one: 2 fractions
    # x 3 K; planted: 4 d x 2 schemes; forget-bias: 2 biases x 3 lengths + full
    assert Counter(g for g, _ in cells) == {"prefix": 2 * (1 + 3 * 2 + 2 * 2), "any-one": 2 * 3, "planted": 4 * 2,
                                           "forget-bias": 2 * 3 + 1}
    per_chunk = [c for g, c in cells if c.update == "per-chunk"]
    assert {(c.scheme, c.k, c.short_frac) for c in per_chunk} == {(s, k, f) for s in ("chunked", "k1k2")
                                                                  for k in (10, 30) for f in (0.0, 0.2)}
    prefix = [c for g, c in cells if g == "prefix" and c.update == "per-review"]
    assert sum(c.scheme == "full" for c in prefix) == 2 and {c.short_frac for c in prefix} == {0.0, 0.2}
    assert {(c.scheme, c.k) for c in prefix if c.scheme != "full"} == {(s, k) for s in ("last-k", "chunked", "k1k2")
                                                                       for k in (10, 30)}
    assert all((c.k1, c.k2) == (c.k, 2 * c.k) for c in prefix if c.scheme == "k1k2")  # TBPTT(k1=K, k2=2K)
    assert {c.distance for g, c in cells if g == "planted"} == {5, 20, 40, 80}
    assert {(c.forget_bias, c.seq_len) for g, c in cells if g == "forget-bias" and c.scheme == "last-k"} == \
        {(fb, T) for fb in (1.0, 3.0) for T in (45, 60, 100)}
    assert all(c.seed == 0 for _, c in cells)
    # one configuration sits in two groups: forget-bias's T = 100 at bias 1 is prefix's last-K K=30, no short ones
    twice = [c for c in {c for _, c in cells} if sum(c == d for _, d in cells) > 1]
    assert [(c.scheme, c.k, c.seq_len, c.forget_bias, c.short_frac) for c in twice] == [("last-k", 30, 100, 1.0, 0.0)]
    quick = sweep_configs(quick=True)
    assert len(quick) == 2 * (1 + 3 + 2) + 2 + 2 * 2 + 2 + 1 and all(c.epochs == 3 and c.n_train == 200 for _, c in quick)


def test_sweep_rows_summarise_the_individual_runs(tmp_path):
    cell = LabConfig(task="planted", seq_len=12, distance=3, k=4, n_train=40, n_test=20, epochs=1, hidden=4, embed=4)
    results = run_sweep([("planted", cell), ("again", cell)], seeds=[0, 1])
    runs = [lab_run(replace(cell, seed=s)) for s in (0, 1)]
    row = results["rows"][0]
    accs = [x.test_accuracy for x in runs]
    assert row["test_accuracy"]["values"] == accs and row["test_accuracy"]["mean"] == pytest.approx(np.mean(accs))
    assert row["test_accuracy"]["std"] == pytest.approx(np.std(accs, ddof=1)) and row["group"] == "planted"  # sample SD
    assert results["rows"][1]["test_accuracy"] == row["test_accuracy"]  # a repeated config is not retrained
    assert "seed" not in row["config"] and results["seeds"] == [0, 1] and "torch" in results["machine"]
    path = tmp_path / "lab.json"
    path.write_text(json.dumps(results))
    assert load_lab_results(path) == json.loads(json.dumps(results))
    assert load_lab_results(tmp_path / "missing.json") is None


# ---- figures ------------------------------------------------------------------------------------------------

def _row(group, scheme, values, **config):
    k = config.get("k", 30)
    label = make_scheme(scheme, k, k, 2 * k).label
    row = {"group": group, "scheme_label": label, "config": {"scheme": scheme, "k": k, **config},
           "test_accuracy": {"mean": float(np.mean(values)), "std": float(np.std(values)), "values": values}}
    return row


def fake_results() -> dict:
    rows = []
    for short in (0.0, 0.2):
        rows.append(_row("prefix", "full", [0.5, 0.52], k=30, short_frac=short, seq_len=100))
        for scheme in ("last-k", "chunked", "k1k2"):
            rows += [_row("prefix", scheme, [k / 100, 0.9], k=k, short_frac=short, seq_len=100) for k in (10, 30)]
    for frac in (0.0, 0.2):
        for k in (5, 10):
            r = _row("any-one", "last-k", [0.7, 0.8], k=k, ones_in_window_frac=frac, seq_len=20, clean_last=10)
            r["accuracy_by_position"] = {"mean": list(np.linspace(0, 1, 20)), "std": [0.1] * 20}
            r["negative_accuracy"] = {"mean": 1.0}
            rows.append(r)
    for d in (40, 5, 20):
        rows += [_row("planted", s, [d / 100, 0.5], k=30, distance=d, seq_len=100) for s in ("last-k", "full")]
    for fb in (1.0, 3.0):
        rows += [_row("forget-bias", "last-k", [0.5, 0.6], k=30, seq_len=T, forget_bias=fb) for T in (45, 100)]
    rows.append(_row("forget-bias", "full", [0.9, 1.0], k=30, seq_len=100, forget_bias=3.0))
    return {"rows": rows}


def test_prefix_heatmaps_carry_the_means_and_full_fills_every_k():
    fig = figures_lab.prefix_heatmaps(fake_results())
    assert len(fig.data) == 2  # one panel per short fraction
    bottom = fig.layout[f"xaxis{len(fig.data)}"] if len(fig.data) > 1 else fig.layout.xaxis  # panels are stacked
    assert bottom.title.text.startswith("K") and fig.layout.yaxis.title.text == "training scheme"
    z = np.array(fig.data[0].z)  # rows: full, last-K, chunked, k1k2; columns: K=10, K=30
    assert list(fig.data[0].y)[0] == "full BPTT" and list(fig.data[0].x) == ["K=10", "K=30"]
    np.testing.assert_allclose(z[0], [0.51, 0.51])
    np.testing.assert_allclose(z[1], [(0.1 + 0.9) / 2, (0.3 + 0.9) / 2])


def test_any_one_planted_forget_bias_and_curve_figures():
    res = fake_results()
    fig = figures_lab.any_one_by_position(res)
    assert len(fig.data) == 4 and fig.layout.yaxis.title.text == "accuracy on test positives"
    assert list(fig.data[0].x) == list(range(19, -1, -1))  # position 0 is 19 steps before the end
    assert fig.layout.xaxis.range == (19.5, -0.5)  # reversed: 0 steps (the end) on the right
    assert "steps" in fig.layout.xaxis2.title.text  # the bottom of the stacked panels
    fig = figures_lab.planted_by_distance(res)
    assert len(fig.data) == 2 and list(fig.data[0].x) == [5, 20, 40]
    assert fig.layout.xaxis.title.text.startswith("d = steps") and fig.layout.yaxis.title.text == "test accuracy"
    assert fig.layout.xaxis.autorange == "reversed"  # distance before the end: the end (0) on the right
    fig = figures_lab.forget_bias_figure(res)
    assert len(fig.data) == 3 and fig.layout.xaxis.title.text.startswith("sequence length")
    with pytest.raises(ValueError):
        figures_lab.planted_by_distance({"rows": []})
    r = run(task="planted", seq_len=12, distance=3, k=4, n_train=40, n_test=20, epochs=3, hidden=4, embed=4)
    fig = figures_lab.training_curve(r)
    assert len(fig.data) == 2 and list(fig.data[1].y) == pytest.approx(r.curve.test_accuracy.tolist())
    assert fig.layout.xaxis.title.text == "epoch" and fig.layout.yaxis2.title.text == "test accuracy"


# ---- the update rule ----------------------------------------------------------------------------------------

def test_update_rule_is_a_lab_setting_with_its_label_and_check():
    c = LabConfig(scheme="chunked", k=10, update="per-chunk")
    assert c.scheme_label == "chunked (K=10), a step per chunk" and c.to_dict()["update"] == "per-chunk"
    assert LabConfig().update == "per-review"
    with pytest.raises(LabConfigError, match="per-review, per-chunk"):
        LabConfig(update="per-epoch")


def test_lab_run_trains_under_the_chosen_rule():
    """The run is the engine's train() under that rule: chunked differs between the rules, last-K (one
    window per sequence) does not, and a per-chunk run equals train() called directly with update=per-chunk."""
    from tbptt_viz.core.train import TrainConfig, train

    small = dict(task="prefix", seq_len=24, n_train=32, n_test=20, epochs=2, hidden=6, embed=4, batch_size=8)
    chunked = [lab_run(LabConfig(**small, scheme="chunked", k=6, update=u)) for u in ("per-review", "per-chunk")]
    assert not np.allclose(chunked[0].curve.loss, chunked[1].curve.loss)
    last_k = [lab_run(LabConfig(**small, scheme="last-k", k=6, update=u)) for u in ("per-review", "per-chunk")]
    np.testing.assert_allclose(last_k[0].curve.loss, last_k[1].curve.loss, rtol=1e-6)
    config = chunked[1].config
    model = build_model(config)
    train_split, _ = make_splits(config)
    train(model, [list(s) for s in train_split.ids], train_split.labels.tolist(), make_scheme("chunked", 6),
          TrainConfig(scheme="chunked", k=6, epochs=2, batch_size=8, lr=config.lr, embed_dropout=0.0,
                      update="per-chunk"))
    for a, b in zip(model.parameters(), chunked[1].model.parameters()):
        assert torch.equal(a, b)


def test_sweep_has_the_update_rule_as_a_factor_for_chunked_and_k1k2_only():
    cells = sweep_configs()
    per_chunk = [c for _, c in cells if c.update == "per-chunk"]
    assert {c.scheme for c in per_chunk} == {"chunked", "k1k2"}
    for c in per_chunk:  # each has its per-review twin in the same group
        assert ("prefix", replace(c, update="per-review")) in cells


def test_add_to_sweep_keeps_old_rows_and_runs_only_the_missing_cells():
    tiny = dict(task="planted", seq_len=12, distance=3, n_train=16, n_test=10, epochs=1, hidden=4, embed=4)
    a = LabConfig(**tiny, scheme="chunked", k=4)
    b = replace(a, update="per-chunk")
    old = run_sweep([("planted", a)], seeds=[0, 1])
    old["rows"][0]["config"].pop("update")  # as written before the rule existed
    old["rows"][0]["test_accuracy"]["values"] = [0.123, 0.456]  # a marker: an old row is never recomputed
    merged = add_to_sweep(old, [("planted", a), ("planted", b)])
    assert [r["config"]["update"] for r in merged["rows"]] == ["per-review", "per-chunk"]
    assert merged["rows"][0]["test_accuracy"]["values"] == [0.123, 0.456]
    fresh = run_sweep([("planted", b)], seeds=[0, 1])["rows"][0]
    assert merged["rows"][1]["test_accuracy"] == fresh["test_accuracy"]
    assert merged["added_runs"][0]["cells"] == 1 and merged["seeds"] == [0, 1]


def test_prefix_heatmap_has_a_row_per_scheme_and_update_rule():
    res = fake_results()
    rows = [r for r in res["rows"] if r["group"] == "prefix" and r["config"]["scheme"] in ("chunked", "k1k2")]
    for r in rows:
        res["rows"].append({**r, "config": {**r["config"], "update": "per-chunk"},
                            "test_accuracy": {"mean": 0.77, "std": 0.0, "values": [0.77, 0.77]}})
    fig = figures_lab.prefix_heatmaps(res)
    labels = [y.replace("<br>", " ") for y in fig.data[0].y]
    assert labels == ["full BPTT", "last-K", "chunked (loss every K)", "chunked (loss every K), a step per chunk",
                      "TBPTT(k1=K, k2=2K)", "TBPTT(k1=K, k2=2K), a step per chunk"]
    z = np.array(fig.data[0].z)
    np.testing.assert_allclose(z[3], [0.77, 0.77])
    np.testing.assert_allclose(z[2], [(0.1 + 0.9) / 2, (0.3 + 0.9) / 2])  # old rows (no "update") are per-review


# ---- settings and budget (experiments.lab.settings, no torch) -----------------------------------------------

def test_settings_defaults_are_lab_configs_own():
    from dataclasses import fields

    from tbptt_viz.experiments.lab.settings import DEFAULTS

    assert DEFAULTS == {f.name: f.default for f in fields(LabConfig)}


def test_resolve_fills_in_and_refuses_like_lab_config():
    from tbptt_viz.experiments.lab.settings import LabConfigError, resolve

    c = resolve({"task": "any-one", "scheme": "k1k2", "k": 4})
    assert (c["seq_len"], c["k1"], c["k2"]) == (20, 4, 8)
    assert LabConfig(task="any-one", scheme="k1k2", k=4).to_dict() == c
    for bad, message in (({"task": "nope"}, "unknown task"), ({"n_train": 0}, "n_train"),
                         ({"seq_len": 10_001}, "seq_len"), ({"lr": float("nan")}, "lr"),
                         ({"task": "planted", "distance": 100}, "distance 100 must be below"),
                         ({"seed": -1}, "seed"), ({"short_frac": True}, "short_frac")):
        with pytest.raises(LabConfigError, match=message):
            resolve(bad)
        with pytest.raises(LabConfigError, match=message):
            LabConfig(**bad)


def test_budget_grows_with_each_setting_and_names_the_bound():
    from tbptt_viz.experiments.lab.settings import CLI_BUDGET, LIVE_BUDGET, lab_budget, over_budget

    base = lab_budget({})
    assert over_budget(base, LIVE_BUDGET) is None and over_budget(base, CLI_BUDGET) is None
    for change in ({"n_train": 4000}, {"seq_len": 400}, {"hidden": 128}, {"epochs": 80}):
        b = lab_budget(change)
        assert b.memory_bytes >= base.memory_bytes and b.seconds > base.seconds, change
    big_batch = lab_budget({"batch_size": 512})  # more memory, fewer sequential steps
    assert big_batch.memory_bytes > base.memory_bytes and big_batch.seconds < base.seconds
    # data memory is linear in the number of sequences: DATA_BYTES per token
    from tbptt_viz.experiments.lab import settings

    huge = lab_budget({"n_train": 1_000_000, "seq_len": 10_000, "epochs": 10_000})
    assert huge.memory_bytes > settings.DATA_BYTES * 1_000_400 * 10_000
    assert over_budget(huge, CLI_BUDGET).startswith("this run needs about")
    assert "1,024 MB budget" in over_budget(huge, CLI_BUDGET)
    slow = lab_budget({"epochs": 10_000})
    assert over_budget(slow, CLI_BUDGET) is None or "minutes budget" in over_budget(slow, CLI_BUDGET)
    assert "over the 90 s budget" in over_budget(lab_budget({"n_train": 2000, "seq_len": 200, "hidden": 64}),
                                                 LIVE_BUDGET)
    assert huge.train_row_steps == 1_000_000 * 10_000 * sequence_steps(LabConfig(seq_len=10_000))


def test_a_per_chunk_run_is_priced_with_its_steps_per_window():
    """Same memory bound (one window's graph at a time is at most the batched windows'); the time adds, per
    batch, the windows run one after another and a backward, clip and step for each (settings' docstring)."""
    import math

    from tbptt_viz.experiments.lab import settings
    from tbptt_viz.experiments.lab.settings import LabConfigError, lab_budget

    review, chunk = lab_budget({"scheme": "chunked", "k": 5}), lab_budget({"scheme": "chunked", "k": 5,
                                                                            "update": "per-chunk"})
    T, W = 100, 20  # prefix's default length, chunks of 5
    batches = math.ceil(1000 / 32) * 20
    extra = batches * ((T + (T - 5)) - ((T - 5) + 5 + W)) * settings.SEC_STEP + batches * W * settings.SEC_UPDATE
    assert chunk.memory_bytes == review.memory_bytes and chunk.train_row_steps == review.train_row_steps
    assert chunk.seconds - review.seconds == pytest.approx(extra)
    with pytest.raises(LabConfigError, match="unknown update rule 'per-epoch'"):
        lab_budget({"update": "per-epoch"})


def test_every_form_value_alone_fits_the_live_memory_budget():
    """The form's widgets (FORM_BOUNDS) cannot ask for a run that would not fit the live memory budget on its
    own; combinations over the time budget are refused when "Train live" is pressed."""
    from tbptt_viz.experiments.lab.settings import FORM_BOUNDS, LIVE_BUDGET, lab_budget

    for name in ("n_train", "epochs", "hidden", "seq_len"):
        b = lab_budget({name: FORM_BOUNDS[name][1]})
        assert b.memory_mb <= LIVE_BUDGET["memory_mb"], name


def test_predictions_in_batches_equal_one_batch():
    config = LabConfig(n_train=70, n_test=10, epochs=1, seq_len=30, short_frac=0.5)
    train_split, _ = make_splits(config)
    model = build_model(config)
    from tbptt_viz.experiments.lab.runs import predictions

    whole = predictions(model, train_split, batch_size=1000)
    assert np.array_equal(predictions(model, train_split, batch_size=16), whole)
    ids, lengths = pad_batch_all(train_split)
    with torch.no_grad():
        assert np.array_equal(whole, (model(ids, lengths) > 0).long().numpy())


def pad_batch_all(split):
    from tbptt_viz.core.train import pad_batch

    return pad_batch([list(s) for s in split.ids])
