"""The computed sentences under the evidence views (issue 23): every number comes from the dataclass passed in.

The text is plain: tokens are quoted with repr-free straight quotes and never interpreted as Markdown or HTML by
these functions (the views escape them where they render).
"""
from __future__ import annotations

import numpy as np

SPAN_THRESHOLD = 0.01


def _scheme_words(e) -> str:
    return {"full": "full BPTT", "last-k": f"last-K (K = {e.k})", "chunked": f"chunked truncation (K = {e.k})",
            "k1k2": f"TBPTT(k1 = {e.k1}, k2 = {e.k2})"}[e.scheme]


def exposure_sentence(e, tokens, t: int) -> str:
    """Where the word at position t was trained, e.g. "'love' occurs in 4,459 training reviews; under last-K
    (K = 30) it lies inside the window in 758 of them: that is where its embedding was trained." """
    word = tokens[t]
    if not e.known[t]:
        return (f"'{word}' is not in the vocabulary: the model reads it as an unknown word, so there is nothing to "
                f"count for it.")
    n, m, high = int(e.occurrences[t]), int(e.in_reach[t]), int(e.in_reach_high[t])
    scheme = _scheme_words(e)
    if n == 0:
        return f"'{word}' occurs in none of the {e.reviews:,} training reviews."
    head = f"'{word}' occurs in {n:,} training review{'s' if n != 1 else ''}"
    if not e.exact:
        return (f"{head}; under {scheme} it lies inside a training window in between {m:,} and {high:,} of them "
                f"(for k2 < k1 the shipped statistics give exact bounds, not the exact count): that is where its "
                f"embedding was trained.")
    if e.scheme == "last-k":
        if m == 0:
            return (f"{head}; under {scheme} it never lies inside the window: its embedding received no gradient "
                    f"from any of them.")
        return (f"{head}; under {scheme} it lies inside the window in {m:,} of them: that is where its embedding was "
                f"trained.")
    return (f"{head}; under {scheme} every token of a training review is reached by some loss's gradient, so all "
            f"{m:,} of them trained its embedding.")


def span_of(state_norm, threshold: float = SPAN_THRESHOLD) -> int | None:
    """Tokens after the source at which ||dh_t/dx_S|| first falls below `threshold` of its value at the source."""
    s = np.asarray(state_norm, dtype=float)
    below = np.flatnonzero(s < threshold * s[0]) if len(s) and s[0] > 0 else np.array([], dtype=int)
    return int(below[0]) if below.size else None


def connectivity_sentence(c, tokens, model: str, window: int | None = None) -> str:
    """How far the source word moves the hidden state, beside the training window (K; None: the whole review)."""
    word, S = tokens[c.source], c.source
    span = span_of(c.state_norm)
    left = len(c.state_norm) - 1
    if span is None:
        reach = (f"its effect on {model}'s hidden state stays above {SPAN_THRESHOLD:.0%} of its size at the word "
                 f"for all {left} remaining tokens")
    else:
        reach = (f"its effect on {model}'s hidden state falls below {SPAN_THRESHOLD:.0%} of its size at the word "
                 f"after {span} token{'s' if span != 1 else ''}")
    trained = "" if window is None else f"; training back-propagated through {window} tokens"
    return f"'{word}' (token {S}): {reach}{trained}. The forward pass is never truncated."


def shapley_sentence(a, tokens, occlusion) -> str:
    """The opening sentence as one player against its tokens removed one at a time."""
    s, e = (int(v) for v in a.groups[0])
    value, occ = float(a.group_values[0]), float(np.sum(np.asarray(occlusion)[s:e]))
    how = "exact" if a.repeats is None else f"standard error {float(a.standard_error[0]):.2f}"
    text = " ".join(tokens[s:e])
    if len(text) > 60:
        text = text[:57] + "..."
    return (f"Together, the opening '{text}' ({e - s} tokens) moves the logit by {value:+.2f} ({how}); removed one "
            f"token at a time, its tokens move it by {occ:+.2f} in total.")


def memory_span_sentence(name: str, memory: dict) -> str:
    """From a study regime's pooled `memory` entry: the span beside the training window."""
    span = memory["span"]
    K = memory.get("training_window")
    trained = "the whole review" if K is None else f"{K} tokens"
    if span.get("mean") is None:
        return (f"{name}: the median effect of a word on the hidden state stays above {memory['threshold']:.0%} "
                f"for all {memory['max_lag']} tokens followed (trained through {trained}).")
    return (f"{name}: the median effect of a word on the hidden state falls below {memory['threshold']:.0%} after "
            f"{span['mean']:.0f} tokens (trained through {trained}).")


def trained_window(card: dict) -> int | None:
    """The tokens one training loss back-propagated through, from a model card: K (last-K, chunked), k2
    (TBPTT), None for full BPTT (the whole review). The study's memory table uses the same rule."""
    return card.get("k2") if card.get("scheme") == "k1k2" else card.get("k")


def reached_window(scheme: str, T: int, k: int | None = None, k1: int | None = None,
                   k2: int | None = None) -> tuple[int, int]:
    """(first, last): the positions the training loss at T-1 back-propagates to under the scheme."""
    from tbptt_viz.core.schemes import make_scheme

    windows = make_scheme(scheme, k, k1, k2).windows(T)
    return min(s for p, s in windows if p == T - 1), T - 1


def exposure_bounds_note(e) -> str:
    """Under TBPTT with k2 < k1, what the exposure counts are (the shipped statistics bound them)."""
    return (f"Under TBPTT(k1 = {e.k1}, k2 = {e.k2}) the gradient reaches a token only in the last k2 tokens before "
            f"each loss, and losses fall every k1 = {e.k1} tokens: whether an occurrence lies in such a stretch "
            f"depends on its position counted in steps of k1, which the shipped statistics do not record. So the counts here are "
            f"bounds: at least the reviews in which the word lies within the last {e.k2} tokens (the final loss "
            f"reaches those), at most every review that contains it. The strip shows the lower bound.")


def shapley_check_sentence(a) -> str:
    """Under Shapley values that settled: the efficiency check and the sampling error, as computed."""
    from scipy.stats import t as student_t

    if a.repeats is None:
        how = (f"they are exact: all {a.evaluations} coalitions of the {len(a.groups)} groups were evaluated, so "
               f"there is no sampling error")
    else:
        half = float(np.max(a.standard_error)) * float(student_t.ppf(0.975, a.repeats - 1))
        how = (f"{a.samples * a.repeats} sampled orders of the {len(a.groups)} groups; every group's 95% half-width "
               f"over {a.repeats} repeats is at most {half:.2f} (tolerance {a.tolerance:.2f})")
    return (f"Shapley values checked: they add up to the logit's change {a.target_change:+.3f} within "
            f"{abs(a.completeness_gap):.2g} (efficiency); {how}.")


def memory_span_cell(memory: dict | None) -> str:
    """A study regime's memory span for a table cell: mean over seeds [95% interval over seeds], or why not."""
    if not memory:
        return "not measured yet"
    span = memory["span"]
    if span.get("mean") is None:
        return f"beyond {memory['max_lag']} tokens"
    if span.get("low") is None:
        return f"{span['mean']:.0f} (one seed)"
    return f"{span['mean']:.0f} [{span['low']:.0f}, {span['high']:.0f}] over seeds"
