"""Benchmark: gradient_flow (per-position arrays + the whole last-K sweep) vs one backward per K.

Prints, for each T, both times measured in the same run, their ratio, and the peak memory of each, and writes
them to results/bench/flow.json. The naive loop at large T is timed on a subset of K values and scaled to all T
(said in the output and the JSON).
Usage: python scripts/bench_flow.py [--threads 1] [--model imdb-full]
"""
from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_json  # noqa: E402

from tbptt_viz import gradient_flow
from tbptt_viz.core.checkpoint import load_pretrained
from tbptt_viz.core.model import LSTMClassifier, ModelConfig


def peak_rss_reset() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # Linux: reset the peak resident set size


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def naive_sweep(model: LSTMClassifier, ids: torch.Tensor, ks) -> list[float]:
    """One truncated forward/backward per K: cosine between the last-K and full LSTM-parameter gradients."""
    params = list(model.lstm.parameters())
    x = model.embedding(ids)[None].detach()  # (1, T, E)
    T = ids.numel()

    def grad(k):
        with torch.no_grad():
            _, state = model.lstm(x[:, : T - k]) if k < T else (None, None)
        out, _ = model.lstm(x[:, T - k :], state)  # gradient flows back to T-k and no further
        loss = F.binary_cross_entropy_with_logits(model.head(out[0, -1]), torch.ones(1))
        return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params)])

    full = grad(T)
    return [float(F.cosine_similarity(grad(k), full, dim=0)) for k in ks]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for this small work)")
    ap.add_argument("--model", help="a shipped model name (default: random weights of the shipped size)")
    ap.add_argument("--naive-max-k", type=int, default=200, help="time at most this many K values in the naive loop")
    ap.add_argument("--lengths", type=int, nargs="+", default=[100, 500, 2000], help="review lengths T")
    bench_json.add_arguments(ap)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    started = bench_json.machine(args.note)
    torch.manual_seed(0)
    model = load_pretrained(args.model) if args.model else LSTMClassifier(ModelConfig(20000, 64, 128)).eval()
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch thread(s), torch {torch.__version__}; "
          f"model: {args.model or 'random weights, E=64 H=128'}")
    print(f"{'T':>5} {'gradient_flow s':>16} {'naive s':>10} {'ratio':>8} {'flow MB':>8} {'naive MB':>9}  note")
    rows, naive_rows = [], []
    for T in args.lengths:
        ids = torch.randint(2, 20000, (T,), generator=torch.Generator().manual_seed(T))
        gradient_flow(model, ids[:50], "last-k", 10)  # warm-up
        peak_rss_reset()
        base = peak_rss_mb()
        t0 = time.perf_counter()
        gf = gradient_flow(model, ids, "last-k", 30)
        t_flow = time.perf_counter() - t0
        flow_mb = peak_rss_mb() - base
        ks = list(range(1, T + 1))
        step = max(1, T // args.naive_max_k)
        sample = ks[::step]
        peak_rss_reset()
        base = peak_rss_mb()
        t0 = time.perf_counter()
        cos = naive_sweep(model, ids, sample)
        t_naive = (time.perf_counter() - t0) * len(ks) / len(sample)
        naive_mb = peak_rss_mb() - base
        err = max(abs(c - gf.sweep_cosine[k - 1]) for c, k in zip(cos, sample))
        note = f"naive timed on {len(sample)} of {T} K values, scaled" if step > 1 else "naive over all K"
        print(f"{T:>5} {t_flow:>16.3f} {t_naive:>10.2f} {t_naive / t_flow:>7.0f}x {flow_mb:>8.1f} {naive_mb:>9.1f}  "
              f"{note}; max |cos diff| {err:.1e}")
        rows.append({"T": T, "seconds": t_flow, "peak_mb": flow_mb, "speedup": t_naive / t_flow,
                     "max_cosine_difference": err})
        naive_rows.append({"T": T, "seconds": t_naive, "peak_mb": naive_mb, "timed_k_values": len(sample)})
    bench_json.write("flow", "gradient_flow with the whole last-K sweep vs one autograd backward per K",
                     {"model": args.model or "random weights, E=64 H=128", "rows": rows},
                     {"what": "one truncated forward and backward per K (timed on at most --naive-max-k K values, "
                              "scaled to all T)", "rows": naive_rows}, started, args.out)


if __name__ == "__main__":
    main()
