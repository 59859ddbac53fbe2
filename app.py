"""tbptt-viz: where gradients go when an LSTM is trained with truncated backpropagation through time.

This file only wires widgets to tbptt_viz: every number comes from a tested function there.
Run: streamlit run app.py  (optional: streamlit run app.py -- --data-dir ../shared/data/imdb)
"""
from __future__ import annotations

import argparse
import html
import json
import random
import sys
import time

import numpy as np
import pandas as pd
import streamlit as st
import torch

from tbptt_viz import analysis, figures, params
from tbptt_viz.checkpoint import CheckpointError, available_models, load_pretrained, model_cards
from tbptt_viz.data import examples, load_imdb
from tbptt_viz.flow import gradient_flow
from tbptt_viz.lessons import LESSONS
from tbptt_viz.render import STRIP_CSS, token_strip
from tbptt_viz.schemes import SchemeError
from tbptt_viz.text import MAX_TOKENS, EmptyReview, prepare_review

torch.set_num_threads(1)  # one review's small ops run fastest on one thread, and visitors don't compete

TABS = ["Lessons", "What training sees", "Gradient through time", "What the model uses", "Memory", "Model zoo",
        "Lab"]
SCHEME_NAMES = {"full": "full BPTT", "last-k": "last-K", "chunked": "chunked (loss every K)", "k1k2": "TBPTT(k1, k2)"}
FIRST_N = 30  # the "first words" of the question
LONG_REVIEW = 800  # tokens above which occlusion and the context probe wait for a click


def cli_args() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", default=None, help="folder with IMDB test.jsonl[.gz]")
    return p.parse_known_args(sys.argv[1:])[0]


# ---------------------------------------------------------------- cached computations (keyed by plain values)
@st.cache_resource(show_spinner=False)
def get_model(name: str):
    return load_pretrained(name)


@st.cache_data(show_spinner=False)
def get_cards() -> dict[str, dict]:
    return {c["name"]: c for c in model_cards()}


@st.cache_data(show_spinner=False, max_entries=32)
def get_review_flow(model_name: str, ids: tuple[int, ...], label: int | None) -> analysis.ReviewFlow:
    return analysis.review_flow(get_model(model_name), torch.tensor(ids), label)


@st.cache_data(show_spinner=False, max_entries=32)
def get_k1k2_flow(model_name: str, ids: tuple[int, ...], label: int | None, k1: int, k2: int):
    return gradient_flow(get_model(model_name), torch.tensor(ids), "k1k2", k1=k1, k2=k2, label=label)


@st.cache_data(show_spinner=False, max_entries=64)
def get_attribution(model_name: str, ids: tuple[int, ...], method: str, backprop: str = "full", k=None, k1=None,
                    k2=None):
    from tbptt_viz.attribution import attribute

    return attribute(get_model(model_name), torch.tensor(ids), method, backprop=backprop, k=k, k1=k1, k2=k2)


@st.cache_data(show_spinner=False, max_entries=16)
def get_sanity(model_name: str, ids: tuple[int, ...], method: str):
    from tbptt_viz.attribution import METHODS, method_agreement, sanity_check

    scores = {m: get_attribution(model_name, ids, m).scores for m in METHODS}
    return method_agreement(scores), sanity_check(get_model(model_name), torch.tensor(ids), method)


@st.cache_data(show_spinner=False, max_entries=32)
def get_probe(model_name: str, ids: tuple[int, ...]):
    from tbptt_viz.attribution import context_probe

    return context_probe(get_model(model_name), torch.tensor(ids))


@st.cache_data(show_spinner=False, max_entries=32)
def get_memory(model_name: str, ids: tuple[int, ...]):
    from tbptt_viz.attribution import memory_trace

    return memory_trace(get_model(model_name), torch.tensor(ids))


@st.cache_resource(show_spinner=False)
def get_imdb(data_dir: str | None) -> dict[str, tuple[str, int, int]] | str:
    """{id: (text, label, words)} of the IMDB test split, or the reason it is unavailable."""
    try:
        return {r.id: (r.text, r.label, len(r.text.split())) for r in load_imdb("test", data_dir)}
    except Exception as e:  # noqa: BLE001 - a broken file must not break the page
        return str(e)


