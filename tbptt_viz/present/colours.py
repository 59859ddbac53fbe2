"""The one visual language: a colour per model, a diverging scale for signed values, a sequential scale for
magnitudes, and the colours of the marks every chart shares. Every view, figure, strip and the static demo take
their colours from here.

Colour-blind safety: model colours come from Okabe & Ito's palette ("Color Universal Design", 2008), chosen
to stay distinct under the common colour-vision deficiencies; the diverging scale runs from orange (towards
negative) through the ground (white, or a dark page) to blue (towards positive), two hues that deuteranopes and
protanopes tell apart (tests/test_colours.py simulates both and checks the ends stay at least 20 CIEDE2000 units
apart, on a white and on a dark ground).

Light and dark: a strip draws its tokens on its own ground with its own ink for the browser's light or dark
setting (`THEMES`); where a strong shade would leave the ink under WCAG's 4.5:1, that token's ink flips
(`ink_classes`). Charts leave their background transparent and their text to the page's theme.
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

# Signed values (attribution, occlusion): towards negative <- transparent -> towards positive, drawn as a colour
# at an opacity over whatever ground is behind (white, or a dark page).
NEGATIVE = (230, 97, 1)     # orange
POSITIVE = (33, 102, 172)   # blue
# Magnitudes (gradient norms): transparent -> violet, a mid-light violet that stands out on white and on a dark
# page alike (ColorBrewer "Purples").
MAGNITUDE = (117, 107, 177)
MAX_ALPHA = 0.85            # the strongest shade a strip uses
SIGNED_WORDS = "blue: towards positive, orange: towards negative"  # how captions name the two ends

# Marks shared by every chart and strip. None is a model's colour: a coloured line always means a model.
CUT = "#c0392b"        # the truncation boundary (K): a dashed line
CUT_ON_DARK = "#ff8a7a"  # the same mark as text on a dark ground (CUT there is too dark to read)
ZERO_BAND = "#bbbbbb"  # positions whose gradient is exactly zero
NEUTRAL = "#8a8a8a"    # what no model owns (counts, reference lines, markers): mid grey, seen on white and dark
FIRST_N = NEUTRAL      # the opening (first N tokens): underline and band
WINDOW = "#F0E442"     # a training window, as a translucent band (Okabe-Ito yellow, no model's colour)

# A chart's text and grid take the page's colours (the app's theme, or the static demo's); these are the two
# grounds it is checked against, and what a strip draws on in each theme: its own ground and ink, so that it stays
# readable whatever the page around it.
THEMES = {
    "light": {"surface": (255, 255, 255), "ink": (0, 0, 0), "muted": (85, 85, 85), "hatch": (238, 238, 238),
              "cut": CUT},
    "dark": {"surface": (20, 20, 22), "ink": (255, 255, 255), "muted": (176, 176, 176), "hatch": (48, 48, 52),
             "cut": CUT_ON_DARK},
}
GRID = "rgba(128,128,128,0.25)"  # grid and zero lines: grey at a low opacity reads on either ground
TRANSPARENT = "rgba(0,0,0,0)"    # a chart's background: the page shows through


def model_colour(name: str) -> str:
    """The model's colour: fixed for the zoo, stable (by name) for any other model."""
    if name in MODEL_COLOURS:
        return MODEL_COLOURS[name]
    digest = int(hashlib.sha256(name.encode("utf-8")).hexdigest(), 16)
    return OTHER_COLOURS[digest % len(OTHER_COLOURS)]


def _rgba(rgb: tuple[int, int, int], alpha: float) -> str:
    return f"rgba({rgb[0]},{rgb[1]},{rgb[2]},{alpha:.3f})"


