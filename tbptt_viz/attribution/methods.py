"""Which tokens a prediction (or a training step) rests on: one contract, `attribute`, for every method.

Each method credits tokens for a target function F of the review (see `targets`):

    backprop = full (no truncation):  F = the positive-class logit at T-1 (what the model predicts)
    backprop = a truncated scheme:    F = that scheme's training loss, mean BCE over its windows, with the
                                      state entering each window held fixed: exactly what a training step
                                      differentiates (so saliency equals `gradient_flow`'s ||dL/dx_t||)

    t:        0 1 2 ... T-K-1 | T-K ... T-1
    last-K:   credit 0        | credit through the loss at T-1
    chunked:  each token is credited through the loss at the end of its own chunk

Pass target="loss" with backprop="full" to compare full and truncated backprop on the same target.
Integrated gradients integrate adaptively and carry their own check (`completeness_gap`, `converged`).
Every computation works on private copies: the model passed in is only read, so one loaded model can
serve any number of threads at once.
"""
from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from tbptt_viz.attribution.choices import MAX_EVALUATIONS, METHODS, WITHOUT_BACKWARD  # noqa: F401 - public here too
from tbptt_viz.gradients.flow import forward
from tbptt_viz.attribution.integrated import MAX_EVALUATIONS_DEFAULT, integrate
from tbptt_viz.attribution.memory import MemoryTrace, memory_trace  # noqa: F401 - part of this module's public names
from tbptt_viz.core.model import LSTMClassifier, as_ids, flush_denormals
from tbptt_viz.attribution.probe import ContextProbe, context_probe, occlusion_scores  # noqa: F401 - likewise
from tbptt_viz.core.schemes import Scheme, backprop_count, make_scheme
from tbptt_viz.attribution.targets import TARGETS, window_target



@dataclass(frozen=True)
class Attribution:
    """Per-token credit for a target F. `scores` (T,); `windows` (W, 2) rows (p, s) or None."""

    ids: np.ndarray                  # (T,) token ids
    scores: np.ndarray               # (T,) float64
    method: str
    prob_positive: float             # the model's own (untruncated) P(positive)
    logit: float                     # the model's own (untruncated) positive-class logit
    backprop: str                    # scheme name: full | last-k | chunked | k1k2
    k: int | None
    k1: int | None
    k2: int | None
    windows: np.ndarray | None       # the windows the gradient was taken through; None without a backward pass
    target: str                      # logit | loss: what F is (see the module docstring)
    label_used: int | None           # the loss target's label (given, or the model's own prediction)
    target_value: float | None       # F(review); None for occlusion
    target_change: float | None      # IG only: F(review) - F(baseline), what the scores should sum to
    completeness_gap: float | None   # IG only: sum(scores) - target_change
    tolerance: float | None          # IG only: |gap| allowed, 1% of |target_change| + 0.01
    converged: bool | None           # IG only: every interval of the path within tolerance
    evaluations: int | None          # IG only: gradient evaluations spent
    rank_one_intervals: int | None   # IG only: path intervals too steep to integrate, credited along the one
                                     # direction every gradient there shares (see `integrated`)
    path_alpha: np.ndarray | None    # IG only: where F was evaluated along the straight path
    path_value: np.ndarray | None    # IG only: F there
    has_backward: bool               # False for occlusion
    note: str | None                 # a short remark for the reader (no truncation, occlusion, ...)

    @property
    def convergence_delta(self) -> float | None:
        """The completeness gap under its older name (captum's), kept for scripts that read it."""
        return self.completeness_gap

    @property
    def trustworthy(self) -> bool:
        """False only for integrated gradients that did not converge."""
        return self.converged is not False


def _gradient_scores(method: str, tg) -> tuple[np.ndarray, float]:
    value, grad = tg.input_gradient()                      # dF/dx (T, E)
    if method == "saliency":  # ||dF/dx_t|| (Simonyan et al. 2013, https://arxiv.org/abs/1312.6034)
        return np.linalg.norm(grad, axis=1), value
    # sum_e x_te dF/dx_te (Shrikumar et al. 2016, https://arxiv.org/abs/1605.01713)
    return (tg.x.numpy() * grad).sum(1), value


OCCLUSION_NOTE = ("occlusion has no backward pass, so truncation does not apply: these are plain occlusion scores of "
                  "the logit.")


def occlusion_attribution(model: LSTMClassifier, ids, scores: np.ndarray, backprop: str = "full", k: int | None = None,
                          k1: int | None = None, k2: int | None = None) -> Attribution:
    """attribute(model, ids, "occlusion", ...) from scores already computed (a long review's pieces, joined by
    probe.join_pieces): the same record, the model's own logit read by one forward pass."""
    scheme = make_scheme(backprop, k, k1, k2)
    ids = as_ids(ids)
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (len(ids),) or not np.all(np.isfinite(scores)):
        raise ValueError(f"occlusion needs one finite score per token ({len(ids)}), got shape {scores.shape}")
    logit = float(forward(model, ids).logits[-1])
    return Attribution(ids=ids.numpy(), scores=scores, method="occlusion", prob_positive=1 / (1 + math.exp(-logit)),
                       logit=logit, backprop=scheme.name, k=scheme.k, k1=scheme.k1, k2=scheme.k2, windows=None,
                       target="logit", label_used=None, target_value=None, target_change=None,
                       completeness_gap=None, tolerance=None, converged=None, evaluations=None,
                       rank_one_intervals=None, path_alpha=None, path_value=None, has_backward=False,
                       note=OCCLUSION_NOTE)


