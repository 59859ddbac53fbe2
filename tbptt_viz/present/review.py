"""The review on the page: its tokens, encoded for the chosen model and for the model shown beside it."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Review:
    """What every view of one page run analyses. Two models may have different vocabularies, so the same
    tokens have one id sequence per model."""

    model: str                          # the chosen model
    compare: str | None                 # the model shown beside it (None: the chosen one alone)
    ids: tuple[int, ...]                # (T,) the tokens' ids in the chosen model's vocabulary
    compare_ids: tuple[int, ...]        # (T,) the same tokens in the compare model's vocabulary (() without one)
    tokens: tuple[str, ...]             # (T,) the review's tokens, as the strips show them
    label: int | None                   # the training loss's label: the true label, or None (the model's own)
    review_id: str = ""                 # the review as the URL names it ("love-then-plot", "custom", "imdb:...")

    @property
    def T(self) -> int:
        return len(self.ids)

    @property
    def names(self) -> tuple[str, ...]:
        """The models on the page: the chosen one, then the compare model if there is one."""
        return (self.model, self.compare) if self.compare else (self.model,)

    def ids_of(self, name: str) -> tuple[int, ...]:
        """The review's ids for model `name` (the chosen or the compare model)."""
        if name == self.model:
            return self.ids
        if name == self.compare:
            return self.compare_ids
        raise ValueError(f"{name!r} is neither the chosen model {self.model!r} nor the compare model")

    @property
    def meta(self) -> dict:
        """What a download names: the model, the review, its length."""
        return {"model": self.model, "review": self.review_id, "tokens": self.T}
