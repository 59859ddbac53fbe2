"""A live Lab run in a forked child: the same result as in this thread, its errors and its death reported."""
import os

import pytest
import torch

from tbptt_viz.serving.isolate import can_fork, run_isolated
from tbptt_viz.experiments.lab.runs import LabConfig, LabConfigError, live_run

pytestmark = pytest.mark.skipif(not can_fork(), reason="forking a child is Linux-only here")

TINY = LabConfig(task="prefix", scheme="last-k", k=10, epochs=2, n_train=200, seq_len=40, hidden=8, seed=3)


def where(report):
    report(1, 2, 0.5)
    return os.getpid()


def test_runs_in_another_process_and_reports_progress():
    seen = []
    pid = run_isolated(where, progress=lambda *v: seen.append(v))
    assert pid != os.getpid() and seen == [(1, 2, 0.5)]
    assert run_isolated(where, isolate=False) == os.getpid()


@pytest.mark.slow
def test_a_live_run_equals_the_same_run_in_this_thread():
    seen = []
    child = run_isolated(live_run, TINY, progress=lambda *v: seen.append(v))
    here = run_isolated(live_run, TINY, isolate=False)
    assert child.test_accuracy == here.test_accuracy
    for a, b in zip(child.model.state_dict().values(), here.model.state_dict().values()):
        assert torch.equal(a, b)
    assert seen and seen[-1][0] == seen[-1][1]  # the last batch is always reported


def test_errors_come_back_with_their_type():
    with pytest.raises(LabConfigError, match="unknown task"):
        run_isolated(live_run, LabConfig(task="nope"))


def dies(report):
    os._exit(9)


def test_a_child_that_dies_is_an_error_not_a_hang():
    with pytest.raises(RuntimeError, match="exit code 9"):
        run_isolated(dies)


def reports_then_waits(report):
    import time

    report(os.getpid())
    time.sleep(60)


def test_a_caller_that_gives_up_stops_its_child():
    pids = []

    def progress(pid):
        pids.append(pid)
        raise KeyboardInterrupt  # the visitor's page went away, say

    with pytest.raises(KeyboardInterrupt):
        run_isolated(reports_then_waits, progress=progress)
    with pytest.raises(ProcessLookupError):  # killed and reaped, not left training for a minute
        os.kill(pids[0], 0)
