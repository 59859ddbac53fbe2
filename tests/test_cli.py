"""Every CLI command, run as a user would: a subprocess (JSON on stdout, one-line errors with exit 2), or
`cli.main` in this process where only the refusal is checked."""
import copy
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import WORDS

from tbptt_viz import gradient_flow
from tbptt_viz.attribution.methods import attribute, context_probe
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_gradients_table_stdin_and_no_truncation_note(ckpt):
    r = run("gradients", "--model", str(ckpt), "--text", "-", "--k", "500", stdin="good film")
    assert r.returncode == 0, r.stderr
    assert "no truncation" in r.stdout and "good" in r.stdout


@pytest.mark.slow
def test_predict(ckpt, model):
    r = run("predict", "--model", str(ckpt), "--text", TEXT, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    ids = torch.tensor([model.vocab.encode(out["tokens"])])
    with torch.no_grad():
        assert out["prob_positive"] == pytest.approx(torch.sigmoid(model.float()(ids)).item(), abs=1e-6)


@pytest.mark.slow
def test_models_json(ckpt):
    r = run("models", "--json", env={"TBPTT_VIZ_PRETRAINED": str(ckpt.parent)})
    cards = json.loads(r.stdout)
    assert [c["name"] for c in cards] == ["tiny"] and cards[0]["k"] == 5 and "test_accuracy" in cards[0]


@pytest.mark.slow
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
@pytest.mark.slow
def test_bad_input_one_line_exit_2(ckpt, args):
    if "--model" not in args:
        args = [*args, "--model", str(ckpt)] if args[0] != "train" else args
    r = run(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in r.stderr


@pytest.mark.slow
def test_tampered_weights_exit_2(ckpt):
    p = ckpt / "model.safetensors"
    raw = bytearray(p.read_bytes())
    raw[-3] ^= 0xFF
    p.write_bytes(bytes(raw))
    r = run("predict", "--model", str(ckpt), "--text", "good")
    assert r.returncode == 2 and "sha256" in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.slow
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


def test_train_update_per_chunk_is_recorded_and_trains_otherwise(tmp_path):
    from safetensors.torch import load_file

    rng = np.random.default_rng(1)
    for split in ("train", "test"):
        rows = [{"text": " ".join(rng.choice(["good", "great", "the", "film"] if y else ["bad", "awful", "a", "plot"],
                                             9)), "label": int(y)} for y in rng.integers(0, 2, 24)]
        (tmp_path / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    weights = {}
    for update in ("per-review", "per-chunk"):
        r = run("train", "--scheme", "chunked", "--k", "3", "--data-dir", str(tmp_path), "--out", str(tmp_path / update),
                "--epochs", "1", "--hidden", "8", "--embed-dim", "4", "--update", update)
        assert r.returncode == 0, r.stderr
        card = json.loads((tmp_path / update / "card.json").read_text())
        assert card["update"] == card["train_config"]["update"] == update
        assert card["label"] == "chunked (K=3)" + (", a step per chunk" if update == "per-chunk" else "")
        weights[update] = load_file(tmp_path / update / "model.safetensors")
    assert not torch.allclose(weights["per-review"]["lstm.weight_hh_l0"], weights["per-chunk"]["lstm.weight_hh_l0"])
    r = run("train", "--out", str(tmp_path / "x"), "--data-dir", str(tmp_path), "--update", "per-batch")
    assert r.returncode == 2 and "per-chunk" in r.stderr and len(r.stderr.strip().splitlines()) == 1


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


@pytest.mark.slow
def test_invalid_utf8_on_stdin_is_refused_with_its_offset(ckpt):
    r = subprocess.run([sys.executable, "-m", "tbptt_viz", "predict", "--model", str(ckpt), "--text", "-"],
                       input=b"good film \xff\xfe bad", capture_output=True, cwd=ROOT, timeout=120,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    err = r.stderr.decode()
    assert r.returncode == 2 and "byte 10" in err and err.count("\n") == 1, err


def close(a, b, tol=1e-9):
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), rtol=tol, atol=tol)


# ---- attribute and probe -----------------------------------------------------------------------------------

def start(*args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "tbptt_viz", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)


@pytest.mark.slow
def test_cli_attribute_and_probe(model, tmp_path):
    m = copy.deepcopy(model).float()
    folder = str(tmp_path / "m")
    save_checkpoint(m, folder, {"scheme": "full"})
    review = ["--model", folder, "--text", TEXT]
    # all at once: each process spends most of its time importing torch
    runs = {
        "ig": start("attribute", *review, "--method", "integrated_gradients", "--json"),
        "last-k": start("attribute", *review, "--method", "saliency", "--backprop", "last-k", "--k", "5", "--json"),
        "table": start("attribute", *review, "--method", "occlusion", "--backprop", "chunked", "--k", "4"),
        "probe": start("probe", *review, "--json"),
        "bad k": start("attribute", *review, "--backprop", "last-k", "--k", "0"),
        "bad scheme": start("attribute", *review, "--backprop", "sideways"),
        "empty": start("attribute", "--model", folder, "--text", "   "),
    }
    out = {}
    for name, p in runs.items():
        stdout, stderr = p.communicate(timeout=120)
        out[name] = (p.returncode, stdout, stderr)

    rc, stdout, stderr = out["ig"]
    assert rc == 0, stderr
    ig = json.loads(stdout)
    ids = torch.tensor(ig["ids"])
    assert ig["ids"] == m.vocab.encode(ig["tokens"]) and ig["method"] == "integrated_gradients"
    assert (ig["backprop"], ig["k"], ig["k1"], ig["k2"]) == ("full", None, None, None)
    lib = attribute(m, ids, "integrated_gradients")
    close(ig["scores"], lib.scores, 1e-6)
    assert ig["convergence_delta"] == pytest.approx(lib.convergence_delta, abs=1e-6)
    assert ig["completeness_gap"] == pytest.approx(lib.completeness_gap, abs=1e-6)
    assert (ig["converged"], ig["evaluations"], ig["rank_one_intervals"]) == \
        (lib.converged, lib.evaluations, lib.rank_one_intervals)
    assert ig["error_estimate"] == pytest.approx(lib.error_estimate, rel=1e-3, abs=1e-6)
    assert ig["tolerance"] == pytest.approx(lib.tolerance, rel=1e-6)
    close(ig["token_error"], lib.token_error, 1e-6)
    assert ig["converged"] == (ig["error_estimate"] <= ig["tolerance"])
    assert ig["prob_positive"] == pytest.approx(lib.prob_positive, abs=1e-7)

    rc, stdout, stderr = out["last-k"]
    assert rc == 0, stderr
    cut = json.loads(stdout)
    assert (cut["backprop"], cut["k"], cut["method"]) == ("last-k", 5, "saliency")
    assert cut["scores"][: len(ids) - 5] == [0.0] * (len(ids) - 5) and "last-K" in cut["note"]
    close(cut["scores"], attribute(m, ids, "saliency", "last-k", k=5).scores, 1e-6)
    assert cut["convergence_delta"] is None and cut["windows"] == [[len(ids) - 1, len(ids) - 5]]

    rc, stdout, stderr = out["table"]
    assert rc == 0 and "truncation does not apply" in stdout and "love" in stdout, stderr

    rc, stdout, stderr = out["probe"]
    assert rc == 0, stderr
    probe = json.loads(stdout)
    lib = context_probe(m, ids)
    assert probe["ids"] == ig["ids"] and probe["last_n"] == list(range(1, len(ids) + 1))
    close(probe["prob_last_n"], lib.prob_last_n, 1e-7)
    close(probe["prob_without_first_n"], lib.prob_without_first_n, 1e-7)
    assert probe["prob_positive"] == pytest.approx(ig["prob_positive"], abs=1e-6)

    for name in ("bad k", "bad scheme", "empty"):
        rc, stdout, stderr = out[name]
        assert rc == 2 and stdout == "" and "Traceback" not in stderr, (name, stderr)
        assert len(stderr.strip().splitlines()) == 1 and stderr.startswith("error:"), (name, stderr)


@pytest.mark.parametrize("args", [["--method", "lime"], ["--model", "no-such-model"], ["--k", "-3"],
                                  ["--backprop", "k1k2", "--k1", "4"]])
def test_cli_attribute_bad_input_in_process(args, capsys):
    from tbptt_viz.cli import main

    assert main(["attribute", "--text", "good film", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and len(err.strip().splitlines()) == 1


# ---- lab -----------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_cli_lab_run_json_matches_an_in_process_run():
    flags = ["--task", "any-one", "--scheme", "last-k", "--k", "5", "--ones-frac", "0.2", "--n-train", "64",
             "--n-test", "20", "--epochs", "2", "--seed", "2"]
    out = run("lab", "run", *flags, "--json")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert {"test_accuracy", "curve", "config"} <= got.keys()
    from tbptt_viz.experiments.lab.runs import LabConfig, lab_run

    want = lab_run(LabConfig(task="any-one", scheme="last-k", k=5, ones_in_window_frac=0.2, n_train=64, n_test=20,
                             epochs=2, seed=2))
    assert got["config"] == want.config.to_dict()
    assert got["test_accuracy"] == pytest.approx(want.test_accuracy)
    assert got["curve"]["loss"] == pytest.approx(want.curve.loss.tolist(), rel=1e-5)
    assert len(got["accuracy_by_position"]) == 20


@pytest.mark.slow
@pytest.mark.parametrize("args", [["lab", "run", "--short-frac", "2"],  # argparse's check
                                  ["lab", "run", "--task", "planted", "--distance", "100"],  # LabConfig's check
                                  ["lab"]])  # no sub-subcommand
def test_cli_lab_bad_input_is_one_line_and_exit_2(args):
    out = run(*args)
    assert out.returncode == 2 and out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1 and out.stderr.startswith("error:")


# ---- study -----------------------------------------------------------------------------------------------------

def study_review(rng: random.Random, label: int, n: int) -> str:
    polar = ["good", "great", "love"] if label else ["bad", "awful", "hate"]
    return " ".join(rng.choice(WORDS + polar * 4) for _ in range(n))


@pytest.fixture
def imdb_folder(tmp_path):
    rng = random.Random(0)
    for split in ("train", "test"):
        with open(tmp_path / f"{split}.jsonl", "w") as f:
            for i in range(40):
                label = i % 2
                f.write(json.dumps({"text": study_review(rng, label, rng.choice([6, 25, 40, 110, 130])),
                                    "label": label}) + "\n")
    return tmp_path


@pytest.mark.slow
def test_cli_study_on_a_saved_checkpoint(model, imdb_folder, tmp_path, capsys):
    from tbptt_viz.cli import main

    save_checkpoint(model.float(), tmp_path / "m", {"scheme": "full", "k": None, "test_accuracy": 0.5})
    out = tmp_path / "res" / "tiny_study.json"
    code = main(["study", "--data-dir", str(imdb_folder), "--out", str(out), "--models", str(tmp_path / "m"),
                     "--limit", "30", "--plant-sample", "10", "--attribution-sample", "4",
                     "--positive-phrase", "great film !", "--negative-phrase", "awful plot ."])
    assert code == 0, capsys.readouterr().err
    res = json.loads(out.read_text())
    assert set(res) >= {"settings", "models", "total_wall_time_s", "machine", "data", "regimes", "intervals"}
    assert res["reviews"] == 30 and res["settings"]["plant_sample"] == 10
    m = res["models"]["m"]
    assert m["card"]["name"] == "m" and m["card"]["scheme"] == "full" and m["card"]["test_accuracy"] == 0.5
    assert m["attribution"]["occlusion"]["n"] == 4 and sum(m["accuracy"]["count"]) == 30
    assert m["attribution"]["integrated_gradients"]["n"] == 4  # seed 0 (a bare name) gets IG by default
    from tbptt_viz.present import study_figures as figures_study

    for kind in figures_study.FIGURES:
        assert (tmp_path / "res" / f"tiny_study_{kind}.html").is_file()


@pytest.mark.parametrize("extra", [["--models", "no-such-model"], ["--models", ","], ["--limit", "0"],
                                   ["--out", "x.txt"], ["--data-dir", "/no/such/folder"],
                                   ["--positive-phrase", "great zebra"]])
def test_cli_study_bad_input_exits_2_with_one_line(model, imdb_folder, tmp_path, capsys, extra):
    from tbptt_viz.cli import main

    save_checkpoint(model.float(), tmp_path / "m", {"scheme": "full"})
    args = {"--data-dir": str(imdb_folder), "--out": str(tmp_path / "o.json"), "--models": str(tmp_path / "m"),
            "--limit": "10"}
    for flag, value in zip(extra[::2], extra[1::2]):
        args[flag] = value
    code = main(["study", *[x for kv in args.items() for x in kv]])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and err.count("\n") == 1
    assert not (tmp_path / "o.json").exists()


# ---------------------------------------------------------------------------------------------------------
# Evidence: exposure-stats, exposure, connectivity, attribute --method shapley
@pytest.fixture
def exposure_file(ckpt, tmp_path):
    """Exposure statistics built by the CLI from a generated train split, for the tiny checkpoint's vocabulary."""
    rows = [{"text": "the film was good . i love it", "label": 1}, {"text": "love the plot , bad end", "label": 0},
            {"text": "a good film " * 20 + "love", "label": 1}]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "stats" / "exposure.safetensors"
    r = run("exposure-stats", "--data-dir", str(tmp_path), "--vocab", str(ckpt / "vocab.json"), "--out", str(out))
    assert r.returncode == 0, r.stderr
    built = json.loads(r.stdout)
    assert built["reviews"] == 3 and built["bytes"] == out.stat().st_size
    return out


@pytest.mark.slow
def test_exposure_json_counts_the_generated_split(ckpt, exposure_file):
    r = run("exposure", "--model", str(ckpt), "--text", "I love the zzz film", "--scheme", "last-k", "--k", "3",
            "--stats", str(exposure_file), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) >= {"tokens", "occurrences", "in_reach", "reviews"} and out["reviews"] == 3
    assert out["tokens"] == ["i", "love", "the", "zzz", "film"]
    # last 3 tokens: "i love it", ", bad end", "good film love"; "the" is in none of them, "love" in two
    assert out["occurrences"] == [1, 3, 2, None, 2] and out["in_reach"] == [1, 2, 0, None, 1]
    assert out["exact"] and out["in_reach_high"] == out["in_reach"]
    full = json.loads(run("exposure", "--model", str(ckpt), "--text", "love", "--scheme", "full",
                          "--stats", str(exposure_file), "--json").stdout)
    assert full["in_reach"] == full["occurrences"] == [3]
    table = run("exposure", "--model", str(ckpt), "--text", "love zzz", "--stats", str(exposure_file))
    assert table.returncode == 0 and "(unknown word)" in table.stdout


@pytest.mark.slow
def test_exposure_refuses_stats_of_another_vocabulary(tmp_path, exposure_file):
    r = run("exposure", "--model", "imdb-last-k30", "--text", "love", "--stats", str(exposure_file))
    assert r.returncode == 2 and "another vocabulary" in r.stderr and r.stderr.count("\n") == 1


@pytest.mark.slow
def test_connectivity_json_matches_library(ckpt, model):
    from tbptt_viz import connectivity

    r = run("connectivity", "--model", str(ckpt), "--text", TEXT, "--source", "2", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    c = connectivity(model.float(), torch.tensor(out["ids"]), 2)
    assert out["positions"][0] == 2 and len(out["state_norm"]) == len(out["ids"]) - 2
    for key in ("state_norm", "cell_norm", "logit_grad"):
        np.testing.assert_allclose(out[key], getattr(c, key), rtol=1e-9)
    assert run("connectivity", "--model", str(ckpt), "--text", TEXT, "--source", "3").returncode == 0
    mapped = json.loads(run("connectivity", "--model", str(ckpt), "--text", TEXT, "--source", "2", "--map",
                            "--json").stdout)["logit_grad_map"]
    assert mapped[2][2:] == pytest.approx(out["logit_grad"], rel=1e-5) and mapped[3][2] is None


@pytest.mark.slow
def test_attribute_shapley_json(ckpt, model):
    r = run("attribute", "--model", str(ckpt), "--text", TEXT, "--method", "shapley", "--groups", "span",
            "--span", "2", "--samples", "4", "--repeats", "3", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    T = len(out["tokens"])
    assert len(out["groups"]) == len(out["standard_error"]) == len(out["group_values"]) == (T + 1) // 2
    assert len(out["scores"]) == T and out["repeats"] == 3 and out["samples"] == 4
    assert abs(sum(out["scores"]) - out["target_change"]) < 1e-4 and abs(out["completeness_gap"]) < 1e-4
    table = run("attribute", "--model", str(ckpt), "--text", TEXT, "--method", "shapley")
    assert table.returncode == 0 and "exact (every coalition)" in table.stdout


@pytest.mark.parametrize("args,says", [
    (["attribute", "--text", "good", "--method", "shapley", "--samples", "3"], "even"),
    (["attribute", "--text", "good", "--method", "shapley", "--repeats", "1"], "repeats"),
    (["attribute", "--text", "good", "--method", "shapley", "--span", "0"], "span"),
    (["connectivity", "--text", "good film", "--source", "2"], "from 0 to 1"),
    (["connectivity", "--text", "good film", "--source", "-1"], "source"),
    (["connectivity", "--text", "good " * 301, "--source", "0", "--map"], "up to 300"),
    (["exposure", "--text", "good", "--scheme", "k1k2", "--k1", "3"], "k2"),
    (["exposure", "--text", "good", "--stats", "/nonexistent/e.safetensors"], "missing"),
    (["exposure-stats", "--out", "/tmp/x.bin", "--data-dir", "/nonexistent"], ".safetensors"),
])
def test_evidence_bad_input_is_one_line_and_exit_2(ckpt, args, says, capsys):
    from tbptt_viz.cli import main

    if args[0] != "exposure-stats":
        args = [*args, "--model", str(ckpt)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1 and says in err, err


def test_cli_lab_run_update_flag():
    flags = ["--task", "planted", "--seq-len", "12", "--distance", "3", "--scheme", "chunked", "--k", "4",
             "--n-train", "16", "--n-test", "10", "--epochs", "1", "--hidden", "4", "--embed", "4"]
    out = run("lab", "run", *flags, "--update", "per-chunk", "--json")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    from tbptt_viz.experiments.lab.runs import LabConfig, lab_run

    want = lab_run(LabConfig(task="planted", seq_len=12, distance=3, scheme="chunked", k=4, n_train=16, n_test=10,
                             epochs=1, hidden=4, embed=4, update="per-chunk"))
    assert got["config"]["update"] == "per-chunk" and got["scheme_label"].endswith("a step per chunk")
    assert got["curve"]["loss"] == pytest.approx(want.curve.loss.tolist(), rel=1e-5)
    bad = run("lab", "run", "--update", "per-epoch")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "per-chunk" in bad.stderr


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
    (["lab", "run", "--update", "per-epoch"], "unknown update rule 'per-epoch'; choose one of per-review, per-chunk"),
    (["train", "--out", "m", "--update", "per-epoch"], "invalid choice: 'per-epoch'"),
    (["attribute", "--model", "imdb-full", "--text", "good", "--method", "shapley", "--samples", "3"], "--samples"),
    (["attribute", "--model", "nope", "--text", "good", "--method", "shapley"], "unknown model 'nope'"),
    (["exposure", "--model", "nope", "--text", "good"], "unknown model 'nope'"),
    (["exposure", "--model", "imdb-full", "--text", "good", "--scheme", "last-k", "--k", "0"], "--k"),
    (["exposure", "--model", "imdb-full", "--text", "good", "--stats", "/nonexistent/e.safetensors"], "missing"),
    (["exposure-stats", "--out", "e.txt"], ".safetensors"),
    (["exposure-stats", "--out", "s.safetensors", "--data-dir", "/nonexistent"], "does not exist"),
    (["exposure-stats", "--out", "s.safetensors", "--vocab", "/nonexistent/vocab.json"], "vocab.json"),
    (["connectivity", "--model", "imdb-full", "--text", "good film", "--source", "5"],
     "--source must be a token position from 0 to 1 (the review has 2 tokens)"),
    (["connectivity", "--model", "imdb-full", "--text", "good " * 400, "--source", "0", "--map"],
     "--map is drawn for reviews up to 300 tokens; this one has 400"),
    (["connectivity", "--model", "nope", "--text", "good", "--source", "0"], "unknown model 'nope'"),
])
def test_refusals_come_before_torch_or_any_model(tmp_path, args, says):
    args = [a.replace("s.json", str(tmp_path / "s.json")).replace("site-x", str(tmp_path / "site"))
            .replace("s.safetensors", str(tmp_path / "s.safetensors")) for a in args]
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
