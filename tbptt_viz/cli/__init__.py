"""Command line: `python -m tbptt_viz SUBCOMMAND ...`. Bad input: one line on stderr, exit 2, before any work.

Subcommands live in modules named for what they serve: engine (train, predict, gradients, models),
attribution (attribute, probe), evidence (exposure-stats, exposure, connectivity), study, lab and export;
each has a `register(sub)`.
"""
from __future__ import annotations

import os
import sys

from tbptt_viz.cli import attribution, engine, evidence, export, lab, study
from tbptt_viz.cli.common import CLIError, Parser, emit, positive_int, whole  # noqa: F401 - the package's public helpers

SUBCOMMANDS = (engine, attribution, evidence, study, lab, export)


def build_parser() -> Parser:
    from tbptt_viz import __version__

    parser = Parser(prog="python -m tbptt_viz", description="Where gradients go under truncated BPTT.")
    parser.add_argument("--version", action="version", version=f"tbptt-viz {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in SUBCOMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from tbptt_viz.core.checkpoint import CheckpointError
    from tbptt_viz.core.data import DataUnavailable
    from tbptt_viz.experiments.exposure_store import ExposureFileError

    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except SystemExit as e:  # --help
        return int(e.code or 0)
    except BrokenPipeError:  # e.g. `... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except MemoryError:
        print("error: not enough memory for these settings; choose smaller values", file=sys.stderr)
        return 2
    except (CLIError, CheckpointError, DataUnavailable, ExposureFileError, ValueError, KeyError, OSError,
            OverflowError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print("error: " + " ".join(str(msg).split()), file=sys.stderr)  # always one line
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
