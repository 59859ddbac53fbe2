"""Which tokens a prediction (or a training step) rests on: one contract, `attribute`, for every method.

Each method credits tokens for a target function F of the review (see `targets`):

    backprop = full (no truncation):  F = the positive-class logit at T-1 (what the model predicts)
    backprop = a truncated scheme:    F = that scheme's training loss, mean BCE over its windows, with the
                                      state entering each window held fixed: exactly what a training step
                                      differentiates (so saliency equals `gradient_flow`'s ||dL/dx_t||,
                                      to 1e-7 relative: tests/test_facts.py)

    t:        0 1 2 ... T-K-1 | T-K ... T-1
    last-K:   credit 0        | credit through the loss at T-1
    chunked:  each token is credited through the loss at the end of its own chunk

Pass target="loss" with backprop="full" to compare full and truncated backprop on the same target.
Integrated gradients integrate adaptively and carry their own check (`error_estimate` per token against
`tolerance`, `converged`, and `completeness_gap`).
Shapley values credit groups of tokens (sentences or spans) that act together, with occlusion's F and
baseline, by sampling (`shapley`): each group's value carries its standard error over repeats, the values
must sum to F(review) - F(baseline), and `converged` says whether the sampling error is within tolerance.
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

from tbptt_viz.attribution.choices import (MAX_EVALUATIONS, METHODS, SHAPLEY_REPEATS, SHAPLEY_RTOL,  # noqa: F401
                                          SHAPLEY_SAMPLES, WITHOUT_BACKWARD)  # public here too
from tbptt_viz.gradients.flow import forward
from tbptt_viz.attribution.integrated import MAX_EVALUATIONS_DEFAULT, integrate
from tbptt_viz.attribution.memory import MemoryTrace, memory_trace  # noqa: F401 - part of this module's public names
from tbptt_viz.core.model import LSTMClassifier, as_ids, flush_denormals
from tbptt_viz.attribution.probe import ContextProbe, context_probe, occlusion_scores  # noqa: F401 - likewise
from tbptt_viz.attribution.shapley import group_shapley, sentence_groups, span_groups
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
    target_change: float | None      # IG, shapley: F(review) - F(baseline), what the scores should sum to
    completeness_gap: float | None   # IG, shapley: sum(scores) - target_change
    tolerance: float | None          # IG: the error allowed, 1% of |target_change| + 0.01; shapley: each group's
                                     # 95% half-width (t over repeats x SE) and |gap| allowed, 5% of it + 0.01
    converged: bool | None           # IG: error_estimate <= tolerance, so every token's score within it; shapley:
                                     # every group's half-width (and the gap) within tolerance
    evaluations: int | None          # IG: gradient evaluations spent; shapley: coalitions evaluated
    rank_one_intervals: int | None   # IG only: path intervals too steep to integrate, credited along the one
                                     # direction every gradient there shares (see `integrated`)
    path_alpha: np.ndarray | None    # IG only: where F was evaluated along the straight path
    path_value: np.ndarray | None    # IG only: F there
    has_backward: bool               # False for occlusion and shapley
    note: str | None                 # a short remark for the reader (no truncation, occlusion, ...)
    groups: np.ndarray | None = None          # shapley only: (G, 2) [start, end) token groups
    group_values: np.ndarray | None = None    # shapley only: (G,) each group's Shapley value (scores share it)
    standard_error: np.ndarray | None = None  # shapley only: (G,) over independent repeats (0 when exact)
    samples: int | None = None                # shapley only: permutations per repeat (None when exact)
    repeats: int | None = None                # shapley only: independent repeats (None when exact)
    evaluator_error: float | None = None      # shapley only: float32 batched F vs the float64 model, max |diff|
    error_estimate: float | None = None       # IG only: estimated L2 error of the scores over tokens (see
                                              # `integrated`); converged iff <= tolerance
    token_error: np.ndarray | None = None     # IG only: (T,) each token's estimated quadrature error (rank-one
                                              # stretches' bounds are in error_estimate only: not per token)

    @property
    def convergence_delta(self) -> float | None:
        """The completeness gap under its older name (captum's), kept for scripts that read it."""
        return self.completeness_gap


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
              max_evaluations: int = MAX_EVALUATIONS_DEFAULT, rtol: float | None = None, atol: float = 0.01,
              points: int = 4, groups="sentences", samples: int = SHAPLEY_SAMPLES, repeats: int = SHAPLEY_REPEATS,
              seed: int = 0) -> Attribution:
    """Credit each token of `ids` for a target F (see the module docstring).

    Args:
        method: occlusion | integrated_gradients | saliency | input_x_gradient | shapley.
        backprop: full | last-k | chunked | k1k2, with k (last-k, chunked) or k1, k2 (k1k2): the gradient
            is taken through that scheme's windows. Occlusion and shapley have no backward pass: they return
            their plain scores of the logit with a note.
        target: logit | loss; default logit without truncation, loss (the training step's) with it.
        label: the loss target's label; default the model's own prediction.
        max_evaluations, rtol, atol, points: integrated gradients' evaluation cap, tolerance (the scores'
            estimated L2 error over tokens <= rtol |F(x) - F(baseline)| + atol; rtol default 0.01) and
            Gauss-Legendre nodes n per interval (each interval evaluates the 2n + 1 Gauss-Kronrod nodes).
            For shapley, rtol (default 0.05) and atol bound the 95% half-width (t over repeats x standard
            error) of every group's value. Up to 8 groups shapley is exact (every coalition evaluated).
        groups, samples, repeats, seed: shapley only. groups: "sentences", a span length (int), or explicit
            [start, end) spans covering the review; samples: permutations per repeat (even: antithetic pairs);
            repeats: independent repeats for the standard error; repeat r draws with seed + r.

    Maths: occlusion z(x) - z(x with x_t = pad); saliency ||dF/dx_t||; input x gradient x_t . dF/dx_t;
    integrated gradients (x_t - b_t) . int_0^1 dF/dy_t(b + a (x - b)) da with b the pad embeddings, so the
    scores sum to F(x) - F(b) (the completeness check); shapley: each group's mean marginal contribution
    over permutations of the groups, which sum to F(x) - F(b) (efficiency).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    for name, value, low, high in (("max_evaluations", max_evaluations, 1, MAX_EVALUATIONS),
                                   ("points", points, 1, 64)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    if rtol is None:
        rtol = SHAPLEY_RTOL if method == "shapley" else 0.01
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
                rank_one_intervals=None, error_estimate=None, token_error=None, path_alpha=None, path_value=None)
    if method == "shapley":
        return _shapley(model, ids, base, groups, samples, repeats, seed, rtol, atol)
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
                         converged=r.converged, evaluations=r.evaluations, error_estimate=r.error_estimate,
                         token_error=r.token_error, rank_one_intervals=r.rank_one_intervals,
                         path_alpha=r.path_alpha, path_value=r.path_value)
            scores = r.scores
        else:
            scores, value = _gradient_scores(method, tg)
            extra = {}
    return Attribution(**{**base, **extra}, scores=np.asarray(scores, dtype=np.float64), target_value=value,
                       windows=np.array(windows, dtype=np.int64).reshape(-1, 2), has_backward=True, note=note)


def resolve_groups(model: LSTMClassifier, ids: torch.Tensor, groups) -> list[tuple[int, int]]:
    """"sentences" (needs the model's vocabulary), a span length, or explicit [start, end) spans."""
    if isinstance(groups, str):
        if groups != "sentences":
            raise ValueError(f"groups must be 'sentences', a span length or a list of spans, got {groups!r}")
        if model.vocab is None:
            raise ValueError("sentence groups need the model's vocabulary; give a span length instead")
        return sentence_groups(model.vocab.decode(ids.tolist()))
    if isinstance(groups, (int, np.integer)) and not isinstance(groups, bool):
        return span_groups(len(ids), int(groups))
    return [tuple(map(int, g)) for g in groups]


def _shapley(model, ids, base: dict, groups, samples, repeats, seed, rtol, atol) -> Attribution:
    r = group_shapley(model, ids, resolve_groups(model, ids, groups), samples, repeats, seed, rtol, atol)
    extra = dict(target_change=r.target_change, completeness_gap=r.completeness_gap, tolerance=r.tolerance,
                 converged=r.converged, evaluations=r.evaluations)
    return Attribution(**{**base, **extra}, scores=r.token_scores(len(ids)), windows=None,
                       target_value=base["logit"], has_backward=False,
                       note="Shapley values of token groups have no backward pass, so truncation does not apply: "
                            "each group's value (shared equally among its tokens) is for the logit.",
                       groups=r.groups, group_values=r.values, standard_error=r.standard_error, samples=r.samples,
                       repeats=r.repeats, evaluator_error=r.evaluator_error)


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
    if a.method == "shapley":
        from scipy.stats import t as student_t

        half = a.standard_error * (student_t.ppf(0.975, a.repeats - 1) if a.repeats else 0.0)
        worst = int(np.argmax(half))
        s, e = (int(v) for v in a.groups[worst])
        if half[worst] <= a.tolerance:
            return (f"Not to be trusted: the Shapley values should add up to {a.target_change:+.2f} (the change of "
                    f"the logit) but add up to {a.target_change + a.completeness_gap:+.2f}.")
        return (f"Not settled: after {a.samples * a.repeats} sampled orders, the value of tokens {s}-{e - 1} is "
                f"known only to within +-{half[worst]:.2f} (95% over {a.repeats} repeats), more than the tolerance "
                f"of {a.tolerance:.2f}; the error bars show every group's. Ask for more samples or repeats, or use "
                f"fewer, longer groups.")
    return (f"Not to be trusted: integrated gradients did not converge here. The scores' estimated error is "
            f"{a.error_estimate:.2g} (the root of the summed squared errors of all {len(a.scores)} tokens), above "
            f"the tolerance of {a.tolerance:.2g}; they add up to {a.target_change + a.completeness_gap:+.2f} where "
            f"they should add up to {a.target_change:+.2f} (the change of the {a.target}). Along the path from an "
            f"all-padding review to this one the {a.target} changes more steeply than {a.evaluations} gradient "
            f"evaluations could follow. The chart of F along the path shows where."
            + (f" The least certain score is token {worst}'s, off by up to about {a.token_error[worst]:.2g}."
               if (worst := least_certain_token(a)) is not None else ""))


def least_certain_token(a: Attribution) -> int | None:
    """The position whose integrated-gradients score has the largest per-token error estimate; None for other
    methods or when no token has one (every stretch credited as rank one)."""
    if a.token_error is None or not np.any(a.token_error > 0):
        return None
    return int(np.argmax(a.token_error))


def ig_check(a: Attribution) -> dict | None:
    """Integrated gradients' own check as plain numbers (for exports); None for the other methods."""
    if a.method != "integrated_gradients":
        return None
    return {"converged": a.converged, "error_estimate": a.error_estimate, "tolerance": a.tolerance,
            "completeness_gap": a.completeness_gap, "target_change": a.target_change, "evaluations": a.evaluations,
            "rank_one_intervals": a.rank_one_intervals}


# ---------------------------------------------------------------------------------------------------
# Summaries of score arrays.

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
