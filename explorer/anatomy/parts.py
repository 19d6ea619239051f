"""The parts of each optimizer's step, from the state read before and after it."""

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from explorer.anatomy.step import PARTS, Anatomy, Part, vector_text

# The parts of each optimizer, from what was read


def with_parts(a: Anatomy) -> Anatomy:
    reader = _READERS.get(a.optimizer)
    if reader is None:
        raise ValueError(f"no anatomy for optimizer {a.optimizer}")
    return replace(a, parts=tuple(reader(a)))


def _gradient(a: Anatomy) -> np.ndarray:
    """The gradient the optimizer used (negated for maximize, as torch does)."""
    return -a.gradient if a.hyper.get("maximize") else a.gradient


def _sgd(a: Anatomy) -> list[Part]:
    h, g, theta = a.hyper, _gradient(a), a.theta_before
    lr, mu, damp, wd = (float(h[k]) for k in ("lr", "momentum", "dampening", "weight_decay"))
    prev, buf = a.state_before.get("momentum_buffer"), a.state_after.get("momentum_buffer")
    carry = np.zeros_like(g)
    scale = 1.0
    if mu and buf is not None:
        if h.get("nesterov"):
            carry = -lr * mu * buf  # torch steps along d + μ·buf
        elif prev is not None:
            carry, scale = -lr * mu * prev, 1.0 - damp
    parts = [_gradient_part(a, g, -lr * scale * g)]
    parts += _decay_part(a, wd, -lr * scale * wd * theta, coupled=True)
    if mu and buf is not None:
        how = (
            "starts as the gradient"
            if prev is None
            else f"is {mu:g}·(the last buffer {vector_text(a, prev)}) + {1 - damp:g}·(this gradient)"
        )
        parts.append(
            Part(
                "momentum",
                PARTS["momentum"],
                buf,
                f"The momentum buffer (momentum_buffer) {how}: {vector_text(a, buf)}; carried over, it "
                f"moves θ by {vector_text(a, carry)}.",
                carry,
            )
        )
    parts.append(_step_size_part(a, np.full_like(g, lr), f"lr = {lr:g} for every parameter"))
    return parts + [_update_part(a)]


def _adam(a: Anatomy) -> list[Part]:
    h, g, theta = a.hyper, _gradient(a), a.theta_before
    lr, eps, wd = float(h["lr"]), float(h["eps"]), float(h["weight_decay"])
    b1, b2 = (float(b) for b in h["betas"])
    decoupled = bool(h.get("decoupled_weight_decay", a.optimizer == "AdamW"))
    t = float(a.state_after["step"][0])
    m, m_prev = a.state_after["exp_avg"], a.state_before.get("exp_avg", np.zeros_like(g))
    amsgrad = bool(h.get("amsgrad")) and "max_exp_avg_sq" in a.state_after
    v = a.state_after["max_exp_avg_sq" if amsgrad else "exp_avg_sq"]
    bc1, bc2 = 1 - b1**t, 1 - b2**t
    rate = lr / bc1 / (np.sqrt(v) / math.sqrt(bc2) + eps)  # multiplies exp_avg
    coupled = 0.0 if decoupled else wd
    parts = [_gradient_part(a, g, -rate * (1 - b1) * g)]
    decay = -lr * wd * theta if decoupled else -rate * (1 - b1) * wd * theta
    parts += _decay_part(a, wd, decay, coupled=not decoupled)
    carry = -rate * b1 * m_prev
    grad_text = "(g + wd·θ)" if coupled else "g"
    parts.append(
        Part(
            "momentum",
            "First moment m",
            m,
            f"The first moment (exp_avg) decays by ×β1 = {b1:g} and takes {1 - b1:g}·{grad_text}: "
            f"m = {vector_text(a, m)}; the part carried over from earlier steps moves θ by "
            f"{vector_text(a, carry)}.",
            carry,
        )
    )
    name = "max_exp_avg_sq, the largest exp_avg_sq so far" if amsgrad else "exp_avg_sq"
    parts.append(
        Part(
            "second_moment",
            "Second moment v",
            v,
            f"The second moment ({name}) decays by ×β2 = {b2:g} and takes {1 - b2:g}·{grad_text}²: "
            f"v = {vector_text(a, v)}.",
        )
    )
    parts.append(
        Part(
            "bias",
            PARTS["bias"],
            np.array([bc1, bc2]),
            f"At step t = {t:g} the bias corrections are 1 − β1^t = {bc1:.4g} and "
            f"1 − β2^t = {bc2:.4g}: m̂ = m / {bc1:.4g}, v̂ = v / {bc2:.4g}.",
        )
    )
    how = f"lr / (1 − β1^t) / (√v̂ + ε) with lr = {lr:g}, ε = {eps:g}"
    return parts + [_step_size_part(a, rate, how, "m"), _update_part(a)]


