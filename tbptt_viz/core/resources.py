"""Where the shipped files are: the models (`pretrained/`) and the results the app reads (`results/*.json`).

One folder name is looked up in this order, the first that exists winning:

    1. an environment variable, when the caller names one (TBPTT_VIZ_PRETRAINED for the models);
    2. the copy installed with the package: tbptt_viz/shipped/<name>/ (a wheel maps the repository's
       pretrained/ and results/*.json there; see pyproject.toml);
    3. the clone: <repository>/<name>/, beside the tbptt_viz folder (running from a checkout, or `pip install -e`).

The variable wins even when its folder does not exist: a wrong path then shows no models rather than
silently falling back to others.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[1]   # .../tbptt_viz
INSTALLED = PACKAGE_ROOT / "shipped"                 # only in an installed wheel
CLONE = PACKAGE_ROOT.parent                          # the repository, when running from a checkout


@lru_cache(maxsize=None)
def bundled_dir(name: str) -> Path:
    """The installed copy of folder `name` if there is one, else the clone's (which may not exist either).

    Cached: the page asks for the folder many times a run, and each lookup costs a few lstat calls.
    """
    installed = INSTALLED / name
    return installed if installed.is_dir() else CLONE / name


def shipped_dir(name: str, env: str | None = None) -> Path:
    """Folder `name` ("pretrained", "results") resolved as the module docstring says; `env` is read per call,
    so a process (or a test) may point it elsewhere at any time."""
    chosen = os.environ.get(env) if env else None
    return Path(chosen).expanduser() if chosen else bundled_dir(name)
