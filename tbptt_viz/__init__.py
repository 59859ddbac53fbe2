"""tbptt-viz: where gradients go when an LSTM is trained with truncated backpropagation through time.

The public names are imported on first use (PEP 562 module `__getattr__`), not with the package: the
command line checks its arguments and refuses bad ones before torch is imported (importing torch costs
seconds on a small host), and `from tbptt_viz import gradient_flow` works as before.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"  # the one place the version is set (pyproject.toml reads it); see CHANGELOG.md

# public name -> module that defines it
_PUBLIC = {
    "Connectivity": "tbptt_viz.attribution.connectivity", "LogitGradMap": "tbptt_viz.attribution.connectivity",
    "connectivity": "tbptt_viz.attribution.connectivity", "logit_grad_map": "tbptt_viz.attribution.connectivity",
    "GradientFlow": "tbptt_viz.gradients.flow", "gradient_flow": "tbptt_viz.gradients.flow",
    "LSTMClassifier": "tbptt_viz.core.model", "ModelConfig": "tbptt_viz.core.model",
    "Scheme": "tbptt_viz.core.schemes", "make_scheme": "tbptt_viz.core.schemes",
    "load_pretrained": "tbptt_viz.core.checkpoint",
    "WordExposure": "tbptt_viz.experiments.exposure", "word_exposure": "tbptt_viz.experiments.exposure",
    "attribute": "tbptt_viz.attribution.methods", "context_probe": "tbptt_viz.attribution.methods",
    "memory_trace": "tbptt_viz.attribution.methods",
}
__all__ = ["Connectivity", "GradientFlow", "LSTMClassifier", "LogitGradMap", "ModelConfig", "Scheme", "WordExposure",
           "attribute", "connectivity", "context_probe", "gradient_flow", "load_pretrained", "logit_grad_map",
           "make_scheme", "memory_trace", "word_exposure"]


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'tbptt_viz' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
