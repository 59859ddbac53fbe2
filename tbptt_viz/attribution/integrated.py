"""Integrated gradients that converge or say they did not (Sundararajan et al. 2017, arXiv:1703.01365).

IG credits token t with  (x_t - x'_t) . integral_0^1 dF/dy_t(x' + a (x - x')) da,  and the credits sum to
F(x) - F(x') (completeness). A fixed quadrature fails when F jumps along the path: on the default example
under imdb-last-k30 the logit jumps by more than 5 within 2e-9 of alpha = 0.041. So integrate adaptively.
Split [0, 1] into intervals; on each, Gauss-Legendre nodes give the credits, and their sum must match the
interval's exact change F(b) - F(a), which a forward pass gives:

    interval error e = sum_t credit_t[a, b] - (F(b) - F(a))        converged: sum |e| <= rtol |F(1) - F(0)| + atol

Intervals whose error is large are split. Where the nodes see F's change concentrated between two of them
(a steep interval), a batched forward scan finds the step and the interval is cut around it: the step is
narrowed ninefold per split instead of twofold. The result carries its own check.

Some steps are steeper than any quadrature can follow: F crosses between two levels within a sliver of alpha
that float64 barely resolves, flipping between them around it (the state passes near a saddle of the LSTM's
dynamics). There the gradient at every node points the same way, u or -u, because one unstable direction of
the state dominates it (tests/test_shipped.py checks this beside the default example's jump). Write the
node gradients as g = F'(alpha) w(alpha) with w = rho / sum_t rho_t for the sign-aligned unit direction rho;
then exactly

    integral g = integral F'(alpha) w(alpha) dalpha,    so if w is constant:  integral g = (F(b) - F(a)) w

and in general the estimate (F(b) - F(a)) w_bar (w_bar from the nodes' mean direction; its sum is F(b) - F(a)
by construction) is off by at most TV * max_alpha |w(alpha) - w_bar|, with TV the variation of F on [a, b].
A steep interval is credited that way ("rank one") when this bound, taken over the nodes and F's variation
seen at them, plus rounding times |w_bar| (F's, and float32 gradients' error shared by every node, which w
amplifies by up to 1 + sqrt(T) / |sum_t u_t|), is smaller than the quadrature's error; like any
quadrature it assumes the nodes are representative of the points between them, and the app says when it was
used. A direction whose entries nearly cancel (sum_t rho_t near 0) is never used.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tbptt_viz.attribution.targets import WindowTarget

SCAN = 9           # sub-intervals of a forward scan when splitting
MIN_WIDTH = 1e-13  # narrower intervals are not split again (float64 alpha resolution near 1 is ~1e-16)
FAST_WIDTH = 1e-5  # intervals at least this wide run the LSTM in float32 (4-5x faster here); narrower ones
                   # resolve steep steps in float64, which float32 path points cannot (6e-8 relative rounding)
FAST_TOLERANCE = 1e-4  # tolerances below this integrate in float64 throughout
TINY_SUM = 1e-3        # rank one needs sum_t u_t (for a unit u) at least this far from 0
F_EPS = 1e-6           # relative rounding of a value of F (float32 scans; float64 is far below)
GRAD_EPS = 1e-5        # relative error of a float32 gradient (measured ~1e-6; kept 10x wider)
MAX_EVALUATIONS_DEFAULT = 2400  # gradient evaluations before a result says it did not converge: on 200 IMDB
                                # reviews, imdb-full's hardest converged after 1,468-2,452
SPLIT_TARGET = 0.9     # each round splits the worst intervals until the rest's errors sum to this share of the
                       # tolerance


@dataclass(frozen=True)
class PathIntegral:
    scores: np.ndarray          # (T,) credits
    target_change: float        # F(x) - F(baseline), what the credits should sum to
    completeness_gap: float     # sum(scores) - target_change
    tolerance: float            # rtol |target_change| + atol
    converged: bool             # sum of interval errors within tolerance
    evaluations: int            # gradient evaluations (each one forward and one backward pass)
    rank_one_intervals: int     # intervals credited along the gradient's one direction (see the module docstring)
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
    error: float = np.inf              # the estimate's error: |sum - (F(b) - F(a))|, or the rank-one bound
    rank_one: bool = False
    steep: bool = True                 # F's change seen at the nodes is concentrated between two of them

    def settle(self, weights: np.ndarray, block: np.ndarray, variation: float, rank_one: bool = True,
               fast: bool = False) -> None:
        """Credits from the gradients `block` (points, T) at the Gauss-Legendre nodes: the quadrature, or, on a
        steep interval, the rank-one estimate where its bound is smaller (see the module docstring)."""
        change = self.fb - self.fa
        self.credits = (self.b - self.a) / 2 * (weights[:, None] * block).sum(0)
        self.error, self.rank_one = abs(float(self.credits.sum() - change)), False
        norms = np.linalg.norm(block, axis=1)
        rows = block[norms > 0] / norms[norms > 0, None]
        if not (rank_one and self.steep) or len(rows) < 2:
            return
        rows *= np.where(rows @ rows[int(np.argmax(norms[norms > 0]))] < 0, -1.0, 1.0)[:, None]
        u = rows.sum(0)
        u /= np.linalg.norm(u)
        sums, total = rows.sum(1), float(u.sum())
        if abs(total) < TINY_SUM or np.any(np.abs(sums) < TINY_SUM) or np.any(np.sign(sums) != np.sign(total)):
            return  # a direction whose entries cancel (or whose sum changes sign) says nothing about the sharing
        w = u / total                                                     # sums to 1
        spread = float(np.linalg.norm(rows / sums[:, None] - w, axis=1).max())
        # rounding: F's values, and float32 gradients' error shared by every node, which the spread cannot see
        # and which w = rho / sum(rho) amplifies by up to 1 + sqrt(T) / |sum(u)|
        rounding = F_EPS * (abs(self.fa) + abs(self.fb) + 1) + (
            GRAD_EPS * abs(change) * (1 + np.sqrt(len(u)) / abs(total)) if fast else 0.0)
        bound = max(variation, abs(change)) * spread + rounding * float(np.linalg.norm(w))
        if bound < self.error:
            self.credits, self.error, self.rank_one = change * w, bound, True


def integrate(target: WindowTarget, points: int = 4, rtol: float = 0.01, atol: float = 0.01,
              max_evaluations: int = MAX_EVALUATIONS_DEFAULT, initial: int = 2, rank_one: bool = True) -> PathIntegral:
    """Adaptive integrated gradients of `target` from its baseline (alpha = 0) to the review (alpha = 1).

    Args:
        points: Gauss-Legendre nodes per interval.
        rtol, atol: converged when the summed interval errors are <= rtol |F(1) - F(0)| + atol.
        max_evaluations: cap on gradient evaluations; past it the result says converged=False.
        initial: equal intervals to start from.
        rank_one: allow the rank-one estimate on steep intervals (off: Gauss-Legendre alone, for comparison).
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
            at_nodes, terms = target.path_gradients(alphas, fast=fast)  # (n points,), (n points, T)
            evaluations += len(alphas)
            seen = np.array(sorted(samples))
            for j, iv in enumerate(group):
                here = slice(j * points, (j + 1) * points)
                inside = seen[np.searchsorted(seen, iv.a) : np.searchsorted(seen, iv.b, side="right")]
                path = sorted([(float(a), samples[float(a)]) for a in inside] + list(zip(alphas[here], at_nodes[here])))
                gaps = np.abs(np.diff([v for _, v in path]))
                variation = float(gaps.sum())   # F's variation seen on [a, b]
                iv.steep = bool(variation > 0 and gaps.max() >= 0.5 * variation)
                iv.settle(weights, terms[here], variation, rank_one, fast)

    intervals = [_Interval(a, b, samples[a], samples[b]) for a, b in zip(edges[:-1], edges[1:])]
    quadrature(intervals)
    while True:
        errors = np.array([iv.error for iv in intervals])
        if errors.sum() <= tol:
            break
        if any(e > tol and iv.b - iv.a <= MIN_WIDTH for e, iv in zip(errors, intervals)):
            break  # F jumps within float64's resolution: no quadrature can be complete, so stop spending
        # split the worst intervals until what is left unsplit would be within SPLIT_TARGET of the tolerance
        order = np.argsort(-errors)
        left, split = errors.sum(), []
        for i in order:
            if left <= tol * SPLIT_TARGET:
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
    total_error = float(np.sum([iv.error for iv in intervals]))
    alphas = np.array(sorted(samples))
    return PathIntegral(scores=scores, target_change=change, completeness_gap=float(scores.sum() - change),
                        tolerance=tol, converged=total_error <= tol, evaluations=evaluations,
                        rank_one_intervals=sum(iv.rank_one for iv in intervals),
                        forward_evaluations=len(samples), path_alpha=alphas,
                        path_value=np.array([samples[a] for a in alphas]))


