"""The compute service: identical requests share one computation, visitors go before warm-up work,
failures are not cached, and a capped kind never runs more jobs at once than its cap."""
import os
import sys
import threading
import time
from pathlib import Path

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
    """The app's settings: three workers, at most one on the Lab, long reviews one while others wait and
    every worker but one when nothing else does. With a Lab run and two long jobs holding what they may, a
    short job still runs at once."""
    release = threading.Event()
    svc = ComputeService(workers=3, limits={"lab": 1}, shares={"long": 1})
    try:
        held = [svc.request("lab", release.wait, kind="lab"),
                svc.request("long-1", release.wait, kind="long"), svc.request("long-2", release.wait, kind="long")]
        short = svc.request("short", lambda: 42)
        assert short.result(timeout=10) == 42
        assert not any(t.done() for t in held) and held[2].position() >= 0
    finally:
        release.set()
        svc.stop()


# ---- fair scheduling: sessions take turns, long jobs get their share, the queue is bounded -----------------

def started_order(service, jobs, gate, check=lambda tickets: None):
    """Queue `jobs` [(key, owner, kind, priority)] behind a running gate job on a one-worker service, call
    check(tickets), release the gate, and return the keys in the order they started."""
    order = []
    tickets = {key: service.request(key, lambda key=key: order.append(key), kind=kind, priority=priority,
                                    owner=owner) for key, owner, kind, priority in jobs}
    check(tickets)
    gate.set()
    deadline = time.monotonic() + 10
    while len(order) < len(jobs) and time.monotonic() < deadline:
        time.sleep(0.01)
    return order


def test_sessions_take_turns_instead_of_first_come_first_served():
    later = 5  # a priority between a visitor's (USER) and the warm-up's
    service = ComputeService(workers=1)
    gate = threading.Event()
    service.request("gate", lambda: gate.wait(5), owner="a")
    time.sleep(0.05)
    jobs = [(f"a{i}", "a", "analysis", 0) for i in range(1, 5)] + [("b1", "b", "analysis", 0),
                                                                     ("c1", "c", "analysis", 0),
                                                                     ("b-rest", "b", "analysis", later),
                                                                     ("warm", None, "analysis", WARMUP)]

    def check(tickets):  # "a" was served last (the gate): b and c go first
        assert [tickets[k].position() for k in ("b1", "c1", "a1", "a4", "warm")] == [0, 1, 2, 5, 7]

    order = started_order(service, jobs, gate, check)
    assert order == ["b1", "c1", "a1", "a2", "a3", "a4", "b-rest", "warm"]


def test_round_robin_interleaves_two_sessions_long_reviews_piece_by_piece():
    service = ComputeService(workers=1, shares={"long": 1})
    gate = threading.Event()
    service.request("gate", lambda: gate.wait(5), owner="x")
    time.sleep(0.05)
    jobs = [(f"A{i}", "A", "long", 0) for i in range(3)] + [(f"B{i}", "B", "long", 0) for i in range(3)]
    assert started_order(service, jobs, gate) == ["A0", "B0", "A1", "B1", "A2", "B2"]


def test_a_long_job_uses_idle_workers_but_only_its_share_when_others_wait():
    release = threading.Event()
    svc = ComputeService(workers=3, limits={"lab": 1}, shares={"long": 1})
    started, lock = [], threading.Lock()

    def hold(name):
        def run():
            with lock:
                started.append(name)
            release.wait(10)
        return run

    try:
        svc.request("long-1", hold("long-1"), kind="long", owner="a")
        svc.request("long-2", hold("long-2"), kind="long", owner="a")
        svc.request("long-3", hold("long-3"), kind="long", owner="a")
        time.sleep(0.3)
        assert sorted(started) == ["long-1", "long-2"]  # alone: every worker but one
        short = svc.request("short", lambda: 42, owner="b")
        assert short.result(timeout=10) == 42  # the free worker serves a newcomer at once
        svc.request("lab", hold("lab"), kind="lab", owner="c")
        time.sleep(0.3)
        assert "lab" in started and "long-3" not in started  # others waited: long stays at its share
    finally:
        release.set()
        svc.stop()


