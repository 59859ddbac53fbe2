"""The one visual language: a colour per model, a diverging scale for signed values, a sequential scale for
magnitudes, and the colours of the marks every chart shares. Every view, figure, strip and the static demo take
their colours from here.

Colour-blind safety: model colours come from Okabe & Ito's palette ("Color Universal Design", 2008), chosen
to stay distinct under the common colour-vision deficiencies; the diverging scale runs from orange (towards
negative) through white to blue (towards positive), two hues that deuteranopes and protanopes tell apart
(tests/test_colours.py simulates both and checks the ends stay at least 20 CIEDE2000 units apart).
"""
from __future__ import annotations

import hashlib

# One colour per shipped model, the same in every view and figure.
MODEL_COLOURS = {
    "imdb-full": "#0072B2",                   # blue
    "imdb-last-k30": "#D55E00",               # vermillion
    "imdb-chunked-k30": "#009E73",            # bluish green
    "imdb-last-k10": "#E69F00",               # orange
    "imdb-last-k100": "#56B4E9",              # sky blue
    "imdb-k1k2-30-60": "#CC79A7",             # reddish purple
    "imdb-chunked-k30-per-chunk": "#882255",  # wine (Tol)
}
# Models outside the zoo (a user's own folder, the Lab's tiny models) get a stable colour from this cycle.
OTHER_COLOURS = ("#332288", "#117733", "#44AA99", "#999933", "#AA4499", "#555555")
DIMMED = "#9a9a9a"  # a model drawn for context only

# Signed values (attribution, occlusion): towards negative <- white -> towards positive.
NEGATIVE = (230, 97, 1)    # orange
POSITIVE = (33, 102, 172)  # blue
# Magnitudes (gradient norms): white -> dark violet.
MAGNITUDE = (84, 39, 143)
MAX_ALPHA = 0.85           # the darkest shade a strip uses, so the token text stays readable

# Marks shared by every chart and strip.
CUT = "#c0392b"        # the truncation boundary (K)
ZERO_BAND = "#bbbbbb"  # positions whose gradient is exactly zero
FIRST_N = "#444444"    # the opening (first N tokens) underline and band
WINDOW = "#0072B2"     # a training window


def model_colour(name: str) -> str:
    """The model's colour: fixed for the zoo, stable (by name) for any other model."""
    if name in MODEL_COLOURS:
        return MODEL_COLOURS[name]
    digest = int(hashlib.sha256(name.encode("utf-8")).hexdigest(), 16)
    return OTHER_COLOURS[digest % len(OTHER_COLOURS)]


def _rgba(rgb: tuple[int, int, int], alpha: float) -> str:
    return f"rgba({rgb[0]},{rgb[1]},{rgb[2]},{alpha:.3f})"


def shade(value: float, scale: float, signed: bool) -> str:
    """CSS colour of one value on a strip drawn with `scale` (the value the darkest shade stands for)."""
    if not scale or scale <= 0 or value != value or abs(value) == float("inf"):
        return "transparent"
    a = min(1.0, abs(value) / scale) ** 0.6  # a power below 1 keeps small values visible
    rgb = MAGNITUDE if not signed else NEGATIVE if value < 0 else POSITIVE
    return _rgba(rgb, MAX_ALPHA * a)


def legend_gradient(signed: bool) -> str:
    """The CSS gradient of a strip's colour legend, from the lowest to the highest value."""
    if signed:
        return f"linear-gradient(90deg,{_rgba(NEGATIVE, MAX_ALPHA)},rgba(255,255,255,0),{_rgba(POSITIVE, MAX_ALPHA)})"
    return f"linear-gradient(90deg,rgba(255,255,255,0),{_rgba(MAGNITUDE, MAX_ALPHA)})"


def _blend(rgb: tuple[int, int, int], a: float) -> str:
    """`rgb` at opacity `a` over white, as an opaque hex colour (what a plotly colour scale needs)."""
    return "#" + "".join(f"{round(255 + (c - 255) * a):02x}" for c in rgb)


# plotly colour scales matching the strips (for heatmaps): signed values centred on white, magnitudes from white.
DIVERGING_SCALE = [[0.0, _blend(NEGATIVE, MAX_ALPHA)], [0.5, "#ffffff"], [1.0, _blend(POSITIVE, MAX_ALPHA)]]
SEQUENTIAL_SCALE = [[0.0, "#ffffff"], [1.0, _blend(MAGNITUDE, MAX_ALPHA)]]
