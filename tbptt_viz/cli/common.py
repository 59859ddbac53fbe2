"""What every subcommand shares: the error policy's exception, argument types and helpers."""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from tbptt_viz.core.bounds import whole_number


class CLIError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors: one line, exit 2, like ours
        raise CLIError(message)


def whole(low: int, high: int | None = None):
    """An argparse type: a whole number in [low, high], else a one-line error naming the bound."""
    def parse(value: str) -> int:
        try:
            return whole_number("the value", value, low, high)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return parse


def even(low: int, high: int):
    """An argparse type: an even whole number in [low, high]."""
    parse_whole = whole(low, high)

    def parse(value: str) -> int:
        n = parse_whole(value)
        if n % 2:
            raise argparse.ArgumentTypeError(f"must be even (antithetic pairs of permutations), got {n}")
        return n
    return parse


def real(low: float, high: float, name: str = "a number"):
    """An argparse type: a finite number in [low, high]."""
    def parse(value: str) -> float:
        try:
            x = float(value)
        except ValueError:
            x = float("nan")
        if not low <= x <= high:  # NaN fails too
            raise argparse.ArgumentTypeError(f"must be {name} from {low} to {high}, got {value!r}")
        return x
    return parse


MAX_K = 100_000          # far above the longest review (2,000 tokens); only bounds the arithmetic
positive_int = whole(1)
k_value = whole(1, MAX_K)


def add_scheme_args(p: argparse.ArgumentParser, default: str = "last-k", flag: str = "--scheme") -> None:
    p.add_argument(flag, dest="scheme", default=default, help="full | last-k | chunked | k1k2")
    p.add_argument("--k", type=k_value, default=30, help=f"K for last-k and chunked, 1..{MAX_K} (default 30)")
    p.add_argument("--k1", type=k_value, help="k1k2: a loss every k1 steps")
    p.add_argument("--k2", type=k_value, help="k1k2: each loss back-propagated over k2 steps")


def add_review_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="imdb-full", help="a shipped model name (see `models`) or a checkpoint folder")
    p.add_argument("--text", required=True, help="the review (UTF-8); '-' reads standard input")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--keep", choices=("last", "first"), default="last",
                   help="which 2,000 tokens of a longer review to use (default last: the end is what last-K trains on)")


def decode_utf8(data: bytes, where: str) -> str:
    """Strict UTF-8, refusing invalid bytes with their offset (nothing is silently replaced)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CLIError(f"{where} is not valid UTF-8 (byte {e.start}: {data[e.start:e.start + 1]!r}); "
                       "save the text as UTF-8 and try again") from None


MAX_STDIN_BYTES = 8 << 20  # the end of a longer input is kept (what the review keeps anyway), in bounded memory


def read_tail(stream, limit: int = MAX_STDIN_BYTES) -> bytes:
    """The last `limit` bytes of a stream (starting at a UTF-8 character boundary), read 1 MB at a time, so a
    huge pipe costs at most ~2 x limit of memory."""
    tail = b""
    while True:
        block = stream.read(1 << 20)
        if not block:
            break
        tail = (tail + block)[-limit:]
    if len(tail) == limit:
        start = 0
        while start < 4 and start < len(tail) and 0x80 <= tail[start] < 0xC0:  # continuation bytes of a cut character
            start += 1
        tail = tail[start:]
    return tail


def read_text(value: str) -> str:
    """The review from --text (the argument, or standard input with '-'); empty or invalid text is refused."""
    if value == "-":
        text = decode_utf8(read_tail(sys.stdin.buffer), "standard input")
    else:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:  # bytes the shell could not decode arrive as lone surrogates
            raise CLIError(f"--text is not valid UTF-8 (character {e.start}); pass UTF-8 text") from None
        text = value
    if not text.strip():
        raise CLIError("the review text is empty; pass --text \"...\" or pipe text with --text -")
    return text


def writable_path(value: str, suffix: str | None = None, folder: bool = False) -> Path:
    """Check an --out path before any work: its parent can be created and written, and it is of the right kind."""
    path = Path(value)
    if suffix and path.suffix != suffix:
        raise CLIError(f"--out must name a {suffix} file, got {value!r}")
    if folder and path.exists() and not path.is_dir():
        raise CLIError(f"--out {value!r} exists and is not a folder")
    if not folder and path.is_dir():
        raise CLIError(f"--out {value!r} is a folder; name a file")
    parent = path if folder else path.parent
    try:  # create the folder now and write a probe file: permissions, read-only mounts, /proc all show here
        parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=parent):
            pass
    except OSError as e:
        raise CLIError(f"--out {value!r} cannot be written ({e.strerror or e})") from None
    return path


def emit(obj) -> None:
    """Print one JSON object (numpy values converted)."""
    print(json.dumps(obj, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))


def progress_bar(desc: str = "", unit: str = "batch"):
    """(tqdm bar on stderr, progress(done, total, *_) callback that advances it)."""
    from tqdm import tqdm

    bar = tqdm(total=None, desc=desc, unit=unit, file=sys.stderr, mininterval=1, leave=False)

    def progress(done, total, loss=None, *_):
        bar.total = total
        if isinstance(loss, float):
            bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
        bar.update(1)

    return bar, progress
