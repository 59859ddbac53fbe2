"""Integrated gradients that converge or say they did not (Sundararajan et al. 2017, arXiv:1703.01365).

IG credits token t with  (x_t - x'_t) . integral_0^1 dF/dy_t(x' + a (x - x')) da,  and the credits sum to
F(x) - F(x') (completeness). A fixed quadrature fails when F jumps along the path: on the default example
under imdb-last-k30 the logit rises by 10.5 within alpha = 0.0414147400 +- 3e-11. So integrate adaptively,
and control every token's error, not only their sum's.

Split [0, 1] into intervals. On each, one batch of gradients at the 2n + 1 Gauss-Kronrod nodes (Kronrod 1965;
Laurie 1997 for the nodes) gives two rules per token: Gauss-Legendre on its n nodes (exact to degree 2n - 1)
and Kronrod on all of them (degree 3n + 1). The Kronrod credits are kept; their per-token error is estimated
by the difference (the lower rule's error, far above the kept rule's on a smooth stretch):

    e_t = |K_t - G_t|                 interval's completeness gap  d = |sum_t K_t - (F(b) - F(a))|

A feature between the nodes that both rules miss (a narrow bump of F') shows in d, since F(b) - F(a) is
exact (a forward pass); d is counted as if it fell on one token. A bump of F itself, falling and rising again
between two nodes, leaves F(b) - F(a) alone while tokens gain and lose credit inside it, so d also looks
halfway between consecutive nodes (forward passes only, `between_nodes`; on every interval at least
FAST_WIDTH wide: narrower ones lie at a step, which `_cut`'s scans locate): d is the largest distance between F
and F(a) plus the integral of the polynomial through the node slopes, at b and at those points. This is how
the audit's miss was found and closed: on imdb-full and IMDB test review 15626 (last 500 tokens) F fell from
3.3 to 1.2 and back between two nodes of [0.105, 0.5]; both rules agreed there to 0.003 and the result said
converged (estimate 0.069 against a tolerance of 0.069) 0.317 (L2) from tests/ig_reference.py. With the
points between the nodes it splits that interval and ends 0.004 from the reference (results/audit_ig.json).
The check, like any quadrature's, assumes that what lies between its points is no narrower than their spacing.

    error_estimate = || sum_intervals e ||_2  +  sum_intervals d  (+ rank-one bounds, below)
    converged:  error_estimate <= tolerance = rtol |F(1) - F(0)| + atol

(|.| per token summed over intervals, then L2 over tokens: the true error's L2 norm is below that whenever each
interval's estimates are). So two rules agree per token before a result says converged, and each interval's
scores also add up to its change, at its end and between its nodes. The old rule (4 Gauss nodes, the sums' gaps
alone) said converged on IMDB test reviews whose scores were 3.06 away in L2 from a dense reference against a
tolerance of 0.09 (`git log` on this file). Intervals with the largest error are split, around a steep step
found by a batched forward scan when the nodes saw one: the step is narrowed ninefold per split instead of
twofold.

Some steps are steeper than any quadrature can follow: F crosses between two levels within a sliver of alpha
that float64 barely resolves, flipping between them around it (the state passes near a saddle of the LSTM's
dynamics). There the gradient at every node points the same way, u or -u, because one unstable direction of
the state dominates it (tests/test_shipped.py checks this beside the default example's jump). Write the
node gradients as g = F'(alpha) w(alpha) with w = rho / sum_t rho_t for the sign-aligned unit direction rho;
then exactly

    integral g = integral F'(alpha) w(alpha) dalpha,    so if w is constant:  integral g = (F(b) - F(a)) w

and in general the estimate (F(b) - F(a)) w_bar (w_bar from the nodes' mean direction; its sum is F(b) - F(a)
by construction) is off by at most TV * max_alpha ||w(alpha) - w_bar||_2 in L2 over tokens, with TV the
variation of F on [a, b]. A steep interval is credited that way ("rank one") when this bound, taken over the
nodes and F's variation seen at them, plus the rounding of F's two end values times ||w_bar||_2, is smaller
than the quadrature's error; the bound enters error_estimate as it is (an L2 bound, added by the triangle
inequality). Like any quadrature it assumes the nodes are representative of the points between them, and the
app says when it was used. A direction whose entries nearly cancel (sum_t rho_t near 0) is never used.

Precision. Gradients in float32 are 2.6-3.2x faster here, but float32 rounds each path point by 6e-8 relative,
and the LSTM amplifies that where the path is steep: measured on the shipped models against float64 (embedded
examples, nodes at distances 1e-1 to 1e-7 from each path's steepest point), the per-token terms' relative L2
error was 4e-7 (median) and at most 7e-6 farther than 1e-2 from it, up to 4e-4 within 1e-2 and up to 9% within
1e-4; F's, relative to |F| + 1, up to 9e-7, 2e-5 and 5.7% there. So:
  - every interval end is a float64 value (a float32 scan only locates a step), since the ends give the gaps
    d and the change a rank-one interval shares out;
  - near a step the float32 error is almost all in the gradient's size, not its direction (float32 shifts the
    step along alpha): there the directions were within 3.8e-6 (unit vectors, L2) where the gradients were 9%
    off, so the rank-one estimate, which takes only directions from the nodes and the change from float64
    ends, may use float32 nodes, counting GRAD_DIRECTION_EPS in its rounding;
  - a float32 interval checks its node of largest gradient against a float64 gradient; unless they agree
    within GRAD_CHECK its quadrature is not used (only rank one may be), and if rank one does not apply
    either it is redone in float64, as are the pieces later cut from it; a kept quadrature counts
    GRAD_EPS * (b - a) / 2 * sum_i k_i ||g_i|| in its error, which both rules share and their difference
    cannot see; where those counts pass ROUNDING_SHARE of the tolerance, the rest runs in float64.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from tbptt_viz.attribution.targets import WindowTarget

SCAN = 9           # sub-intervals of a forward scan when splitting
MIN_WIDTH = 1e-13  # narrower intervals are not split again (float64 alpha resolution near 1 is ~1e-16)
FAST_WIDTH = 1e-5  # intervals at least this wide run the LSTM in float32 (4-5x faster here); narrower ones
                   # resolve steep steps in float64, which float32 path points cannot (6e-8 relative rounding)
FAST_TOLERANCE = 1e-4  # tolerances below this integrate in float64 throughout
TINY_SUM = 1e-3        # rank one needs sum_t u_t (for a unit u) at least this far from 0
F_EPS = 1e-5           # rounding of a float64 F, relative to |F| + 1: two float64 computations of F at the same
                       # alphas (this target's and tests/ig_reference.py's) on 16 embedded-example paths agreed
                       # to 1.1e-16 down to 1e-12 from the steepest point, to 1.1e-5 at 1e-13 (MIN_WIDTH)
GRAD_CHECK = 1e-5      # a float32 interval's quadrature is kept when its steepest node is within this of float64
GRAD_DIRECTION_EPS = 1e-5  # error of a float32 gradient's direction (unit vectors, L2): within 1e-1 of the
                       # steepest point of 16 embedded-example paths at most 3.8e-6, also where the gradient itself
                       # was off by 9% (float32 shifts the step along alpha, the direction stays)
GRAD_EPS = 1e-4        # a kept float32 interval's credit error, L2 over tokens, as a share of
                       # (b - a) / 2 * sum_i k_i ||g_i||: on 15 seeded IMDB test reviews x imdb-last-k30, -full and
                       # -chunked-k30, 246 intervals kept as quadratures, median 2.2e-7, at most 3.7e-5 (scripts/
                       # measure_ig_precision.py, 2026-12-01); single nodes there were off by up to 3.4e-4 (an
                       # earlier run, with the check at the centre node)
ROUNDING_SHARE = 0.5   # float32 rounding above this share of the tolerance: integrate in float64 instead
MAX_EVALUATIONS_DEFAULT = 4000  # gradient evaluations before a result says it did not converge (the cap a caller may
                                # ask for is choices.MAX_EVALUATIONS): on 200 seeded IMDB test reviews
                                # (results/bench/ig.json) 98% (imdb-full) to 100% converged, p95 223-2,841
SPLIT_TARGET = 0.9     # each round splits the worst intervals until the rest's error estimate is this share of
                       # the tolerance


@lru_cache(maxsize=None)
def gauss_kronrod(points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(nodes (2n+1,), Kronrod weights, Gauss-Legendre weights (0 at the Kronrod-only nodes)) on [-1, 1].

    Laurie's algorithm (Math. Comp. 66, 1997, as in Gautschi's r_kronrod): from the Legendre recurrence
    alpha_k = 0, beta_0 = 2, beta_k = k^2 / (4k^2 - 1) it builds the Jacobi matrix of the Kronrod rule, whose
    eigenvalues are the nodes and the squared first components of its eigenvectors (times beta_0) the weights.
    """
    n = points
    k = np.arange(2 * n + 2, dtype=np.float64)
    beta0 = np.where(k == 0, 2.0, k**2 / np.maximum(4 * k**2 - 1, 1.0))
    a, b = np.zeros(2 * n + 1), np.zeros(2 * n + 1)
    b[: -(-3 * n // 2) + 1] = beta0[: -(-3 * n // 2) + 1]
    s, t = np.zeros(n // 2 + 2), np.zeros(n // 2 + 2)
    t[1] = b[n + 1]
    for m in range(n - 1):
        u = 0.0
        for i in range((m + 1) // 2, -1, -1):
            j = m - i
            u += (a[i + n + 1] - a[j]) * t[i + 1] + b[i + n + 1] * s[i] - b[j] * s[i + 1]
            s[i + 1] = u
        s, t = t, s
    s[1 : n // 2 + 2] = s[0 : n // 2 + 1].copy()
    for m in range(n - 1, 2 * n - 2):
        u, j = 0.0, 0
        for i in range(m + 1 - n, (m - 1) // 2 + 1):
            j = n - 1 - (m - i)
            u -= (a[i + n + 1] - a[m - i]) * t[j + 1] + b[i + n + 1] * s[j + 1] - b[m - i] * s[j + 2]
            s[j + 1] = u
        if m % 2 == 0:
            a[m // 2 + n + 1] = a[m // 2] + (s[j + 1] - b[m // 2 + n + 1] * s[j + 2]) / t[j + 2]
        else:
            b[(m + 1) // 2 + n + 1] = s[j + 1] / s[j + 2]
        s, t = t, s
    a[2 * n] = a[n - 1] - b[2 * n] * s[1] / t[1]
    nodes, vectors = np.linalg.eigh(np.diag(a) + np.diag(np.sqrt(b[1:]), 1) + np.diag(np.sqrt(b[1:]), -1))
    kronrod = b[0] * vectors[0] ** 2
    gauss_nodes, gauss_weights = np.polynomial.legendre.leggauss(n)
    gauss = np.zeros_like(nodes)
    at = np.abs(nodes[:, None] - gauss_nodes[None]).argmin(0)  # every other node, from the second
    nodes[at], gauss[at] = gauss_nodes, gauss_weights           # Gauss nodes exactly as numpy's
    return nodes, kronrod, gauss


@lru_cache(maxsize=None)
def between_nodes(points: int) -> tuple[np.ndarray, np.ndarray]:
    """(scan (2n+2,), R (2n+2, 2n+1)) on [-1, 1]: the points halfway between consecutive Gauss-Kronrod nodes and
    the ends, and the map from the slopes at the nodes to the integral from -1 to each scan point of the
    polynomial through them (degree 2n: on [-1, 1] its integral is the Kronrod rule). The credits' running sum
    at a scan point is what F should have gained there; F itself, from a forward pass, says what it did."""
    nodes = gauss_kronrod(points)[0]
    ends = np.concatenate([[-1.0], nodes, [1.0]])
    scan = (ends[:-1] + ends[1:]) / 2
    degree = len(nodes) - 1
    vander = np.polynomial.legendre.legvander(nodes, degree)                       # (nodes, coefficients)
    running = np.stack([np.polynomial.legendre.legval(scan, np.polynomial.legendre.legint(np.eye(degree + 1)[k],
                                                                                           lbnd=-1))
                        for k in range(degree + 1)], axis=1)                        # (scan, coefficients)
    return scan, running @ np.linalg.inv(vander)


@dataclass(frozen=True)
class PathIntegral:
    scores: np.ndarray          # (T,) credits
    target_change: float        # F(x) - F(baseline), what the credits should sum to
    completeness_gap: float     # sum(scores) - target_change
    tolerance: float            # rtol |target_change| + atol
    error_estimate: float       # estimated L2 error of `scores` over tokens (see the module docstring)
    token_error: np.ndarray     # (T,) the quadrature's per-token error estimate, summed over intervals
    converged: bool             # error_estimate <= tolerance
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
    credits: np.ndarray | None = None      # (T,)
    token_error: np.ndarray | None = None  # (T,) |Kronrod - Gauss| per token; None when credited as rank one
    gap: float = np.inf                    # |sum(credits) - (F(b) - F(a))|, or larger between the nodes
    error: float = np.inf                  # ||token_error||_2 + gap + rounding, or the rank-one bound
    rounding: float = 0.0                  # float32 gradients' error bound (L2 over tokens); 0 in float64
    rank_one: bool = False
    steep: bool = True                     # F's change seen at the nodes is concentrated between two of them
    fast: bool = False                     # integrated with float32 gradients
    float64: bool = False                  # float32 failed its check here (or on the interval this came from)

    def at(self, x: np.ndarray) -> np.ndarray:
        """Points of [-1, 1] (nodes, scan points) mapped onto [a, b]."""
        return (self.b - self.a) / 2 * x + (self.a + self.b) / 2

    def may_be_fast(self) -> bool:
        return self.b - self.a >= FAST_WIDTH and not self.float64

    def settle(self, kronrod: np.ndarray, gauss: np.ndarray, block: np.ndarray, variation: float,
               rank_one: bool = True, fast: bool = False, quadrature: bool = True,
               between: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Credits from the gradients `block` (2n+1 points, T) at the Gauss-Kronrod nodes: the Kronrod rule with
        its per-token error estimate, or, on a steep interval, the rank-one estimate where its bound is smaller
        (see the module docstring). quadrature=False: float32 failed its check, so only the rank-one estimate,
        which uses the gradients' directions alone, may be taken (error inf otherwise). between: (F at the
        points halfway between the nodes, the map R of `between_nodes`): the gap is then the largest of
        |F(s) - F(a) - the polynomial's integral to s| there and at b, so a bump of F between the nodes that
        both rules miss (and whose rise and fall cancel at b) counts."""
        change, half = self.fb - self.fa, (self.b - self.a) / 2
        self.fast = fast
        self.credits = half * (kronrod @ block)                               # (T,)
        self.token_error = np.abs(self.credits - half * (gauss @ block))       # (T,)
        self.gap = abs(float(self.credits.sum() - change))
        if between is not None:
            scan_values, running = between
            expected = self.fa + half * (running @ block.sum(1))
            self.gap = max(self.gap, float(np.abs(scan_values - expected).max()))
        norms = np.linalg.norm(block, axis=1)
        # float32 gradients: each node's error is at most GRAD_EPS of its norm, so the credits' (L2) at most
        # half * sum_i k_i GRAD_EPS ||g_i||; both rules share it, so their difference cannot see it
        self.rounding = GRAD_EPS * half * float(kronrod @ norms) if fast else 0.0
        self.error, self.rank_one = float(np.linalg.norm(self.token_error)) + self.gap + self.rounding, False
        if not quadrature:
            self.error = np.inf
        rows = block[norms > 0] / norms[norms > 0, None]
        if not (rank_one and self.steep) or len(rows) < 2:
            return
        rows *= np.where(rows @ rows[int(np.argmax(norms[norms > 0]))] < 0, -1.0, 1.0)[:, None]
        u = (kronrod[norms > 0] * norms[norms > 0]) @ rows  # weighted as the integral weighs them: by |g|
        u /= np.linalg.norm(u)
        sums, total = rows.sum(1), float(u.sum())
        if abs(total) < TINY_SUM or np.any(np.abs(sums) < TINY_SUM) or np.any(np.sign(sums) != np.sign(total)):
            return  # a direction whose entries cancel (or whose sum changes sign) says nothing about the sharing
        w = u / total                                                     # sums to 1
        ws = rows / sums[:, None]                                         # each node's w, in alpha order
        # how far w strays from w_bar: the farthest node, plus what lies between two nodes (the step itself
        # among it) may stray further by as much as two neighbouring nodes differ
        spread = float(np.linalg.norm(ws - w, axis=1).max() + np.linalg.norm(np.diff(ws, axis=0), axis=1).max())
        # rounding: F's float64 values at the two ends (the change that w shares out), and the error of float32
        # gradients' directions, shared by every node, which the spread cannot see and which w = rho / sum(rho)
        # amplifies by up to 1 + sqrt(T) / |sum(u)|
        rounding = F_EPS * (abs(self.fa) + abs(self.fb) + 1) + (
            GRAD_DIRECTION_EPS * abs(change) * (1 + np.sqrt(len(u)) / abs(total)) if fast else 0.0)
        bound = max(variation, abs(change)) * spread + rounding * float(np.linalg.norm(w))
        if bound < self.error:
            self.credits, self.token_error, self.gap = change * w, None, 0.0
            self.error, self.rank_one = bound, True


def _estimate(intervals) -> tuple[float, np.ndarray]:
    """(error_estimate, per-token quadrature error (T,)) of a set of intervals (see the module docstring)."""
    quad = [iv for iv in intervals if not iv.rank_one]
    T = len(intervals[0].credits)
    token = np.sum([iv.token_error for iv in quad], axis=0) if quad else np.zeros(T)
    scalar = sum(iv.gap + iv.rounding for iv in quad) + sum(iv.error for iv in intervals if iv.rank_one)
    return float(np.linalg.norm(token)) + scalar, token


def integrate(target: WindowTarget, points: int = 4, rtol: float = 0.01, atol: float = 0.01,
              max_evaluations: int = MAX_EVALUATIONS_DEFAULT, initial: int = 2, rank_one: bool = True) -> PathIntegral:
    """Adaptive integrated gradients of `target` from its baseline (alpha = 0) to the review (alpha = 1).

    Args:
        points: Gauss-Legendre nodes per interval (n; each interval evaluates the 2n + 1 Gauss-Kronrod nodes).
        rtol, atol: converged when the error estimate (per-token, L2 over tokens: see the module docstring) is
            <= rtol |F(1) - F(0)| + atol.
        max_evaluations: cap on gradient evaluations; past it the result says converged=False (the first pass,
            initial x (2 points + 1) evaluations, always runs).
        initial: equal intervals to start from.
        rank_one: allow the rank-one estimate on steep intervals (off: the quadrature alone, for comparison).
    """
    nodes, kronrod, gauss = gauss_kronrod(points)
    per = len(nodes)
    samples: dict[float, float] = {}
    exact: set[float] = set()  # alphas whose F is float64's: every interval end (scans may be float32)

    def values(alphas, fast=False):
        alphas = [float(a) for a in alphas if float(a) not in (samples if fast else exact)]
        for a, v in zip(alphas, target.values(alphas, fast) if alphas else []):
            samples[a] = float(v)
        if not fast:
            exact.update(alphas)

    edges = np.linspace(0.0, 1.0, initial + 1)
    values(edges, fast=False)
    tol = rtol * abs(samples[1.0] - samples[0.0]) + atol
    fast_ok = tol >= FAST_TOLERANCE  # float32's own error (~1e-6 of the change) must be far below the tolerance
    evaluations = 0

    scan, running = between_nodes(points)

    def scanned(group, fast):
        """F halfway between every interval's nodes, one batch (forward passes only)."""
        values(np.concatenate([iv.at(scan) for iv in group]), fast=fast)

    def settle(group, alphas, at_nodes, terms, fast, trusted=None):
        seen = np.array(sorted(samples))
        for j, iv in enumerate(group):
            at = [float(s) for s in iv.at(scan)]
            between = (np.array([samples[s] for s in at]), running) if all(s in samples for s in at) else None
            here = slice(j * per, (j + 1) * per)
            inside = seen[np.searchsorted(seen, iv.a) : np.searchsorted(seen, iv.b, side="right")]
            path = sorted([(float(a), samples[float(a)]) for a in inside] + list(zip(alphas[here], at_nodes[here])))
            gaps = np.abs(np.diff([v for _, v in path]))
            variation = float(gaps.sum())   # F's variation seen on [a, b]
            iv.steep = bool(variation > 0 and gaps.max() >= 0.5 * variation)
            iv.settle(kronrod, gauss, terms[here], variation, rank_one, fast,
                      quadrature=True if trusted is None else bool(trusted[j]), between=between)

    def quadrature(intervals):
        nonlocal evaluations
        fast = [iv for iv in intervals if fast_ok and iv.may_be_fast()]
        slow = [iv for iv in intervals if not (fast_ok and iv.may_be_fast())]
        nodes_of = lambda group: np.concatenate([iv.at(nodes) for iv in group]) if group else np.zeros(0)  # noqa: E731
        slow_alphas = nodes_of(slow)
        wide = [iv for iv in slow if iv.b - iv.a >= FAST_WIDTH]
        if wide:   # narrower ones lie at a step, found and graded by the scans of `_cut`
            scanned(wide, False)
        if fast:
            alphas = nodes_of(fast)
            at_nodes, terms = target.path_gradients(alphas, fast=True)  # (n points,), (n points, T)
            scanned(fast, True)
            # each float32 interval checks its node of largest gradient (float32 is worst where F is steepest)
            # against float64; where they differ, only the rank-one estimate (directions only) may use them.
            # The checks ride in one float64 batch with the float64 intervals' nodes
            norms = np.linalg.norm(terms, axis=1).reshape(len(fast), per)
            at = np.arange(len(fast)) * per + norms.argmax(1)
            values64, terms64 = target.path_gradients(np.concatenate([alphas[at], slow_alphas]), fast=False)
            check = terms64[: len(fast)]                                    # (intervals, T)
            evaluations += len(alphas) + len(fast) + len(slow_alphas)
            trusted = np.linalg.norm(terms[at] - check, axis=1) <= GRAD_CHECK * np.linalg.norm(check, axis=1)
            settle(fast, alphas, at_nodes, terms, True, trusted)
            if slow:
                settle(slow, slow_alphas, values64[len(fast) :], terms64[len(fast) :], False)
            slow = [iv for iv in fast if not np.isfinite(iv.error)]
            for iv in slow:                     # float32 is unreliable here, and for the pieces cut from it
                iv.float64 = True
            slow_alphas = nodes_of(slow)
        if slow:
            at_nodes, terms = target.path_gradients(slow_alphas, fast=False)
            evaluations += len(slow_alphas)
            settle(slow, slow_alphas, at_nodes, terms, False)

    intervals = [_Interval(a, b, samples[a], samples[b]) for a, b in zip(edges[:-1], edges[1:])]
    quadrature(intervals)
    while True:
        estimate, token = _estimate(intervals)
        if estimate <= tol:
            break
        if fast_ok and sum(iv.rounding for iv in intervals) > ROUNDING_SHARE * tol:
            # splitting does not shrink float32's error (it scales with the integral of |g|): go float64
            fast_ok = False
            redo = [iv for iv in intervals if iv.fast]
            if evaluations + len(redo) * per > max_evaluations:
                break
            quadrature(redo)
            continue
        if any(iv.error > tol and iv.b - iv.a <= MIN_WIDTH for iv in intervals):
            break  # F jumps within float64's resolution: no quadrature can be complete, so stop spending
        # split the worst intervals until what is left unsplit would be within SPLIT_TARGET of the tolerance
        split, scalar = [], estimate - float(np.linalg.norm(token))
        for i in np.argsort([-iv.error for iv in intervals]):
            if float(np.linalg.norm(token)) + scalar <= tol * SPLIT_TARGET:
                break
            iv = intervals[i]
            if iv.b - iv.a > MIN_WIDTH:  # narrower: F jumps within float64's resolution
                split.append(i)
            if iv.rank_one:
                scalar -= iv.error
            else:
                token, scalar = token - iv.token_error, scalar - iv.gap - iv.rounding
        # the worst ones that the cap still allows: each makes up to 3 pieces, a float32 piece costs its centre's
        # float64 check too, and one that fails it its nodes again in float64
        split = split[: (max_evaluations - evaluations) // (3 * (2 * per + 1))]
        if not split:
            break
        for fast in (True, False):  # the steep intervals' scans, one batch per precision
            grids = [g for i in split for g in [_scan_grid(intervals[i], fast_ok)] if g is not None and g[1] == fast]
            if grids:
                values(np.concatenate([g for g, _ in grids]), fast=fast)
        pieces = [(lo, hi, intervals[i].float64) for i in split for lo, hi in _cut(intervals[i], samples)]
        values(sorted({x for lo, hi, _ in pieces for x in (lo, hi)}), fast=False)  # every new end, in one batch
        new = [_Interval(lo, hi, samples[lo], samples[hi], float64=f64) for lo, hi, f64 in pieces]
        quadrature(new)
        intervals = [iv for j, iv in enumerate(intervals) if j not in set(split)] + new
        intervals.sort(key=lambda iv: iv.a)
    scores = np.sum([iv.credits for iv in intervals], axis=0)
    change = samples[1.0] - samples[0.0]
    estimate, token = _estimate(intervals)
    alphas = np.array(sorted(samples))
    return PathIntegral(scores=scores, target_change=change, completeness_gap=float(scores.sum() - change),
                        tolerance=tol, error_estimate=float(estimate), token_error=token,
                        converged=bool(estimate <= tol),
                        evaluations=evaluations, rank_one_intervals=sum(iv.rank_one for iv in intervals),
                        forward_evaluations=len(samples), path_alpha=alphas,
                        path_value=np.array([samples[a] for a in alphas]))


def _scan_grid(iv: _Interval, fast_ok: bool) -> tuple[np.ndarray, bool] | None:
    """The forward scan `_cut` reads for a steep interval: (its SCAN - 1 inner points, float32 or not); None
    for an interval whose nodes saw no step (it is cut in two)."""
    if not iv.steep:
        return None
    return np.linspace(iv.a, iv.b, SCAN + 1)[1:-1], fast_ok and iv.b - iv.a >= FAST_WIDTH * SCAN


def _cut(iv: _Interval, samples: dict) -> list[tuple[float, float]]:
    """Split one interval: around a steep step if a forward scan finds one, else in two.

    Only an interval whose nodes saw a step is scanned (`_scan_grid`; the caller evaluates every round's scans
    in one batch per precision). A step (one ninth of the scan holding most of the change) is cut out with its
    two outer pieces, so repeated cuts narrow it ninefold each and grade the pieces towards it; each round
    checks whether the step's interval is already accurate (often as rank one) before narrowing it further.
    The scan may run in float32 (it only locates the step); the new ends are float64 values (the caller
    evaluates every round's new ends in one batch), since the pieces' changes F(b) - F(a) are what their
    credits are checked against and what a rank-one piece shares out.
    """
    a, b = iv.a, iv.b
    cuts = [a, (a + b) / 2, b]
    if iv.steep:
        grid = np.concatenate([[a], _scan_grid(iv, False)[0], [b]])
        jumps = np.abs(np.diff([samples[float(g)] for g in grid]))
        j = int(np.argmax(jumps))
        step = jumps.sum() > 0 and jumps[j] >= 0.5 * jumps.sum()
        cuts = [a, float(grid[j]), float(grid[j + 1]), b] if step else [a, float(grid[SCAN // 2]), b]
    cuts = sorted(set(cuts))
    return list(zip(cuts[:-1], cuts[1:]))
