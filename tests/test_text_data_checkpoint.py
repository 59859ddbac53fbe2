import gzip
import json

import pytest
import torch

from tbptt_viz.core.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from tbptt_viz.core.data import DATA_DIR_ENV, DataUnavailable, examples, load_imdb, seeded_subset
from tbptt_viz.core.model import ModelConfig, lengths_of
from tbptt_viz.core.text import MAX_TOKENS, EmptyReview, Vocab, clean_text, prepare_review, tokenize

from conftest import unroll


def test_clean_text_normalises_every_line_break_and_drops_controls():
    assert clean_text("a\r\nb\rc\u2028d\u2029e\x85f\x0bg\x0ch") == "a\nb\nc\nd\ne\nf\ng\nh"
    assert clean_text("x\x00y\x1bz\tw") == "xyz\tw" and clean_text(None) == ""


def test_seeded_subset_is_seeded_ordered_and_without_repeats():
    import numpy as np

    rows = [f"r{i}" for i in range(100)]
    a = seeded_subset(rows, 10, seed=3)
    want = [rows[i] for i in sorted(np.random.default_rng(3).choice(100, 10, replace=False))]
    assert a == want and len(set(a)) == 10 and a == sorted(a, key=rows.index)  # the file's order kept
    assert a == seeded_subset(rows, 10, seed=3) and a != seeded_subset(rows, 10, seed=4)
    assert a != rows[:10]  # never simply the first rows (IMDB files are sorted by label)
    assert seeded_subset(rows, None, 0) is rows and seeded_subset(rows, 100, 0) is rows and \
        seeded_subset(rows, 0, 0) is rows


def test_tokenize():
    assert tokenize("I LOVE this!<br /><br />Don't miss it, ok?") == \
        ["i", "love", "this", "!", "don't", "miss", "it", ",", "ok", "?"]
    assert tokenize("   ") == []


def test_vocab_build_round_trip(tmp_path):
    v = Vocab.build(["b a a c", "a b <br /> d", "c c c"], max_size=5, min_count=1)
    assert v.itos == ("<pad>", "<unk>", "c", "a", "b")  # by count (c 4, a 3, b 2, d 1), capped at 5
    assert v.encode(["a", "zzz", "b"]) == [3, 1, 4]
    assert v.decode([2, 3]) == ["c", "a"]
    tie = Vocab.build(["y x"], min_count=1)
    assert tie.itos[2:] == ("x", "y")  # ties alphabetical
    v.save(tmp_path / "v.json")
    assert Vocab.load(tmp_path / "v.json") == v
    (tmp_path / "bad.json").write_text('{"words": 1}')
    with pytest.raises(ValueError):
        Vocab.load(tmp_path / "bad.json")


def test_prepare_review(vocab):
    r = prepare_review("good film", vocab)
    assert r.tokens == ("good", "film") and not r.was_cut and r.notice is None
    long = prepare_review("good " * (MAX_TOKENS + 5), vocab)
    assert len(long.ids) == MAX_TOKENS and long.was_cut and str(MAX_TOKENS) in long.notice
    words = " ".join(f"w{i}" for i in range(MAX_TOKENS + 5))
    assert prepare_review(words, vocab).tokens[0] == "w5" and "last" in prepare_review(words, vocab).notice
    first = prepare_review(words, vocab, keep="first")
    assert first.tokens[0] == "w0" and first.tokens[-1] == f"w{MAX_TOKENS - 1}" and "first" in first.notice
    with pytest.raises(EmptyReview):
        prepare_review(" \n ", vocab)


def _write_jsonl(folder, split, rows, gz=True):
    folder.mkdir(exist_ok=True)
    path = folder / (f"{split}.jsonl.gz" if gz else f"{split}.jsonl")
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    path.write_bytes(gzip.compress(data) if gz else data)


