"""Sentences the page and the docs state as fact, each made by one function from computed values.

The app, the README and docs/*.md take these words from here, so a sentence is written once: the docs hold
them in generated blocks (`generated_blocks`, written by scripts/update_docs.py), and tests/test_facts.py
checks each function's words against an independent computation and that the docs say the same. To add a
sentence the page states: write a function here, call it from the view, add its check to tests/test_facts.py.

The question the app answers is a student's setup, not a description of the shipped models; `question`
states the setup and `shipped_training` what the shipped models were actually trained on, separately.
"""
from __future__ import annotations

QUESTION_K = 30                 # the question's truncation window
QUESTION_WORDS = (100, 300)     # the question's review lengths


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


def generated_blocks(study: dict, lab: dict | None, lengths: dict | None, cards: dict[str, dict]) -> dict[str, str]:
    """Every generated block of the README and docs/*.md: the study's and the Lab's tables and these sentences."""
    from tbptt_viz.experiments.study.report import generated_blocks as study_blocks

    blocks = study_blocks(study, lab)
    blocks["question"] = f"**{question()}**"
    if lengths is not None:
        blocks["shipped_training"] = shipped_training(lengths, cards)
    return blocks
