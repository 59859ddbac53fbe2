"""The page's sentences, each against numbers worked out here from the same inputs."""
from types import SimpleNamespace

import numpy as np
import pytest

from tbptt_viz.present import sentences as say


def trace(survival, influence, forget_mean):
    return SimpleNamespace(survival=np.asarray(survival, float), influence=np.asarray(influence, float),
                           forget_mean=np.asarray(forget_mean, float))


def test_first_share():
    assert say.first_share([1.0, -1.0, 2.0], 1) == pytest.approx(0.25) and say.first_share([0.0], 1) == 0.0
    scores = np.r_[np.full(30, 2.0), np.full(70, -1.0)]  # default n = 30: 60 of 130
    assert say.first_share(scores) == pytest.approx(60 / 130)


def test_memory_sentence_states_what_the_trace_holds():
    t = trace([0.0123, 0.5, 1.0], [1.0, 3.0, 4.0], [0.2, 0.4, 0.9])
    s = say.memory_sentence(t)
    assert "a fraction 0.012 is left" in s and "the first 3 tokens hold 100%" in s and "Occlusion" not in s
    long = trace(np.linspace(0.1, 1, 40), np.r_[np.ones(30), np.full(10, 3.0)], np.ones(40))
    s = say.memory_sentence(long, np.r_[np.zeros(30), np.ones(10)])
    assert f"the first 30 tokens hold {30 / 60:.0%}" in s and "Occlusion puts 0% of its |effect| on them." in s
    assert "hold 0%" in say.memory_sentence(trace([1.0], [0.0], [1.0]))  # no influence at all: no division


def test_forget_gate_sentence_is_the_mean_over_the_first_tokens():
    t = trace(np.ones(40), np.ones(40), np.r_[np.full(30, 0.25), np.full(10, 0.95)])
    assert say.forget_gate_sentence(t) == "mean forget gate over the first 30 tokens: 0.25"
    assert say.forget_gate_sentence(t, n=40) == f"mean forget gate over the first 40 tokens: {(30 * .25 + 10 * .95) / 40:.2f}"
    assert say.forget_gate_sentence(trace([1, 1], [1, 1], [0.5, 0.7])) == "mean forget gate over the first 2 tokens: 0.60"


def test_convergence_caption_only_for_converged_integrated_gradients():
    ig = SimpleNamespace(converged=True, target="logit", target_change=0.5, completeness_gap=-0.001,
                         tolerance=0.015, evaluations=24, rank_one_intervals=0)
    assert say.convergence_caption(ig).startswith("Integrated gradients converged: the scores add up to the logit's "
                                                  "change +0.500 within 0.001 (tolerance 0.015; 24 gradient")
    assert say.convergence_caption(SimpleNamespace(converged=None)) is None
    assert say.convergence_caption(SimpleNamespace(converged=False)) is None


def test_queue_and_progress_notes():
    assert say.queue_note("the probe", 0) == "Computing the probe... running now."
    assert say.queue_note("the probe", 2).endswith("2 request(s) from other visitors are ahead of yours.")
    assert say.lab_progress_note(1, 0, 10) == "1 run(s) ahead of yours" and say.lab_progress_note(0, 3, 10) == \
        "batch 3/10" and say.lab_progress_note(1, 3, 10) == "batch 3/10"


def test_model_descriptions_and_zoo_rows_come_from_the_cards():
    cards = {"m": {"name": "m", "label": "last-K (K=30)", "scheme": "last-k", "test_accuracy": 0.8771, "epochs": 6,
                   "seed": 0}, "n": {"name": "n", "scheme": "full"}}
    assert say.describe_model("m", cards["m"]) == "m · last-K (K=30) · acc 0.877"
    assert say.describe_model("n", cards["n"]) == "n · full" and say.describe_model("x", {}) == "x · ?"
    assert say.zoo_rows(cards) == [
        {"model": "m", "scheme": "last-K (K=30)", "test accuracy": 0.8771, "epochs": 6, "seed": 0},
        {"model": "n", "scheme": "full", "test accuracy": None, "epochs": None, "seed": None}]


