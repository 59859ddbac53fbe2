"""The IMDB study's functions on the tiny seeded model: every batched number against a plain re-run."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from conftest import WORDS

from tbptt_viz.experiments.study import measure as study


def seqs_of(lengths, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(2, 50, (T,), generator=g).tolist() for T in lengths]


def p_one(model, ids) -> float:
    """P(positive) of one unpadded review, one call: the reference for every batched number."""
    with torch.no_grad():
        return torch.sigmoid(model(torch.tensor([ids]))).item()


LENGTHS = [1, 3, 7, 12, 12, 25, 31, 40, 55, 4, 60, 18]


def test_batch_logits_equal_one_review_at_a_time(model):
    seqs = seqs_of(LENGTHS)
    got = study.batch_logits(model, seqs, token_budget=100)  # small budget: several batches, mixed lengths
    with torch.no_grad():
        want = [model(torch.tensor([s])).item() for s in seqs]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    with pytest.raises(ValueError):
        study.batch_logits(model, [[3, 4], []])


def test_accuracy_by_length_equals_direct_count():
    rng = np.random.default_rng(3)
    lengths = np.array([1, 29, 30, 99, 100, 249, 250, 499, 500, 2400, *rng.integers(1, 900, 200)])
    logits, labels = rng.normal(size=len(lengths)), rng.integers(0, 2, len(lengths))
    acc = study.accuracy_by_length(lengths, logits, labels)
    bounds = [(0, 30), (30, 100), (100, 250), (250, 500), (500, 10**9)]
    for b, (lo, hi) in enumerate(bounds):
        idx = [i for i in range(len(lengths)) if lo <= lengths[i] < hi]
        right = sum(int(logits[i] > 0) == labels[i] for i in idx)
        assert acc.count[b] == len(idx) and acc.correct[b] == right
        assert acc.accuracy[b] == pytest.approx(right / len(idx))
    assert acc.count.sum() == acc.n == len(lengths)
    assert acc.overall == pytest.approx(np.mean((logits > 0) == labels))
    assert acc.bins == study.LENGTH_LABELS and len(acc.bins) == len(acc.count)


def test_plant_positions_and_refusals():
    ids, phrase = [10, 11, 12, 13, 14, 15], [7, 8]
    assert study.plant(ids, phrase, 0) == ids + phrase  # d = 0: the phrase ends the review
    for d in range(len(ids) + 1):
        out = study.plant(ids, phrase, d)
        last = len(out) - 1 - d  # the phrase's last token has exactly d tokens after it
        assert out[last - 1 : last + 1] == phrase and out[last + 1 :] == ids[len(ids) - d :]
        assert [t for t in out if t not in phrase] == ids
    assert study.plant(ids, phrase, "start") == phrase + ids == study.plant(ids, phrase, len(ids))
    for bad in (len(ids) + 1, -1, 2.0, True, "end"):
        with pytest.raises(ValueError):
            study.plant(ids, phrase, bad)
    with pytest.raises(ValueError):
        study.plant(ids, [], 2)


def test_planted_shift_equals_a_loop(model, vocab):
    seqs, labels = seqs_of(LENGTHS, 5), np.array([0, 1] * 6)
    pos, neg = vocab.encode(["great", "film", "!"]), vocab.encode(["awful", "plot", "."])
    distances = (0, 5, 12, 30, 70, "start")
    got = study.planted_shift(model, seqs, labels, pos, neg, distances, token_budget=90)
    assert got.n.shape == got.positive_increase.shape == got.negative_decrease_against.shape == (6,)
    assert got.n_against.shape == (6, 2)
    for j, d in enumerate(distances):
        rows = [i for i, s in enumerate(seqs) if d == "start" or len(s) >= d]
        up = np.array([p_one(model, study.plant(seqs[i], pos, d)) - p_one(model, seqs[i]) for i in rows])
        down = np.array([p_one(model, seqs[i]) - p_one(model, study.plant(seqs[i], neg, d)) for i in rows])
        assert got.n[j] == len(rows)
        if not rows:
            continue  # the empty cell is checked below
        assert got.positive_increase[j] == pytest.approx(up.mean(), abs=1e-12)
        assert got.negative_decrease[j] == pytest.approx(down.mean(), abs=1e-12)
        assert got.positive_sem[j] == pytest.approx(up.std(ddof=1) / np.sqrt(len(up)), abs=1e-12)
        both = np.array([p_one(model, study.plant(seqs[i], pos, d)) - p_one(model, study.plant(seqs[i], neg, d))
                         for i in rows])
        assert got.contrast[j] == pytest.approx(both.mean(), abs=1e-12)
        assert got.contrast_sem[j] == pytest.approx(both.std(ddof=1) / np.sqrt(len(both)), abs=1e-12)
        neg_rows, pos_rows = labels[rows] == 0, labels[rows] == 1
        assert tuple(got.n_against[j]) == (neg_rows.sum(), pos_rows.sum())
        assert got.positive_increase_against[j] == pytest.approx(up[neg_rows].mean(), abs=1e-12)
        assert got.negative_decrease_against[j] == pytest.approx(down[pos_rows].mean(), abs=1e-12)
    assert got.n[distances.index(70)] == 0 and np.isnan(got.positive_increase[distances.index(70)])
    assert got.n[distances.index("start")] == len(seqs)


def test_context_use_equals_a_loop_and_n_T_is_the_full_prediction(model):
    seqs, labels = seqs_of(LENGTHS, 9), np.array([1, 0] * 6)
    for s in seqs:  # n = T (and beyond) reads the whole review: exactly the full prediction
        assert study.last_n(s, len(s)) == s == study.last_n(s, len(s) + 5) == study.last_n(s, "all")
        assert study.probs(model, [study.last_n(s, len(s))])[0] == pytest.approx(p_one(model, s), abs=1e-12)
    sizes = (5, 10, 30, "all")
    got = study.context_use(model, seqs, labels, sizes, token_budget=70)
    for j, n in enumerate(sizes):
        rows = [i for i, s in enumerate(seqs) if n == "all" or len(s) > n]
        part = np.array([p_one(model, seqs[i][-n:] if n != "all" else seqs[i]) for i in rows])
        whole = np.array([p_one(model, seqs[i]) for i in rows])
        assert got.n[j] == len(rows)
        assert got.mean_abs_diff[j] == pytest.approx(np.abs(part - whole).mean(), abs=1e-12)
        assert got.flip_rate[j] == pytest.approx(np.mean((part > 0.5) != (whole > 0.5)))
        assert got.accuracy_last_n[j] == pytest.approx(np.mean((part > 0.5) == labels[rows]))
        assert got.accuracy_whole[j] == pytest.approx(np.mean((whole > 0.5) == labels[rows]))
    assert got.mean_abs_diff[-1] < 1e-12 and got.mean_abs_diff[0] > 0
    for bad in (0, -3, 1.5, "half"):
        with pytest.raises(ValueError):
            study.last_n([1, 2, 3], bad)


def test_edge_shares_by_hand():
    scores = [np.array([1.0, -2, 0, 0, 0, 3, -4]), np.array([0.5, 0.5]), np.zeros(3)]
    got = study.edge_shares(scores, edge=2, method="m")
    np.testing.assert_allclose(got.first_share[:2], [3 / 10, 1.0])
    np.testing.assert_allclose(got.last_share[:2], [7 / 10, 1.0])
    np.testing.assert_allclose(got.uniform_share, [2 / 7, 1.0, 2 / 3])
    assert np.isnan(got.first_share[2]) and got.n == 3 and got.method == "m"


def logit_of_embedded(model, x):
    """The logit for embedded inputs x (T, E), with autograd: the function integrated gradients integrate."""
    out, _ = model.lstm(x[None])
    return model.head(out[0, -1])[0]


def dense_ig_logit(model, ids, nodes=32, intervals=8):
    """Integrated gradients of the logit from the all-padding review, by a dense composite Gauss-Legendre rule."""
    x = model.embedding.weight.detach()[torch.tensor(ids)]
    base = model.embedding.weight.detach()[torch.zeros(len(ids), dtype=torch.long)]
    a, w = np.polynomial.legendre.leggauss(nodes)
    total = torch.zeros_like(x)
    for lo in np.arange(intervals) / intervals:
        for node, weight in zip(a, w):
            y = (base + (lo + (node + 1) / (2 * intervals)) * (x - base)).requires_grad_(True)
            total += weight / (2 * intervals) * torch.autograd.grad(logit_of_embedded(model, y), y)[0]
    return ((x - base) * total).sum(1).numpy()


def test_occlusion_and_ig_shares_equal_plain_recomputations(model):
    """The study's shares against occlusion by hand (one plain re-run per token) and a dense IG of the logit;
    IG's convergence, evaluations and gap recorded per review (no silent fallback to another method)."""
    seqs = seqs_of([8, 5, 14], 6)
    logit = lambda ids: logit_of_embedded(model, model.embedding.weight.detach()[torch.tensor(ids)]).item()  # noqa
    occ = study.occlusion_shares(model, seqs, edge=2)
    for j, s in enumerate(seqs):
        drop = np.abs([logit(s) - logit(s[:t] + [0] + s[t + 1:]) for t in range(len(s))])
        assert occ.first_share[j] == pytest.approx(drop[:2].sum() / drop.sum(), rel=1e-9)
        assert occ.last_share[j] == pytest.approx(drop[-2:].sum() / drop.sum(), rel=1e-9)
    assert occ.method == "occlusion" and occ.converged is None
    ig = study.ig_shares(model, seqs, edge=2)
    assert ig.method == "integrated_gradients" and ig.converged.all() and (ig.evaluations >= 8).all()
    for j, s in enumerate(seqs):
        ref = np.abs(dense_ig_logit(model, s))
        assert ig.first_share[j] == pytest.approx(ref[:2].sum() / ref.sum(), abs=1e-4)
        change = abs(logit(s) - logit([0] * len(s)))
        assert ig.relative_gap[j] <= 0.01 + 0.01 / change


