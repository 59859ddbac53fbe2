"""The page's words, defined once: the glossary one click away from every view (and a test checks that every
technical term the pages use has its entry here).

Each entry: the term as the page writes it, the other spellings the page uses for it, and a definition in
plain words (no number that is not a definition).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    term: str
    aliases: tuple[str, ...]      # other spellings the pages use (matched case-insensitively)
    definition: str


GLOSSARY = (
    Term("BPTT", ("backpropagation through time", "full BPTT"),
         "Backpropagation through time: the gradient of a loss is carried backwards through every step of the "
         "recurrent network, from the loss to the first token. Full BPTT cuts nothing."),
    Term("truncation", ("truncated", "truncated BPTT", "detach", "detached"),
         "Cutting the backward pass: the state entering a window is detached, so no gradient flows to the steps "
         "before it. The forward pass (what the model reads) is never cut."),
    Term("last-K", ("last-K truncation",),
         "One loss at the end of the review, back-propagated through its last K tokens only: every earlier "
         "token gets a gradient of exactly zero from that review."),
    Term("K", ("truncation length",),
         "How many steps a truncated backward pass runs: the window's length under last-K, the chunk length "
         "under chunked training."),
    Term("window", ("training window",),
         "The run of tokens a loss back-propagates through: from the loss back to the cut. Under last-K, the "
         "last K tokens of the review."),
    Term("chunked", ("chunked truncation", "chunk"),
         "A loss (with the review's label) at the end of every chunk of K tokens, each back-propagated through "
         "its own chunk, the state detached between chunks: every token gets a gradient from its chunk's loss."),
    Term("TBPTT(k1, k2)", ("k1", "k2"),
         "Williams & Peng's truncated BPTT: a loss every k1 steps, each back-propagated over k2 steps. Chunked "
         "training is k1 = k2 = K."),
    Term("update rule", ("per-review", "per-chunk"),
         "When the optimizer steps: once per review on the mean of its chunk losses (per-review, the app's "
         "chunked models), or after every chunk's loss with the state carried on detached (per-chunk)."),
    Term("loss", ("training loss",),
         "What training makes small: binary cross-entropy between the prediction and the review's label. Its "
         "gradient with respect to each token's embedding, ||dL/dx_t||, is what the training views colour."),
    Term("gradient", ("||dL/dx_t||",),
         "How much, and in which direction, the loss changes when an input or weight moves a little. Zero "
         "means this review teaches that token nothing."),
    Term("embedding", ("x_t",),
         "The vector the model reads for a word: one per word, shared by every review, trained wherever the word "
         "gets a gradient."),
    Term("hidden state", ("cell state", "state"),
         "What the LSTM carries from one token to the next (h_t and c_t): everything it keeps of the words read "
         "so far."),
    Term("forget gate", ("forget gates",),
         "The LSTM's gate that decides how much of the cell state is kept from one token to the next; a product "
         "of forget gates near 1 keeps what was written long ago."),
    Term("Jacobian", (),
         "The matrix of how each number of one state changes with each number of another; the backward pass "
         "multiplies one per step, which can shrink (vanish) or keep the gradient."),
    Term("logit", ("logit drop",),
         "The model's score before the sigmoid: P(positive) = 1 / (1 + exp(-logit)). Positive means a positive "
         "prediction."),
    Term("P(positive)", ("prediction",),
         "The model's probability that the review is positive, read at its last token."),
    Term("occlusion", (),
         "Replace one token by padding, re-run the model and measure how much the logit drops: what the trained "
         "model uses, with no gradient at all."),
    Term("attribution", ("attributions",),
         "A score per token for how much it contributed to the prediction: occlusion, saliency, input x gradient "
         "or integrated gradients."),
    Term("integrated gradients", ("saliency", "input x gradient"),
         "Gradient-based attribution methods: saliency is the gradient's size; input x gradient multiplies it by "
         "the input; integrated gradients add it up along a path from padding to the review and check that the "
         "scores sum to the logit's change."),
    Term("context probe", ("probe",),
         "P(positive) when the model reads only the last n tokens, or the review without its first n tokens: "
         "how much of the review the prediction needs."),
    Term("opening", ("first n", "first 30"),
         "The first tokens of the review (30 by default; the Start page's control sets it)."),
    Term("exposure", ("training exposure", "in reach"),
         "For a word: in how many training reviews it occurs, and in how many of them some training loss's "
         "gradient reached it under a scheme. That is where its embedding was trained."),
    Term("connectivity", (),
         "How strongly one word moves every later hidden state (||dh_t/dx_S||) and prediction: the forward "
         "view of memory, the opposite direction to the gradient views."),
    Term("Shapley value", ("Shapley",),
         "Credit for a group of words acting together: the average change in the prediction when the group joins "
         "the others, over many random orders."),
    Term("McNemar's p", ("McNemar",),
         "A test of whether two models trained from the same seed err on different test reviews more often than "
         "chance would give: a small p says the pair differs on these reviews (not that the regimes differ)."),
    Term("interval over seeds", ("95% interval", "seed", "seeds"),
         "Each training regime was trained from several random starts (seeds); a 95% interval over seeds says "
         "where the regime's mean lies, given how much the seeds differ."),
)


def glossary_markdown() -> str:
    """The glossary as the page shows it (our own text: Markdown is safe here)."""
    return "\n".join(f"- **{t.term}**: {t.definition}" for t in GLOSSARY)


def covers(word: str) -> bool:
    """Whether the glossary defines `word` (as a term or an alias, case-insensitively)."""
    w = word.lower()
    return any(w == t.term.lower() or w in (a.lower() for a in t.aliases) for t in GLOSSARY)