# ---------------------------------------------------------------- state and controls
def init_state(models: list[str], example_ids: list[str]) -> None:
    """First run of a session: settings from the URL (bad values fall back, with a notice)."""
    if "initialised" in st.session_state:
        return
    s, notices = params.parse_query(st.query_params.to_dict(), models, example_ids)
    view = st.query_params.get("view")
    if view is not None and view not in TABS:
        notices.append(f"unknown view {view!r} in the URL; opening {TABS[0]}")
    st.session_state.update(
        initialised=True, url_notices=notices, use_true=True, trunc_toggle=True, model=s.model, scheme=s.scheme,
        k=s.k, k_wanted=s.k, k1=s.k1, k2=s.k2, compare=s.compare or None,
        method=s.method, text=s.text, example=s.review if s.review in example_ids else example_ids[0],
        imdb_id=s.review[len(params.IMDB_PREFIX):] if s.review.startswith(params.IMDB_PREFIX) else None,
        source="Your own text" if s.review == params.CUSTOM else
        "IMDB test reviews" if s.review.startswith(params.IMDB_PREFIX) else "Example reviews")


def apply_lesson(lesson) -> None:
    """Button callback: set the lesson's preset before the widgets are drawn."""
    preset = dict(lesson.preset)
    if "review" in preset:
        st.session_state.source, st.session_state.example = "Example reviews", preset.pop("review")
    for key, value in preset.items():
        if key != "model" or value in available_models():
            st.session_state[key] = value
    if "k" in preset:
        st.session_state.k_wanted = preset["k"]
    st.session_state.view = lesson.tab


def review_controls(data_dir: str | None) -> tuple[str, str, int | None, str]:
    """(review id for the URL, text, true label or None, title) from the sidebar."""
    ex = {e.id: e for e in examples()}
    sources = ["Example reviews", "IMDB test reviews", "Your own text"]
    source = st.sidebar.radio("Review", sources, key="source", horizontal=False)
    if source == "Example reviews":
        rid = st.sidebar.selectbox("Example", list(ex), key="example", format_func=lambda i: ex[i].title)
        return rid, ex[rid].text, ex[rid].label, ex[rid].title
    if source == "Your own text":
        text = st.sidebar.text_area("Your review", key="text", height=180, max_chars=40_000,
                                    placeholder="Type or paste a review...")
        if len(text) > params.MAX_URL_TEXT:
            st.sidebar.caption(f"A shared link keeps the first {params.MAX_URL_TEXT:,} characters of this text.")
        return params.CUSTOM, text, None, "Your review"
    rows = get_imdb(data_dir)
    fallback = ex["love-then-plot"]
    if isinstance(rows, str):
        st.sidebar.info(f"{params.md_escape(rows)}. The examples and your own text still work.")
        return fallback.id, fallback.text, fallback.label, fallback.title
    label = st.sidebar.radio("Label", ["any", "positive", "negative"], horizontal=True, key="imdb_label")
    lo, hi = st.sidebar.slider("Length (words)", 10, 1000, (100, 300), step=10, key="imdb_len")
    wanted = {"any": (0, 1), "positive": (1,), "negative": (0,)}[label]
    pool = [rid for rid, (_, y, n) in rows.items() if y in wanted and lo <= n <= hi]
    current = st.session_state.get("imdb_id")
    if current not in rows:  # none yet, or a link to a review this data does not have
        if not pool:
            st.sidebar.warning("No IMDB review matches these filters; widen the length range.")
            return fallback.id, fallback.text, fallback.label, fallback.title
        current = st.session_state.imdb_id = random.Random().choice(pool)
    st.sidebar.button("Random review", key="imdb_random", disabled=not pool, on_click=lambda: st.session_state.update(
        imdb_id=random.Random().choice(pool)))
    options = ([current] if current not in pool[:300] else []) + pool[:300]
    st.session_state.imdb_pick = current
    st.sidebar.selectbox(f"Review ({len(pool)} match)", options, key="imdb_pick",
                         on_change=lambda: st.session_state.update(imdb_id=st.session_state.imdb_pick),
                         format_func=lambda r: f"{r} · {'pos' if rows[r][1] else 'neg'} · {rows[r][2]} words · "
                                               f"{rows[r][0][:40]}")
    text, y, _ = rows[current]
    return params.IMDB_PREFIX + current, text, y, f"IMDB {current}"


def model_controls(models: list[str]) -> tuple[str, str]:
    cards = get_cards()

    def describe(name):
        c = cards.get(name, {})
        acc = c.get("test_accuracy")
        return f"{name} · {c.get('label', c.get('scheme', '?'))}" + (f" · acc {acc:.3f}" if acc else "")

    model = st.sidebar.selectbox("Model", models, key="model", format_func=describe)
    others = [m for m in models if m != model] or models
    default = "imdb-full" if model != "imdb-full" and "imdb-full" in others else \
        "imdb-last-k30" if "imdb-last-k30" in others else others[0]
    if st.session_state.get("compare") not in others:
        st.session_state.compare = default
    compare = st.sidebar.selectbox("Compare with", others, key="compare", format_func=describe)
    return model, compare


