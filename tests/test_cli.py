"""The engine's CLI, run as a user would: a subprocess, JSON on stdout, one-line errors with exit 2."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tbptt_viz import gradient_flow
from tbptt_viz.core.checkpoint import save_checkpoint

ROOT = Path(__file__).resolve().parent.parent


def run(*args, stdin=None, env=None):
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "tbptt_viz", *args], capture_output=True, text=True, cwd=ROOT,
                          input=stdin, env=full_env, timeout=120)


@pytest.fixture
def ckpt(model, tmp_path):
    save_checkpoint(model.float(), tmp_path / "zoo" / "tiny", {"scheme": "last-k", "k": 5, "test_accuracy": 0.5})
    return tmp_path / "zoo" / "tiny"


TEXT = "i love this film . the plot was not bad and the story was good , the end ."


def test_gradients_json_matches_library(ckpt, model):
    r = run("gradients", "--model", str(ckpt), "--text", TEXT, "--scheme", "last-k", "--k", "5", "--label", "1",
            "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for key in ("tokens", "ids", "prob_positive", "label_used", "label_source", "scheme", "k", "input_grad_norm",
                "full_input_grad_norm", "hidden_grad_norm", "cell_grad_norm", "backprop_count", "backprop_reach"):
        assert key in out
    assert out["sweep"]["k"] == list(range(1, len(out["ids"]) + 1))
    assert out["label_used"] == 1 and out["label_source"] == "given" and out["truncated"]
    gf = gradient_flow(model.float(), torch.tensor(out["ids"]), "last-k", 5, label=1)
    np.testing.assert_allclose(out["input_grad_norm"], gf.input_grad_norm, rtol=1e-9)
    np.testing.assert_allclose(out["sweep"]["cosine"], gf.sweep_cosine, rtol=1e-9, atol=1e-12)
    assert out["input_grad_norm"][: len(out["ids"]) - 5] == [0.0] * (len(out["ids"]) - 5)


def test_gradients_table_stdin_and_no_truncation_note(ckpt):
    r = run("gradients", "--model", str(ckpt), "--text", "-", "--k", "500", stdin="good film")
    assert r.returncode == 0, r.stderr
    assert "no truncation" in r.stdout and "good" in r.stdout


def test_predict(ckpt, model):
    r = run("predict", "--model", str(ckpt), "--text", TEXT, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    ids = torch.tensor([model.vocab.encode(out["tokens"])])
    with torch.no_grad():
        assert out["prob_positive"] == pytest.approx(torch.sigmoid(model.float()(ids)).item(), abs=1e-6)


def test_models_json(ckpt):
    r = run("models", "--json", env={"TBPTT_VIZ_PRETRAINED": str(ckpt.parent)})
    cards = json.loads(r.stdout)
    assert [c["name"] for c in cards] == ["tiny"] and cards[0]["k"] == 5 and "test_accuracy" in cards[0]


def test_long_text_is_cut_with_notice(ckpt):
    r = run("predict", "--model", str(ckpt), "--text", "good " * 2100)
    assert r.returncode == 0 and "notice:" in r.stderr and "2000" in r.stderr


@pytest.mark.parametrize("args", [
    ["gradients", "--text", "   "],
    ["gradients", "--text", "good", "--k", "0"],
    ["gradients", "--text", "good", "--k", "1.5"],
    ["gradients", "--text", "good", "--scheme", "sideways"],
    ["gradients", "--text", "good", "--scheme", "k1k2"],
    ["gradients", "--text", "good", "--model", "no-such-model"],
    ["predict", "--text", ""],
    ["train", "--out", "/tmp/never", "--data-dir", "/nonexistent/folder"],
    ["train", "--out", "/tmp/never", "--data-dir", ".", "--vocab", "/nonexistent/vocab.json"],
])
def test_bad_input_one_line_exit_2(ckpt, args):
    if "--model" not in args:
        args = [*args, "--model", str(ckpt)] if args[0] != "train" else args
    r = run(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in r.stderr


def test_tampered_weights_exit_2(ckpt):
    p = ckpt / "model.safetensors"
    raw = bytearray(p.read_bytes())
    raw[-3] ^= 0xFF
    p.write_bytes(bytes(raw))
    r = run("predict", "--model", str(ckpt), "--text", "good")
    assert r.returncode == 2 and "sha256" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_train_dry_run_on_generated_jsonl(tmp_path):
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        rows = [{"text": " ".join(rng.choice(["good", "great"] if y else ["bad", "awful"], 3)) + " the film",
                 "label": int(y)} for y in rng.integers(0, 2, 40)]
        (tmp_path / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = run("train", "--scheme", "chunked", "--k", "2", "--data-dir", str(tmp_path), "--out", str(tmp_path / "m"),
            "--epochs", "2", "--hidden", "8", "--embed-dim", "4")
    assert r.returncode == 0, r.stderr
    card = json.loads((tmp_path / "m" / "card.json").read_text())
    assert card["scheme"] == "chunked" and card["k"] == 2 and 0 <= card["test_accuracy"] <= 1
    assert card["epochs"] == 2 and card["tokens_per_s"] > 0 and len(card["sha256"]) == 64


@pytest.mark.parametrize("args,says", [
    (["attribute", "--text", "good", "--method", "integrated_gradients", "--n-steps", "1" + "0" * 30], "from 1 to 64"),
    (["attribute", "--text", "good", "--n-steps", "10000000"], "from 1 to 64"),
    (["attribute", "--text", "good", "--max-evaluations", "1000000000"], "max-evaluations"),
    (["attribute", "--text", "good", "--label", "2"], "label"),
    (["lab", "run", "--seq-len", "1" + "0" * 12], "seq-len"),
    (["lab", "run", "--hidden", "100000"], "hidden"),
    (["lab", "run", "--embed", "1000000"], "embed"),
    (["lab", "run", "--lr", "nan"], "lr"),
    (["lab", "sweep", "--out", "results/x.txt"], ".json"),
    (["study", "--out", "/proc/no/such/x.json", "--data-dir", "/nonexistent"], "cannot be written"),
    (["train", "--out", "/proc/no/such/m", "--data-dir", "/nonexistent"], "cannot be written"),
    (["export", "--out", "/proc/no/such/site"], "cannot be written"),
    (["export", "--out", "/tmp/site-x", "--models", "gpt-9"], "unknown model"),
    (["predict", "--text", "good \udcff film"], "UTF-8"),
])
def test_every_bad_input_is_one_line_and_exit_2_before_any_work(ckpt, args, says, capsys):
    """In process: a refusal names what to change, in one line, before a model or data is touched."""
    from tbptt_viz.cli import main

    if args[0] in ("attribute", "predict"):
        args = [*args, "--model", str(ckpt)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1 and says in err, err


def test_train_on_empty_files_is_refused(tmp_path, capsys):
    from tbptt_viz.cli import main

    for split in ("train", "test"):
        (tmp_path / f"{split}.jsonl").write_text("")
    assert main(["train", "--data-dir", str(tmp_path), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ("no reviews" in err or "empty" in err or "no " in err), err
    assert not (tmp_path / "m" / "card.json").exists()


def test_invalid_utf8_on_stdin_is_refused_with_its_offset(ckpt):
    r = subprocess.run([sys.executable, "-m", "tbptt_viz", "predict", "--model", str(ckpt), "--text", "-"],
                       input=b"good film \xff\xfe bad", capture_output=True, cwd=ROOT, timeout=120,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    err = r.stderr.decode()
    assert r.returncode == 2 and "byte 10" in err and err.count("\n") == 1, err


# ---- refusals come before torch -----------------------------------------------------------------------------

# Runs the CLI with torch (and safetensors' torch loader) made unimportable: a refusal that imported either
# would end in an ImportError traceback, not in one line and exit 2.
NO_TORCH = """
import sys
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith(("torch.", "safetensors.torch")):
            raise ImportError(f"{name} imported before the arguments were checked")
