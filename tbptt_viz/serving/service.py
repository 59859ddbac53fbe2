"""Serving many visitors from one process: a bounded pool of workers with coalescing and a result cache.

Every heavy computation of the app (a review's gradient flow, an attribution, the probe, a Lab run)
goes through one `ComputeService`:

    request(key, fn) -> Ticket        identical keys share one computation (in flight or cached)
    ticket.result()                   waits; ticket.position() says how many jobs are ahead

- Workers are threads. The computations are reentrant (they never change a shared model), torch releases
  the GIL inside its kernels, and threads share the loaded weights, so two workers use both cores of this
  machine at a fraction of the memory of worker processes (each would hold its own copy of torch).
- Jobs run by priority: a visitor's request (USER, 0) before start-up warm-up work (WARMUP, 10). Within one
  priority, visitors take turns: each request names its `owner` (a session), and the owner served least
  recently goes next (round-robin), FIFO within an owner. One session's eight jobs never make another's one
  wait behind them, and a long review's many pieces (serving.jobs) neither wait for a quiet moment nor hold
  up anyone: they take their turn like every other session's jobs, on at most their share of the workers.
- The visitors' queue is bounded (`max_queued` jobs, `max_owner` per owner): past it a request fails at once
  with ServiceBusy, which the page turns into "busy, try again", instead of a wait that grows without bound.
  Warm-up work (WARMUP) is the server's own, finite, and never counted against visitors nor refused.
- A cached value is the sequential computation's value: keys name everything a result depends on, and a
  failed computation is not cached (the next request tries again). "The same value" means equal within
  float32 rounding (`same_as_sequential`): torch may pick other kernels for other batch sizes or thread
  counts, which moves a float32 logit by a few units in its last place. The cache is bounded by entries and by
  the bytes its arrays hold (least recently used first out), so memory stays bounded however many reviews
  a class opens.
- `limits` caps how many jobs of one kind run at once (the Lab's live training: 1), so one visitor's Lab
  run never holds both workers. `shares` is a softer cap (long reviews: 1): while jobs of another kind wait,
  a shared kind runs at most its share; when nothing else waits it may use every worker but one, so a long
  review alone on the server uses both cores, and a newcomer waits at most for one bounded piece of it.

      a worker is picked for   priority  >  owner least recently served  >  first come
      a job of kind k starts   if running[k] < limits[k] and (running[k] < shares[k] or (nothing of
                               another kind waits and the busy workers stay below workers - 1))
"""
from __future__ import annotations

import atexit
import itertools
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from typing import Any, Callable, Hashable

from tbptt_viz.serving.memory import limit_malloc_arenas, release_free_memory

USER, WARMUP = 0, 10


class ServiceBusy(RuntimeError):
    """The queue is full: the request was not queued (the page says to try again in a moment)."""


# |shown - sequential| <= FLOAT32_ATOL + FLOAT32_RTOL |sequential|. A float32 number carries 24 bits (relative
# spacing 1.2e-7); a logit read after 2,000 LSTM steps differs between kernels by a few such units of its own
# size (measured: at most 2.0e-6 on logits up to ~10, scripts/bench_load.py), and an occlusion score, a
# difference of two logits, inherits that absolute error. 1e-5 absolute plus 1e-5 relative leaves a factor of
# five above what was seen and stays far below the two or three digits the page shows.
FLOAT32_ATOL = 1e-5
FLOAT32_RTOL = 1e-5


def same_as_sequential(shown, sequential) -> bool:
    """Whether values computed by the server equal the sequential computation within float32 rounding
    (same length, every |a - b| <= FLOAT32_ATOL + FLOAT32_RTOL |b|)."""
    import numpy as np

    a, b = np.asarray(shown, dtype=float), np.asarray(sequential, dtype=float)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= FLOAT32_ATOL + FLOAT32_RTOL * np.abs(b)))


def nbytes(obj, _depth: int = 0) -> int:
    """Approximate memory held by a cached result: its numpy arrays and tensors, through dataclasses,
    tuples, lists and dicts (a few levels deep); 256 bytes for anything else."""
    import dataclasses

    import numpy as np
    import torch

    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if _depth > 4:
        return 256
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return sum(nbytes(getattr(obj, f.name), _depth + 1) for f in dataclasses.fields(obj))
    if isinstance(obj, (list, tuple)):
        return sum(nbytes(v, _depth + 1) for v in obj) + 64
    if isinstance(obj, dict):
        return sum(nbytes(v, _depth + 1) for v in obj.values()) + 64
    return 256


class Ticket:
    """A handle on one requested computation."""

    def __init__(self, service: ComputeService, key: Hashable, future: Future):
        self._service, self.key, self.future = service, key, future

    def done(self) -> bool:
        return self.future.done()

    def result(self, timeout: float | None = None) -> Any:
        return self.future.result(timeout)

    def position(self) -> int:
        """Jobs that will run before this one (0: it is running or next)."""
        return self._service.position(self.key)