def test_encode_phrase_and_balanced_sample(model):
    assert study.encode_phrase(model, "great film .") == model.vocab.encode(["great", "film", "."])
    for bad in ("great zebra .", "", "   "):
        with pytest.raises(ValueError):
            study.encode_phrase(model, bad)
    labels = np.array([0] * 30 + [1] * 10)
    pick = study.balanced_sample(labels, 16, seed=1)
    assert (labels[pick] == 0).sum() == 8 == (labels[pick] == 1).sum()
    assert np.array_equal(pick, study.balanced_sample(labels, 16, seed=1))
    assert (labels[study.balanced_sample(labels, 40, seed=1)] == 1).sum() == 10  # fewer exist: all of them
    eligible = np.arange(40) % 2 == 0
    assert eligible[study.balanced_sample(labels, 40, 2, eligible)].all()


def fake_review(rng: random.Random, label: int, n: int) -> str:
    polar = ["good", "great", "love"] if label else ["bad", "awful", "hate"]
    return " ".join(rng.choice(WORDS + polar * 4) for _ in range(n))


def small_settings():
    return study.StudySettings(plant_sample=12, attribution_sample=4, ig_sample=2, attribution_min_len=20,
                               attribution_max_len=80, positive_phrase="great film !", negative_phrase="awful plot .")


