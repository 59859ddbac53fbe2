"""The glossary: every term the issue asks for, every technical word the pages use, and no entry for a word the
pages never use."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tbptt_viz.present.glossary import GLOSSARY, covers, glossary_markdown

ROOT = Path(__file__).resolve().parent.parent
PAGES = [*sorted((ROOT / "tbptt_viz" / "ui").glob("*.py")), *(ROOT / "tbptt_viz" / "present" / f for f in (
    "sentences.py", "evidence_sentences.py", "lessons.py", "overview.py", "figures.py", "evidence_figures.py",
    "study_figures.py", "lab_figures.py")), ROOT / "tbptt_viz" / "experiments" / "study" / "report.py",
    ROOT / "app.py"]  # report.py: the study's sentences the page quotes
ASKED = ("BPTT", "truncation", "K", "window", "loss", "logit", "occlusion", "attribution", "context probe",
         "exposure", "connectivity", "Shapley value", "update rule")
# Words a student may not know; wherever the pages use one, the glossary must define it.
JARGON = ("BPTT", "backpropagation through time", "truncation", "truncated", "last-K", "K", "window", "chunked",
          "TBPTT(k1, k2)", "update rule", "per-chunk", "per-review", "loss", "gradient", "embedding", "hidden state",
          "cell state", "forget gate", "Jacobian", "logit", "P(positive)", "occlusion", "attribution", "saliency",
          "input x gradient", "integrated gradients", "context probe", "exposure", "connectivity", "Shapley",
          "McNemar", "interval over seeds", "opening", "detached")


def page_text() -> str:
    """Every string the page's modules hold (literals and the literal parts of f-strings)."""
    parts = []
    for path in PAGES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                parts.append(node.value)
    return "\n".join(parts)


def used(term: str, text: str) -> bool:
    flags = 0 if len(term) <= 2 else re.I  # "K" is a setting; "k" alone is not
    return re.search(rf"(?<![\w-]){re.escape(term)}(?![\w-])", text, flags) is not None


def test_the_issues_terms_are_defined():
    for term in ASKED:
        assert covers(term), term


def test_every_technical_word_the_pages_use_is_defined():
    text = page_text()
    missing = [w for w in JARGON if used(w, text) and not covers(w)]
    assert not missing, f"used on the page but not in the glossary: {missing}"


def test_every_entry_is_a_word_the_pages_use():
    text = page_text()
    for t in GLOSSARY:
        assert any(used(w, text) for w in (t.term, *t.aliases)), t.term


def test_entries_are_unique_and_shown():
    terms = [t.term.lower() for t in GLOSSARY]
    assert len(terms) == len(set(terms))
    shown = glossary_markdown()
    assert all(f"**{t.term}**" in shown and t.definition in shown for t in GLOSSARY)


@pytest.mark.parametrize("word", ["bptt", "Full BPTT", "per-chunk", "Shapley"])
def test_covers_is_case_insensitive_and_reads_aliases(word):
    assert covers(word)
