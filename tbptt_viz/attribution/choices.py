"""What a visitor or a command may ask of `attribute`, importable without torch: the command line and the URL
check a method name and a cap before anything heavy is imported."""
from __future__ import annotations

METHODS = ("occlusion", "integrated_gradients", "saliency", "input_x_gradient")  # the app's order, occlusion first
WITHOUT_BACKWARD = ("occlusion",)
MAX_EVALUATIONS = 4000  # the most gradient evaluations one integrated-gradients call may be asked for
