"""The lab: tiny LSTMs trained live on synthetic tasks, to test what truncation can and cannot learn.

Three seeded tasks, each built so that one token (or a short opening) decides the label:

    prefix   i love this the film of ... night a      label = opening (love: 1, hate: 0)
    any-one  0 0 0 1 0 0 ... 0 0                     label = is there a 1 anywhere?
    planted  the film ... good ... the night a        label = the planted word, d steps from the end

Training goes through the engine (`train`, `scheme_loss`, `evaluate`, `make_scheme`), so every scheme here is
the same list of windows the app draws. Under last-K the loss gradient never reaches a token more than K-1
steps before the end:

    t:       0 1 2 ... T-K-1 | T-K ... T-1
    grad:    0 0 0 ...   0   | flows back from the loss at T-1

so the model can only learn what an early token means from examples where that token sits inside the window.
"""
from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from tbptt_viz.core.model import LSTMClassifier, ModelConfig
from tbptt_viz.core.schemes import make_scheme
from tbptt_viz.core.text import Vocab
from tbptt_viz.core.train import TrainConfig, evaluate, pad_batch, train
# The settings' names, bounds and checks live in `settings` (no torch there: the command line and the app check
# and price a run before torch is imported); they are public here too.
from tbptt_viz.experiments.lab.settings import (DEFAULT_SEQ_LEN, LIMITS, SHORT_LENGTHS, TASKS,  # noqa: F401
                                               LabConfigError, resolve, sequence_steps)

# Neutral words: none of them says anything about the label.
FILLER = ("the", "a", "an", "film", "movie", "plot", "scene", "actor", "story", "camera", "music", "set", "room",
          "door", "street", "city", "night", "day", "hour", "minute", "part", "chapter", "was", "is", "it", "and",
          "then", "of", "in", "on", "with", "after", "before", "some", "two", "three")
OPENINGS = {1: ("i", "love", "this"), 0: ("i", "hate", "this")}
PLANTED = {1: "good", 0: "bad"}
LAB_VOCAB = Vocab(("<pad>", "<unk>", "i", "love", "hate", "this", "good", "bad", "0", "1", *FILLER))

_ID = {w: i for i, w in enumerate(LAB_VOCAB.itos)}
_FILLER_IDS = np.array(LAB_VOCAB.encode(FILLER))


@dataclass(frozen=True)
class LabConfig:
    """One lab run. `seq_len=None` takes the task's default (100 for prefix and planted, 20 for any-one);
    k1k2 with k1/k2 unset takes k1=k, k2=2k. Both are filled in on construction."""

    task: str = "prefix"              # prefix | any-one | planted
    scheme: str = "last-k"            # full | last-k | chunked | k1k2 (the engine's schemes)
    k: int | None = 30                # last-k window / chunk length
    k1: int | None = None             # k1k2: a loss every k1 steps
    k2: int | None = None             # k1k2: each loss back-propagated over the last k2 steps
    seq_len: int | None = None        # T: tokens per long sequence (prefix, planted) or L (any-one)
    short_frac: float = 0.0           # prefix: fraction of training examples cut to 5..30 tokens (opening kept)
    clean_last: int = 10              # any-one: M, no 1 in the last M positions of positive training sequences...
    ones_in_window_frac: float = 0.0  # ...except this fraction of them, whose 1 lies in the last M
    distance: int = 20                # planted: steps from the decisive word to the last token (0: it is last)
    n_train: int = 1000               # training sequences (classes balanced)
    n_test: int = 400                 # test sequences (always long; any-one: the 1 anywhere)
    epochs: int = 20                  # passes over the training set
    hidden: int = 32                  # LSTM hidden size H
    embed: int = 16                   # embedding size E
    lr: float = 0.003                 # Adam; 0.01 learned faster but sometimes jumped back to chance
    forget_bias: float = 1.0          # initial forget-gate bias: larger keeps the state longer at the start
    batch_size: int = 32              # sequences per training step
    seed: int = 0                     # data, initial weights and batch order
    update: str = "per-review"        # per-review: one step per batch | per-chunk: a step after every window

    def __post_init__(self):
        for name, value in resolve(asdict(self)).items():  # LabConfigError naming the first bad setting
            object.__setattr__(self, name, value)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def scheme_label(self) -> str:
        label = make_scheme(self.scheme, self.k, self.k1, self.k2).label
        return label + (", a step per chunk" if self.update == "per-chunk" else "")