@pytest.mark.slow
def test_run_study_keys_tables_and_figures(model):
    from tbptt_viz.present import study_figures as figures_study
    from tbptt_viz.experiments.study.report import markdown_tables
    from tbptt_viz.experiments.study.stats import with_regimes

    lengths = [4, 8, 15, 22, 35, 50, 70, 90, 12, 26, 33, 61]
    seqs, labels = seqs_of(lengths, 11), [i % 2 for i in range(12)]
    res = study.run_study({"tiny": model, "tiny-seed1": model, "other": model}, seqs, labels, small_settings(),
                          ig_models=["tiny"])
    r = res["models"]["tiny"]
    assert set(r) >= {"card", "accuracy", "planted", "context", "attribution", "wall_time_s"}
    assert r["accuracy"]["n"] == 12 and sum(r["accuracy"]["count"]) == 12
    assert r["planted"]["distances"] == [0, 5, 10, 20, 30, 50, 100, 200, "start"]
    assert len(r["planted"]["positive_increase"]) == 9 and len(r["context"]["mean_abs_diff"]) == 8
    assert r["planted"]["n"][-1] == 12 and r["planted"]["n"][-2] == 0  # d = 200: no review is long enough
    assert r["attribution"]["occlusion"]["n"] == 4 and r["attribution"]["integrated_gradients"]["n"] == 2
    assert "integrated_gradients" not in res["models"]["other"]["attribution"]
    ig = r["attribution"]["integrated_gradients"]
    assert ig["points"] == 4 and 0 <= ig["converged_fraction"] <= 1 and ig["evaluations_median"] >= 8
    direct = study.accuracy_by_length(lengths, study.batch_logits(model, seqs), labels)
    assert r["accuracy"]["overall"] == pytest.approx(direct.overall, abs=1e-6)
    right = (study.batch_logits(model, seqs) > 0).astype(int) == np.array(labels)
    assert np.array_equal(study.unpack_bits(r["accuracy"]["correct_bits"], 12), right)
    assert res["models"]["other"]["planted"] == r["planted"]
    json.dumps(res, allow_nan=False)  # nan became null
    pooled = with_regimes(res)
    assert set(pooled["regimes"]) == {"tiny", "other"} and pooled["regimes"]["tiny"]["seeds"] == [0, 1]
    acc = pooled["regimes"]["tiny"]["accuracy"]["overall"]
    assert acc["mean"] == pytest.approx(direct.overall, abs=1e-6) and acc["n"] == 2  # identical seeds: no spread
    assert acc["low"] == pytest.approx(acc["high"], abs=1e-9)
    json.dumps(pooled, allow_nan=False)
    assert "| tiny | 2 |" in markdown_tables(pooled)
    fig = figures_study.planted_figure(pooled)
    assert len(fig.data) == 2 and "tokens after the phrase" in fig.layout.xaxis.title.text
    lit = figures_study.planted_figure(pooled, highlight=("tiny",))
    by_name = {t.name.split(" (")[0]: t for t in lit.data}
    assert (by_name["tiny"].line.width, by_name["other"].line.width, by_name["other"].opacity) == (4, 1.5, 0.45)
    assert list(fig.data[0].y) == [c["mean"] for c in pooled["regimes"]["tiny"]["planted"]["contrast"]]
    assert len(figures_study.context_figure(pooled).data) == 2 and len(figures_study.length_figure(pooled).data) == 2
    occ_bar = figures_study.attribution_figure(pooled).data[0]
    assert list(occ_bar.y) == [pooled["regimes"][n]["attribution"]["occlusion"]["first_share"]["mean"]
                               for n in occ_bar.x]
    with pytest.raises(ValueError):
        study.run_study({}, seqs, labels)