def _cut(iv: _Interval, samples: dict, values, fast_ok: bool) -> list[_Interval]:
    """Split one interval: around a steep step if a forward scan finds one, else in two.

    Only an interval whose nodes saw a step is scanned. A step (one ninth of the scan holding most of the
    change) is cut out with its two outer pieces, so repeated cuts narrow it ninefold each and grade the
    pieces towards it; each round checks whether the step's interval is already accurate (often as rank one)
    before narrowing it further.
    """
    cuts = [iv.a, (iv.a + iv.b) / 2, iv.b]
    if iv.steep:
        grid = np.linspace(iv.a, iv.b, SCAN + 1)
        values(grid[1:-1], fast=fast_ok and iv.b - iv.a >= FAST_WIDTH * SCAN)
        jumps = np.abs(np.diff([samples[float(g)] for g in grid]))
        j = int(np.argmax(jumps))
        step = jumps.sum() > 0 and jumps[j] >= 0.5 * jumps.sum()
        cuts = [iv.a, float(grid[j]), float(grid[j + 1]), iv.b] if step else [iv.a, float(grid[SCAN // 2]), iv.b]
    values(cuts[1:-1], fast=fast_ok and iv.b - iv.a >= FAST_WIDTH * 2)  # already known after a scan
    cuts = sorted(set(cuts))
    return [_Interval(a, b, samples[a], samples[b]) for a, b in zip(cuts[:-1], cuts[1:])]