# ---- data -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LabSplit:
    """Sequences of one split. `position[n]` is where the decisive token sits in sequence n (prefix: 0, the
    opening's first word; any-one: the 1, or -1 for an all-zero negative; planted: T-1-d)."""

    ids: tuple[tuple[int, ...], ...]  # N sequences of vocabulary ids (lengths may differ: short prefix examples)
    labels: np.ndarray                # (N,) int64, 0 or 1
    position: np.ndarray              # (N,) int64

    def lengths(self) -> np.ndarray:
        return np.array([len(s) for s in self.ids], dtype=np.int64)  # (N,)


def _balanced_labels(n: int, rng: np.random.Generator) -> np.ndarray:
    """n labels, floor(n/2) zeros and the rest ones, in random order."""
    return rng.permutation(np.arange(n) >= n // 2).astype(np.int64)


def prefix_split(n: int, seq_len: int, short_frac: float, rng: np.random.Generator) -> LabSplit:
    """Openings "i love this" (1) / "i hate this" (0), then random filler up to `seq_len` tokens.

    Exactly round(short_frac * n) examples (a random subset) are short: 5..30 tokens, capped at seq_len.
    """
    labels = _balanced_labels(n, rng)
    lengths = np.full(n, seq_len, dtype=np.int64)
    short = rng.permutation(n)[: round(short_frac * n)]
    lengths[short] = rng.integers(SHORT_LENGTHS[0], min(SHORT_LENGTHS[1], seq_len) + 1, size=len(short))
    seqs = []
    for y, T in zip(labels, lengths):
        opening = LAB_VOCAB.encode(OPENINGS[int(y)])
        seqs.append(tuple(opening + rng.choice(_FILLER_IDS, size=T - len(opening)).tolist()))
    return LabSplit(tuple(seqs), labels, np.zeros(n, dtype=np.int64))


def any_one_split(n: int, seq_len: int, clean_last: int, ones_in_window_frac: float, rng: np.random.Generator,
                  spread: bool = False) -> LabSplit:
    """Negatives: L zeros. Positives: L zeros with a single 1.

    The 1 lies in the first L-M positions, except for round(ones_in_window_frac * positives) positives
    (a random subset) whose 1 lies in the last M. `spread=True` (the test set) ignores M and cycles the 1
    through every position 0..L-1 in turn, so each position gets the same number of test sequences.
    """
    labels = _balanced_labels(n, rng)
    pos_rows = np.flatnonzero(labels == 1)
    position = np.full(n, -1, dtype=np.int64)
    if spread:
        position[pos_rows] = rng.permutation(np.arange(len(pos_rows)) % seq_len)
    else:
        M = clean_last
        in_window = rng.permutation(len(pos_rows)) < round(ones_in_window_frac * len(pos_rows))
        early = rng.integers(0, max(1, seq_len - M), size=len(pos_rows))  # (M = L only with every 1 late)
        late = rng.integers(seq_len - M, seq_len, size=len(pos_rows)) if M > 0 else early
        position[pos_rows] = np.where(in_window, late, early)
    seqs = []
    for j in position:
        row = np.full(seq_len, _ID["0"], dtype=np.int64)
        if j >= 0:
            row[j] = _ID["1"]
        seqs.append(tuple(row.tolist()))
    return LabSplit(tuple(seqs), labels, position)


def planted_split(n: int, seq_len: int, distance: int, rng: np.random.Generator) -> LabSplit:
    """Filler with "good" (1) or "bad" (0) at index T-1-distance: exactly `distance` steps before the end."""
    labels = _balanced_labels(n, rng)
    j = seq_len - 1 - distance
    seqs = []
    for y in labels:
        row = rng.choice(_FILLER_IDS, size=seq_len)
        row[j] = _ID[PLANTED[int(y)]]
        seqs.append(tuple(row.tolist()))
    return LabSplit(tuple(seqs), labels, np.full(n, j, dtype=np.int64))


def make_splits(config: LabConfig) -> tuple[LabSplit, LabSplit]:
    """(train, test) for the config's task; each split has its own seeded stream, so the test set of a seed
    is the same whatever the training size."""
    rng_train = np.random.default_rng([config.seed, 0])
    rng_test = np.random.default_rng([config.seed, 1])
    c = config
    if c.task == "prefix":  # the test set is long sequences only: learning means it carries to long reviews
        return (prefix_split(c.n_train, c.seq_len, c.short_frac, rng_train),
                prefix_split(c.n_test, c.seq_len, 0.0, rng_test))
    if c.task == "any-one":
        return (any_one_split(c.n_train, c.seq_len, c.clean_last, c.ones_in_window_frac, rng_train),
                any_one_split(c.n_test, c.seq_len, 0, 0.0, rng_test, spread=True))
    return (planted_split(c.n_train, c.seq_len, c.distance, rng_train),
            planted_split(c.n_test, c.seq_len, c.distance, rng_test))


# ---- runs -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Curve:
    """Per-epoch training record."""

    loss: np.ndarray           # (epochs,) mean training loss (the scheme's windowed loss) during the epoch
    test_accuracy: np.ndarray  # (epochs,) test accuracy after the epoch


@dataclass(frozen=True)
class LabResult:
    """One finished run: its numbers, its curve and the trained model (for the app's gradient views)."""

    config: LabConfig
    test_accuracy: float
    train_accuracy: float                    # read at each training sequence's own last token
    curve: Curve
    accuracy_by_position: np.ndarray | None  # any-one: (L,) accuracy on test positives whose 1 is at index j
    negative_accuracy: float | None          # any-one: accuracy on the all-zero test negatives
    model: LSTMClassifier                    # the trained model (vocab LAB_VOCAB), in eval mode
    sample_ids: np.ndarray                   # (T,) a positive test sequence whose decisive token is earliest
    sample_label: int
    wall_time_s: float                       # data + training + evaluation

    @property
    def sample_tokens(self) -> list[str]:
        return LAB_VOCAB.decode(self.sample_ids.tolist())

    def summary(self) -> dict:
        """Plain JSON-ready numbers (no model)."""
        out = {"config": self.config.to_dict(), "scheme_label": self.config.scheme_label,
               "test_accuracy": self.test_accuracy, "train_accuracy": self.train_accuracy,
               "curve": {"epoch": list(range(1, len(self.curve.loss) + 1)), "loss": self.curve.loss.tolist(),
                         "test_accuracy": self.curve.test_accuracy.tolist()},
               "wall_time_s": self.wall_time_s}
        if self.accuracy_by_position is not None:
            out["accuracy_by_position"] = [None if np.isnan(a) else float(a) for a in self.accuracy_by_position]
            out["negative_accuracy"] = self.negative_accuracy
        return out


def build_model(config: LabConfig) -> LSTMClassifier:
    torch.manual_seed(config.seed)
    return LSTMClassifier(ModelConfig(len(LAB_VOCAB), config.embed, config.hidden, config.forget_bias), LAB_VOCAB)


@torch.no_grad()
def predictions(model: LSTMClassifier, split: LabSplit, batch_size: int = 256) -> np.ndarray:
    """(N,) 0/1 predictions at each sequence's last token, `batch_size` sequences at a time (the whole split
    at once held n x T x 5H floats: 0.5 GB for 2,000 sequences of 200 tokens at H = 64)."""
    model.eval()
    out = []
    for i in range(0, len(split.ids), batch_size):
        ids, lengths = pad_batch([list(s) for s in split.ids[i : i + batch_size]])
        out.append((model(ids, lengths) > 0).long().numpy())
    return np.concatenate(out)


def live_run(config: LabConfig, report) -> LabResult:
    """`lab_run` for the app's live runs (see isolate.run_isolated): progress goes to `report(done, total,
    loss)` at most five times a second and after the last batch."""
    last = [0.0]

    def progress(done, total, loss):
        now = time.perf_counter()
        if now - last[0] >= 0.2 or done == total:
            last[0] = now
            report(done, total, loss)

    return lab_run(config, progress=progress)


def lab_run(config: LabConfig, progress=None) -> LabResult:
    """Train a fresh model on the config's task under its scheme; `progress(done, total, loss)` per batch."""
    start = time.perf_counter()
    train_split, test_split = make_splits(config)
    model = build_model(config)
    scheme = make_scheme(config.scheme, config.k, config.k1, config.k2)
    train_ids, test_ids = [list(s) for s in train_split.ids], [list(s) for s in test_split.ids]
    test_labels = test_split.labels.tolist()
    accuracy_curve = []
    # No embedding dropout: the tasks are noiseless and tiny, and dropout on the one decisive token would
    # only blur which scheme can learn it.
    tc = TrainConfig(scheme=scheme.name, k=scheme.k, k1=scheme.k1, k2=scheme.k2, epochs=config.epochs,
                     batch_size=config.batch_size, lr=config.lr, embed_dropout=0.0, seed=config.seed,
                     update=config.update)
    stats = train(model, train_ids, train_split.labels.tolist(), scheme, tc, progress=progress,
                  on_epoch=lambda epoch, loss: accuracy_curve.append(evaluate(model, test_ids, test_labels)))
    pred = predictions(model, test_split)
    correct = pred == test_split.labels
    by_position = negative = None
    if config.task == "any-one":
        pos = test_split.position
        by_position = np.array([correct[pos == j].mean() if np.any(pos == j) else np.nan
                                for j in range(config.seq_len)])
        negative = float(correct[pos < 0].mean())
    positives = np.flatnonzero(test_split.labels == 1)
    pick = positives[np.argmin(test_split.position[positives])]
    return LabResult(
        config=config, test_accuracy=float(correct.mean()),
        train_accuracy=float(np.mean(predictions(model, train_split) == train_split.labels)),
        curve=Curve(np.array(stats["loss_curve"]), np.array(accuracy_curve)),
        accuracy_by_position=by_position, negative_accuracy=negative, model=model,
        sample_ids=np.array(test_split.ids[pick], dtype=np.int64), sample_label=1,
        wall_time_s=round(time.perf_counter() - start, 2))


# ---- sweep ------------------------------------------------------------------------------------------------

def sweep_configs(quick: bool = False) -> list[tuple[str, LabConfig]]:
    """The grid behind results/lab.json as (group, config) cells, seed 0 (the sweep repeats each over seeds).

    Groups: "prefix" (scheme x K x short fraction; k1k2 at K means TBPTT(k1=K, k2=2K); full BPTT ignores
    K, so it appears once per short fraction; chunked and k1k2 under both update rules, per-review and
    per-chunk: full and last-K have one window, where the rules coincide), "any-one" (last-K x K x ones
    fraction, M=10), "planted" (last-K K=30 and full x distance) and "forget-bias" (prefix, no short
    examples: last-K K=30 as the gap before the window grows, at forget bias 1 and 3, and full BPTT at
    forget bias 3).
    `quick` shrinks data and epochs to check the pipeline (its numbers mean little).
    """
    base = dict(n_train=200, n_test=100, epochs=3) if quick else {}
    ks = (10,) if quick else (10, 30)
    cells = []
    for short in (0.0, 0.2):
        cells.append(("prefix", LabConfig(task="prefix", scheme="full", short_frac=short, **base)))
        for scheme in ("last-k", "chunked", "k1k2"):
            cells += [("prefix", LabConfig(task="prefix", scheme=scheme, k=k, short_frac=short, **base)) for k in ks]
        cells += [("prefix", LabConfig(task="prefix", scheme=scheme, k=k, short_frac=short, update="per-chunk",
                                       **base)) for scheme in ("chunked", "k1k2") for k in ks]
    for frac in (0.0, 0.2):
        cells += [("any-one", LabConfig(task="any-one", scheme="last-k", k=k, clean_last=10, ones_in_window_frac=frac,
                                        **base)) for k in ((10,) if quick else (5, 10, 20))]
    for d in ((5, 40) if quick else (5, 20, 40, 80)):
        cells += [("planted", LabConfig(task="planted", scheme=s, k=30, distance=d, **base))
                  for s in ("last-k", "full")]
    for fb in (1.0, 3.0):
        cells += [("forget-bias", LabConfig(task="prefix", scheme="last-k", k=30, seq_len=T, forget_bias=fb, **base))
                  for T in ((60,) if quick else (45, 60, 100))]
    cells.append(("forget-bias", LabConfig(task="prefix", scheme="full", forget_bias=3.0, **base)))
    return cells


def _stats(values: list[float]) -> dict:
    """Mean, sample standard deviation over seeds (ddof = 1; 0 with one seed), min, max and the values."""
    v = np.array(values, dtype=float)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "min": float(v.min()),
            "max": float(v.max()), "values": v.tolist()}