def test_t_interval_and_paired_accuracy_against_scipy():
    from scipy import stats

    from tbptt_viz.experiments.study.stats import paired_accuracy, regime_of, t_interval

    assert regime_of("imdb-full-seed2") == ("imdb-full", 2) and regime_of("imdb-last-k30") == ("imdb-last-k30", 0)
    x = [0.88, 0.89, 0.86]
    ci = t_interval(x)
    half = stats.t.ppf(0.975, 2) * np.std(x, ddof=1) / np.sqrt(3)
    assert ci["mean"] == pytest.approx(np.mean(x)) and ci["high"] - ci["mean"] == pytest.approx(half)
    assert ci["over"] == "seeds" and ci["n"] == 3
    single = t_interval([0.5], sem_if_single=0.01)
    assert (single["low"], single["high"], single["over"]) == (pytest.approx(0.5 - 0.0196), pytest.approx(0.5196),
                                                               "reviews")
    rng = np.random.default_rng(0)
    a = rng.random((3, 500)) < 0.9
    b = rng.random((3, 500)) < 0.8
    t = paired_accuracy(a, b)
    d = a.mean(0).astype(float) - b.mean(0)
    assert t["diff"] == pytest.approx(d.mean()) and t["p"] == pytest.approx(stats.ttest_rel(a.mean(0), b.mean(0)).pvalue)
    m = t["seed_pairs"][1]
    only_a, only_b = int(np.sum(a[1] & ~b[1])), int(np.sum(~a[1] & b[1]))
    assert (m["only_a"], m["only_b"]) == (only_a, only_b)
    assert m["mcnemar_p"] == pytest.approx(stats.binomtest(only_a, only_a + only_b, 0.5).pvalue)
    assert t["all_seeds"] == all(p["diff"] > 0 for p in t["seed_pairs"])