def test_load_imdb_from_folder_and_env(tmp_path, monkeypatch):
    _write_jsonl(tmp_path / "d", "train", [{"text": "good", "label": 1}, {"text": "bad", "label": 0}])
    _write_jsonl(tmp_path / "d", "test", [{"text": "fine", "label": 1, "id": "x"}], gz=False)
    rows = load_imdb("train", tmp_path / "d")
    assert [(r.text, r.label) for r in rows] == [("good", 1), ("bad", 0)]
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "d"))
    assert load_imdb("test")[0].id == "test/0"  # "<split>/<row>", as for the hub


def test_load_imdb_errors(tmp_path, monkeypatch):
    with pytest.raises(DataUnavailable, match="no test.jsonl"):
        load_imdb("test", tmp_path)
    _write_jsonl(tmp_path, "train", [{"text": "good", "label": 3}])
    with pytest.raises(DataUnavailable, match="line 1"):
        load_imdb("train", tmp_path)
    (tmp_path / "train.jsonl.gz").unlink()
    (tmp_path / "train.jsonl").write_text('["not", "an", "object"]\n')
    with pytest.raises(DataUnavailable, match="line 1"):
        load_imdb("train", tmp_path)
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.setattr("tbptt_viz.core.data.hub_reachable", lambda timeout=2.0: False)
    with pytest.raises(DataUnavailable, match="--data-dir") as e:
        load_imdb("train")
    assert DATA_DIR_ENV in str(e.value) and "hub" in str(e.value)


def test_embedded_examples_are_usable(vocab):
    ex = examples()
    assert 15 <= len(ex) <= 25
    assert len({e.id for e in ex}) == len(ex) and {e.label for e in ex} == {0, 1}
    assert all(e.title and e.text.strip() for e in ex)
    opener = [e for e in ex if e.text.lower().startswith("i love this")]
    assert opener and len(tokenize(opener[0].text)) >= 100


def test_forward_reads_last_real_token(model):
    ids = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0]])
    assert lengths_of(ids).tolist() == [4, 2]
    with torch.no_grad():
        both = model(ids)
        assert both[1].item() == pytest.approx(model(torch.tensor([[9, 10]]))[0].item(), abs=1e-12)
        # an explicit length keeps the read position when a real token is replaced by pad
        occluded = torch.tensor([[5, 6, 7, 0]])
        assert model(occluded, torch.tensor([4])).item() != pytest.approx(model(occluded).item())


def test_unrolled_twin_equals_nn_lstm(model):
    ids = torch.randint(2, 50, (30,), generator=torch.Generator().manual_seed(0))
    u = unroll(model, ids)
    with torch.no_grad():
        out, (h, c) = model.lstm(model.embedding(ids)[None])
    torch.testing.assert_close(u.h, out[0])
    torch.testing.assert_close(u.c[-1], c[0, 0])
    assert u.gates.shape == (30, 4, 8)


def test_checkpoint_round_trip_and_tamper(model, tmp_path):
    card = save_checkpoint(model.float(), tmp_path / "m", {"scheme": "full", "test_accuracy": 0.5})
    assert card["name"] == "m" and len(card["sha256"]) == 64
    loaded = load_checkpoint(tmp_path / "m")
    ids = torch.tensor([[3, 4, 5]])
    with torch.no_grad():
        assert loaded(ids).item() == pytest.approx(model(ids).item(), abs=1e-6)
    assert not loaded.training and loaded.vocab == model.vocab
    raw = bytearray((tmp_path / "m" / "model.safetensors").read_bytes())
    raw[-1] ^= 1
    (tmp_path / "m" / "model.safetensors").write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="sha256"):
        load_checkpoint(tmp_path / "m")
    (tmp_path / "m" / "card.json").unlink()
    with pytest.raises(CheckpointError, match="missing card.json"):
        load_checkpoint(tmp_path / "m")


def rehash(folder):
    """Make the card match edited files again (what an attacker who edits the card too could do)."""
    from tbptt_viz.core.checkpoint import HASHED, sha256

    card = json.loads((folder / "card.json").read_text())
    card.update({key: sha256(folder / name) for key, name in HASHED.items()})
    (folder / "card.json").write_text(json.dumps(card))


