"""Checkpoints: safetensors weights + JSON config, vocabulary and model card (with the weights' sha256).

Weights are data, never pickled code: nothing here calls torch.load.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

from safetensors.torch import load_file, save_file

from tbptt_viz.core.bounds import whole_number
from tbptt_viz.core.model import LSTMClassifier, ModelConfig
from tbptt_viz.core.resources import bundled_dir, shipped_dir
from tbptt_viz.core.text import Vocab

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


def parameter_count(config: ModelConfig) -> int:
    V, E, H = config.vocab_size, config.embed_dim, config.hidden_size
    return V * E + 4 * H * (E + H) + 8 * H + H + 1


def _config(data) -> ModelConfig:
    """A ModelConfig from JSON, every value checked and bounded before any tensor is allocated."""
    if not isinstance(data, dict) or set(data) - {"vocab_size", "embed_dim", "hidden_size", "forget_bias"}:
        raise CheckpointError(f"{CONFIG} must hold vocab_size, embed_dim, hidden_size and forget_bias only")
    try:
        config = ModelConfig(vocab_size=whole_number("vocab_size", data.get("vocab_size"), 2, 1_000_000),
                             embed_dim=whole_number("embed_dim", data.get("embed_dim", 64), 1, 4096),
                             hidden_size=whole_number("hidden_size", data.get("hidden_size", 128), 1, 4096),
                             forget_bias=float(data.get("forget_bias", 1.0)))
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"{CONFIG}: {e}") from e
    if not math.isfinite(config.forget_bias) or abs(config.forget_bias) > 100:
        raise CheckpointError(f"{CONFIG}: forget_bias must be a finite number within +-100")
    if parameter_count(config) > MAX_PARAMETERS:
        raise CheckpointError(f"{CONFIG}: {parameter_count(config):,} parameters is over the "
                              f"{MAX_PARAMETERS:,} this app builds")
    return config


def save_checkpoint(model: LSTMClassifier, folder: str | Path, card: dict) -> dict:
    """Write the four files; returns the card as saved (with `sha256` and `name`)."""
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
    """Load a checkpoint folder, refusing weights whose sha256 differs from the card's."""
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
    try:
        vocab = Vocab.load(folder / VOCAB)
        model = LSTMClassifier(config, vocab)
        model.load_state_dict(load_file(str(folder / WEIGHTS)))
    except Exception as e:  # a wrong shape, a bad key, unreadable JSON: all one message
        raise CheckpointError(f"{folder}: cannot build the model from its files ({e})") from e
    if len(vocab) != config.vocab_size:
        raise CheckpointError(f"{folder}: vocab.json has {len(vocab)} words, config says {config.vocab_size}")
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


def load_pretrained(name: str) -> LSTMClassifier:
    """A shipped model by name, in eval mode; an unknown name lists the available ones."""
    names = available_models()
    if name not in names:
        raise CheckpointError(f"unknown model {name!r}; available: {', '.join(names) or 'none'}")
    return load_checkpoint(pretrained_dir() / name)