def _rmsprop(a: Anatomy) -> list[Part]:
    h, g, theta = a.hyper, _gradient(a), a.theta_before
    lr, alpha, eps = float(h["lr"]), float(h["alpha"]), float(h["eps"])
    mu, wd = float(h["momentum"]), float(h["weight_decay"])
    sq = a.state_after["square_avg"]
    centered = bool(h.get("centered")) and "grad_avg" in a.state_after
    mean_sq = sq - a.state_after["grad_avg"] ** 2 if centered else sq
    rate = lr / (np.sqrt(mean_sq) + eps)  # multiplies the gradient
    parts = [_gradient_part(a, g, -rate * g)]
    parts += _decay_part(a, wd, -rate * wd * theta, coupled=True)
    if mu > 0 and "momentum_buffer" in a.state_after:
        buf = a.state_after["momentum_buffer"]
        prev = a.state_before.get("momentum_buffer", np.zeros_like(g))
        carry = -lr * mu * prev
        parts.append(
            Part(
                "momentum",
                PARTS["momentum"],
                buf,
                f"The momentum buffer (momentum_buffer) is {mu:g}·(the last buffer) + g / (√v + ε): "
                f"{vector_text(a, buf)}; carried over, it moves θ by {vector_text(a, carry)}.",
                carry,
            )
        )
    what = "minus the squared mean gradient (grad_avg)" if centered else ""
    parts.append(
        Part(
            "second_moment",
            "Mean square v",
            mean_sq,
            f"The running mean of g² (square_avg{', ' + what if what else ''}) decays by "
            f"×α = {alpha:g}: v = {vector_text(a, mean_sq)}.",
        )
    )
    how = f"lr / (√v + ε) with lr = {lr:g}, ε = {eps:g}"
    return parts + [_step_size_part(a, rate, how, "g"), _update_part(a)]


def _adagrad(a: Anatomy) -> list[Part]:
    h, g, theta = a.hyper, _gradient(a), a.theta_before
    lr, decay_lr, eps, wd = (float(h[k]) for k in ("lr", "lr_decay", "eps", "weight_decay"))
    t = float(a.state_after["step"][0])
    total = a.state_after["sum"]
    clr = lr / (1 + (t - 1) * decay_lr)
    rate = clr / (np.sqrt(total) + eps)
    parts = [_gradient_part(a, g, -rate * g)]
    parts += _decay_part(a, wd, -rate * wd * theta, coupled=True)
    parts.append(
        Part(
            "second_moment",
            "Sum of g²",
            total,
            f"The sum of every squared gradient so far (sum) is {vector_text(a, total)} after t = {t:g} steps.",
        )
    )
    how = f"lr / (1 + (t − 1)·lr_decay) / (√sum + ε) with lr = {lr:g}, lr_decay = {decay_lr:g}"
    return parts + [_step_size_part(a, rate, how, "g"), _update_part(a)]


_READERS: dict[str, Callable[[Anatomy], list[Part]]] = {
    "SGD": _sgd,
    "Adam": _adam,
    "AdamW": _adam,
    "RMSprop": _rmsprop,
    "Adagrad": _adagrad,
}


# The parts every optimizer shares, and their sentences


def _gradient_part(a: Anatomy, g: np.ndarray, share: np.ndarray) -> Part:
    return Part(
        "gradient",
        PARTS["gradient"],
        g,
        f"The gradient at θ = {vector_text(a, a.theta_before)} is ∇L = {vector_text(a, g)}; its share of the "
        f"update is {vector_text(a, share)}.",
        share,
    )


def _decay_part(a: Anatomy, wd: float, share: np.ndarray, *, coupled: bool) -> list[Part]:
    if not wd:
        return []
    how = (
        f"adds wd·θ = {vector_text(a, wd * a.theta_before)} to the gradient (wd = {wd:g})"
        if coupled
        else f"shrinks θ by lr·wd·θ (decoupled, wd = {wd:g})"
    )
    return [
        Part(
            "weight_decay",
            PARTS["weight_decay"],
            share,
            f"Weight decay {how}; its share of the update is {vector_text(a, share)}.",
            share,
        )
    ]


def _step_size_part(a: Anatomy, rate: np.ndarray, how: str, times: str = "the gradient") -> Part:
    return Part(
        "step_size",
        PARTS["step_size"],
        rate,
        f"Each parameter's step size is {how}: {vector_text(a, rate)} (it multiplies {times}).",
    )


def _update_part(a: Anatomy) -> Part:
    return Part(
        "update",
        PARTS["update"],
        a.delta,
        f"So θ moves by Δθ = {vector_text(a, a.delta)}, from {vector_text(a, a.theta_before)} to "
        f"{vector_text(a, a.theta_after)}.",
    )
