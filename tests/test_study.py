"""The IMDB study's functions on the tiny seeded model: every batched number against a plain re-run."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from conftest import WORDS

from tbptt_viz.experiments.study import measure as study
from tbptt_viz.attribution.methods import attribute


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
        a = attribute(model, s, "integrated_gradients")
        assert ig.relative_error[j] == pytest.approx(a.error_estimate / a.tolerance) and ig.relative_error[j] <= 1


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
    assert 0 <= ig["error_to_tolerance_median"] <= ig["error_to_tolerance_max"]
    assert (ig["error_to_tolerance_max"] <= 1) == (ig["converged_fraction"] == 1)  # converged iff within tolerance
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
    table = markdown_tables(pooled)
    one = pooled["regimes"]["tiny"]["attribution"]["integrated_gradients"]["single_seed"]
    assert one["error_to_tolerance_median"]["mean"] == pytest.approx(ig["error_to_tolerance_median"])
    assert "IG per-token error estimate / tolerance, seed 0 only (median over reviews)" in table
    assert f" {ig['error_to_tolerance_median']:.2f} |" in table
    assert "| tiny | 0, 1 |" in table and "| other | 0 |" in table and "(1 seed, no interval)" in table
    fig = figures_study.planted_figure(pooled)
    assert len(fig.data) == 2 and "tokens between the phrase and<br>the end" in fig.layout.xaxis.title.text
    lit = figures_study.planted_figure(pooled, highlight=("tiny",))
    by_name = {t.name.split(" (")[0]: t for t in lit.data}
    assert (by_name["tiny"].line.width, by_name["other"].line.width, by_name["other"].opacity) == (4, 1.5, 0.45)
    assert list(fig.data[0].y) == [c["mean"] for c in pooled["regimes"]["tiny"]["planted"]["contrast"]]
    assert len(figures_study.context_figure(pooled).data) == 2 and len(figures_study.length_figure(pooled).data) == 2
    occ_bar = figures_study.attribution_figure(pooled).data[0]
    assert list(occ_bar.x) == [pooled["regimes"][n]["attribution"]["occlusion"]["first_share"]["mean"]
                               for n in occ_bar.y]  # bars across, the regimes down the side
    with pytest.raises(ValueError):
        study.run_study({}, seqs, labels)


def test_intervals_over_seeds_and_reviews_against_scipy():
    from scipy import stats

    from tbptt_viz.experiments.study.stats import (proportion_interval, regime_of, review_interval, t_interval,
                                                   verdict)

    assert regime_of("imdb-full-seed2") == ("imdb-full", 2) and regime_of("imdb-last-k30") == ("imdb-last-k30", 0)
    assert regime_of("imdb-chunked-k30-per-chunk-seed1") == ("imdb-chunked-k30-per-chunk", 1)
    x = [0.88, 0.89, 0.86]
    ci = t_interval(x)
    lo, hi = stats.t.interval(0.95, 2, loc=np.mean(x), scale=stats.sem(x))
    assert (ci["low"], ci["high"]) == (pytest.approx(lo), pytest.approx(hi)) and ci["over"] == "seeds"
    # one new seed: x_new - mean ~ s sqrt(1 + 1/n) t_{n-1}
    plo, phi = stats.t.interval(0.95, 2, loc=np.mean(x), scale=np.std(x, ddof=1) * np.sqrt(1 + 1 / 3))
    assert (ci["prediction"]["low"], ci["prediction"]["high"]) == (pytest.approx(plo), pytest.approx(phi))
    assert phi - plo > 1.9 * (hi - lo)  # sqrt(n + 1) = 2 times as wide with three seeds
    single = t_interval([0.5])  # one seed: no spread over seeds, so no interval (never a zero-width one)
    assert single["mean"] == 0.5 and single["low"] is None and single["high"] is None and single["n"] == 1
    assert verdict(single) == "not established with 1 seed" and verdict(ci) == "higher"
    assert verdict(t_interval([-0.02, 0.01, 0.03])) == "not established with 3 seeds"
    rev = review_interval(0.3, 0.01, 100)
    assert (rev["low"], rev["high"], rev["over"]) == (pytest.approx(0.3 - 0.0196, abs=1e-5),
                                                      pytest.approx(0.3196, abs=1e-5), "reviews")
    w = proportion_interval(100, 100)  # Wilson: [n / (n + z^2), 1] when every review converged
    assert w["high"] == 1.0 and w["low"] == pytest.approx(100 / (100 + 1.959964 ** 2)) and w["over"] == "reviews"
    w = proportion_interval(7, 100)
    assert (w["low"], w["high"]) == (pytest.approx(0.0343, abs=1e-4), pytest.approx(0.1375, abs=1e-4))


def _results(acc: dict[str, list[float]], start: dict[str, list[float]], n: int = 400, seed: int = 0) -> dict:
    """A minimal study results dict: per model, correctness drawn at the given accuracies, a start contrast."""
    import base64

    rng = np.random.default_rng(seed)
    models = {}
    for regime, accs in acc.items():
        for s, a in enumerate(accs):
            right = rng.random(n) < a
            models[regime if s == 0 else f"{regime}-seed{s}"] = {
                "accuracy": {"overall": float(right.mean()), "bins": ["all"], "accuracy": [float(right.mean())],
                             "correct_bits": base64.b64encode(np.packbits(right).tobytes()).decode(), "_right": right},
                "planted": {"distances": [0, "start"], "n": [n, n], "contrast": [0.5, start[regime][s]],
                            "contrast_sem": [0.01, 0.01], "positive_increase": [0.1, 0.1],
                            "positive_sem": [0.01, 0.01], "negative_decrease": [0.4, 0.2],
                            "negative_sem": [0.01, 0.01]},
                "context": {"sizes": [5, "all"], "n": [n, n], "mean_abs_diff": [0.2, 0.0],
                            "accuracy_last_n": [0.7, a]},
                "attribution": {}, "new_measurement": {"kept": True}}
    return {"reviews": n, "models": models}


def test_comparisons_are_over_matched_seed_pairs_and_judged_over_seeds():
    from scipy import stats

    from tbptt_viz.experiments.study.stats import comparisons, with_regimes

    res = _results({"a": [0.90, 0.85, 0.80], "b": [0.80, 0.80, 0.80], "c": [0.6, 0.6]},
                   {"a": [0.1, 0.2, 0.3], "b": [0.3, 0.35, 0.5], "c": [0.2, 0.2]})
    right = {name: m["accuracy"].pop("_right") for name, m in res["models"].items()}
    out = with_regimes(res, pairs=(("a", "b"), ("a", "c"), ("a", "missing")))
    assert out["models"]["a"]["new_measurement"] == {"kept": True}  # new keys pass through
    ab, ac = out["comparisons"]
    assert len(out["comparisons"]) == 2 and (ab["a"], ab["b"]) == ("a", "b")
    seeds = ["a", "a-seed1", "a-seed2"], ["b", "b-seed1", "b-seed2"]
    d = [right[x].mean() - right[y].mean() for x, y in zip(*seeds)]  # seed s against seed s
    acc = ab["accuracy"]
    assert acc["seeds"] == [0, 1, 2] and acc["per_pair"] == pytest.approx(d, abs=1e-6)
    lo, hi = stats.t.interval(0.95, 2, loc=np.mean(d), scale=stats.sem(d))
    assert (acc["over_seeds"]["low"], acc["over_seeds"]["high"]) == (pytest.approx(lo, abs=1e-6),
                                                                     pytest.approx(hi, abs=1e-6))
    assert acc["verdict"] == ("higher" if lo > 0 else "lower" if hi < 0 else "not established with 3 seeds")
    for m, x, y in zip(acc["mcnemar"], *seeds):
        only_a, only_b = int(np.sum(right[x] & ~right[y])), int(np.sum(~right[x] & right[y]))
        assert (m["only_a"], m["only_b"]) == (only_a, only_b)
        assert m["mcnemar_p"] == pytest.approx(stats.binomtest(only_a, only_a + only_b, 0.5).pvalue, abs=1e-6)
    per_review = np.mean([right[x] for x in seeds[0]], 0) - np.mean([right[y] for y in seeds[1]], 0)
    plo, phi = stats.t.interval(0.95, len(per_review) - 1, loc=per_review.mean(), scale=stats.sem(per_review))
    pooled = acc["pooled_over_reviews"]
    assert pooled["over"] == "reviews (seed pairs pooled)"
    assert (pooled["low"], pooled["high"]) == (pytest.approx(plo, abs=1e-6), pytest.approx(phi, abs=1e-6))
    s = ab["start_contrast"]  # -0.2, -0.15, -0.2: negative in every pair, and the interval excludes 0
    assert s["per_pair"] == pytest.approx([-0.2, -0.15, -0.2]) and s["every_seed_pair"] == "lower"
    assert s["verdict"] == "lower" and s["over_seeds"]["high"] < 0
    assert s["ratio"] == pytest.approx(0.2 / (1.15 / 3), abs=1e-5)
    # only the seeds both regimes have are matched: two pairs here
    assert ac["accuracy"]["seeds"] == [0, 1] and ac["start_contrast"]["per_pair"] == pytest.approx([-0.1, 0.0])
    assert ac["start_contrast"]["verdict"] == "not established with 2 seeds"
    assert ac["start_contrast"]["every_seed_pair"] is None
    assert comparisons({}, (("a", "b"),)) == []


def test_every_printed_interval_names_its_kind_and_columns_never_mix():
    from tbptt_viz.experiments.study.report import _cell, findings, markdown_tables
    from tbptt_viz.experiments.study.stats import review_interval, t_interval, with_regimes

    res = _results({"a": [0.90, 0.85, 0.80], "b": [0.80, 0.80, 0.80]},
                   {"a": [0.1, 0.2, 0.3], "b": [0.3, 0.35, 0.5]})
    for m in res["models"].values():
        m["accuracy"].pop("_right")
    out = with_regimes(res, pairs=(("a", "b"),))
    with pytest.raises(ValueError):
        _cell(review_interval(0.3, 0.01, 100))  # a column over seeds refuses an interval over reviews
    with pytest.raises(ValueError):
        _cell(t_interval([0.1, 0.2]), over="reviews")
    assert _cell(t_interval([0.25])) == "0.250 (1 seed, no interval)"
    text = findings(out)
    assert "over seeds: lower, and negative in every seed pair" in text  # the start contrast
    assert text.count("[") == text.count("] over seeds")
    table = markdown_tables(out)
    assert "one new seed" in table and "over reviews" in table


def update_rule_results(flips=(20, 22, 24), per_chunk_start=(0.20, 0.15, 0.30)):
    """Pooled results of three seeds of imdb-chunked-k30 and imdb-chunked-k30-per-chunk on 400 fake reviews:
    seed s of per-chunk gets flips[s] reviews wrong that per-review got right (negative: the other way);
    per-review's start contrasts are 0.39, 0.33, 0.57. Also returns the correctness bits and contrasts."""
    from tbptt_viz.experiments.study.measure import pack_bits
    from tbptt_viz.experiments.study.stats import with_regimes

    rng = np.random.default_rng(1)
    n, models, bits, start = 400, {}, {}, {}
    for seed in range(3):
        right = rng.random(n) < 0.9
        other = right.copy()
        f = flips[seed]
        pool = np.flatnonzero(right if f > 0 else ~right)[: abs(f)]
        other[pool] = not f > 0
        for regime, r, contrast in (("imdb-chunked-k30", right, (0.39, 0.33, 0.57)[seed]),
                                    ("imdb-chunked-k30-per-chunk", other, per_chunk_start[seed])):
            name = regime if seed == 0 else f"{regime}-seed{seed}"
            bits[name], start[name] = r, contrast
            planted = {"distances": [0, "start"], "n": [n, n], "contrast": [0.5, contrast], "contrast_sem": [0.01, 0.01],
                       "positive_increase": [0.2, 0.1], "positive_sem": [0.01, 0.01],
                       "negative_decrease": [0.2, 0.1], "negative_sem": [0.01, 0.01]}
            models[name] = {"accuracy": {"overall": float(r.mean()), "bins": ["all"],
                                         "accuracy": [float(r.mean())], "correct_bits": pack_bits(r)},
                            "planted": planted, "context": {"sizes": [5], "n": [n], "mean_abs_diff": [0.1],
                                                            "accuracy_last_n": [0.8]}, "attribution": {}}
    return with_regimes({"reviews": n, "models": models}), bits, start


