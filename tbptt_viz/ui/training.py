"""What training sees: how much gradient each token gets from the review's loss under the chosen scheme."""
from __future__ import annotations

import numpy as np
import streamlit as st

from tbptt_viz.gradients import analysis
from tbptt_viz.present import evidence_figures, figures
from tbptt_viz.present.evidence_sentences import exposure_bounds_note, exposure_sentence
from tbptt_viz.present.render import strip_scale
from tbptt_viz.present.review import Review
from tbptt_viz.present.sentences import FIRST_N
from tbptt_viz.serving import jobs
from tbptt_viz.ui import services
from tbptt_viz.ui.controls import k_control
from tbptt_viz.ui.state import view_settings
from tbptt_viz.ui.widgets import chart, esc, export_buttons, guarded, how_to_read, html, strip
from tbptt_viz.ui.word import followed_word


def review_flow(review: Review) -> analysis.ReviewFlow:
    return services.compute(jobs.flow(review.model, review.ids, review.label), "the gradients of this review")


def scheme_view(review: Review, scheme: str, k: int) -> tuple[analysis.ReviewFlow, analysis.SchemeView]:
    """The review's flow and the view of it for (scheme, K); TBPTT(k1, k2) asks for its own flow."""
    s = st.session_state
    rf = review_flow(review)
    return rf, analysis.picked_view(rf, scheme, k, lambda: services.compute(
        jobs.k1k2(review.model, review.ids, review.label, s.k1, s.k2), "TBPTT(k1, k2) gradients"))


def training_strips(tokens, rf: analysis.ReviewFlow, view: analysis.SchemeView) -> None:
    """Full BPTT's ||dL/dx_t|| and the scheme's, one strip each (one strip when the scheme cuts nothing)."""
    T, f = rf.T, rf.full
    full_scale = strip_scale(f.full_input_grad_norm)
    if view.scheme == "full" or not np.any(view.input_grad_norm != f.full_input_grad_norm):
        strip(tokens, f.full_input_grad_norm, f"{view.label if view.scheme != 'full' else 'Full BPTT'}: ||dL/dx_t|| "
              "(no truncation on this review: one strip)", scale=full_scale, value_name="||dL/dx_t||")
        return
    boundary = int(view.windows[:, 1].min()) if view.scheme == "last-k" and view.k < T else None
    shared = view.scheme == "last-k"  # inside the window last-K equals full BPTT: one scale shows that
    scale = full_scale if shared else strip_scale(view.input_grad_norm)
    strip(tokens, f.full_input_grad_norm, "Full BPTT: ||dL/dx_t|| (darker = larger)", scale=full_scale,
          value_name="||dL/dx_t||", zero_is_cut=True)
    strip(tokens, view.input_grad_norm, f"{view.label}: ||dL/dx_t|| (hatched grey = exactly zero)", scale=scale,
          value_name="||dL/dx_t||", zero_is_cut=True, boundary=boundary,
          boundary_text=f" K={view.k}: gradient stops here" if boundary is not None else "",
          note=" (the same scale as full BPTT)" if shared else " (its own scale: many losses add up)")


