"""What the gradient doctor reports: `Finding`, and the title / why / fix of every finding code."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")  # most severe first

# code -> (title, why it matters, how to fix it)
TEXTS: dict[str, tuple[str, str, str]] = {
    "loss_raised": (
        "The loss raised an exception",
        "Nothing can be trained until the forward pass runs.",
        "Read the message: usually shapes or dtypes that do not match what the function expects.",
    ),
    "nan_inf": (
        "NaN or inf in the value or the gradient",
        "One NaN in a gradient turns every parameter it reaches into NaN after a single step.",
        "Keep arguments in the domain: clamp before log/sqrt/division, add an epsilon, "
        "or use the stable built-in (softplus, logsumexp, BCE with logits).",
    ),
    "flat": (
        "Gradient zero almost everywhere",
        "Where dL/dŷ = 0 the optimizer gets no signal: parameters there never move.",
        "Replace the hard step/mask by a smooth one, e.g. sigmoid(k·(t − |r|)) for (|r| < t), "
        "or sigmoid(−k·y·ŷ) for the 0-1 loss; or use a straight-through estimator.",
    ),
    "jump": (
        "The loss itself jumps",
        "Autograd differentiates the branches, not the jump: the step is invisible to the gradient.",
        "Make the transition smooth (a sigmoid of steepness k) if the jump matters for training.",
    ),
    "kink": (
        "Kinks: the gradient jumps",
        "At a kink the gradient switches abruptly; fine for L1/hinge, but a fixed learning rate "
        "makes the parameters oscillate around it instead of settling.",
        "Use a smooth twin (Huber/smooth L1 for |r|, softplus for max(0, ·)) or decay the learning rate.",
    ),
    "unbounded_below": (
        "Unbounded below",
        "The loss keeps falling along a direction, so gradient descent runs off to −∞ instead of "
        "converging (a loss linear in ŷ has no minimum).",
        "Use a loss with a minimum at ŷ = y (e.g. squared or absolute error), or bound it.",
    ),
    "non_scalar": (
        "The loss is not a scalar",
        "`loss.backward()` needs one number: on a vector it raises.",
        "Reduce every term to a scalar, e.g. add `.mean()` to the per-element penalty.",
    ),
    "outward_push": (
        "Gradient pushes residuals outwards",
        "Where sign(dL/dr) = −sign(r) a descent step makes |r| larger: the loss rewards moving "
        "away from the target there (a soft threshold's sigmoid falls faster than r² grows).",
        "Lower the steepness k, raise the threshold t, or use a loss that never decreases in |r|.",
    ),
    "nondeterministic": (
        "Not a function of its inputs",
        "Two calls with the same prediction and target give different values: a random tensor "
        "is drawn inside, so the gradient is noise and runs cannot be reproduced.",
        "Draw random tensors once, outside the loss (or register them as buffers), and pass them in.",
    ),
    "no_gradient": (
        "Parameters get no gradient",
        "Their .grad stays None: the loss does not reach them through the graph (a `.detach()`, "
        "a `torch.no_grad()` block, or a value copied out with .item()/.numpy()).",
        "Compute everything that should learn inside the graph: remove the detach/no_grad.",
    ),
    "zero_gradient": (
        "Parameters get an all-zero gradient",
        "They are in the graph, but a hard mask or step multiplies their gradient by 0, "
        "so they never move.",
        "Use a smooth mask (sigmoid) or a straight-through estimator for the step.",
    ),
    "broadcast": (
        "Shapes broadcast into a bigger tensor",
        "An (N,) tensor meeting an (N, 1) tensor broadcasts to (N, N): every sample is compared "
        "with every target, and the mean is silently wrong.",
        "Give pred, target and weights the same shape, e.g. pred.squeeze(-1) or weights.view(-1, 1).",
    ),
    "class_weights": (
        "Per-sample weights passed as per-class weights",
        "F.cross_entropy(weight=...) takes one weight per class (shape (K,)), not one per sample.",
        "Use reduction='none' and weight the per-sample losses: "
        "(F.cross_entropy(x, y, reduction='none') * w).sum() / w.sum().",
    ),
    "gradcheck_failed": (
        "Hand-written backward fails gradcheck",
        "The backward does not compute the gradient of the forward: training follows a wrong direction.",
        "Derive the gradient again (or drop the Function and let autograd differentiate the forward).",
    ),
    "backward_never_called": (
        "Hand-written backward is never called",
        "No input of the Function requires grad, so autograd treats its output as a constant: "
        "its backward never runs, and a wrong backward stays hidden.",
        "If the input should learn, make it a parameter (requires_grad=True); "
        "then check the backward with torch.autograd.gradcheck.",
    ),
}


@dataclass(frozen=True)
class Finding:
    """One diagnosis: a stable code, a severity, what was seen (with numbers), why, and a fix."""

    code: str
    severity: Severity
    title: str
    seen: str
    why: str
    fix: str


def finding(code: str, severity: Severity, seen: str) -> Finding:
    """A Finding with the standard title, why and fix of `code` (a ValueError for an unknown severity)."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")
    title, why, fix = TEXTS[code]
    return Finding(code, severity, title, seen, why, fix)


def by_severity(found: Iterable[Finding]) -> list[Finding]:
    """Errors first, then warnings, then info (stable within a severity)."""
    return sorted(found, key=lambda f: SEVERITIES.index(f.severity))


def fmt(values: ArrayLike, limit: int = 5) -> str:
    """A short list of numbers: '-3, -2.98, 1.5 … (40 in all)'."""
    values = list(np.atleast_1d(values))
    text = ", ".join(f"{v + 0.0:.3g}" for v in values[:limit])  # + 0.0: no "-0"
    return text + (f" … ({len(values)} in all)" if len(values) > limit else "")
