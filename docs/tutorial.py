# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # If the gradient never reaches the first words, how does the model learn them?
#
# An LSTM sentiment classifier trained with truncated backpropagation through time (last-K) only sends its
# gradient back K steps from the prediction. This notebook asks what that does, with the public API of
# `tbptt_viz` only: two shipped models, one review, and a tiny LSTM trained here.
#
# Every step computes its numbers, draws one plotly figure and prints one sentence built from those numbers
# (nothing below is typed in by hand). The last cell prints them all as JSON; `tests/test_tutorial.py` runs
# this notebook and checks them against the calls the app makes.
#
# Run it from a clone, or anywhere after `pip install .` (the models ship with the package).
# `docs/tutorial.py` is the same notebook in jupytext's percent format; `python scripts/update_docs.py`
# rebuilds the `.ipynb` from it.

# %%
import numpy as np
import plotly.graph_objects as go
import torch

import tbptt_viz
from tbptt_viz import attribute, context_probe, gradient_flow, load_pretrained
from tbptt_viz.core.data import examples
from tbptt_viz.core.text import prepare_review
from tbptt_viz.experiments.lab.runs import OPENINGS, LabConfig, lab_run
from tbptt_viz.present.figures import bias_curve, occlusion_probe_figure

K = 30         # the truncation the second model was trained with
FIRST_N = 30   # "the first words" of the question
facts = {"version": tbptt_viz.__version__}  # every number a sentence below states

# %% [markdown]
# ## 1. Two models, one review
#
# The two models the question compares, `imdb-full` and `imdb-last-k30` (their cards say how each was
# trained), and one of the app's embedded example reviews, `love-then-plot`.

# %%
models = {name: load_pretrained(name) for name in ("imdb-full", "imdb-last-k30")}
review = next(r for r in examples() if r.id == "love-then-plot")
prepared = prepare_review(review.text, models["imdb-full"].vocab)
ids, tokens = torch.tensor(prepared.ids), prepared.tokens
T = len(ids)
full_flows = {name: gradient_flow(m, ids, scheme="full") for name, m in models.items()}

fig = go.Figure([go.Scatter(x=np.arange(T), y=f.step_prob, name=name) for name, f in full_flows.items()])
fig.update_layout(title="P(positive) if the review ended at token t", xaxis_title="token position t",
                  yaxis_title="P(positive)", yaxis_range=[0, 1])
facts.update(T=T, opening=" ".join(tokens[:3]),
             prob={name: f.prob_positive for name, f in full_flows.items()},
             trained_with={name: m.card["label"] for name, m in models.items()},
             accuracy={name: m.card["test_accuracy"] for name, m in models.items()})
print(f"'{review.title}' has {T} tokens and opens with '{facts['opening']}'. "
      + "; ".join(f"{name} (trained with {facts['trained_with'][name]}, test accuracy {facts['accuracy'][name]:.3f}) "
                  f"gives P(positive) = {facts['prob'][name]:.3f}" for name in models) + ".")
fig

# %% [markdown]
# ## 2. Where does the training gradient go? Full, last-K and chunked
#
# `gradient_flow` differentiates the training loss (binary cross-entropy against the model's own label) under a
# truncation scheme: full BPTT, last-K (one loss at the end, the state detached K steps before it) and chunked
# (a loss every K steps, the state detached between chunks). The grey band is where last-K's gradient is
# exactly zero.

# %%
model = models["imdb-last-k30"]
flows = {scheme: gradient_flow(model, ids, scheme=scheme, k=K) for scheme in ("full", "last-k", "chunked")}
zero = {scheme: int((f.input_grad_norm == 0).sum()) for scheme, f in flows.items()}
reached_from = int(np.flatnonzero(flows["last-k"].input_grad_norm)[0])  # first position last-K reaches

fig = go.Figure([go.Scatter(x=np.arange(T), y=np.where(f.input_grad_norm > 0, f.input_grad_norm, np.nan),
                            name=f"{scheme}: ||dL/dx_t||") for scheme, f in flows.items()])
fig.add_vrect(x0=-0.5, x1=reached_from - 0.5, fillcolor="grey", opacity=0.25, line_width=0,
              annotation_text=f"exactly 0 under last-K ({zero['last-k']} tokens)")
fig.update_layout(title=f"Gradient reaching each token: imdb-last-k30, K = {K}", xaxis_title="token position t",
                  yaxis_title="||dL/dx_t|| (log; zero cannot be drawn)", yaxis_type="log")
facts.update(zero=zero, reached_from=reached_from,
             chunked_reach=int(flows["chunked"].backprop_reach.max()))
