"""Time issue 23's evidence against the naive way, measured in the same run (a script, not a test).

    OMP_NUM_THREADS=1 python scripts/bench_evidence.py --data-dir /work/shared/data/imdb [--model imdb-last-k30]

Goals (one core): training exposure for a review <= 50 ms; connectivity for one source at T = 500 <= 0.3 s;
the whole logit_grad map at T = 300 <= 3 s; shapley over 60 groups at T = 500 <= 3 s with its standard error.
Naive ways:
  exposure      scan the encoded training split for the review's words (tokenizing it is not counted)
  connectivity  reverse mode, one backward pass per row of dh_t/dx_S and dc_t/dx_S (2H rows for each t), as
                torch.autograd.functional.jacobian does; timed on a few t and scaled to all of them (the full
                run would take minutes); and generic forward mode, torch.func.jacfwd over an unrolled loop
  map           one autograd backward pass per t through nn.LSTM's graph (float64)
  shapley       captum's ShapleyValueSampling with its default of one coalition per model call, as many
                permutations, no repeats (so no standard error)
Each timing is the best of --repeats runs, as wall time and this process's CPU time; the machine may be shared
(wall time then includes waiting for a core). Results go to results/bench/evidence.json.
"""
from __future__ import annotations

import argparse
import os
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from anywhere without installing

from tbptt_viz import connectivity, logit_grad_map, word_exposure  # noqa: E402
from tbptt_viz.attribution.shapley import group_shapley  # noqa: E402
from tbptt_viz.core.model import flush_denormals  # noqa: E402
from tbptt_viz.gradients.flow import lstm64  # noqa: E402


def best_of(fn, repeats: int) -> tuple[float, float, object]:
    """(best wall seconds, best CPU seconds, last result)."""
    wall, cpu, out = [], [], None
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return min(wall), min(cpu), out


def naive_exposure(train: list[list[int]], ids, k: int) -> tuple[np.ndarray, np.ndarray]:
    words = set(ids)
    occ = dict.fromkeys(words, 0)
    reach = dict.fromkeys(words, 0)
    for r in train:
        inside, tail = words.intersection(r), words.intersection(r[-k:])
        for w in inside:
            occ[w] += 1
        for w in tail:
            reach[w] += 1
    return np.array([occ[w] for w in ids]), np.array([reach[w] for w in ids])


def unrolled(model, x: torch.Tensor, S: int):
    """f(x_S) -> (h_t, c_t) for t = S..T-1, stacked (T-S, 2H), by a float64 loop over the LSTM equations."""
    lstm = model.lstm
    w_ih, w_hh = lstm.weight_ih_l0.detach().double(), lstm.weight_hh_l0.detach().double()
    b = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach().double()
    H = lstm.hidden_size
    with torch.no_grad():
        _, (h0, c0) = lstm64(lstm)(x[None, :S]) if S else (None, (torch.zeros(1, 1, H, dtype=torch.float64),) * 2)

    def f(x_s):
        h, c, out = h0[0, 0], c0[0, 0], []
        for t in range(S, x.shape[0]):
            a = w_ih @ (x_s if t == S else x[t]) + w_hh @ h + b
            i, fg, g, o = a.chunk(4)
            c = fg.sigmoid() * c + i.sigmoid() * g.tanh()
            h = o.sigmoid() * c.tanh()
            out.append(torch.cat([h, c]))
        return torch.stack(out)
    return f


def naive_connectivity_reverse(model, ids, S: int, sample_t: int) -> float:
    """Seconds for the reverse-mode Jacobian, measured on `sample_t` evenly spaced t and scaled to all T-S."""
    x = model.embedding.weight.detach().double()[ids]
    T = len(ids)
    ts = np.linspace(S, T - 1, sample_t).round().astype(int)
    spent = 0.0
    for t in ts:
        f = unrolled(model, x[: t + 1], S)
        x_s = x[S].clone()
        start = time.perf_counter()
        torch.autograd.functional.jacobian(lambda v: f(v)[-1], x_s)  # 2H backward passes through t - S steps
        spent += time.perf_counter() - start
    return spent / len(ts) * (T - S)


