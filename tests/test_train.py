import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tbptt_viz.core.per_chunk import per_chunk_steps
from tbptt_viz.core.schemes import make_scheme
from tbptt_viz.core.train import Adam, TrainConfig, evaluate, length_batches, pad_batch, scheme_loss, train

from conftest import reference, seq

SCHEMES = [("full", {}), ("last-k", {"k": 6}), ("chunked", {"k": 4}), ("k1k2", {"k1": 4, "k2": 9}),
           ("k1k2", {"k1": 5, "k2": 3})]
PARAMS = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


@pytest.mark.parametrize("name,kw", SCHEMES)
def test_batched_training_loss_gradient_equals_per_review_reference(model, name, kw):
    """Rows of different lengths (right-padded) get their own detach points; the batch gradient is the
    mean over reviews of each review's windowed loss gradient."""
    scheme = make_scheme(name, **kw)
    rows = [seq(23, 1).tolist(), seq(17, 2).tolist(), seq(9, 3).tolist(), seq(2, 4).tolist()]
    labels = torch.tensor([1, 0, 1, 0])
    ids, lengths = pad_batch(rows)
    model.zero_grad()
    scheme_loss(model, ids, lengths, labels, scheme).backward()
    got = torch.cat([getattr(model.lstm, n).grad.reshape(-1) for n in PARAMS])
    want = sum(reference(model, torch.tensor(r), scheme.windows(len(r)), int(y))[3] for r, y in zip(rows, labels))
    np.testing.assert_allclose(got.numpy(), (want / len(rows)).numpy(), rtol=1e-8, atol=1e-12)


def test_last_k_training_gives_no_gradient_to_early_embeddings(model):
    rows = [seq(30, 5).tolist()]
    ids, lengths = pad_batch(rows)
    model.zero_grad()
    scheme_loss(model, ids, lengths, torch.tensor([1]), make_scheme("last-k", 10)).backward()
    g = model.embedding.weight.grad
    early, late = set(rows[0][:20]) - set(rows[0][20:]), set(rows[0][20:])
    assert all(g[i].abs().sum() == 0 for i in early)
    assert any(g[i].abs().sum() > 0 for i in late)


def test_pad_and_buckets():
    ids, lengths = pad_batch([[5, 6, 7], [8]])
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]] and lengths.tolist() == [3, 1]
    batches = length_batches([5, 1, 9, 3, 7], 2)
    assert batches == [[1, 3], [0, 4], [2]]
    rng_batches = length_batches([5, 1, 9, 3, 7], 2, __import__("random").Random(0))
    assert sorted(sum(rng_batches, [])) == [0, 1, 2, 3, 4]


@pytest.mark.slow
def test_train_learns_a_trivial_task_and_evaluate_counts(model):
    """The label is the first token: learnable by full BPTT in a few epochs on short sequences."""
    g = torch.Generator().manual_seed(0)
    data, labels = [], []
    for _ in range(200):
        y = int(torch.randint(0, 2, (1,), generator=g))
        data.append([2 + y] + torch.randint(4, 50, (4,), generator=g).tolist())
        labels.append(y)
    model.float()
    stats = train(model, data, labels, make_scheme("full"), TrainConfig(epochs=15, batch_size=20, lr=0.02,
                                                                         embed_dropout=0.0))
    assert stats["loss_curve"][-1] < stats["loss_curve"][0]
    acc = evaluate(model, data, labels)
    with torch.no_grad():
        manual = np.mean([(model(torch.tensor([d]))[0] > 0).item() == y for d, y in zip(data, labels)])
    assert acc == pytest.approx(manual) and acc > 0.9


# --- the update rule: per-review (one step per batch) vs per-chunk (a step after every window) ---------------

CHUNK_SCHEMES = [("chunked", {"k": 4}), ("k1k2", {"k1": 4, "k2": 9}), ("k1k2", {"k1": 5, "k2": 3}),
                 ("last-k", {"k": 6})]
ALL = ("embedding.weight", "lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0",
       "head.weight", "head.bias")