def scheme_controls(T: int) -> tuple[str, int, int, int]:
    st.sidebar.divider()
    scheme = st.sidebar.radio("Truncation scheme (for the gradient views)", list(SCHEME_NAMES), key="scheme",
                              format_func=SCHEME_NAMES.get)
    choices = analysis.k_choices(T)
    wanted = int(st.session_state.get("k_wanted", 30))  # what the user chose; a short review only clips it
    st.session_state.k = params.snap_k(wanted, choices)
    if st.session_state.k != wanted and scheme in ("last-k", "chunked"):
        st.sidebar.caption(f"K={wanted} is not offered for this {T}-token review; showing K={st.session_state.k}.")
    k = st.sidebar.select_slider("K (truncation length)", choices, key="k", disabled=scheme in ("full", "k1k2"),
                                 on_change=lambda: st.session_state.update(k_wanted=st.session_state.k),
                                 help="last-K: only the last K tokens get gradient. chunked: a loss every K tokens. "
                                      f"{T} = the whole review (no truncation).")
    k1 = k2 = None
    if scheme == "k1k2":
        c1, c2 = st.sidebar.columns(2)
        k1 = c1.number_input("k1 (loss every)", 1, MAX_TOKENS, key="k1", step=1)
        k2 = c2.number_input("k2 (backprop over)", 1, MAX_TOKENS, key="k2", step=1)
    return scheme, int(k), int(k1 or st.session_state.get("k1", 30)), int(k2 or st.session_state.get("k2", 60))


def sync_url(settings: params.Settings) -> None:
    q = params.to_query(settings)
    for key in ("review", "text", "model", "scheme", "k", "k1", "k2", "method", "compare"):
        if key in q and st.query_params.get(key) != q[key]:
            st.query_params[key] = q[key]
        elif key not in q and key in st.query_params:
            del st.query_params[key]


# ---------------------------------------------------------------- views
def how_to_read(text: str) -> None:
    st.caption(f"**How to read this.** {text}")


def guarded(title: str, draw, *args) -> None:
    """Draw one view; an error becomes a message and the rest of the page still works."""
    try:
        draw(*args)
    except (ImportError, ModuleNotFoundError) as e:
        st.info(f"{title} is not available in this installation ({e}).")
    except Exception as e:  # noqa: BLE001 - nothing may reach the page as a traceback
        st.error(f"{title} could not be drawn: {type(e).__name__}: {e}. Try another review, a shorter text or "
                 "another model; the other views still work.")


def show_training_view(tokens, rf, view, T) -> None:
    f = rf.full
    scale = float(max(f.full_input_grad_norm.max(), view.input_grad_norm.max()))
    boundary = int(view.windows[:, 1].min()) if view.scheme == "last-k" and view.k < T else None
    st.markdown(STRIP_CSS + token_strip(tokens, f.full_input_grad_norm, scale=scale, zero_is_cut=True,
                                        label="Full BPTT: ||dL/dx_t|| (darker = larger gradient)",
                                        value_name="|dL/dx|"), unsafe_allow_html=True)
    st.markdown(token_strip(tokens, view.input_grad_norm, scale=scale, zero_is_cut=True, boundary=boundary,
                            boundary_text=f" K={view.k}: gradient stops here" if boundary is not None else "",
                            label=f"{view.label}: ||dL/dx_t|| (hatched grey = exactly zero)",
                            value_name="|dL/dx|"), unsafe_allow_html=True)
    zero = int(np.sum(view.input_grad_norm == 0))
    first = view.input_grad_norm[: min(FIRST_N, T)]
    c1, c2, c3 = st.columns(3)
    c1.metric("tokens with exactly zero gradient", f"{zero} of {T}")
    c2.metric(f"gradient reaching the first {min(FIRST_N, T)} tokens", f"{first.sum():.3g}",
              help="sum of ||dL/dx_t|| over the first tokens under the chosen scheme")
    c3.metric("loss against", f"{'positive' if f.label_used else 'negative'} ({f.label_source})")
    how_to_read("Each token is shaded by how much gradient the training loss sends to its embedding. Under "
                "truncation the tokens before the cut are hatched: their gradient is exactly zero, so this review "
                "teaches the model nothing about them.")
    st.plotly_chart(figures.backprop_timeline(view), key="timeline")
    export_buttons("gradients", tokens, {
        "full_input_grad_norm": f.full_input_grad_norm, "scheme_input_grad_norm": view.input_grad_norm,
        "full_hidden_grad_norm": f.full_hidden_grad_norm, "scheme_hidden_grad_norm": view.hidden_grad_norm,
        "full_cell_grad_norm": f.full_cell_grad_norm, "scheme_cell_grad_norm": view.cell_grad_norm,
        "backprop_count": view.backprop_count, "backprop_reach": view.backprop_reach},
        {"scheme": view.scheme, "label": view.label, "k": view.k, "windows": view.windows,
         "label_used": f.label_used, "label_source": f.label_source, "prob_positive": f.prob_positive,
         "sweep_k": f.sweep_k, "sweep_cosine": f.sweep_cosine, "sweep_relative_error": f.sweep_relative_error})
    how_to_read("Bars count how many loss terms back-propagate to each token; the line is the longest distance "
                "from the token to such a loss. Full and last-K have one loss at the end; chunked and TBPTT(k1, k2) "
                "have one every K (or k1) steps, so every token gets a gradient from some nearby loss.")