def show(review: Review) -> None:
    scheme = st.session_state.scheme
    k = k_control(review.T, scheme)
    rf, view = scheme_view(review, scheme, k)
    T, f = review.T, rf.full
    training_strips(review.tokens, rf, view)
    zero = int(np.sum(view.input_grad_norm == 0))
    c1, c2, c3 = st.columns(3)
    c1.metric("tokens with exactly zero gradient", f"{zero} of {T}")
    c2.metric(f"gradient reaching the first {min(FIRST_N, T)} tokens", f"{view.input_grad_norm[:FIRST_N].sum():.3g}",
              help="sum of ||dL/dx_t|| over the first tokens under the chosen scheme")
    c3.metric("loss against", f"{'positive' if f.label_used else 'negative'} ({f.label_source})")
    how_to_read("Each token is shaded by how much gradient the training loss sends to its embedding; the legend "
                "under each strip gives the value of the darkest colour. Under truncation the tokens before the cut "
                "are hatched: their gradient is exactly zero, so this review teaches the model nothing about them.")
    # Under full BPTT and last-K one loss at the end reaches a contiguous run of tokens: the strips above say
    # all the chart would. Its redraw is most of a K step's time in the browser, so there it waits for a click.
    if view.scheme in ("chunked", "k1k2") or st.toggle("Show the chart of losses reaching each token",
                                                       key="timeline_toggle"):
        chart(figures.backprop_timeline(view), key="timeline")
    how_to_read("The filled steps count how many loss terms back-propagate to each token; the grey line is the "
                "longest distance from the token to such a loss. Full and last-K have one loss at the end; chunked "
                "and TBPTT(k1, k2) have one every K (or k1) steps, so every token gets a gradient from some nearby "
                "loss.")
    export_buttons("gradients", review.tokens, {
        "full_input_grad_norm": f.full_input_grad_norm, "scheme_input_grad_norm": view.input_grad_norm,
        "full_hidden_grad_norm": f.full_hidden_grad_norm, "scheme_hidden_grad_norm": view.hidden_grad_norm,
        "full_cell_grad_norm": f.full_cell_grad_norm, "scheme_cell_grad_norm": view.cell_grad_norm,
        "backprop_count": view.backprop_count, "backprop_reach": view.backprop_reach},
        {**review.meta, "scheme": view.scheme, "scheme_label": view.label, "k": view.k, "windows": view.windows,
         "label_used": f.label_used, "label_source": f.label_source, "prob_positive": f.prob_positive})
    guarded("Where each word was trained", exposure_section, review, k)


def exposures(review: Review, k: int):
    """(exposure under the chosen scheme and K, {model: exposure under its own training scheme}): lookups in the
    shipped statistics, no model pass. Under last-K and chunked one job holds every K the slider offers."""
    chosen, *trained = jobs.exposure_jobs(review, view_settings())
    e = services.compute(chosen, "training exposure")
    return (e[k] if isinstance(e, dict) else e), {
        n: services.compute(key, f"training exposure for {n}") for n, key in zip(review.names, trained)}


def exposure_section(review: Review, k: int) -> None:
    """Where in the training set each word of this review received gradient: the answer to "but where did the
    model learn that word?" (issue 23, part 1)."""
    st.subheader("Where each word was trained")
    S = followed_word(review, "training")
    chosen, trained = exposures(review, k)
    cards = services.cards()
    for n, e in trained.items():
        html(f"<p><b>{esc(n)}</b> (trained with {esc(cards.get(n, {}).get('label', e.label))}): "
             f"{esc(exposure_sentence(e, review.tokens, S))}</p>")
    html(f"<p><b>Under the scheme chosen above</b> ({esc(chosen.label)}): "
         f"{esc(exposure_sentence(chosen, review.tokens, S))}</p>")
    tips = [f"{tok}: unknown word" if o < 0 else f"{tok}: in reach in {r:,} of its {o:,} training reviews"
            + ("" if chosen.exact else f" (at most {h:,})")
            for tok, o, r, h in zip(review.tokens, chosen.occurrences, chosen.in_reach, chosen.in_reach_high)]
    strip(review.tokens, chosen.share, f"{chosen.label}: of the training reviews that contain each word, the share "
          f"in which the gradient reached it (hatched: none; {chosen.reviews:,} training reviews in all)",
          scale=1.0, value_name="share in reach", zero_is_cut=True, tips=tips)
    bounded = [e for e in (chosen, *trained.values()) if not e.exact]
    if bounded:
        st.caption(exposure_bounds_note(bounded[0]))
    how_to_read("A word's embedding is trained only where a training loss's gradient reaches it. For every word "
                "of this review, the counts come from the IMDB training split: in how many training reviews it "
                "occurs, and in how many of them at least one occurrence lay inside a training window of the scheme. "
                "Under last-K that is the last K tokens, so an opening word is trained by the reviews that use it "
                "near their end (or are short). Unknown words are left blank.")
    if st.toggle("Show both models' training schemes along the review (chart)", key="exposure_chart"):
        chart(evidence_figures.exposure_figure(trained, review.tokens), key="exposure")
    export_buttons("exposure", review.tokens, {
        "occurrences": chosen.occurrences, "in_reach": chosen.in_reach, "in_reach_high": chosen.in_reach_high,
        **{f"in_reach ({n}, {e.label})": e.in_reach for n, e in trained.items()}},
        {**review.meta, "scheme_label": chosen.label, "exact": chosen.exact, "training_reviews": chosen.reviews})
