"""Run one long job in a child process forked from the server, so it never competes for the server's
interpreter lock.

    run_isolated(fn, *args, progress=callback) -> fn(*args, report=...)'s result

Why a fork per job and not a pool of spawned workers: a forked child shares every page the server has
already loaded (torch, the code, the weights) until it writes to it, so on a 1 GB host a live Lab run costs
only what it allocates itself; a spawned worker re-imports torch and holds 380-490 MB of its own here.
The child sends progress and then its result (or its error) through a pipe and exits with os._exit, so none
of the server's exit handlers run in it. Where fork is unavailable or unsafe (not Linux), the job runs in the
calling thread instead, with the same interface.
"""
from __future__ import annotations

import gc
import multiprocessing
import pickle
import sys
import threading
import traceback
from typing import Any, Callable

# Held from creating a pipe until the parent has closed the child's end of it: a child forked meanwhile from
# another thread would otherwise inherit that end, and the parent would see no end-of-file when its own
# child dies.
_FORKING = threading.Lock()


def can_fork() -> bool:
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def _send(conn, message) -> None:
    # plain pickle: tensors travel as bytes (torch's multiprocessing pickler would pass file descriptors that
    # vanish with the child)
    conn.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))


def _die_with_parent() -> None:
    """Ask Linux to kill this child if the server dies (killed for memory, say): no orphan keeps training."""
    import ctypes
    import signal

    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _child(conn, other_end, fn, args) -> None:
    # Every object inherited from the server out of the garbage collector's sight: a collection walks and writes
    # each tracked object's header, which copies the server's heap pages into this child (the child's own pages,
    # Private_Dirty in /proc/PID/smaps_rollup, during the soak's small Lab run on a server under the soak's
    # traffic: 233 MB without this, 193 MB with it; most of the rest was torch.optim's imports, which
    # core/train.py's own Adam avoids: 38-62 MB with both)
    gc.freeze()
    other_end.close()  # the parent's reading end: with it closed here, writing to a gone parent fails at once
    _die_with_parent()
    import torch

    torch.set_num_threads(1)  # the server's cores are shared; the child must not start a thread pool either
    try:
        result = fn(*args, report=lambda *values: _send(conn, ("progress", values)))
        _send(conn, ("result", result))
    except BaseException as e:  # noqa: BLE001 - handed to the parent, which raises it
        try:
            _send(conn, ("error", e))
        except Exception:  # noqa: BLE001 - an exception that cannot be pickled travels as its text
            _send(conn, ("error", RuntimeError(f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}")))
    finally:
        conn.close()


def run_isolated(fn: Callable[..., Any], *args, progress: Callable[..., None] | None = None,
                 isolate: bool | None = None) -> Any:
    """fn(*args, report=r) in a forked child (or in this thread where forking is not possible, or when
    `isolate` is False); each r(*values) in the child calls progress(*values) here. Raises what fn raised;
    RuntimeError if the child died without an answer (killed for memory, for instance)."""
    report = progress or (lambda *values: None)
    if not (can_fork() if isolate is None else isolate):
        return fn(*args, report=report)
    ctx = multiprocessing.get_context("fork")
    with _FORKING:
        receive, send = ctx.Pipe(duplex=False)
        child = ctx.Process(target=_child, args=(send, receive, fn, args), daemon=True, name="tbptt-viz-isolated")
        child.start()
        send.close()  # the parent keeps only its reading end: EOF when the child exits
    answered = False
    try:
        while True:
            try:
                kind, value = pickle.loads(receive.recv_bytes())
            except EOFError:
                child.join(5)
                raise RuntimeError(f"the worker process ended without a result (exit code {child.exitcode})") \
                    from None
            if kind == "progress":
                report(*value)
            elif kind == "result":
                answered = True
                return value
            else:
                answered = True
                raise value
    finally:
        receive.close()
        if not answered:  # the caller gave up (its progress callback raised, say): stop the child now
            child.kill()
        child.join(5)
        if child.is_alive():
            child.kill()
            child.join(5)
