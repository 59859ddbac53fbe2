"""The adaptive integrator on paths whose integral is known in closed form.

Each fake target has per-token path terms g(alpha) = m(alpha) u(alpha) + c and F(alpha) = its antiderivative,
so the exact integrated gradients are known. The steps sit at alpha* = 0.3 with a width of 1e-16, narrower
than float64 can resolve there (its spacing is 5.6e-17): no quadrature can follow them.
"""
import numpy as np
import pytest

from scipy.special import erf

from tbptt_viz.attribution.choices import MAX_EVALUATIONS
from tbptt_viz.attribution.integrated import MAX_EVALUATIONS_DEFAULT, gauss_kronrod, integrate

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


@pytest.mark.parametrize("turn", [0.0, 0.001, 0.003, 0.03, 0.3])
def test_a_rank_one_credit_is_only_claimed_where_its_bound_holds(turn):
    target = TurningStep(turn)
    r = integrate(target)
    error = np.linalg.norm(r.scores - target.exact())
    # the bound lets the direction between two nodes stray as far as neighbouring nodes differ (a step's own
    # direction may lie beyond every node's): at turn 0.001 the credits are 0.0011 from exact and the estimate
    # is 0.105 of a tolerance of 0.105; at 0.003 they are 0.0010 off but the estimate is 0.111 against 0.107,
    # so that result says it did not converge: a false alarm, on the safe side
    if turn <= 0.001:
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
    the nodes' spread cannot see it, and w = rho / sum(rho) amplifies it when sum(rho) is small. Here each node's
    direction is off by 1e-6 (near a step the shipped models' were off by at most 3.8e-6)."""
    from tbptt_viz.attribution.integrated import GRAD_EPS, _Interval

    g = np.random.default_rng(2)
    n = 2000
    ones = np.ones(n) / np.sqrt(n)
    z = g.normal(size=n)
    z -= (z @ ones) * ones
    z /= np.linalg.norm(z)
    u = 0.1 / np.sqrt(n) * ones + np.sqrt(1 - 0.01 / n) * z       # unit, sum(u) = 0.1
    seen = u + 1e-6 * g.normal(size=n) / np.sqrt(n)                 # the same float32 error at every node
    nodes, kronrod, gauss = gauss_kronrod(4)
    slopes = np.array([5.0, 40.0, 900.0, 30.0, 7.0, 3.0, 60.0, 11.0, 2.0])  # one direction, any slopes
    iv = _Interval(0.3, 0.3 + 1e-4, 0.0, 5.0, steep=True)
    iv.settle(kronrod, gauss, slopes[:, None] * seen, variation=5.0, fast=True)
    assert iv.rank_one
    assert np.linalg.norm(iv.credits - 5.0 * u / u.sum()) <= iv.error
    # a float32 quadrature counts GRAD_EPS of its nodes' gradient norms; one that failed its check is not used
    flat = _Interval(0.3, 0.5, 0.0, 0.2, steep=False)
    flat.settle(kronrod, gauss, np.ones((9, n)) / n, variation=0.2, fast=True)
    assert not flat.rank_one and flat.rounding == pytest.approx(GRAD_EPS * 0.1 * kronrod.sum() / np.sqrt(n))
    assert flat.error >= flat.rounding
    flat.settle(kronrod, gauss, np.ones((9, n)) / n, variation=0.2, fast=True, quadrature=False)
    assert flat.error == np.inf


class Float32Like(FakeTarget):
    """The step of FakeTarget(rotate=False) with float32's measured errors when asked for `fast`: within 1e-4
    of the step the shipped models' float32 gradients were off by up to 9% and F by up to 5.7% of |F| + 1
    (tests/test_facts.py), elsewhere by 1e-6; here 10% and 6% near the step. Interval ends must come from
    float64, and nothing near the step may rest on float32."""

    def __init__(self):
        super().__init__(rotate=False)
        self.noise = np.random.default_rng(5)

    def values(self, alphas, fast=False):
        v = super().values(alphas)
        if fast:
            near = np.abs(np.asarray(alphas, dtype=np.float64) - STEP) < 1e-4
            v = v + np.where(near, 0.06, 1e-6) * (np.abs(v) + 1) * self.noise.choice([-1.0, 1.0], size=len(v))
        return v

    def path_gradients(self, alphas, fast=False):
        v, terms = super().path_gradients(alphas)
        if fast:
            near = np.abs(np.asarray(alphas, dtype=np.float64) - STEP) < 1e-4
            rel = np.where(near, 0.1, 1e-6)[:, None] * np.linalg.norm(terms, axis=1, keepdims=True)
            terms = terms + rel * self.noise.normal(size=terms.shape) / np.sqrt(terms.shape[1])
        return self.values(alphas, fast), terms


def test_float32_error_beside_a_step_does_not_reach_a_converged_result():
    target = Float32Like()
    r = integrate(target)
    assert r.converged and r.rank_one_intervals >= 1
    assert np.linalg.norm(r.scores - target.exact()) <= r.tolerance
    assert r.target_change == pytest.approx(target.exact().sum(), abs=1e-12)   # float64 ends


def test_float32_rounding_above_half_the_tolerance_switches_to_float64():
    class Steep(FakeTarget):  # a smooth path with large gradients: float32's share of the tolerance is large
        calls = []

        def values(self, alphas, fast=False):
            return 100 * np.sin(3 * np.asarray(alphas, dtype=np.float64))

        def path_gradients(self, alphas, fast=False):
            a = np.asarray(alphas, dtype=np.float64)
            self.calls.append(fast)
            return self.values(a), 300 * np.cos(3 * a)[:, None] * U

    target = Steep(rotate=False)
    r = integrate(target, rtol=0, atol=1e-3)   # float32 rounding alone: 1e-5 * integral of |g| ~ 3e-3
    assert r.converged and np.linalg.norm(r.scores - 100 * np.sin(3.0) * U) <= 1e-3
    assert target.calls[0] is True and target.calls[-1] is False


# ---- every token's error, not only the sum's ------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 15, 64])
def test_gauss_kronrod_nodes_hold_the_gauss_rule_and_integrate_polynomials_to_degree_3n_plus_1(n):
    nodes, kronrod, gauss = gauss_kronrod(n)
    assert len(nodes) == 2 * n + 1 and np.all(np.diff(nodes) > 0) and np.all(kronrod > 0)
    xg, wg = np.polynomial.legendre.leggauss(n)
    np.testing.assert_array_equal(nodes[gauss != 0], xg)      # the Gauss rule is embedded, node for node
    np.testing.assert_array_equal(gauss[gauss != 0], wg)
    for d in range(3 * n + 2):                                  # Legendre P_d integrates to 2 (d = 0) or 0
        p = np.polynomial.legendre.legval(nodes, [0] * d + [1])
        assert kronrod @ p == pytest.approx(2.0 if d == 0 else 0.0, abs=1e-13)
    if n == 7:  # QUADPACK's 15-point Kronrod rule (Piessens et al. 1983), its outermost node and weight
        assert nodes[-1] == pytest.approx(0.991455371120812639, abs=1e-15)
        assert kronrod[-1] == pytest.approx(0.022935322010529224, abs=1e-15)


class Swapping:
    """Per-token terms g_t(alpha) = c_t + s_t cos(k alpha) with sum_t s_t = 0: F is linear, so any rule gets
    every interval's sum exactly while each token oscillates. Exact credits: c_t + s_t sin(k) / k. This is the
    audit's failure: the sums match after one pass, single tokens do not."""

    def __init__(self, k=25.0, T=6):
        g = np.random.default_rng(3)
        self.k, self.c = k, g.normal(size=T)
        s = g.normal(size=T)
        self.s = 5 * (s - s.mean())

    def values(self, alphas, fast=False):
        return np.asarray(alphas, dtype=np.float64) * self.c.sum()

    def path_gradients(self, alphas, fast=False):
        a = np.asarray(alphas, dtype=np.float64)
        return self.values(a), self.c + np.cos(self.k * a)[:, None] * self.s

    def exact(self):
        return self.c + self.s * np.sin(self.k) / self.k


def test_a_path_whose_sums_agree_while_tokens_do_not_is_integrated_per_token():
    target = Swapping()
    exact = target.exact()
    # one pass of 4-point Gauss-Legendre on two halves: every sum is right, the tokens are not
    x, w = np.polynomial.legendre.leggauss(4)
    one_pass = sum(0.25 * (w[:, None] * target.path_gradients(0.25 * x + mid)[1]).sum(0) for mid in (0.25, 0.75))
    assert one_pass.sum() == pytest.approx(exact.sum(), abs=1e-12)
    tol = 0.01 * abs(exact.sum()) + 0.01
    assert np.linalg.norm(one_pass - exact) > 10 * tol
    r = integrate(target)
    assert r.tolerance == pytest.approx(tol) and r.converged and r.error_estimate <= r.tolerance
    assert np.linalg.norm(r.scores - exact) <= r.tolerance
    assert np.linalg.norm(r.token_error) <= r.error_estimate
    assert r.evaluations > 2 * 9  # two rules agreed per token only after splitting
    # the estimate follows the tolerance: a tight one is met, per token
    tight = integrate(target, rtol=0, atol=1e-9)
    assert tight.converged and np.linalg.norm(tight.scores - exact) <= 1e-9


class HiddenBump:
    """A smooth path plus a narrow bump of F' (width 1e-3 at alpha = 0.37) along its own direction v, which
    neither rule's nodes on the starting intervals come near: their per-token difference misses it, and only the
    interval's completeness gap (F(b) - F(a) from a forward pass sees the bump) says it is there."""

    CENTRE, WIDTH, HEIGHT = 0.37, 1e-3, 2.0

    def __init__(self, T=5):
        g = np.random.default_rng(4)
        self.c, self.v = g.normal(size=T), np.abs(g.normal(size=T))

    def _bump(self, a):
        return self.HEIGHT * np.exp(-((a - self.CENTRE) / self.WIDTH) ** 2)

    def _bump_integral(self, a):
        return self.HEIGHT * self.WIDTH * np.sqrt(np.pi) / 2 * (erf((a - self.CENTRE) / self.WIDTH)
                                                                 - erf(-self.CENTRE / self.WIDTH))

    def values(self, alphas, fast=False):
        a = np.asarray(alphas, dtype=np.float64)
        return a * self.c.sum() + self._bump_integral(a) * self.v.sum()

    def path_gradients(self, alphas, fast=False):
        a = np.asarray(alphas, dtype=np.float64)
        return self.values(a), self.c + self._bump(a)[:, None] * self.v

    def exact(self):
        return self.c + self._bump_integral(1.0) * self.v


def test_a_bump_between_the_nodes_is_caught_by_the_interval_sums():
    target = HiddenBump()
    nodes, _, _ = gauss_kronrod(4)
    first = np.concatenate([0.25 * nodes + 0.25, 0.25 * nodes + 0.75])
    assert np.abs(first - HiddenBump.CENTRE).min() > 5 * HiddenBump.WIDTH  # the first pass cannot see it
    r = integrate(target, rtol=0, atol=1e-4)
    assert r.converged and np.linalg.norm(r.scores - target.exact()) <= r.tolerance
    assert r.evaluations > 2 * 9


def test_converged_is_the_error_estimate_within_the_tolerance():
    for target in (Swapping(), HiddenBump(), TurningStep(0.03), FakeTarget(rotate=True)):
        r = integrate(target, max_evaluations=400)
        assert r.converged == (r.error_estimate <= r.tolerance)
        assert r.error_estimate >= np.linalg.norm(r.token_error) and r.token_error.shape == r.scores.shape
        assert r.evaluations <= 400


class BumpThatCancels:
    """F dips by B between two nodes of the first pass, and back: tokens along v (sum 0) gain and lose credit
    there that the node gradients never see, while F(b) - F(a), and so every completeness gap, is unchanged.
    Per-token terms g = C + B bump'(alpha) U + B2 bump(alpha) V, so F = alpha sum(C) + B bump(alpha) and the exact
    integral is C + B2 V sigma sqrt(2 pi) (bump vanishes at both ends)."""

    SIGMA, B, B2 = 0.002, 1.0, 20.0

    def __init__(self):
        nodes = gauss_kronrod(4)[0]
        k = int(np.argmin(np.abs(nodes)))            # the middle node of [0, 0.5], and the next one
        self.at = 0.25 * (nodes[k] + nodes[k + 1]) / 2 + 0.25   # halfway between them: both far from the bump

    def _bump(self, a):
        return np.exp(-0.5 * ((a - self.at) / self.SIGMA) ** 2)

    def values(self, alphas, fast=False):
        a = np.asarray(alphas, dtype=np.float64)
        return a * C.sum() + self.B * self._bump(a)

    def path_gradients(self, alphas, fast=False):
        a = np.asarray(alphas, dtype=np.float64)
        bump = self._bump(a)
        slope = -(a - self.at) / self.SIGMA**2 * bump
        return self.values(a), C + self.B * slope[:, None] * U + self.B2 * bump[:, None] * V

    def exact(self):
        return C + self.B2 * V * self.SIGMA * np.sqrt(2 * np.pi)


def test_a_bump_of_f_between_the_nodes_is_not_called_converged():
    """The audit's miss (imdb-full, IMDB test review 15626: F fell from 3.3 to 1.2 and back between two nodes of
    an interval whose two rules agreed): F halfway between the nodes shows the bump, so the interval is split
    until the bump is integrated, and every token's score ends within the tolerance."""
    target = BumpThatCancels()
    exact = target.exact()
    r = integrate(target)
    assert np.linalg.norm(exact - C) > 10 * r.tolerance      # missing the bump would be far off
    assert r.converged and np.linalg.norm(r.scores - exact) <= r.tolerance
    assert r.error_estimate <= r.tolerance
