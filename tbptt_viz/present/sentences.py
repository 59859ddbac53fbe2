"""Sentences the page and the docs state as fact, each made by one function from computed values.

The app, the README and docs/*.md take these words from here, so a sentence is written once: the docs hold
them in generated blocks (`generated_blocks`, written by scripts/update_docs.py), and tests/test_facts.py
checks each function's words against an independent computation and that the docs say the same (the page's
own sentences against hand computations in tests/test_sentences.py). To add a sentence the page states: write a
function here, call it from the view, add its check to tests/test_facts.py or tests/test_sentences.py.

The question the app answers is a student's setup, not a description of the shipped models; `question`
states the setup and `shipped_training` what the shipped models were actually trained on, separately.
"""
from __future__ import annotations

import numpy as np

QUESTION_K = 30                 # the question's truncation window
QUESTION_WORDS = (100, 300)     # the question's review lengths
FIRST_N = 30                    # the "first words" of the question


def question() -> str:
    """The student's question, with its assumptions (a setup to reason about, not how the zoo was trained)."""
    lo, hi = QUESTION_WORDS
    return (f"A classifier is trained with last-K truncation (K = {QUESTION_K}) on reviews of {lo}-{hi} words. "
            "If the gradient never reaches the first words, how can it learn that reviews opening "
            "\"I love this\" are positive?")


def shipped_training(lengths: dict, cards: dict[str, dict]) -> str:
    """What the shipped models were trained on, from results/train_lengths.json and the model cards.

    lengths: the training split's length summary (tbptt_viz.experiments.train_lengths); cards: name -> card.
    """
    lo, hi = lengths["band"]
    caps = {c.get("train_config", {}).get("max_len") for c in cards.values()}
    cap = "with no length cap" if caps == {None} else \
        f"cut to at most {', '.join(str(c) for c in sorted(x for x in caps if x))} tokens"
    k30 = [n for n, c in cards.items() if c.get("scheme") == "last-k" and c.get("k") == QUESTION_K]
    pct = {key: f"{100 * lengths[key]['fraction']:.1f}%" for key in ("within", "longer", "shorter")}
    s = (f"That is the question's setup, not the shipped models'. Each shipped model was trained on all "
         f"{lengths['reviews']:,} IMDB training reviews, {cap}: counted in the tokens the model reads (words and "
         f"punctuation marks), {pct['within']} of them have {lo}-{hi}, {pct['longer']} more (up to "
         f"{lengths['max']:,}) and {pct['shorter']} fewer (down to {lengths['min']:,}).")
    if k30:
        s += f" {', '.join(k30)} truncates at K = {QUESTION_K}, as in the question."
    return s


def start_contrast(study: dict | None) -> str:
    """The Start page's and the README's study sentence: how far a polar phrase planted at the very start moves
    last-K (K = 30) and full BPTT, with the interval over seeds and the matched-pair verdict ("" without it)."""
    from tbptt_viz.experiments.study.report import start_contrast_sentence

    return start_contrast_sentence(study) if study else ""


def generated_blocks(study: dict, lab: dict | None, lengths: dict | None, cards: dict[str, dict],
                     benches: dict[str, dict] | None = None, measured: dict[str, dict] | None = None
                     ) -> dict[str, str]:
    """Every generated block of the README and docs/*.md: the study's and the Lab's tables, these sentences, and
    (given the benchmarks' JSON, `experiments.speed.load`, and the other measurements',
    `experiments.speed.measurements`) the speed figures and the soak's."""
    from tbptt_viz.experiments.study.report import generated_blocks as study_blocks

    blocks = study_blocks(study, lab)
    blocks["question"] = f"**{question()}**"
    if lengths is not None:
        blocks["shipped_training"] = shipped_training(lengths, cards)
    if benches is not None:
        from tbptt_viz.experiments import speed

        blocks.update(speed.blocks(benches, measured))
    return blocks


# ---- Start here: one sentence per part of the overview figure (`present.overview.Overview`) -------------------
def training_overview(ov) -> str:
    """The figure's training rows: exact zeros under last-K, full BPTT's first token, chunked's first loss."""
    T, (full, last, chunked) = ov.T, ov.gradient
    if ov.cut is None:
        cut = f"under last-K (K = {ov.k}) no token is cut: the whole review fits in the window"
    else:
        cut = (f"under last-K (K = {ov.k}) {int(np.sum(last == 0))} of {T} tokens get a gradient of exactly 0.0 "
               "from its loss")
    reached = int(np.sum(chunked > 0))
    return (f"Training ({ov.model}'s weights): {cut}; full BPTT gives the first token {full[0]:.2g}; chunked "
            f"(K = {ov.k}) reaches {reached} of {T}, the first token ({chunked[0]:.2g}) from the loss at token "
            f"{int(ov.losses[2][0])}.")


def gradient_ratio_sentence(full_input_grad_norm, t: int, word: str) -> str:
    """Lesson 2's evidence: full BPTT's ||dL/dx_t|| at one word against the review's last token."""
    g = np.asarray(full_input_grad_norm, dtype=float)
    T = len(g)
    if g[-1] == 0:
        return f"Under full BPTT, ||dL/dx_t|| at '{word}' (token {t}) is {g[t]:.2g}; at the last token it is 0."
    return (f"Under full BPTT, ||dL/dx_t|| at '{word}' (token {t}, {T - 1 - t} tokens before the end) is "
            f"{g[t] / g[-1]:.2g} times the one at the last token ({g[t]:.2g} against {g[-1]:.2g}).")


