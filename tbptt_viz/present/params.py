"""The app's settings and their URL query parameters: a shared link reopens the same view.

Parsing never fails: a bad value falls back to its default and adds a notice the app shows.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from tbptt_viz.attribution.choices import METHODS  # the order the app offers them, occlusion first
from tbptt_viz.core.bounds import whole_number
from tbptt_viz.core.schemes import SCHEMES, UPDATES
from tbptt_viz.core.text import MAX_TOKENS
from tbptt_viz.experiments.lab.settings import DEFAULTS as LAB_DEFAULTS
from tbptt_viz.experiments.lab.settings import FORM_BOUNDS as LAB_FORM_BOUNDS
from tbptt_viz.experiments.lab.settings import TASKS as LAB_TASKS

CUSTOM = "custom"           # review id meaning "the text in the `text` parameter"
IMDB_PREFIX = "imdb:"       # review id of an IMDB test review, e.g. imdb:test/123
# Longest query string a link the app writes may have. Streamlit itself reads up to 524,288 characters (its
# CLIENT_STATE_QUERY_STRING_MAX_LENGTH; longer ones are silently dropped, measured by
# scripts/measure_link_limit.py), but a proxy in front of it often stops at an 8 KB request line (nginx's default
# buffers): a link longer than this is not offered; the text travels as a .txt file instead (`text_file`).
MAX_LINK_CHARS = 8_000
TEXT_FILE_NAME = "tbptt_viz_review.txt"

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
        notices.append("the URL asks for your own text but gives none (a text too long for a link travels as a "
                       ".txt file: upload it under \"Your own text\"); showing the default example")
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


def working_model(wanted: str, status: dict[str, str | None]) -> tuple[str | None, str | None]:
    """(the model to show, a notice or None) when the page wants `wanted`; `status` is {name: None when it
    loads, else why not} in the sidebar's order (ModelStore.status or checkpoint.model_status).

    `wanted` when it loads; else the first model that does, with one notice naming the broken one and why;
    else (None, what to do). A broken default never blanks the page while another model works.
    """
    working = [name for name, reason in status.items() if reason is None]
    if status.get(wanted, "unknown") is None:
        return wanted, None
    why = status.get(wanted) or "it is not installed"
    if working:
        return working[0], (f"Model {wanted} cannot be loaded ({_one_line(why)}) and is left out of the lists; "
                            f"showing {working[0]} instead.")
    return None, (f"No model can be loaded ({wanted}: {_one_line(why)}). Restore the files under pretrained/ "
                  "or retrain (see README).")


def broken_notice(status: dict[str, str | None], named: tuple[str, ...] = ()) -> str | None:
    """One notice listing every model that cannot be loaded, with why (None when all load). Models `named`
    in another notice already (the page's fallback from a broken default) are not listed again."""
    broken = {name: reason for name, reason in status.items() if reason is not None and name not in named}
    if not broken:
        return None
    listed = "; ".join(f"{name} ({_one_line(reason)})" for name, reason in broken.items())
    if named:
        return f"Also left out of the model lists, as they cannot be loaded: {listed}."
    return f"{len(broken)} of {len(status)} models cannot be loaded and are left out of the lists: {listed}."


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def to_query(s: Settings) -> dict[str, str]:
    """The query parameters for these settings. A custom review's text goes in whole or not at all: when the
    link would be longer than MAX_LINK_CHARS it carries review=custom without the text (`link_notice` says so
    and `text_file` is the other way to share it); a link never holds a cut text."""
    q = {k: str(v) for k, v in asdict(s).items() if k != "text"}
    if s.scheme != "k1k2":
        q.pop("k1"), q.pop("k2")
    if not s.compare:
        q.pop("compare")
    if s.source is None:
        q.pop("source")
    if s.review == CUSTOM and link_length({**q, "text": s.text}) <= MAX_LINK_CHARS:
        q["text"] = s.text
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


def link_length(query: dict[str, str]) -> int:
    """Characters of the query string a browser sends for these parameters (percent-encoded UTF-8)."""
    from urllib.parse import urlencode

    return len(urlencode(query))


def link_notice(s: Settings) -> str | None:
    """None when the link holds these settings whole; else what the page says instead of cutting the text."""
    if s.review != CUSTOM or "text" in to_query(s):
        return None
    n = link_length({**to_query(s), "text": s.text})
    return (f"This text is too long for a link ({n:,} characters once encoded; a link holds at most "
            f"{MAX_LINK_CHARS:,}), so the page's link does not carry it. Download it as a .txt file to share it: "
            "\"Your own text\" accepts the file back (Upload a .txt).")


def text_file(text: str) -> bytes:
    """The review as a .txt file's bytes (UTF-8), for sharing a text too long for a link."""
    return text.encode("utf-8")


def text_from_file(data: bytes) -> str:
    """A .txt file's text (strict UTF-8, a byte-order mark dropped); ValueError naming the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"the file is not UTF-8 text (byte {e.start}); save it as UTF-8 (.txt) and upload it "
                         "again") from None


def snap_k(k: int, choices: list[int]) -> int:
    """The allowed K closest to k (ties go to the smaller)."""
    return min(choices, key=lambda c: (abs(c - k), c))


# ---- the Lab's form: session keys, URL parameters (lab_<field>), their defaults (LabConfig's) and their bounds
# (experiments.lab.settings.FORM_BOUNDS, which the form's widgets use too)
LAB_FIELD_OF = {"ones_frac": "ones_in_window_frac"}  # URL/session name -> LabConfig field, where they differ
LAB_FIELDS = {name: (0 if name == "seq_len" else LAB_DEFAULTS[LAB_FIELD_OF.get(name, name)])  # seq_len 0: the task's
              for name in ("task", "scheme", "k", "seed", "seq_len", "short_frac", "clean_last", "ones_frac",
                           "distance", "n_train", "epochs", "hidden", "update")}
LAB_KEYS = tuple(f"lab_{f}" for f in LAB_FIELDS)


def lab_state(query: dict) -> tuple[dict, list[str]]:
    """(session values of the Lab form, notices) from `lab_*` URL parameters.

    A value that is not a valid choice, not a number or outside the form's bounds falls back to the default
    (never to a widget's minimum) with a notice naming the parameter, its value and the allowed range, so the
    form never shows, and "Train live" never trains, a value the visitor did not choose.
    """
    notices: list[str] = []
    out = {}
    for name, default in LAB_FIELDS.items():
        key = f"lab_{name}"
        raw = query.get(key)
        raw = raw[-1] if isinstance(raw, list) and raw else raw
        value = default
        if raw is not None and not isinstance(raw, list):
            raw = str(raw)
            choices = {"task": LAB_TASKS, "scheme": SCHEMES, "update": UPDATES}.get(name)
            if choices is not None:
                if raw in choices:
                    value = raw
                else:
                    notices.append(f"URL parameter {key}={_shown(raw)} is not one of {', '.join(choices)}; "
                                   f"using the default {default}")
            else:
                low, high = LAB_FORM_BOUNDS[name]
                try:
                    number = float(raw) if isinstance(default, float) else whole_number(key, raw, low)
                    if not low <= number <= high:  # NaN fails too
                        raise ValueError
                    value = number
                except ValueError:
                    kind = "number" if isinstance(default, float) else "whole number"
                    notices.append(f"URL parameter {key}={_shown(raw)} is not a {kind} from {low} to {high:,}; "
                                   f"using the default {default}")
        out[key] = value
    return out, notices


def _shown(raw: str, limit: int = 40) -> str:
    """A visitor's value as a notice quotes it: cut, and as a Python literal (nothing in it is markup)."""
    return repr(raw if len(raw) <= limit else raw[:limit] + "...")


def lab_query(config) -> dict[str, str]:
    """URL parameters for a Lab configuration (what the form showed when it ran)."""
    c = config.to_dict()
    values = {"task": c["task"], "scheme": c["scheme"], "k": c["k"], "seed": c["seed"], "seq_len": c["seq_len"],
              "short_frac": c["short_frac"], "clean_last": c["clean_last"], "ones_frac": c["ones_in_window_frac"],
              "distance": c["distance"], "n_train": c["n_train"], "epochs": c["epochs"], "hidden": c["hidden"],
              "update": c["update"]}
    return {f"lab_{k}": str(v) for k, v in values.items()}
