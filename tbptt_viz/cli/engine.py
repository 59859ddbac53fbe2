"""Engine subcommands: train, predict, gradients, models.

Every argument is checked before torch is imported or a model is loaded (names against the folder listing,
files, folders, the scheme): a refusal costs no more than starting Python.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from tbptt_viz.cli.common import (CLIError, add_review_args, add_scheme_args, emit, positive_int, progress_bar, read_text,
                                  real, whole, writable_path)
from tbptt_viz.core.checkpoint import (check_model_name, load_checkpoint, load_pretrained, model_cards, model_status,
                                       save_checkpoint)
from tbptt_viz.core.data import check_data_dir, load_imdb, seeded_subset
from tbptt_viz.core.schemes import UPDATES, make_scheme
from tbptt_viz.core.text import PAD, UNK, EmptyReview, Vocab, prepare_review, tokenize


def load_model(name: str):
    """A shipped model name, or a path to a checkpoint folder (an LSTMClassifier)."""
    return load_checkpoint(name) if ("/" in name or Path(name).is_dir()) else load_pretrained(name)


def review_from_args(args, check=None):
    """(model, prepared review) from --model and --text; prints the cut notice on stderr. The name and the
    text are checked before the model is loaded, and so is `check(T)` (T: the tokens the review will have,
    after any cut), a command's own bound on them."""
    check_model_name(args.model)
    text = read_text(args.text)
    if not tokenize(text):
        raise EmptyReview("the review is empty: type or paste some text")
    if check is not None:  # the tokens do not depend on the vocabulary: count them without loading it
        check(len(prepare_review(text, Vocab((PAD, UNK)), keep=args.keep).tokens))
    model = load_model(args.model)
    review = prepare_review(text, model.vocab, keep=args.keep)
    if review.was_cut:
        print(f"notice: {review.notice}", file=sys.stderr)
    return model, review


def cmd_train(args) -> int:
    writable_path(args.out, folder=True)  # before any work
    scheme = make_scheme(args.scheme, args.k, args.k1, args.k2)
    vocab = Vocab.load(args.vocab) if args.vocab else None  # a missing file fails before any data is read
    check_data_dir(args.data_dir)
    import torch

    from tbptt_viz.core.model import LSTMClassifier, ModelConfig
    from tbptt_viz.core.train import TrainConfig, evaluate, train

    if args.threads:
        torch.set_num_threads(args.threads)
    limit = 256 if args.dry_run else args.limit
    train_rows = seeded_subset(load_imdb("train", args.data_dir), limit, args.seed)
    test_rows = seeded_subset(load_imdb("test", args.data_dir), limit, args.seed)
    for split, rows in (("train", train_rows), ("test", test_rows)):
        if not rows:
            raise CLIError(f"the {split} split has no reviews; check --data-dir")
    vocab = vocab or Vocab.build(r.text for r in train_rows)
    encode = lambda rows: [vocab.encode(tokenize(r.text)) for r in rows]  # noqa: E731
    train_ids, test_ids = encode(train_rows), encode(test_rows)
    config = TrainConfig(scheme=scheme.name, k=scheme.k, k1=scheme.k1, k2=scheme.k2,
                         epochs=1 if args.dry_run else args.epochs, batch_size=args.batch_size, lr=args.lr,
                         clip=args.clip, embed_dropout=args.embed_dropout, seed=args.seed, update=args.update)
    torch.manual_seed(args.seed)
    model = LSTMClassifier(ModelConfig(len(vocab), args.embed_dim, args.hidden), vocab)
    bar, progress = progress_bar()
    stats = train(model, train_ids, [r.label for r in train_rows], scheme, config, progress=progress)
    bar.close()
    t0 = time.perf_counter()
    acc = evaluate(model, test_ids, [r.label for r in test_rows])
    card = {
        "scheme": scheme.name, "k": scheme.k, "k1": scheme.k1, "k2": scheme.k2, "update": config.update,
        "label": scheme.label + (", a step per chunk" if config.update == "per-chunk" else ""),
        "data": f"IMDB train split ({len(train_rows)} reviews)", "test_reviews": len(test_rows),
        "epochs": config.epochs, "seed": args.seed, **stats, "eval_time_s": round(time.perf_counter() - t0, 1),
        "test_accuracy": round(acc, 4), "train_config": config.to_dict(),
        "machine": f"{torch.get_num_threads()} CPU threads, torch {torch.__version__}",
        "trained_on": time.strftime("%Y-%m-%d"),
    }
    card = save_checkpoint(model, args.out, card)
    emit({k: card[k] for k in ("name", "scheme", "k", "epochs", "wall_time_s", "tokens_per_s", "test_accuracy")})
    return 0


def cmd_predict(args) -> int:
    model, review = review_from_args(args)
    import torch

    prob = model.prob_positive(torch.tensor(review.ids))
    if args.json:
        emit({"model": args.model, "tokens": review.tokens, "prob_positive": prob, "label": int(prob > 0.5),
              "was_cut": review.was_cut})
    else:
        print(f"P(positive) = {prob:.3f}  ({'positive' if prob > 0.5 else 'negative'}, {len(review.ids)} tokens)")
    return 0


