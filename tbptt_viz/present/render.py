"""Token strips as HTML. Review text is untrusted: every token and tooltip is escaped, always."""
from __future__ import annotations

import html

import numpy as np

STRIP_CSS = """<style>
.tv-strip{line-height:2.0;font-family:ui-sans-serif,system-ui,sans-serif;font-size:0.95rem;margin:0.2rem 0 0.8rem}
.tv-tok{display:inline-block;white-space:pre;padding:0 0.15rem;margin:0 0.05rem;border-radius:0.2rem;border-bottom:2px solid transparent}
.tv-zero{color:#888;border-bottom:2px dashed #bbb;background:repeating-linear-gradient(45deg,#f4f4f4,#f4f4f4 3px,#fff 3px,#fff 6px)}
.tv-first{border-bottom:2px solid #7b3fa0}
.tv-last{border-bottom:2px solid #1f77b4}
.tv-cut{display:inline-block;color:#c0392b;font-weight:700;margin:0 0.3rem;font-size:0.85rem}
.tv-label{font-size:0.8rem;color:#555;margin-top:0.4rem}
.tv-legend{display:flex;align-items:center;gap:0.4rem;font-size:0.75rem;color:#555;margin:-0.4rem 0 0.6rem}
.tv-legend .bar{width:9rem;height:0.6rem;border-radius:0.2rem}
.tv-text{overflow-wrap:anywhere;white-space:normal;font-size:0.9rem}
</style>"""


def strip_scale(*arrays) -> float:
    """One colour scale for strips that are compared: the largest |value| among them (0 when all are empty)."""
    values = [float(np.max(np.abs(a))) for a in arrays if len(a)]
    return max(values, default=0.0)


def _fmt(v: float) -> str:
    return f"{v:.2g}" if v and (abs(v) < 0.01 or abs(v) >= 1000) else f"{v:.2f}".rstrip("0").rstrip(".")


def legend(scale: float, signed: bool = False, value_name: str = "value", note: str = "") -> str:
    """A numeric colour legend for a strip drawn with `scale`: what the darkest colour means."""
    if signed:
        bar = "linear-gradient(90deg,rgba(214,39,40,0.85),rgba(255,255,255,0),rgba(44,160,44,0.85))"
        low, high = f"-{_fmt(scale)}", f"+{_fmt(scale)}"
    else:
        bar = "linear-gradient(90deg,rgba(255,127,14,0),rgba(255,127,14,0.85))"
        low, high = "0", _fmt(scale)
    return (f'<div class="tv-legend"><span>{html.escape(value_name)}:</span><span>{low}</span>'
            f'<span class="bar" style="background:{bar}"></span><span>{high}</span>'
            f'<span>{html.escape(note)}</span></div>')


def text_block(text: str, limit: int = 20000) -> str:
    """A review as escaped HTML: line breaks (already normalised to \n) become <br>; nothing is interpreted."""
    return STRIP_CSS + '<div class="tv-text">' + html.escape(text[:limit]).replace("\n", "<br>") + "</div>"


def _colour(value: float, scale: float, signed: bool) -> str:
    if scale <= 0 or not np.isfinite(value):
        return "transparent"
    a = min(1.0, abs(value) / scale) ** 0.6  # a power below 1 keeps small values visible
    if signed and value < 0:
        return f"rgba(214,39,40,{0.85 * a:.3f})"   # red: pushes the prediction negative
    if signed:
        return f"rgba(44,160,44,{0.85 * a:.3f})"   # green: pushes it positive
    return f"rgba(255,127,14,{0.85 * a:.3f})"      # orange: gradient magnitude


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
        if t < first_n:
            classes.append("tv-first")
        elif last_k > 0 and t >= T - last_k:
            classes.append("tv-last")
        what = f"{tok}: {value_name} {v:.3g}" if tips is None else tips[t]
        tip = html.escape(f"t={t} ({T - 1 - t} from the end) {what}", quote=True)
        style = "" if "tv-zero" in classes else f' style="background:{_colour(v, scale, signed)}"'
        parts.append(f'<span class="{" ".join(classes)}" title="{tip}" data-value="{float(v):.9g}"{style}>'
                     f'{html.escape(tok)}</span>')
    parts.append("</div>")
    return "".join(parts)
