"""Benchmark: what one training epoch costs under each truncation scheme, measured in the same run.

Same reviews, batches, model size and seed for every scheme; prints seconds, tokens/s and the ratio to full
BPTT, and writes results/bench/train.json (full BPTT is the baseline).
Usage: python scripts/bench_train.py --data-dir PATH [--reviews 2000] [--threads 1]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_json  # noqa: E402

import torch  # noqa: E402

from tbptt_viz.core.data import load_imdb  # noqa: E402
from tbptt_viz.core.model import LSTMClassifier, ModelConfig  # noqa: E402
from tbptt_viz.core.schemes import make_scheme  # noqa: E402
from tbptt_viz.core.text import Vocab, tokenize  # noqa: E402
from tbptt_viz.core.train import TrainConfig, train  # noqa: E402

SCHEMES = [("full", {}), ("last-k", {"k": 10}), ("last-k", {"k": 30}), ("last-k", {"k": 100}),
           ("chunked", {"k": 30}), ("k1k2", {"k1": 30, "k2": 60})]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-dir", required=True, help="folder with train.jsonl[.gz]")
    ap.add_argument("--reviews", type=int, default=2000, help="training reviews per scheme (default 2000)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    bench_json.add_arguments(ap)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    started = bench_json.machine(args.note)
    rows = load_imdb("train", args.data_dir)
    pick = torch.randperm(len(rows), generator=torch.Generator().manual_seed(0))[: args.reviews].tolist()
    rows = [rows[i] for i in pick]
    vocab = Vocab.build(r.text for r in rows)
    encoded = [vocab.encode(tokenize(r.text)) for r in rows]
    labels = [r.label for r in rows]
    print(f"{len(rows)} reviews, {sum(map(len, encoded))} tokens, {torch.get_num_threads()} thread(s)")
    base, rows = None, []
    for name, kw in SCHEMES:
        scheme = make_scheme(name, **kw)
        torch.manual_seed(0)
        model = LSTMClassifier(ModelConfig(len(vocab), 64, 128), vocab)
        t0 = time.perf_counter()
        stats = train(model, encoded, labels, scheme, TrainConfig(epochs=1, seed=0))
        seconds = time.perf_counter() - t0
        base = base or seconds
        print(f"{scheme.label:<26} {seconds:7.1f} s  {stats['tokens_per_s']:>8} tokens/s  "
              f"{seconds / base:5.2f}x full BPTT's time")
        rows.append({"scheme": scheme.label, "seconds": seconds, "tokens_per_s": stats["tokens_per_s"],
                     "relative_to_full": seconds / base})
    bench_json.write("train", "one training epoch under each truncation scheme (same reviews, batches, model, seed)",
                     {"reviews": len(encoded), "tokens": sum(map(len, encoded)), "rows": rows[1:]},
                     {"what": "full BPTT, the same epoch", **rows[0]}, started, args.out)


if __name__ == "__main__":
    main()
