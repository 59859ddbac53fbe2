"""The Lab's settings without torch: their bounds, their checks, and what a run will cost, known before anything
is allocated.

One home for every bound. The command line's flags use LIMITS, the app's form widgets and its `lab_*` URL
values use FORM_BOUNDS, and both price a run with `lab_budget` and refuse it with `over_budget` (the command
line against CLI_BUDGET, the app's live runs against LIVE_BUDGET). Nothing here imports torch, so a refusal
costs a fraction of a second.

The budget of one run (T = seq_len, H = hidden, E = embed, B = batch size, W windows of at most S steps per
training sequence, P = the latest window start, MAC = 4H(E + H) multiply-adds of one LSTM row-step):

    memory  = FIXED_BYTES                                                  torch's first training step (pools)
            + DATA_BYTES x (n_train + n_test) x T                          the sequences (Python tuples, lists)
            + max(TRAIN_BYTES x B x (W x S x (E + 6H) + T x (E + H)),       one training batch and its graph
                  EVAL_BYTES x min(EVAL_BATCH, n) x T x (E + 2H))          one evaluation batch
            + 16 x parameters                                              weights, gradients, Adam's moments
    seconds = (n_train x epochs x steps(config)) x MAC x SEC_TRAIN_MAC     training row-steps, backward included
            + ((epochs + 1) x n_test + n_train) x T x MAC x SEC_EVAL_MAC   evaluation after each epoch, and the end
            + batches x (P + S + starts) x SEC_STEP                        sequential steps (kernel calls)
            + (n_train + n_test) x T x SEC_TOKEN                           building the data in Python

and under the per-chunk update rule (core/per_chunk.py: a step after every window, the windows run one after
another) the sequential steps are batches x (sum of the windows' lengths + P) x SEC_STEP instead, plus
batches x W x SEC_UPDATE for a backward pass, a clip and an optimizer step per window; its memory is at most
the per-review rule's (one window's graph at a time), so the same memory bound serves both.

where steps(config) = `sequence_steps`. The constants were fitted by scripts/bench_lab_budget.py on this
project's 2-core x86_64 machine (its JSON holds each run's estimate against what it measured); a faster
machine only makes the time bound conservative.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from tbptt_viz.core.bounds import whole_number
from tbptt_viz.core.schemes import SCHEMES, UPDATES, make_scheme

TASKS = ("prefix", "any-one", "planted")
DEFAULT_SEQ_LEN = {"prefix": 100, "any-one": 20, "planted": 100}
SHORT_LENGTHS = (5, 30)  # prefix: a short training example has 5..30 tokens (inclusive)

# LabConfig's defaults (tests/test_lab.py checks they are LabConfig()'s own), for pricing a run from a
# command line or a link without building one.
DEFAULTS = {"task": "prefix", "scheme": "last-k", "k": 30, "k1": None, "k2": None, "seq_len": None,
            "short_frac": 0.0, "clean_last": 10, "ones_in_window_frac": 0.0, "distance": 20, "n_train": 1000,
            "n_test": 400, "epochs": 20, "hidden": 32, "embed": 16, "lr": 0.003, "forget_bias": 1.0,
            "batch_size": 32, "seed": 0, "update": "per-review"}

# The largest value of each whole-number setting anyone may ask for, whatever the budget (the command line's
# flags). The budget below decides what a run may combine.
LIMITS = {"seq_len": 10_000, "n_train": 1_000_000, "n_test": 1_000_000, "epochs": 10_000, "hidden": 1024,
          "embed": 1024, "batch_size": 100_000, "clean_last": 10_000, "distance": 10_000, "k": 100_000,
          "seed": 2**31 - 1}

# The app's live form: (low, high) of each widget, also the range a `lab_*` URL value must lie in. seq_len 0
# means the task's default. Together they can still ask for more than LIVE_BUDGET: the form says so on
# "Train live" and trains nothing.
FORM_BOUNDS = {"k": (1, 200), "seed": (0, 2**31 - 1), "seq_len": (0, 200), "clean_last": (0, 200),
               "distance": (0, 199), "n_train": (2, 2000), "epochs": (1, 20), "hidden": (1, 64),
               "short_frac": (0.0, 1.0), "ones_frac": (0.0, 1.0)}


class LabConfigError(ValueError):
    """A lab setting is out of range (one line, shown as is by the CLI and the app)."""


def _check_int(name: str, value, low: int) -> None:
    whole_number(name, value, low, LIMITS.get(name), error=LabConfigError)


def resolve(values: dict) -> dict:
    """Every LabConfig field from `values` (missing ones take DEFAULTS), with seq_len=None replaced by the
    task's default and k1k2's unset k1/k2 by k, 2 k1; raises LabConfigError (or SchemeError) naming the first
    setting out of range. LabConfig runs this on construction; the command line runs it before torch."""
    c = {**DEFAULTS, **values}
    if c["task"] not in TASKS:
        raise LabConfigError(f"unknown task {c['task']!r}; choose one of {', '.join(TASKS)}")
    if c["scheme"] not in SCHEMES:
        raise LabConfigError(f"unknown scheme {c['scheme']!r}; choose one of {', '.join(SCHEMES)}")
    if c["update"] not in UPDATES:
        raise LabConfigError(f"unknown update rule {c['update']!r}; choose one of {', '.join(UPDATES)}")
    if c["seq_len"] is None:
        c["seq_len"] = DEFAULT_SEQ_LEN[c["task"]]
    if c["scheme"] == "k1k2":
        c["k1"] = c["k1"] or c["k"]
        c["k2"] = c["k2"] or (2 * c["k1"] if c["k1"] else None)
    for name in ("seq_len", "n_train", "n_test", "epochs", "hidden", "embed", "batch_size"):
        _check_int(name, c[name], 1)
    _check_int("clean_last", c["clean_last"], 0)
    _check_int("distance", c["distance"], 0)
    _check_int("seed", c["seed"], 0)
    for name in ("short_frac", "ones_in_window_frac"):
        v = c[name]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
            raise LabConfigError(f"{name} must lie between 0 and 1, got {v!r}")
    for name in ("lr", "forget_bias"):
        v = c[name]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise LabConfigError(f"{name} must be a finite number, got {v!r}")
    if not c["lr"] > 0:
        raise LabConfigError(f"lr must be > 0, got {c['lr']!r}")
    if c["n_train"] < 2 or c["n_test"] < 2:
        raise LabConfigError("n_train and n_test must be at least 2 (one example of each class)")
    if c["task"] == "prefix" and c["seq_len"] < SHORT_LENGTHS[0]:
        raise LabConfigError(f"prefix: seq_len must be at least {SHORT_LENGTHS[0]}, got {c['seq_len']}")
    if c["task"] == "planted" and c["distance"] >= c["seq_len"]:
        raise LabConfigError(f"planted: distance {c['distance']} must be below seq_len {c['seq_len']}")
    if c["task"] == "any-one":
        if c["clean_last"] > c["seq_len"]:
            raise LabConfigError(f"any-one: clean_last {c['clean_last']} exceeds seq_len {c['seq_len']}")
        if c["clean_last"] == c["seq_len"] and c["ones_in_window_frac"] < 1:
            raise LabConfigError("any-one: clean_last equals seq_len, so no position is left for the 1")
    make_scheme(c["scheme"], c["k"], c["k1"], c["k2"])  # SchemeError (a ValueError) on a bad K
    return c


def sequence_steps(config) -> int:
    """LSTM row-steps that train.scheme_loss spends on one training sequence of seq_len tokens: a pass
    without autograd up to the latest window start, then every window as one row of a batched call that
    runs as many steps as the longest window. The per-chunk rule runs each window once (and any gap once),
    never more steps than this, so the same bound serves both rules. `config`: a LabConfig or a resolved dict."""
    c = config if isinstance(config, dict) else config.to_dict()
    windows = make_scheme(c["scheme"], c["k"], c["k1"], c["k2"]).windows(c["seq_len"])
    return max(s for _, s in windows) + len(windows) * max(p - s + 1 for p, s in windows)


# ---- the budget --------------------------------------------------------------------------------------------

# Fitted by scripts/bench_lab_budget.py (see the module docstring): memory rounded up so that every run of the
# calibration stays at or below its estimate (results/bench/lab_budget.json: 1.01-1.10 x measured); time set
# between three fits on the shared machine, whose other jobs made the same runs take 1x to 3x as long (5.3e-10
# to 2.5e-9 s per training multiply-add, 2.2e-4 to 5.2e-4 s per sequential step), so an estimate is within a
# factor of about 3.5 of what a run takes there, either way.
FIXED_BYTES = 112 << 20  # a fresh process's first training step: thread pools, allocator caches (measured 110-120 MB)
DATA_BYTES = 40          # per token of the generated splits: tuples, then lists and a padded batch of them
TRAIN_BYTES = 9          # per (row-step x feature) of a training batch: inputs, outputs, autograd's saves, grads
EVAL_BYTES = 4           # per (row-step x feature) of an evaluation batch (float32, no graph)
EVAL_BATCH = 256         # rows per evaluation batch (train.evaluate and runs.predictions)
SEC_TRAIN_MAC = 7e-10    # per multiply-add of a training row-step (forward, backward, update)
SEC_EVAL_MAC = 2e-10     # per multiply-add of an evaluation row-step
SEC_STEP = 3e-4          # per sequential LSTM step of a batch (kernel calls in a loop, forward and backward)
SEC_TOKEN = 1e-7         # per token of data built in Python
SEC_UPDATE = 2e-3        # per-chunk: per window of a batch (its own backward call, clip and Adam step, in Python)

# What a run may cost. The command line's default protects a small host (override with --max-memory and
# --max-minutes); a live run from the app shares a 1 GB server with a class and one of its two cores.
CLI_BUDGET = {"memory_mb": 1024, "minutes": 60.0}
LIVE_BUDGET = {"memory_mb": 192, "minutes": 1.5}


@dataclass(frozen=True)
class LabBudget:
    """What one run will cost, estimated from its settings alone (see the module docstring)."""

    memory_bytes: int     # peak bytes the run allocates beyond an interpreter that has imported torch
    seconds: float        # wall time on the calibration machine, one thread
    train_row_steps: int  # LSTM row-steps of training: n_train x epochs x sequence_steps
    eval_row_steps: int   # LSTM row-steps of evaluation

    @property
    def memory_mb(self) -> float:
        return self.memory_bytes / 2**20


def lab_budget(values: dict) -> LabBudget:
    """The budget of the run these settings describe (resolved first: bad settings raise LabConfigError)."""
    c = resolve(values)
    T, H, E = c["seq_len"], c["hidden"], c["embed"]
    n_train, n_test, epochs = c["n_train"], c["n_test"], c["epochs"]
    B = min(c["batch_size"], n_train)
    windows = make_scheme(c["scheme"], c["k"], c["k1"], c["k2"]).windows(T)
    W, S = len(windows), max(p - s + 1 for p, s in windows)
    P, starts = max(s for _, s in windows), len({s for _, s in windows})
    mac = 4 * H * (E + H)
    params = 12 * E + 4 * H * (E + H) + 8 * H + H + 1  # the Lab's vocabulary has 48 words; rounded up by 12 E
    data = DATA_BYTES * (n_train + n_test) * T
    train = TRAIN_BYTES * B * (W * S * (E + 6 * H) + T * (E + H))
    evaluate = EVAL_BYTES * min(EVAL_BATCH, max(n_train, n_test)) * T * (E + 2 * H)
    memory = FIXED_BYTES + data + max(train, evaluate) + 16 * params
    train_steps = n_train * epochs * sequence_steps(c)
    eval_steps = ((epochs + 1) * n_test + n_train) * T
    batches = math.ceil(n_train / B) * epochs
    if c["update"] == "per-chunk":
        sequential = batches * ((sum(p - s + 1 for p, s in windows) + P) * SEC_STEP + W * SEC_UPDATE)
    else:
        sequential = batches * (P + S + starts) * SEC_STEP
    seconds = (train_steps * mac * SEC_TRAIN_MAC + eval_steps * mac * SEC_EVAL_MAC + sequential
               + (n_train + n_test) * T * SEC_TOKEN)
    return LabBudget(int(memory), float(seconds), int(train_steps), int(eval_steps))


def over_budget(budget: LabBudget, limits: dict) -> str | None:
    """None when the run fits `limits` ({"memory_mb", "minutes"}), else one sentence naming the bound and
    what the run would need."""
    if budget.memory_mb > limits["memory_mb"]:
        return (f"this run needs about {budget.memory_mb:,.0f} MB of memory, over the {limits['memory_mb']:,} MB "
                "budget; use fewer or shorter sequences (n_train, n_test, seq_len), a smaller batch or hidden size")
    if budget.seconds > 60 * limits["minutes"]:
        return (f"this run would take about {_duration(budget.seconds)}, over the {_duration(60 * limits['minutes'])} "
                "budget; use fewer epochs or training sequences, shorter sequences or a smaller hidden size")
    return None


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:,.0f} hours"