def show_gradient_time_view(rf, view, T) -> None:
    st.plotly_chart(figures.gradient_through_time(view, rf.full, T), key="through_time")
    how_to_read("Solid lines are the chosen scheme, dotted lines full BPTT, against distance from the end on log "
                "axes. Under full BPTT the gradient can fade with distance (how fast depends on the model's forget "
                "gates); under last-K it stops dead at K (the line ends: zero cannot be drawn on a log axis).")
    st.plotly_chart(figures.bias_curve(rf.full, view.k if view.scheme == "last-k" else None), key="bias")
    if view.scheme == "last-k":
        at_k = (f"At K = {view.k}: cosine {view.sweep_cosine:.3f}, relative error {view.sweep_relative_error:.3f}. ")
    else:
        at_k = ("Full BPTT is the right end of the curve (K = T: cosine 1, error 0). " if view.scheme == "full" else
                f"This curve is always last-K: a reference for {view.label}, whose gradient is not a last-K "
                "partial sum, so no point on it is marked. ")
    how_to_read("For every K, the cosine between the last-K and the full gradient of the LSTM's weights, and "
                f"their relative distance. {at_k}A cosine near 1 means truncation barely changes this step's "
                "update direction; the gap is the bias truncation introduces.")


def show_model_use_view(tokens, ids, model, compare, method, scheme, k, k1, k2, T) -> None:
    from tbptt_viz.attribution import region_shares, truncation_removed_share

    main = get_attribution(model, ids, method)
    other_ids = ids if get_model(compare).vocab == get_model(model).vocab else \
        tuple(get_model(compare).vocab.encode(tokens))
    other = get_attribution(compare, other_ids, method)
    last_k = k if scheme in ("last-k", "chunked") else FIRST_N  # the "last words" region
    scale = float(max(np.abs(main.scores).max(), np.abs(other.scores).max()))  # one scale: colours compare
    cols = st.columns(2)
    for col, name, attr in ((cols[0], model, main), (cols[1], compare, other)):
        with col:
            st.markdown(f"**{html.escape(name)}** · P(positive) = {attr.prob_positive:.3f}")
            st.markdown(STRIP_CSS + token_strip(tokens, attr.scores, signed=True, first_n=FIRST_N, last_k=last_k,
                                                scale=scale,
                                                label=f"{method} (green: towards positive, red: towards negative; "
                                                      f"purple underline: first {FIRST_N}, blue: last {last_k})",
                                                value_name=method), unsafe_allow_html=True)
            shares = region_shares(attr.scores, FIRST_N, last_k)
            st.caption(f"share of |attribution|: first {FIRST_N} tokens {shares['first_n']:.0%} · last {last_k} "
                       f"{shares['last_k']:.0%} · before the last {last_k} {shares['beyond_k']:.0%}")
    how_to_read("Attribution asks what the trained model uses when it predicts, with a backward pass through the "
                "whole review (no truncation). Comparing a model trained with truncation to one trained without "
                "shows whether it learned to use early words.")
    st.plotly_chart(figures.attribution_bars(tokens, {model: main.scores, compare: other.scores}, FIRST_N, last_k),
                    key="attr_bars")

    st.subheader("Full vs truncated backprop for this attribution")
    trunc = None
    if not main.has_backward:
        st.info(f"{main.note} Pick a gradient method (integrated gradients, saliency, input x gradient) to compare.")
    elif scheme == "full":
        st.info("Choose a truncated scheme in the sidebar to see what truncation removes from the attribution.")
    elif st.toggle("Show the truncated attribution next to the full one", key="trunc_toggle"):
        # last-K needs no model pass (the full scores, masked); chunked and k1k2 run once per setting
        trunc = analysis.truncate_last_k(main, k) if scheme == "last-k" else \
            get_attribution(model, ids, method, scheme, k if scheme == "chunked" else None,
                            k1 if scheme == "k1k2" else None, k2 if scheme == "k1k2" else None)
        boundary = T - k if scheme == "last-k" and k < T else None
        scale = float(np.abs(main.scores).max())
        st.markdown(STRIP_CSS + token_strip(tokens, main.scores, signed=True, label=f"{model}, full backprop",
                                            value_name=method, scale=scale), unsafe_allow_html=True)
        st.markdown(token_strip(tokens, trunc.scores, signed=True, boundary=boundary, zero_is_cut=True, scale=scale,
                                boundary_text=f" K={k}", label=f"{model}, backprop {scheme}", value_name=method),
                    unsafe_allow_html=True)
        c1, c2 = st.columns(2)
        c1.metric("share of |attribution| outside every window (cut off)",
                  f"{truncation_removed_share(main.scores, trunc.windows, T):.0%}")
        change = analysis.attribution_change(main.scores, trunc.scores)
        c2.metric("how much truncation changes the attribution", f"{change:.0%}",
                  help="sum |truncated - full| / sum |full|")
        if method == "integrated_gradients" and trunc.completeness_gap is not None:
            st.caption(f"Completeness gap under truncation: {trunc.completeness_gap:+.3f}. Integrated gradients "
                       "normally sum to logit(review) - logit(all padding); cutting the gradient path at window "
                       "starts drops the credit that flowed across them (under last-K, all of the cut-off "
                       "tokens' credit), so the sum no longer matches.")
    with st.expander("Do the methods agree, and do they depend on the trained weights?"):
        if st.toggle("Compute (all four methods, and the same with the LSTM's weights randomised)", key="sanity"):
            agreement, sanity = get_sanity(model, ids, method)
            st.dataframe(pd.DataFrame(agreement.spearman, index=agreement.methods, columns=agreement.methods)
                         .round(2))
            st.caption(f"Spearman rank correlation of |scores| between methods. Randomising the LSTM's weights "
                       f"(Adebayo et al. 2018) changes {method}'s scores by {sanity.relative_change:.0%} "
                       f"(rank correlation with the trained model's scores {sanity.rank_correlation:.2f}): a "
                       "method that barely changes would be explaining the input, not the model.")
    st.subheader("Occlusion and the context probe")
    columns = {f"{method} ({model})": main.scores, f"{method} ({compare})": other.scores}
    probe = None
    # both grow with T^2 (about 3 s each at 2,000 tokens): long reviews compute them on request
    if T <= LONG_REVIEW or st.toggle(f"Compute them for this {T}-token review (a few seconds)", key="occ_long"):
        occ = get_attribution(model, ids, "occlusion")
        probe = get_probe(model, ids)
        st.plotly_chart(figures.attribution_bars(tokens, {f"occlusion ({model})": occ.scores}, FIRST_N, last_k,
                                                 title="Occlusion: logit drop when the token is replaced by padding"),
                        key="occlusion")
        st.plotly_chart(figures.context_probe_figure(probe, main.prob_positive), key="probe")
        how_to_read("Occlusion replaces one token by padding and re-runs the model: the bar is how much the logit "
                    "drops. The probe shows the prediction when the model reads only the last n tokens, or loses the "
                    "first n: if the curves move only when n passes the opening, the opening matters.")
        columns[f"occlusion ({model})"] = occ.scores
    if trunc is not None:
        columns[f"{method} ({model}, backprop {scheme})"] = trunc.scores
    export_buttons("attribution", tokens, columns, {"model": model, "compare": compare, "method": method,
                                                    "prob_positive": main.prob_positive, "scheme": scheme, "k": k,
                                                    "k1": k1, "k2": k2, **({} if probe is None else {
                                                        "probe_last_n": probe.last_n,
                                                        "probe_prob_last_n": probe.prob_last_n,
                                                        "probe_prob_without_first_n": probe.prob_without_first_n})})


