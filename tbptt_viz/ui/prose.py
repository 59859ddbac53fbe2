"""Computed sentences on the page: escaped text, with each model's name in that model's colour."""
from __future__ import annotations

import re

import streamlit as st

from tbptt_viz.core.data import load_results
from tbptt_viz.present.colours import model_colour
from tbptt_viz.present.sentences import question, shipped_training
from tbptt_viz.ui import services
from tbptt_viz.ui.widgets import esc, html


def coloured(text: str, names) -> str:
    """`text` as escaped HTML, every model name in `names` wrapped in a span of its colour (longest first, so
    imdb-chunked-k30-per-chunk is never split into imdb-chunked-k30 and the rest)."""
    body = esc(text)
    names = sorted({esc(n) for n in names}, key=len, reverse=True)
    if not names:
        return body
    pattern = re.compile("|".join(re.escape(n) + r"(?![\w-])" for n in names))
    return pattern.sub(lambda m: f'<span class="tv-model" style="color:{model_colour(m.group(0))};font-weight:600">'
                                 f"{m.group(0)}</span>", body)


def paragraph(text: str, names=(), css_class: str = "tv-say") -> None:
    """One computed sentence as a paragraph (never Markdown: a model name or token could hold markup)."""
    html(f'<p class="{css_class}" style="margin:0 0 0.45rem 0;line-height:1.45">{coloured(text, names)}</p>')


@st.cache_resource(show_spinner=False, ttl=60)
def train_lengths() -> dict | None:
    """results/train_lengths.json (the training split's length summary), read at most once a minute."""
    return load_results("train_lengths.json")


def question_block(lead: str) -> None:
    """The student's question (`sentences.question`), then what the shipped models were trained on
    (`sentences.shipped_training`): the question's setup and the models' training, said separately."""
    html(f'<p style="margin:0 0 0.2rem 0"><b>The question.</b> {esc(question())} {esc(lead)}</p>')
    lengths = train_lengths()
    if lengths is not None:
        html(f'<p class="tv-setup" style="margin:0 0 0.6rem 0;font-size:0.82rem;opacity:0.8">'
             f"{esc(shipped_training(lengths, services.cards()))}</p>")
    else:
        st.caption("That is the question's setup; the shipped models' training data is described in their cards.")