def overview_like(**kw):
    """An Overview's fields, chosen by hand (the sentences read nothing else)."""
    base = dict(T=6, model="m", k=3, n=2, cut=3, models=("a", "b"),
                gradient=np.array([[1.5e-4, 1, 1, 1, 1, 1.0], [0, 0, 0, 1, 1, 1.0], [2e-3, 1, 1, 1, 1, 1.0]]),
                losses=(np.array([5]), np.array([5]), np.array([2, 5])),
                opening_share=np.array([0.031, 0.154]), prob=np.array([0.99, 0.90]),
                prob_without=np.array([0.98, 0.46]))
    base.update(kw)
    return SimpleNamespace(**base)


def test_training_overview_counts_zeros_and_names_the_first_chunk_loss():
    s = say.training_overview(overview_like())
    assert s == ("Training (m's weights): under last-K (K = 3) 3 of 6 tokens get a gradient of exactly 0.0 from its "
                 "loss; full BPTT gives the first token 0.00015; chunked (K = 3) reaches 6 of 6, the first token "
                 "(0.002) from the loss at token 2.")
    fits = say.training_overview(overview_like(cut=None, k=6, gradient=np.ones((3, 6))))
    assert "under last-K (K = 6) no token is cut: the whole review fits in the window" in fits


def test_use_and_opening_sentences_per_model():
    ov = overview_like()
    assert say.use_overview(ov) == ("What each model uses (occlusion, one scale): the first 2 tokens hold 3% for a "
                                    "and 15% for b of the |logit drop|.")
    assert say.opening_overview(ov) == (
        "Without the first 2 tokens P(positive) goes from 0.99 to 0.98 for a and from 0.90 to 0.46 for b: the "
        "forward pass is never truncated, so the opening still reaches the prediction; on this review it moves "
        "b's most, by 0.44.")
    still = say.opening_overview(overview_like(prob_without=np.array([0.988, 0.899])))
    assert still.endswith(": on this review the opening barely moves either prediction.")  # |change| < 0.005
    one = overview_like(models=("a",), prob=np.array([0.7]), prob_without=np.array([0.2]),
                        opening_share=np.array([0.5]))
    assert say.opening_overview(one).endswith("reaches the prediction (here by 0.50).")
    assert say.use_overview(one).endswith("hold 50% for a of the |logit drop|.")


def test_gradient_ratio_sentence():
    g = np.array([0.2, 0.03, 0.5, 0.015])
    assert say.gradient_ratio_sentence(g, 1, "love") == (
        "Under full BPTT, ||dL/dx_t|| at 'love' (token 1, 2 tokens before the end) is 2 times the one at the last "
        "token (0.03 against 0.015).")
    assert say.gradient_ratio_sentence(np.array([0.1, 0.0]), 0, "x").endswith("at the last token it is 0.")


def test_another_recipe_names_both_rules_cites_the_script_and_quotes_the_study():
    from tbptt_viz.core.data import load_results
    from tbptt_viz.experiments.study.report import update_rule

    study = load_results("imdb_study.json")
    s = say.another_recipe(study)
    assert "per-review" in s and "per-chunk" in s
    assert "ksopyla/pytorch_neural_networks, RNN/lstm_imdb_tbptt.py" in s
    assert update_rule(study) and s.endswith(update_rule(study)) and "over seeds" in s
    assert say.another_recipe(None).endswith("RNN/lstm_imdb_tbptt.py).")


def test_exposure_line_names_the_model():
    e = SimpleNamespace(known=np.array([True]), occurrences=np.array([10]), in_reach=np.array([3]),
                        in_reach_high=np.array([3]), exact=True, reviews=100, scheme="last-k", k=30, k1=None, k2=None)
    assert say.exposure_line("imdb-last-k30", e, ("love",), 0) == (
        "imdb-last-k30: 'love' occurs in 10 training reviews; under last-K (K = 30) it lies inside the window in 3 of "
        "them: that is where its embedding was trained.")