def show_memory_view(tokens, model, ids, k, T) -> None:
    trace = get_memory(model, ids)
    st.plotly_chart(figures.memory_figure(trace, k), key="memory")
    how_to_read("Green (log scale): the product of forget gates from each position to the end, averaged over cell "
                "units, i.e. "
                "how much of what was written into the cell at t is still there at the prediction. Early words can "
                f"influence the prediction only through this path. Survival from the first token: "
                f"{trace.survival[0]:.3g}.")
    export_buttons("memory", tokens, {"forget_mean": trace.forget_mean, "survival": trace.survival,
                                      "cell_norm": trace.cell_norm, "hidden_norm": trace.hidden_norm}, {"model": model})


def show_zoo() -> None:
    cards = get_cards()
    if not cards:
        st.error("No shipped models found under pretrained/. Retrain them with scripts/train_zoo.sh (see README).")
        return
    rows = [{"model": c["name"], "scheme": c.get("label", c.get("scheme")), "test accuracy": c.get("test_accuracy"),
             "epochs": c.get("epochs"), "train time (s)": round(float(c.get("wall_time_s") or 0)),
             "tokens/s": c.get("tokens_per_s")}
            for c in cards.values()]
    st.table(pd.DataFrame(rows).set_index("model"))
    how_to_read("Each model has the same vocabulary, architecture and number of epochs (seed 0 unless named "
                "-seed1); only the truncation used in training differs. Accuracy is on all 25,000 IMDB test "
                "reviews. Train times were logged under different machine loads: for a fair cost comparison see "
                "the README (one epoch per scheme, same run: last-K costs about a sixth of full BPTT).")
    study = analysis.load_results("imdb_study.json")
    if study is None:
        st.info("The IMDB study (results/imdb_study.json) is not in this installation.")
        return
    from tbptt_viz import study as study_mod

    for name in ("planted_figure", "context_figure", "length_figure", "attribution_figure"):
        fn = getattr(study_mod, name, None)
        if fn is not None:
            st.plotly_chart(fn(study), key=f"study_{name}")


