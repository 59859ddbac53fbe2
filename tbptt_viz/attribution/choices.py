"""What a visitor or a command may ask of `attribute`, importable without torch: the command line and the URL
check a method name and a cap before anything heavy is imported."""
from __future__ import annotations

# the app's order, occlusion first; shapley credits groups of tokens (attribution/shapley.py)
METHODS = ("occlusion", "integrated_gradients", "saliency", "input_x_gradient", "shapley")
WITHOUT_BACKWARD = ("occlusion", "shapley")
MAX_EVALUATIONS = 4000  # the most gradient evaluations one integrated-gradients call may be asked for
# Shapley defaults: 8 independent repeats of one antithetic pair each (16 permutations), and 2 SE per group
# allowed up to 5% of |F(x) - F(baseline)| + atol (sampling error, not rounding: looser than IG's 1%).
SHAPLEY_SAMPLES, SHAPLEY_REPEATS, SHAPLEY_RTOL = 2, 8, 0.05
MAX_MAP_TOKENS = 300  # connectivity's logit_grad map is T x T and its batch grows with T: drawn up to this length
