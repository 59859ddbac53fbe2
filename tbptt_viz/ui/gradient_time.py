"""Gradient through time: the gradient's size at every position, and how far truncation moves the update."""
from __future__ import annotations

import streamlit as st

from tbptt_viz.present import figures
from tbptt_viz.present.review import Review
from tbptt_viz.ui.controls import k_control
from tbptt_viz.ui.training import scheme_view
from tbptt_viz.ui.widgets import chart, how_to_read


def show(review: Review) -> None:
    scheme = st.session_state.scheme
    k = k_control(review.T, scheme)
    rf, view = scheme_view(review, scheme, k)
    T, f = review.T, rf.full
    chart(figures.gradient_through_time(view, f, T, review.model), key="through_time")
    first, last = f.full_input_grad_norm[0], f.full_input_grad_norm[-1]
    ratio = first / last if last > 0 else float("nan")
    how_to_read("Token position runs left to right as in every view, the prediction at the right end. Grey: full "
                f"BPTT; in {review.model}'s colour: the chosen scheme; solid, dashed and dotted: the gradient with "
                "respect to the input x, the hidden state h and the cell c. The grey band marks positions whose "
                "gradient is exactly zero (a log "
                f"axis cannot draw 0). Under full BPTT here, ||dL/dx|| at the first token is {ratio:.2g} times the "
                "one at the last token.")
    chart(figures.bias_curve(f, view.k if view.scheme == "last-k" else None, review.model), key="bias")
    at_k = (f"At K = {view.k}: cosine {view.sweep_cosine:.3f}, relative error {view.sweep_relative_error:.3f}. "
            if view.scheme == "last-k" else "The curve is last-K's; the chosen scheme is not a last-K partial sum, "
            "so no point on it is marked. ")
    how_to_read("For every K, the cosine between the last-K and the full gradient of the LSTM's weights, and their "
                f"relative distance. {at_k}A cosine near 1 means truncation barely changes this step's update "
                "direction; the gap is the bias truncation introduces.")
