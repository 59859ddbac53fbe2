"""The sentences the page states, each computed from the numbers it shows (no claim that is not on the page).

Every function takes plain results (dataclasses of numpy arrays, dicts of the study's JSON) and returns text;
none touches a model or streamlit, so each sentence is tested against a hand computation.
"""
from __future__ import annotations

import numpy as np

FIRST_N = 30  # the "first words" of the question

QUESTION = ("**The question.** A classifier is trained with last-K truncation (K = 30) on reviews of 100-300 words. "
            "If the gradient never reaches the first words, how can it learn that reviews opening \"I love this\" "
            "are positive?")

# The two regimes the headline sentence contrasts (the question's model and full BPTT).
HEADLINE_PAIR = ("imdb-last-k30", "imdb-full")


def first_share(scores, n: int = FIRST_N) -> float:
    """Share of sum |scores| on the first n tokens (0 when there is no mass)."""
    mass = np.abs(np.asarray(scores, dtype=float))
    total = mass.sum()
    return float(mass[:n].sum() / total) if total > 0 else 0.0


def zero_gradient_sentence(view, full) -> str:
    """Start here, part 1: how many tokens get exactly zero gradient under last-K, against full BPTT's first.

    `view`: the last-K SchemeView; `full`: the review's full-BPTT GradientFlow."""
    T = len(view.input_grad_norm)
    zero = int(np.sum(view.input_grad_norm == 0))
    return (f"Under last-K with K = {view.k}, **{zero} of {T}** tokens of this review get a gradient of exactly "
            f"0.0 from its loss; under full BPTT the first token gets {full.full_input_grad_norm[0]:.2g}. "
            "A last-K model learns opening words only where they fall inside some review's last K tokens.")


def opening_sentence(occlusion: dict, probes: dict, T: int) -> str:
    """Start here, part 2: per model, occlusion's share on the opening and P(positive) without it.

    `occlusion`: {model: scores (T,)}; `probes`: {model: ContextProbe}. Empty for a one-token review."""
    if T <= 1:
        return ""
    n_first = min(FIRST_N, T - 1)
    parts = [f"{n}: {first_share(occlusion[n]):.0%} of |occlusion| on the first {min(FIRST_N, T)} tokens; "
             f"without them P(positive) goes from {probes[n].prob_positive:.2f} to "
             f"{probes[n].prob_without_first_n[n_first]:.2f}" for n in occlusion]
    return "On this review — " + "; ".join(parts) + "."


def headline_sentence(contrast: dict | None) -> str:
    """Start here, part 3: how far a phrase planted at the start moves last-K (K = 30) against full BPTT.

    `contrast`: `study.results.headline_contrast`'s dict; empty when either regime is missing."""
    a, b = ((contrast or {}).get(name) for name in HEADLINE_PAIR)
    if not a or not b or b["mean"] <= 0:
        return ""
    return (f"A strongly polar phrase planted at the very start of IMDB test reviews moves last-K "
            f"(K = 30) by {a['mean']:.3f} [{a['low']:.3f}, {a['high']:.3f}] and full BPTT by "
            f"{b['mean']:.3f} [{b['low']:.3f}, {b['high']:.3f}] (95% intervals; "
            f"{a['seeds']} and {b['seeds']} seed(s)): about {a['mean'] / b['mean']:.2f} times as much.")


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
    """Under converged integrated gradients: what was checked (the sum, its tolerance, the evaluations spent)
    and any steep step; None for a method without that check. A run that did not converge gets
    `attribution.methods.convergence_message` instead."""
    from tbptt_viz.attribution.methods import steep_step_message

    if not a.converged:
        return None
    return (f"Integrated gradients converged: the scores add up to the {a.target}'s change "
            f"{a.target_change:+.3f} within {abs(a.completeness_gap):.2g} (tolerance {a.tolerance:.2g}; "
            f"{a.evaluations} gradient evaluations). {steep_step_message(a) or ''}")


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
