"""Guided lessons: each sets up its evidence (review, model, scheme), then asks; the answer waits for the visitor.

Opening a lesson applies its `preset` (the page then shows its review, model and scheme, and draws its evidence
with the answer hidden); the visitor answers as often as they like, with a hint after a wrong answer, or asks for
the answer. A visitor's place in one lesson is a `Progress`, changed only by its pure transitions, so the rules
of asking, retrying and revealing are tested without a page:

    Progress()  --check(wrong)-->  Progress(tries=1, wrong=(c,))        "not quite" and the lesson's hint
                --check(right)-->  Progress(revealed, right)            the answer
                --give_up------->  Progress(revealed, gave_up)          the answer, after at least one try
    any         --reset--------->  Progress()

Lesson text may hold placeholders filled from the lesson's own review (`filled`): a number such as how many
tokens 'love' stands before the end is counted, never written by hand. A reveal says only what the page shows:
its numbers are the computed sentences and figures of the lesson's evidence, plus `numbers` (a computed
paragraph from the study, e.g. the planted-phrase contrast with its intervals).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

TEXT_FIELDS = ("title", "explain", "question", "hint", "reveal")


@dataclass(frozen=True)
class Lesson:
    title: str
    preset: dict                  # Settings fields to apply, plus "word": the token the lesson is about
    tab: str                      # the evidence drawn under it: a view's name, or one of EVIDENCE_VIEWS
    explain: str
    question: str
    options: tuple[str, ...]
    answer: int                   # index into options
    reveal: str                   # states no number of its own: they are the evidence's computed ones
    hint: str = ""                # shown after a wrong answer: where on the page to look
    numbers: str = ""             # a computed paragraph shown with the answer: "" | "start_contrast" | "update_rule"


# Evidence that is not a whole view: drawn by the lesson itself (exposure; connectivity).
EVIDENCE_VIEWS = ("Where words were trained", "How far a word reaches")

WORD_LESSON = {"review": "love-then-plot", "word": "love"}

LESSONS = (
    Lesson(
        "1. The puzzle: a gradient of exactly zero",
        {**WORD_LESSON, "model": "imdb-last-k30", "compare": "imdb-full", "scheme": "last-k", "k": 30},
        "What training sees",
        "This review opens with its verdict and then spends well over a hundred words on plot. Training with "
        "last-K truncation (K = {k}) back-propagates the loss through the final {k} tokens only: the state "
        "entering that window is detached. The strips colour each token by the gradient this review's loss sends "
        "to it, under full BPTT and under last-K.",
        "How much gradient does the word '{word}' (token {word_t}, {word_from_end} tokens before the end) "
        "receive from this review's loss under last-K?",
        ("A lot: it is the most emotional word in the review", "Some, but less than the last words",
         "Exactly zero"),
        2,
        "Exactly zero. In the last-K strip every token left of the red cut is hatched: its gradient is 0.0, not "
        "merely small. Whatever this model knows about '{word}', it did not learn it from this review's opening.",
        hint="Find '{word}' in the second strip: which side of the red cut is it on, and how is it drawn?",
    ),
    Lesson(
        "2. Full BPTT: the gradient does reach the opening",
        {**WORD_LESSON, "model": "imdb-full", "compare": "imdb-last-k30", "scheme": "full"},
        "Gradient through time",
        "With full backpropagation through time the gradient reaches the first words through every "
        "intermediate state; each step multiplies it by the LSTM's local Jacobian, so it can fade (vanish) or "
        "survive, depending on what the model has learned. The chart follows ||dL/dx_t|| of this review's loss "
        "along the review, for imdb-full's weights.",
        "Under full BPTT, how does the gradient '{word}' receives ({word_from_end} tokens before the end) compare "
        "with the one the review's last token receives?",
        ("It is exactly zero, as under last-K",
         "It is non-zero but far smaller: it fades on its way back through the review",
         "It is non-zero and larger than the last token's"),
        2,
        "Larger, on this review and model: the sentence below gives the ratio for '{word}', and the "
        "dotted ||dL/dx_t|| curve shows the gradient position by position. Full BPTT cuts nothing, so the "
        "curve has no grey band of exact zeros. Pick other reviews and models in the sidebar to compare.",
        hint="Read the dotted ||dL/dx_t|| curve at the left end (token {word_t}) and at the right end.",
    ),
    Lesson(
        "3. Where early words are learned: short reviews and late mentions",
        {"review": "short-brilliant", "model": "imdb-last-k30", "compare": "imdb-full", "scheme": "last-k",
         "k": 30},
        "What training sees",
        "A last-K model is not blind to sentiment words: it learns them wherever they fall inside the window. "
        "That happens in short reviews, and in long reviews that repeat their verdict near the end.",
        "In this {T}-token review, how many tokens get a gradient under last-K with K = {k}?",
        ("None: truncation cuts the opening", "Only the last token, where the loss is", "All {T} of them"),
        2,
        "All of them: the whole review fits inside the window, so nothing is cut (the strip has no red cut and "
        "no hatched token). The embedding of 'brilliant' learned here is the same vector the model reads when "
        "the word opens a long review.",
        hint="Is there a red cut in the strips? Are any tokens hatched?",
    ),
    Lesson(
        "4. Where was 'love' learned, then?",
        {**WORD_LESSON, "model": "imdb-last-k30", "compare": "imdb-full", "scheme": "last-k", "k": 30},
        "Where words were trained",
        "Under last-K the opening of this review gets no gradient, yet the model knows what '{word}' means. Its "
        "embedding is one vector shared by every review: it was trained wherever '{word}' fell inside the window "
        "of some training review. The chart counts, for each word here, the training reviews that contain it and "
        "those in which the training gradient reached it, under each model's own scheme.",
        "Of the training reviews that contain '{word}', in how many did it lie inside the last-K window "
        "(K = {k})?",
        ("None: the window never reaches early words, so '{word}' was never trained",
         "A minority: the reviews where it came near the end (short reviews, verdicts repeated at the end)",
         "Nearly all of them: '{word}' is a common word",
         "Exactly half: the window covers half of a typical review"),
        1,
        "A minority, but not none. The sentences below give both counts for '{word}' from the whole IMDB "
        "training split. Those reviews are where its embedding was trained; the chart shows the same for every "
        "other word of this review, and for the compared model's scheme.",
        hint="Hover '{word}' (token {word_t}) in imdb-last-k30's curve: what share of its training reviews?",
    ),
    Lesson(
        "5. Prediction time: early words still pass through the state",
        {**WORD_LESSON, "model": "imdb-last-k30", "compare": "imdb-full", "scheme": "last-k", "k": 30},
        "Start here",
        "Truncation only cuts the training gradient. When the trained model reads a review, the opening still "
        "writes into the cell and hidden state, and it can reach the prediction through every later step. The "
        "figure shows, for both models, what each token is worth (occlusion) and P(positive) with and without "
        "the first {n} tokens.",
        "Remove the first {n} tokens of this review. What happens to imdb-last-k30's P(positive)?",
        ("Nothing: those tokens got no training gradient, so the model ignores them",
         "It changes, but less than imdb-full's does",
         "It changes more than imdb-full's does",
         "It flips from positive to negative"),
        1,
        "It changes, by less than imdb-full's: the forward pass is never truncated, so the opening still reaches "
        "the prediction; this model leans on it less. The arrows in the last panel show both changes. Over many "
        "reviews the study plants a polar phrase at the very start:",
        hint="Compare the two arrows in the last panel of the figure, and the numbers above them.",
        numbers="start_contrast",
    ),
    Lesson(
        "6. How far does the model carry a word?",
        {**WORD_LESSON, "model": "imdb-last-k30", "compare": "imdb-full", "scheme": "last-k", "k": 30},
        "How far a word reaches",
        "Truncation cuts the backward pass only. Follow the effect of '{word}' forwards instead: the curves show "
        "how strongly it still moves the hidden state (solid), and the prediction (dotted), at every later token, "
        "for both models, with the {k} tokens after the word shaded: the longest span a last-K window "
        "back-propagates through.",
        "Does the effect of '{word}' on imdb-last-k30's hidden state stop {k} tokens after the word, where a "
        "training window would end?",
        ("Yes: the model was trained through {k} tokens, so it carries a word no further",
         "No: the forward pass is never truncated; the effect fades gradually and reaches far beyond K",
         "It grows with distance: later states depend more on early words",
         "It is zero from the start: a word that got no gradient has no effect"),
        1,
        "No. The curve runs on past the shaded {k} tokens and fades gradually; the sentences below say "
        "after how many tokens it falls below 1% of its size at the word.",
        hint="Follow imdb-last-k30's solid curve past the right edge of the shaded band.",
    ),
    Lesson(
        "7. Another recipe: chunked truncation",
        {**WORD_LESSON, "model": "imdb-chunked-k30", "compare": "imdb-last-k30", "scheme": "chunked", "k": 30},
        "What training sees",
        "Chunked training puts a loss (with the review's label) at the end of every chunk of K tokens and "
        "detaches the state between chunks. TBPTT(k1, k2) of Williams & Peng generalises this: a loss every "
        "k1 steps, each back-propagated over k2 steps. Two update rules share these losses: one optimizer step "
        "per review on their mean (per-review: the app's chunked models), or a step after every chunk with the "
        "state carried on detached (per-chunk), as the IMDB TBPTT script in ksopyla/pytorch_neural_networks "
        "does (RNN/lstm_imdb_tbptt.py; the model imdb-chunked-k30-per-chunk).",
        "Under chunked truncation with K = {k}, does '{word}' (token {word_t}) get a gradient from this review?",
        ("No: it is more than {k} tokens from the end",
         "Yes: from the loss at the end of the first chunk, token {first_loss}",
         "Yes: from the loss at the end of the review, back through all {word_from_end} steps"),
        1,
        "Yes: the first chunk's loss sits at token {first_loss} and back-propagates to token 0; the state is "
        "detached between chunks, so the loss at the end reaches only its own chunk. The backprop-count timeline "
        "shows every token reached by exactly one loss. Does the update rule matter? The study's answer:",
        hint="Look at the chunked strip around '{word}', and at the ▼ marks of the timeline: where is the nearest "
             "loss after it?",
        numbers="update_rule",
    ),
)


def context(lesson: Lesson, tokens) -> dict:
    """The placeholders' values for the lesson's own review (`tokens`, as the model reads it)."""
    T = len(tokens)
    k = int(lesson.preset.get("k", 30))
    out = {"T": T, "k": k, "n": min(k, max(T - 1, 0)), "first_loss": min(k, T) - 1, "word": ""}
    word = lesson.preset.get("word")
    if word is not None and word in tokens:
        t = list(tokens).index(word)
        out.update(word=word, word_t=t, word_from_end=T - 1 - t)
    return out


def filled(lesson: Lesson, tokens) -> Lesson:
    """The lesson with its placeholders filled from its review's tokens (see `context`)."""
    values = context(lesson, tokens)
    changes = {f: getattr(lesson, f).format(**values) for f in TEXT_FIELDS}
    return replace(lesson, options=tuple(o.format(**values) for o in lesson.options), **changes)


