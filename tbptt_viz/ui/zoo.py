"""Model zoo: the shipped models' cards and the IMDB study's figures."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from tbptt_viz.present import study_figures
from tbptt_viz.present.sentences import zoo_rows
from tbptt_viz.ui import services
from tbptt_viz.ui.widgets import chart, how_to_read


def show(highlight: tuple = ()) -> None:
    """`highlight`: the chosen and compare models, drawn strong in the study's figures."""
    cards = services.cards()
    if not cards:
        st.error("No shipped models found under pretrained/. Retrain them with scripts/train_zoo.sh (see README).")
        return
    st.table(pd.DataFrame(zoo_rows(cards)).set_index("model"))
    how_to_read("Each model has the same vocabulary, architecture and number of epochs; only the truncation used "
                "in training differs. Accuracy is on all 25,000 IMDB test reviews. The study below gives each "
                "regime's mean over its seeds with a 95% interval over seeds; the chosen and compare models are "
                "drawn strong.")
    study = services.study_results()
    if study is None:
        st.info("The IMDB study (results/imdb_study.json) is not in this installation.")
        return
    for name, (make, reading) in study_figures.FIGURES_WITH_READING.items():
        chart(make(study, highlight), key=f"study_{name}")
        how_to_read(reading)
