import numpy as np
import pytest
import torch

from tbptt_viz.core.schemes import make_scheme
from tbptt_viz.core.train import TrainConfig, evaluate, length_batches, pad_batch, scheme_loss, train

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
