"""tbptt-viz: where gradients go when an LSTM is trained with truncated backpropagation through time.

The page's outline: configuration, the sidebar, the review's header and one call into `tbptt_viz.ui` per tab.
Every number comes from a tested function in tbptt_viz, every heavy computation runs in the shared compute
service (bounded workers, identical requests coalesced), and nothing a visitor sends is rendered as Markdown
or HTML (review text goes through escaped HTML only).
Run: streamlit run app.py  (optional: streamlit run app.py -- --data-dir ../shared/data/imdb)
"""
from __future__ import annotations

import argparse
import sys
import time

import streamlit as st
import torch

from tbptt_viz.core.data import examples
from tbptt_viz.present.params import SCHEME_VIEWS, VIEWS
from tbptt_viz.present.render import STRIP_CSS
from tbptt_viz.ui import (controls, gradient_time, lab, lessons, memory, model_use, services, start_here, state,
                          teacher, training, zoo)
from tbptt_viz.ui.header import review_header
from tbptt_viz.ui.widgets import guarded, k_fragment, notice

torch.set_num_threads(1)  # one review's small ops run fastest on one thread; the workers share the cores


def cli_args() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", default=None, help="folder with IMDB test.jsonl[.gz]")
    return p.parse_known_args(sys.argv[1:])[0]


def tab_draws(review, highlight: tuple) -> dict:
    """Each tab's one call: (function, its arguments). Without a review the review views say why instead."""
    draws = {"Lessons": (lessons.show, review), "Model zoo": (zoo.show, highlight), "Lab": (lab.show,)}
    if review is not None:
        draws.update({"Start here": (start_here.show, review),
                      "What training sees": (k_fragment, "What training sees", training.show, review),
                      "Gradient through time": (k_fragment, "Gradient through time", gradient_time.show, review),
                      "What the model uses": (model_use.show, review), "Memory": (memory.show, review)})
    return draws


def main() -> None:
    st.set_page_config(page_title="tbptt-viz: where gradients go", layout="wide")
    started = time.perf_counter()
    st.html(STRIP_CSS)  # a style-only element: Streamlit adds it to the page without taking space
    teacher.page_style()  # compact top space; present=1 in the link: no sidebar, larger type
    st.title("Where do gradients go under truncated BPTT?")
    teacher.toolbar()  # copy the link to this view; the glossary (in the page's top bar)
    models = services.shipped_models()
    if not models:
        st.error("No models found under pretrained/. Reinstall the project or retrain (see README).")
        return
    services.service()  # starts the workers and the warm-up once per process
    status = services.store().status(models)  # each model loaded once per process; a broken one is listed with why
    state.init_state(models, [e.id for e in examples()], status)
    models = [m for m in models if status[m] is None] or models
    state.keep_widget_values()
    for text in state.pop_url_notices():
        notice("warning", text)

    view = state.current_view()
    lessons.open_from_url(view)  # a link to a lesson applies its preset before the controls are drawn
    review_id, text, true_label, title = controls.review_controls(cli_args().data_dir)
    st.session_state.shown_text = text
    model, compare = controls.model_controls(models)
    use_true = view in SCHEME_VIEWS and controls.scheme_controls(true_label is not None)
    state.sync_settings(review_id, text, model, compare)
    review, problem = review_header(review_id, text, title, model, compare, true_label, use_true)
    if review is not None:
        shown, settings = lessons.evidence_settings(view, state.view_settings())
        if shown is not None:
            services.prefetch(review, shown, settings)

    draws = tab_draws(review, review.names if review else tuple(n for n in (model, compare) if n))
    for name, tab in zip(VIEWS, st.tabs(VIEWS, key="view", bind="query-params")):
        if tab.open is False:
            continue
        with tab:
            if name not in draws:
                st.info(problem)
                continue
            fn, *args = draws[name]
            guarded(name, fn, *args)
    with st.expander("Timing (server side)"):
        st.write(f"whole page {1000 * (time.perf_counter() - started):.0f} ms; requests waiting or running: "
                 f"{services.service().busy()}")


main()
