"""Integrated gradients that converge or say they did not (Sundararajan et al. 2017, arXiv:1703.01365).

IG credits token t with  (x_t - x'_t) . integral_0^1 dF/dy_t(x' + a (x - x')) da,  and the credits sum to
F(x) - F(x') (completeness). A fixed quadrature fails when F jumps along the path: on the default example
under imdb-last-k30 the logit climbs by ~9 over an alpha-interval narrower than 1e-7. So integrate
adaptively. Split [0, 1] into intervals; on each, Gauss-Legendre nodes give the credits, and their sum
must match the interval's exact change F(b) - F(a), which a forward pass gives:

    interval error e = sum_t credit_t[a, b] - (F(b) - F(a))        converged: sum |e| <= rtol |F(1) - F(0)| + atol

Intervals whose error is large are split. Where F's change inside an interval is concentrated (a steep
step), a batched forward scan of the interval finds the step and the interval is cut around it: the
step is narrowed ninefold per split instead of twofold. The result carries its own check.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .targets import WindowTarget

SCAN = 9           # sub-intervals of a forward scan when splitting
MIN_WIDTH = 1e-13  # narrower intervals are not split again (float64 alpha resolution near 1 is ~1e-16)
FAST_WIDTH = 1e-5  # intervals at least this wide run the LSTM in float32 (4-5x faster here); narrower ones
                   # resolve steep steps in float64, which float32 path points cannot (6e-8 relative rounding)
FAST_TOLERANCE = 1e-4  # tolerances below this integrate in float64 throughout


@dataclass(frozen=True)
class PathIntegral:
    scores: np.ndarray          # (T,) credits
    target_change: float        # F(x) - F(baseline), what the credits should sum to
    completeness_gap: float     # sum(scores) - target_change
    tolerance: float            # rtol |target_change| + atol
    converged: bool             # sum of interval errors within tolerance
    evaluations: int            # gradient evaluations (each one forward and one backward pass)
    forward_evaluations: int    # forward-only evaluations (interval ends and scans)
    path_alpha: np.ndarray      # every alpha where F was evaluated, sorted
    path_value: np.ndarray      # F there: the function IG integrates, for a chart


@dataclass
class _Interval:
    a: float
    b: float
    fa: float
    fb: float
    credits: np.ndarray | None = None  # (T,)

    @property
    def error(self) -> float:
        return float(self.credits.sum() - (self.fb - self.fa))


def integrate(target: WindowTarget, points: int = 8, rtol: float = 0.01, atol: float = 0.01,
              max_evaluations: int = 1200, initial: int = 2) -> PathIntegral:
    """Adaptive integrated gradients of `target` from its baseline (alpha = 0) to the review (alpha = 1).

    Args:
        points: Gauss-Legendre nodes per interval.
        rtol, atol: converged when the summed interval errors are <= rtol |F(1) - F(0)| + atol.
        max_evaluations: cap on gradient evaluations; past it the result says converged=False.
        initial: equal intervals to start from.
    """
    nodes, weights = np.polynomial.legendre.leggauss(points)
    samples: dict[float, float] = {}

    def values(alphas, fast=False):
        alphas = [float(a) for a in alphas if float(a) not in samples]
        for a, v in zip(alphas, target.values(alphas, fast) if alphas else []):
            samples[a] = float(v)

    edges = np.linspace(0.0, 1.0, initial + 1)
    values(edges, fast=False)
    tol = rtol * abs(samples[1.0] - samples[0.0]) + atol
    fast_ok = tol >= FAST_TOLERANCE  # float32's own error (~1e-6 of the change) must be far below the tolerance
    evaluations = 0

    def quadrature(intervals):
        nonlocal evaluations
        for fast in (True, False):
            group = [iv for iv in intervals if (fast_ok and iv.b - iv.a >= FAST_WIDTH) == fast]
            if not group:
                continue
            alphas = np.concatenate([(iv.b - iv.a) / 2 * nodes + (iv.a + iv.b) / 2 for iv in group])
            _, terms = target.path_gradients(alphas, fast=fast)  # (n points, T)
            evaluations += len(alphas)
            for j, iv in enumerate(group):
                block = terms[j * points : (j + 1) * points]
                iv.credits = (iv.b - iv.a) / 2 * (weights[:, None] * block).sum(0)

    intervals = [_Interval(a, b, samples[a], samples[b]) for a, b in zip(edges[:-1], edges[1:])]
    quadrature(intervals)
    while True:
        errors = np.array([abs(iv.error) for iv in intervals])
        if errors.sum() <= tol:
            break
        if any(e > tol and iv.b - iv.a <= MIN_WIDTH for e, iv in zip(errors, intervals)):
            break  # F jumps within float64's resolution: no quadrature can be complete, so stop spending
        # split the worst intervals until what is left unsplit would be within half the tolerance
        order = np.argsort(-errors)
        left, split = errors.sum(), []
        for i in order:
            if left <= tol / 2:
                break
            if intervals[i].b - intervals[i].a > MIN_WIDTH:  # narrower: F jumps within float64's resolution
                split.append(i)
            left -= errors[i]
        if not split or evaluations + len(split) * 3 * points > max_evaluations:
            break
        new = []
        for i in split:
            new += _cut(intervals[i], samples, values, fast_ok)
        quadrature(new)
        intervals = [iv for j, iv in enumerate(intervals) if j not in set(split)] + new
        intervals.sort(key=lambda iv: iv.a)
    scores = np.sum([iv.credits for iv in intervals], axis=0)
    change = samples[1.0] - samples[0.0]
    total_error = float(np.sum([abs(iv.error) for iv in intervals]))
    alphas = np.array(sorted(samples))
    return PathIntegral(scores=scores, target_change=change, completeness_gap=float(scores.sum() - change),
                        tolerance=tol, converged=total_error <= tol, evaluations=evaluations,
                        forward_evaluations=len(samples), path_alpha=alphas,
                        path_value=np.array([samples[a] for a in alphas]))


def _cut(iv: _Interval, samples: dict, values, fast_ok: bool) -> list[_Interval]:
    """Split one interval: around a steep step if forward scans find one, else in halves.

    A step (one ninth of a scan holding most of the change) is zoomed into with forward passes only,
    ninefold per scan, until it is spread over its scan or narrower than MIN_WIDTH (then F jumps within
    float64's resolution and no quadrature can follow it: the result will say it did not converge).
    Every zoom level leaves its two outer pieces as intervals, so the pieces grade towards the step.
    """
    cuts, a, b = {iv.a, iv.b}, iv.a, iv.b
    while True:
        grid = np.linspace(a, b, SCAN + 1)
        values(grid[1:-1], fast=fast_ok and b - a >= FAST_WIDTH * SCAN)
        f = np.array([samples[float(g)] for g in grid])
        jumps = np.abs(np.diff(f))
        j = int(np.argmax(jumps))
        if not (jumps.sum() > 0 and jumps[j] >= 0.5 * jumps.sum()):
            cuts.add(float(grid[(SCAN + 1) // 2]))   # smooth here: halve it
            break
        a, b = float(grid[j]), float(grid[j + 1])
        cuts.update((a, b))
        if b - a <= MIN_WIDTH:
            break
    cuts = sorted(cuts)
    return [_Interval(a, b, samples[a], samples[b]) for a, b in zip(cuts[:-1], cuts[1:])]
