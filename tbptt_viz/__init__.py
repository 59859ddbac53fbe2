"""tbptt-viz: where gradients go when an LSTM is trained with truncated backpropagation through time."""
__version__ = "0.1.0"  # the one place the version is set (pyproject.toml reads it); see CHANGELOG.md

from tbptt_viz.attribution.connectivity import Connectivity, LogitGradMap, connectivity, logit_grad_map
from tbptt_viz.attribution.methods import attribute, context_probe, memory_trace
from tbptt_viz.core.checkpoint import load_pretrained
from tbptt_viz.experiments.exposure import WordExposure, word_exposure
from tbptt_viz.gradients.flow import GradientFlow, gradient_flow
from tbptt_viz.core.model import LSTMClassifier, ModelConfig
from tbptt_viz.core.schemes import Scheme, make_scheme

__all__ = ["Connectivity", "GradientFlow", "LSTMClassifier", "LogitGradMap", "ModelConfig", "Scheme", "WordExposure",
           "attribute", "connectivity", "context_probe", "gradient_flow", "load_pretrained", "logit_grad_map",
           "make_scheme", "memory_trace", "word_exposure"]
