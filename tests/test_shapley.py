"""Shapley values of token groups against exact values computed by brute force in the test."""
import itertools
import math

import numpy as np
import pytest
import torch
from scipy import stats

from conftest import seq
from tbptt_viz import attribute
from tbptt_viz.attribution.probe import occlusion_scores
from tbptt_viz.attribution.shapley import CoalitionLogits, check_groups, group_shapley, sentence_groups, span_groups
from tbptt_viz.core.text import PAD_ID


def padded_logit(model, ids, groups, coalition) -> float:
    """F(C): the model itself (float64) on the review with every group outside C replaced by padding."""
    x = ids.clone()
    for g, (s, e) in enumerate(groups):
        if g not in coalition:
            x[s:e] = PAD_ID
    with torch.no_grad():
        return float(model(x[None], torch.tensor([len(ids)])))


def shapley_by_permutations(model, ids, groups):
    """The definition: the mean over all G! orders of each group's increment."""
    G = len(groups)
    F = {}
    value = lambda c: F.setdefault(frozenset(c), padded_logit(model, ids, groups, c))  # noqa: E731
    phi = np.zeros(G)
    orders = list(itertools.permutations(range(G)))
    for order in orders:
        for j, g in enumerate(order):
            phi[g] += value(order[: j + 1]) - value(order[:j])
    return phi / len(orders)


def shapley_by_subsets(model, ids, groups):
    """The subset formula, every coalition evaluated by the plain model (for G too large for G! orders)."""
    G = len(groups)
    F = {c: padded_logit(model, ids, groups, c) for n in range(G + 1) for c in itertools.combinations(range(G), n)}
    phi = np.zeros(G)
    for g in range(G):
        for c, f in F.items():
            if g not in c:
                k = len(c)
                phi[g] += math.factorial(k) * math.factorial(G - k - 1) / math.factorial(G) * (
                    F[tuple(sorted(c + (g,)))] - f)
    return phi


def test_exact_path_equals_the_definition(model):
    ids = seq(14, seed=2)
    groups = [(0, 3), (3, 7), (7, 8), (8, 14)]
    r = group_shapley(model, ids, groups)
    want = shapley_by_permutations(model, ids, groups)
    assert r.exact and r.samples is None and np.all(r.standard_error == 0) and r.converged
    np.testing.assert_allclose(r.values, want, atol=2e-6)
    assert abs(r.target_change - (padded_logit(model, ids, groups, range(4)) - padded_logit(model, ids, groups, ()))) < 1e-10
    assert abs(r.completeness_gap) < 1e-5 and r.evaluator_error < 1e-5


def test_sampling_agrees_with_exact_values_within_its_error(model):
    ids = seq(20, seed=4)
    groups = span_groups(20, 2)  # 10 groups: more than the exact path takes
    want = shapley_by_subsets(model, ids, groups)
    r = group_shapley(model, ids, groups, samples=10, repeats=12, seed=3)
    assert not r.exact and r.repeat_values.shape == (12, 10) and r.evaluations == 12 * (10 * 10 + 1)
    np.testing.assert_allclose(r.values, r.repeat_values.mean(0))
    np.testing.assert_allclose(r.standard_error, r.repeat_values.std(0, ddof=1) / math.sqrt(12))
    t = stats.t.ppf(0.9995, 11)  # 99.9% per group: ten groups, so a fluke is rare
    assert np.all(np.abs(r.values - want) <= t * r.standard_error + 1e-6)
    # efficiency holds for every permutation, so for every repeat, whatever the sampling error
    np.testing.assert_allclose(r.repeat_values.sum(1), r.target_change, atol=1e-5)
    again = group_shapley(model, ids, groups, samples=10, repeats=12, seed=3)
    np.testing.assert_array_equal(again.values, r.values)  # seeded: the same request gives the same numbers


def test_coalition_logits_equal_the_model_and_occlusion(model):
    ids = seq(15, seed=5)
    groups = check_groups(span_groups(15, 1), 15)  # one token a group
    evaluate = CoalitionLogits(model, ids, groups)
    rng = np.random.default_rng(0)
    present = rng.random((20, 15)) < 0.5
    want = [padded_logit(model, ids, groups.tolist(), set(np.flatnonzero(p))) for p in present]
    np.testing.assert_allclose(evaluate.logits(torch.as_tensor(present)).double().numpy(), want, atol=1e-5)
    # removing one one-token group is occlusion of that token: the same F and baseline
    everything_but = ~np.eye(15, dtype=bool)
    drop = padded_logit(model, ids, groups.tolist(), range(15)) - evaluate.logits(torch.as_tensor(everything_but)).numpy()
    np.testing.assert_allclose(drop, occlusion_scores(model, ids), atol=1e-5)


def test_attribute_shapley_contract(model, vocab):
    words = "i love this film . the plot was bad ! and the end ! good".split()  # every mark in the vocabulary
    ids = torch.tensor(vocab.encode(words))
    a = attribute(model, ids, "shapley")
    assert a.groups.tolist() == [[0, 5], [5, 10], [10, 14], [14, 15]] == [list(g) for g in sentence_groups(words)]
    assert not a.has_backward and a.windows is None and a.target == "logit" and a.converged
    for (s, e), v in zip(a.groups, a.group_values):
        np.testing.assert_allclose(a.scores[s:e], v / (e - s))
    np.testing.assert_allclose(a.scores.sum(), a.target_change, atol=1e-5)
    assert abs(a.completeness_gap) < 1e-5
    spans = attribute(model, ids, "shapley", groups=6, samples=4, repeats=3)
    assert spans.groups.tolist() == [[0, 6], [6, 12], [12, 15]]
    sampled = attribute(model, seq(30), "shapley", groups=3, samples=2, repeats=4)
    assert len(sampled.groups) == 10 and sampled.repeats == 4 and sampled.standard_error.shape == (10,)


def test_bad_settings_are_refused(model):
    ids = seq(10)
    for kwargs, match in ((dict(samples=3), "even"), (dict(repeats=1), "repeats"), (dict(groups=0), "span"),
                          (dict(groups=[(0, 4), (5, 10)]), "contiguous"), (dict(groups="words"), "sentences")):
        with pytest.raises(ValueError, match=match):
            attribute(model, ids, "shapley", **kwargs)
    with pytest.raises(ValueError, match="more than"):
        group_shapley(model, seq(300), span_groups(300, 1))


def test_sentence_groups_keep_runs_of_marks():
    assert sentence_groups("wow ! ! it was . . . good".split()) == [(0, 3), (3, 8), (8, 9)]
    assert sentence_groups(["."]) == [(0, 1)]