def lab_form():
    """The live-run form; returns a LabConfig when submitted (None otherwise)."""
    from tbptt_viz.lab import LIVE_CAPS, TASKS, LabConfig

    with st.form("lab_form"):
        c1, c2, c3, c4 = st.columns(4)
        task = c1.selectbox("Task", TASKS, key="lab_task",
                            help="prefix: the label is in the opening 'i love/hate this'. any-one: "
                            "is there a 1 anywhere? planted: the decisive word sits d steps from the end.")
        scheme = c2.selectbox("Scheme", list(SCHEME_NAMES), index=1, format_func=SCHEME_NAMES.get, key="lab_scheme")
        k = c3.number_input("K (or k1)", 1, 500, 30)
        seed = c4.number_input("Seed", 0, 10_000, 0)
        c1, c2, c3, c4 = st.columns(4)
        seq_len = c1.number_input("Sequence length (0 = task default)", 0, 10_000, 0)
        short_frac = c2.slider("prefix: short examples", 0.0, 1.0, 0.0, 0.05)
        clean_last = c3.number_input("any-one: no 1 in the last M", 0, 1000, 10)
        ones_frac = c4.slider("any-one: fraction with a 1 there", 0.0, 1.0, 0.0, 0.05)
        c1, c2, c3, c4 = st.columns(4)
        distance = c1.number_input("planted: distance d", 0, 10_000, 20)
        n_train = c2.number_input("Training sequences", 2, 100_000, 1000)
        epochs = c3.number_input("Epochs", 1, 1000, 20)
        hidden = c4.number_input("Hidden size", 1, 1024, 32)
        st.caption("Live runs are capped so that one visitor cannot hold a shared server for minutes: "
                   + ", ".join(f"{k} <= {v}" for k, v in LIVE_CAPS.items()) + ".")
        if not st.form_submit_button("Train live"):
            return None
    return LabConfig(task=task, scheme=scheme, k=int(k), seq_len=int(seq_len) or None, short_frac=float(short_frac),
                     clean_last=int(clean_last), ones_in_window_frac=float(ones_frac), distance=int(distance),
                     n_train=int(n_train), epochs=int(epochs), hidden=int(hidden), seed=int(seed))


