"""Command line: `python -m tbptt_viz SUBCOMMAND ...`. Bad input: one line on stderr, exit 2.

Each feature registers its own subcommands (a `register(sub)` function in the modules named in
COMMAND_MODULES); this file holds the parser, the shared argument helpers and the error policy.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys

COMMAND_MODULES = ("commands", "commands_study", "commands_attribution", "commands_lab")


class CLIError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors: one line, exit 2, like ours
        raise CLIError(message)


def int_at_least(low: int):
    """An argparse type: a whole number >= low, else a one-line error."""
    def parse(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            n = None
        if n is None or n < low:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {low}, got {value!r}")
        return n
    return parse


positive_int = int_at_least(1)


def add_scheme_args(p: argparse.ArgumentParser, default: str = "last-k", flag: str = "--scheme") -> None:
    p.add_argument(flag, dest="scheme", default=default, help="full | last-k | chunked | k1k2")
    p.add_argument("--k", type=positive_int, default=30, help="K for last-k and chunked (default 30)")
    p.add_argument("--k1", type=positive_int, help="k1k2: a loss every k1 steps")
    p.add_argument("--k2", type=positive_int, help="k1k2: each loss back-propagated over k2 steps")


def add_review_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="imdb-full", help="a shipped model name (see `models`) or a checkpoint folder")
    p.add_argument("--text", required=True, help="the review; '-' reads standard input")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def read_text(value: str) -> str:
    text = sys.stdin.read() if value == "-" else value
    if not text.strip():
        raise CLIError("the review text is empty; pass --text \"...\" or pipe text with --text -")
    return text


def emit(obj) -> None:
    """Print one JSON object (numpy values converted)."""
    print(json.dumps(obj, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m tbptt_viz", description="Where gradients go under truncated BPTT.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__package__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .checkpoint import CheckpointError
    from .data import DataUnavailable

    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except SystemExit as e:  # --help
        return int(e.code or 0)
    except BrokenPipeError:  # e.g. `... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (CLIError, CheckpointError, DataUnavailable, ValueError, KeyError, OSError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
