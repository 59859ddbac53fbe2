"""Attribution subcommands: attribute (per-token credit, optionally under a truncated backprop), probe.

Arguments are checked (the method, the scheme, the model's name, the text) before torch is imported."""
from __future__ import annotations

from tbptt_viz.attribution.choices import MAX_EVALUATIONS, METHODS, SHAPLEY_REPEATS, SHAPLEY_SAMPLES
from tbptt_viz.cli.common import add_review_args, add_scheme_args, emit, even, whole
from tbptt_viz.cli.engine import review_from_args
from tbptt_viz.core.schemes import make_scheme


def cmd_attribute(args) -> int:
    scheme = make_scheme(args.scheme, args.k, args.k1, args.k2)  # bad settings fail before the model loads
    model, review = review_from_args(args)
    import torch

    from tbptt_viz.attribution.methods import (MAX_EVALUATIONS_DEFAULT, attribute, convergence_message,
                                              steep_step_message)

    max_evaluations = MAX_EVALUATIONS_DEFAULT if args.max_evaluations is None else args.max_evaluations
    groups = "sentences" if args.groups == "sentences" else args.span
    a = attribute(model, torch.tensor(review.ids), args.method, scheme.name, scheme.k, scheme.k1, scheme.k2,
                  target=args.target, label=args.label, points=args.n_steps, max_evaluations=max_evaluations,
                  groups=groups, samples=args.samples, repeats=args.repeats, seed=args.seed)
    if args.json:
        emit({"tokens": review.tokens, "ids": a.ids, "scores": a.scores, "prob_positive": a.prob_positive,
              "logit": a.logit, "method": a.method, "backprop": a.backprop, "k": a.k, "k1": a.k1, "k2": a.k2,
              "windows": a.windows, "has_backward": a.has_backward, "target": a.target,
              "label_used": a.label_used, "target_value": a.target_value, "target_change": a.target_change,
              "completeness_gap": a.completeness_gap, "convergence_delta": a.convergence_delta,
              "tolerance": a.tolerance, "error_estimate": a.error_estimate, "token_error": a.token_error,
              "converged": a.converged, "evaluations": a.evaluations, "rank_one_intervals": a.rank_one_intervals,
              "note": a.note, "was_cut": review.was_cut,
              "groups": a.groups, "group_values": a.group_values, "standard_error": a.standard_error,
              "samples": a.samples, "repeats": a.repeats, "evaluator_error": a.evaluator_error})
        return 0
    target = "positive logit" if a.target == "logit" else f"training loss against label {a.label_used}"
    print(f"P(positive) = {a.prob_positive:.3f}; {a.method} of the {target}; "
          f"backprop {make_scheme(a.backprop, a.k, a.k1, a.k2).label}")
    if a.note:
        print(a.note)
    if a.method == "integrated_gradients":
        verdict = "converged" if a.converged else "NOT converged: do not trust these scores"
        print(f"integrated gradients {verdict}: estimated error {a.error_estimate:.2e} (L2 over tokens; tolerance "
              f"{a.tolerance:.2e}); scores sum to {a.scores.sum():+.4f}, F(review) - F(baseline) = "
              f"{a.target_change:+.4f}, completeness gap {a.completeness_gap:+.2e}; {a.evaluations} gradient "
              "evaluations")
        if steep_step_message(a):
            print(steep_step_message(a))
    if a.groups is not None:
        how = "exact (every coalition)" if a.repeats is None else \
            f"{a.samples * a.repeats} sampled orders in {a.repeats} repeats"
        print(f"Shapley values of {len(a.groups)} groups, {how}: they sum to {a.group_values.sum():+.4f}, "
              f"F(review) - F(all padding) = {a.target_change:+.4f}; "
              f"{'converged' if a.converged else 'NOT converged'} (tolerance {a.tolerance:.3f})")
        if convergence_message(a):
            print(convergence_message(a))
        print(f"{'tokens':>11} {'value':>9} {'+-SE':>7}  text")
        for (s, e), v, se in zip(a.groups.tolist(), a.group_values, a.standard_error):
            print(f"{s:>5}-{e - 1:<5} {v:>+9.3f} {se:>7.3f}  {' '.join(review.tokens[s:e])[:60]}")
        return 0
    top = max(abs(a.scores).max(), 1e-300)
    print(f"{'t':>5} {'token':<16} {'score':>11}")
    for t, (tok, v) in enumerate(zip(review.tokens, a.scores)):
        bar = ("+" if v > 0 else "-") * round(20 * abs(v) / top)
        print(f"{t:>5} {tok[:16]:<16} {v:>+11.3e} {bar}")
    return 0


def cmd_probe(args) -> int:
    model, review = review_from_args(args)
    import torch

    from tbptt_viz.attribution.methods import context_probe

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
    p.add_argument("--method", default="occlusion", choices=METHODS,
                   help="attribution method (default occlusion: exact, no gradient)")
    add_scheme_args(p, default="full", flag="--backprop")
    p.add_argument("--target", choices=("logit", "loss"),
                   help="what to attribute: the logit (default without truncation) or the training loss "
                        "(default, and required, under a truncated --backprop)")
    p.add_argument("--label", type=whole(0, 1), help="the loss target's label (default: the model's prediction)")
    p.add_argument("--n-steps", type=whole(1, 64), default=4,
                   help="integrated gradients: Gauss-Legendre points n per path interval (each interval evaluates "
                        "the 2n+1 Gauss-Kronrod nodes), 1..64 (default 4)")
    p.add_argument("--max-evaluations", type=whole(1, MAX_EVALUATIONS), default=None,
                   help=f"integrated gradients: cap on gradient evaluations, 1..{MAX_EVALUATIONS} "
                        "(default: the integrator's, MAX_EVALUATIONS_DEFAULT in attribution/integrated.py)")
    p.add_argument("--groups", choices=("sentences", "span"), default="sentences",
                   help="shapley: group tokens into sentences (default) or spans of --span tokens")
    p.add_argument("--span", type=whole(1, 2000), default=10, help="shapley: tokens per span with --groups span")
    p.add_argument("--samples", type=even(2, 1000), default=SHAPLEY_SAMPLES,
                   help=f"shapley: permutations per repeat, even (antithetic pairs), 2..1000 "
                        f"(default {SHAPLEY_SAMPLES})")
    p.add_argument("--repeats", type=whole(2, 1000), default=SHAPLEY_REPEATS,
                   help=f"shapley: independent repeats for the standard error, 2..1000 (default {SHAPLEY_REPEATS})")
    p.add_argument("--seed", type=whole(0, 2**31 - 1), default=0, help="shapley: seed of the first repeat (default 0)")
    p.set_defaults(func=cmd_attribute)

    p = sub.add_parser("probe", help="P(positive) from the last n tokens only, and with the first n removed")
    add_review_args(p)
    p.set_defaults(func=cmd_probe)