def naive_connectivity_jacfwd(model, ids, S: int):
    x = model.embedding.weight.detach().double()[ids]
    J = torch.func.jacfwd(unrolled(model, x, S))(x[S].clone())     # (T-S, 2H, E)
    H = model.lstm.hidden_size
    return J[:, :H].norm(dim=(1, 2)).numpy()


def naive_map(model, ids) -> np.ndarray:
    x = model.embedding.weight.detach().double()[ids].clone().requires_grad_(True)
    out, _ = lstm64(model.lstm)(x[None])
    z = out[0] @ model.head.weight.detach().double()[0]
    T = len(ids)
    m = np.full((T, T), np.nan)
    for t in range(T):
        (g,) = torch.autograd.grad(z[t], x, retain_graph=True)
        m[: t + 1, t] = g[: t + 1].norm(dim=1).numpy()
    return m


def naive_shapley(model, ids, groups, permutations: int):
    from captum.attr import ShapleyValueSampling

    mask = torch.zeros(1, len(ids), dtype=torch.long)
    for j, (s, e) in enumerate(groups):
        mask[0, s:e] = j
    T = torch.tensor([len(ids)])
    with torch.no_grad():
        return ShapleyValueSampling(lambda i: model(i, T.expand(len(i)))).attribute(
            ids[None], baselines=0, feature_mask=mask, n_samples=permutations)