def hex_of(rgb: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{c:02x}" for c in rgb)


def alpha_of(value: float, scale: float) -> float:
    """The opacity a strip gives `value` on a strip drawn with `scale` (0 where nothing can be drawn).

    alpha = MAX_ALPHA * min(1, |value| / scale) ** 0.6: a power below 1 keeps small values visible."""
    if not scale or scale <= 0 or value != value or abs(value) == float("inf"):
        return 0.0
    return MAX_ALPHA * min(1.0, abs(value) / scale) ** 0.6


def hue_of(value: float, signed: bool) -> tuple[int, int, int]:
    return MAGNITUDE if not signed else NEGATIVE if value < 0 else POSITIVE


def shade(value: float, scale: float, signed: bool) -> str:
    """CSS colour of one value on a strip drawn with `scale` (the value the strongest shade stands for)."""
    a = alpha_of(value, scale)
    return _rgba(hue_of(value, signed), a) if a > 0 else "transparent"


def legend_gradient(signed: bool) -> str:
    """The CSS gradient of a strip's colour legend, from the lowest to the highest value."""
    if signed:
        return f"linear-gradient(90deg,{_rgba(NEGATIVE, MAX_ALPHA)},{_rgba(NEGATIVE, 0)},{_rgba(POSITIVE, MAX_ALPHA)})"
    return f"linear-gradient(90deg,{_rgba(MAGNITUDE, 0)},{_rgba(MAGNITUDE, MAX_ALPHA)})"


# ---- readable ink on a shade (WCAG 2 relative luminance and contrast ratio)

def luminance(rgb) -> float:
    """WCAG 2 relative luminance of an sRGB colour (0-255 channels)."""
    lin = [c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a, b) -> float:
    """WCAG 2 contrast ratio of two sRGB colours, 1 to 21."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def over(rgb, alpha: float, ground) -> tuple[float, float, float]:
    """`rgb` at opacity `alpha` over an opaque `ground` (what the browser composites)."""
    return tuple(g + (c - g) * alpha for c, g in zip(rgb, ground))


def ink_flip(rgb, theme: str) -> float | None:
    """The lowest opacity of `rgb` over the theme's ground at which its ink falls under 4.5:1 (WCAG AA) and the
    opposite ink (white for black, black for white) reads better; None when it never does up to MAX_ALPHA."""
    t = THEMES[theme]
    other = (255, 255, 255) if luminance(t["ink"]) < 0.5 else (0, 0, 0)
    for step in range(1, 1001):
        a = MAX_ALPHA * step / 1000
        bg = over(rgb, a, t["surface"])
        if contrast(t["ink"], bg) < 4.5 and contrast(other, bg) > contrast(t["ink"], bg):
            return round(a - MAX_ALPHA / 1000, 4)  # from here on: the last opacity that still reads is below
    return None


# opacity from which a token's ink flips, per theme and hue ("neg", "pos", "mag"); computed once at import
INK_FLIP = {theme: {key: ink_flip(rgb, theme) for key, rgb in (("neg", NEGATIVE), ("pos", POSITIVE),
                                                                ("mag", MAGNITUDE))} for theme in THEMES}


def ink_classes(value: float, scale: float, signed: bool) -> str:
    """CSS classes that flip a token's ink where its shade would make the theme's ink hard to read:
    "tv-fl" in the light theme, "tv-fd" in the dark one ("" when neither)."""
    a = alpha_of(value, scale)
    key = "mag" if not signed else "neg" if value < 0 else "pos"
    return " ".join(cls for theme, cls in (("light", "tv-fl"), ("dark", "tv-fd"))
                    if INK_FLIP[theme][key] is not None and a > INK_FLIP[theme][key])


def _blend(rgb: tuple[int, int, int], a: float) -> str:
    """`rgb` at opacity `a` over white, as an opaque hex colour (what a plotly colour scale needs)."""
    return "#" + "".join(f"{round(255 + (c - 255) * a):02x}" for c in rgb)


# plotly colour scales matching the strips (for heatmaps): signed values centred on white, magnitudes from white.
# A heatmap is drawn opaque (its cells' text picks its own contrasting colour), in either theme.
DIVERGING_SCALE = [[0.0, _blend(NEGATIVE, MAX_ALPHA)], [0.5, "#ffffff"], [1.0, _blend(POSITIVE, MAX_ALPHA)]]
SEQUENTIAL_SCALE = [[0.0, "#ffffff"], [1.0, _blend(MAGNITUDE, MAX_ALPHA)]]


def palette() -> dict:
    """Every colour the visual language defines, by name: what the static demo's script and style sheet are
    generated from, and what the tests check figures and strips against."""
    return {"models": dict(MODEL_COLOURS), "other": list(OTHER_COLOURS), "dimmed": DIMMED,
            "negative": list(NEGATIVE), "positive": list(POSITIVE), "magnitude": list(MAGNITUDE),
            "max_alpha": MAX_ALPHA, "ink_flip": INK_FLIP, "cut": CUT, "zero_band": ZERO_BAND, "neutral": NEUTRAL,
            "first_n": FIRST_N, "window": WINDOW, "grid": GRID, "transparent": TRANSPARENT,
            "themes": {name: {k: v if isinstance(v, str) else hex_of(v) for k, v in t.items()}
                       for name, t in THEMES.items()}}