def flat_grad(model) -> torch.Tensor:
    named = dict(model.named_parameters())
    return torch.cat([named[n].grad.reshape(-1) for n in ALL])


def flat_params(model) -> torch.Tensor:
    named = dict(model.named_parameters())
    return torch.cat([named[n].detach().reshape(-1) for n in ALL])


def recording_step(grads: list):
    """A step(loss) that only records the gradient (a learning rate of 0, and nothing clipped)."""
    def step(loss, model=None):
        for prm in step.model.parameters():
            prm.grad = None
        loss.backward()
        grads.append(flat_grad(step.model).clone())
    return step


def window_gradient_oracle(model, rows, labels, j, scheme) -> torch.Tensor:
    """Gradient of the mean BCE of every row's j-th window (rows without one left out), written plainly:
    an nn.LSTMCell loop from t = 0 per row, with an explicit detach() entering the window's start s."""
    twin = copy.deepcopy(model)
    cell = torch.nn.LSTMCell(twin.lstm.input_size, twin.lstm.hidden_size, dtype=torch.float64)
    for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):  # share the twin's LSTM parameters
        setattr(cell, n, getattr(twin.lstm, n + "_l0"))
    losses = []
    for r, y in zip(rows, labels):
        w = scheme.windows(len(r))
        if len(w) <= j:
            continue
        p, s = w[j]
        h = c = torch.zeros(1, twin.lstm.hidden_size, dtype=torch.float64)
        for t in range(p + 1):
            if t == s:
                h, c = h.detach(), c.detach()
            h, c = cell(twin.embedding(torch.tensor([r[t]])), (h, c))
        logit = twin.head(h)[0, 0]
        losses.append(F.binary_cross_entropy_with_logits(logit, torch.tensor(float(y), dtype=torch.float64)))
    torch.stack(losses).mean().backward()
    named = dict(twin.named_parameters())
    return torch.cat([(named[n].grad if named[n].grad is not None else torch.zeros_like(named[n])).reshape(-1)
                      for n in ALL])