class _Job:
    __slots__ = ("key", "fn", "kind", "future", "priority", "owner", "order")

    def __init__(self, key, fn, kind, future, priority, owner, order):
        self.key, self.fn, self.kind, self.future = key, fn, kind, future
        self.priority, self.owner, self.order = priority, owner, order


class ComputeService:
    def __init__(self, workers: int = 2, cache_entries: int = 256, limits: dict[str, int] | None = None,
                 cache_bytes: int = 200 << 20, shares: dict[str, int] | None = None, max_queued: int = 512,
                 max_owner: int = 64):
        self._lock = threading.Condition()
        self._queued: list[_Job] = []                    # waiting for a worker, in no particular order
        self._order = itertools.count()
        self._pending: dict[Hashable, _Job] = {}         # queued or running, by key
        self._cache: OrderedDict[Hashable, Any] = OrderedDict()
        self._cache_entries = cache_entries
        self._cache_bytes, self._sizes, self.cached_bytes = cache_bytes, {}, 0
        self._limits, self._shares = dict(limits or {}), dict(shares or {})
        self._max_queued, self._max_owner = max_queued, max_owner
        self._running: dict[str, int] = {}
        self._served: dict[Hashable, int] = {}           # owner -> stamp of its latest job started
        self._stamp = itertools.count()
        self.workers = workers
        self.trim_after = ("long", "lab")  # kinds after which freed memory is handed back at once
        self.stats = {"computed": 0, "coalesced": 0, "cache_hits": 0, "failed": 0, "refused": 0}
        self._stopping = False
        self._trimmed = float("-inf")
        limit_malloc_arenas()
        atexit.register(self.stop)  # a worker inside a torch kernel at interpreter exit would abort the process
        self._threads = [threading.Thread(target=self._work, name=f"tbptt-viz-worker-{i}", daemon=True)
                         for i in range(workers)]
        for t in self._threads:
            t.start()

    # -- requests
    def request(self, key: Hashable, fn: Callable[[], Any], kind: str = "analysis", priority: int = USER,
                owner: Hashable = None) -> Ticket:
        """A ticket for `key`: cached, joined to the identical job queued or running, or a new job of `kind`
        for `owner` (a session id; None for the server's own work). Raises ServiceBusy when the queue, or
        this owner's part of it, is full."""
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                self.stats["cache_hits"] += 1
                future: Future = Future()
                future.set_result(self._cache[key])
                return Ticket(self, key, future)
            job = self._pending.get(key)
            if job is not None:
                self.stats["coalesced"] += 1
                if priority < job.priority and not job.future.running():  # a visitor now waits on warm-up work
                    job.priority, job.owner, job.order = priority, owner, next(self._order)  # queued as of now
                return Ticket(self, key, job.future)
            visitors = [j for j in self._queued if j.priority < WARMUP]  # the server's own work never crowds them out
            mine = sum(1 for j in visitors if j.owner == owner) if owner is not None else 0
            if priority < WARMUP and (len(visitors) >= self._max_queued or mine >= self._max_owner):
                self.stats["refused"] += 1
                raise ServiceBusy(f"the server is busy ({len(visitors)} requests waiting); try again in a minute")
            job = _Job(key, fn, kind, Future(), priority, owner, next(self._order))
            self._pending[key] = job
            self._queued.append(job)
            self._lock.notify()
            return Ticket(self, key, job.future)

    def get(self, key: Hashable, fn: Callable[[], Any], kind: str = "analysis") -> Any:
        return self.request(key, fn, kind).result()

    def cached(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._cache

    def _rank(self, job: _Job) -> tuple:
        """Smaller goes first: priority, then the owner served least recently, then first come."""
        return job.priority, self._served.get(job.owner, -1), job.order

    def position(self, key: Hashable) -> int:
        """Jobs that will run before this one if nothing else arrives (0: it is running or next)."""
        with self._lock:
            job = self._pending.get(key)
            if job is None or job.future.running():
                return 0
            mine = self._rank(job)
            return sum(1 for j in self._queued if j is not job and self._rank(j) < mine)

    def queued(self, priority: int | None = None) -> int:
        """Jobs waiting for a worker (of one priority, if given)."""
        with self._lock:
            return sum(1 for j in self._queued if priority is None or j.priority == priority)

    def busy(self) -> int:
        """Jobs queued or running."""
        with self._lock:
            return len(self._pending)

    def stop(self, timeout: float = 30.0) -> None:
        """Drop queued jobs (their waiters get CancelledError) and wait for running ones to finish."""
        with self._lock:
            self._stopping = True
            for job in self._queued:
                job.future.cancel()
            self._queued.clear()
            self._lock.notify_all()
        for t in self._threads:
            t.join(timeout)

    # -- workers
    def _may_start(self, job: _Job) -> bool:
        """The kind's hard limit, then its share (see the module docstring). Called with the lock held."""
        running = self._running.get(job.kind, 0)
        limit = self._limits.get(job.kind)
        if limit is not None and running >= limit:
            return False
        share = self._shares.get(job.kind)
        if share is None or running < share:
            return True
        others_wait = any(j.kind != job.kind and self._limits.get(j.kind, 1) > self._running.get(j.kind, 0)
                          for j in self._queued)
        busy = sum(self._running.values())
        return not others_wait and busy + 1 <= self.workers - 1

    def _next_job(self) -> _Job | None:
        with self._lock:
            while True:
                if self._stopping:
                    return None
                self._queued = [j for j in self._queued if not j.future.done()]  # cancelled by their waiters
                ready = [j for j in self._queued if self._may_start(j)]
                if ready:
                    job = min(ready, key=self._rank)
                    self._queued.remove(job)
                    if job.future.set_running_or_notify_cancel():
                        self._running[job.kind] = self._running.get(job.kind, 0) + 1
                        self._served[job.owner] = next(self._stamp)
                        return job
                    self._pending.pop(job.key, None)
                    continue
                self._lock.wait()

    def _work(self) -> None:
        while True:
            job = self._next_job()
            if job is None:
                return
            try:
                value = job.fn()
            except BaseException as e:  # noqa: BLE001 - handed to whoever waits; never cached
                with self._lock:
                    self.stats["failed"] += 1
                    self._finish(job)
                job.future.set_exception(e)
                self._trim_if_drained(job)
                continue
            with self._lock:
                self.stats["computed"] += 1
                size = nbytes(value)
                if size <= self._cache_bytes // 4:  # a result too big to keep is handed over, not cached
                    self._cache[job.key], self._sizes[job.key] = value, size
                    self.cached_bytes += size
                while self._cache and (len(self._cache) > self._cache_entries or
                                       self.cached_bytes > self._cache_bytes):
                    old, _ = self._cache.popitem(last=False)
                    self.cached_bytes -= self._sizes.pop(old)
                self._finish(job)
            job.future.set_result(value)
            self._trim_if_drained(job)

    def _finish(self, job: _Job) -> None:
        self._pending.pop(job.key, None)
        self._running[job.kind] -= 1
        self._lock.notify_all()

    def _trim_if_drained(self, job: _Job) -> None:
        """Hand freed memory back to the system once the queue has drained (after the warm-up, after a burst of
        visitors; at most every 10 s), and after every job of a kind in `trim_after` (a long review's piece, a
        Lab run: the big temporaries are gone, and malloc would otherwise keep their pages). Called with no
        lock held, after the job's waiters are answered."""
        with self._lock:
            now = time.monotonic()
            after_big = job.kind in self.trim_after
            if not after_big and (self._pending or now - self._trimmed < 10.0):
                return
            self._trimmed = now
        release_free_memory()


class ModelStore:
    """Loaded models by name, each loaded once and then only read (shared by every visitor and worker).

    A model that fails to load is remembered as broken (with its message) so the page can pick another
    compare model and say so once; a later request tries to load it again.
    """

    def __init__(self, loader: Callable[[str], Any]):
        self._loader = loader
        self._models: dict[str, Any] = {}
        self.broken: dict[str, str] = {}
        self._failed_at: dict[str, float] = {}  # name -> when it last failed to load (time.monotonic)
        self._lock = threading.Lock()

    def get(self, name: str) -> Any:
        with self._lock:
            if name in self._models:
                return self._models[name]
            try:
                model = self._loader(name)
            except Exception as e:
                self.broken[name] = str(e)
                self._failed_at[name] = time.monotonic()
                raise
            self.broken.pop(name, None)
            self._models[name] = model
            return model

    def status(self, names, retry_after: float = 60.0) -> dict[str, str | None]:
        """{name: None when it loads, else why not} for `names`: what the page lists and picks a model from.
        Each is loaded once; a broken one is tried again at most every `retry_after` seconds (an operator
        who restores its files sees it back within a minute, and a page run never waits on a re-check)."""
        out: dict[str, str | None] = {}
        for name in names:
            with self._lock:
                known = self.broken.get(name)
                fresh = time.monotonic() - self._failed_at.get(name, float("-inf")) < retry_after
            if known is not None and fresh:
                out[name] = known
                continue
            try:
                self.get(name)
                out[name] = None
            except Exception as e:  # noqa: BLE001 - a model that cannot load is reported, never raised here
                out[name] = str(e)
        return out