def test_update_rule_comparison_has_intervals_over_seeds():
    """imdb-chunked-k30-per-chunk against imdb-chunked-k30: the accuracy difference of each matched seed pair
    and of the planted-at-start contrast, with a t-interval over those pairs (scipy, written out here)."""
    from scipy import stats

    from tbptt_viz.experiments.study.measure import ZOO_ORDER
    from tbptt_viz.experiments.study.stats import PAIRS

    assert "imdb-chunked-k30-per-chunk" in ZOO_ORDER
    assert ("imdb-chunked-k30-per-chunk", "imdb-chunked-k30") in PAIRS
    res, bits, start = update_rule_results()
    comp = next(c for c in res["comparisons"] if c["a"] == "imdb-chunked-k30-per-chunk")
    a = ["imdb-chunked-k30-per-chunk", "imdb-chunked-k30-per-chunk-seed1", "imdb-chunked-k30-per-chunk-seed2"]
    b = ["imdb-chunked-k30", "imdb-chunked-k30-seed1", "imdb-chunked-k30-seed2"]
    diffs = [bits[x].mean() - bits[y].mean() for x, y in zip(a, b)]
    half = stats.t.ppf(0.975, 2) * np.std(diffs, ddof=1) / np.sqrt(3)
    acc = comp["accuracy"]["over_seeds"]
    assert acc["mean"] == pytest.approx(np.mean(diffs), abs=1e-6) and acc["over"] == "seeds"
    assert acc["high"] - acc["mean"] == pytest.approx(half, abs=1e-6)
    assert comp["accuracy"]["per_pair"] == pytest.approx(diffs, abs=1e-6)
    assert [m["diff"] for m in comp["accuracy"]["mcnemar"]] == pytest.approx(diffs, abs=1e-6)
    cd = [start[x] - start[y] for x, y in zip(a, b)]
    sc = comp["start_contrast"]["over_seeds"]
    assert sc["mean"] == pytest.approx(np.mean(cd), abs=1e-6) and sc["n"] == 3
    assert sc["high"] - sc["mean"] == pytest.approx(stats.t.ppf(0.975, 2) * np.std(cd, ddof=1) / np.sqrt(3), abs=1e-6)