def test_checkpoint_with_wrong_shapes_is_refused(model, tmp_path):
    save_checkpoint(model.float(), tmp_path / "m", {"scheme": "full"})
    (tmp_path / "m" / "config.json").write_text(json.dumps(ModelConfig(50, 6, 9).to_dict()))
    with pytest.raises(CheckpointError, match="config_sha256"):  # the config is covered by the card's hash
        load_checkpoint(tmp_path / "m")
    rehash(tmp_path / "m")
    with pytest.raises(CheckpointError, match="cannot build"):
        load_checkpoint(tmp_path / "m")


def test_config_and_vocab_are_hashed_and_bounded(model, tmp_path):
    folder = tmp_path / "m"
    save_checkpoint(model.float(), folder, {"scheme": "full"})
    vocab = json.loads((folder / "vocab.json").read_text())
    vocab["itos"][5] = "swapped"
    (folder / "vocab.json").write_text(json.dumps(vocab))
    with pytest.raises(CheckpointError, match="vocab_sha256"):
        load_checkpoint(folder)
    # a config asking for a huge embedding is refused before anything is allocated
    (folder / "config.json").write_text(json.dumps({"vocab_size": 3_000_000, "embed_dim": 64, "hidden_size": 8,
                                                    "forget_bias": 1.0}))
    rehash(folder)
    with pytest.raises(CheckpointError, match="vocab_size"):
        load_checkpoint(folder)
    (folder / "config.json").write_text(json.dumps({"vocab_size": 900_000, "embed_dim": 64, "hidden_size": 8,
                                                    "forget_bias": 1.0}))
    rehash(folder)
    with pytest.raises(CheckpointError, match="parameters"):
        load_checkpoint(folder)
    (folder / "config.json").write_text(json.dumps({"vocab_size": 50, "embed_dim": 6, "hidden_size": 8,
                                                    "forget_bias": float("nan")}).replace("NaN", "1e999"))
    rehash(folder)
    with pytest.raises(CheckpointError, match="forget_bias"):
        load_checkpoint(folder)


def test_oversized_weights_are_refused_before_reading(model, tmp_path, monkeypatch):
    from tbptt_viz.core import checkpoint

    folder = tmp_path / "m"
    save_checkpoint(model.float(), folder, {"scheme": "full"})
    with open(folder / "model.safetensors", "r+b") as f:  # a sparse 2 GB file: reading it whole would show
        f.truncate(2 << 30)
    read = []
    monkeypatch.setattr(checkpoint, "sha256", lambda path: read.append(path) or "x")
    with pytest.raises(CheckpointError, match="limit"):
        load_checkpoint(folder)
    assert read == []  # refused on its size alone


def test_broken_card_is_skipped_not_fatal(model, tmp_path, monkeypatch):
    from tbptt_viz.core.checkpoint import available_models, load_pretrained, model_cards

    save_checkpoint(model.float(), tmp_path / "good", {"scheme": "full"})
    save_checkpoint(model.float(), tmp_path / "bad", {"scheme": "full"})
    (tmp_path / "bad" / "card.json").write_text("{not json")
    monkeypatch.setenv("TBPTT_VIZ_PRETRAINED", str(tmp_path))
    assert available_models() == ["good"] and [c["name"] for c in model_cards()] == ["good"]
    with pytest.raises(CheckpointError, match="unknown model 'bad'"):
        load_pretrained("bad")


# ---- weights validated: each tampered file is re-hashed into the card, so only the new check can catch it ----

def tamper_weights(folder, change):
    """Rewrite model.safetensors with change(name, tensor) applied, then re-hash the card."""
    from safetensors.torch import load_file, save_file

    state = load_file(str(folder / "model.safetensors"))
    save_file({k: change(k, v) for k, v in state.items()}, str(folder / "model.safetensors"))
    rehash(folder)


def saved(model, tmp_path):
    folder = tmp_path / "m"
    save_checkpoint(model.float(), folder, {"scheme": "full"})
    return folder