def show_lab() -> None:
    from tbptt_viz import figures_lab
    from tbptt_viz.lab import LabConfigError, cap_for_live, lab_run, load_lab_results

    st.markdown("Tiny LSTMs trained in seconds on synthetic tasks built to test the answers' claims, with the "
                "same truncation schemes and training code as the IMDB models.")
    results = load_lab_results()
    if results is None:
        st.info("The precomputed sweep (results/lab.json) is not in this installation; live runs still work.")
    else:
        for name in ("prefix_heatmaps", "any_one_by_position", "planted_by_distance", "forget_bias_figure"):
            guarded(name, lambda fn=getattr(figures_lab, name): st.plotly_chart(fn(results), key=f"lab_{name}"))
        how_to_read("Accuracy on long test sequences, mean over seeds (spread in the hover text); chance is 0.5. "
                    "A scheme that never back-propagates to the decisive tokens usually stays at chance, but not "
                    "always: a trace of an early token carried by the recurrence into the window can be learned "
                    "there (see the forget-bias rows), even though the early token's own embedding never changes.")
    st.subheader("Run one configuration live")
    try:
        config = lab_form()
        if config is not None:
            config, notices = cap_for_live(config)
            for n in notices:
                st.warning(n)
            bar = st.progress(0.0, text="training...")
            result = lab_run(config, progress=lambda done, total, loss: bar.progress(
                done / total, text=f"batch {done}/{total}, loss {loss:.3f}"))
            bar.empty()
            st.session_state.lab_result = result
    except (LabConfigError, ValueError) as e:
        st.error(f"This configuration cannot run: {e}. Change the setting and train again.")
    result = st.session_state.get("lab_result")
    if result is None:
        return
    c = result.config
    st.metric(f"test accuracy ({c.task}, {c.scheme_label}, seed {c.seed})", f"{result.test_accuracy:.3f}",
              help=f"trained in {result.wall_time_s:.1f} s")
    st.plotly_chart(figures_lab.training_curve(result), key="lab_curve")
    ids = tuple(int(i) for i in result.sample_ids)
    rf = analysis.review_flow(result.model, torch.tensor(ids), result.sample_label)
    T = rf.T
    k = params.snap_k(c.k or T, analysis.k_choices(T)) if c.scheme in ("last-k", "chunked") else T
    k1k2 = gradient_flow(result.model, torch.tensor(ids), "k1k2", k1=c.k1, k2=c.k2, label=result.sample_label) \
        if c.scheme == "k1k2" else None
    view = analysis.scheme_view(rf, c.scheme, k, k1k2)
    st.markdown(f"**A test sequence through the trained tiny model** (P(positive) = {rf.full.prob_positive:.3f})")
    show_training_view(result.sample_tokens, rf, view, T)
    show_gradient_time_view(rf, view, T)


def show_lessons() -> None:
    st.markdown("**The question.** A classifier is trained with last-K truncation (K = 30) on reviews of 100-300 "
                "words. If the gradient never reaches the first words, how can it learn that reviews opening "
                "\"I love this\" are positive? Work through the steps; each button sets up the view to look at.")
    for n, lesson in enumerate(LESSONS):
        with st.expander(lesson.title, expanded=n == 0):
            st.write(lesson.explain)
            st.button(f"Set up this step (then open \"{lesson.tab}\")", key=f"lesson_{n}", on_click=apply_lesson,
                      args=(lesson,))
            guess = st.radio(lesson.question, lesson.options, index=None, key=f"guess_{n}")
            if guess is not None:
                right = lesson.options.index(guess) == lesson.answer
                (st.success if right else st.warning)(("Right. " if right else "Not quite. ") + lesson.reveal)


def export_buttons(name: str, tokens, columns: dict, meta: dict) -> None:
    """CSV and JSON downloads of this view's per-token numbers (JSON adds the view's settings)."""
    T = len(tokens)
    table = pd.DataFrame({"t": np.arange(T), "token": tokens, "steps_from_end": T - 1 - np.arange(T), **columns})
    plain = json.dumps({**meta, "per_token": table.to_dict("list")},
                       default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v))
    c1, c2, _ = st.columns([1, 1, 4])
    c1.download_button("Download CSV", table.to_csv(index=False), f"tbptt_viz_{name}.csv", "text/csv",
                       key=f"csv_{name}")
    c2.download_button("Download JSON", plain, f"tbptt_viz_{name}.json", "application/json", key=f"json_{name}")


# ---------------------------------------------------------------- page
# Widget values that must survive runs in which their widget is not drawn (another source, another scheme,
# another tab): Streamlit forgets those, so each run re-assigns them first.
KEEP = ("source", "example", "text", "imdb_label", "imdb_len", "imdb_id", "model", "compare", "scheme", "k",
        "k_wanted", "k1",
        "k2", "method", "use_true", "sanity", "trunc_toggle", "occ_long", *(f"guess_{n}" for n in range(len(LESSONS))))