@pytest.fixture
def imdb_folder(tmp_path):
    rng = random.Random(0)
    for split in ("train", "test"):
        with open(tmp_path / f"{split}.jsonl", "w") as f:
            for i in range(40):
                label = i % 2
                f.write(json.dumps({"text": fake_review(rng, label, rng.choice([6, 25, 40, 110, 130])),
                                    "label": label}) + "\n")
    return tmp_path


def test_headline_contrast_from_regimes_and_from_single_models():
    from tbptt_viz.experiments.study.results import headline_contrast

    regimes = {"regimes": {"imdb-full": {"planted": {"start_contrast": {"mean": 0.2, "low": 0.1, "high": 0.3,
                                                                         "n": 3}}}}}
    assert headline_contrast(regimes) == {"imdb-full": {"mean": 0.2, "low": 0.1, "high": 0.3, "seeds": 3,
                                                        "over": "seeds"}}
    single = {"models": {"m": {"planted": {"distances": [0, "start"], "contrast": [0.5, 0.2],
                                           "contrast_sem": [0.01, 0.05]}}}}
    got = headline_contrast(single)["m"]
    assert got["mean"] == 0.2 and got["low"] == pytest.approx(0.2 - 1.96 * 0.05) and got["seeds"] == 1
    assert got["over"] == "reviews"
    assert headline_contrast(None) is None and headline_contrast({"models": {"m": {"planted": {}}}}) is None