@pytest.mark.parametrize("dtype", [torch.float16, torch.float64, torch.bfloat16, torch.int8, torch.int64])
def test_weights_other_than_float32_are_refused(model, tmp_path, dtype):
    folder = saved(model, tmp_path)
    load_checkpoint(folder)  # loads before the change
    tamper_weights(folder, lambda k, v: v.to(dtype) if k == "lstm.weight_hh_l0" else v)
    with pytest.raises(CheckpointError, match="lstm.weight_hh_l0 is stored as .*only float32"):
        load_checkpoint(folder)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_weights_are_refused(model, tmp_path, bad):
    folder = saved(model, tmp_path)

    def poison(k, v):
        if k != "head.weight":
            return v
        v = v.clone()
        v.view(-1)[3] = bad
        return v

    tamper_weights(folder, poison)
    with pytest.raises(CheckpointError, match="head.weight holds 1 NaN or infinite"):
        load_checkpoint(folder)


def test_a_padding_row_that_is_not_zero_is_refused(model, tmp_path):
    folder = saved(model, tmp_path)
    tamper_weights(folder, lambda k, v: v + (k == "embedding.weight") * 0.5)
    with pytest.raises(CheckpointError, match="padding row"):
        load_checkpoint(folder)


@pytest.mark.parametrize("change, message", [
    (lambda s: {**s, "extra.weight": torch.zeros(3)}, "unexpected: extra.weight"),
    (lambda s: {k: v for k, v in s.items() if k != "head.bias"}, "missing tensors: head.bias"),
    (lambda s: {**s, "head.weight": torch.zeros(2, s["head.weight"].shape[1])}, r"head.weight has shape \[2, 8\]"),
])
def test_tensors_must_be_the_contracts_in_the_configs_shapes(model, tmp_path, change, message):
    from safetensors.torch import load_file, save_file

    folder = saved(model, tmp_path)
    save_file(change(load_file(str(folder / "model.safetensors"))), str(folder / "model.safetensors"))
    rehash(folder)
    with pytest.raises(CheckpointError, match=f"cannot build the model from its files .*{message}"):
        load_checkpoint(folder)


def test_a_vocabulary_with_a_duplicate_word_is_refused(model, tmp_path):
    folder = saved(model, tmp_path)
    vocab = json.loads((folder / "vocab.json").read_text())
    vocab["itos"][7] = vocab["itos"][9]
    (folder / "vocab.json").write_text(json.dumps(vocab))
    rehash(folder)
    with pytest.raises(CheckpointError, match=f"lists {vocab['itos'][9]!r} more than once"):
        load_checkpoint(folder)


@pytest.mark.parametrize("itos_change, message", [
    (lambda w: ["<unk>", "<pad>", *w[2:]], "must start with <pad>, <unk>"),
    (lambda w: [*w[:5], "", *w[6:]], "empty word"),
    (lambda w: w[:-1], "has 49 words, config says 50"),
])
def test_vocabulary_special_tokens_and_size(model, tmp_path, itos_change, message):
    folder = saved(model, tmp_path)
    vocab = json.loads((folder / "vocab.json").read_text())
    (folder / "vocab.json").write_text(json.dumps({"itos": itos_change(vocab["itos"])}))
    rehash(folder)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(folder)


@pytest.mark.parametrize("key, value", [("vocab_size", "50"), ("vocab_size", 50.0), ("embed_dim", True),
                                        ("hidden_size", None), ("hidden_size", [8]), ("forget_bias", "1.0"),
                                        ("forget_bias", False)])
def test_config_values_must_have_json_types(model, tmp_path, key, value):
    folder = saved(model, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, key: value}))
    rehash(folder)
    with pytest.raises(CheckpointError, match=f"config.json: {key} must be"):
        load_checkpoint(folder)


