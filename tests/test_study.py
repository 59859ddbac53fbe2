"""The IMDB study's functions on the tiny seeded model: every batched number against a plain re-run."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from conftest import WORDS

from tbptt_viz import cli, study
from tbptt_viz.checkpoint import save_checkpoint


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


def test_occlusion_and_ig_shares_come_from_the_attribution_module(model):
    """The study's shares are edge shares of tbptt_viz's own occlusion and integrated gradients, with IG's
    convergence, evaluations and gap recorded per review (no silent fallback to another method)."""
    from tbptt_viz.attribution import attribute

    seqs = seqs_of([8, 5, 14], 6)
    occ = study.occlusion_shares(model, seqs, edge=2)
    want = study.edge_shares([attribute(model, s, "occlusion").scores for s in seqs], 2, "occlusion")
    np.testing.assert_allclose(occ.first_share, want.first_share, rtol=1e-12)
    assert occ.method == "occlusion" and occ.converged is None
    ig = study.ig_shares(model, seqs, edge=2)
    assert ig.method == "integrated_gradients" and ig.converged.all() and (ig.evaluations >= 8).all()
    for s, gap in zip(seqs, ig.relative_gap):
        a = attribute(model, s, "integrated_gradients")
        assert gap == pytest.approx(abs(a.completeness_gap) / abs(a.target_change)) and gap <= 0.02 + 0.01 / abs(
            a.target_change)


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


def test_run_study_keys_tables_and_figures(model):
    from tbptt_viz import figures_study
    from tbptt_viz.study_report import markdown_tables
    from tbptt_viz.study_stats import with_regimes

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

    from tbptt_viz.study_stats import paired_accuracy, regime_of, t_interval

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


def update_rule_results(flips=(20, 22, 24), per_chunk_start=(0.20, 0.15, 0.30)):
    """Pooled results of three seeds of imdb-chunked-k30 and imdb-chunked-k30-per-chunk on 400 fake reviews:
    seed s of per-chunk gets flips[s] reviews wrong that per-review got right (negative: the other way);
    per-review's start contrasts are 0.39, 0.33, 0.57. Also returns the correctness bits and contrasts."""
    from tbptt_viz.study import pack_bits
    from tbptt_viz.study_stats import with_regimes

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
            planted = {"distances": [0, "start"], "contrast": [0.5, contrast], "contrast_sem": [0.01, 0.01],
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

    from tbptt_viz.study import ZOO_ORDER
    from tbptt_viz.study_stats import PAIRS

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
    assert [m["diff"] for m in comp["accuracy"]["seed_pairs"]] == pytest.approx(diffs, abs=1e-6)
    cd = [start[x] - start[y] for x, y in zip(a, b)]
    sc = comp["start_contrast"]["diff_over_seeds"]
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


def test_cli_study_on_a_saved_checkpoint(model, imdb_folder, tmp_path, capsys):
    save_checkpoint(model.float(), tmp_path / "m", {"scheme": "full", "k": None, "test_accuracy": 0.5})
    out = tmp_path / "res" / "tiny_study.json"
    code = cli.main(["study", "--data-dir", str(imdb_folder), "--out", str(out), "--models", str(tmp_path / "m"),
                     "--limit", "30", "--plant-sample", "10", "--attribution-sample", "4",
                     "--positive-phrase", "great film !", "--negative-phrase", "awful plot ."])
    assert code == 0, capsys.readouterr().err
    res = json.loads(out.read_text())
    assert set(res) >= {"settings", "models", "total_wall_time_s", "machine", "data", "regimes", "intervals"}
    assert res["reviews"] == 30 and res["settings"]["plant_sample"] == 10
    m = res["models"]["m"]
    assert m["card"]["name"] == "m" and m["card"]["scheme"] == "full" and m["card"]["test_accuracy"] == 0.5
    assert m["attribution"]["occlusion"]["n"] == 4 and sum(m["accuracy"]["count"]) == 30
    assert m["attribution"]["integrated_gradients"]["n"] == 4  # seed 0 (a bare name) gets IG by default
    from tbptt_viz import figures_study

    for kind in figures_study.FIGURES:
        assert (tmp_path / "res" / f"tiny_study_{kind}.html").is_file()


@pytest.mark.parametrize("extra", [["--models", "no-such-model"], ["--models", ","], ["--limit", "0"],
                                   ["--out", "x.txt"], ["--data-dir", "/no/such/folder"],
                                   ["--positive-phrase", "great zebra"]])
def test_cli_study_bad_input_exits_2_with_one_line(model, imdb_folder, tmp_path, capsys, extra):
    save_checkpoint(model.float(), tmp_path / "m", {"scheme": "full"})
    args = {"--data-dir": str(imdb_folder), "--out": str(tmp_path / "o.json"), "--models": str(tmp_path / "m"),
            "--limit": "10"}
    for flag, value in zip(extra[::2], extra[1::2]):
        args[flag] = value
    code = cli.main(["study", *[x for kv in args.items() for x in kv]])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and err.count("\n") == 1
    assert not (tmp_path / "o.json").exists()


def test_update_rule_paragraph_states_the_intervals_and_follows_them():
    from tbptt_viz.study_report import generated_blocks, update_rule

    res, _, _ = update_rule_results()
    comp = next(c for c in res["comparisons"] if c["a"] == "imdb-chunked-k30-per-chunk")
    acc, sc = comp["accuracy"]["over_seeds"], comp["start_contrast"]["diff_over_seeds"]
    text = update_rule(res)
    assert f"{acc['mean']:+.4f} [{acc['low']:+.4f}, {acc['high']:+.4f}]" in text
    assert f"{sc['mean']:+.3f} [{sc['low']:+.3f}, {sc['high']:+.3f}]" in text and "400 test reviews" in text
    for m in comp["accuracy"]["seed_pairs"]:
        assert f"{m['diff']:+.4f}" in text
    # flips of 20-24 of 400 reviews and contrasts 0.18-0.27 lower: both intervals exclude zero
    assert acc["high"] < 0 and sc["high"] < 0
    assert "accuracy is lower over seeds; the start contrast is lower over seeds." in text
    same, _, _ = update_rule_results(flips=(4, -4, 0), per_chunk_start=(0.41, 0.31, 0.57))
    assert ("accuracy shows no difference the study can detect; the start contrast shows no difference the "
            "interval over seeds can detect.") in update_rule(same)
    # every pair lower and significant, but too spread for three seeds: said as such
    spread, _, _ = update_rule_results(flips=(60, 8, 10), per_chunk_start=(0.41, 0.31, 0.57))
    sp = next(c for c in spread["comparisons"] if c["a"] == "imdb-chunked-k30-per-chunk")["accuracy"]
    assert sp["over_seeds"]["low"] < 0 < sp["over_seeds"]["high"] and all(m["mcnemar_p"] < 0.05
                                                                          for m in sp["seed_pairs"])
    assert "accuracy is lower in each of the 3 seed pairs (McNemar p < 0.05 in each)" in update_rule(spread)
    apart, _, _ = update_rule_results(per_chunk_start=(0.60, 0.62, 0.58))  # every seed above 0.39, 0.33, 0.57
    sc = next(c for c in apart["comparisons"] if c["a"] == "imdb-chunked-k30-per-chunk")["start_contrast"]
    assert sc["diff_over_seeds"]["low"] < 0 < sc["diff_over_seeds"]["high"] and sc["every_seed_pair_higher"]
    assert ("the start contrast of every seed is higher than that of every seed of the other rule, but the "
            "interval over seed pairs covers zero.") in update_rule(apart)
    assert generated_blocks(same)["update_rule"] == update_rule(same)
    assert update_rule({"comparisons": []}) == ""
