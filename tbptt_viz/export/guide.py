"""The static site's guided part: Start here's overview and the Lessons, computed at export by the app's own
functions (`present.overview`, `present.sentences`, `present.lessons`, `present.evidence_*`), never copied into
the page by hand. The page only shows what is written here and keeps the visitor's tries.

    Start here   per (review, model, compare): the overview figure and its three sentences at K = 30 and an
                 opening of 30 tokens, as the app opens (the K slider of the other views leaves it as it is)
    Lessons      per lesson: its filled texts, its preset, the evidence the page cannot draw itself (the overview,
                 training exposure, connectivity) as figures, and the computed sentences and study numbers that
                 come with the answer
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

import torch

from tbptt_viz.attribution.connectivity import connectivity
from tbptt_viz.core.data import load_results
from tbptt_viz.experiments.exposure import word_exposure
from tbptt_viz.gradients.analysis import ReviewFlow
from tbptt_viz.present import evidence_figures
from tbptt_viz.present.evidence_sentences import connectivity_sentence
from tbptt_viz.present.lessons import LESSONS, Lesson, filled, word_position
from tbptt_viz.present.overview import overview, overview_figure
from tbptt_viz.present.sentences import (
    FIRST_N,
    another_recipe,
    exposure_line,
    gradient_ratio_sentence,
    opening_overview,
    question,
    start_contrast,
    training_overview,
    use_overview,
)
from tbptt_viz.serving.jobs import shown_k

START_K = 30  # the K the app's Start here opens at (its K slider's default)
# lesson tabs the static page draws itself from the pair's data (the other evidence comes as a figure)
PAGE_VIEWS = ("What training sees", "Gradient through time")


@dataclass(frozen=True)
class Computed:
    """What the export computed for one (model, review): the app's jobs of that pair."""

    model: object               # the loaded model (read only)
    tokens: tuple[str, ...]     # (T,) as this model reads the review
    ids: tuple[int, ...]        # (T,)
    rf: ReviewFlow              # the training gradients (label: the model's own prediction, the app's default)
    occlusion: object           # (T,) numpy: logit drop per token
    probe: object               # ContextProbe


SIG = 5  # significant digits kept in a figure's numbers (its hover shows 2-3)


def rounded(value):
    """`value` (plain JSON) with every float kept to SIG significant digits: a third of the bytes."""
    if isinstance(value, float):
        return float(f"{value:.{SIG}g}") if math.isfinite(value) else None
    if isinstance(value, list):
        return [rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return value


def figure_json(fig) -> dict:
    """A plotly figure as the page draws it (JSON, numbers `rounded`; the page adds its theme's text colour)."""
    return rounded(json.loads(fig.to_json()))


def start_overview(tokens, model: str, rf: ReviewFlow, occ: dict, probes: dict, k: int = START_K,
                   n: int = FIRST_N):
    """The Start page's `Overview` for the models of `occ` (the chosen one first), as the app draws it."""
    return overview(tokens, model, rf, shown_k(rf.T, k), occ, probes, n)


def start_here(chosen: Computed, name: str, others: dict[str, Computed]) -> dict:
    """Start here for `name` (its weights in the training rows) beside `others` (model -> its Computed)."""
    occ = {name: chosen.occlusion, **{m: c.occlusion for m, c in others.items()}}
    probes = {name: chosen.probe, **{m: c.probe for m, c in others.items()}}
    ov = start_overview(chosen.tokens, name, chosen.rf, occ, probes)
    return {"figure": figure_json(overview_figure(ov)), "k": ov.k, "n": ov.n,
            "sentences": [training_overview(ov), use_overview(ov), opening_overview(ov)]}


def page_text() -> dict:
    """Sentences the page shows whatever the review: the question (`sentences.question`)."""
    return {"question": question()}


def lesson_entry(number: int, lesson: Lesson, computed: dict[str, Computed], study: dict | None) -> dict:
    """One lesson as the page shows it: its texts filled from its own review, its preset, its evidence."""
    name, compare = lesson.preset["model"], lesson.preset.get("compare")
    chosen = computed[name]
    text = filled(lesson, chosen.tokens)
    names = (name, compare) if compare else (name,)
    t = word_position(lesson, chosen.tokens)
    figure, found, missing = None, [], ""
    k = int(lesson.preset.get("k", START_K))
    if lesson.tab == "Gradient through time" and t is not None:
        found = [gradient_ratio_sentence(chosen.rf.full.full_input_grad_norm, t, chosen.tokens[t])]
    elif lesson.tab == "Start here":
        ov = start_overview(chosen.tokens, name, chosen.rf, {m: computed[m].occlusion for m in names},
                            {m: computed[m].probe for m in names}, k=k, n=k)
        figure, found = figure_json(overview_figure(ov)), [use_overview(ov), opening_overview(ov)]
    elif lesson.tab == "Where words were trained":
        exposures = {}
        for m in names:
            card = getattr(computed[m].model, "card", None) or {}
            try:
                exposures[m] = word_exposure(computed[m].model, computed[m].ids, card.get("scheme"), card.get("k"),
                                             card.get("k1"), card.get("k2"))
            except (ValueError, OSError, RuntimeError) as e:
                missing += f"Training exposure is not available for {m}: {e}. "
        if exposures:
            figure = figure_json(evidence_figures.exposure_figure(evidence_figures.widest_first(exposures),
                                                                  chosen.tokens))
            found = [] if t is None else [exposure_line(m, e, chosen.tokens, t) for m, e in exposures.items()]
    elif lesson.tab == "How far a word reaches" and t is not None:
        found_c = {m: connectivity(computed[m].model, torch.tensor(computed[m].ids), t) for m in names}
        window = (t, min(t + k - 1, len(chosen.tokens) - 1))
        figure = figure_json(evidence_figures.connectivity_figure(found_c, chosen.tokens, window=window,
                                                                  window_label=""))
        for m, c in found_c.items():
            card = getattr(computed[m].model, "card", None) or {}
            found.append(connectivity_sentence(c, chosen.tokens, m, card.get("k") if card.get("scheme") == "last-k"
                                               else None))
    numbers = {"start_contrast": start_contrast, "update_rule": another_recipe}.get(lesson.numbers)
    return {"number": number, "title": text.title, "tab": lesson.tab, "explain": text.explain,
            "question": text.question, "options": list(text.options), "answer": text.answer, "hint": text.hint,
            "reveal": text.reveal, "preset": {key: v for key, v in lesson.preset.items() if key != "word"},
            "draws": lesson.tab if lesson.tab in PAGE_VIEWS else None, "figure": figure, "found": found,
            "missing": missing.strip(), "numbers": numbers(study) if numbers else ""}


def lessons(computed_for, models: list[str]) -> list[dict]:
    """Every lesson whose models were exported, numbered as in the app (`lesson=3` is the third);
    `computed_for(review_id)` gives {model: Computed} for one review."""
    study = load_results("imdb_study.json")
    out = []
    for i, lesson in enumerate(LESSONS):
        needed = {lesson.preset["model"], lesson.preset.get("compare") or lesson.preset["model"]}
        if needed <= set(models):
            out.append(lesson_entry(i + 1, lesson, computed_for(lesson.preset["review"]), study))
    return out