def test_config_keys_are_exactly_the_four(model, tmp_path):
    folder = saved(model, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    for bad in ({k: v for k, v in config.items() if k != "embed_dim"}, {**config, "dropout": 0.1}):
        (folder / "config.json").write_text(json.dumps(bad))
        rehash(folder)
        with pytest.raises(CheckpointError, match="must hold exactly"):
            load_checkpoint(folder)


def test_truncated_and_lying_weights_are_refused(model, tmp_path):
    import struct

    folder = saved(model, tmp_path)
    raw = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(raw[: len(raw) // 2])  # truncated: the header promises more
    rehash(folder)
    with pytest.raises(CheckpointError, match="cannot build"):
        load_checkpoint(folder)
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    header["embedding.weight"]["data_offsets"][1] += 4  # claims 4 more bytes than the shape holds
    body = json.dumps(header).encode()
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(body)) + body + raw[8 + n:])
    rehash(folder)
    with pytest.raises(CheckpointError, match="cannot build"):
        load_checkpoint(folder)
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", 10**12) + raw[8:])  # a header longer than the file
    rehash(folder)
    with pytest.raises(CheckpointError, match="header length"):
        load_checkpoint(folder)


def test_special_files_are_not_weights(model, tmp_path):
    import os

    folder = saved(model, tmp_path)
    (folder / "model.safetensors").unlink()
    os.mkfifo(folder / "model.safetensors")  # reading it would block forever
    with pytest.raises(CheckpointError, match="missing model.safetensors"):
        load_checkpoint(folder)


def test_model_status_lists_every_folder_once_with_its_reason(model, tmp_path, monkeypatch):
    from tbptt_viz.core.checkpoint import check_model_name, model_status

    for name in ("a-good", "b-nan", "c-card"):
        save_checkpoint(model.float(), tmp_path / name, {"scheme": "full"})
    tamper_weights(tmp_path / "b-nan", lambda k, v: v * float("nan") if k == "head.bias" else v)
    (tmp_path / "c-card" / "card.json").write_text("{not json")
    (tmp_path / "not-a-model").mkdir()
    monkeypatch.setenv("TBPTT_VIZ_PRETRAINED", str(tmp_path))
    status = model_status()
    assert list(status) == ["a-good", "b-nan", "c-card"] and status["a-good"] is None
    assert "head.bias holds 1 NaN" in status["b-nan"] and "unreadable card.json" in status["c-card"]
    assert check_model_name("a-good") == tmp_path / "a-good"  # by the listing alone
    for bad, message in (("zzz", "unknown model 'zzz'; available: a-good, b-nan"), ("", "the model name is empty"),
                         (str(tmp_path / "nowhere"), "no checkpoint folder")):
        with pytest.raises(CheckpointError, match=message):
            check_model_name(bad)


def test_listing_models_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys; from tbptt_viz.core.checkpoint import available_models, check_model_name; "
            "available_models(); from tbptt_viz.core import data, text, schemes; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_a_text_longer_than_max_text_chars_keeps_its_end(vocab):
    from tbptt_viz.core.text import MAX_TEXT_CHARS

    head = "awful " * (MAX_TEXT_CHARS // 6 + 1000)
    text = head + "good film the end"
    r = prepare_review(text, vocab)
    assert r.tokens[-4:] == ("good", "film", "the", "end") and len(r.tokens) == MAX_TOKENS
    assert r.chars_cut > 0 and r.was_cut and r.notice.startswith("the review has more than ")
    assert "only the last 2000 are used" in r.notice
    first = prepare_review(text, vocab, keep="first")
    assert first.tokens[0] == "awful" and first.chars_cut > 0
    assert prepare_review("good film " * 10, vocab).chars_cut == 0


def test_the_cli_keeps_the_end_of_a_huge_standard_input():
    import io

    from tbptt_viz.cli.common import read_tail

    data = ("é" * 3_000_000 + "the end").encode()  # 2 bytes per é: the cut falls inside one
    tail = read_tail(io.BytesIO(data), limit=1_000_001)
    assert tail.decode("utf-8").endswith("the end") and len(tail) <= 1_000_001
    assert read_tail(io.BytesIO(b"short")) == b"short"