def _listed(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def use_overview(ov) -> str:
    """The figure's occlusion rows: each model's share of |occlusion| on the opening."""
    shares = [f"{share:.0%} for {name}" for name, share in zip(ov.models, ov.opening_share)]
    return (f"What each model uses (occlusion, one scale): the first {ov.n} tokens hold {_listed(shares)} of "
            "the |logit drop|.")


def opening_overview(ov) -> str:
    """The number that separates the models: P(positive) with and without the opening, and which moves most."""
    moves = [f"from {p:.2f} to {q:.2f} for {name}" for name, p, q in zip(ov.models, ov.prob, ov.prob_without)]
    change = np.abs(ov.prob - ov.prob_without)
    s = f"Without the first {ov.n} tokens P(positive) goes {_listed(moves)}"
    if change.max() < 0.005:
        return s + ": on this review the opening barely moves " + ("either prediction." if len(moves) > 1
                                                                   else "the prediction.")
    s += ": the forward pass is never truncated, so the opening still reaches the prediction"
    if len(moves) == 1:
        return s + f" (here by {change[0]:.2f})."
    most = int(np.argmax(change))
    return s + f"; on this review it moves {ov.models[most]}'s most, by {change[most]:.2f}."


def exposure_line(name: str, exposure, tokens, t: int) -> str:
    """Part 1's evidence for one model: where its training scheme trained the word at position t."""
    from tbptt_viz.present.evidence_sentences import exposure_sentence

    return f"{name}: {exposure_sentence(exposure, tokens, t)}"


SCRIPT = ("ksopyla/pytorch_neural_networks", "RNN/lstm_imdb_tbptt.py")  # the TBPTT recipe the question points to


def another_recipe(study: dict | None) -> str:
    """Start here's and lesson 5's "another recipe": chunked truncation, both update rules, the script they come
    from, and the study's finding on the update rule with its intervals (from `study.report.update_rule`)."""
    from tbptt_viz.experiments.study.report import update_rule

    repo, path = SCRIPT
    s = ("Another recipe: chunked training puts a loss every K tokens and detaches the state between chunks, so "
         "early words get a gradient from an earlier loss. The same losses admit two update rules: one optimizer "
         "step per review on their mean (per-review, the app's imdb-chunked-k30), or a step after every chunk's "
         "loss with the state carried on detached (per-chunk, imdb-chunked-k30-per-chunk), as the IMDB TBPTT "
         f"script does ({repo}, {path}).")
    finding = update_rule(study) if study else ""
    return s + (f" {finding}" if finding else "")


def first_share(scores, n: int = FIRST_N) -> float:
    """Share of sum |scores| on the first n tokens (0 when there is no mass)."""
    mass = np.abs(np.asarray(scores, dtype=float))
    total = mass.sum()
    return float(mass[:n].sum() / total) if total > 0 else 0.0


def memory_sentence(trace, occlusion_scores=None) -> str:
    """What the Memory view measures, as computed for this review (no claim that is not on the page)."""
    T = len(trace.survival)
    n = min(FIRST_N, T)
    influence = np.asarray(trace.influence)
    share = float(influence[:n].sum() / influence.sum()) if influence.sum() > 0 else 0.0
    s = (f"Direct path: of what the cell wrote at the first token, a fraction {trace.survival[0]:.2g} is left at the "
         f"prediction (mean over units). All paths: the first {n} tokens hold {share:.0%} of the gradient norm "
         "of the prediction with respect to the inputs.")
    if occlusion_scores is not None:
        s += f" Occlusion puts {first_share(occlusion_scores, n):.0%} of its |effect| on them."
    return s


def forget_gate_sentence(trace, n: int = FIRST_N) -> str:
    """The mean forget gate over the first n tokens, as measured (replaces any claim that they stay near 1)."""
    n = min(n, len(trace.forget_mean))
    return f"mean forget gate over the first {n} tokens: {float(np.mean(trace.forget_mean[:n])):.2f}"


def convergence_caption(a) -> str | None:
    """Under converged integrated gradients: what was checked (the scores' per-token error estimate against the
    tolerance, their sum, the evaluations spent) and any steep step; None for a method without that check. A run
    that did not converge gets `attribution.methods.convergence_message` instead."""
    from tbptt_viz.attribution.methods import steep_step_message

    if not a.converged:
        return None
    return (f"Integrated gradients converged: the scores' estimated error is {a.error_estimate:.2g} (the root of "
            f"the summed squared errors of all {len(a.scores)} tokens, so no single score is estimated to be off by "
            f"more), within the tolerance of {a.tolerance:.2g}; they add up to the {a.target}'s change "
            f"{a.target_change:+.3f} within {abs(a.completeness_gap):.2g} ({a.evaluations} gradient evaluations). "
            f"{steep_step_message(a) or ''}").strip()


def queue_note(what: str, ahead: int) -> str:
    """What a waiting page says while the shared service computes `what` with `ahead` jobs before it."""
    return f"Computing {what}... " + (f"{ahead} request(s) from other visitors are ahead of yours." if ahead
                                      else "running now.")


def lab_progress_note(ahead: int, done: int, total: int) -> str:
    """A live Lab run's progress line: its place in the queue until it starts, then its batches."""
    return f"{ahead} run(s) ahead of yours" if ahead and not done else f"batch {done}/{total}"


def describe_model(name: str, card: dict) -> str:
    """A model as the model menus show it: name, how it was trained, test accuracy (when the card has one)."""
    acc = card.get("test_accuracy")
    return f"{name} · {card.get('label', card.get('scheme', '?'))}" + (f" · acc {acc:.3f}" if acc else "")


def zoo_rows(cards: dict[str, dict]) -> list[dict]:
    """One row per shipped model for the Model zoo's table, straight from its card."""
    return [{"model": c["name"], "scheme": c.get("label", c.get("scheme")), "test accuracy": c.get("test_accuracy"),
             "epochs": c.get("epochs"), "seed": c.get("seed")} for c in cards.values()]
