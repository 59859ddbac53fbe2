"""IMDB from a local JSONL folder or the Hugging Face hub, and the embedded example reviews."""
from __future__ import annotations

import gzip
import json
import os
import socket
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from tbptt_viz.core.resources import bundled_dir

DATA_DIR_ENV = "TBPTT_VIZ_DATA_DIR"
HUB_DATASET = "stanfordnlp/imdb"
SPLITS = ("train", "test")


class DataUnavailable(RuntimeError):
    """Neither a local data folder nor the Hugging Face hub could provide IMDB."""


@dataclass(frozen=True)
class Review:
    text: str
    label: int            # 0 = negative, 1 = positive
    id: str = ""
    title: str = ""


def _read_jsonl(path: Path, split: str) -> list[Review]:
    opener = gzip.open if path.suffix == ".gz" else open
    out = []
    with opener(path, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise DataUnavailable(f"{path}: line {n + 1} is not JSON") from None
            if not isinstance(row, dict) or not isinstance(row.get("text"), str) or row.get("label") not in (0, 1):
                raise DataUnavailable(f"{path}: line {n + 1} lacks a text string and a 0/1 label")
            # ids are "<split>/<row>", as for the hub, so links to a review carry between installs
            out.append(Review(row["text"], int(row["label"]), f"{split}/{len(out)}"))
    return out


def _local_file(data_dir: Path, split: str) -> Path | None:
    for name in (f"{split}.jsonl.gz", f"{split}.jsonl"):
        if (data_dir / name).is_file():
            return data_dir / name
    return None


def hub_reachable(timeout: float = 2.0) -> bool:
    """A quick TCP check, so an offline machine fails at once instead of waiting on retries."""
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    chosen = data_dir or os.environ.get(DATA_DIR_ENV)
    return Path(chosen).expanduser() if chosen else None


def check_data_dir(data_dir: str | os.PathLike | None, splits=SPLITS) -> Path | None:
    """The data folder that --data-dir (else $TBPTT_VIZ_DATA_DIR) names, checked without reading a review: it
    exists and holds a file for every split in `splits`. None when no folder is given (the hub is used)."""
    folder = resolve_data_dir(data_dir)
    if folder is None:
        return None
    if not folder.is_dir():
        raise DataUnavailable(f"the data folder {str(folder)!r} does not exist (or is not a folder); pass "
                              f"--data-dir DIR with {' and '.join(f'{s}.jsonl[.gz]' for s in splits)}")
    missing = [s for s in splits if _local_file(folder, s) is None]
    if missing:
        raise DataUnavailable(f"no {' or '.join(f'{s}.jsonl[.gz]' for s in missing)} in {folder}")
    return folder


def load_imdb(split: str, data_dir: str | os.PathLike | None = None) -> list[Review]:
    """IMDB `split` ("train"/"test") from `data_dir` (or $TBPTT_VIZ_DATA_DIR), else from the hub.

    A data folder holds `train.jsonl[.gz]` and `test.jsonl[.gz]`, one {"text", "label"} object a line.
    """
    if split not in SPLITS:
        raise DataUnavailable(f"unknown split {split!r}; choose train or test")
    folder = resolve_data_dir(data_dir)
    if folder is not None:
        path = _local_file(folder, split)
        if path is None:
            raise DataUnavailable(f"no {split}.jsonl or {split}.jsonl.gz in {folder}")
        return _read_jsonl(path, split)
    if os.environ.get("HF_HUB_OFFLINE") != "1" and not hub_reachable():
        raise DataUnavailable(
            f"IMDB is not available: pass --data-dir DIR (or set {DATA_DIR_ENV}) to a folder with "
            f"{split}.jsonl[.gz], or connect to the Hugging Face hub for {HUB_DATASET}")
    try:
        from datasets import load_dataset

        rows = load_dataset(HUB_DATASET, split=split)
    except Exception as e:  # any hub/cache failure becomes the same one-line message
        raise DataUnavailable(f"could not load {HUB_DATASET} from the hub ({type(e).__name__}); "
                              f"pass --data-dir DIR or set {DATA_DIR_ENV}") from e
    return [Review(r["text"], int(r["label"]), f"{split}/{i}") for i, r in enumerate(rows)]


RESULTS_DIR = bundled_dir("results")  # the installed copy of results/*.json, else the clone's (see `resources`)


def load_results(name: str | Path) -> dict | None:
    """A committed results file (RESULTS_DIR/NAME, the installed copy of results/ or the clone's; or a path), or
    None when this installation does not have it or it is unreadable. The one loader of the study's and the Lab's
    JSON."""
    path = Path(name) if Path(name).is_absolute() or Path(name).parent != Path(".") else RESULTS_DIR / name
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def seeded_subset(rows: list, limit: int | None, seed: int) -> list:
    """A seeded random subset of `limit` rows in their original order (IMDB files are sorted by label, so
    never the first N); all rows when limit is None or not smaller. The one sampler of train, study and tests."""
    if not limit or limit >= len(rows):
        return rows
    import numpy as np

    pick = np.sort(np.random.default_rng(seed).choice(len(rows), limit, replace=False))
    return [rows[i] for i in pick]


@lru_cache(maxsize=1)
def examples() -> tuple[Review, ...]:
    """The embedded example reviews (written for this project), in display order (read once: package data)."""
    raw = json.loads(resources.files(__package__).joinpath("examples.json").read_text(encoding="utf-8"))
    return tuple(Review(e["text"], int(e["label"]), e["id"], e["title"]) for e in raw)
