"""Guided lessons: each a one-click preset, a short explanation and a predict-then-reveal question.

A visitor's place in one lesson is a `Progress`, changed only by its pure transitions (`check`, `reset`), so
the rules of asking, retrying and revealing are tested without a page:

    Progress()  --check(wrong), tries left-->  Progress(tries=1)               the page says "try again"
                --check(right)------------->  Progress(revealed, right)       the answer and its evidence
                --check(wrong), no tries--->  Progress(revealed, not right)   the answer and its evidence
    any         --reset-------------------->  Progress()
"""
from __future__ import annotations

from dataclasses import dataclass, replace

MAX_TRIES = 2  # checked answers before the answer is shown anyway (None: as many as the visitor likes)


@dataclass(frozen=True)
class Lesson:
    title: str
    preset: dict                  # Settings fields to apply
    tab: str                      # which view to look at
    explain: str
    question: str
    options: tuple[str, ...]
    answer: int                   # index into options
    reveal: str                   # states no number: the evidence shown with it is computed on the page


LESSONS = (
    Lesson(
        "1. The puzzle: a gradient of exactly zero",
        {"review": "love-then-plot", "model": "imdb-last-k30", "scheme": "last-k", "k": 30},
        "What training sees",
        "This review opens with its verdict and then spends well over a hundred words on plot. Training with "
        "last-K truncation (K = 30) back-propagates the loss through the final 30 tokens only: the state "
        "entering that window is detached.",
        "How much gradient does the word 'love' (the second token) receive from this review's loss?",
        ("A lot: it is the most emotional word in the review", "Some, but less than the last words", "Exactly zero"),
        2,
        "Exactly zero. In the strip under the truncated scheme every token left of the red cut is hatched: its "
        "gradient is 0.0, not merely small. Whatever this model knows about 'love', it did not learn it from "
        "this review's opening.",
    ),
    Lesson(
        "2. Full BPTT: the gradient does reach the opening",
        {"review": "love-then-plot", "model": "imdb-full", "scheme": "full"},
        "Gradient through time",
        "With full backpropagation through time the gradient reaches the first words through every "
        "intermediate state; each step multiplies it by the LSTM's local Jacobian, so it can fade (vanish) or "
        "survive, depending on the forget gates the model has learned.",
        "Under full BPTT, what gradient does 'love', about 225 tokens before the end, receive?",
        ("Exactly zero, like under last-K", "A non-zero gradient: how large depends on the model"),
        1,
        "Non-zero. The curves below show how large, position by position (log axis): the ratio of the gradient "
        "at the first token to the one at the last token is printed under them for this review and model. It "
        "flows back through every path of the LSTM, not only the cell's forget gates. Try other reviews and "
        "models: on some it fades by orders of magnitude.",
    ),
    Lesson(
        "3. Where early words are learned: short reviews and late mentions",
        {"review": "short-brilliant", "model": "imdb-last-k30", "scheme": "last-k", "k": 30},
        "What training sees",
        "A last-K model is not blind to sentiment words: it learns them wherever they fall inside the window. "
        "That happens in short reviews, and in long reviews that repeat their verdict near the end.",
        "In this short review, how many tokens get a gradient under last-K with K = 30?",
        ("None", "Only the last one", "All of them"),
        2,
        "All of them: the whole review fits inside the window, so nothing is cut. The embedding of 'brilliant' "
        "learned here is the same vector the model reads when the word opens a long review. Try the example "
        "whose verdict comes at the end as well.",
    ),
    Lesson(
        "4. Prediction time: early words still pass through the state",
        {"review": "love-then-plot", "model": "imdb-last-k30", "scheme": "last-k", "k": 30,
         "method": "occlusion"},
        "What the model uses",
        "Truncation only cuts the training gradient. When the trained model reads a review, the opening still "
        "writes into the cell and hidden state, and it reaches the prediction through every later step.",
        "Can the opening still change what the last-K model predicts?",
        ("No: its training gradient there was exactly zero, so it has no effect",
         "It can, through the state; how much is an empirical question: measure it"),
        1,
        "It can: the forward pass is never truncated. How much is measured by occlusion and the context probe, "
        "shown below for both models side by side on this review, and over many IMDB reviews by the study's "
        "planted phrases (its numbers are printed with this answer).",
    ),
    Lesson(
        "5. Another recipe: chunked truncation",
        {"review": "love-then-plot", "model": "imdb-chunked-k30", "scheme": "chunked", "k": 30},
        "What training sees",
        "Chunked training puts a loss (with the review's label) at the end of every chunk of K tokens and "
        "detaches the state between chunks. TBPTT(k1, k2) of Williams & Peng generalises this: a loss every "
        "k1 steps, each back-propagated over k2 steps. Two update rules share these losses: one optimizer step "
        "per review on their mean (the app's chunked models), or a step after every chunk with the state "
        "carried on detached, as the IMDB TBPTT script in ksopyla/pytorch_neural_networks does "
        "(RNN/lstm_imdb_tbptt.py; the model imdb-chunked-k30-per-chunk).",
        "Under chunked truncation with K = 30, does 'love' get a gradient?",
        ("No, it is more than 30 tokens from the end", "Yes, from the loss at the end of the first chunk"),
        1,
        "Yes: the first chunk's loss sits at token 29 and back-propagates to token 0. The backprop-count "
        "timeline shows every token reached by exactly one loss. The Model zoo compares models trained each way.",
    ),
)


@dataclass(frozen=True)
class Progress:
    """Where one visitor stands on one lesson's question."""

    tries: int = 0                # answers checked so far
    revealed: bool = False        # the answer and its evidence are shown
    right: bool | None = None     # whether the last checked answer was right (None: nothing checked yet)

    def check(self, lesson: Lesson, choice: int, max_tries: int | None = MAX_TRIES) -> Progress:
        """The visitor checks option `choice`: a right answer, or the last try allowed, reveals the answer."""
        if self.revealed:
            return self
        right = choice == lesson.answer
        tries = self.tries + 1
        return replace(self, tries=tries, right=right,
                       revealed=right or (max_tries is not None and tries >= max_tries))

    @property
    def retry(self) -> bool:
        """A wrong answer was checked and another try is allowed."""
        return self.right is False and not self.revealed

    def reset(self) -> Progress:
        return Progress()


def verdict(progress: Progress, lesson: Lesson, choice: int | None, teacher: bool = False) -> bool | None:
    """What the lesson shows: None while its answer is hidden, else whether the visitor's answer is right
    (in teacher mode every answer is shown at once: the option chosen now decides, none chosen is not right)."""
    if not (teacher or progress.revealed):
        return None
    if progress.right is not None:
        return progress.right
    return choice is not None and choice == lesson.answer