def run_sweep(cells: list[tuple[str, LabConfig]], seeds: list[int], progress=None) -> dict:
    """Every cell's config at every seed; one row per cell with mean/std/min/max over seeds.

    A config listed in two groups is trained once. `progress(done, total, result)` after each run.
    The result is JSON-ready: {"created", "wall_time_s", "machine", "seeds", "rows": [...]}.
    """
    rows, start, cache = [], time.perf_counter(), {}
    unique = {config for _, config in cells}
    for group, config in cells:
        runs = []
        for seed in seeds:
            key = replace(config, seed=seed)
            if key not in cache:
                cache[key] = lab_run(key)
                if progress:
                    progress(len(cache), len(unique) * len(seeds), cache[key])
            runs.append(cache[key])
        row = {"group": group, "config": {k: v for k, v in config.to_dict().items() if k != "seed"},
               "scheme_label": config.scheme_label, "seeds": list(seeds),
               "test_accuracy": _stats([r.test_accuracy for r in runs]),
               "train_accuracy": _stats([r.train_accuracy for r in runs]),
               "final_loss": _stats([float(r.curve.loss[-1]) for r in runs]),
               "epochs_to_90": [next((e + 1 for e, a in enumerate(r.curve.test_accuracy) if a >= 0.9), None)
                                for r in runs],  # first epoch with test accuracy >= 0.9 (None: never)
               "wall_time_s": _stats([r.wall_time_s for r in runs])}
        if config.task == "any-one":
            by_pos = np.array([r.accuracy_by_position for r in runs])  # (seeds, L)
            sd = by_pos.std(0, ddof=1) if len(by_pos) > 1 else np.zeros(by_pos.shape[1])  # sample SD over seeds
            row["accuracy_by_position"] = {"mean": by_pos.mean(0).tolist(), "std": sd.tolist(),
                                           "values": by_pos.tolist()}
            row["negative_accuracy"] = _stats([r.negative_accuracy for r in runs])
        rows.append(row)
    return {"created": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "wall_time_s": round(time.perf_counter() - start, 1),
            "machine": machine_stamp(), "seeds": list(seeds), "rows": rows}


