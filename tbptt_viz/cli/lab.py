"""Lab subcommands: `lab run` (one live training run) and `lab sweep` (the grid behind results/lab.json).

`lab run` checks every setting and prices the run (experiments.lab.settings) before torch is imported: a
run over the memory or time budget is refused in one line naming the bound.
"""
from __future__ import annotations

import json
import sys

from tbptt_viz.cli.common import MAX_K, CLIError, Parser, emit, progress_bar, real, whole, writable_path
from tbptt_viz.core.schemes import SCHEMES, UPDATES
from tbptt_viz.experiments.lab.settings import CLI_BUDGET, LIMITS, lab_budget, over_budget

fraction = real(0.0, 1.0)


def bounded(field: str, low: int = 1):
    return whole(low, LIMITS[field])


# flag -> (LabConfig field, type, help). Every flag defaults to None: unset flags keep LabConfig's defaults.
RUN_FLAGS = {
    "--task": ("task", str, "prefix | any-one | planted (default prefix)"),
    "--scheme": ("scheme", str, f"{' | '.join(SCHEMES)} (default last-k)"),
    "--k": ("k", whole(1, MAX_K), "last-k window / chunk length (default 30)"),
    "--k1": ("k1", whole(1, MAX_K), "k1k2: a loss every k1 steps (default K)"),
    "--k2": ("k2", whole(1, MAX_K), "k1k2: each loss back-propagated over k2 steps (default 2*k1)"),
    "--seq-len": ("seq_len", bounded("seq_len"), "tokens per sequence (default 100; any-one 20)"),
    "--short-frac": ("short_frac", fraction, "prefix: fraction of short (5-30 token) training examples"),
    "--clean-last": ("clean_last", bounded("clean_last", 0), "any-one: no 1 in the last M positions of training positives"),
    "--ones-frac": ("ones_in_window_frac", fraction, "any-one: ...except this fraction of them"),
    "--distance": ("distance", bounded("distance", 0), "planted: steps from the decisive word to the end (default 20)"),
    "--n-train": ("n_train", bounded("n_train"), "training sequences (default 1000)"),
    "--n-test": ("n_test", bounded("n_test"), "test sequences (default 400)"),
    "--epochs": ("epochs", bounded("epochs"), "passes over the training set (default 20)"),
    "--hidden": ("hidden", bounded("hidden"), "LSTM hidden size (default 32)"),
    "--embed": ("embed", bounded("embed"), "embedding size (default 16)"),
    "--lr": ("lr", real(1e-8, 10.0), "Adam learning rate (default 0.003)"),
    "--forget-bias": ("forget_bias", real(-100.0, 100.0), "initial forget-gate bias (default 1.0)"),
    "--batch-size": ("batch_size", bounded("batch_size"), "sequences per step (default 32)"),
    "--seed": ("seed", bounded("seed", 0), "seed for data, weights and batch order (default 0)"),
    "--update": ("update", str, f"{' | '.join(UPDATES)}: one optimizer step per batch (default) or a step after "
                                "every chunk's loss, the state carried detached"),
}


def settings_from_args(args) -> dict:
    """The flags that were given, by LabConfig field (unset ones keep LabConfig's defaults)."""
    return {field: getattr(args, field) for field, _, _ in RUN_FLAGS.values() if getattr(args, field) is not None}


def config_from_args(args):
    from tbptt_viz.experiments.lab.runs import LabConfig

    return LabConfig(**settings_from_args(args))


def check_budget(args) -> None:
    """Refuse settings that are out of range or over the budget, before torch is imported."""
    budget = lab_budget(settings_from_args(args))  # LabConfigError (a ValueError): one line, exit 2
    limits = {"memory_mb": args.max_memory, "minutes": args.max_minutes}
    reason = over_budget(budget, limits)
    if reason:
        raise CLIError(f"{reason} (raise the bound with --max-memory MB or --max-minutes M if this machine can "
                       "take it)")


def cmd_lab_run(args) -> int:
    """One live run of `lab_run` with the settings of `LabConfig` (unset flags keep its defaults), priced first
    (`lab_budget`) and refused over --max-memory or --max-minutes.

    JSON: `config` (every LabConfig field), `scheme_label`, `test_accuracy`, `train_accuracy`, `curve` (`epoch`,
    `loss`, `test_accuracy` per epoch), `wall_time_s`; any-one adds `accuracy_by_position`, `negative_accuracy`.
    """
    check_budget(args)
    import torch

    from tbptt_viz.experiments.lab.runs import lab_run

    config = config_from_args(args)
    torch.set_num_threads(args.threads)
    bar, progress = progress_bar(config.scheme_label)

    result = lab_run(config, progress=progress)
    bar.close()
    if args.json:
        emit(result.summary())
        return 0
    c = config
    print(f"task {c.task}, {c.scheme_label}, seq_len {c.seq_len}, seed {c.seed}: "
          f"test accuracy {result.test_accuracy:.3f} (train {result.train_accuracy:.3f}), {result.wall_time_s} s")
    print(f"{'epoch':>5} {'loss':>8} {'test acc':>9}")
    for e, (loss, acc) in enumerate(zip(result.curve.loss, result.curve.test_accuracy), 1):
        print(f"{e:>5} {loss:>8.4f} {acc:>9.3f}")
    if result.accuracy_by_position is not None:
        L = c.seq_len
        print(f"any-one accuracy by position of the 1 (negatives: {result.negative_accuracy:.3f}):")
        for j, acc in enumerate(result.accuracy_by_position):
            where = "last M: no 1 there in most training positives" if j >= L - c.clean_last else ""
            print(f"  position {j:>3} ({L - 1 - j:>3} steps before the end) {acc:.3f} {where}".rstrip())
    return 0


