"""Truncation schemes as lists of windows: one concept for training and for inspection.

A window (p, s) is a prediction and a loss at position p whose gradient flows back to position s and
no further (the state entering s is detached). Every scheme is a different list of windows:

    t:       0 1 2 ... T-K-1 | T-K ... T-1
    last-k:  no gradient     | gradient flows back from the loss at T-1
    chunked: |<- chunk 0 ->|<- chunk 1 ->| ... loss at each chunk end, state detached between chunks
    k1k2:    a loss every k1 steps, each back-propagated over the last k2 steps (Williams & Peng 1990)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tbptt_viz.core.bounds import whole_number

SCHEMES = ("full", "last-k", "chunked", "k1k2")
# How every page names a scheme family (one home: the app, the Lab figures and the static demo use it).
SCHEME_NAMES = {"full": "full BPTT", "last-k": "last-K", "chunked": "chunked (loss every K)", "k1k2": "TBPTT(k1, k2)"}
# When the weights move (core/per_chunk.py): named here, without torch, so the command line and the URL check them.
UPDATES = ("per-review", "per-chunk")
UPDATE_NAMES = {"per-review": "one step per review", "per-chunk": "a step after every chunk"}


class SchemeError(ValueError):
    """A scheme name or its K, k1, k2 settings are invalid."""


def _positive_int(name: str, value) -> int:
    return whole_number(name, value, 1, error=SchemeError)


@dataclass(frozen=True)
class Scheme:
    """A truncation scheme. `k` is used by last-k and chunked, `k1`/`k2` by k1k2."""

    name: str
    k: int | None = None   # last-k: window length; chunked: chunk length
    k1: int | None = None  # k1k2: a loss every k1 steps
    k2: int | None = None  # k1k2: each loss back-propagated over the last k2 steps

    def __post_init__(self):
        if self.name not in SCHEMES:
            raise SchemeError(f"unknown scheme {self.name!r}; choose one of {', '.join(SCHEMES)}")
        if self.name in ("last-k", "chunked"):
            _positive_int("K", self.k)
        if self.name == "k1k2":
            _positive_int("k1", self.k1)
            _positive_int("k2", self.k2)

    @property
    def label(self) -> str:
        return {"full": "full BPTT", "last-k": f"last-K (K={self.k})", "chunked": f"chunked (K={self.k})",
                "k1k2": f"TBPTT(k1={self.k1}, k2={self.k2})"}[self.name]

    def windows(self, T: int) -> list[tuple[int, int]]:
        """[(p, s), ...] for a sequence of T tokens, sorted by p; every p < T and s <= p."""
        if T < 1:
            raise SchemeError("a sequence needs at least one token")
        if self.name == "full":
            return [(T - 1, 0)]
        if self.name == "last-k":
            return [(T - 1, max(0, T - self.k))]
        if self.name == "chunked":
            return [(min(s + self.k, T) - 1, s) for s in range(0, T, self.k)]
        ends = list(range(self.k1 - 1, T, self.k1))
        if not ends or ends[-1] != T - 1:
            ends.append(T - 1)  # the review's own prediction always carries a loss
        return [(p, max(0, p - self.k2 + 1)) for p in ends]

    def truncates(self, T: int) -> bool:
        """False when the scheme equals full BPTT on T tokens (e.g. last-k with K >= T)."""
        return self.windows(T) != [(T - 1, 0)]


def make_scheme(name: str, k=None, k1=None, k2=None) -> Scheme:
    """Build a scheme, keeping only the settings it uses (so equal schemes compare and hash equal).

    Maths: its windows (p, s) on T tokens: full [(T-1, 0)]; last-k [(T-1, T-K)]; chunked [(min(s+K, T)-1, s)
    for s = 0, K, 2K, ...]; k1k2 [(p, p-k2+1)] for p = k1-1, 2k1-1, ... and T-1 (s clipped at 0).
    """
    if name in ("last-k", "chunked"):
        return Scheme(name, k=k)
    if name == "k1k2":
        return Scheme(name, k1=k1, k2=k2)
    return Scheme(name)


def backprop_count(windows: list[tuple[int, int]], T: int) -> np.ndarray:
    """(T,) number of loss terms whose backward pass reaches position t."""
    count = np.zeros(T, dtype=np.int64)
    for p, s in windows:
        count[s : p + 1] += 1
    return count


def backprop_reach(windows: list[tuple[int, int]], T: int) -> np.ndarray:
    """(T,) longest distance in steps from t to a loss whose gradient reaches it; -1 if none."""
    reach = np.full(T, -1, dtype=np.int64)
    for p, s in windows:
        t = np.arange(s, p + 1)
        reach[s : p + 1] = np.maximum(reach[s : p + 1], p - t)
    return reach


def passes(windows: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Group windows so that no two in a group overlap: one forward pass with detaches per group."""
    groups: list[list[tuple[int, int]]] = []
    for p, s in sorted(windows, key=lambda w: w[1]):
        for g in groups:
            if g[-1][0] < s:
                g.append((p, s))
                break
        else:
            groups.append([(p, s)])
    return groups
