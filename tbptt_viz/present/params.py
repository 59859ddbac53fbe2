"""The app's settings and their URL query parameters: a shared link reopens the same view.

Parsing never fails: a bad value falls back to its default and adds a notice the app shows.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from tbptt_viz.attribution.methods import METHODS  # the order the app offers them, occlusion first
from tbptt_viz.core.bounds import whole_number
from tbptt_viz.core.schemes import SCHEMES
from tbptt_viz.core.text import MAX_TOKENS
from tbptt_viz.core.per_chunk import UPDATES

CUSTOM = "custom"           # review id meaning "the text in the `text` parameter"
IMDB_PREFIX = "imdb:"       # review id of an IMDB test review, e.g. imdb:test/123
MAX_URL_TEXT = 8000         # characters of custom text kept in a URL (links stay well under server limits)

# The page's views (its tabs, and the values of the `view` URL parameter), in the order the page shows them.
VIEWS = ("Start here", "Lessons", "What training sees", "Gradient through time", "What the model uses", "Memory",
         "Model zoo", "Lab")
SCHEME_VIEWS = VIEWS[:6]  # the views where the truncation scheme means something


@dataclass(frozen=True)
class Settings:
    review: str = "love-then-plot"   # an example id, "custom", or "imdb:<id>"
    text: str = ""                   # the custom review (only with review == "custom")
    model: str = "imdb-last-k30"
    scheme: str = "last-k"
    k: int = 30
    k1: int = 30
    k2: int = 60
    method: str = "occlusion"
    compare: str = ""                # the second model shown side by side ("" = the app's default pair)
    source: int | None = None        # the followed word's token position (None: `default_source`)


DEFAULTS = Settings()


def _int(raw, name: str, notices: list[str], default: int) -> int:
    try:
        value = whole_number(name, str(raw), 1)
    except ValueError:
        notices.append(f"URL parameter {name} is not a whole number >= 1; using {default}")
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
    if "source" in q:
        try:
            s = replace(s, source=whole_number("source", str(q["source"]), 0, MAX_TOKENS - 1))
        except ValueError:
            notices.append(f"URL parameter source is not a token position (a whole number from 0 to "
                           f"{MAX_TOKENS - 1}); following the review's default word")
    if s.compare and s.compare == s.model:
        notices.append(f"the URL compares {s.model} with itself; showing it beside another model")
        s = replace(s, compare="")
    return s, notices


def to_query(s: Settings) -> dict[str, str]:
    """The query parameters for these settings (text only for custom reviews, cut to MAX_URL_TEXT)."""
    q = {k: str(v) for k, v in asdict(s).items() if k != "text"}
    if s.scheme != "k1k2":
        q.pop("k1"), q.pop("k2")
    if not s.compare:
        q.pop("compare")
    if s.source is None:
        q.pop("source")
    if s.review == CUSTOM:
        q["text"] = s.text[:MAX_URL_TEXT]
    return q


# Shapley's settings on the page: groups (0: sentences, else spans of that many tokens), sampled orders per repeat.
SHAPLEY_SPANS = (0, 5, 10, 20, 50)
SHAPLEY_SAMPLES = (2, 8, 32)

# Words that carry a review's verdict on their own: the followed word starts at the first of them, so that a
# student sees at once how far an opinion word travels (and where it was trained). Our own short list.
SENTIMENT_WORDS = frozenset("""
love loved loves lovely great wonderful brilliant excellent superb amazing beautiful best fantastic perfect
enjoyed enjoy masterpiece moving delight delightful favorite favourite gem stunning outstanding fun
hate hated awful terrible horrible boring worst bad waste dull poor disappointing disappointed stupid
mess annoying pointless ridiculous weak mediocre unwatchable""".split())


def default_source(tokens) -> int:
    """The word a page follows unless the visitor picks one: the first sentiment-bearing word, else the first."""
    return next((t for t, tok in enumerate(tokens) if str(tok).lower() in SENTIMENT_WORDS), 0)


def source_position(source, tokens) -> int:
    """The followed word's position: `source` as (position, token) or a bare position (from a link), kept while
    it lies inside the review (and the same token still sits there); else `default_source(tokens)`."""
    position, token = source if isinstance(source, tuple) else (source, None)
    if position is not None and 0 <= position < len(tokens) and token in (None, tokens[position]):
        return int(position)
    return default_source(tokens)


def default_compare(model: str, models: list[str], broken: set[str] = frozenset()) -> str | None:
    """The model shown beside `model`: imdb-full (or imdb-last-k30 beside it), else any working one."""
    working = [m for m in models if m != model and m not in broken]
    for preferred in ("imdb-full", "imdb-last-k30"):
        if preferred in working:
            return preferred
    return working[0] if working else None


def imdb_pool(rows: dict, label: str, lo: int, hi: int) -> list[str]:
    """IMDB ids whose label matches `label` (any | positive | negative) and whose word count is in [lo, hi].

    `rows`: {id: (text, label, words)}."""
    wanted = {"any": (0, 1), "positive": (1,), "negative": (0,)}[label]
    return [rid for rid, (_, y, n) in rows.items() if y in wanted and lo <= n <= hi]


def snap_k(k: int, choices: list[int]) -> int:
    """The allowed K closest to k (ties go to the smaller)."""
    return min(choices, key=lambda c: (abs(c - k), c))


# ---- the Lab's form: session keys, URL parameters (lab_<field>) and their defaults
LAB_FIELDS = {"task": "prefix", "scheme": "last-k", "k": 30, "seed": 0, "seq_len": 0, "short_frac": 0.0,
              "clean_last": 10, "ones_frac": 0.0, "distance": 20, "n_train": 1000, "epochs": 20, "hidden": 32,
              "update": "per-review"}
LAB_KEYS = tuple(f"lab_{f}" for f in LAB_FIELDS)


def lab_state(query: dict) -> dict:
    """Session values of the Lab form from `lab_*` URL parameters; a bad value keeps the default."""
    from tbptt_viz.experiments.lab.runs import TASKS

    out = {}
    for name, default in LAB_FIELDS.items():
        raw = query.get(f"lab_{name}")
        value = default
        if raw is not None:
            raw = raw[-1] if isinstance(raw, list) else raw
            try:
                if name == "task":
                    value = raw if raw in TASKS else default
                elif name == "scheme":
                    value = raw if raw in SCHEMES else default
                elif name == "update":
                    value = raw if raw in UPDATES else default
                elif isinstance(default, float):
                    value = min(1.0, max(0.0, float(raw)))
                else:
                    value = whole_number(name, str(raw), 0, 100_000)
            except ValueError:
                value = default
        out[f"lab_{name}"] = value
    return out


def lab_query(config) -> dict[str, str]:
    """URL parameters for a Lab configuration (what the form showed when it ran)."""
    c = config.to_dict()
    values = {"task": c["task"], "scheme": c["scheme"], "k": c["k"], "seed": c["seed"], "seq_len": c["seq_len"],
              "short_frac": c["short_frac"], "clean_last": c["clean_last"], "ones_frac": c["ones_in_window_frac"],
              "distance": c["distance"], "n_train": c["n_train"], "epochs": c["epochs"], "hidden": c["hidden"],
              "update": c["update"]}
    return {f"lab_{k}": str(v) for k, v in values.items()}