sys.meta_path.insert(0, Blocked())
from tbptt_viz.cli import main
sys.exit(main(sys.argv[1:]))
"""


def refuse_without_torch(*args, env=None):
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    r = subprocess.run([sys.executable, "-c", NO_TORCH, *args], capture_output=True, text=True, cwd=ROOT,
                       env=full_env, timeout=60)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:"), (r.returncode, r.stderr)
    return lines[0]


def study_parts(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "test.jsonl").write_text(json.dumps({"text": "good film", "label": 1}) + "\n")
    return data


@pytest.mark.parametrize("args, says", [
    (["predict", "--model", "nope", "--text", "good"], "unknown model 'nope'; available: imdb-"),
    (["predict", "--model", "", "--text", "good"], "the model name is empty"),
    (["predict", "--model", "imdb-full", "--text", "   "], "empty"),
    (["predict", "--model", "imdb-full", "--text", "<br /><br />"], "the review is empty"),
    (["predict", "--model", "/nonexistent/model", "--text", "good"], "no checkpoint folder"),
    (["gradients", "--model", "imdb-full", "--text", "good", "--scheme", "chunked", "--k", "0"], "--k"),
    (["gradients", "--model", "imdb-full", "--text", "good", "--scheme", "k1k2", "--k1", "3"], "k2"),
    (["attribute", "--model", "imdb-full", "--text", "good", "--method", "shap"], "invalid choice"),
    (["attribute", "--model", "imdb-full", "--text", "good", "--backprop", "last-k", "--k", "-3"], "--k"),
    (["probe", "--model", "nope", "--text", "good"], "unknown model"),
    (["study", "--out", "s.json", "--data-dir", "/nonexistent"], "the data folder '/nonexistent' does not exist"),
    (["study", "--out", "s.json", "--models", "", "--data-dir", "/nonexistent"], "--models is empty"),
    (["study", "--out", "s.json", "--models", "imdb-full,nope"], "unknown model 'nope'"),
    (["study", "--out", "s.json", "--models", "imdb-full", "--ig-models", "imdb-last-k30"], "not among the studied"),
    (["study", "--out", "s.json", "--positive-phrase", "zzzqqq wonderful"], "unknown: ['zzzqqq']"),
    (["study", "--out", "s.json", "--merge", "/nonexistent/a.json"], "cannot be read"),
    (["study", "--out", "s.json", "--merge", " , "], "--merge is empty"),
    (["export", "--out", "site-x", "--models", ""], "--models is empty"),
    (["export", "--out", "site-x", "--models", " , "], "--models is empty"),
    (["export", "--out", "site-x", "--models", "imdb-full,gpt-9"], "unknown model(s) gpt-9"),
    (["train", "--out", "m", "--data-dir", "/nonexistent"], "does not exist"),
    (["train", "--out", "m", "--vocab", "/nonexistent/vocab.json"], "vocab.json"),
    (["lab", "run", "--seq-len", "10000", "--n-train", "1000000", "--epochs", "10000", "--json"],
     "MB of memory, over the 1,024 MB budget"),
    (["lab", "run", "--n-train", "1000000", "--batch-size", "100000"], "over the 1,024 MB budget"),
    (["lab", "run", "--epochs", "10000", "--n-train", "100000"], "budget"),
    (["lab", "run", "--task", "planted", "--distance", "100"], "distance 100 must be below seq_len 100"),
    (["lab", "run", "--task", "sideways"], "unknown task"),
    (["lab", "run", "--scheme", "k1k2", "--k1", "0"], "k1"),
    (["lab", "sweep", "--out", "x.txt"], ".json"),
])
def test_refusals_come_before_torch_or_any_model(tmp_path, args, says):
    args = [a.replace("s.json", str(tmp_path / "s.json")).replace("site-x", str(tmp_path / "site"))
            for a in args]
    if args[0] == "train" and args[1] == "--out":
        args[2] = str(tmp_path / "m")
    line = refuse_without_torch(*args)
    assert says in line, line
    assert not (tmp_path / "site").exists()  # export refused before creating its folder


def test_lab_budget_can_be_raised_knowingly():
    line = refuse_without_torch("lab", "run", "--n-train", "30000", "--seq-len", "1000", "--max-minutes", "100000")
    assert "MB of memory" in line  # still over the memory bound
    line = refuse_without_torch("lab", "run", "--n-train", "30000", "--seq-len", "1000", "--max-memory", "100000",
                                "--max-minutes", "0.01")
    assert "over the 1 s budget" in line


def test_importing_the_cli_and_the_package_does_not_import_torch():
    code = ("import sys, tbptt_viz, tbptt_viz.cli, tbptt_viz.present.params, tbptt_viz.experiments.lab.settings; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'safetensors', 'streamlit')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.stdout.strip() == "[]", r.stderr
    code = "from tbptt_viz import gradient_flow, load_pretrained, attribute; import tbptt_viz; print(tbptt_viz.Scheme)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0 and "Scheme" in r.stdout, r.stderr


def test_models_lists_a_broken_model_once_with_its_reason(ckpt, tmp_path):
    import shutil

    broken = ckpt.parent / "tiny-broken"
    shutil.copytree(ckpt, broken)
    config = json.loads((broken / "config.json").read_text())
    (broken / "config.json").write_text(json.dumps({**config, "vocab_size": str(config["vocab_size"])}))
    from tbptt_viz.core.checkpoint import HASHED, sha256

    card = json.loads((broken / "card.json").read_text())
    (broken / "card.json").write_text(json.dumps({**card, **{k: sha256(broken / n) for k, n in HASHED.items()}}))
    r = run("models", "--json", env={"TBPTT_VIZ_PRETRAINED": str(ckpt.parent)})
    listing = json.loads(r.stdout)
    assert [(m["name"], m["broken"] is None) for m in listing] == [("tiny", True), ("tiny-broken", False)]
    assert "vocab_size must be a JSON whole number" in listing[1]["broken"]
    r = run("models", env={"TBPTT_VIZ_PRETRAINED": str(ckpt.parent)})
    assert r.stdout.count("BROKEN") == 1
