"""Command line: `python -m tbptt_viz SUBCOMMAND ...`. Bad input: one line on stderr, exit 2."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from . import commands


class CLIError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors: one line, exit 2, like ours
        raise CLIError(message)


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {value!r}")
    return n


def _add_scheme_args(p: argparse.ArgumentParser, default="last-k") -> None:
    p.add_argument("--scheme", default=default, help="full | last-k | chunked | k1k2")
    p.add_argument("--k", type=_positive, default=30, help="K for last-k and chunked (default 30)")
    p.add_argument("--k1", type=_positive, help="k1k2: a loss every k1 steps")
    p.add_argument("--k2", type=_positive, help="k1k2: each loss back-propagated over k2 steps")


def _add_review_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="imdb-full", help="a shipped model name (see `models`) or a checkpoint folder")
    p.add_argument("--text", required=True, help="the review; '-' reads standard input")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m tbptt_viz", description="Where gradients go under truncated BPTT.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("train", help="train an LSTM classifier on IMDB under a truncation scheme")
    _add_scheme_args(p, default="full")
    p.add_argument("--data-dir", help="folder with train/test .jsonl[.gz] (else $TBPTT_VIZ_DATA_DIR, else the hub)")
    p.add_argument("--out", required=True, help="checkpoint folder to write, e.g. pretrained/imdb-full")
    p.add_argument("--vocab", help="reuse this vocab.json instead of building one from the train split")
    p.add_argument("--epochs", type=_positive, default=6, help="passes over the train split (default 6)")
    p.add_argument("--batch-size", type=_positive, default=64, help="reviews per batch (default 64)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default 2e-3)")
    p.add_argument("--clip", type=float, default=1.0, help="max gradient norm (default 1.0)")
    p.add_argument("--embed-dropout", type=float, default=0.25, help="dropout on embeddings while training")
    p.add_argument("--embed-dim", type=_positive, default=64, help="embedding size (default 64)")
    p.add_argument("--hidden", type=_positive, default=128, help="LSTM hidden size (default 128)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--limit", type=_positive, help="use only the first N train and test reviews")
    p.add_argument("--threads", type=_positive, help="torch CPU threads")
    p.add_argument("--dry-run", action="store_true", help="one epoch on 256 reviews, to check the setup")

    p = sub.add_parser("predict", help="P(positive) for a review")
    _add_review_args(p)

    p = sub.add_parser("gradients", help="per-token gradient norms under a scheme vs full, and the K sweep")
    _add_review_args(p)
    _add_scheme_args(p)
    p.add_argument("--label", type=int, choices=(0, 1), help="loss target (default: the model's own prediction)")

    p = sub.add_parser("models", help="the shipped models and their cards")
    p.add_argument("--json", action="store_true", help="print JSON")
    return parser


def read_text(value: str) -> str:
    text = sys.stdin.read() if value == "-" else value
    if not text.strip():
        raise CLIError("the review text is empty; pass --text \"...\" or pipe text with --text -")
    return text


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return commands.run(args, read_text)
    except SystemExit as e:  # --help
        return int(e.code or 0)
    except (CLIError, *commands.USER_ERRORS) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