def test_regimes_of_orders_the_zoo_and_reads_older_files():
    from tbptt_viz.experiments.study.measure import ZOO_ORDER
    from tbptt_viz.experiments.study.results import regimes_of

    pooled = {"regimes": {"zz-extra": {}, "imdb-last-k10": {}, "imdb-full": {}, "aa-extra": {}}}
    assert list(regimes_of(pooled)) == ["imdb-full", "imdb-last-k10", "aa-extra", "zz-extra"]
    assert ZOO_ORDER.index("imdb-full") < ZOO_ORDER.index("imdb-last-k10")
    old = {"models": {"m": {"card": {"seed": 2}, "accuracy": {"overall": 0.8, "bins": ["a"], "accuracy": [0.7]},
                            "planted": {"distances": [0, "start"], "contrast": [0.5, 0.2], "contrast_sem": [0.01, 0.05],
                                        "n": [100, 100]},
                            "context": {"sizes": [5], "mean_abs_diff": [0.1]}}}}
    r = regimes_of(old)["m"]
    assert r["seeds"] == [2] and r["accuracy"]["overall"]["mean"] == 0.8 and r["attribution"] == {}
    assert r["planted"]["contrast"][1]["mean"] == 0.2 and r["planted"]["distances"] == [0, "start"]
    assert r["planted"]["contrast"][1]["over"] == "reviews"  # one model: its interval is over its reviews


