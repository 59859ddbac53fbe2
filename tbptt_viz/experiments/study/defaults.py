"""The study's defaults that the command line shows and checks before torch is imported."""
from __future__ import annotations

POSITIVE_PHRASE = "simply wonderful and moving ."   # our own wording; every word is in the shipped vocab
NEGATIVE_PHRASE = "simply awful and boring ."
ZOO_ORDER = ("imdb-full", "imdb-last-k30", "imdb-chunked-k30", "imdb-last-k10", "imdb-last-k100", "imdb-k1k2-30-60",
             "imdb-chunked-k30-per-chunk")
