"""The visual language stays readable for colour-blind viewers: simulated deuteranopia and protanopia
(Machado et al. 2009) keep the ends of each scale and the model colours apart (CIEDE2000)."""
import itertools

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