def attribute(model: LSTMClassifier, ids, method: str = "occlusion", backprop: str = "full", k: int | None = None,
              k1: int | None = None, k2: int | None = None, target: str | None = None, label: int | None = None,
              max_evaluations: int = MAX_EVALUATIONS_DEFAULT, rtol: float = 0.01, atol: float = 0.01,
              points: int = 4) -> Attribution:
    """Credit each token of `ids` for a target F (see the module docstring).

    Args:
        method: occlusion | integrated_gradients | saliency | input_x_gradient.
        backprop: full | last-k | chunked | k1k2, with k (last-k, chunked) or k1, k2 (k1k2): the gradient
            is taken through that scheme's windows. Occlusion has no backward pass: it returns the plain
            occlusion scores with a note.
        target: logit | loss; default logit without truncation, loss (the training step's) with it.
        label: the loss target's label; default the model's own prediction.
        max_evaluations, rtol, atol, points: integrated gradients' evaluation cap, tolerance
            (|gap| <= rtol |F(x) - F(baseline)| + atol) and Gauss-Legendre nodes per interval.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    for name, value, low, high in (("max_evaluations", max_evaluations, 1, MAX_EVALUATIONS),
                                   ("points", points, 1, 64)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    if not (0 <= rtol < 1 and 0 <= atol < 1e3):
        raise ValueError(f"rtol must be in [0, 1) and atol in [0, 1000), got {rtol!r}, {atol!r}")
    scheme = make_scheme(backprop, k, k1, k2)
    ids = as_ids(ids)
    T = len(ids)
    truncates = scheme.truncates(T)
    if method in WITHOUT_BACKWARD:
        target, label = "logit", None  # occlusion re-runs the model: it has no training loss to truncate
    target = target or ("loss" if truncates else "logit")
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    if truncates and target != "loss" and method not in WITHOUT_BACKWARD:
        raise ValueError("a truncated backprop differentiates the training loss: use target='loss'")
    if label is not None and label not in (0, 1):
        raise ValueError(f"label must be 0 or 1, got {label!r}")
    logit = float(forward(model, ids).logits[-1])
    label_used = (int(logit > 0) if label is None else int(label)) if target == "loss" else None
    windows = scheme.windows(T) if target == "loss" else [(T - 1, 0)]
    base = dict(ids=ids.numpy(), method=method, prob_positive=1 / (1 + math.exp(-logit)), logit=logit,
                backprop=scheme.name, k=scheme.k, k1=scheme.k1, k2=scheme.k2, target=target, label_used=label_used,
                target_change=None, completeness_gap=None, tolerance=None, converged=None, evaluations=None,
                rank_one_intervals=None, path_alpha=None, path_value=None)
    if method in WITHOUT_BACKWARD:
        return Attribution(**base, scores=occlusion_scores(model, ids), windows=None, target_value=None,
                           has_backward=False, note=OCCLUSION_NOTE)
    if scheme.name != "full" and not truncates:
        note = f"no truncation: {scheme.label} covers all {T} tokens, so this equals full backprop"
    elif truncates:
        note = f"gradient of the training loss taken through the windows of {scheme.label}, as a training step would"
    else:
        note = None
    with flush_denormals():
        tg = window_target(model, ids, windows, target, label_used)
        if method == "integrated_gradients":
            r = integrate(tg, points=points, rtol=rtol, atol=atol, max_evaluations=max_evaluations)
            value = float(tg.values([1.0])[0])
            extra = dict(target_change=r.target_change, completeness_gap=r.completeness_gap, tolerance=r.tolerance,
                         converged=r.converged, evaluations=r.evaluations,
                         rank_one_intervals=r.rank_one_intervals, path_alpha=r.path_alpha,
                         path_value=r.path_value)
            scores = r.scores
        else:
            scores, value = _gradient_scores(method, tg)
            extra = {}
    return Attribution(**{**base, **extra}, scores=np.asarray(scores, dtype=np.float64), target_value=value,
                       windows=np.array(windows, dtype=np.int64).reshape(-1, 2), has_backward=True, note=note)


def steep_step_message(a: Attribution) -> str | None:
    """One sentence when converged integrated gradients credited a step too steep to integrate; else None."""
    if not a.converged or not a.rank_one_intervals:
        return None
    n = a.rank_one_intervals
    stretches = "one stretch" if n == 1 else f"{n} stretches"
    return (f"Along the path the {a.target} jumps steeply, and near the jump every gradient points the same way: on "
            f"{stretches} of the path the integrator shared the change out along that direction instead of "
            f"following it with ever more steps. That is an assumption, checked at the points it sampled, with its "
            f"error counted in the tolerance.")


def convergence_message(a: Attribution) -> str | None:
    """One sentence for a student when an attribution is not to be trusted; None when it is."""
    if a.converged is not False:
        return None
    return (f"Not to be trusted: integrated gradients did not converge here. The scores should add up to "
            f"{a.target_change:+.2f} (the change of the {a.target}) but add up to "
            f"{a.target_change + a.completeness_gap:+.2f}, because along the path from an all-padding review to "
            f"this one the {a.target} jumps more steeply than any number of steps can follow "
            f"({a.evaluations} gradient evaluations). The chart of F along the path shows where.")


# ---------------------------------------------------------------------------------------------------
# Summaries of score arrays.

def region_shares(scores, first_n: int, last_k: int) -> dict[str, float]:
    """Fractions of sum |scores| in the first N tokens, in the last K, and before the last K.

    last_k + beyond_k = 1; first_n is counted on its own, so it overlaps the others when N + K > T.
    All zero when there is no mass (e.g. every score is zero).
    """
    mass = np.abs(np.asarray(scores, dtype=np.float64))
    total = mass.sum()
    if total == 0:
        return {"first_n": 0.0, "last_k": 0.0, "beyond_k": 0.0}
    cut = max(0, len(mass) - max(0, last_k))
    return {"first_n": float(mass[: max(0, first_n)].sum() / total), "last_k": float(mass[cut:].sum() / total),
            "beyond_k": float(mass[:cut].sum() / total)}


def truncation_removed_share(full_scores, windows_or_k, T: int) -> float:
    """Share of sum |full-backprop scores| on tokens that no window of the truncation reaches.

    `windows_or_k`: an int K (last-K), a Scheme, or (p, s) windows. Chunked windows reach every token
    (each through its own chunk), so nothing is removed there: its change is which prediction credits a token.
    """
    if isinstance(windows_or_k, (int, np.integer)):
        windows = make_scheme("last-k", int(windows_or_k)).windows(T)
    elif isinstance(windows_or_k, Scheme):
        windows = windows_or_k.windows(T)
    else:
        windows = [tuple(map(int, w)) for w in windows_or_k]
    mass = np.abs(np.asarray(full_scores, dtype=np.float64))
    total = mass.sum()
    return float(mass[backprop_count(windows, T) == 0].sum() / total) if total > 0 else 0.0


@dataclass(frozen=True)
class MethodAgreement:
    """Spearman rank correlation of |scores| between every pair of methods; NaN where one is constant."""

    methods: tuple[str, ...]
    spearman: np.ndarray  # (M, M)

    def pair(self, a: str, b: str) -> float:
        return float(self.spearman[self.methods.index(a), self.methods.index(b)])


def _spearman(a, b) -> float:
    from scipy.stats import spearmanr

    with warnings.catch_warnings():  # a constant array has no ranks: NaN, said in the docstring
        warnings.simplefilter("ignore")
        return float(spearmanr(np.abs(a), np.abs(b)).statistic)


def method_agreement(scores_by_method: dict) -> MethodAgreement:
    names = tuple(scores_by_method)
    M = np.eye(len(names))
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            M[i, j] = M[j, i] = _spearman(scores_by_method[a], scores_by_method[names[j]])
    return MethodAgreement(names, M)


@dataclass(frozen=True)
class SanityCheck:
    """The same method on the model and on a copy with random LSTM weights."""

    method: str
    rank_correlation: float      # Spearman of |scores|; near 1 means the method ignores what the LSTM learned
    relative_change: float       # ||randomized - scores|| / ||scores||
    scores: np.ndarray           # (T,)
    randomized_scores: np.ndarray  # (T,)


def sanity_check(model: LSTMClassifier, ids, method: str, seed: int = 0, **kwargs) -> SanityCheck:
    """Model-parameter randomisation test (Adebayo et al. 2018, https://arxiv.org/abs/1810.03292).

    The LSTM's weights are redrawn from PyTorch's default init U(-1/sqrt(H), 1/sqrt(H)) on a copy;
    embedding and head are kept, so the change isolates what the recurrence contributes.
    """
    original = attribute(model, ids, method, **kwargs).scores
    twin = copy.deepcopy(model)  # a private copy: the shared model is never changed
    gen = torch.Generator().manual_seed(seed)
    bound = 1 / math.sqrt(twin.lstm.hidden_size)
    with torch.no_grad():
        for p in twin.lstm.parameters():
            p.copy_(torch.rand(p.shape, generator=gen, dtype=p.dtype) * 2 * bound - bound)
    randomized = attribute(twin, ids, method, **kwargs).scores
    norm = np.linalg.norm(original)
    return SanityCheck(method, _spearman(original, randomized),
                       float(np.linalg.norm(randomized - original) / norm) if norm > 0 else float("nan"),
                       original, randomized)