def test_findings_say_which_differences_hold_in_every_seed():
    from tbptt_viz.experiments.study.report import findings

    seeds = {"over": "seeds", "n": 3}
    lower = {"a": "A", "b": "B",
             "accuracy": {"per_pair": [-0.01, -0.02, -0.015], "verdict": "lower", "every_seed_pair": "lower",
                          "over_seeds": {"mean": -0.015, "low": -0.0274, "high": -0.0026, **seeds}},
             "start_contrast": {"ratio": 0.41, "per_pair": [0.01, -0.02, 0.005], "every_seed_pair": None,
                                "verdict": "not established with 3 seeds",
                                "over_seeds": {"mean": -0.00167, "low": -0.04, "high": 0.037, **seeds}}}
    assert findings({"comparisons": [lower]}) == (
        "- A minus B: accuracy per matched seed pair: -0.0100, -0.0200, -0.0150, mean -0.0150 [-0.0274, -0.0026] "
        "over seeds: lower, and negative in every seed pair; phrase at the very start (ratio of means 0.41) per "
        "matched seed pair: +0.010, -0.020, +0.005, mean -0.002 [-0.040, +0.037] over seeds: not established with "
        "3 seeds.")
    pooled_only = {**lower, "accuracy": {k: v for k, v in lower["accuracy"].items() if k != "per_pair"}}
    assert findings({"comparisons": [pooled_only]}) == "" and findings({}) == ""  # no matched pairs: no line


# ---- issue 23: memory span and words together ---------------------------------------------------------------
def test_memory_span_is_the_median_of_connectivity_curves(model):
    from tbptt_viz import connectivity
    from tbptt_viz.experiments.study.evidence import memory_span

    seqs = seqs_of([30, 12, 41], 5)  # the 12-token review is too short for max_lag 20 and is skipped
    m = memory_span(model, seqs, max_lag=20, sources=2, threshold=0.5)
    curves = []
    for s in (seqs[0], seqs[2]):
        for S in (0, len(s) - 21):
            c = connectivity(model, torch.tensor(s), S)
            curves.append(c.state_norm[:21] / c.state_norm[0])
    want = np.median(curves, 0)
    np.testing.assert_allclose(m.median_ratio, want, rtol=1e-6)
    assert m.pairs == 4 and m.reviews == 2
    below = np.flatnonzero(want < 0.5)
    assert m.span == (int(below[0]) if below.size else None)
    with pytest.raises(ValueError, match="longer than"):
        memory_span(model, seqs_of([5, 6], 1), max_lag=20)


def test_group_vs_occlusion_compares_the_opening_sentence(model, vocab):
    from tbptt_viz.attribution.probe import occlusion_scores
    from tbptt_viz.attribution.shapley import group_shapley, sentence_groups
    from tbptt_viz.experiments.study.evidence import group_vs_occlusion, summarise_together

    texts = ["good film . it was great ! the end", "bad plot and awful actor . not good", "love it"]
    seqs = [vocab.encode(t.split()) for t in texts]
    g = group_vs_occlusion(model, seqs)
    for j, s in enumerate(seqs):
        groups = sentence_groups(texts[j].split())
        start, end = groups[0]
        assert g.opening_tokens[j] == end - start and g.groups[j] == len(groups)
        assert g.group_value[j] == pytest.approx(group_shapley(model, torch.tensor(s), groups).values[0])
        assert g.occlusion_sum[j] == pytest.approx(occlusion_scores(model, s)[start:end].sum())
    assert g.exact.all() and np.array_equal(g.exceeds_clearly, g.exceeds)  # exact: no sampling error
    summary = summarise_together(g, 2, 8)
    assert summary["exceeds_fraction"] == pytest.approx(np.mean(np.abs(g.group_value) > np.abs(g.occlusion_sum)))
    assert summary["n"] == 3


