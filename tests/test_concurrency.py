"""Many visitors share one loaded model: every computation must be reentrant. Threads run every method
and scheme on several reviews at once against one model; each result must equal the sequential one."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from tbptt_viz.gradients.analysis import review_flow
from tbptt_viz.attribution.methods import METHODS, attribute, context_probe, memory_trace
from tbptt_viz.gradients.flow import gradient_flow

from conftest import seq

SCHEMES = [("full", {}), ("last-k", {"k": 5}), ("chunked", {"k": 4}), ("k1k2", {"k1": 3, "k2": 7})]


def jobs(reviews):
    for r, ids in enumerate(reviews):
        for method in METHODS:
            for name, kw in SCHEMES:
                yield (f"{method} {name} {r}", lambda ids=ids, m=method, n=name, kw=kw: attribute(
                    MODEL, ids, m, n, **kw).scores)
        yield f"probe {r}", lambda ids=ids: context_probe(MODEL, ids).prob_last_n
        yield f"memory {r}", lambda ids=ids: memory_trace(MODEL, ids).influence
        yield f"flow {r}", lambda ids=ids: review_flow(MODEL, ids).chunked.input_grad_norm
        yield f"k1k2 {r}", lambda ids=ids: gradient_flow(MODEL, ids, "k1k2", k1=3, k2=6).input_grad_norm


MODEL = None


def test_threads_on_one_model_equal_the_sequential_results(model):
    global MODEL
    MODEL = model.float()  # float32, as the app serves it; float64 copies are made per call
    before = {k: v.clone() for k, v in MODEL.state_dict().items()}
    reviews = [seq(12 + 5 * r, seed=r) for r in range(4)]
    work = list(jobs(reviews))
    sequential = {name: fn() for name, fn in work}
    with ThreadPoolExecutor(max_workers=6) as pool:
        for round_ in range(2):  # different interleavings
            order = work if round_ == 0 else work[::-1]
            futures = {name: pool.submit(fn) for name, fn in order}
            for name, fut in futures.items():
                np.testing.assert_array_equal(fut.result(), sequential[name], err_msg=name)
    assert all(torch.equal(v, MODEL.state_dict()[k]) for k, v in before.items())  # the model is unchanged
    assert all(p.grad is None for p in MODEL.parameters()) and not MODEL.training
    assert not MODEL.embedding._forward_hooks and not MODEL.lstm._forward_hooks
