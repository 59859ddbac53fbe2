"""What the app computes once per review, and the cheap slicing that the K slider does afterwards.

Under last-K the truncated gradient at t >= T-K equals full BPTT's, and is zero before, so one full pass
serves every K. Chunked and k1k2 change every position's gradient with K, so they are computed for a
grid of K values in one reverse loop (`flow.scheme_grid`) and the slider picks a row.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from tbptt_viz.gradients.flow import GradientFlow, SchemeGrid, gradient_flow, scheme_grid
from tbptt_viz.core.schemes import backprop_count, backprop_reach, make_scheme

K_GRID = (1, 2, 3, 5, 8, 10, 15, 20, 25, 30, 40, 50, 60, 75, 100, 125, 150, 200, 250, 300, 400, 500, 750, 1000,
          1500, 2000)


def k_choices(T: int) -> list[int]:
    """K values offered for a review of T tokens: the grid below T, then T itself (no truncation)."""
    return [k for k in K_GRID if k < T] + [T]


@dataclass(frozen=True)
class ReviewFlow:
    """What the gradient views need for one (model, review, label): full BPTT and chunked on a K grid.

k1k2 has two settings, so the app computes it per (k1, k2) with gradient_flow instead."""

    full: GradientFlow                 # scheme "full": full_* arrays and the last-K sweep
    chunked: SchemeGrid                # chunked for every K in k_choices(T)

    @property
    def T(self) -> int:
        return self.full.T


def review_flow(model, ids, label: int | None = None) -> ReviewFlow:
    full = gradient_flow(model, ids, "full", label=label)
    ks = k_choices(full.T)
    return ReviewFlow(full, scheme_grid(model, ids, "chunked", ks, full.label_used))


@dataclass(frozen=True)
class SchemeView:
    """Per-position arrays (T,) of one scheme at one K, sliced from a ReviewFlow without a model pass."""

    scheme: str
    k: int
    label: str                 # e.g. "last-K (K=30)"
    windows: np.ndarray        # (W, 2) rows (p, s)
    input_grad_norm: np.ndarray
    hidden_grad_norm: np.ndarray
    cell_grad_norm: np.ndarray
    backprop_count: np.ndarray
    backprop_reach: np.ndarray
    sweep_cosine: float        # last-K vs full gradient of the LSTM's parameters at this K
    sweep_relative_error: float


def scheme_view(rf: ReviewFlow, scheme: str, k: int, k1k2: GradientFlow | None = None) -> SchemeView:
    """Slice the precomputed arrays for (scheme, K); K must be one of k_choices(T) for chunked.

    For k1k2 pass its own gradient_flow as `k1k2` (k is then only used for the sweep marker).
    """
    T, f = rf.T, rf.full
    k = int(min(max(k, 1), T))
    if scheme == "k1k2":
        if k1k2 is None:
            raise ValueError("k1k2 needs its gradient_flow result")
        return SchemeView("k1k2", k, make_scheme("k1k2", k1=k1k2.k1, k2=k1k2.k2).label, k1k2.windows,
                          k1k2.input_grad_norm, k1k2.hidden_grad_norm, k1k2.cell_grad_norm, k1k2.backprop_count,
                          k1k2.backprop_reach, float(f.sweep_cosine[k - 1]), float(f.sweep_relative_error[k - 1]))
    sch = make_scheme(scheme, k)
    windows = sch.windows(T)
    if scheme in ("full", "last-k"):
        keep = backprop_count(windows, T) > 0  # last-K: equal to full inside the window, zero before
        arrays = [np.where(keep, a, 0.0) for a in (f.full_input_grad_norm, f.full_hidden_grad_norm,
                                                   f.full_cell_grad_norm)]
    else:
        grid = rf.chunked
        rows = np.flatnonzero(grid.ks == k)
        if rows.size == 0:
            raise ValueError(f"K={k} is not on the precomputed grid for {scheme}; choose one of {list(grid.ks)}")
        r = int(rows[0])
        arrays = [grid.input_grad_norm[r], grid.hidden_grad_norm[r], grid.cell_grad_norm[r]]
    kk = T if scheme == "full" else k
    return SchemeView(scheme, kk, sch.label, np.array(windows).reshape(-1, 2), *arrays,
                      backprop_count(windows, T), backprop_reach(windows, T),
                      float(f.sweep_cosine[kk - 1]), float(f.sweep_relative_error[kk - 1]))


def picked_view(rf: ReviewFlow, scheme: str, k: int, k1k2: Callable[[], GradientFlow] | None = None) -> SchemeView:
    """The view a page shows for the chosen (scheme, K): K counts for last-K and chunked (one of
    k_choices(T)); full BPTT shows the whole review; k1k2 has its own gradient_flow, asked for through
    `k1k2` (called only under that scheme, so no other scheme pays for it)."""
    if scheme == "k1k2":
        if k1k2 is None:
            raise ValueError("k1k2 needs its gradient_flow result")
        return scheme_view(rf, scheme, rf.T, k1k2())
    return scheme_view(rf, scheme, k if scheme in ("last-k", "chunked") else rf.T)


def truncation_route(scheme: str, method: str, ready: bool = False) -> str:
    """How a page gets `method`'s attribution of the training loss under truncation `scheme`:

        "no-backward"    occlusion and Shapley values have no backward pass: nothing to truncate
        "no-truncation"  full BPTT cuts nothing
        "mask"           last-K saliency and input x gradient: the full ones masked (`truncate_last_k`),
                         no model pass
        "ask"            integrated gradients under truncation take a run of their own (seconds on a long
                         review): it waits for the visitor to ask, unless `ready` (asked, or already cached)
        "run"            everything else: one run of `attribute` with that backprop
    """
    if method in ("occlusion", "shapley"):  # they re-run the model on perturbed reviews
        return "no-backward"
    if scheme == "full":
        return "no-truncation"
    if scheme == "last-k" and method != "integrated_gradients":
        return "mask"
    if method == "integrated_gradients" and not ready:
        return "ask"
    return "run"


def truncate_last_k(full_attribution, k: int):
    """The last-K version of a full-backprop gradient attribution of the loss, without a model pass.

    Under last-K the loss gradient at t >= T-K equals full backprop's and is zero before, so saliency and
    input x gradient of the truncated loss are the full ones masked. Integrated gradients are not: their
    path moves only the window's tokens (see `targets`), so they need their own run. Occlusion has no
    backward pass and is returned unchanged.
    """
    a = full_attribution
    if not a.has_backward:
        return a
    if a.method == "integrated_gradients" or a.target != "loss":
        raise ValueError("only saliency and input x gradient of the loss truncate by masking; "
                         "run attribute(..., backprop='last-k') for integrated gradients")
    T = len(a.scores)
    k = int(min(max(k, 1), T))
    if k >= T:
        return a
    scores = np.where(np.arange(T) >= T - k, a.scores, 0.0)
    return replace(a, scores=scores, backprop="last-k", k=k, windows=np.array([[T - 1, T - k]]),
                   note=f"gradient of the training loss taken through the windows of last-K (K={k}), as a "
                        "training step would")


def attribution_change(full_scores, truncated_scores) -> float:
    """sum |truncated - full| / sum |full|: how much a truncated backprop changes an attribution overall.

    Under last-K this is at least the share of mass outside the window; under chunked or TBPTT no token is
    cut off, but each token is credited through a nearer prediction, so the scores still change.
    """
    full = np.abs(np.asarray(full_scores, dtype=float)).sum()
    diff = np.abs(np.asarray(truncated_scores, dtype=float) - np.asarray(full_scores, dtype=float)).sum()
    return float(diff / full) if full > 0 else 0.0
