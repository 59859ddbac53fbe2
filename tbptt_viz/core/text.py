"""Word tokenizer and vocabulary (JSON), deterministic so every number can be re-derived."""
from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
MAX_TOKENS = 2000  # longest review the analyses accept; longer text is cut with a notice
# Longest text tokenized whole. A longer one (a paste of a whole book) keeps only its last MAX_TEXT_CHARS
# characters first: the kept tokens are at the end either way, and tokenizing stays bounded (~0.2 s here).
MAX_TEXT_CHARS = 1_000_000

_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
# A word (letters/digits, inner apostrophes kept: "don't") or one punctuation mark.
_TOKEN = re.compile(r"\w+(?:'\w+)*|[^\w\s]")


# Line breaks in every form a visitor can send: CRLF, CR, NEL, LS, PS, VT, FF. Normalised to "\n" before any
# text is stored, rendered or sent back in a link, so no renderer can see a bare CR as a block break.
_BREAKS = re.compile(r"\r\n|[\r\x85\u2028\u2029\x0b\x0c]")
# Other control characters (NUL and friends) are dropped; tab and newline stay.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """A visitor's text with line breaks normalised to \\n and control characters removed."""
    return _CONTROL.sub("", _BREAKS.sub("\n", str(text or "")))


def tokenize(text: str) -> list[str]:
    """Lower-case, drop IMDB's `<br />` line breaks, split punctuation off words."""
    return _TOKEN.findall(_BREAK.sub(" ", text).lower())


@dataclass(frozen=True)
class Vocab:
    """Index <-> word. Id 0 is padding (its embedding is zero), id 1 stands for unknown words."""

    itos: tuple[str, ...]

    def __post_init__(self):
        if self.itos[:2] != (PAD, UNK):
            raise ValueError("a vocabulary must start with <pad>, <unk>")
        object.__setattr__(self, "_stoi", {w: i for i, w in enumerate(self.itos)})

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        return [self._stoi.get(t, UNK_ID) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[i] for i in ids]

    @classmethod
    def build(cls, texts: Iterable[str], max_size: int = 20000, min_count: int = 2) -> "Vocab":
        """Most frequent words first; ties broken alphabetically so the result is deterministic."""
        counts = Counter()
        for text in texts:
            counts.update(tokenize(text))
        ranked = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
        return cls((PAD, UNK, *ranked[: max_size - 2]))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"itos": list(self.itos)}, ensure_ascii=False))

    @classmethod
    def load(cls, path: str | Path) -> "Vocab":
        data = json.loads(Path(path).read_text())
        itos = data.get("itos") if isinstance(data, dict) else None
        if not isinstance(itos, list) or not all(isinstance(w, str) for w in itos):
            raise ValueError(f"{path}: not a vocabulary file (expected {{'itos': [words]}})")
        return cls(tuple(itos))


class EmptyReview(ValueError):
    """The text has no tokens."""


KEEP = ("last", "first")  # which end of a long review is kept: the last tokens are the ones last-K trains on


@dataclass(frozen=True)
class PreparedReview:
    """A review ready for a model: its tokens and ids, cut to `max_tokens` when longer (with a notice)."""

    tokens: tuple[str, ...]
    ids: tuple[int, ...]
    original_length: int   # tokens before cutting (of the kept characters when `chars_cut`: a lower bound)
    kept: str = "last"     # last | first: which end was kept when cut
    chars_cut: int = 0     # characters dropped before tokenizing (a text longer than MAX_TEXT_CHARS)

    @property
    def was_cut(self) -> bool:
        return self.original_length > len(self.tokens) or self.chars_cut > 0

    @property
    def notice(self) -> str | None:
        if not self.was_cut:
            return None
        more = "more than " if self.chars_cut else ""
        return (f"the review has {more}{self.original_length} tokens; only the {self.kept} {len(self.tokens)} are "
                f"used (the maximum)")


def prepare_review(text: str, vocab: Vocab, max_tokens: int = MAX_TOKENS, keep: str = "last") -> PreparedReview:
    """Tokenize and encode; refuse empty text; cut long text to its last (or first) `max_tokens` tokens.

    The last tokens are kept by default: they hold the prediction and the only part last-K trains on. A text
    longer than MAX_TEXT_CHARS characters is first cut to that many characters at the kept end (at a space,
    so no word is split).
    """
    if keep not in KEEP:
        raise ValueError(f"keep must be one of {', '.join(KEEP)}, got {keep!r}")
    text = text or ""
    dropped = 0
    if len(text) > MAX_TEXT_CHARS:
        part = text[-MAX_TEXT_CHARS:] if keep == "last" else text[:MAX_TEXT_CHARS]
        edge = part.find(" ") if keep == "last" else part.rfind(" ")
        if edge > 0:  # drop the word the cut went through
            part = part[edge:] if keep == "last" else part[:edge]
        dropped, text = len(text) - len(part), part
    tokens = tokenize(text)
    if not tokens:
        raise EmptyReview("the review is empty: type or paste some text")
    kept = tokens[-max_tokens:] if keep == "last" else tokens[:max_tokens]
    return PreparedReview(tuple(kept), tuple(vocab.encode(kept)), len(tokens), keep, dropped)
