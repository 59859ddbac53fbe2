"""Lab: the precomputed sweep of tiny LSTMs on synthetic tasks, and one configuration trained live."""
from __future__ import annotations

import streamlit as st
import torch

from tbptt_viz.core.schemes import SCHEME_NAMES, UPDATE_NAMES, UPDATES
from tbptt_viz.experiments.lab.runs import TASKS, LabConfig, LabConfigError, live_run, load_lab_results
from tbptt_viz.experiments.lab.settings import FORM_BOUNDS, LIVE_BUDGET, lab_budget, over_budget
from tbptt_viz.gradients import analysis
from tbptt_viz.gradients.flow import gradient_flow
from tbptt_viz.present import figures, lab_figures, params
from tbptt_viz.present.sentences import lab_progress_note
from tbptt_viz.serving import jobs
from tbptt_viz.serving.isolate import run_isolated
from tbptt_viz.ui import services
from tbptt_viz.ui.state import sync_url
from tbptt_viz.ui.training import training_strips
from tbptt_viz.ui.widgets import chart, guarded, how_to_read, notice

B = FORM_BOUNDS  # each widget's (min, max), also the range a lab_* link value must lie in
UPDATE_HELP = ("per-review: one optimizer step per batch on the mean of every chunk's loss (the app's models). "
               "per-chunk: a step after every chunk's loss, the state carried on detached (the IMDB TBPTT script in "
               "ksopyla/pytorch_neural_networks, RNN/lstm_imdb_tbptt.py). Full and last-K have one window per "
               "sequence, so there the two rules are the same.")
SWEEP_FIGURES = ("prefix_heatmaps", "any_one_by_position", "planted_by_distance", "forget_bias_figure")


def show() -> None:
    st.markdown("Tiny LSTMs trained in seconds on synthetic tasks built to test the answers' claims, with the "
                "same truncation schemes and training code as the IMDB models.")
    results = load_lab_results()
    if results is None:
        st.info("The precomputed sweep (results/lab.json) is not in this installation; live runs still work.")
    else:
        for name in SWEEP_FIGURES:
            guarded(name, lambda fn=getattr(lab_figures, name): chart(fn(results), key=f"lab_{name}"))
        how_to_read("Accuracy on long test sequences, mean over seeds with the sample standard deviation over seeds "
                    "in the hover text; chance is 0.5. A scheme that never back-propagates to the decisive tokens "
                    "usually stays at chance, but not always: a trace of an early token carried by the recurrence "
                    "into the window can be learned there (see the forget-bias rows).")
    st.subheader("Run one configuration live")
    try:
        config = lab_form()
        if config is not None:
            train_live(config)
    except (LabConfigError, ValueError) as e:
        notice("error", f"This configuration cannot run: {e}. Change the setting and train again.")
    runs = st.session_state.get("lab_runs", [])
    if runs:
        show_runs(runs)


def train_live(config: LabConfig) -> None:
    """Train `config` through the compute service, one live run at a time, in a child process forked from the
    server: it never competes for the server's interpreter lock, so other visitors' pages stay as fast as on
    an idle server. A run over LIVE_BUDGET (estimated from the settings before anything is allocated) is
    refused with what to change, never shrunk: nothing trains on a value the visitor did not choose. Keeps
    the two newest runs in the session (two rules side by side: their learning curves)."""
    refusal = over_budget(lab_budget(config.to_dict()), LIVE_BUDGET)
    if refusal:
        notice("error", f"This configuration is too large for a live run on a shared server: {refusal}.")
        return
    done: dict = {"done": 0, "total": 1}

    def report(d, t, loss):
        done.update(done=d, total=t, loss=loss)

    result = services.compute(
        jobs.lab(config), fn=lambda: run_isolated(live_run, config, progress=report),
        progress=lambda ahead: (min(1.0, done["done"] / max(1, done["total"])),
                                lab_progress_note(ahead, done["done"], done["total"])))
    runs = st.session_state.setdefault("lab_runs", [])
    runs.append(result)
    del runs[:-2]
    sync_url(**params.lab_query(config))


