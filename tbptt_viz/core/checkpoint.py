"""Checkpoints: safetensors weights + JSON config, vocabulary and model card (with the weights' sha256).

Weights are data, never pickled code: nothing here calls torch.load. Loading checks, in this order and before
anything is allocated from a file's word: sizes, the card's hashes, the config (types and ranges), the
vocabulary (unique words, the special tokens first), the weights' header (float32 only, exactly the
contract's tensors in the config's shapes); then, once loaded, that every weight is finite and that the
padding row of the embedding is zero (what "replaced by padding" means to occlusion).

Listing models needs no torch (`available_models`, `model_cards`, `model_status` import it only to load), so
the command line can check a model name without paying for torch.
"""
from __future__ import annotations

import hashlib
import json
import math
import struct
from pathlib import Path
from typing import TYPE_CHECKING

from tbptt_viz.core.bounds import whole_number
from tbptt_viz.core.resources import bundled_dir, shipped_dir
from tbptt_viz.core.text import PAD, UNK, Vocab

if TYPE_CHECKING:  # torch is imported only when a model is built
    from tbptt_viz.core.model import LSTMClassifier

PRETRAINED_ENV = "TBPTT_VIZ_PRETRAINED"
WEIGHTS, CONFIG, VOCAB, CARD = "model.safetensors", "config.json", "vocab.json", "card.json"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, incomplete, tampered with or unknown."""


# The models installed with the package, else the clone's pretrained/ (see `resources`).
_SHIPPED = bundled_dir("pretrained")


def pretrained_dir() -> Path:
    """The folder of shipped models: $TBPTT_VIZ_PRETRAINED, else the installed copy, else the clone's."""
    return shipped_dir("pretrained", PRETRAINED_ENV)


# Largest files a checkpoint may have: checked before anything is read, so a huge or hostile file costs
# nothing. The shipped models are 5.5 MB of weights, 0.2 KB of config and 0.2 MB of vocabulary.
MAX_BYTES = {WEIGHTS: 64 << 20, CONFIG: 64 << 10, VOCAB: 16 << 20, CARD: 1 << 20}
# Largest model the app builds (parameters; the shipped ones have 1.4M): bounds memory before allocating.
MAX_PARAMETERS = 16_000_000
HASHED = {"sha256": WEIGHTS, "config_sha256": CONFIG, "vocab_sha256": VOCAB}  # card key -> file it covers


def _checked_size(path: Path) -> int:
    size = path.stat().st_size
    limit = MAX_BYTES[path.name]
    if size > limit:
        raise CheckpointError(f"{path}: {size:,} bytes is over the {limit:,}-byte limit for {path.name}")
    return size


