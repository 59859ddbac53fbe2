"""The visual language stays readable for colour-blind viewers: simulated deuteranopia and protanopia
(Machado et al. 2009) keep the ends of each scale and the model colours apart (CIEDE2000)."""
import itertools

import numpy as np

import pytest

from colour_science import ciede2000, difference, hex_rgb, over_white
from tbptt_viz.present import colours

VIEWERS = [None, "deuteranopia", "protanopia"]


@pytest.mark.parametrize("pair, expected", [  # Sharma, Wu & Dalal (2005), Table 1, pairs 1, 7, 17, 25
    (((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485)), 2.0425),
    (((50.0, 0.0, 0.0), (50.0, -1.0, 2.0)), 2.3669),
    (((50.0, 2.5, 0.0), (73.0, 25.0, -18.0)), 27.1492),
    (((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387)), 1.2644)])
def test_ciede2000_oracle_matches_the_published_pairs(pair, expected):
    assert ciede2000(*pair) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("viewer", VIEWERS)
def test_the_diverging_ends_stay_far_apart(viewer):
    neg = over_white(colours.NEGATIVE, colours.MAX_ALPHA)
    pos = over_white(colours.POSITIVE, colours.MAX_ALPHA)
    assert difference(neg, pos, viewer) >= 20


def test_the_old_red_green_ends_fail_the_same_check():
    """The check can fail: the red/green scale the app used before looks alike to a deuteranope (about 5)."""
    red, green = over_white((214, 39, 40), 0.85), over_white((44, 160, 44), 0.85)
    assert difference(red, green, "deuteranopia") < 20


@pytest.mark.parametrize("viewer", VIEWERS)
def test_scale_ends_stand_out_from_white(viewer):
    white = over_white((255, 255, 255), 1.0)
    for rgb in (colours.NEGATIVE, colours.POSITIVE, colours.MAGNITUDE):
        assert difference(white, over_white(rgb, colours.MAX_ALPHA), viewer) >= 20


@pytest.mark.parametrize("viewer", VIEWERS)
def test_model_colours_are_told_apart(viewer):
    """Any two zoo models stay distinguishable (>= 10 CIEDE2000 units) for each viewer."""
    for (a, ca), (b, cb) in itertools.combinations(colours.MODEL_COLOURS.items(), 2):
        d = difference(hex_rgb(ca), hex_rgb(cb), viewer)
        assert d >= 10, f"{a} {ca} and {b} {cb}: {d:.1f} for {viewer or 'normal vision'}"


def test_every_model_has_one_stable_colour():
    assert colours.model_colour("imdb-full") == colours.MODEL_COLOURS["imdb-full"]
    assert colours.model_colour("my-own-model") == colours.model_colour("my-own-model")
    assert len(set(colours.MODEL_COLOURS.values())) == len(colours.MODEL_COLOURS)


def test_shades():
    assert colours.shade(0.0, 0.0, True) == "transparent"
    assert colours.shade(float("nan"), 1.0, True) == "transparent"
    assert colours.shade(-1.0, 1.0, True).startswith(f"rgba({colours.NEGATIVE[0]},")
    assert colours.shade(1.0, 1.0, True).startswith(f"rgba({colours.POSITIVE[0]},")
    assert colours.shade(2.0, 1.0, False) == f"rgba({','.join(map(str, colours.MAGNITUDE))},{colours.MAX_ALPHA:.3f})"


# ---- a dark page: the strips' shades are drawn over the dark theme's ground too

DARK = colours.THEMES["dark"]["surface"]


def over_ground(rgb255, alpha: float, ground255):
    rgb, ground = np.asarray(rgb255, dtype=float) / 255, np.asarray(ground255, dtype=float) / 255
    return ground + (rgb - ground) * alpha


@pytest.mark.parametrize("viewer", VIEWERS)
def test_on_a_dark_ground_the_ends_stay_apart_and_stand_out(viewer):
    neg, pos = (over_ground(c, colours.MAX_ALPHA, DARK) for c in (colours.NEGATIVE, colours.POSITIVE))
    assert difference(neg, pos, viewer) >= 20
    for rgb in (colours.NEGATIVE, colours.POSITIVE, colours.MAGNITUDE):
        assert difference(over_ground(DARK, 1, DARK), over_ground(rgb, colours.MAX_ALPHA, DARK), viewer) >= 20


@pytest.mark.parametrize("viewer", VIEWERS)
def test_model_colours_show_on_white_and_on_dark(viewer):
    """A model's line stays visible on either page (>= 15 CIEDE2000 units from the ground)."""
    for ground in ((255, 255, 255), DARK):
        for name, c in colours.MODEL_COLOURS.items():
            assert difference(hex_rgb(c), over_ground(ground, 1, ground), viewer) >= 15, (name, ground)


def wcag(a, b) -> float:
    """WCAG 2 contrast ratio, written out here as the oracle (sRGB 0-255)."""
    def lum(c):
        lin = [(v / 255) / 12.92 if v / 255 <= 0.04045 else ((v / 255 + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_wcag_oracle():
    assert wcag((0, 0, 0), (255, 255, 255)) == pytest.approx(21)
    assert wcag((118, 118, 118), (255, 255, 255)) == pytest.approx(4.54, abs=0.01)  # #767676, the AA grey


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("signed, sign", [(True, -1), (True, 1), (False, 1)])
def test_every_shade_keeps_its_token_readable(theme, signed, sign):
    """For every value on a strip, the token's ink (the theme's, or the flipped one `ink_classes` asks for) has a
    WCAG contrast of 4.5 or more against its shade over the theme's ground."""
    t = colours.THEMES[theme]
    flipped = (255, 255, 255) if sum(t["ink"]) == 0 else (0, 0, 0)
    for v in np.linspace(0, 1, 201):
        value = sign * v
        a = colours.alpha_of(value, 1.0)
        ground = over_ground(colours.hue_of(value, signed), a, t["surface"]) * 255
        flip = ("tv-fl" if theme == "light" else "tv-fd") in colours.ink_classes(value, 1.0, signed)
        assert wcag(flipped if flip else t["ink"], ground) >= 4.5, (theme, value)


def test_the_flip_is_needed_where_it_happens():
    """The check can fail: without its flip, the strongest orange on the dark ground is under 4.5:1."""
    ground = over_ground(colours.NEGATIVE, colours.MAX_ALPHA, DARK) * 255
    assert wcag(colours.THEMES["dark"]["ink"], ground) < 4.5 and colours.INK_FLIP["dark"]["neg"] is not None


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_strip_text_reads_on_its_ground(theme):
    t = colours.THEMES[theme]
    cut = hex_rgb(t["cut"]) * 255
    for ink, ground in ((t["muted"], t["surface"]), (t["muted"], t["hatch"]), (cut, t["surface"])):
        assert wcag(ink, ground) >= 4.5, (theme, ink, ground)
