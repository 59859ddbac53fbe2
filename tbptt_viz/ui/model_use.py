"""What the model uses: attribution of the prediction for both models, what truncation would remove from the
training loss's attribution, the methods' agreement and sanity check, occlusion and the context probe."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from tbptt_viz.attribution.methods import METHODS, convergence_message, method_agreement, truncation_removed_share
from tbptt_viz.core.schemes import SCHEME_NAMES
from tbptt_viz.gradients import analysis
from tbptt_viz.present import figures
from tbptt_viz.present.render import strip_scale
from tbptt_viz.present.review import Review
from tbptt_viz.present.sentences import FIRST_N, convergence_caption, first_share
from tbptt_viz.serving import jobs
from tbptt_viz.ui import services
from tbptt_viz.ui.controls import k_control
from tbptt_viz.ui.state import sync_url, view_settings
from tbptt_viz.ui.widgets import chart, esc, export_buttons, guarded, how_to_read, html, strip


def attribution(model: str, ids, method: str, *args, **kw):
    return services.compute(jobs.attribution(model, ids, method, *args, **kw),
                            f"{method.replace('_', ' ')} for {model}")


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
            strip(review.tokens, a.scores, f"{method.replace('_', ' ')} of the logit (green: towards positive, red: "
                  f"towards negative; purple underline: first {FIRST_N})", scale=scale, signed=True,
                  value_name="score", first_n=FIRST_N, note=" (one scale for both models)")
            st.caption(f"first {FIRST_N} tokens: {first_share(a.scores):.0%} of |attribution|")
            convergence_note(a)
    return out


def convergence_note(a) -> None:
    """Integrated gradients' own check, under their strip: a warning when they did not converge."""
    message = convergence_message(a)
    if message:
        st.warning(message)
    elif a.converged:
        st.caption(convergence_caption(a))


def method_part(review: Review) -> None:
    method = st.selectbox("Attribution method", METHODS, key="method",
                          help="occlusion: replace one token by padding and re-run (exact, the default). Gradient "
                               "methods add detail; integrated gradients check their own completeness.")
    sync_url(method=method)
    names = review.names
    out = attribution_strips(review, method)
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
                    **{f"ig ({n})": {"converged": out[n].converged, "completeness_gap": out[n].completeness_gap,
                                     "evaluations": out[n].evaluations,
                                     "rank_one_intervals": out[n].rank_one_intervals}
                       for n in names if out[n].converged is not None}})
    truncation_section(review, method)
    with st.expander("Do the methods agree, and do they depend on the trained weights?"):
        if st.toggle("Compute (all four methods, and the same with the LSTM's weights randomised)", key="sanity"):
            alone = Review(review.model, None, review.ids, (), review.tokens, review.label, review.review_id)
            agreement = method_agreement({m: attributions(alone, m)[review.model].scores for m in METHODS})
            check = services.compute(jobs.sanity(review.model, review.ids, method), "the sanity check")
            st.dataframe(pd.DataFrame(agreement.spearman, index=agreement.methods, columns=agreement.methods).round(2))
            st.caption(f"Spearman rank correlation of |scores| between methods. Randomising the LSTM's weights "
                       f"(Adebayo et al. 2018) changes {method}'s scores by {check.relative_change:.0%} "
                       f"(rank correlation with the trained model's {check.rank_correlation:.2f}): a method that "
                       "barely changes would be explaining the input, not the model.")


def truncation_section(review: Review, method: str) -> None:
    """Full vs truncated backprop of the same target, the training loss, for the main model."""
    st.subheader("Full vs truncated backprop of the training loss")
    scheme = st.session_state.scheme
    route = analysis.truncation_route(scheme, method)
    if route == "no-backward":
        st.info("Occlusion has no backward pass, so there is nothing to truncate. Pick saliency, input x gradient "
                "or integrated gradients to see what truncation removes.")
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
        services.compute(key, f"{method.replace('_', ' ')} for {model}")
    boundary = T - k if scheme == "last-k" and k < T else None
    scale = strip_scale(full.scores, trunc.scores)
    target = f"the training loss against label {full.label_used}"
    strip(review.tokens, full.scores, f"{model}: full backprop of {target}", scale=scale, signed=True,
          value_name="score", note=" (green lowers the loss)")
    strip(review.tokens, trunc.scores, f"{model}: backprop {SCHEME_NAMES[scheme]} of {target}", scale=scale,
          signed=True, value_name="score", boundary=boundary, zero_is_cut=True, boundary_text=f" K={k}")
    c1, c2 = st.columns(2)
    c1.metric("share of |attribution| outside every window (cut off)",
              f"{truncation_removed_share(full.scores, trunc.windows, T):.0%}")
    c2.metric("how much truncation changes the attribution",
              f"{analysis.attribution_change(full.scores, trunc.scores):.0%}",
              help="sum |truncated - full| / sum |full|")
    if method == "integrated_gradients":
        st.caption(f"Both are integrated gradients of the same target, each checked against its own: full "
                   f"{full.completeness_gap:+.2g} of {full.target_change:+.3f}, truncated {trunc.completeness_gap:+.2g} "
                   f"of {trunc.target_change:+.3f} (the windows' tokens moved from padding with their entering state "
                   "held). Within those gaps, the difference between the strips is the truncation, not the method.")
        convergence_note(trunc)
    else:
        st.caption("Both strips are exact gradients of the same training loss; the difference is the truncation alone.")
