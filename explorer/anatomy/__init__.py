"""The anatomy of one optimizer step, read from the optimizer's own state.

A run is replayed (explorer.training.train: the same config gives the same data, initial
parameters and batch order) and, at each wanted step, torch's optimizer state is read right
before and right after `optimizer.step()`: its tensors by torch's own names (momentum_buffer,
exp_avg, exp_avg_sq, max_exp_avg_sq, square_avg, grad_avg, sum, step) and the param group's
settings (lr, betas, eps, weight_decay, ...). Every part below is made of those numbers.

Step k is the k-th call of optimizer.step(): it takes θ_{k−1} (record k−1) to θ_k (record k)
with the gradient at θ_{k−1}; torch's `step` counter reads k after it. Its parts, in the order
the update is made (`Anatomy.parts`; keys in PARTS):
  gradient       ∇L at θ_{k−1} (p.grad)
  weight_decay   the decay's share of Δθ (L2 through the gradient, or decoupled: lr·wd·θ)
  momentum       the momentum buffer / first moment after the step (momentum_buffer, exp_avg)
  second_moment  the running mean of g² (exp_avg_sq or max_exp_avg_sq, square_avg, sum)
  bias           Adam's bias corrections 1 − β1^t and 1 − β2^t
  step_size      each parameter's step size: the factor that multiplies the (first) moment
  update         Δθ = θ_k − θ_{k−1}, as torch applied it
The shares (gradient's, momentum's, weight decay's) are the parts of Δθ each term contributes;
they add up to Δθ (to rounding: float32 runs round each step to float32).

step.py: Part and Anatomy; reading.py: reading the state (take_step, replay, run_anatomy);
parts.py: each optimizer's parts; table.py: a summary line and a table for a page.
"""

from explorer.anatomy.reading import Capture, check_step, replay, run_anatomy, take_step
from explorer.anatomy.step import NAMED, PARTS, SHARES, Anatomy, Part, number
from explorer.anatomy.table import parts_table, summary

__all__ = [
    "NAMED",
    "PARTS",
    "SHARES",
    "Anatomy",
    "Capture",
    "Part",
    "check_step",
    "number",
    "parts_table",
    "replay",
    "run_anatomy",
    "summary",
    "take_step",
]