def review_ids(model, data_dir: str | None, T: int, seed: int = 0) -> torch.Tensor:
    """The last T tokens of a seeded test review with at least T tokens (random ids without --data-dir)."""
    if data_dir:
        from tbptt_viz.core.data import load_imdb
        from tbptt_viz.core.text import tokenize

        rows = load_imdb("test", data_dir)
        rng = np.random.default_rng(seed)
        for i in rng.permutation(len(rows)):
            toks = tokenize(rows[i].text)
            if len(toks) >= T:
                return torch.tensor(model.vocab.encode(toks[-T:]))
    return torch.randint(2, model.config.vocab_size, (T,), generator=torch.Generator().manual_seed(seed))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="imdb-last-k30", help="a shipped model name (default imdb-last-k30)")
    ap.add_argument("--data-dir", help="IMDB folder: real reviews, and the training split for the naive exposure")
    ap.add_argument("--repeats", type=int, default=3, help="best of this many runs for our functions")
    ap.add_argument("--k", type=int, default=30, help="last-K window for the exposure benchmark")
    ap.add_argument("--sample-t", type=int, default=4, help="positions timed for the reverse-mode connectivity")
    ap.add_argument("--out", default=str(ROOT / "results" / "bench" / "evidence.json"))
    ap.add_argument("--machine", default=f"2-core machine, load average {os.getloadavg()[0]:.1f} at the start",
                    help="a note on the machine, stored in the JSON")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from tbptt_viz import load_pretrained
    from tbptt_viz.experiments.exposure_store import load_exposure, shipped_path

    model = load_pretrained(args.model)
    figures, baseline = {}, {}

    def record(name, setting, goal, ours, naive, naive_how, check):
        (w, c, _), (nw, nc) = ours, naive
        figures[name] = {"setting": setting, "goal_s": goal, "wall_s": round(w, 4), "cpu_s": round(c, 4),
                         "naive_wall_s": round(nw, 4), "naive_cpu_s": round(nc, 4) if nc is not None else None,
                         "ratio_wall": round(nw / w, 1), "ratio_cpu": round(nc / c, 1) if nc else None,
                         "meets_goal_wall": w <= goal, "meets_goal_cpu": c <= goal,
                         "check": check}
        baseline[name] = naive_how
        print(f"{name:<34} ours {w * 1e3:9.1f} ms wall {c * 1e3:9.1f} ms CPU | naive {nw * 1e3:10.1f} ms wall | "
              f"x{nw / w:7.1f} | goal {goal * 1e3:.0f} ms: {'met' if w <= goal else 'NOT met'} (wall), "
              f"{'met' if c <= goal else 'NOT met'} (CPU)")

    # 1. exposure
    ids500 = review_ids(model, args.data_dir, 500)
    w0 = time.perf_counter()
    stats = load_exposure(shipped_path())
    load_s = time.perf_counter() - w0
    word_exposure(model, ids500, "last-k", args.k, stats=stats)  # warm-up (vocabulary digest cached)
    ours = best_of(lambda: word_exposure(model, ids500, "last-k", args.k, stats=stats), args.repeats * 3)
    if args.data_dir:
        from tbptt_viz.core.data import load_imdb
        from tbptt_viz.core.text import tokenize

        train = [model.vocab.encode(tokenize(r.text)) for r in load_imdb("train", args.data_dir)]
        query = [int(i) for i in ids500 if i > 1]
        nw, nc, (occ, reach) = best_of(lambda: naive_exposure(train, query, args.k), 1)
        e = ours[2]
        known = e.known
        check = bool(np.array_equal(e.occurrences[known], occ) and np.array_equal(e.in_reach[known], reach))
        record("exposure (T=500 review, last-K)", f"T=500, K={args.k}; loading the file once: {load_s:.3f} s",
               0.05, ours, (nw, nc), "scan of the encoded training split (25,000 reviews) per query", check)
    # 2. connectivity, one source at T = 500
    connectivity(model, ids500[:50], 0)
    ours = best_of(lambda: connectivity(model, ids500, 0), args.repeats)
    jw, jc, naive_norms = best_of(lambda: naive_connectivity_jacfwd(model, ids500, 0), 1)
    check = bool(np.allclose(ours[2].state_norm, naive_norms, rtol=1e-4))
    record("connectivity, one source (T=500)", "S=0, T=500, float32 tangents", 0.3, ours, (jw, jc),
           "torch.func.jacfwd over an unrolled float64 loop (generic forward mode, all t)", check)
    rw = naive_connectivity_reverse(model, ids500, 0, args.sample_t)
    figures["connectivity, one source (T=500)"]["naive_reverse_wall_s_extrapolated"] = round(rw, 1)
    figures["connectivity, one source (T=500)"]["ratio_reverse_wall"] = round(rw / ours[0], 1)
    baseline["connectivity, one source (T=500), reverse"] = (
        f"torch.autograd.functional.jacobian (reverse mode, 2H backward passes per t), timed on {args.sample_t} "
        "evenly spaced t and scaled to all 500")
    print(f"{'  reverse-mode Jacobian per t':<34} naive {rw:.1f} s (extrapolated) | x{rw / ours[0]:.0f}")
    # 3. the whole logit_grad map at T = 300
    ids300 = ids500[-300:]
    ours = best_of(lambda: logit_grad_map(model, ids300), args.repeats)
    with flush_denormals():
        nw, nc, naive_m = best_of(lambda: naive_map(model, ids300), 1)
    check = bool(np.allclose(ours[2].logit_grad, naive_m, rtol=1e-3, atol=1e-9, equal_nan=True))
    record("logit_grad map (T=300)", "T=300, float32 cotangents, one batched reverse pass", 3.0, ours, (nw, nc),
           "one autograd backward per t through nn.LSTM's float64 graph (retain_graph)", check)
    # 4. shapley, 60 groups at T = 500
    groups = [(int(a[0]), int(a[-1]) + 1) for a in np.array_split(np.arange(500), 60)]
    ours = best_of(lambda: group_shapley(model, ids500, groups), args.repeats)
    r = ours[2]
    perms = r.samples * r.repeats
    nw, nc, naive_attr = best_of(lambda: naive_shapley(model, ids500, groups, perms), 1)
    record("shapley, 60 groups (T=500)", f"60 spans, {perms} permutations ({r.repeats} repeats of {r.samples}, "
           f"antithetic), trie-batched float32, with standard error; max SE {r.standard_error.max():.3f}, "
           f"|gap| {abs(r.completeness_gap):.1e}", 3.0, ours, (nw, nc),
           f"captum ShapleyValueSampling, one coalition per model call, {perms} permutations, no standard error",
           bool(abs(float(naive_attr[0, [s for s, _ in groups]].sum()) - r.target_change) < 1e-3))
    out = {"figures": figures, "baseline": baseline,
           "machine": f"{args.machine}; {platform.processor() or platform.machine()}, torch {torch.__version__}, "
                      f"{torch.get_num_threads()} thread",
           "date": time.strftime("%Y-%m-%d %H:%M"), "command": "OMP_NUM_THREADS=1 python scripts/bench_evidence.py "
           + " ".join(sys.argv[1:]), "model": args.model}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
