"""One visual language (issue 21): every figure, strip and the static demo take their colours from colours.py,
one colour per model, position left to right with the prediction at the right end, every axis says what it counts,
labels broken to fit a phone, methods named in words. Checked on every figure function (tests/figure_gallery.py)."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from tbptt_viz.attribution.methods import METHODS
from tbptt_viz.present import colours, figures, render
from tbptt_viz.present.names import METHOD_NAMES, method_name

COLOUR_KEYS = {"color", "fillcolor", "bgcolor", "bordercolor", "gridcolor", "zerolinecolor", "linecolor", "fgcolor",
               "paper_bgcolor", "plot_bgcolor", "outlinecolor", "tickcolor"}
HEX = re.compile(r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b")
RGB = re.compile(r"rgba?\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*(?:,\s*([\d.]+)\s*)?\)")


def allowed_colours() -> set[str]:
    """Every colour colours.py defines, as written there (hex in lower case)."""
    found = set()

    def walk(v):
        if isinstance(v, str):
            found.add(v.lower())
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, (list, tuple)):
            if len(v) == 3 and all(isinstance(c, int) for c in v):
                found.add(colours.hex_of(tuple(v)))
            else:
                for x in v:
                    walk(x)
    walk(colours.palette())
    walk(colours.DIVERGING_SCALE)
    walk(colours.SEQUENTIAL_SCALE)
    return found


HUES = {tuple(colours.NEGATIVE), tuple(colours.POSITIVE), tuple(colours.MAGNITUDE)}


def is_ours(colour: str, allowed: set[str]) -> bool:
    """A colour colours.py defines, or one of its strip hues at some opacity (what colours.shade writes)."""
    c = colour.strip().lower()
    if c in allowed or c == "transparent":
        return True
    m = RGB.fullmatch(c)
    return bool(m) and tuple(int(m.group(i)) for i in (1, 2, 3)) in HUES


def colours_in(obj, path="") -> list[tuple[str, str]]:
    """(where, colour) for every colour a figure's JSON sets, colour scales included."""
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            here = f"{path}.{k}"
            if k in COLOUR_KEYS:
                out += [(here, c) for c in (v if isinstance(v, list) else [v]) if isinstance(c, str)]
            elif k == "colorscale" and isinstance(v, list):
                out += [(here, stop[1]) for stop in v]
            else:
                out += colours_in(v, here)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += colours_in(v, f"{path}[{i}]")
    return out


@pytest.fixture(scope="module")
def gallery_json():
    import torch

    from conftest import WORDS
    from figure_gallery import gallery
    from tbptt_viz.core.model import LSTMClassifier, ModelConfig
    from tbptt_viz.core.text import Vocab

    torch.manual_seed(0)  # the conftest model, built once for the module
    vocab = Vocab(("<pad>", "<unk>", *WORDS, *[f"w{i}" for i in range(50 - 2 - len(WORDS))]))
    m = LSTMClassifier(ModelConfig(len(vocab), 6, 8), vocab).double().eval()
    with torch.no_grad():
        m.lstm.weight_hh_l0.mul_(3.0)
        m.head.weight.mul_(3.0)
    return {name: json.loads(fig.to_json()) for name, fig in gallery(m).items()}


def test_the_gallery_holds_every_figure_function(gallery_json):
    from tbptt_viz.present import evidence_figures, lab_figures, overview, study_figures

    drawn = {name.split("[")[0] for name in gallery_json}
    for module, prefix in ((figures, ""), (study_figures, "study."), (lab_figures, "lab."), (evidence_figures, ""),
                           (overview, "")):
        for fn in [n for n in dir(module) if n.endswith(("_figure", "_curve", "_heatmaps", "_position", "_distance",
                                                         "_timeline", "_time"))
                   and callable(getattr(module, n)) and getattr(module, n).__module__ == module.__name__]:
            assert prefix + fn in drawn, f"{module.__name__}.{fn} is not in tests/figure_gallery.py"


def test_no_figure_uses_a_colour_outside_colours_py(gallery_json):
    allowed = allowed_colours()
    foreign = [f"{name}{where}: {c}" for name, fig in gallery_json.items() for where, c in colours_in(fig)
               if not is_ours(c, allowed)]
    assert not foreign, "\n".join(foreign)


def test_every_trace_names_its_colour(gallery_json):
    """No trace falls back on plotly's own colour cycle."""
    bare = []
    for name, fig in gallery_json.items():
        for i, t in enumerate(fig["data"]):
            if t["type"] == "heatmap":  # its own scale, or a shared colour axis's
                assert "colorscale" in t or "colorscale" in fig["layout"].get(t.get("coloraxis", "-"), {}), name
                continue
            if not ((t.get("line") or {}).get("color") or (t.get("marker") or {}).get("color")):
                bare.append(f"{name} trace {i} ({t.get('name')})")
    assert not bare, bare