def test_study_records_memory_and_together_and_pools_them(model):
    from tbptt_viz.experiments.study.report import markdown_tables
    from tbptt_viz.experiments.study.stats import with_regimes
    from tbptt_viz.present import study_figures as figures_study

    lengths = [40, 45, 22, 35, 50, 70, 30, 26, 33, 61, 28, 44]
    seqs, labels = seqs_of(lengths, 7), [i % 2 for i in range(12)]
    settings = study.StudySettings(plant_sample=12, attribution_sample=4, ig_sample=0, attribution_min_len=20,
                                   attribution_max_len=80, positive_phrase="great film !",
                                   negative_phrase="awful plot .", memory_sample=5, memory_max_lag=20,
                                   together_sample=3)
    res = study.run_study({"tiny": model, "tiny-seed1": model}, seqs, labels, settings)
    r = res["models"]["tiny"]
    assert r["memory"]["pairs"] == 10 and len(r["memory"]["median_ratio"]) == 21 and r["together"]["n"] == 3
    pooled = with_regimes(res)
    mem = pooled["regimes"]["tiny"]["memory"]
    assert mem["seeds"] == [0, 1] and mem["median_ratio"] == pytest.approx(r["memory"]["median_ratio"], abs=1e-6)
    assert pooled["regimes"]["tiny"]["together"]["exceeds_fraction"]["mean"] == pytest.approx(r["together"]["exceeds_fraction"])
    tables = markdown_tables(pooled)
    assert "**Memory span**" in tables and "**Words together**" in tables
    fig = figures_study.memory_figure(pooled)
    assert len(fig.data) >= 1 and list(fig.data[0].x) == list(range(21))
    assert figures_study.memory_figure({"models": {}, "regimes": {}}).data == ()  # older studies: an empty figure


def test_update_rule_paragraph_states_the_intervals_and_follows_them():
    from tbptt_viz.experiments.study.report import generated_blocks, update_rule

    res, _, _ = update_rule_results()
    comp = next(c for c in res["comparisons"] if c["a"] == "imdb-chunked-k30-per-chunk")
    acc, sc = comp["accuracy"]["over_seeds"], comp["start_contrast"]["over_seeds"]
    text = update_rule(res)
    assert f"{acc['mean']:+.4f} [{acc['low']:+.4f}, {acc['high']:+.4f}]" in text
    assert f"{sc['mean']:+.3f} [{sc['low']:+.3f}, {sc['high']:+.3f}]" in text and "400 test reviews" in text
    for d in comp["accuracy"]["per_pair"]:
        assert f"{d:+.4f}" in text
    # flips of 20-24 of 400 reviews and contrasts 0.18-0.27 lower: both intervals exclude zero
    assert acc["high"] < 0 and sc["high"] < 0
    assert "In plain words: a step per chunk gives lower test accuracy over seeds." in text
    same, _, _ = update_rule_results(flips=(4, -4, 0), per_chunk_start=(0.41, 0.31, 0.57))
    assert "In plain words: no difference in test accuracy is established with 3 seeds." in update_rule(same)
    # every pair lower, but too spread for three seeds: said as such
    spread, _, _ = update_rule_results(flips=(60, 8, 10), per_chunk_start=(0.41, 0.31, 0.57))
    sp = next(c for c in spread["comparisons"] if c["a"] == "imdb-chunked-k30-per-chunk")["accuracy"]
    assert sp["over_seeds"]["low"] < 0 < sp["over_seeds"]["high"]
    assert "not established with 3 seeds, although negative in every seed pair" in update_rule(spread)
    assert ("a step per chunk gave lower test accuracy in each of the 3 seed pairs (McNemar's p < 0.05 in each), "
            "but the pairs differ too much") in update_rule(spread)
    assert generated_blocks(same)["update_rule"] == update_rule(same)
    assert update_rule({"comparisons": []}) == ""


def test_merged_parts_keep_every_measurement_of_a_model_and_the_union_of_settings():
    from tbptt_viz.cli.study import merged_parts

    main = {"settings": {"seed": 0, "notes": {"length": "a"}}, "total_wall_time_s": 10.0,
            "models": {"m": {"card": {"n": 1}, "accuracy": {"acc": 0.9}, "seconds": {"accuracy": 3.0}},
                       "other": {"accuracy": {"acc": 0.8}, "seconds": {"accuracy": 2.0}}}}
    evidence = {"settings": {"seed": 5, "memory_sample": 50, "notes": {"length": "b", "memory": "span"}},
                "models": {"m": {"card": {"n": 1}, "memory": {"span": 164}, "seconds": {"memory": 1.5}}}}
    out = merged_parts([main, evidence])
    assert out["models"]["m"] == {"card": {"n": 1}, "accuracy": {"acc": 0.9}, "memory": {"span": 164},
                                  "seconds": {"accuracy": 3.0, "memory": 1.5}}
    assert out["models"]["other"] == main["models"]["other"]
    assert out["settings"] == {"seed": 0, "memory_sample": 50, "notes": {"length": "a", "memory": "span"}}
    assert main["models"]["m"] == {"card": {"n": 1}, "accuracy": {"acc": 0.9}, "seconds": {"accuracy": 3.0}}
