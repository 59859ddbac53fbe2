"""Model zoo: the shipped models' cards and the IMDB study's figures, with each model's memory span beside the
window it was trained through."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from tbptt_viz.experiments.study.report import evidence_tables
from tbptt_viz.experiments.study.results import regimes_of
from tbptt_viz.present import study_figures
from tbptt_viz.present.evidence_sentences import memory_span_cell, trained_window
from tbptt_viz.present.sentences import zoo_rows
from tbptt_viz.ui import services
from tbptt_viz.ui.widgets import chart, how_to_read


def show(highlight: tuple = ()) -> None:
    """`highlight`: the chosen and compare models, drawn strong in the study's figures."""
    cards = services.cards()
    if not cards:
        st.error("No shipped models found under pretrained/. Retrain them with scripts/train_zoo.sh (see README).")
        return
    study = services.study_results()
    regimes = regimes_of(study) if study else {}
    rows = [{**row, "trained through (tokens)": str(trained_window(cards[row["model"]]) or "whole review"),
             "memory span (study, tokens)": memory_span_cell(regimes.get(row["model"], {}).get("memory"))}
            for row in zoo_rows(cards)]
    st.table(pd.DataFrame(rows).set_index("model"))
    how_to_read("Each model has the same vocabulary, architecture and number of epochs; only the truncation used "
                "in training differs. Accuracy is on all 25,000 IMDB test reviews. 'Trained through' is how far one "
                "training loss back-propagated (K, or k2 for TBPTT); the memory span is how far the trained model "
                "carries a word forward (see below). The study below gives each regime's mean over its seeds with "
                "a 95% interval over seeds; the chosen and compare models are drawn strong.")
    if study is None:
        st.info("The IMDB study (results/imdb_study.json) is not in this installation.")
        return
    for name, (make, reading) in study_figures.FIGURES_WITH_READING.items():
        chart(make(study, highlight), key=f"study_{name}")
        how_to_read(reading)
    evidence(study, regimes, highlight)


def evidence(study: dict, regimes: dict, highlight: tuple) -> None:
    """Issue 23's study measurements: the memory span beside K, and words acting together (absent from studies
    run before them: then the page says so)."""
    st.subheader("How far each model carries a word, and words together")
    tables = evidence_tables(regimes)
    if any(r.get("memory") for r in regimes.values()):
        chart(study_figures.memory_figure(study, highlight), key="study_memory")
        how_to_read("For words in the study's reviews, how strongly each still moves the hidden state a number of "
                    "tokens later, relative to its effect where it is read (the median over words and reviews, log "
                    "scale); the dotted line is 1%, where the memory span is read off. The diamond on each curve "
                    "marks the window the model was trained through: a curve still high beyond its diamond means the "
                    "model carries words further than any training loss reached back.")
    if tables:
        st.markdown("\n".join(tables))  # our own tables from the study's JSON, no visitor text
    missing = [n for n, r in regimes.items() if not r.get("memory") or not r.get("together")]
    if missing:
        st.caption(f"Not measured yet in results/imdb_study.json: the memory span or the words-together comparison "
                   f"for {', '.join(missing)}. They appear here when the study is re-run with them.")
