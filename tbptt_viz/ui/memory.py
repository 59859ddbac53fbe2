"""Memory: how much of what the cell wrote at each position survives to the prediction, directly and through
every path."""
from __future__ import annotations

import streamlit as st

from tbptt_viz.present import figures
from tbptt_viz.present.review import Review
from tbptt_viz.present.sentences import forget_gate_sentence, memory_sentence
from tbptt_viz.serving import jobs
from tbptt_viz.ui import services
from tbptt_viz.ui.widgets import chart, esc, export_buttons, how_to_read


def show(review: Review) -> None:
    names = review.names
    traces = {n: services.compute(jobs.memory(n, review.ids_of(n)), f"the memory trace for {n}") for n in names}
    k = int(st.session_state.k) if st.session_state.scheme == "last-k" else None
    chart(figures.memory_figure(traces, k), key="memory")
    occlusions = services.occlusions(review)  # a long review's in pieces, as the other views ask for it
    for n in names:
        occ = occlusions[n]
        st.markdown(f"**{esc(n)}.** " + memory_sentence(traces[n], occ.scores) + " "
                    + forget_gate_sentence(traces[n]).capitalize() + ".")
    how_to_read("Green: the cell's direct path, the product of forget gates from each position to the end (what "
                "the cell wrote at t still there at the prediction, mean over units). Purple: every path at once, "
                "the gradient of the prediction with respect to each input, relative to its largest value. A word "
                "can matter through the hidden state and later gates long after its direct survival is near 0.")
    export_buttons("memory", review.tokens, {f"{key} ({n})": getattr(traces[n], key) for n in names
                                             for key in ("forget_mean", "survival", "influence", "cell_norm")},
                   {**review.meta, "compare": review.compare})