@pytest.mark.parametrize("name,kw", CHUNK_SCHEMES)
def test_per_chunk_gradients_at_lr_zero_equal_each_windows_own_gradient(model, name, kw):
    """Unequal lengths: step j's gradient is that of the mean BCE over the rows still having a j-th window."""
    scheme = make_scheme(name, **kw)
    rows = [seq(23, 1).tolist(), seq(17, 2).tolist(), seq(9, 3).tolist(), seq(2, 4).tolist()]
    labels = [1, 0, 1, 0]
    ids, lengths = pad_batch(rows)
    grads = []
    step = recording_step(grads)
    step.model = model
    per_chunk_steps(model, ids, lengths, torch.tensor(labels), scheme, step)
    assert len(grads) == max(len(scheme.windows(len(r))) for r in rows)
    for j, g in enumerate(grads):
        want = window_gradient_oracle(model, rows, labels, j, scheme)
        np.testing.assert_allclose(g.numpy(), want.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name,kw", CHUNK_SCHEMES)
def test_lr_zero_per_review_gradient_is_the_mean_of_the_chunk_gradients(model, name, kw):
    """Equal lengths, embedding dropout on: the same mask reaches both rules, so at fixed weights
    mean_j (per-chunk gradient j) == per-review gradient."""
    scheme = make_scheme(name, **kw)
    rows = [seq(21, s).tolist() for s in (1, 2, 3)]
    ids, lengths = pad_batch(rows)
    labels = torch.tensor([1, 0, 1])
    model.train()
    torch.manual_seed(7)
    model.zero_grad()
    scheme_loss(model, ids, lengths, labels, scheme, embed_dropout=0.3).backward()
    per_review = flat_grad(model).clone()
    grads = []
    step = recording_step(grads)
    step.model = model
    torch.manual_seed(7)
    per_chunk_steps(model, ids, lengths, labels, scheme, step, embed_dropout=0.3)
    assert len(grads) == len(scheme.windows(21))
    np.testing.assert_allclose(torch.stack(grads).mean(0).numpy(), per_review.numpy(), rtol=1e-9, atol=1e-12)
    if len(grads) > 1:  # the chunks do differ: the mean is not trivially equal
        assert not torch.allclose(grads[0], grads[-1])


@pytest.mark.parametrize("name,kw", [("full", {}), ("last-k", {"k": 6}), ("chunked", {"k": 40})])
def test_one_window_per_review_gives_the_same_weights_under_both_rules(model, name, kw):
    """full, last-K and a chunk as long as the review have one window: one step per batch either way."""
    g = torch.Generator().manual_seed(3)
    data = [torch.randint(2, 50, (int(n),), generator=g).tolist() for n in torch.randint(8, 30, (24,), generator=g)]
    labels = [int(d[0] % 2) for d in data]
    weights = []
    for update in ("per-review", "per-chunk"):
        m = copy.deepcopy(model)
        train(m, data, labels, make_scheme(name, **kw), TrainConfig(epochs=2, batch_size=8, lr=0.01,
                                                                     embed_dropout=0.2, update=update))
        weights.append(flat_params(m))
    assert not torch.allclose(weights[0], flat_params(model))  # it did train
    np.testing.assert_allclose(weights[1].numpy(), weights[0].numpy(), rtol=1e-9, atol=1e-12)


def test_per_chunk_differs_from_per_review_when_there_are_several_chunks(model):
    data = [seq(20, s).tolist() for s in range(8)]
    labels = [s % 2 for s in range(8)]
    weights = []
    for update in ("per-review", "per-chunk"):
        m = copy.deepcopy(model)
        train(m, data, labels, make_scheme("chunked", 5), TrainConfig(epochs=1, batch_size=8, lr=0.01,
                                                                       embed_dropout=0.0, update=update))
        weights.append(flat_params(m))
    assert (weights[0] - weights[1]).abs().max() > 1e-4


def test_per_chunk_equals_the_scripts_order_of_calls(model):
    """The loop of ksopyla/pytorch_neural_networks RNN/lstm_imdb_tbptt.py, written out on equal-length rows:
    zero_grad, forward from the carried state over one chunk, loss on the chunk's last output, backward,
    (our clip), step, detach the state. float64; the same batches in the same order."""
    import random

    g = torch.Generator().manual_seed(5)
    data = [torch.randint(2, 50, (22,), generator=g).tolist() for _ in range(12)]
    labels = [int(d[1] % 2) for d in data]
    cfg = TrainConfig(scheme="chunked", k=5, epochs=2, batch_size=4, lr=0.01, clip=0.5, embed_dropout=0.0,
                      update="per-chunk")
    ours = copy.deepcopy(model)
    train(ours, data, labels, make_scheme("chunked", 5), cfg)

    script = copy.deepcopy(model)
    script.train()
    opt = torch.optim.Adam(script.parameters(), lr=cfg.lr)
    rng = random.Random(cfg.seed)
    for _ in range(cfg.epochs):
        for batch in length_batches([len(d) for d in data], cfg.batch_size, rng):
            ids = torch.tensor([data[i] for i in batch])
            y = torch.tensor([labels[i] for i in batch], dtype=torch.float64)
            state = None
            for chunk in ids.split(5, dim=1):
                script.zero_grad()
                out, state = script.lstm(script.embedding(chunk), state)
                loss = F.binary_cross_entropy_with_logits(script.head(out[:, -1]).squeeze(-1), y)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(script.parameters(), cfg.clip)
                opt.step()
                state = tuple(v.detach() for v in state)
    np.testing.assert_allclose(flat_params(ours).numpy(), flat_params(script).numpy(), rtol=1e-9, atol=1e-10)
    assert not torch.allclose(flat_params(ours), flat_params(model))


@pytest.mark.parametrize("k1,k2", [(4, 9), (5, 3)])
def test_per_chunk_k1k2_equals_an_online_cell_loop(model, k1, k2):
    """Williams & Peng's online TBPTT(k1, k2) written token by token with nn.LSTMCell on one review:
    the state entering each window was computed with the weights of its time, the window is re-run with
    the current weights, and a gap (k2 < k1) is crossed without a graph with the current weights."""
    r = seq(23, 9).tolist()
    y = torch.tensor(1.0, dtype=torch.float64)
    scheme = make_scheme("k1k2", k1=k1, k2=k2)
    lr = 0.05
    ours = copy.deepcopy(model)
    ours.train()
    opt = torch.optim.SGD(ours.parameters(), lr=lr)

    def step(loss):
        opt.zero_grad()
        loss.backward()
        opt.step()

    per_chunk_steps(ours, *pad_batch([r]), torch.tensor([1]), scheme, step)

    twin = copy.deepcopy(model)
    cell = torch.nn.LSTMCell(twin.lstm.input_size, twin.lstm.hidden_size, dtype=torch.float64)
    for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        setattr(cell, n, getattr(twin.lstm, n + "_l0"))
    opt2 = torch.optim.SGD(twin.parameters(), lr=lr)
    known = {0: (torch.zeros(1, 8, dtype=torch.float64),) * 2}  # position -> state entering it (detached)
    windows = scheme.windows(len(r))
    for j, (p, s) in enumerate(windows):
        last = max(t for t in known if t <= s)
        h, c = known[last]
        with torch.no_grad():
            for t in range(last, s):  # the gap, with today's weights
                h, c = cell(twin.embedding(torch.tensor([r[t]])), (h, c))
        h, c = h.detach(), c.detach()
        for t in range(s, p + 1):
            if j + 1 < len(windows) and t == windows[j + 1][1]:
                known[t] = (h.detach(), c.detach())
            h, c = cell(twin.embedding(torch.tensor([r[t]])), (h, c))
        known[p + 1] = (h.detach(), c.detach())
        opt2.zero_grad()
        F.binary_cross_entropy_with_logits(twin.head(h)[0, 0], y).backward()
        opt2.step()
    np.testing.assert_allclose(flat_params(ours).numpy(), flat_params(twin).numpy(), rtol=1e-9, atol=1e-11)


def test_update_rule_is_validated():
    with pytest.raises(ValueError, match="per-chunk"):
        TrainConfig(update="per-batch")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_our_adam_is_torchs_bit_for_bit(dtype):
    """train's Adam (written out so that a Lab run never imports torch._dynamo) against torch.optim.Adam: the same
    parameters after 25 steps of random gradients, one parameter without a gradient on some steps."""
    g = torch.Generator().manual_seed(3)
    start = [torch.randn(7, 5, generator=g, dtype=dtype), torch.randn(5, generator=g, dtype=dtype)]
    ours, theirs = [p.clone().requires_grad_() for p in start], [p.clone().requires_grad_() for p in start]
    opt_ours, opt_theirs = Adam(ours, lr=0.003), torch.optim.Adam(theirs, lr=0.003)
    for step in range(25):
        grads = [torch.randn(p.shape, generator=g, dtype=dtype) * 10 ** (step % 5 - 2) for p in start]
        for params, opt in ((ours, opt_ours), (theirs, opt_theirs)):
            opt.zero_grad()
            for i, (p, grad) in enumerate(zip(params, grads)):
                if not (i == 1 and step % 3 == 0):
                    p.grad = grad.clone()
            opt.step()
    for a, b, s in zip(ours, theirs, start):
        assert torch.equal(a, b)
        assert not torch.equal(a, s)


def test_a_lab_run_imports_no_compiler():
    """A live Lab run in a fresh interpreter leaves torch._dynamo and sympy unimported (each would cost every forked
    Lab child ~100 MB of modules of its own)."""
    import subprocess
    import sys

    code = ("import sys; from tbptt_viz.experiments.lab.runs import LabConfig, lab_run; "
            "lab_run(LabConfig(epochs=1, n_train=40, n_test=40, seq_len=20, hidden=8)); "
            "print(sorted(m for m in ('torch._dynamo', 'sympy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
