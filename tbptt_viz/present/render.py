"""Token strips as HTML. Review text is untrusted: every token and tooltip is escaped, always."""
from __future__ import annotations

import html

import numpy as np

from tbptt_viz.present import colours


def _theme_vars(theme: str) -> str:
    t = colours.THEMES[theme]
    hexed = {k: v if isinstance(v, str) else colours.hex_of(v) for k, v in t.items()}
    return (f"--tv-surface:{hexed['surface']};--tv-ink:{hexed['ink']};--tv-muted:{hexed['muted']};"
            f"--tv-hatch:{hexed['hatch']};--tv-cut:{hexed['cut']}")


def strip_css() -> str:
    """The strips' style sheet, from the visual language (colours.py). Each strip draws on its own ground with its
    own ink, light or dark as the browser is set, so that it reads whatever the page around it; a token whose shade
    would leave its ink under 4.5:1 flips its ink (`colours.ink_classes`)."""
    light, dark = colours.THEMES["light"], colours.THEMES["dark"]
    flip_light = "#ffffff" if colours.luminance(light["ink"]) < 0.5 else "#000000"
    flip_dark = "#ffffff" if colours.luminance(dark["ink"]) < 0.5 else "#000000"
    return (
        f".tv-strip,.tv-legend,.tv-label{{{_theme_vars('light')}}}"
        f"@media (prefers-color-scheme:dark){{.tv-strip,.tv-legend,.tv-label{{{_theme_vars('dark')}}}}}"
        ".tv-strip{line-height:2.0;font-family:ui-sans-serif,system-ui,sans-serif;font-size:0.95rem;"
        "margin:0.2rem 0 0.8rem;padding:0.1rem 0.25rem;border-radius:0.3rem;background:var(--tv-surface);"
        "color:var(--tv-ink)}"
        ".tv-tok{display:inline-block;white-space:pre;padding:0 0.15rem;margin:0 0.05rem;border-radius:0.2rem;"
        "border-bottom:2px solid transparent}"
        f".tv-fl{{color:{flip_light}}}"
        f"@media (prefers-color-scheme:dark){{.tv-fl{{color:inherit}}.tv-fd{{color:{flip_dark}}}}}"
        f".tv-zero{{color:var(--tv-muted);border-bottom:2px dashed {colours.ZERO_BAND};background:repeating-linear-"
        "gradient(45deg,var(--tv-hatch),var(--tv-hatch) 3px,var(--tv-surface) 3px,var(--tv-surface) 6px)}"
        f".tv-first{{border-bottom:2px solid {colours.FIRST_N}}}"
        f".tv-last{{border-bottom:2px dotted {colours.NEUTRAL}}}"
        ".tv-cut{display:inline-block;color:var(--tv-cut);font-weight:700;margin:0 0.3rem;font-size:0.85rem}"
        ".tv-label{font-size:0.8rem;color:var(--tv-muted);background:var(--tv-surface);margin-top:0.4rem;"
        "padding:0 0.25rem}"
        ".tv-legend{display:flex;flex-wrap:wrap;align-items:center;gap:0.4rem;font-size:0.75rem;"
        "color:var(--tv-muted);background:var(--tv-surface);margin:-0.4rem 0 0.6rem;padding:0 0.25rem}"
        ".tv-legend .bar{width:9rem;height:0.6rem;border-radius:0.2rem}"
        ".tv-text{overflow-wrap:anywhere;white-space:normal;font-size:0.9rem}"
        # the K slider's ruler (k_ticks) in place of its two end labels
        ".st-key-k [data-testid=stSliderTickBar]{display:none}"
        ".tv-ticks{display:block;position:relative;height:1.1rem;font-size:0.75rem;opacity:0.8}"
        ".stElementContainer .tv-ticks{margin:-1.1rem 0.55rem 0}"  # in the app: right under the slider's track
        ".tv-ticks span{position:absolute;top:0;transform:translateX(-50%);white-space:nowrap}"
        ".tv-ticks span:first-child{transform:none}.tv-ticks span:last-child{transform:translateX(-100%)}"
    )


STRIP_CSS = f"<style>{strip_css()}</style>"


def strip_scale(*arrays) -> float:
    """One colour scale for strips that are compared: the largest |value| among them (0 when all are empty)."""
    values = [float(np.max(np.abs(a))) for a in arrays if len(a)]
    return max(values, default=0.0)


