"""The `export` subcommand: the serverless demo as a static site (see tbptt_viz.export)."""
from __future__ import annotations

import sys

from tbptt_viz.cli.common import CLIError, writable_path


def cmd_export(args) -> int:
    from tbptt_viz.core.checkpoint import available_models
    from tbptt_viz.export.site import export_site

    out = writable_path(args.out, folder=True)  # before any work
    shipped = available_models()
    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else shipped
    unknown = [m for m in models if m not in shipped]
    if unknown or not models:
        raise CLIError(f"unknown model(s) {', '.join(unknown) or '(none given)'}; available: {', '.join(shipped)}")
    summary = export_site(out, models, log=lambda s: print(s, file=sys.stderr, flush=True))
    print(f"wrote {out}/index.html: {summary['models']} models x {summary['reviews']} reviews, {summary['files']} files, "
          f"{summary['bytes'] / 1e6:.1f} MB in {summary['seconds']:.0f} s; open {out}/index.html or serve the folder")
    return 0


def register(sub) -> None:
    p = sub.add_parser("export", help="write the static demo (every example review x every shipped model) to a folder")
    p.add_argument("--out", required=True, help="folder to write, e.g. site/")
    p.add_argument("--models", help="comma-separated shipped models (default: all)")
    p.set_defaults(func=cmd_export)