def sha256(path: Path) -> str:
    """The file's sha256, read in 1 MB pieces (never the whole file at once)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def parameter_count(config) -> int:
    V, E, H = config.vocab_size, config.embed_dim, config.hidden_size
    return V * E + 4 * H * (E + H) + 8 * H + H + 1


CONFIG_KEYS = ("vocab_size", "embed_dim", "hidden_size", "forget_bias")
CONFIG_RANGES = {"vocab_size": (2, 1_000_000), "embed_dim": (1, 4096), "hidden_size": (1, 4096)}


def _config(data):
    """A ModelConfig from JSON, every value checked and bounded before any tensor is allocated.

    JSON types are strict: "20000" (text), 20000.0 (a float) or true (a bool) is not a whole number here,
    even where Python would convert it; a file that says something else than it means is refused.
    """
    from tbptt_viz.core.model import ModelConfig

    if not isinstance(data, dict) or set(data) != set(CONFIG_KEYS):
        raise CheckpointError(f"{CONFIG} must hold exactly {', '.join(CONFIG_KEYS)}")
    values = {}
    for name, (low, high) in CONFIG_RANGES.items():
        v = data[name]
        if type(v) is not int:  # noqa: E721 - bool is a subclass of int and must not pass
            raise CheckpointError(f"{CONFIG}: {name} must be a JSON whole number, got {json.dumps(v)}")
        try:
            values[name] = whole_number(name, v, low, high)
        except ValueError as e:
            raise CheckpointError(f"{CONFIG}: {e}") from None
    fb = data["forget_bias"]
    if type(fb) not in (int, float) or not math.isfinite(fb) or abs(fb) > 100:
        raise CheckpointError(f"{CONFIG}: forget_bias must be a finite JSON number within +-100, got {json.dumps(fb)}")
    config = ModelConfig(**values, forget_bias=float(fb))
    if parameter_count(config) > MAX_PARAMETERS:
        raise CheckpointError(f"{CONFIG}: {parameter_count(config):,} parameters is over the "
                              f"{MAX_PARAMETERS:,} this app builds")
    return config


def expected_shapes(config) -> dict[str, list[int]]:
    """The contract's tensors and their shapes for this config (PyTorch's gate order i, f, g, o along 4H)."""
    V, E, H = config.vocab_size, config.embed_dim, config.hidden_size
    return {"embedding.weight": [V, E], "lstm.weight_ih_l0": [4 * H, E], "lstm.weight_hh_l0": [4 * H, H],
            "lstm.bias_ih_l0": [4 * H], "lstm.bias_hh_l0": [4 * H], "head.weight": [1, H], "head.bias": [1]}


MAX_HEADER = 1 << 20  # bytes of a safetensors header (the shipped ones: 576)


def check_weights_header(path: Path, config) -> None:
    """Read only the safetensors header (8-byte length, then JSON) and refuse anything but the contract's
    tensors in float32 with the config's shapes, before a byte of weights is read."""
    try:
        with open(path, "rb") as f:
            raw = f.read(8)
            if len(raw) != 8:
                raise ValueError("shorter than a safetensors header")
            n = struct.unpack("<Q", raw)[0]
            if not 2 <= n <= MAX_HEADER or n > path.stat().st_size - 8:
                raise ValueError(f"header length {n} is impossible for this file")
            header = json.loads(f.read(n))
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path.parent}: cannot build the model from its files ({WEIGHTS}: {e})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path.parent}: cannot build the model from its files ({WEIGHTS} header is not an object)")
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    want = expected_shapes(config)
    missing, extra = sorted(set(want) - set(tensors)), sorted(set(tensors) - set(want))
    if missing or extra:
        raise CheckpointError(f"{path.parent}: cannot build the model from its files (missing tensors: "
                              f"{', '.join(missing) or 'none'}; unexpected: {', '.join(extra) or 'none'})")
    for name, shape in want.items():
        t = tensors[name]
        dtype = t.get("dtype") if isinstance(t, dict) else None
        if dtype != "F32":
            raise CheckpointError(f"{path.parent}: {name} is stored as {dtype}; only float32 (F32) weights are "
                                  "accepted (a converted model would predict differently from its card)")
        if t.get("shape") != shape:
            raise CheckpointError(f"{path.parent}: cannot build the model from its files ({name} has shape "
                                  f"{t.get('shape')}, the config says {shape})")


def check_vocab(vocab: Vocab, config) -> None:
    """Unique words, the special tokens at ids 0 and 1 only, as many words as the embedding has rows."""
    words = vocab.itos
    if len(words) != config.vocab_size:
        raise CheckpointError(f"{VOCAB} has {len(words)} words, config says {config.vocab_size}")
    if len(set(words)) != len(words):
        seen, dup = set(), None
        for w in words:
            if w in seen:
                dup = w
                break
            seen.add(w)
        raise CheckpointError(f"{VOCAB} lists {dup!r} more than once: every word must map to one id")
    if any(not w for w in words):
        raise CheckpointError(f"{VOCAB} holds an empty word")
    if words[:2] != (PAD, UNK):
        raise CheckpointError(f"{VOCAB} must start with {PAD}, {UNK}")


