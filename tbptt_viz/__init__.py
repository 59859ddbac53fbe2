"""tbptt-viz: where gradients go when an LSTM is trained with truncated backpropagation through time."""
from .attribution import attribute, context_probe, memory_trace
from .checkpoint import load_pretrained
from .flow import GradientFlow, gradient_flow
from .model import LSTMClassifier, ModelConfig
from .schemes import Scheme, make_scheme

__all__ = ["GradientFlow", "LSTMClassifier", "ModelConfig", "Scheme", "gradient_flow", "load_pretrained",
           "make_scheme", "attribute", "context_probe", "memory_trace"]
