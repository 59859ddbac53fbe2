"""The adaptive integrator on paths whose integral is known in closed form.

Each fake target has per-token path terms g(alpha) = m(alpha) u(alpha) + c and F(alpha) = its antiderivative,
so the exact integrated gradients are known. The steps sit at alpha* = 0.3 with a width of 1e-16, narrower
than float64 can resolve there (its spacing is 5.6e-17): no quadrature can follow them.
"""
import numpy as np
import pytest

from tbptt_viz.attribution.methods import MAX_EVALUATIONS
from tbptt_viz.attribution.integrated import MAX_EVALUATIONS_DEFAULT, integrate

STEP, WIDTH, A = 0.3, 1e-16, 0.15
rng = np.random.default_rng(0)
T = 7
U = rng.normal(size=T)
U /= U.sum()                      # sum_t u_t = 1, so F' = m + sum(c)
V = rng.normal(size=T)
V -= V.mean()                     # sum_t v_t = 0: turning towards v changes the direction, not F
C = 0.05 * rng.normal(size=T)


class FakeTarget:
    """values / path_gradients as `integrate` calls them; `fast` is ignored (always float64)."""

    def __init__(self, rotate: bool):
        self.rotate = rotate

    def _m(self, a):
        return A / (WIDTH + np.abs(a - STEP))

    def _theta(self, a):
        return np.log(WIDTH + np.abs(a - STEP)) if self.rotate else np.zeros_like(a)

    def values(self, alphas, fast=False):
        a = np.asarray(alphas, dtype=np.float64)
        d = np.abs(a - STEP)
        # the antiderivative of m cos(theta) (rotating) or of m (not): A sin(log(.)) or A log(.)
        if self.rotate:
            step = A * (np.sin(np.log(WIDTH + d)) - np.sin(np.log(WIDTH)))
        else:
            step = A * (np.log(WIDTH + d) - np.log(WIDTH))
        return np.sign(a - STEP) * step + a * C.sum()

    def path_gradients(self, alphas, fast=False):
        a = np.asarray(alphas, dtype=np.float64)
        m, th = self._m(a), self._theta(a)
        terms = m[:, None] * (np.cos(th)[:, None] * U + np.sin(th)[:, None] * V) + C
        return self.values(a), terms

    def exact(self):
        change = self.values([1.0])[0] - self.values([0.0])[0] - C.sum()
        return change * U + C  # non-rotating only: the step's integral lies along u


def test_a_step_too_steep_for_float64_is_credited_along_its_one_direction():
    target = FakeTarget(rotate=False)
    r = integrate(target)
    exact = target.exact()
    assert r.target_change == pytest.approx(exact.sum(), abs=1e-9) and r.target_change > 9
    assert r.converged and r.rank_one_intervals >= 1
    assert abs(r.completeness_gap) <= r.tolerance
    assert np.linalg.norm(r.scores - exact) <= r.tolerance   # each token, not only the sum
    # the same path without the rank-one estimate: Gauss-Legendre alone reaches float64's resolution and gives up
    plain = integrate(target, max_evaluations=MAX_EVALUATIONS, rank_one=False)
    assert not plain.converged and abs(plain.completeness_gap) > plain.tolerance


