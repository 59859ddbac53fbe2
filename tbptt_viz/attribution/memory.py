"""How the cell keeps what it reads: forget gates, and what survives of each write along the cell's direct path."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tbptt_viz.gradients.flow import forward
from tbptt_viz.core.model import LSTMClassifier, as_ids


@dataclass(frozen=True)
class MemoryTrace:
    """How the cell keeps what it reads, per position t (float64)."""

    ids: np.ndarray                # (T,)
    forget_mean: np.ndarray        # (T,) mean over units of the forget gate f_t
    survival: np.ndarray           # (T,) mean over units of prod_{u=t+1}^{T-1} f_u (1 at t = T-1)
    survival_per_unit: np.ndarray  # (T, H) the same product per unit
    cell_norm: np.ndarray          # (T,) ||c_t||
    hidden_norm: np.ndarray        # (T,) ||h_t||
    influence: np.ndarray          # (T,) ||d logit / d x_t|| by full backprop: every path, not just the cell's


def memory_trace(model: LSTMClassifier, ids) -> MemoryTrace:
    """Forget gates, what survives of each step's cell write, and the influence of each input by every path.

    survival_per_unit[t] = prod_{u=t+1}^{T-1} f_u is the factor by which whatever was written into the cell
    at step t is scaled along the cell's direct path (c_t -> c_{t+1} -> ...) by the prediction at T-1.
    It is not the only path: h_t also feeds every later gate through W_hh, so a word can matter long after
    its direct survival is ~0. `influence` measures all paths at once: the gradient of the logit.

    Maths: survival_per_unit[t] = prod_{u=t+1}^{T-1} f_u; influence[t] = ||d z_{T-1} / d x_t||.
    """
    from tbptt_viz.attribution.targets import window_target

    ids = as_ids(ids)
    _, grad = window_target(model, ids, [(len(ids) - 1, 0)], "logit").input_gradient()
    fw = forward(model, ids)
    f = fw.gates[:, 1]                                   # (T, H)
    through = f.flip(0).cumprod(0).flip(0)               # prod_{u=t}^{T-1} f_u
    survive = torch.cat([through[1:], torch.ones_like(f[:1])])
    return MemoryTrace(ids=ids.numpy(), forget_mean=f.mean(1).numpy(), survival=survive.mean(1).numpy(),
                       survival_per_unit=survive.numpy(), cell_norm=fw.c.norm(dim=1).numpy(),
                       hidden_norm=fw.h.norm(dim=1).numpy(), influence=np.linalg.norm(grad, axis=1))


