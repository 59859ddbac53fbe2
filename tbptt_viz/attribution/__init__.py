"""What a trained model uses at prediction time: attribution methods with their own checks, the context probe,
the memory trace. The names are imported on first use, so `tbptt_viz.attribution.choices` stays torch-free."""
from __future__ import annotations

import importlib

__all__ = ["METHODS", "Attribution", "attribute", "context_probe", "memory_trace"]


def __getattr__(name: str):
    if name in __all__:
        return getattr(importlib.import_module("tbptt_viz.attribution.methods"), name)
    raise AttributeError(f"module 'tbptt_viz.attribution' has no attribute {name!r}")