class TurningStep:
    """The default example's geometry: T = 229 and a unit direction u with sum(u) = 1.3 (sqrt(T) = 15 times
    smaller than for an all-equal direction), different slopes on the two sides of the step, and across it the
    direction turns from u to u + turn * v, with v a unit vector orthogonal to u whose entries sum to 15. The
    rank-one estimate's error grows with the turn by sum(v) / sum(u); its bound must see that."""

    T, LEFT, RIGHT = 229, 0.05, 0.15

    def __init__(self, turn: float):
        g = np.random.default_rng(1)
        ones = np.ones(self.T) / np.sqrt(self.T)
        z = g.normal(size=self.T)
        z -= (z @ ones) * ones
        z /= np.linalg.norm(z)
        c = 1.3 / np.sqrt(self.T)
        self.u = c * ones + np.sqrt(1 - c * c) * z
        v = ones - (ones @ self.u) * self.u
        self.right = self.u + turn * v / np.linalg.norm(v)

    @staticmethod
    def _log(d):
        return np.log((WIDTH + d) / WIDTH)

    def values(self, alphas, fast=False):
        a = np.asarray(alphas, dtype=np.float64)
        d = np.abs(a - STEP)
        left, right = -self.LEFT * self._log(d) * self.u.sum(), self.RIGHT * self._log(d) * self.right.sum()
        return np.where(a < STEP, left, right)

    def path_gradients(self, alphas, fast=False):
        a = np.asarray(alphas, dtype=np.float64)
        m = np.where(a < STEP, self.LEFT, self.RIGHT) / (WIDTH + np.abs(a - STEP))
        return self.values(a), m[:, None] * np.where((a < STEP)[:, None], self.u, self.right)

    def exact(self):
        return self.LEFT * self._log(STEP) * self.u + self.RIGHT * self._log(1 - STEP) * self.right


@pytest.mark.parametrize("turn", [0.0, 0.003, 0.03, 0.3])
def test_a_rank_one_credit_is_only_claimed_where_its_bound_holds(turn):
    target = TurningStep(turn)
    r = integrate(target)
    error = np.linalg.norm(r.scores - target.exact())
    if turn <= 0.003:
        assert r.converged and r.rank_one_intervals >= 1
    if r.converged and r.rank_one_intervals:
        assert error <= r.tolerance, f"converged with rank one, but the credits are off by {error:.3g}"
    if r.converged:
        assert abs(r.completeness_gap) <= r.tolerance


def test_a_step_whose_direction_turns_at_every_scale_is_flagged_not_forced():
    r = integrate(FakeTarget(rotate=True))
    assert not r.converged
    assert abs(r.target_change) > 0.1 and r.evaluations <= MAX_EVALUATIONS_DEFAULT


def test_smooth_paths_never_use_the_rank_one_estimate():
    class Smooth(FakeTarget):
        def values(self, alphas, fast=False):
            a = np.asarray(alphas, dtype=np.float64)
            return np.sin(3 * a) + a * C.sum()

        def path_gradients(self, alphas, fast=False):
            a = np.asarray(alphas, dtype=np.float64)
            return self.values(a), 3 * np.cos(3 * a)[:, None] * U + C

    r = integrate(Smooth(rotate=False), rtol=0, atol=1e-10)
    assert r.converged and r.rank_one_intervals == 0
    np.testing.assert_allclose(r.scores, np.sin(3.0) * U + C, atol=1e-10)


def test_the_rank_one_bound_covers_float32_error_that_every_node_shares():
    """float32 gradients carry an error common to all nodes (the float32 copy is a slightly different function);
    the nodes' spread cannot see it, and w = rho / sum(rho) amplifies it when sum(rho) is small."""
    from tbptt_viz.attribution.integrated import _Interval

    g = np.random.default_rng(2)
    n = 2000
    ones = np.ones(n) / np.sqrt(n)
    z = g.normal(size=n)
    z -= (z @ ones) * ones
    z /= np.linalg.norm(z)
    u = 0.1 / np.sqrt(n) * ones + np.sqrt(1 - 0.01 / n) * z       # unit, sum(u) = 0.1
    seen = u + 1e-6 * g.normal(size=n)                             # the same float32 error at every node
    nodes, weights = np.polynomial.legendre.leggauss(4)
    block = np.array([5.0, 40.0, 900.0, 30.0])[:, None] * seen       # a steep interval: one direction, any slopes
    iv = _Interval(0.3, 0.3 + 1e-4, 0.0, 5.0, steep=True)
    iv.settle(weights, block, variation=5.0, fast=True)
    assert iv.rank_one
    assert np.linalg.norm(iv.credits - 5.0 * u / u.sum()) <= iv.error