def test_a_model_has_one_colour_in_every_figure(gallery_json):
    """Every trace named after a zoo model is drawn in that model's colour (in line or bars)."""
    for name, fig in gallery_json.items():
        for t in fig["data"]:
            model = next((m for m in sorted(colours.MODEL_COLOURS, key=len, reverse=True)
                          if (t.get("name") or "").startswith(m)), None)
            if model is None:
                continue
            drawn = (t.get("line") or {}).get("color") or (t.get("marker") or {}).get("color")
            assert drawn == colours.model_colour(model), (name, t.get("name"), drawn)
    bars = gallery_json["headline_figure"]["data"][0]  # bars: one colour per bar, the model's
    assert bars["marker"]["color"] == [colours.model_colour(n) for n in bars["y"]]


def axes_used(fig) -> list[str]:
    """Layout names of the axes that carry a trace ("xaxis", "yaxis2", ...)."""
    used = set()
    for t in fig["data"]:
        for key, default in (("xaxis", "x"), ("yaxis", "y")):
            ref = t.get(key, default)
            used.add(f"{ref[0]}axis{ref[1:]}")
    return sorted(used)


def test_every_axis_says_what_it_counts(gallery_json):
    missing = []
    for name, fig in gallery_json.items():
        layout = fig["layout"]
        for axis in axes_used(fig):
            spec = layout.get(axis, {})
            if spec.get("showticklabels") is False or spec.get("visible") is False:
                continue  # a shared axis whose numbers (and title) are on the panel below
            if not (spec.get("title") or {}).get("text"):
                missing.append(f"{name}: {axis}")
    assert not missing, missing


def reversed_axis(spec: dict) -> bool:
    r = spec.get("range")
    return spec.get("autorange") == "reversed" or (r is not None and r[0] > r[1]) or (
        spec.get("categoryorder") == "array" and spec.get("categoryarray", [None])[-1] in ("0", 0))


def test_position_runs_left_to_right_with_the_prediction_at_the_right_end(gallery_json):
    """An axis of token position runs forwards; an axis of distance before the end runs backwards, so that the
    end (the prediction) is on the right in every chart, Model zoo and Lab included."""
    checked = 0
    for name, fig in gallery_json.items():
        for axis in [a for a in axes_used(fig) if a.startswith("x")]:
            spec = fig["layout"].get(axis, {})
            title = ((spec.get("title") or {}).get("text") or "").replace("<br>", " ")
            if "token position" in title or title.startswith("position t"):
                assert not reversed_axis(spec), (name, axis, title)
                checked += 1
            elif re.search(r"(to|and) the (end|last token)", title):
                assert reversed_axis(spec), (name, axis, title)
                checked += 1
    assert checked >= 12
    planted = gallery_json["study.planted_figure"]["layout"]["xaxis"]
    assert planted["categoryarray"][0] == "start" and planted["categoryarray"][-1] == "0"


def test_labels_fit_a_phone(gallery_json):
    """Titles and axis titles are broken into lines a 390-px phone holds; legend entries stay shorter than it."""
    too_long = []
    for name, fig in gallery_json.items():
        layout = fig["layout"]
        texts = [("title", figures.TITLE_CHARS, layout.get("title", {}).get("text"))]
        texts += [(axis, figures.X_CHARS if axis.startswith("x") else figures.Y_CHARS,
                   (layout.get(axis, {}).get("title") or {}).get("text")) for axis in layout if axis[:5] in
                  ("xaxis", "yaxis")]
        for where, width, text in texts:
            for line in (text or "").split("<br>"):
                if len(line) > width and " " in line:
                    too_long.append(f"{name} {where}: {line!r}")
        too_long += [f"{name} legend: {t['name']!r}" for t in fig["data"]
                     if t.get("showlegend", True) and len(t.get("name") or "") > 60]
    assert not too_long, too_long


@pytest.mark.parametrize("text, width, want", [
    ("a b c", 3, "a b<br>c"), ("short", 40, "short"), ("one<br>two three", 5, "one<br>two<br>three"),
    ("unbreakable_word here", 4, "unbreakable_word<br>here"), (None, 5, None)])
def test_wrap_breaks_at_spaces(text, width, want):
    assert figures.wrap(text, width) == want


