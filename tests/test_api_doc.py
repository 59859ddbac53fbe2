"""docs/api.md is generated and current, names every public function and command with what it returns, and its
bring-your-own-model example runs and agrees with computations written here on the user's own module."""
import copy
import importlib.util
import json
import runpy
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import tbptt_viz
from conftest import reference
from tbptt_viz import attribute, context_probe, gradient_flow, memory_trace
from tbptt_viz.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
API = ROOT / "docs" / "api.md"


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen_api():
    return load_script("gen_api")


def test_api_md_is_generated_and_current(gen_api):
    assert API.read_text() == gen_api.render(), "docs/api.md is stale: run python scripts/update_docs.py"


def test_every_public_name_and_command_is_on_the_page(gen_api):
    page = API.read_text()
    for name in tbptt_viz.__all__:
        assert f"### `tbptt_viz.{name}`" in page
    for _, module, names in gen_api.ENTRY_POINTS:
        for name in names:
            assert f"#### `{module}.{name}`" in page
    commands = [" ".join(words) for words, _, _ in gen_api.subcommands(build_parser())]
    assert {"train", "predict", "gradients", "models", "attribute", "probe", "study", "lab run", "export"} <= set(commands)
    for command in commands:
        assert f"### `tbptt-viz {command}`" in page
    # maths in a line for the analyses, and each function's return type linked to its fields
    for name in ("gradient_flow", "attribute", "context_probe", "memory_trace", "make_scheme"):
        assert "Maths:" in (getattr(tbptt_viz, name).__doc__ or ""), name
    for cls in ("GradientFlow", "Attribution", "ContextProbe", "MemoryTrace"):
        assert f'<a id="{cls.lower()}"></a>' in page and f"(#{cls.lower()})" in page


def test_every_command_with_json_output_documents_its_keys(gen_api):
    for words, _, sub in gen_api.subcommands(build_parser()):
        if any("--json" in a.option_strings for a in sub._actions):
            assert documented_keys(gen_api, *words), f"{' '.join(words)}: emit a dict literal or add a JSON: paragraph"


def json_run(capsys, *argv) -> object:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def documented_keys(gen_api, *words) -> list[str]:
    sub = next(p for w, _, p in gen_api.subcommands(build_parser()) if w == words)
    func = sub.get_default("func")
    keys = gen_api.json_keys(func)
    if keys is None:  # documented in the docstring's "JSON:" paragraph, each key in backticks
        _, rest = gen_api.docstring(func)
        paragraph = next((par for par in rest.split("\n\n") if par.startswith("JSON:")), "")
        keys = paragraph.split("`")[1::2]
    return keys


@pytest.mark.slow
def test_json_keys_on_the_page_are_what_the_commands_print(gen_api, capsys, ckpt_dir):
    text = "i love this film . the plot was not bad ."
    for command in ("predict", "gradients", "attribute", "probe"):
        out = json_run(capsys, command, "--model", str(ckpt_dir), "--text", text)
        assert documented_keys(gen_api, command) == list(out), command  # the same keys, in the same order
    cards = json_run(capsys, "models")
    assert cards and all(set(documented_keys(gen_api, "models")) <= set(card) for card in cards)
    run = json_run(capsys, "lab", "run", "--task", "any-one", "--seq-len", "6", "--clean-last", "2", "--n-train", "4",
                   "--n-test", "4", "--epochs", "1", "--k", "3")
    assert set(documented_keys(gen_api, "lab", "run")) == set(run) | set(run["curve"])


@pytest.fixture
def ckpt_dir(model, tmp_path):
    from tbptt_viz.core.checkpoint import save_checkpoint

    save_checkpoint(model.float(), tmp_path / "tiny", {"scheme": "full", "test_accuracy": 0.5})
    return tmp_path / "tiny"


# ---- bring your own model ------------------------------------------------------------------------------------

EXAMPLE = ROOT / "docs" / "examples" / "own_model.py"


def test_the_example_on_the_page_is_the_file_that_runs():
    page = API.read_text()
    assert f"```python\n{EXAMPLE.read_text().rstrip()}\n```" in page


@pytest.fixture(scope="module")
def example():
    return runpy.run_path(str(EXAMPLE), run_name="own_model_example")


def test_own_model_gradient_flow_equals_an_unrolled_float64_loop(example):
    """The wrapped model's last-K input gradients against a hand-unrolled nn.LSTMCell loop with an explicit
    detach(), on a float64 copy of the user's own module."""
    model, ids, flow = example["model"], example["ids"], example["flow"]
    T, K = len(ids), 20
    twin = copy.deepcopy(model).double()
    dx, _, _, _ = reference(twin, ids, [(T - 1, T - K)], label=1)
    np.testing.assert_allclose(flow.input_grad_norm, dx.norm(dim=1).numpy(), rtol=1e-9, atol=1e-12)
    assert (flow.input_grad_norm[: T - K] == 0).all() and (flow.input_grad_norm[T - K:] > 0).all()
    dx_full, _, _, _ = reference(twin, ids, [(T - 1, 0)], label=1)
    np.testing.assert_allclose(flow.full_input_grad_norm, dx_full.norm(dim=1).numpy(), rtol=1e-9, atol=1e-12)
    assert twin.lstm.hidden_size == 40 and twin.embedding.embedding_dim == 24  # not the shipped 128 / 64


def test_own_model_attributions_equal_reruns_of_its_own_forward(example):
    mine, model, ids = example["mine"], example["model"], example["ids"]
    occlusion, ig = example["occlusion"], example["ig"]
    with torch.no_grad():
        clean = mine(ids[None]).double().item()
        for t in (0, 7, len(ids) - 1):  # occlusion: the user's own forward with token t set to id 0
            occluded = ids.clone()
            occluded[t] = 0
            assert occlusion.scores[t] == pytest.approx(clean - mine(occluded[None]).item(), abs=2e-5)
        baseline = mine(torch.zeros_like(ids)[None]).item()
    assert ig.converged and ig.scores.sum() == pytest.approx(clean - baseline, abs=ig.tolerance)
    probe = context_probe(model, ids)
    with torch.no_grad():
        assert probe.prob_last_n[9] == pytest.approx(torch.sigmoid(mine(ids[None, -10:])).item(), abs=1e-5)
    assert memory_trace(model, ids).influence.shape == (len(ids),)


@pytest.mark.parametrize("change, words", [
    (lambda m: setattr(m, "lstm", nn.LSTM(24, 40, num_layers=2, batch_first=True)), "one layer"),
    (lambda m: setattr(m, "lstm", nn.LSTM(24, 40, bidirectional=True, batch_first=True)), "one direction"),
    (lambda m: setattr(m, "head", nn.Linear(40, 2)), "one output"),
    (lambda m: setattr(m, "head", nn.Linear(32, 1)), "reads 32 inputs"),
    (lambda m: delattr(m, "embedding"), "nn.Embedding"),
])
def test_a_model_outside_the_contract_is_refused_in_one_line(example, change, words):
    model = copy.deepcopy(example["model"])
    change(model)
    ids = example["ids"]
    for call in (lambda: gradient_flow(model, ids, "last-k", k=5), lambda: attribute(model, ids, "occlusion"),
                 lambda: attribute(model, ids, "saliency"), lambda: context_probe(model, ids),
                 lambda: memory_trace(model, ids)):
        with pytest.raises(ValueError, match=words) as e:
            call()
        assert "\n" not in str(e.value) and "contract" in str(e.value)
