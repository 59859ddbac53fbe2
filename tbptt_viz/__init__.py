"""tbptt-viz: where gradients go when an LSTM is trained with truncated backpropagation through time.

The public names are imported on first use (PEP 562 module `__getattr__`), not with the package: the
command line checks its arguments and refuses bad ones before torch is imported (importing torch costs
seconds on a small host), and `from tbptt_viz import gradient_flow` works as before.
"""
from __future__ import annotations

import importlib

# public name -> module that defines it
_PUBLIC = {
    "GradientFlow": "tbptt_viz.gradients.flow", "gradient_flow": "tbptt_viz.gradients.flow",
    "LSTMClassifier": "tbptt_viz.core.model", "ModelConfig": "tbptt_viz.core.model",
    "Scheme": "tbptt_viz.core.schemes", "make_scheme": "tbptt_viz.core.schemes",
    "load_pretrained": "tbptt_viz.core.checkpoint",
    "attribute": "tbptt_viz.attribution.methods", "context_probe": "tbptt_viz.attribution.methods",
    "memory_trace": "tbptt_viz.attribution.methods",
}
__all__ = ["GradientFlow", "LSTMClassifier", "ModelConfig", "Scheme", "gradient_flow", "load_pretrained",
           "make_scheme", "attribute", "context_probe", "memory_trace"]


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'tbptt_viz' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