def cell_key(group: str, config: dict) -> tuple[str, str]:
    """A sweep row's identity: its group and its config without the seed (a missing update is per-review,
    as in sweeps run before the rule existed)."""
    c = {"update": "per-review", **{k: v for k, v in config.items() if k != "seed"}}
    return group, json.dumps(c, sort_keys=True)


def add_to_sweep(old: dict, cells: list[tuple[str, LabConfig]], progress=None) -> dict:
    """`old` (a run_sweep result) with the cells it lacks run at its seeds and added in `cells` order.

    Old rows keep every number; rows from before the update rule gain "update": "per-review". The added
    runs' time and machine are listed under "added_runs", the old ones stay at the top level.
    """
    have = {cell_key(r["group"], r["config"]): r for r in old["rows"]}
    missing = [(g, c) for g, c in cells if cell_key(g, c.to_dict()) not in have]
    new = run_sweep(missing, old["seeds"], progress=progress)
    have.update({cell_key(r["group"], r["config"]): r for r in new["rows"]})
    order = [cell_key(g, c.to_dict()) for g, c in cells]
    order += [k for k in have if k not in order]  # rows of cells no longer in the grid stay, last
    rows = []
    for key in dict.fromkeys(order):
        row = dict(have[key])
        row["config"] = {**row["config"], "update": row["config"].get("update", "per-review")}
        rows.append(row)
    added = {"created": new["created"], "wall_time_s": new["wall_time_s"], "machine": new["machine"],
             "cells": len(missing)}
    return {**old, "rows": rows, "added_runs": [*old.get("added_runs", []), added]}


def machine_stamp() -> str:
    return (f"{platform.machine()} {platform.processor() or platform.system()}, {torch.get_num_threads()} torch "
            f"thread(s), torch {torch.__version__}, python {platform.python_version()}")




def load_lab_results(path: str | Path | None = None) -> dict | None:
    """The sweep's JSON (default results/lab.json at the repository root), or None when it is missing."""
    from tbptt_viz.core.data import load_results

    return load_results(path or "lab.json")
