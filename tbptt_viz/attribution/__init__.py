"""What a trained model uses at prediction time: attribution methods with their own checks, the context probe,
the memory trace."""
from tbptt_viz.attribution.methods import METHODS, Attribution, attribute, context_probe, memory_trace

__all__ = ["METHODS", "Attribution", "attribute", "context_probe", "memory_trace"]
