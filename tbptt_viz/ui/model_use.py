"""What the model uses: attribution of the prediction for both models, what truncation would remove from the
training loss's attribution, the methods' agreement and sanity check, occlusion and the context probe."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from tbptt_viz.attribution.methods import (
    METHODS,
    SHAPLEY_REPEATS,
    convergence_message,
    method_agreement,
    truncation_removed_share,
)
from tbptt_viz.attribution.shapley import EXACT_GROUPS, MAX_GROUPS
from tbptt_viz.core.schemes import SCHEME_NAMES
from tbptt_viz.gradients import analysis
from tbptt_viz.present import evidence_figures, figures
from tbptt_viz.present.colours import SIGNED_WORDS
from tbptt_viz.present.evidence_sentences import (
    shapley_check_sentence,
    shapley_sentence,
)
from tbptt_viz.present.names import method_name
from tbptt_viz.present.params import SHAPLEY_SAMPLES, SHAPLEY_SPANS
from tbptt_viz.present.render import strip_scale
from tbptt_viz.present.review import Review
from tbptt_viz.present.sentences import FIRST_N, convergence_caption, first_share
from tbptt_viz.serving import jobs
from tbptt_viz.ui import services
from tbptt_viz.ui.controls import k_control
from tbptt_viz.ui.state import sync_url, view_settings
from tbptt_viz.ui.widgets import (
    chart,
    esc,
    export_buttons,
    guarded,
    how_to_read,
    html,
    strip,
)


def attribution(model: str, ids, method: str, *args, **kw):
    """The attribution job, with the method's page options (shapley's groups and samples) from the session."""
    options = jobs.method_options(view_settings(), method)
    return services.compute(jobs.attribution(model, ids, method, *args, **kw, **options),
                            f"{method_name(method)} for {model}")


def attributions(review: Review, method: str) -> dict:
    """`method` of the logit for every model on the page; plain occlusion through `services.occlusions` (a long
    review's pieces, never a second whole computation)."""
    if method == "occlusion":
        return services.occlusions(review)
    return {n: attribution(n, review.ids_of(n), method) for n in review.names}


def show(review: Review) -> None:
    method_fragment(review)
    st.subheader("Occlusion and the context probe, both models")
    T, names = review.T, review.names
    if T <= jobs.LONG_REVIEW or st.toggle(f"Compute them for this {T}-token review (a few seconds)", key="occ_long"):
        occ, probes = services.occlusions(review), services.probes(review)
        chart(figures.occlusion_probe_figure(review.tokens, {n: occ[n].scores for n in names}, probes, FIRST_N),
              key="occlusion_probe")  # one chart with two panels: half the browser's drawing on a model switch
        how_to_read("Occlusion replaces one token by padding and re-runs the model: the line is how much the logit "
                    "drops at each token. The probe shows the prediction when the model reads only the last n "
                    "tokens, or loses the first n: if the curves move only when n passes the opening, the opening "
                    "matters.")
        export_buttons("occlusion", review.tokens, {f"occlusion ({n})": occ[n].scores for n in names},
                       {**review.meta, "method": "occlusion", "compare": review.compare,
                        **{f"probe_prob_without_first_n ({n})": probes[n].prob_without_first_n for n in names}})


@st.fragment
def method_fragment(review: Review) -> None:
    """The method-dependent part of "What the model uses": a method switch reruns only this."""
    guarded("What the model uses", method_part, review)


def attribution_strips(review: Review, method: str) -> dict:
    names = review.names
    out = attributions(review, method)
    scale = strip_scale(*(a.scores for a in out.values()))
    cols = st.columns(len(names))
    for col, n in zip(cols, names):
        a = out[n]
        with col:
            html(f"<b>{esc(n)}</b> · P(positive) = {a.prob_positive:.3f}")
            strip(review.tokens, a.scores, f"{method_name(method)} of the logit ({SIGNED_WORDS}; grey underline: "
                  f"first {FIRST_N})", scale=scale, signed=True,
                  value_name="score", first_n=FIRST_N, note=" (one scale for both models)")
            st.caption(f"first {FIRST_N} tokens: {first_share(a.scores):.0%} of |attribution|")
            convergence_note(a)
    return out


def convergence_note(a) -> None:
    """Integrated gradients' and Shapley values' own check, under their strip: a warning when it failed."""
    message = convergence_message(a)
    if message:
        st.warning(message)
    elif a.converged:
        st.caption(shapley_check_sentence(a) if a.method == "shapley" else convergence_caption(a))


def method_part(review: Review) -> None:
    method = st.selectbox("Attribution method", METHODS, key="method", format_func=method_name,
                          help="Occlusion: replace one token by padding and re-run (exact, the default). Gradient "
                               "methods add detail; integrated gradients check their own completeness. Shapley "
                               "values credit whole sentences (or spans) that act together.")
    sync_url(method=method)
    if method == "shapley":
        shapley_controls()
    names = review.names
    out = attribution_strips(review, method)
    if method == "shapley":
        shapley_part(review, out)
    how_to_read("Attribution asks what the trained model uses when it predicts, with no truncation. Comparing a model "
                "trained with truncation to one trained without shows whether it learned to use early words.")
    if method == "integrated_gradients":
        with st.expander("Integrated gradients along the path", expanded=any(a.converged is False
                                                                             for a in out.values())):
            chart(figures.ig_path_figure(out), key="ig_path")
            how_to_read("The logit along the straight path from an all-padding review (alpha = 0) to this one "
                        "(alpha = 1). Integrated gradients integrate its slope token by token; where it jumps, the "
                        "integrator narrows its steps around the jump. Where every gradient near a jump points the "
                        "same way, the jump is shared out along that direction instead (the note under the strips "
                        "says when); where even that fails, the strips are marked as not to be trusted.")
    export_buttons("attribution", review.tokens, {f"{method} ({n})": out[n].scores for n in names},
                   {**review.meta, "method": method, "compare": review.compare,
                    **{f"{'shapley' if method == 'shapley' else 'ig'} ({n})": {
                        "converged": out[n].converged, "error_estimate": out[n].error_estimate,
                        "tolerance": out[n].tolerance, "completeness_gap": out[n].completeness_gap,
                        "evaluations": out[n].evaluations, "rank_one_intervals": out[n].rank_one_intervals,
                        "groups": out[n].groups, "group_values": out[n].group_values,
                        "standard_error": out[n].standard_error, "samples": out[n].samples,
                        "repeats": out[n].repeats}
                       for n in names if out[n].converged is not None}})
    truncation_section(review, method)
    with st.expander("Do the methods agree, and do they depend on the trained weights?"):
        # Shapley values are in the table: this whole check runs only when asked for (the toggle), so their
        # 1-3 s more per review are paid by whoever asks, and the table then compares every method of the menu.
        if st.toggle(f"Compute (all {len(METHODS)} methods, and the same with the LSTM's weights randomised)",
                     key="sanity"):
            alone = Review(review.model, None, review.ids, (), review.tokens, review.label, review.review_id)
            agreement = method_agreement({m: attributions(alone, m)[review.model].scores for m in METHODS})
            check = services.compute(jobs.sanity(review.model, review.ids, method,
                                                 **jobs.method_options(view_settings(), method)), "the sanity check")
            labels = [method_name(m) for m in agreement.methods]
            st.dataframe(pd.DataFrame(agreement.spearman, index=labels, columns=labels).round(2))
            st.caption(f"Spearman rank correlation of |scores| between methods. Randomising the LSTM's weights "
                       f"(Adebayo et al. 2018) changes {method_name(method)}'s scores by "
                       f"{check.relative_change:.0%} "
                       f"(rank correlation with the trained model's {check.rank_correlation:.2f}): a method that "
                       "barely changes would be explaining the input, not the model.")


def shapley_controls() -> None:
    """Shapley's groups and sampling effort (both in the job's key; the strips and bars follow them)."""
    c1, c2 = st.columns(2)
    c1.selectbox("Groups", SHAPLEY_SPANS, key="shapley_span",
                 format_func=lambda v: "sentences" if v == 0 else f"spans of {v} tokens",
                 help=f"The players: each sentence, or consecutive spans of a fixed length (at most {MAX_GROUPS} "
                      "groups).")
    c2.selectbox("Sampled orders per repeat", SHAPLEY_SAMPLES, key="shapley_samples",
                 help=f"Each of {SHAPLEY_REPEATS} independent repeats averages this many orders of the groups (pairs: "
                      "an order and its reverse); more orders shrink the error bars and take proportionally longer. "
                      f"Up to {EXACT_GROUPS} groups every coalition is evaluated instead: exact.")


def shapley_part(review: Review, out: dict) -> None:
    """Each group's value with its 95% error bars, and the opening sentence against its tokens' occlusion."""
    T, names = review.T, review.names
    occlusion = {n: a.scores for n, a in attributions(review, "occlusion").items()} \
        if T <= jobs.LONG_REVIEW or st.session_state.get("occ_long") else {}
    cols = st.columns(len(names))
    for col, n in zip(cols, names):
        with col:
            chart(evidence_figures.shapley_figure(out[n], review.tokens, occlusion.get(n), name=n), key=f"shapley_{n}")
            if n in occlusion:
                html(f"<p><b>{esc(n)}.</b> {esc(shapley_sentence(out[n], review.tokens, occlusion[n]))}</p>")
    if not occlusion:
        st.caption(f"Single-token occlusion, the comparison for the opening, waits for the switch below on this "
                   f"{T}-token review.")
    how_to_read("Shapley values treat each group (a sentence, or a span) as one player: its value is the average "
                "change of the logit when the group joins the others, over random orders of the groups, with removed "
                "groups replaced by padding. The values add up to the logit's change from an all-padding review. "
                f"Each bar is one group, as wide as its tokens; the whisker is its 95% interval over "
                f"{SHAPLEY_REPEATS} independent repeats (none when exact). The diamond is the sum of its tokens' "
                "single-token occlusion: where a verdict is said several times, removing one word can change little "
                "while the group together matters.")


def truncation_section(review: Review, method: str) -> None:
    """Full vs truncated backprop of the same target, the training loss, for the main model."""
    st.subheader("Full vs truncated backprop of the training loss")
    scheme = st.session_state.scheme
    route = analysis.truncation_route(scheme, method)
    if route == "no-backward":
        st.info(f"{method_name(method).capitalize()} has no backward pass (it re-runs the model), so there is nothing to "
                "truncate. Pick saliency, input x gradient or integrated gradients to see what truncation removes.")
        return
    if route == "no-truncation":
        st.info("Choose a truncated scheme in the sidebar to compare.")
        return
    if not st.toggle("Show the truncated attribution next to the full one", key="trunc_toggle"):
        return
    T, model, ids = review.T, review.model, review.ids
    k = k_control(T, scheme)
    full = attribution(model, ids, method, target="loss")
    key = jobs.attribution(model, ids, method, scheme, *jobs.truncation_settings(view_settings(), T), target="loss")
    if route == "ask":
        asked = st.button(f"Compute integrated gradients under {SCHEME_NAMES[scheme]} (a few seconds)", key="trunc_ig")
        route = analysis.truncation_route(scheme, method, ready=asked or services.service().cached(key))
        if route == "ask":
            return
    trunc = analysis.truncate_last_k(full, k) if route == "mask" else \
        services.compute(key, f"{method_name(method)} for {model}")
    boundary = T - k if scheme == "last-k" and k < T else None
    scale = strip_scale(full.scores, trunc.scores)
    target = f"the training loss against label {full.label_used}"
    strip(review.tokens, full.scores, f"{model}: full backprop of {target}", scale=scale, signed=True,
          value_name="score", note=" (blue lowers the loss)")
    strip(review.tokens, trunc.scores, f"{model}: backprop {SCHEME_NAMES[scheme]} of {target}", scale=scale,
          signed=True, value_name="score", boundary=boundary, zero_is_cut=True, boundary_text=f" K={k}")
    c1, c2 = st.columns(2)
    c1.metric("share of |attribution| outside every window (cut off)",
              f"{truncation_removed_share(full.scores, trunc.windows, T):.0%}")
    c2.metric("how much truncation changes the attribution",
              f"{analysis.attribution_change(full.scores, trunc.scores):.0%}",
              help="sum |truncated - full| / sum |full|")
    if method == "integrated_gradients":
        st.caption(f"Both are integrated gradients of the same target, each checked against its own: estimated "
                   f"error (L2 over tokens) full {full.error_estimate:.2g} of tolerance {full.tolerance:.2g}, "
                   f"truncated {trunc.error_estimate:.2g} of {trunc.tolerance:.2g}; completeness gap full "
                   f"{full.completeness_gap:+.2g} of {full.target_change:+.3f}, truncated "
                   f"{trunc.completeness_gap:+.2g} of {trunc.target_change:+.3f} (the windows' tokens moved from "
                   "padding with their entering state held). Within those errors, the difference between the "
                   "strips is the truncation, not the method.")
        convergence_note(full)
        convergence_note(trunc)
    else:
        st.caption("Both strips are exact gradients of the same training loss; the difference is the truncation alone.")