def test_the_queue_is_bounded_and_refuses_at_once():
    from tbptt_viz.serving.service import ServiceBusy

    gate = threading.Event()
    svc = ComputeService(workers=1, max_queued=4, max_owner=2)
    try:
        svc.request("gate", lambda: gate.wait(5))
        time.sleep(0.05)
        svc.request("a1", lambda: 1, owner="a")
        svc.request("a2", lambda: 2, owner="a")
        with pytest.raises(ServiceBusy, match="busy"):
            svc.request("a3", lambda: 3, owner="a")  # this session's part of the queue is full
        assert svc.request("a1", lambda: 1, owner="a").position() == 0  # joining a queued job is always fine
        svc.request("b1", lambda: 1, owner="b")
        svc.request("c1", lambda: 1, owner="c")
        with pytest.raises(ServiceBusy):
            svc.request("d1", lambda: 1, owner="d")  # the whole queue is full
        assert svc.stats["refused"] == 2 and svc.queued() == 4
        warm = [svc.request(("warm", i), lambda: 0, priority=WARMUP) for i in range(10)]  # never refused
        assert svc.queued(WARMUP) == 10 and svc.queued() == 14
        gate.set()
        assert all(w.result(5) == 0 for w in warm)
        assert svc.request("a2", lambda: 2).result(5) == 2
    finally:
        gate.set()
        svc.stop()


def test_equal_to_the_sequential_computation_within_float32_rounding(model):
    """The tolerance of "equal to the sequential computation": float32 rounding passes (the same occlusion
    run whole and in pieces, as separate jobs run it), a real difference does not."""
    import copy

    import torch

    from tbptt_viz.attribution.probe import growing_runs, occlusion_scores
    from tbptt_viz.serving.service import FLOAT32_ATOL, FLOAT32_RTOL, same_as_sequential

    m = copy.deepcopy(model).float()
    ids = torch.randint(2, 50, (1300,), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        occluded, clean = growing_runs(m, m.embedding(ids), occlude=True)  # one batch, no pieces
    one_batch = (clean - occluded).double().numpy()
    pieces = occlusion_scores(m, ids)
    assert same_as_sequential(pieces, one_batch)
    assert same_as_sequential([1.0, -3.0], [1.0 + 2e-6, -3.0 - 2e-6])  # the largest difference bench_load saw
    worst = FLOAT32_ATOL + FLOAT32_RTOL * 3.0
    assert not same_as_sequential([1.0, -3.0 - 1.01 * worst], [1.0, -3.0])
    assert not same_as_sequential([1.0, 2.0], [1.0, 2.001]) and not same_as_sequential([1.0], [1.0, 2.0])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_soak_counts_a_child_started_by_a_worker_thread():
    """scripts/soak.py sums the server's PSS over its process tree. A live Lab run forks from a worker thread, and
    /proc/PID/task/PID/children lists only the main thread's children: read that way the soak missed the Lab
    child (up to 520 MB of PSS in five minutes of the soak's traffic)."""
    import subprocess

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import bench_load

    started, done, box = threading.Event(), threading.Event(), {}

    def worker():  # starts the child and stays alive: a child whose thread has exited is re-parented
        box["child"] = subprocess.Popen(["sleep", "60"])
        started.set()
        done.wait(30)

    thread = threading.Thread(target=worker)
    thread.start()
    started.wait(30)
    try:
        main_only = open(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read().split()
        assert str(box["child"].pid) not in main_only                   # what the soak used to read
        assert box["child"].pid in bench_load.children(os.getpid())    # what pss_tree walks now
    finally:
        done.set()
        thread.join()
        box["child"].kill()
        box["child"].wait()
