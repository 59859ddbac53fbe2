"""What each CLI subcommand does (parsing lives in cli.py)."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

from .checkpoint import CheckpointError, load_checkpoint, load_pretrained, model_cards, save_checkpoint
from .data import DataUnavailable, load_imdb
from .model import LSTMClassifier, ModelConfig
from .schemes import SchemeError, make_scheme
from .text import MAX_TOKENS, Vocab, tokenize

USER_ERRORS = (CheckpointError, DataUnavailable, SchemeError, ValueError)


def _emit(obj) -> None:
    print(json.dumps(obj))


def load_model(name: str) -> LSTMClassifier:
    """A shipped model name, or a path to a checkpoint folder."""
    return load_checkpoint(name) if ("/" in name or Path(name).is_dir()) else load_pretrained(name)


def _subset(rows: list, limit: int | None, seed: int) -> list:
    """A seeded random subset of `limit` rows (IMDB files are sorted by label, so never the first N)."""
    if not limit or limit >= len(rows):
        return rows
    return [rows[i] for i in sorted(torch.randperm(len(rows), generator=torch.Generator().manual_seed(seed))[:limit].tolist())]


def cmd_train(args) -> int:
    from tqdm import tqdm

    from .train import TrainConfig, evaluate, train

    if args.threads:
        torch.set_num_threads(args.threads)
    scheme = make_scheme(args.scheme, args.k, args.k1, args.k2)
    limit = 256 if args.dry_run else args.limit
    train_rows = _subset(load_imdb("train", args.data_dir), limit, args.seed)
    test_rows = _subset(load_imdb("test", args.data_dir), limit, args.seed)
    vocab = Vocab.load(args.vocab) if args.vocab else Vocab.build(r.text for r in train_rows)
    encode = lambda rows: [vocab.encode(tokenize(r.text)) for r in rows]  # noqa: E731
    train_ids, test_ids = encode(train_rows), encode(test_rows)
    config = TrainConfig(scheme=scheme.name, k=scheme.k, k1=scheme.k1, k2=scheme.k2,
                         epochs=1 if args.dry_run else args.epochs, batch_size=args.batch_size, lr=args.lr,
                         clip=args.clip, embed_dropout=args.embed_dropout, seed=args.seed)
    torch.manual_seed(args.seed)
    model = LSTMClassifier(ModelConfig(len(vocab), args.embed_dim, args.hidden), vocab)
    bar = tqdm(total=None, unit="batch", file=sys.stderr, mininterval=2)

    def progress(done, total, loss):
        bar.total = total
        bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
        bar.update(1)

    stats = train(model, train_ids, [r.label for r in train_rows], scheme, config, progress=progress)
    bar.close()
    t0 = time.perf_counter()
    acc = evaluate(model, test_ids, [r.label for r in test_rows])
    card = {
        "scheme": scheme.name, "k": scheme.k, "k1": scheme.k1, "k2": scheme.k2, "label": scheme.label,
        "data": f"IMDB train split ({len(train_rows)} reviews)", "test_reviews": len(test_rows),
        "epochs": config.epochs, "seed": args.seed, **stats, "eval_time_s": round(time.perf_counter() - t0, 1),
        "test_accuracy": round(acc, 4), "train_config": config.to_dict(),
        "machine": f"{torch.get_num_threads()} CPU threads, torch {torch.__version__}",
        "trained_on": time.strftime("%Y-%m-%d"),
    }
    card = save_checkpoint(model, args.out, card)
    print(json.dumps({k: card[k] for k in ("name", "scheme", "k", "epochs", "wall_time_s", "tokens_per_s",
                                            "test_accuracy")}))
    return 0


def cmd_models(args) -> int:
    cards = model_cards()
    if args.json:
        _emit(cards)
        return 0
    for c in cards:
        print(f"{c['name']:<20} {c.get('label', c.get('scheme')):<24} test accuracy {c.get('test_accuracy')}")
    return 0


COMMANDS = {"train": cmd_train, "models": cmd_models}


def run(args, read_text) -> int:
    return COMMANDS[args.command](args) if args.command in ("train", "models") else COMMANDS[args.command](args, read_text)
