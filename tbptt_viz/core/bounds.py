"""One check for every whole-number setting (CLI flags, URL values, scheme K, Lab settings).

A refusal names the bound, so a user knows what to type instead.
"""
from __future__ import annotations

import numpy as np


def whole_number(name: str, value, low: int, high: int | None = None, error: type[Exception] = ValueError) -> int:
    """`value` as an int in [low, high]; anything else (a bool, a float, text, out of range) raises `error`."""
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise error(f"{name} must be a whole number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise error(f"{name} must be a whole number, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"from {low} to {high}"
        raise error(f"{name} must be a whole number {bound}, got {value}")
    return int(value)
