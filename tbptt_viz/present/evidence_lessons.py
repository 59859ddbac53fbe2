"""Drafts of two lesson steps for issue 23 (exposure for part 1 of the answer, connectivity for part 2), in the
`lessons.Lesson` format. Not yet in `LESSONS`: the lessons are being reworked elsewhere, and the views these
steps point at ("Where words were trained", "How far a word reaches") are wired into the app in a later step.
A reveal states no number: the numbers are the computed sentence and figure shown with it.
"""
from __future__ import annotations

from tbptt_viz.present.lessons import Lesson

EVIDENCE_LESSONS = (
    Lesson(
        "Where was 'love' learned, then?",
        {"review": "love-then-plot", "model": "imdb-last-k30", "scheme": "last-k", "k": 30},
        "Where words were trained",
        "Under last-K the opening of this review gets no gradient, yet the model knows what 'love' means. Its "
        "embedding is one vector shared by every review: it was trained wherever 'love' fell inside the window "
        "of some training review. The strip counts, for each word here, the training reviews that contain it and "
        "those in which it lay inside the last K tokens.",
        "Of the training reviews that contain 'love', in how many did it lie inside the last-K window (K = 30)?",
        ("None: the window never reaches early words, so 'love' was never trained",
         "A minority: the reviews where it came near the end (short reviews, verdicts repeated at the end)",
         "Nearly all of them: 'love' is a common word",
         "Exactly half: the window covers half of a typical review"),
        1,
        "A minority, but not none. The sentence under the strip gives both counts for 'love' from the whole "
        "IMDB training split. Those reviews are where its embedding was trained; the strip shows the same for "
        "every other word of this review, and for the compared model's scheme.",
    ),
    Lesson(
        "How far does the model carry a word?",
        {"review": "love-then-plot", "model": "imdb-last-k30", "scheme": "last-k", "k": 30, "source": 1},
        "How far a word reaches",
        "Truncation cuts the backward pass only. Pick the word 'love' and follow its effect forwards: the curves "
        "show how strongly it still moves the hidden state, and the prediction, at every later token, for both "
        "models, with the K = 30 training window shaded.",
        "Does the effect of 'love' on the last-K model's hidden state stop at 30 tokens, where its training "
        "window ends?",
        ("Yes: the model was trained through 30 tokens, so it carries a word no further",
         "No: the forward pass is never truncated, so the effect fades gradually and can reach far beyond K",
         "It grows with distance: later states depend more on early words",
         "It is zero from the start: a word that got no gradient has no effect"),
        1,
        "No. The curve runs on past the shaded window and fades gradually; the sentence under it says after how "
        "many tokens it falls below 1% of its size at the word. The study sets each model's memory span beside "
        "its training K over many reviews.",
    ),
)