def test_headline_contrast_from_regimes_and_from_single_models():
    from tbptt_viz.experiments.study.results import headline_contrast

    regimes = {"regimes": {"imdb-full": {"planted": {"start_contrast": {"mean": 0.2, "low": 0.1, "high": 0.3,
                                                                         "n": 3}}}}}
    assert headline_contrast(regimes) == {"imdb-full": {"mean": 0.2, "low": 0.1, "high": 0.3, "seeds": 3}}
    single = {"models": {"m": {"planted": {"distances": [0, "start"], "contrast": [0.5, 0.2],
                                           "contrast_sem": [0.01, 0.05]}}}}
    got = headline_contrast(single)["m"]
    assert got["mean"] == 0.2 and got["low"] == pytest.approx(0.2 - 1.96 * 0.05) and got["seeds"] == 1
    assert headline_contrast(None) is None and headline_contrast({"models": {"m": {"planted": {}}}}) is None


def test_regimes_of_orders_the_zoo_and_reads_older_files():
    from tbptt_viz.experiments.study.measure import ZOO_ORDER
    from tbptt_viz.experiments.study.results import regimes_of

    pooled = {"regimes": {"zz-extra": {}, "imdb-last-k10": {}, "imdb-full": {}, "aa-extra": {}}}
    assert list(regimes_of(pooled)) == ["imdb-full", "imdb-last-k10", "aa-extra", "zz-extra"]
    assert ZOO_ORDER.index("imdb-full") < ZOO_ORDER.index("imdb-last-k10")
    old = {"models": {"m": {"card": {"seed": 2}, "accuracy": {"overall": 0.8, "bins": ["a"], "accuracy": [0.7]},
                            "planted": {"distances": [0, "start"], "contrast": [0.5, 0.2], "contrast_sem": [0.01, 0.05]},
                            "context": {"sizes": [5], "mean_abs_diff": [0.1]}}}}
    r = regimes_of(old)["m"]
    assert r["seeds"] == [2] and r["accuracy"]["overall"]["mean"] == 0.8 and r["attribution"] == {}
    assert r["planted"]["contrast"][1]["mean"] == 0.2 and r["planted"]["distances"] == [0, "start"]


def test_findings_say_which_differences_hold_in_every_seed():
    from tbptt_viz.experiments.study.report import findings

    comparison = {"a": "imdb-last-k30", "b": "imdb-full",
                  "accuracy": {"diff": -0.0123, "low": -0.02, "high": -0.004, "p": 3e-20, "seed_pairs": [1, 2, 3],
                               "all_seeds": True},
                  "start_contrast": {"ratio": 0.41, "every_seed_pair_lower": True, "every_seed_pair_higher": False}}
    assert findings({"comparisons": [comparison]}) == (
        "- imdb-last-k30 vs imdb-full: accuracy lower by 0.0123 [-0.0200, -0.0040], paired p < 1e-16, the same "
        "sign in all 3 matched seed pair(s); reaction to a phrase at the very start 0.41 times as large; lower in "
        "every seed pair.")
    mixed = {**comparison, "accuracy": {**comparison["accuracy"], "diff": 0.001, "p": 0.25, "all_seeds": False},
             "start_contrast": {"ratio": 1.1, "every_seed_pair_lower": False, "every_seed_pair_higher": False}}
    line = findings({"comparisons": [mixed, comparison]}).splitlines()[0]
    assert "accuracy higher by 0.0010" in line and "paired p 0.25" in line and "not the same sign in all 3" in line
    assert line.endswith("; the seeds overlap.") and findings({}) == ""
