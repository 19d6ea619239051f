"""Hard steps and their sigmoid approximations, side by side: masks, losses and gradients."""

import numpy as np
import torch

from .gradients import loss_curve

PAIRS = {
    "threshold": ("soft_threshold", "hard_threshold"),  # sigmoid(k(t − |r|))·r² vs [|r| < t]·r²
    "margin": ("sigmoid_margin", "zero_one"),  # sigmoid(−k·yŷ) vs step(−yŷ)
}
NEAR = 0.25  # |x − edge| below this counts as "near the step"


def soft_vs_hard(pair: str, *, k: float, t: float = 1.0, n: int = 801) -> dict:
    """Mask, value and dL/dx of the soft and hard member of a pair on one grid, plus summary figures."""
    from .losses import get_loss

    if pair not in PAIRS:
        raise ValueError(f"unknown pair {pair!r}; allowed: {', '.join(PAIRS)}")
    soft_spec, hard_spec = (get_loss(key) for key in PAIRS[pair])
    soft_params = soft_spec.clamp({"k": k, "t": t})
    hard_params = hard_spec.clamp({"t": t})
    k, t = soft_params["k"], soft_params.get("t", 0.0)
    lo, hi = (-3 * t, 3 * t) if pair == "threshold" else (-3.0, 3.0)
    soft = loss_curve(soft_spec, soft_params, lo=lo, hi=hi, n=n)
    hard = loss_curve(hard_spec, hard_params, x=soft.x)
    x = torch.as_tensor(soft.x)
    if pair == "threshold":
        masks = torch.sigmoid(k * (t - x.abs())), (x.abs() < t).double()
    else:
        masks = torch.sigmoid(-k * x), (x < 0).double()
    out = {"x": soft.x, "k": k, "t": t, "edges": [-t, t] if pair == "threshold" else [0.0]}
    for name, curve, mask in (("soft", soft, masks[0]), ("hard", hard, masks[1])):
        out[name] = {"mask": mask.numpy(), "value": curve.value, "grad": curve.grad_autograd}
    out["summary"] = _summary(out, pair)
    out["metrics"], out["outward"] = _metrics(out, pair)
    out["curves"] = [
        {
            "name": f"{soft_spec.key} (k = {k:g})",
            "value": soft.value,
            "grad_autograd": soft.grad_autograd,
        },
        {"name": hard_spec.key, "value": hard.value, "grad_autograd": hard.grad_autograd},
    ]
    return out


def _summary(views: dict, pair: str) -> dict:
    """The figures the page quotes: how much gradient each side passes near the step."""
    x, soft_g, hard_g = views["x"], views["soft"]["grad"], views["hard"]["grad"]
    near = (
        np.min(
            [
                np.abs(np.abs(x) - e) if pair == "threshold" else np.abs(x - e)
                for e in views["edges"]
            ],
            axis=0,
        )
        < NEAR
    )
    summary = {
        "soft_max_grad_near_step": float(np.max(np.abs(soft_g[near]))),
        "hard_max_grad_near_step": float(np.max(np.abs(hard_g[near]))),
        "hard_zero_fraction": float(np.mean(hard_g == 0.0)),
        "soft_zero_fraction": float(np.mean(soft_g == 0.0)),
    }
    if pair == "threshold":
        k, t = views["k"], views["t"]
        summary["soft_grad_at_t_closed_form"] = -k * t**2 / 4 + t  # d/dr at r = t, sign(r) = +1
        summary["outward_fraction_near_t"] = float(np.mean((soft_g * x < 0)[near]))
    return summary


def _metrics(views: dict, pair: str) -> tuple[dict[str, str], str]:
    """The figures a page quotes (label → formatted value) and a warning when descent pushes outward."""
    s = views["summary"]
    metrics = {
        "max |soft gradient| near the step": f"{s['soft_max_grad_near_step']:.3g}",
        "max |hard gradient| near the step": f"{s['hard_max_grad_near_step']:.3g}",
        "hard: points with exactly zero gradient": f"{s['hard_zero_fraction']:.0%}",
    }
    if pair != "threshold":
        return metrics, ""
    closed = s["soft_grad_at_t_closed_form"]
    metrics["soft dL/dr at r = t (= −k·t²/4 + t)"] = f"{closed:.3g}"
    if closed >= 0:
        return metrics, ""
    return metrics, (
        f"With k = {views['k']:g} and t = {views['t']:g} the soft threshold's gradient at |r| = t "
        f"is {closed:.3g}·sign(r): a descent step pushes residuals near the threshold outwards, "
        "so points just inside it are pushed out rather than fitted."
    )
