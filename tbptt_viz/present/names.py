"""What the page calls things: attribution methods by their names in words, never as code."""
from __future__ import annotations

# every attribution method (attribution.methods.METHODS) -> its name in a sentence, a menu or a legend
METHOD_NAMES = {
    "occlusion": "occlusion",
    "integrated_gradients": "integrated gradients",
    "saliency": "saliency (gradient)",
    "input_x_gradient": "input × gradient",
    "shapley": "Shapley values",
}


def method_name(method: str) -> str:
    """The method's name in words (an unknown key is shown with its underscores as spaces)."""
    return METHOD_NAMES.get(method, method.replace("_", " "))
