"""Attribution subcommands: attribute (per-token credit, optionally under a truncated backprop), probe."""
from __future__ import annotations

import torch

from .attribution import METHODS, attribute, context_probe
from .cli import add_review_args, add_scheme_args, emit, positive_int
from .commands import review_from_args
from .schemes import make_scheme


def cmd_attribute(args) -> int:
    scheme = make_scheme(args.scheme, args.k, args.k1, args.k2)  # bad settings fail before the model loads
    model, review = review_from_args(args)
    a = attribute(model, torch.tensor(review.ids), args.method, scheme.name, scheme.k, scheme.k1, scheme.k2,
                  n_steps=args.n_steps)
    if args.json:
        emit({"tokens": review.tokens, "ids": a.ids, "scores": a.scores, "prob_positive": a.prob_positive,
              "logit": a.logit, "method": a.method, "backprop": a.backprop, "k": a.k, "k1": a.k1, "k2": a.k2,
              "windows": a.windows, "has_backward": a.has_backward, "convergence_delta": a.convergence_delta,
              "completeness_gap": a.completeness_gap, "note": a.note, "was_cut": review.was_cut})
        return 0
    print(f"P(positive) = {a.prob_positive:.3f}; {a.method} of the positive logit ({a.logit:+.3f}); "
          f"backprop {make_scheme(a.backprop, a.k, a.k1, a.k2).label}")
    if a.note:
        print(a.note)
    if a.convergence_delta is not None:
        print(f"convergence delta {a.convergence_delta:+.2e}; completeness gap (untruncated logit) "
              f"{a.completeness_gap:+.2e}")
    top = max(abs(a.scores).max(), 1e-300)
    print(f"{'t':>5} {'token':<16} {'score':>11}")
    for t, (tok, v) in enumerate(zip(review.tokens, a.scores)):
        bar = ("+" if v > 0 else "-") * round(20 * abs(v) / top)
        print(f"{t:>5} {tok[:16]:<16} {v:>+11.3e} {bar}")
    return 0


def cmd_probe(args) -> int:
    model, review = review_from_args(args)
    p = context_probe(model, torch.tensor(review.ids))
    if args.json:
        emit({"tokens": review.tokens, "ids": p.ids, "prob_positive": p.prob_positive, "last_n": p.last_n,
              "prob_last_n": p.prob_last_n, "removed_n": p.removed_n,
              "prob_without_first_n": p.prob_without_first_n, "was_cut": review.was_cut})
        return 0
    T = len(p.ids)
    print(f"P(positive) = {p.prob_positive:.3f} on all {T} tokens")
    print(f"{'n':>6} {'last n only':>12} {'first n removed':>16}")
    for n in sorted({1, 5, 10, 30, 100, 300, 1000, T - 1, T} & set(range(1, T + 1))):
        removed = f"{p.prob_without_first_n[n]:>16.3f}" if n < T else f"{'(nothing left)':>16}"
        print(f"{n:>6} {p.prob_last_n[n - 1]:>12.3f} {removed}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("attribute", help="per-token credit for the positive logit, optionally under truncation")
    add_review_args(p)
    p.add_argument("--method", default="integrated_gradients", choices=tuple(METHODS),
                   help="attribution method (default integrated_gradients)")
    add_scheme_args(p, default="full", flag="--backprop")
    p.add_argument("--n-steps", type=positive_int, default=50, help="integrated gradients steps (default 50)")
    p.set_defaults(func=cmd_attribute)

    p = sub.add_parser("probe", help="P(positive) from the last n tokens only, and with the first n removed")
    add_review_args(p)
    p.set_defaults(func=cmd_probe)