def test_a_title_of_several_lines_gets_the_room_it_needs():
    one, three = figures.title_room("short"), figures.title_room("x " * 60)
    assert three - one == pytest.approx(2 * figures.TITLE_SIZE * 1.3, abs=1)
    assert figures.title_of("x " * 60)["pad"]["b"] - figures.title_of("short")["pad"]["b"] == pytest.approx(39, abs=1)


def test_methods_have_names_in_words(gallery_json):
    assert set(METHOD_NAMES) == set(METHODS)
    assert all("_" not in name for name in METHOD_NAMES.values())
    assert method_name("input_x_gradient") == "input × gradient" and method_name("shapley") == "Shapley values"
    for name, fig in gallery_json.items():
        text = json.dumps({k: v for k, v in fig["layout"].items() if k != "template"}) + json.dumps(
            [t.get("name") for t in fig["data"]])
        assert not any(m in text for m in METHODS if "_" in m), name


def test_strips_take_their_colours_from_colours_py():
    allowed = allowed_colours()
    html = render.STRIP_CSS + render.token_strip(list("abcdef"), [0.0, -2.0, -0.1, 0.3, 1.0, 2.0], signed=True,
                                                 boundary=2, boundary_text="K=2", zero_is_cut=True, first_n=2)
    html += render.token_strip(list("abc"), [0.0, 0.5, 1.0]) + render.legend(2.0, True) + render.legend(1.0)
    found = HEX.findall(html) + [m.group(0) for m in RGB.finditer(html)]
    assert found and all(is_ours(c, allowed) for c in found), [c for c in found if not is_ours(c, allowed)]
    # the signed ends are the scale's hues, the strongest at MAX_ALPHA
    assert f"rgba({','.join(map(str, colours.NEGATIVE))},{colours.MAX_ALPHA:.3f})" in html
    assert f"rgba({','.join(map(str, colours.POSITIVE))},{colours.MAX_ALPHA:.3f})" in html


def test_a_strong_orange_token_flips_its_ink_on_a_dark_page():
    strip = render.token_strip(["low", "high"], [-0.01, -1.0], scale=1.0, signed=True)
    classes = re.findall(r'class="tv-tok([^"]*)"', strip)
    assert "tv-fd" not in classes[0] and "tv-fd" in classes[1]


def test_k_ticks_put_round_values_at_their_places():
    from tbptt_viz.gradients.analysis import k_choices

    choices = k_choices(229)
    html = render.k_ticks(choices)
    marks = re.findall(r'left:([\d.]+)%">([^<]+)<', html)
    assert [m[1] for m in marks] == ["1", "5", "10", "30", "100", "229 (all)"]
    for left, label in marks:
        k = int(label.split()[0])
        assert float(left) == pytest.approx(100 * choices.index(k) / (len(choices) - 1), abs=0.01)
    assert render.k_ticks([7]) == ""
    dense = re.findall(r'>([^<]+)<', render.k_ticks(k_choices(2000)))
    assert dense[-1] == "2000 (all)" and "1000" not in dense  # next to the end's label it would collide


def test_the_static_page_is_drawn_from_colours_py(tmp_path):
    from tbptt_viz.export import site

    style = site.page_style(["imdb-full", "imdb-last-k30"])
    assert style["palette"] == json.loads(json.dumps(colours.palette()))
    assert style["model_colours"] == {m: colours.model_colour(m) for m in ("imdb-full", "imdb-last-k30")}
    assert style["layouts"]["probe"]["xaxis2"]["title"]["text"] == "n = opening tokens removed"
    assert style["chart_config"] == figures.CHART_CONFIG
    # the hand-written assets name no colour of their own: every colour comes in at export
    for asset in ("demo.js", "demo.css", "index.html"):
        text = (site.ASSETS / asset).read_text()
        assert not HEX.findall(text) and not RGB.search(text.replace("rgba(${", "")), asset
    css = site.page_css()
    assert not re.search(r"/\*\w+(:\w+)?\*/", css)  # every colour placeholder was filled
    allowed = allowed_colours()
    assert all(is_ours(c, allowed) for c in HEX.findall(css)), HEX.findall(css)
    assert render.strip_css() in css


def test_shade_and_alpha_agree_with_the_strip():
    for v in (-1.0, -0.3, 0.0, 0.2, 1.0, 3.0):
        a = colours.alpha_of(v, 1.0)
        assert a == pytest.approx(colours.MAX_ALPHA * min(1, abs(v)) ** 0.6)
        assert colours.shade(v, 1.0, True) == ("transparent" if a == 0 else
                                                f"rgba({','.join(map(str, colours.hue_of(v, True)))},{a:.3f})")
    assert np.isclose(colours.alpha_of(float("nan"), 1.0), 0.0)
