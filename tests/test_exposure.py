"""Training exposure against a brute-force count over a small generated corpus, the file format, the shipped file."""
import json

import numpy as np
import pytest

from tbptt_viz.core.schemes import backprop_count, make_scheme
from tbptt_viz.core.text import Vocab
from tbptt_viz.experiments.exposure import build_exposure, exposure_of, vocab_sha256, word_exposure
from tbptt_viz.experiments.exposure_store import ExposureFileError, load_exposure, save_exposure

V = 20
VOCAB = Vocab(("<pad>", "<unk>", *[f"w{i}" for i in range(2, V)]))


def corpus(seed=0, n=80, long=()):
    rng = np.random.default_rng(seed)
    reviews = [list(rng.integers(1, V, rng.integers(1, 45))) for _ in range(n)]
    return reviews + [list(rng.integers(1, V, L)) for L in long]


def brute(reviews, scheme):
    """(occurrences, in_reach) per word id, counted review by review from the scheme's own windows."""
    occ, reach = np.zeros(V, int), np.zeros(V, int)
    for r in reviews:
        T = len(r)
        reached = backprop_count(scheme.windows(T), T) > 0
        for w in set(r):
            at = [t for t in range(T) if r[t] == w]
            occ[w] += 1
            reach[w] += any(reached[t] for t in at)
    return occ, reach


SCHEMES = [make_scheme("full"), make_scheme("chunked", 4), *[make_scheme("last-k", k) for k in (1, 2, 3, 7, 44, 500)],
           *[make_scheme("k1k2", k1=a, k2=b) for a, b in ((3, 5), (4, 4), (1, 1), (5, 9))]]


@pytest.mark.parametrize("scheme", SCHEMES, ids=lambda s: s.label)
def test_exact_schemes_match_brute_force(scheme):
    reviews = corpus()
    stats = build_exposure(reviews, V, "x")
    words = np.arange(2, V)
    e = exposure_of(stats, words, scheme.name, scheme.k, scheme.k1, scheme.k2)
    occ, reach = brute(reviews, scheme)
    assert e.exact and e.reviews == len(reviews)
    np.testing.assert_array_equal(e.occurrences, occ[words])
    np.testing.assert_array_equal(e.in_reach, reach[words])
    np.testing.assert_array_equal(e.in_reach_high, reach[words])


@pytest.mark.parametrize("k1,k2", [(5, 2), (7, 1), (9, 4), (40, 3)])
def test_k2_below_k1_gives_bounds_that_hold(k1, k2):
    reviews = corpus(1)
    stats = build_exposure(reviews, V, "x")
    words = np.arange(2, V)
    e = exposure_of(stats, words, "k1k2", k1=k1, k2=k2)
    _, reach = brute(reviews, make_scheme("k1k2", k1=k1, k2=k2))
    _, last = brute(reviews, make_scheme("last-k", k2))
    occ, _ = brute(reviews, make_scheme("full"))
    assert not e.exact
    assert np.all(e.in_reach <= reach[words]) and np.all(reach[words] <= e.in_reach_high)
    np.testing.assert_array_equal(e.in_reach, last[words])   # the final window's reach, exactly
    np.testing.assert_array_equal(e.in_reach_high, occ[words])
    assert np.any(reach[words] > e.in_reach)  # the bounds are bounds: the truth is not always the lower one


def test_unknown_and_pad_report_none_and_repeats_agree():
    stats = build_exposure(corpus(), V, "x")
    e = exposure_of(stats, [1, 5, 0, 5], "last-k", 3)
    assert list(e.known) == [False, True, False, True]
    assert e.occurrences[0] == e.in_reach[0] == e.occurrences[2] == -1
    assert e.in_reach[1] == e.in_reach[3] and np.isnan(e.share[0])


def test_file_round_trip_with_escapes(tmp_path):
    # one word ends 300 reviews (pair counts >= 255); word 6 opens a 700-token review (a step of r_min >= 255)
    reviews = corpus(2, long=(650,)) + [[3, 4, 5]] * 300 + [[6] + [7] * 699]
    stats = build_exposure(reviews, V, vocab_sha256(VOCAB), {"data": "generated"})
    card = save_exposure(stats, tmp_path / "e.safetensors", {"command": "test"})
    loaded = load_exposure(tmp_path / "e.safetensors")
    assert card["rows"] == len(stats.distance) and card["data"] == "generated"
    for name in ("word_start", "distance", "pairs_within", "occurrences"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(stats, name))
    assert stats.distance.max() == 699 and np.diff(stats.pairs_within).max() >= 255
    assert loaded.reviews == stats.reviews and loaded.vocab_sha256 == stats.vocab_sha256
    with pytest.raises(ValueError):
        loaded.occurrences[0] = 1  # shared by every request: read-only


def test_tampered_or_inconsistent_files_are_refused(tmp_path):
    path = tmp_path / "e.safetensors"
    save_exposure(build_exposure(corpus(), V, "x"), path)
    data = bytearray(path.read_bytes())
    data[-3] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(ExposureFileError, match="sha256"):
        load_exposure(path)
    save_exposure(build_exposure(corpus(), V, "x"), path)
    card = json.loads(path.with_suffix(".json").read_text())
    path.with_suffix(".json").write_text(json.dumps({**card, "format": "other"}))
    with pytest.raises(ExposureFileError, match="format"):
        load_exposure(path)
    with pytest.raises(ExposureFileError, match="missing"):
        load_exposure(tmp_path / "absent.safetensors")


def test_word_exposure_checks_the_vocabulary_and_the_training_cut(model):
    stats = build_exposure(corpus(), V, vocab_sha256(VOCAB))
    e = word_exposure(VOCAB, [2, 3], "last-k", 5, stats=stats)
    assert e.label == "last-K (K=5)"
    with pytest.raises(ValueError, match="another vocabulary"):
        word_exposure(model, [2, 3], "last-k", 5, stats=stats)
    model.card = {"train_config": {"max_len": 100}}
    with pytest.raises(ValueError, match="cut to 100"):
        word_exposure(model, [2, 3], "last-k", 5, stats=build_exposure(corpus(), V, vocab_sha256(model.vocab)))


def test_shipped_statistics_fit_the_shipped_models():
    from tbptt_viz import load_pretrained
    from tbptt_viz.core.checkpoint import pretrained_dir
    from tbptt_viz.experiments.exposure_store import shipped_exposure

    stats = shipped_exposure()
    model = load_pretrained("imdb-last-k30")
    assert stats.vocab_sha256 == model.card["vocab_sha256"] and stats.reviews == 25000
    assert (pretrained_dir() / "exposure.safetensors").stat().st_size < 10 << 20
    ids = model.vocab.encode(["love", ".", "film"])
    grid = [word_exposure(model, ids, "last-k", k) for k in (1, 10, 30, 100, 2000, 100_000)]
    for a, b in zip(grid, grid[1:]):
        assert np.all(a.in_reach <= b.in_reach)        # a longer window reaches at least as many reviews
    assert np.array_equal(grid[-1].in_reach, grid[-1].occurrences)  # longer than any review: every one
    full = word_exposure(model, ids, "full")
    assert np.array_equal(full.in_reach, full.occurrences) and np.all(full.occurrences <= 25000)
    assert word_exposure(model, ids, "k1k2", k1=30, k2=60).exact  # the shipped TBPTT(30, 60): k2 >= k1
