"""An independent reference for integrated gradients of the logit: plain float64 autograd, adaptive
Gauss-Legendre with its own per-token error estimate (used by tests and by scripts/audit_ig.py).

Nothing here comes from tbptt_viz.integrated or tbptt_viz.targets: F is the logit of a float64 copy of the
model (`forward_embedded`), the per-token path terms are autograd's dF/dy . (x - base), and the integral is

    credits = sum over pieces [a, b] of  8-point Gauss-Legendre on [a, m] + on [m, b]       (m the midpoint)
    per-token error of a piece  e = |Q8[a, b] - (Q8[a, m] + Q8[m, b])|  (the coarser rule's error: generous)

Pieces are split, worst first, until || sum over pieces of e ||_2 plus the pieces' completeness gaps
|sum(credits) - (F(b) - F(a))| (each counted as if it fell on one token: a feature between the nodes that both
rules miss shows there) is within `eps`. A piece narrower than 1e-13 where F still jumps is credited along the
gradient's direction beside it: (F(b) - F(a)) (w_a + w_b) / 2 with w = g / sum(g) at its two ends, error
|F(b) - F(a)| ||w_a - w_b|| / 2 (an assumption, checked by how far apart the two directions are).
"""
from __future__ import annotations

import copy

import numpy as np
import torch

NODES, WEIGHTS = np.polynomial.legendre.leggauss(8)
NARROWEST = 1e-13


class PlainPath:
    """F(alpha) = logit of a float64 copy of the model at base + alpha (x - base), and its per-token terms."""

    def __init__(self, model, ids, batch: int = 64):
        self.model = copy.deepcopy(model).double().eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        ids = torch.as_tensor(ids, dtype=torch.long).reshape(-1)
        emb = self.model.embedding.weight
        self.x, self.base = emb[ids], emb[torch.zeros_like(ids)]         # (T, E) each
        self.T, self.batch = len(ids), batch

    def _points(self, alphas):
        a = torch.as_tensor(np.asarray(alphas, dtype=np.float64))
        return self.base[None] + a[:, None, None] * (self.x - self.base)[None]   # (N, T, E)

    def values(self, alphas) -> np.ndarray:
        out = []
        with torch.no_grad():
            for i in range(0, len(alphas), self.batch):
                y = self._points(alphas[i : i + self.batch])
                out.append(self.model.forward_embedded(y, torch.full((len(y),), self.T)))
        return torch.cat(out).numpy() if out else np.zeros(0)

    def terms(self, alphas) -> np.ndarray:
        """(N, T): dF/dy_t . (x_t - base_t) at each alpha."""
        out = []
        for i in range(0, len(alphas), self.batch):
            y = self._points(alphas[i : i + self.batch]).requires_grad_(True)
            with torch.enable_grad():
                f = self.model.forward_embedded(y, torch.full((len(y),), self.T))
                (g,) = torch.autograd.grad(f.sum(), y)
            out.append((g * (self.x - self.base)[None]).sum(-1))
        return torch.cat(out).numpy() if out else np.zeros((0, self.T))


def _gl(path, spans):
    """8-point Gauss-Legendre credits (T,) on each [a, b] of `spans`, all nodes in one batch."""
    if not spans:
        return []
    alphas = np.concatenate([(b - a) / 2 * NODES + (a + b) / 2 for a, b in spans])
    g = path.terms(alphas).reshape(len(spans), len(NODES), -1)
    return [(b - a) / 2 * (WEIGHTS[:, None] * gi).sum(0) for (a, b), gi in zip(spans, g)]


class Reference:
    """The reference integral (see the module docstring): scores (T,), error (an L2 bound estimate)."""

    def __init__(self, scores, error, pieces, evaluations, narrow, smallest):
        self.scores, self.error, self.pieces, self.evaluations = scores, error, pieces, evaluations
        self.narrow = narrow      # [(credits, (a, b), error)] pieces credited along the direction beside them
        self.smallest = smallest  # the narrowest piece integrated by quadrature


def reference_ig(model, ids, eps: float, max_evaluations: int = 60000, start: int = 16, lo: float = 0.0,
                 hi: float = 1.0) -> Reference:
    """Integrated gradients of the logit of `ids` (all-pad baseline) to within `eps` in L2 over tokens."""
    from tbptt_viz.core.model import flush_denormals

    with flush_denormals():
        return _reference(PlainPath(model, ids), eps, max_evaluations, start, lo, hi)


def _reference(path, eps, max_evaluations, start, lo=0.0, hi=1.0):
    f = {}

    def values(alphas):
        new = [a for a in alphas if a not in f]
        for a, v in zip(new, path.values(np.array(new))):
            f[a] = float(v)

    evaluations = 0

    def pieces(spans, wholes):
        """[priority, a, b, credits, error vector, completeness gap, (left half, right half)] per span."""
        nonlocal evaluations
        todo = [(a, b) for (a, b), w in zip(spans, wholes) if w is None]
        computed = iter(_gl(path, todo))
        wholes = [next(computed) if w is None else w for w in wholes]
        halves = _gl(path, [h for a, b in spans for h in ((a, (a + b) / 2), ((a + b) / 2, b))])
        evaluations += 8 * (len(todo) + 2 * len(spans))
        values([v for a, b in spans for v in (a, b)])
        out = []
        for (a, b), whole, left, right in zip(spans, wholes, halves[0::2], halves[1::2]):
            credits = left + right
            e = np.abs(whole - credits)
            gap = abs(credits.sum() - (f[b] - f[a]))
            out.append([float(np.linalg.norm(e)) + gap, a, b, credits, e, gap, (left, right)])
        return out

    edges = [float(v) for v in np.linspace(lo, hi, start + 1)]
    live = pieces(list(zip(edges[:-1], edges[1:])), [None] * start)
    narrow = []   # pieces credited along the direction beside them: (credits, (a, b), error)

    def total(ps):
        e = np.sum([p[4] for p in ps], axis=0) if ps else 0.0
        return float(np.linalg.norm(e)) + sum(p[5] for p in ps) + sum(n[2] for n in narrow)

    while total(live) > eps and evaluations < max_evaluations:
        live.sort(key=lambda p: -p[0])
        rest = np.sum([p[4] for p in live], axis=0)
        gaps = sum(p[5] for p in live) + sum(n[2] for n in narrow)
        split = 0
        while split < len(live) and float(np.linalg.norm(rest)) + gaps > eps / 2:
            rest, gaps, split = rest - live[split][4], gaps - live[split][5], split + 1
        worst, live = live[:split], live[split:]
        spans, wholes = [], []
        for _, a, b, _, _, _, (left, right) in worst:
            m = (a + b) / 2
            if b - a < NARROWEST:
                g = path.terms(np.array([a, b]))
                evaluations += 2
                w = g / g.sum(1, keepdims=True)
                values([a, b])
                jump = f[b] - f[a]
                narrow.append((jump * (w[0] + w[1]) / 2, (a, b), abs(jump) * float(np.linalg.norm(w[0] - w[1])) / 2))
                continue
            spans += [(a, m), (m, b)]
            wholes += [left, right]
        live += pieces(spans, wholes)
    scores = np.sum([p[3] for p in live] + [n[0] for n in narrow], axis=0)
    return Reference(scores, total(live), len(live), evaluations, narrow, min(p[2] - p[1] for p in live))