def analyse(review_id, text, true_label, title, model, compare):
    """Everything the review-dependent views need, or a message saying what to do instead."""
    try:
        net = get_model(model)
    except CheckpointError as e:
        return None, f"Model {model} cannot be loaded ({e}). Pick another model in the sidebar."
    try:
        review = prepare_review(text, net.vocab)
    except EmptyReview:
        return None, "The review is empty. Type or paste a review in the sidebar, or pick an example."
    if review.was_cut:
        st.warning(f"Long review: {review.notice}.")
    ids, tokens, T = review.ids, list(review.tokens), len(review.ids)
    scheme, k, k1, k2 = scheme_controls(T)
    method = st.sidebar.selectbox("Attribution method", params.METHODS, key="method")
    use_true = true_label is not None and st.sidebar.toggle("Loss against the true label", key="use_true",
                                                           help="off: the model's own prediction")
    label = true_label if use_true else None
    sync_url(params.Settings(review_id, text, model, scheme, k, k1, k2, method, compare))
    t0 = time.perf_counter()
    try:
        rf = get_review_flow(model, ids, label)
        view = analysis.scheme_view(rf, scheme, k if scheme in ("last-k", "chunked") else T,
                                    get_k1k2_flow(model, ids, label, k1, k2) if scheme == "k1k2" else None)
    except (SchemeError, ValueError) as e:
        return None, f"These settings cannot be analysed: {e}. Change K, k1 or k2 in the sidebar."
    verdict = "positive" if rf.full.prob_positive > 0.5 else "negative"
    truth = "" if true_label is None else f" · true label: {'positive' if true_label else 'negative'}"
    st.markdown(f"**{html.escape(title)}** · {T} token{'s' if T != 1 else ''} · **{html.escape(model)}** says "
                f"P(positive) = "
                f"{rf.full.prob_positive:.3f} ({verdict}){truth}")
    with st.expander("Review text", expanded=False):  # escaped, and no blank line can end the HTML block
        st.markdown('<div style="overflow-wrap:anywhere">' + html.escape(text[:20000]).replace("\n", "<br>")
                    + "</div>", unsafe_allow_html=True)
    return {"tokens": tokens, "ids": ids, "T": T, "rf": rf, "view": view, "scheme": scheme, "k": k, "k1": k1,
            "k2": k2, "method": method, "seconds": time.perf_counter() - t0}, None


def main() -> None:
    st.set_page_config(page_title="tbptt-viz: where gradients go", layout="wide")
    started = time.perf_counter()
    st.title("Where do gradients go under truncated BPTT?")
    models = available_models()
    if not models:
        st.error("No models found under pretrained/. Reinstall the project or retrain (see README).")
        return
    init_state(models, [e.id for e in examples()])
    for key in KEEP:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    for notice in st.session_state.pop("url_notices", []):  # shown once, on the run that read the URL
        st.warning(params.md_escape(notice))

    review_id, text, true_label, title = review_controls(cli_args().data_dir)
    model, compare = model_controls(models)
    a, problem = analyse(review_id, text, true_label, title, model, compare)
    if problem and "empty" in problem:
        st.info(problem)
    elif problem:
        st.error(problem)

    tabs = st.tabs(TABS, key="view", bind="query-params")
    draws = {"Lessons": (show_lessons,), "Model zoo": (show_zoo,), "Lab": (show_lab,)}
    if a is not None:
        draws.update({
            "What training sees": (show_training_view, a["tokens"], a["rf"], a["view"], a["T"]),
            "Gradient through time": (show_gradient_time_view, a["rf"], a["view"], a["T"]),
            "What the model uses": (show_model_use_view, a["tokens"], a["ids"], model, compare, a["method"],
                                    a["scheme"], a["view"].k, a["k1"], a["k2"], a["T"]),
            "Memory": (show_memory_view, a["tokens"], model, a["ids"], a["k"] if a["scheme"] == "last-k" else None,
                       a["T"]),
        })
    for name, tab in zip(TABS, tabs):
        if tab.open is False:
            continue
        with tab:
            if name not in draws:
                st.info(problem)
                continue
            fn, *args = draws[name]
            guarded(name, fn, *args)
    with st.expander("Timing (server side)"):
        analysed = f"analysis {a['seconds'] * 1000:.0f} ms (cached after a review's first run); " if a else ""
        st.write(f"{analysed}whole page {1000 * (time.perf_counter() - started):.0f} ms")

main()