def read_sweep(path: str) -> dict:
    """An earlier sweep's JSON, or one clear line (CLIError) when it is missing or not a sweep."""
    try:
        old = json.loads(open(path, encoding="utf-8").read())
    except (OSError, ValueError) as e:
        raise CLIError(f"--add-to {path!r} cannot be read as JSON ({getattr(e, 'strerror', None) or e})") from None
    if not isinstance(old, dict) or not isinstance(old.get("rows"), list) or not old.get("seeds"):
        raise CLIError(f"--add-to {path!r} is not a lab sweep (no rows or seeds)")
    return old


def cmd_lab_sweep(args) -> int:
    out = writable_path(args.out, suffix=".json")  # before any work
    import torch

    from tbptt_viz.experiments.lab.runs import add_to_sweep, cell_key, run_sweep, sweep_configs

    torch.set_num_threads(args.threads)
    cells = sweep_configs(quick=args.quick)
    from tqdm import tqdm

    bar = tqdm(total=len({c for _, c in cells}) * args.seeds, unit="run", file=sys.stderr, mininterval=1)

    def progress(done, total, result):
        c = result.config
        bar.set_description(f"{c.task} {c.scheme_label} seed {c.seed}", refresh=False)
        bar.update(1)

    if args.add_to:
        old = read_sweep(args.add_to)
        bar.total = len({cell_key(g, c.to_dict()) for g, c in cells} - {cell_key(r["group"], r["config"])
                                                                         for r in old["rows"]}) * len(old["seeds"])
        results = add_to_sweep(old, cells, progress=progress)
    else:
        results = run_sweep(cells, list(range(args.seeds)), progress=progress)
        results["quick"] = args.quick
    bar.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    for row in results["rows"]:
        c, acc = row["config"], row["test_accuracy"]
        extra = {"prefix": f"short {c['short_frac']}", "any-one": f"ones in window {c['ones_in_window_frac']}",
                 "planted": f"d {c['distance']}",
                 "forget-bias": f"T {c['seq_len']} forget bias {c['forget_bias']}"}[row["group"]]
        print(f"{row['group']:<12} {row['scheme_label']:<24} {extra:<36} test accuracy {acc['mean']:.3f} "
              f"+- {acc['std']:.3f} (min {acc['min']:.3f})")
    took = results["added_runs"][-1]["wall_time_s"] if args.add_to else results["wall_time_s"]
    print(f"wrote {out} ({len(results['rows'])} rows x {len(results['seeds'])} seeds, {took} s)")
    return 0


def register(sub) -> None:
    lab = sub.add_parser("lab", help="train tiny LSTMs on synthetic tasks: what can truncation learn?")
    lab_sub = lab.add_subparsers(dest="lab_command", metavar="{run,sweep}", required=True, parser_class=Parser)

    p = lab_sub.add_parser("run", help="one training run on a synthetic task; prints test accuracy and curve")
    for flag, (field, kind, help_) in RUN_FLAGS.items():
        metavar = flag[2:].upper().replace("-", "_")
        p.add_argument(flag, dest=field, type=kind, default=None, help=help_, metavar=metavar)
    p.add_argument("--threads", type=whole(1, 256), default=1, help="torch CPU threads (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--max-memory", type=whole(1, 1 << 30), default=CLI_BUDGET["memory_mb"], metavar="MB",
                   help=f"refuse a run estimated to need more memory (default {CLI_BUDGET['memory_mb']} MB)")
    p.add_argument("--max-minutes", type=real(0.01, 1e7), default=CLI_BUDGET["minutes"], metavar="M",
                   help=f"refuse a run estimated to take longer (default {CLI_BUDGET['minutes']:.0f} minutes)")
    p.set_defaults(func=cmd_lab_run)

    p = lab_sub.add_parser("sweep", help="accuracy by task x scheme x K x setting over seeds -> JSON")
    p.add_argument("--out", default="results/lab.json", help="JSON file to write (default results/lab.json)")
    p.add_argument("--seeds", type=whole(1, 100), default=3, help="seeds 0..N-1 per cell (default 3)")
    p.add_argument("--quick", action="store_true", help="a small grid on little data, to check the pipeline")
    p.add_argument("--add-to", metavar="JSON", help="run only the cells this earlier sweep lacks, at its seeds, "
                                                    "and write it back with them added (old rows unchanged)")
    p.add_argument("--threads", type=whole(1, 256), default=1, help="torch CPU threads (default 1)")
    p.set_defaults(func=cmd_lab_sweep)