print(f"Under last-K (K = {K}) {zero['last-k']} of the {T} tokens get exactly zero gradient: every token before "
      f"t = {reached_from}. Under chunked (K = {K}) {zero['chunked']} do, and under full BPTT {zero['full']}; "
      f"chunked reaches each token from the loss at the end of its own chunk, at most "
      f"{facts['chunked_reach']} steps away.")
fig

# %% [markdown]
# ## 3. What does each model use at prediction time? Occlusion and the context probe
#
# Occlusion replaces one token by padding and records how far the logit drops; the context probe reads only
# the last n tokens, or drops the first n. Neither needs a gradient, so they measure the trained model, not
# its training.

# %%
occlusion = {name: attribute(m, ids, "occlusion") for name, m in models.items()}
probes = {name: context_probe(m, ids) for name, m in models.items()}
fig = occlusion_probe_figure(tokens, {name: a.scores for name, a in occlusion.items()}, probes, first_n=FIRST_N)


def share_first(scores, n=FIRST_N):
    mass = np.abs(scores)
    return float(mass[:n].sum() / mass.sum())


facts.update(first_share={name: share_first(a.scores) for name, a in occlusion.items()},
             prob_without_first={name: float(p.prob_without_first_n[FIRST_N]) for name, p in probes.items()})
print("; ".join(f"{name} puts {facts['first_share'][name]:.0%} of its |occlusion| on the first {FIRST_N} tokens "
                f"and, without them, says P(positive) = {facts['prob_without_first'][name]:.3f} "
                f"(instead of {facts['prob'][name]:.3f})" for name in models) + ".")
fig

# %% [markdown]
# ## 4. How far is the truncated weight gradient from the full one, for every K?
#
# Under last-K the gradient of the LSTM's weights is a partial sum of full BPTT's per-step terms, so one
# backward pass gives it for every K: its cosine with the full gradient and its relative error.

# %%
sweep = full_flows["imdb-full"]
below = np.flatnonzero(sweep.sweep_relative_error < 0.1)
facts.update(cosine_at_k={name: float(f.sweep_cosine[K - 1]) for name, f in full_flows.items()},
             relative_error_at_k={name: float(f.sweep_relative_error[K - 1]) for name, f in full_flows.items()},
             k_error_below_tenth=int(sweep.sweep_k[below[0]]) if below.size else None)
fig = bias_curve(sweep, K)
print(f"At K = {K} the last-K weight gradient of " + " and of ".join(
    f"{name} has cosine {facts['cosine_at_k'][name]:.3f} with the full one (relative error "
    f"{facts['relative_error_at_k'][name]:.3f})" for name in models)
    + (f"; for imdb-full the relative error first falls below 0.1 at K = {facts['k_error_below_tenth']}."
       if below.size else f"; for imdb-full it stays above 0.1 for every K below T = {T}."))
fig

# %% [markdown]
# ## 5. Train a tiny LSTM under last-K (the Lab)
#
# A synthetic task in which only the opening decides the label, then filler. Under last-K the opening lies
# outside the window of every long training sequence; short training sequences put it inside. Three runs,
# the same data and seed: last-K, last-K with short sequences mixed in, and full BPTT.

# %%
task = dict(task="prefix", seq_len=40, n_train=1000, n_test=200, epochs=12, seed=0)
configs = {"last-K (K=10)": LabConfig(scheme="last-k", k=10, **task),
           "last-K (K=10), 30% short": LabConfig(scheme="last-k", k=10, short_frac=0.3, **task),
           "full BPTT": LabConfig(scheme="full", **task)}
runs = {name: lab_run(config) for name, config in configs.items()}

fig = go.Figure([go.Scatter(x=np.arange(1, len(r.curve.test_accuracy) + 1), y=r.curve.test_accuracy, name=name)
                 for name, r in runs.items()])
fig.update_layout(title="Test accuracy while training (prefix task)", xaxis_title="epoch",
                  yaxis_title="test accuracy", yaxis_range=[0, 1.05])
facts.update(lab={name: {"config": r.config.to_dict(), "test_accuracy": r.test_accuracy} for name, r in runs.items()},
             lab_seconds=round(sum(r.wall_time_s for r in runs.values()), 1))
print(f"On sequences of {task['seq_len']} tokens that open with '{' '.join(OPENINGS[1])}' (label 1) or "
      f"'{' '.join(OPENINGS[0])}' (label 0), "
      + ", ".join(f"{name} reaches test accuracy {r.test_accuracy:.2f}" for name, r in runs.items())
      + f"; the three runs took {facts['lab_seconds']:.0f} s.")
fig

# %% [markdown]
# ## The numbers, for checking

# %%
import json  # noqa: E402

print(json.dumps(facts))
