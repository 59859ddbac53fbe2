"""Keeping a long-running server's memory bounded: glibc's malloc arenas capped, freed memory handed back.

Both are no-ops where glibc is missing (macOS, Windows, musl): they only tune the allocator, never what is
computed.
"""
from __future__ import annotations

import ctypes
import sys

M_ARENA_MAX = -8  # mallopt's parameter numbers, from glibc's malloc.h
M_MMAP_THRESHOLD = -3


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


# Blocks from this size up are mapped on their own and returned to the system when freed. glibc's default
# starts at 128 KB but rises to the size of every mapped block freed (up to 32 MB), after which a long review's
# arrays come from the heap, where freed pages stay until the next trim: five minutes of scripts/soak.py's
# traffic, the server's total PSS (the Lab child included) sampled every second, a 96 MB result cache in both
# runs, peaked at 903 MB with that and 787 MB with this. The price, in time: a 2,000-token review's whole page,
# alone on the server (scripts/bench_long_review.py, one run each, same machine), 10.4 s against 8.5 s
# without it; a 4 MB threshold kept the time (7.6 s) but peaked at 908 MB in the same 5-minute traffic.
MMAP_THRESHOLD = 256 << 10


def limit_malloc_arenas(n: int = 2) -> None:
    """Cap glibc's malloc arenas, and fix its mmap threshold (MMAP_THRESHOLD). By default every thread that
    allocates may get its own arena (up to 8 per core), and freed memory stays in them: a server that starts
    a thread per page run would keep growing with the number of threads it has ever run, not with what it
    holds."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(M_ARENA_MAX, n)
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def release_free_memory() -> None:
    """Hand memory that malloc holds but no longer uses back to the system (glibc's malloc_trim)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