def check_values(state: dict) -> None:
    """Every weight finite, and the padding row of the embedding zero."""
    import torch

    for name, t in state.items():
        if not bool(torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            raise CheckpointError(f"{name} holds {bad} NaN or infinite value(s); the model's predictions would "
                                  "be NaN")
    if bool(state["embedding.weight"][0].ne(0).any()):
        raise CheckpointError("the padding row (id 0) of embedding.weight is not zero: padding would carry a "
                              "meaning, and occlusion (replace by padding) would not remove a word")


def save_checkpoint(model: LSTMClassifier, folder: str | Path, card: dict) -> dict:
    """Write the four files; returns the card as saved (with `sha256` and `name`)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / WEIGHTS))
    (folder / CONFIG).write_text(json.dumps(model.config.to_dict(), indent=2))
    model.vocab.save(folder / VOCAB)
    card = {"name": folder.name, **card, **{key: sha256(folder / name) for key, name in HASHED.items()}}
    (folder / CARD).write_text(json.dumps(card, indent=2))
    return card


def read_card(folder: str | Path) -> dict:
    try:
        _checked_size(Path(folder) / CARD)
        card = json.loads((Path(folder) / CARD).read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{folder}: unreadable {CARD} ({e})") from e
    if not isinstance(card, dict):
        raise CheckpointError(f"{folder}: {CARD} is not a JSON object")
    return card


def load_checkpoint(folder: str | Path) -> LSTMClassifier:
    """Load a checkpoint folder, refusing weights whose sha256 differs from the card's (see the module
    docstring for every check)."""
    folder = Path(folder)
    missing = [f for f in (WEIGHTS, CONFIG, VOCAB, CARD) if not (folder / f).is_file()]
    if missing:
        raise CheckpointError(f"{folder}: missing {', '.join(missing)}")
    card = read_card(folder)
    for key, name in HASHED.items():  # sizes first, then hashes: nothing unverified is parsed
        _checked_size(folder / name)
        if sha256(folder / name) != card.get(key):
            raise CheckpointError(f"{folder}: {name} does not match the {key} in {CARD} "
                                  "(corrupted or tampered); restore the file or retrain")
    try:
        config = _config(json.loads((folder / CONFIG).read_text()))
    except ValueError as e:
        raise CheckpointError(f"{folder}: unreadable {CONFIG} ({e})") from e
    except CheckpointError as e:
        raise CheckpointError(f"{folder}: {e}") from None
    try:
        vocab = Vocab.load(folder / VOCAB)
    except (ValueError, OSError) as e:
        raise CheckpointError(f"{folder}: unreadable {VOCAB} ({e})") from None
    try:
        check_vocab(vocab, config)
    except CheckpointError as e:
        raise CheckpointError(f"{folder}: {e}") from None
    check_weights_header(folder / WEIGHTS, config)
    from safetensors.torch import load_file

    from tbptt_viz.core.model import LSTMClassifier

    try:
        state = load_file(str(folder / WEIGHTS))
        check_values(state)
        model = LSTMClassifier(config, vocab)
        model.load_state_dict(state)
    except CheckpointError as e:
        raise CheckpointError(f"{folder}: {e}") from None
    except Exception as e:  # a lying header, a truncated file: all one message
        raise CheckpointError(f"{folder}: cannot build the model from its files ({e})") from e
    model.card = card
    return model.eval()


def available_models() -> list[str]:
    """Shipped model names: folders of pretrained/ with a readable card."""
    root = pretrained_dir()
    if not root.is_dir():
        return []
    return [c["name"] for c in model_cards()]


def model_cards() -> list[dict]:
    """The cards of every folder under pretrained/ that has one; unreadable cards are skipped."""
    root = pretrained_dir()
    cards = []
    for folder in sorted(p for p in root.iterdir() if (p / CARD).is_file()) if root.is_dir() else []:
        try:
            card = read_card(folder)
        except CheckpointError:
            continue  # a broken card must not hide the good models; loading this one reports the problem
        cards.append({**card, "name": folder.name})
    return cards


def model_status() -> dict[str, str | None]:
    """{name: None when it loads, else the reason} for every folder under pretrained/ with a card.json.

    Loads each model once (about 0.1 s each for the shipped ones) and keeps none of them: a listing for
    the page and the command line, where a broken model appears once, with why.
    """
    root = pretrained_dir()
    status: dict[str, str | None] = {}
    for folder in sorted(p for p in root.iterdir() if (p / CARD).is_file()) if root.is_dir() else []:
        try:
            load_checkpoint(folder)
            status[folder.name] = None
        except CheckpointError as e:
            status[folder.name] = str(e)
    return status


def check_model_name(name: str) -> Path:
    """The folder a --model value names (a shipped name, or a checkpoint folder), checked without loading
    anything: an unknown name lists the available ones."""
    if not name.strip():
        raise CheckpointError(f"the model name is empty; available: {', '.join(available_models()) or 'none'}")
    if "/" in name or Path(name).is_dir():
        folder = Path(name)
        if not folder.is_dir():
            raise CheckpointError(f"no checkpoint folder {name!r}")
        missing = [f for f in (WEIGHTS, CONFIG, VOCAB, CARD) if not (folder / f).is_file()]
        if missing:
            raise CheckpointError(f"{folder}: missing {', '.join(missing)}")
        return folder
    names = available_models()
    if name not in names:
        raise CheckpointError(f"unknown model {name!r}; available: {', '.join(names) or 'none'}")
    return pretrained_dir() / name


def load_pretrained(name: str) -> LSTMClassifier:
    """A shipped model by name, in eval mode; an unknown name lists the available ones."""
    names = available_models()
    if name not in names:
        raise CheckpointError(f"unknown model {name!r}; available: {', '.join(names) or 'none'}")
    return load_checkpoint(pretrained_dir() / name)