def cmd_gradients(args) -> int:
    make_scheme(args.scheme, args.k, args.k1, args.k2)  # bad settings fail before the model loads
    model, review = review_from_args(args)
    import numpy as np
    import torch

    from tbptt_viz.gradients.flow import gradient_flow

    gf = gradient_flow(model, torch.tensor(review.ids), args.scheme, args.k, args.k1, args.k2, label=args.label)
    note = None if gf.truncated else f"no truncation: the scheme covers all {gf.T} tokens, so it equals full BPTT"
    if args.json:
        emit({"tokens": review.tokens, "ids": gf.ids, "prob_positive": gf.prob_positive, "label_used": gf.label_used,
              "label_source": gf.label_source, "scheme": gf.scheme, "k": gf.k, "k1": gf.k1, "k2": gf.k2,
              "truncated": gf.truncated, "note": note, "was_cut": review.was_cut,
              "input_grad_norm": gf.input_grad_norm, "full_input_grad_norm": gf.full_input_grad_norm,
              "hidden_grad_norm": gf.hidden_grad_norm, "cell_grad_norm": gf.cell_grad_norm,
              "full_hidden_grad_norm": gf.full_hidden_grad_norm, "full_cell_grad_norm": gf.full_cell_grad_norm,
              "weight_ih_contrib": gf.weight_ih_contrib, "weight_hh_contrib": gf.weight_hh_contrib,
              "backprop_count": gf.backprop_count, "backprop_reach": gf.backprop_reach,
              "sweep": {"k": gf.sweep_k, "cosine": gf.sweep_cosine, "relative_error": gf.sweep_relative_error}})
        return 0
    print(f"P(positive) = {gf.prob_positive:.3f}; loss against label {gf.label_used} ({gf.label_source}); "
          f"scheme {make_scheme(gf.scheme, gf.k, gf.k1, gf.k2).label}")
    if note:
        print(note)
    print(f"{'t':>5} {'token':<16} {'|dL/dx| scheme':>15} {'|dL/dx| full':>13} {'count':>6} {'reach':>6}")
    for t, tok in enumerate(review.tokens):
        print(f"{t:>5} {tok[:16]:<16} {gf.input_grad_norm[t]:>15.3e} {gf.full_input_grad_norm[t]:>13.3e} "
              f"{gf.backprop_count[t]:>6} {gf.backprop_reach[t]:>6}")
    T = gf.T
    for k in sorted({1, 10, 30, 100, T} & set(range(1, T + 1))):
        print(f"last-K sweep K={k:<5} cosine {gf.sweep_cosine[k - 1]:+.4f}  relative error "
              f"{gf.sweep_relative_error[k - 1]:.4f}")
    zero = int(np.sum(gf.input_grad_norm == 0))
    print(f"{zero} of {T} tokens get exactly zero gradient under this scheme")
    return 0


def cmd_models(args) -> int:
    """The shipped models (see `pretrained_dir` for where they are looked up), every model folder once.

    JSON: a list of model cards, each with `name`, `scheme`, `k`, `k1`, `k2`, `label`, `epochs`, `seed`,
    `test_accuracy`, `train_config`, `sha256`, `config_sha256` and `vocab_sha256` (and how it was trained), and
    `broken` (None, or why the model cannot be loaded; a broken model's card may hold only its `name`).
    """
    cards = {c["name"]: c for c in model_cards()}
    status = model_status()
    listing = [{**cards.get(name, {"name": name}), "broken": reason} for name, reason in status.items()]
    if args.json:
        emit(listing)
        return 0
    for c in listing:
        if c["broken"]:
            print(f"{c['name']:<22} BROKEN: {c['broken']}")
        else:
            print(f"{c['name']:<22} {str(c.get('label', c.get('scheme'))):<24} test accuracy {c.get('test_accuracy')}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("train", help="train an LSTM classifier on IMDB under a truncation scheme")
    add_scheme_args(p, default="full")
    p.add_argument("--data-dir", help="folder with train/test .jsonl[.gz] (else $TBPTT_VIZ_DATA_DIR, else the hub)")
    p.add_argument("--out", required=True, help="checkpoint folder to write, e.g. pretrained/imdb-full")
    p.add_argument("--vocab", help="reuse this vocab.json instead of building one from the train split")
    p.add_argument("--epochs", type=whole(1, 1000), default=6, help="passes over the train split, 1..1000 (default 6)")
    p.add_argument("--batch-size", type=whole(1, 4096), default=64, help="reviews per batch, 1..4096 (default 64)")
    p.add_argument("--lr", type=real(1e-8, 10.0), default=2e-3, help="Adam learning rate (default 2e-3)")
    p.add_argument("--clip", type=real(1e-8, 1e6), default=1.0, help="max gradient norm (default 1.0)")
    p.add_argument("--embed-dropout", type=real(0.0, 0.99), default=0.25,
                   help="dropout on embeddings while training (default 0.25)")
    p.add_argument("--embed-dim", type=whole(1, 1024), default=64, help="embedding size, 1..1024 (default 64)")
    p.add_argument("--hidden", type=whole(1, 2048), default=128, help="LSTM hidden size, 1..2048 (default 128)")
    p.add_argument("--seed", type=whole(0, 2**31 - 1), default=0, help="random seed (default 0)")
    p.add_argument("--update", choices=UPDATES, default="per-review",
                   help="when the weights move: per-review (one optimizer step per batch, on the mean of every "
                        "window's loss; default) or per-chunk (a step after every chunk's loss, the state carried "
                        "detached, as in ksopyla/pytorch_neural_networks RNN/lstm_imdb_tbptt.py)")
    p.add_argument("--limit", type=positive_int, help="use a seeded random N train and N test reviews")
    p.add_argument("--threads", type=whole(1, 256), help="torch CPU threads")
    p.add_argument("--dry-run", action="store_true", help="one epoch on 256 reviews, to check the setup")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("predict", help="P(positive) for a review")
    add_review_args(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("gradients", help="per-token gradient norms under a scheme vs full, and the K sweep")
    add_review_args(p)
    add_scheme_args(p)
    p.add_argument("--label", type=int, choices=(0, 1), help="loss target (default: the model's own prediction)")
    p.set_defaults(func=cmd_gradients)

    p = sub.add_parser("models", help="the shipped models and their cards")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_models)
