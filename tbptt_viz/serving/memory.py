"""Keeping a long-running server's memory bounded: glibc's malloc arenas capped, freed memory handed back.

Both are no-ops where glibc is missing (macOS, Windows, musl): they only tune the allocator, never what is
computed.
"""
from __future__ import annotations

import ctypes
import sys

M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def limit_malloc_arenas(n: int = 2) -> None:
    """Cap glibc's malloc arenas. By default every thread that allocates may get its own arena (up to 8 per
    core), and freed memory stays in them: a server that starts a thread per page run would keep growing
    with the number of threads it has ever run, not with what it holds."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(M_ARENA_MAX, n)


def release_free_memory() -> None:
    """Hand memory that malloc holds but no longer uses back to the system (glibc's malloc_trim)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
