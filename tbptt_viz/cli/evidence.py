"""Evidence subcommands: exposure-stats (build the training-exposure file), exposure, connectivity.

Arguments are checked (the output path, the vocabulary, the data folder, the statistics file, the model's
name, the text, the source position) before torch is imported or a model is loaded."""
from __future__ import annotations

import time

from tbptt_viz.attribution.choices import MAX_MAP_TOKENS
from tbptt_viz.cli.common import CLIError, add_review_args, add_scheme_args, emit, whole, writable_path
from tbptt_viz.cli.engine import review_from_args
from tbptt_viz.core.schemes import make_scheme


def cmd_exposure_stats(args) -> int:
    from tbptt_viz.core.data import check_data_dir, load_imdb
    from tbptt_viz.core.text import Vocab, tokenize
    from tbptt_viz.experiments.exposure import build_exposure, vocab_sha256
    from tbptt_viz.experiments.exposure_store import save_exposure

    out = writable_path(args.out, suffix=".safetensors")  # before any work
    vocab = Vocab.load(args.vocab)
    check_data_dir(args.data_dir, ("train",))
    started = time.perf_counter()
    rows = load_imdb("train", args.data_dir)
    if not rows:
        raise CLIError("the train split has no reviews; check --data-dir")
    stats = build_exposure((vocab.encode(tokenize(r.text)) for r in rows), len(vocab), vocab_sha256(vocab))
    command = "python -m tbptt_viz exposure-stats --data-dir DIR --vocab " + args.vocab + " --out " + args.out
    card = save_exposure(stats, out, {"data": f"IMDB train split ({stats.reviews} reviews, every token: max_len None)",
                                      "command": command,
                                      "build_seconds": round(time.perf_counter() - started, 1)})
    emit({k: card[k] for k in ("file", "reviews", "tokens", "rows", "bytes", "sha256")})
    return 0


def cmd_exposure(args) -> int:
    from tbptt_viz.experiments.exposure import word_exposure
    from tbptt_viz.experiments.exposure_store import load_exposure

    scheme = make_scheme(args.scheme, args.k, args.k1, args.k2)  # bad settings fail before the model loads
    stats = load_exposure(args.stats) if args.stats else None  # numpy only: a bad file fails before torch
    model, review = review_from_args(args)
    e = word_exposure(model, review.ids, scheme.name, scheme.k, scheme.k1, scheme.k2, stats=stats)
    none = lambda a: [int(v) if v >= 0 else None for v in a]  # noqa: E731 - unknown words report none
    if args.json:
        emit({"tokens": review.tokens, "ids": e.ids, "occurrences": none(e.occurrences),
              "in_reach": none(e.in_reach), "in_reach_high": none(e.in_reach_high), "exact": e.exact,
              "reviews": e.reviews, "scheme": e.scheme, "k": e.k, "k1": e.k1, "k2": e.k2, "label": e.label,
              "was_cut": review.was_cut})
        return 0
    print(f"training exposure under {e.label}: of {e.reviews:,} training reviews, how many contain the word, and "
          f"in how many an occurrence lies where the training gradient reaches")
    if not e.exact:
        print("k2 < k1: the statistics give exact bounds, not exact counts (see `in_reach` .. `in_reach_high`)")
    print(f"{'t':>5} {'token':<16} {'occurrences':>12} {'in reach':>15}")
    for t, tok in enumerate(review.tokens):
        if not e.known[t]:
            print(f"{t:>5} {tok[:16]:<16} {'(unknown word)':>12}")
            continue
        reach = f"{e.in_reach[t]:,}" if e.exact else f"{e.in_reach[t]:,}..{e.in_reach_high[t]:,}"
        print(f"{t:>5} {tok[:16]:<16} {e.occurrences[t]:>12,} {reach:>15}")
    return 0


def cmd_connectivity(args) -> int:
    """How strongly one token moves every later state and the prediction if the review ended there.

    JSON: `tokens`, `ids`, `source`, `source_token`, `positions` (t = S..T-1), `state_norm`, `cell_norm`,
    `logit_grad`, `logit`, `was_cut`; with `--map`, `logit_grad_map` (rows: source S, columns: t; null where t < S).
    """
    def check(T: int) -> None:
        if args.source >= T:
            raise CLIError(f"--source must be a token position from 0 to {T - 1} (the review has {T} tokens)")
        if args.map and T > MAX_MAP_TOKENS:
            raise CLIError(f"--map is drawn for reviews up to {MAX_MAP_TOKENS} tokens; this one has {T}")

    model, review = review_from_args(args, check)
    import numpy as np
    import torch

    from tbptt_viz.attribution.connectivity import connectivity, logit_grad_map

    c = connectivity(model, torch.tensor(review.ids), args.source)
    if args.json:
        out = {"tokens": review.tokens, "ids": c.ids, "source": c.source, "source_token": review.tokens[c.source],
               "positions": c.positions, "state_norm": c.state_norm, "cell_norm": c.cell_norm,
               "logit_grad": c.logit_grad, "logit": c.logit, "was_cut": review.was_cut}
        if args.map:  # rows: source S, columns: t; null where t < S
            m = logit_grad_map(model, torch.tensor(review.ids)).logit_grad
            out["logit_grad_map"] = [[None if np.isnan(v) else float(v) for v in row] for row in m]
        emit(out)
        return 0
    print(f"how strongly token {c.source} ({review.tokens[c.source]!r}) moves every later state")
    print(f"{'t':>5} {'token':<16} {'||dh_t/dx_S||':>14} {'||dc_t/dx_S||':>14} {'||dz_t/dx_S||':>14}")
    for j, t in enumerate(c.positions):
        print(f"{t:>5} {review.tokens[t][:16]:<16} {c.state_norm[j]:>14.3e} {c.cell_norm[j]:>14.3e} "
              f"{c.logit_grad[j]:>14.3e}")
    below = np.flatnonzero(c.state_norm < 0.01 * c.state_norm[0])
    print(f"||dh_t/dx_S|| first falls below 1% of its value at the source {below[0]} tokens later" if below.size
          else "||dh_t/dx_S|| stays above 1% of its value at the source to the end of the review")
    return 0


def register(sub) -> None:
    p = sub.add_parser("exposure-stats", help="build the training-exposure statistics from the IMDB train split")
    p.add_argument("--data-dir", help="folder with train.jsonl[.gz] (else $TBPTT_VIZ_DATA_DIR, else the hub)")
    p.add_argument("--vocab", default="pretrained/vocab.json",
                   help="the shipped models' vocabulary (default pretrained/vocab.json)")
    p.add_argument("--out", required=True, help="file to write, e.g. pretrained/exposure.safetensors "
                                                "(its card goes next to it as .json)")
    p.set_defaults(func=cmd_exposure_stats)

    p = sub.add_parser("exposure", help="for each word of a review: training reviews that contain it, and in how "
                                        "many of them the scheme's training gradient reaches it")
    add_review_args(p)
    add_scheme_args(p)
    p.add_argument("--stats", help="an exposure statistics file (default: the shipped pretrained/exposure.safetensors)")
    p.set_defaults(func=cmd_exposure)

    p = sub.add_parser("connectivity", help="how strongly one token moves every later hidden and cell state")
    add_review_args(p)
    p.add_argument("--source", type=whole(0, 100_000), required=True, help="position S of the source token (from 0)")
    p.add_argument("--map", action="store_true",
                   help="with --json: also the whole logit_grad map over (source, t), reviews up to 300 tokens")
    p.set_defaults(func=cmd_connectivity)