def _fmt(v: float) -> str:
    return f"{v:.2g}" if v and (abs(v) < 0.01 or abs(v) >= 1000) else f"{v:.2f}".rstrip("0").rstrip(".")


def legend(scale: float, signed: bool = False, value_name: str = "value", note: str = "") -> str:
    """A numeric colour legend for a strip drawn with `scale`: what the darkest colour means."""
    bar = colours.legend_gradient(signed)
    low, high = (f"-{_fmt(scale)}", f"+{_fmt(scale)}") if signed else ("0", _fmt(scale))
    return (f'<div class="tv-legend"><span>{html.escape(value_name)}:</span><span>{low}</span>'
            f'<span class="bar" style="background:{bar}"></span><span>{high}</span>'
            f'<span>{html.escape(note)}</span></div>')


K_MARKS = (1, 5, 10, 30, 100, 300, 1000)  # the round K values the slider's ruler names, when offered


def k_ticks(choices) -> str:
    """A ruler of readable K values under the K slider (a select_slider names only its two ends): each mark at its
    option's place along the track, whose options are evenly spaced; the review's length last, as "T (all)".
    It replaces the slider's own two end labels (hidden by STRIP_CSS for the widget keyed "k")."""
    choices = list(choices)
    n = len(choices)
    if n < 2:
        return ""
    marks = [i for i, k in enumerate(choices) if k in K_MARKS and i < n - 1] + [n - 1]
    if len(marks) > 1 and marks[-1] - marks[-2] < n / 12:  # too close to the end label to read: drop it
        marks.pop(-2)
    spans = "".join(f'<span style="left:{100 * i / (n - 1):.2f}%">{choices[i]}{" (all)" if i == n - 1 else ""}</span>'
                    for i in marks)
    return f'<div class="tv-ticks" aria-hidden="true">{spans}</div>'  # styled by STRIP_CSS, sent once a page


def text_block(text: str, limit: int = 20000) -> str:
    """A review as escaped HTML: line breaks (already normalised to \n) become <br>; nothing is interpreted."""
    return STRIP_CSS + '<div class="tv-text">' + html.escape(text[:limit]).replace("\n", "<br>") + "</div>"


def token_strip(tokens, values, *, scale: float | None = None, signed: bool = False, boundary: int | None = None,
                boundary_text: str = "", first_n: int = 0, last_k: int = 0, zero_is_cut: bool = False,
                label: str = "", value_name: str = "value", tips=None) -> str:
    """One review as coloured tokens. `boundary`: index before which a cut marker is drawn.

    `zero_is_cut`: exact zeros are drawn hatched and grey (no gradient reaches them).
    `first_n` / `last_k`: underline the first N and the last K tokens.
    `tips`: (T,) each token's tooltip after its position (default: "{token}: {value_name} {value}").
    """
    values = np.asarray(values, dtype=float)
    T = len(tokens)
    scale = float(np.max(np.abs(values))) if scale is None and T else (scale or 0.0)
    parts = [f'<div class="tv-label">{html.escape(label)}</div>' if label else "", '<div class="tv-strip">']
    for t, (tok, v) in enumerate(zip(tokens, values)):
        if boundary is not None and t == boundary:
            parts.append(f'<span class="tv-cut" title="{html.escape(boundary_text, quote=True)}">'
                         f'&#9474;{html.escape(boundary_text)}</span>')
        classes = ["tv-tok"]
        if zero_is_cut and v == 0:
            classes.append("tv-zero")
        else:
            flip = colours.ink_classes(v, scale, signed)
            if flip:
                classes.append(flip)
        if t < first_n:
            classes.append("tv-first")
        elif last_k > 0 and t >= T - last_k:
            classes.append("tv-last")
        what = f"{tok}: {value_name} {v:.3g}" if tips is None else tips[t]
        tip = html.escape(f"t={t} ({T - 1 - t} from the end) {what}", quote=True)
        style = "" if "tv-zero" in classes else f' style="background:{colours.shade(v, scale, signed)}"'
        parts.append(f'<span class="{" ".join(classes)}" title="{tip}" data-value="{float(v):.9g}"{style}>'
                     f'{html.escape(tok)}</span>')
    parts.append("</div>")
    return "".join(parts)
