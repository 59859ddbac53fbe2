"""The `export` subcommand: the serverless demo as a static site (see tbptt_viz.export)."""
from __future__ import annotations

import sys

from tbptt_viz.cli.common import CLIError, writable_path


def chosen_models(value: str | None, shipped: list[str]) -> list[str]:
    """--models as a list of shipped names: absent means all; given but empty ("", " , ") is refused, never
    read as "all"."""
    if value is None:
        if not shipped:
            raise CLIError("no shipped models found under pretrained/; nothing to export")
        return shipped
    models = [m.strip() for m in value.split(",") if m.strip()]
    if not models:
        raise CLIError(f"--models is empty; give comma-separated names from: {', '.join(shipped) or 'none'}")
    unknown = [m for m in models if m not in shipped]
    if unknown:
        raise CLIError(f"unknown model(s) {', '.join(unknown)}; available: {', '.join(shipped) or 'none'}")
    return models


def cmd_export(args) -> int:
    from tbptt_viz.core.checkpoint import available_models

    models = chosen_models(args.models, available_models())  # names checked against the listing: no torch yet
    out = writable_path(args.out, folder=True)
    from tbptt_viz.export.site import export_site

    summary = export_site(out, models, log=lambda s: print(s, file=sys.stderr, flush=True))
    print(f"wrote {out}/index.html: {summary['models']} models x {summary['reviews']} reviews, {summary['files']} files, "
          f"{summary['bytes'] / 1e6:.1f} MB in {summary['seconds']:.0f} s; open {out}/index.html or serve the folder")
    return 0


def register(sub) -> None:
    p = sub.add_parser("export", help="write the static demo (every example review x every shipped model) to a folder")
    p.add_argument("--out", required=True, help="folder to write, e.g. site/")
    p.add_argument("--models", help="comma-separated shipped models (default: all)")
    p.set_defaults(func=cmd_export)