def show_runs(runs: list) -> None:
    """The newest runs' accuracy and curves, and a test sequence through the newest tiny model."""
    for col, result in zip(st.columns(len(runs)), runs[::-1]):
        with col:
            c = result.config
            st.metric(f"test accuracy ({c.task}, {c.scheme_label}, seed {c.seed})", f"{result.test_accuracy:.3f}",
                      help=f"trained in {result.wall_time_s:.1f} s")
            chart(lab_figures.training_curve(result), key=f"lab_curve_{id(result)}")
    result = runs[-1]
    c = result.config
    ids = torch.tensor([int(i) for i in result.sample_ids])
    rf = analysis.review_flow(result.model, ids, result.sample_label)
    k = params.snap_k(c.k or rf.T, analysis.k_choices(rf.T))
    view = analysis.picked_view(rf, c.scheme, k, lambda: gradient_flow(
        result.model, ids, "k1k2", k1=c.k1, k2=c.k2, label=result.sample_label))
    st.markdown(f"**A test sequence through the newest tiny model** (P(positive) = {rf.full.prob_positive:.3f})")
    training_strips(result.sample_tokens, rf, view)
    chart(figures.gradient_through_time(view, rf.full, rf.T), key="lab_through_time")


def lab_form() -> LabConfig | None:
    """The live-run form, its values kept in the session and the URL; returns a LabConfig when submitted."""
    with st.form("lab_form"):
        c1, c2, c3, c4 = st.columns(4)
        task = c1.selectbox("Task", TASKS, key="lab_task",
                            help="prefix: the label is in the opening 'i love/hate this'. any-one: is there a 1 "
                                 "anywhere? planted: the decisive word sits d steps from the end.")
        scheme = c2.selectbox("Scheme", list(SCHEME_NAMES), format_func=SCHEME_NAMES.get, key="lab_scheme")
        k = c3.number_input("K (or k1)", *B["k"], key="lab_k")
        seed = c4.number_input("Seed", *B["seed"], key="lab_seed")
        c1, c2, c3, c4 = st.columns(4)
        seq_len = c1.number_input("Sequence length (0 = task default)", *B["seq_len"], key="lab_seq_len")
        short_frac = c2.slider("prefix: short examples", *B["short_frac"], step=0.05, key="lab_short_frac")
        clean_last = c3.number_input("any-one: no 1 in the last M", *B["clean_last"], key="lab_clean_last")
        ones_frac = c4.slider("any-one: fraction with a 1 there", *B["ones_frac"], step=0.05, key="lab_ones_frac")
        c1, c2, c3, c4 = st.columns(4)
        distance = c1.number_input("planted: distance d", *B["distance"], key="lab_distance")
        n_train = c2.number_input("Training sequences", *B["n_train"], key="lab_n_train")
        epochs = c3.number_input("Epochs", *B["epochs"], key="lab_epochs")
        hidden = c4.number_input("Hidden size", *B["hidden"], key="lab_hidden")
        update = st.selectbox("Update rule", UPDATES, key="lab_update", format_func=UPDATE_NAMES.get, help=UPDATE_HELP)
        st.caption("Live runs have a budget so that one visitor cannot hold a shared server for minutes (one runs at "
                   f"a time; others wait their turn): about {LIVE_BUDGET['memory_mb']} MB of memory and "
                   f"{60 * LIVE_BUDGET['minutes']:.0f} s, estimated from the settings before training starts.")
        if not st.form_submit_button("Train live"):
            return None
    return LabConfig(task=task, scheme=scheme, k=int(k), seq_len=int(seq_len) or None, short_frac=float(short_frac),
                     clean_last=int(clean_last), ones_in_window_frac=float(ones_frac), distance=int(distance),
                     n_train=int(n_train), epochs=int(epochs), hidden=int(hidden), seed=int(seed), update=update)