def word_position(lesson: Lesson, tokens) -> int | None:
    """Where the lesson's word stands in its review (None for a lesson about no word)."""
    return context(lesson, tokens).get("word_t")


@dataclass(frozen=True)
class Progress:
    """Where one visitor stands on one lesson's question."""

    tries: int = 0                # answers checked so far
    revealed: bool = False        # the answer is shown
    right: bool | None = None     # whether the last checked answer was right (None: nothing checked yet)
    wrong: tuple[int, ...] = ()   # the options checked and found wrong, in order
    gave_up: bool = False         # the visitor asked for the answer

    def check(self, lesson: Lesson, choice: int, max_tries: int | None = None) -> Progress:
        """The visitor checks option `choice`: a right answer reveals; a wrong one leaves the question open
        (`max_tries`: reveal anyway after that many checks; None: as many tries as the visitor likes)."""
        if self.revealed:
            return self
        right = choice == lesson.answer
        tries = self.tries + 1
        return replace(self, tries=tries, right=right, wrong=self.wrong + (() if right else (choice,)),
                       revealed=right or (max_tries is not None and tries >= max_tries))

    def give_up(self) -> Progress:
        """The visitor asks for the answer (offered once they have tried)."""
        return self if self.revealed else replace(self, revealed=True, gave_up=True)

    @property
    def retry(self) -> bool:
        """A wrong answer was checked and the question is still open: show the hint."""
        return self.right is False and not self.revealed

    @property
    def can_give_up(self) -> bool:
        return self.tries > 0 and not self.revealed

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
