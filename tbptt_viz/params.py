"""The app's settings and their URL query parameters: a shared link reopens the same view.

Parsing never fails: a bad value falls back to its default and adds a notice the app shows.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from .schemes import SCHEMES
from .text import MAX_TOKENS

METHODS = ("integrated_gradients", "saliency", "input_x_gradient", "occlusion")
CUSTOM = "custom"           # review id meaning "the text in the `text` parameter"
IMDB_PREFIX = "imdb:"       # review id of an IMDB test review, e.g. imdb:test/123
MAX_URL_TEXT = 8000         # characters of custom text kept in a URL (links stay well under server limits)


@dataclass(frozen=True)
class Settings:
    review: str = "love-then-plot"   # an example id, "custom", or "imdb:<id>"
    text: str = ""                   # the custom review (only with review == "custom")
    model: str = "imdb-last-k30"
    scheme: str = "last-k"
    k: int = 30
    k1: int = 30
    k2: int = 60
    method: str = "integrated_gradients"
    compare: str = ""                # the second model shown side by side ("" = the app's default pair)


DEFAULTS = Settings()


def _int(raw, name: str, notices: list[str], default: int) -> int:
    try:
        value = int(str(raw))
    except ValueError:
        notices.append(f"URL parameter {name}={raw!r} is not a whole number; using {default}")
        return default
    if value < 1:
        notices.append(f"URL parameter {name}={value} must be at least 1; using {default}")
        return default
    if value > MAX_TOKENS:
        notices.append(f"URL parameter {name}={value} is above the longest review ({MAX_TOKENS} tokens); "
                       f"using {MAX_TOKENS}")
        return MAX_TOKENS
    return value


def parse_query(query: dict, models: list[str], example_ids: list[str]) -> tuple[Settings, list[str]]:
    """Settings from query parameters (values may be str or lists of str), and notices for bad values."""
    q = {k: (v[-1] if isinstance(v, list) and v else v) for k, v in query.items()}
    notices: list[str] = []
    s = DEFAULTS if DEFAULTS.model in models or not models else replace(DEFAULTS, model=models[0])
    if "review" in q:
        r = str(q["review"])
        if r in example_ids or r == CUSTOM or (r.startswith(IMDB_PREFIX) and len(r) > len(IMDB_PREFIX)):
            s = replace(s, review=r)
        else:
            notices.append(f"unknown review {r!r} in the URL; showing the default example")
    if "text" in q and str(q["text"]).strip():
        s = replace(s, text=str(q["text"]), review=CUSTOM if "review" not in q else s.review)
    if s.review == CUSTOM and not s.text.strip():
        notices.append("the URL asks for your own text but gives none; showing the default example")
        s = replace(s, review=DEFAULTS.review)
    # parameter -> (allowed values, what to call it in a notice)
    choices = {"model": (models, "model"), "scheme": (SCHEMES, "scheme"), "compare": (models, "model to compare with"),
               "method": (METHODS, "attribution method")}
    for name, (allowed, what) in choices.items():
        if name not in q:
            continue
        if q[name] in allowed:
            s = replace(s, **{name: str(q[name])})
        else:
            notices.append(f"unknown {what} {q[name]!r} in the URL; using {getattr(s, name) or 'the default'}")
    for name in ("k", "k1", "k2"):
        if name in q:
            s = replace(s, **{name: _int(q[name], name, notices, getattr(DEFAULTS, name))})
    return s, notices


def to_query(s: Settings) -> dict[str, str]:
    """The query parameters for these settings (text only for custom reviews, cut to MAX_URL_TEXT)."""
    q = {k: str(v) for k, v in asdict(s).items() if k != "text"}
    if s.scheme != "k1k2":
        q.pop("k1"), q.pop("k2")
    if not s.compare:
        q.pop("compare")
    if s.review == CUSTOM:
        q["text"] = s.text[:MAX_URL_TEXT]
    return q


def md_escape(text: str) -> str:
    """Backslash-escape Markdown so that text from a URL or a review shows literally (no links, images)."""
    return "".join("\\" + ch if ch in "\\`*_[]()<>#!|~$" else ch for ch in str(text))


def snap_k(k: int, choices: list[int]) -> int:
    """The allowed K closest to k (ties go to the smaller)."""
    return min(choices, key=lambda c: (abs(c - k), c))
