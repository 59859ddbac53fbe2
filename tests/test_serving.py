"""The compute service: identical requests share one computation, visitors go before warm-up work,
failures are not cached, and a capped kind never runs more jobs at once than its cap."""
import threading
import time

import pytest

from tbptt_viz.serving.service import WARMUP, ComputeService


def test_identical_requests_share_one_computation_and_the_cache():
    service = ComputeService(workers=2)
    calls, gate = [], threading.Event()

    def slow():
        calls.append(1)
        gate.wait(5)
        return 42

    tickets = [service.request(("review", 1), slow) for _ in range(5)]
    gate.set()
    assert [t.result(5) for t in tickets] == [42] * 5 and len(calls) == 1
    assert service.get(("review", 1), slow) == 42 and len(calls) == 1  # cached
    assert service.stats["coalesced"] == 4 and service.stats["cache_hits"] == 1 and service.cached(("review", 1))


def test_visitors_go_before_warm_up_and_queue_positions_count_down():
    service = ComputeService(workers=1)
    gate, order = threading.Event(), []
    service.request("blocker", lambda: gate.wait(5))
    time.sleep(0.05)  # the blocker is running
    warm = [service.request(("warm", i), lambda i=i: order.append(("warm", i)), priority=WARMUP) for i in range(3)]
    visitor = service.request("visitor", lambda: order.append("visitor"))
    assert visitor.position() == 0 and warm[2].position() == 3
    promoted = service.request(("warm", 2), lambda: order.append("dup"))  # a visitor asks for warm-up work
    assert promoted.future is warm[2].future and promoted.position() == 1
    gate.set()
    for t in (*warm, visitor):
        t.result(5)
    assert order == ["visitor", ("warm", 2), ("warm", 0), ("warm", 1)]


def test_a_failure_reaches_every_waiter_and_is_not_cached():
    service = ComputeService(workers=2)
    attempts = []

    def flaky():
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("broken once")
        return "ok"

    with pytest.raises(ValueError, match="broken once"):
        service.get("k", flaky)
    assert service.get("k", flaky) == "ok" and len(attempts) == 2 and service.stats["failed"] == 1


def test_a_capped_kind_runs_one_at_a_time_while_other_work_proceeds():
    service = ComputeService(workers=2, limits={"lab": 1})
    running, peak, lock = [0], [0], threading.Lock()

    def lab_run():
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.1)
        with lock:
            running[0] -= 1
        return "trained"

    labs = [service.request(("lab", i), lab_run, kind="lab") for i in range(3)]
    time.sleep(0.02)
    quick = service.request("analysis", lambda: "fast")
    assert quick.result(2) == "fast" and not labs[2].done()  # the second worker was free for it
    assert [t.result(5) for t in labs] == ["trained"] * 3 and peak[0] == 1


def test_the_cache_is_bounded_by_bytes_least_recently_used_first():
    import numpy as np

    from tbptt_viz.serving.service import nbytes

    service = ComputeService(workers=1, cache_bytes=5000)
    for i in range(5):
        service.get(("a", i), lambda: np.zeros(100))  # 800 bytes each
    service.get(("a", 0), lambda: np.zeros(100))    # touch the oldest
    service.get(("b", 0), lambda: np.zeros(150))    # 1200 bytes: the least recently used goes first
    assert service.cached_bytes == 4400 and service.cached(("a", 0)) and service.cached(("b", 0))
    assert not service.cached(("a", 1)) and service.cached(("a", 2))
    service.get(("huge", 0), lambda: np.zeros(10_000))  # more than a quarter of the budget: not kept
    assert not service.cached(("huge", 0))
    assert nbytes({"x": np.zeros(10), "y": (np.zeros(5, dtype=np.float32),)}) == 80 + 20 + 64 + 64


def test_one_worker_stays_free_beside_a_lab_run_and_long_reviews():
    """The app's settings: three workers, at most one on the Lab and one on long reviews. With a Lab run and
    two long jobs holding what they may, a short job still runs at once."""
    release = threading.Event()
    svc = ComputeService(workers=3, limits={"lab": 1, "long": 1})
    try:
        held = [svc.request("lab", release.wait, kind="lab"),
                svc.request("long-1", release.wait, kind="long"), svc.request("long-2", release.wait, kind="long")]
        short = svc.request("short", lambda: 42)
        assert short.result(timeout=10) == 42
        assert not any(t.done() for t in held) and held[2].position() >= 0
    finally:
        release.set()
        svc.stop()
