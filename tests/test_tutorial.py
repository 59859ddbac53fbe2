"""docs/tutorial.ipynb: generated from docs/tutorial.py, its prose states no measured number, and (slow) it runs in a
Jupyter kernel and every number its sentences print equals what the app computes for the same review."""
import importlib.util
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
SOURCE, NOTEBOOK = ROOT / "docs" / "tutorial.py", ROOT / "docs" / "tutorial.ipynb"


def gen_notebook():
    spec = importlib.util.spec_from_file_location("gen_notebook", ROOT / "scripts" / "gen_notebook.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notebook_is_generated_from_its_py():
    assert NOTEBOOK.read_text() == gen_notebook().notebook(SOURCE.read_text()), \
        "docs/tutorial.ipynb is stale: run python scripts/update_docs.py"


def test_markdown_cells_type_no_measured_number():
    """Facts are printed by code; the prose only asks and explains. A decimal or a percentage in Markdown would
    be a number typed by hand."""
    for kind, source in gen_notebook().cells(SOURCE.read_text()):
        if kind == "markdown":
            assert not re.search(r"\d\.\d|\d\s?%", source), source


def test_the_tutorial_uses_the_public_api_only():
    code = "\n".join(src for kind, src in gen_notebook().cells(SOURCE.read_text()) if kind == "code")
    imported = re.findall(r"^from (tbptt_viz[\w.]*) import (.+)$", code, re.M)
    assert imported
    for module, names in imported:
        assert "_" != names.strip()[0], names
        assert all(not n.strip().startswith("_") for n in names.split(","))


# ---- slow: execute it and recompute its numbers the app's way --------------------------------------------------

@pytest.fixture(scope="module")
def executed():
    nbclient = pytest.importorskip("nbclient", reason="pip install -r requirements-dev.txt (nbclient, ipykernel)")
    import nbformat

    nb = nbformat.reads(NOTEBOOK.read_text(), as_version=4)
    # the kernel runs in the repository root, so it imports this checkout's tbptt_viz; one thread, as this
    # process (conftest), so the Lab's training adds its floats in the same order here and there
    env = {k: v for k, v in os.environ.items() if k != "TBPTT_VIZ_PRETRAINED"}
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}}).execute(env={**env, "OMP_NUM_THREADS": "1"})
    printed = ["".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
               for cell in nb.cells if cell.cell_type == "code"]
    figures = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
               if "application/vnd.plotly.v1+json" in o.get("data", {})]
    return json.loads(printed[-1]), printed, figures


@pytest.mark.slow
def test_tutorial_runs_with_one_figure_and_one_sentence_per_step(executed):
    facts, printed, figures = executed
    steps = printed[1:-1]  # imports first, the JSON last
    assert len(steps) == 5 and len(figures) == 5
    assert all(text.count("\n") == 1 and text.strip() for text in steps)  # one sentence (one line) per step


@pytest.mark.slow
def test_tutorial_numbers_equal_the_apps_computation(executed):
    from tbptt_viz import attribute, context_probe, load_pretrained
    from tbptt_viz.core.data import examples
    from tbptt_viz.core.text import prepare_review
    from tbptt_viz.experiments.lab.runs import LabConfig, lab_run
    from tbptt_viz.gradients import analysis
    from tbptt_viz.present.sentences import FIRST_N, first_share

    facts, printed, _ = executed
    K = 30
    text = next(r.text for r in examples() if r.id == "love-then-plot")
    names = ("imdb-full", "imdb-last-k30")
    models = {n: load_pretrained(n) for n in names}
    ids = torch.tensor(prepare_review(text, models["imdb-full"].vocab).ids)  # as the app prepares a review
    T = len(ids)
    assert facts["T"] == T and FIRST_N == 30
    # the app: one review_flow per (model, review), sliced per scheme and K by scheme_view
    flows = {n: analysis.review_flow(m, ids, None) for n, m in models.items()}
    for n in names:
        assert facts["prob"][n] == pytest.approx(flows[n].full.prob_positive, abs=1e-12)
        assert facts["accuracy"][n] == models[n].card["test_accuracy"]
        assert facts["cosine_at_k"][n] == pytest.approx(analysis.scheme_view(flows[n], "last-k", K).sweep_cosine,
                                                        abs=1e-12)
        assert facts["relative_error_at_k"][n] == pytest.approx(
            analysis.scheme_view(flows[n], "last-k", K).sweep_relative_error, abs=1e-12)
    rf = flows["imdb-last-k30"]
    views = {s: analysis.scheme_view(rf, s, K) for s in ("full", "last-k", "chunked")}
    assert facts["zero"] == {s: int(np.sum(v.input_grad_norm == 0)) for s, v in views.items()}
    assert facts["zero"]["last-k"] == T - K and facts["reached_from"] == T - K
    assert facts["chunked_reach"] == int(views["chunked"].backprop_reach.max())
    errors = flows["imdb-full"].full.sweep_relative_error
    assert facts["k_error_below_tenth"] == int(np.flatnonzero(errors < 0.1)[0]) + 1
    for n, m in models.items():  # "What the model uses": occlusion share on the first 30, the context probe
        assert facts["first_share"][n] == pytest.approx(first_share(attribute(m, ids, "occlusion").scores), abs=1e-12)
        assert facts["prob_without_first"][n] == pytest.approx(
            float(context_probe(m, ids).prob_without_first_n[FIRST_N]), abs=1e-12)
    for label, run in facts["lab"].items():  # the Lab: the same config trains to the same accuracy
        assert lab_run(LabConfig(**run["config"])).test_accuracy == run["test_accuracy"], label
    # and the sentences print these numbers
    sentences = "".join(printed[1:-1])
    assert f"{facts['zero']['last-k']} of the {T} tokens get exactly zero gradient" in sentences
    for n in names:
        assert f"{n} puts {facts['first_share'][n]:.0%} of its |occlusion|" in sentences
        assert f"has cosine {facts['cosine_at_k'][n]:.3f}" in sentences
    for label, run in facts["lab"].items():
        assert f"{label} reaches test accuracy {run['test_accuracy']:.2f}" in sentences
