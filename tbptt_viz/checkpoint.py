"""Checkpoints: safetensors weights + JSON config, vocabulary and model card (with the weights' sha256).

Weights are data, never pickled code: nothing here calls torch.load.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from safetensors.torch import load_file, save_file

from .model import LSTMClassifier, ModelConfig
from .text import Vocab

PRETRAINED_ENV = "TBPTT_VIZ_PRETRAINED"
WEIGHTS, CONFIG, VOCAB, CARD = "model.safetensors", "config.json", "vocab.json", "card.json"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, incomplete, tampered with or unknown."""


def pretrained_dir() -> Path:
    return Path(os.environ.get(PRETRAINED_ENV) or Path(__file__).resolve().parent.parent / "pretrained")


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save_checkpoint(model: LSTMClassifier, folder: str | Path, card: dict) -> dict:
    """Write the four files; returns the card as saved (with `sha256` and `name`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / WEIGHTS))
    (folder / CONFIG).write_text(json.dumps(model.config.to_dict(), indent=2))
    model.vocab.save(folder / VOCAB)
    card = {"name": folder.name, **card, "sha256": sha256(folder / WEIGHTS)}
    (folder / CARD).write_text(json.dumps(card, indent=2))
    return card


def read_card(folder: str | Path) -> dict:
    try:
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
    if sha256(folder / WEIGHTS) != card.get("sha256"):
        raise CheckpointError(f"{folder}: {WEIGHTS} does not match the sha256 in {CARD} "
                              "(corrupted or tampered); restore the file or retrain")
    try:
        config = ModelConfig(**json.loads((folder / CONFIG).read_text()))
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
