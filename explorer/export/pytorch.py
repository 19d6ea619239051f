"""A catalogue loss or a typed formula as PyTorch code a user can paste: what is offered, and why.

- a typed formula: a generated `nn.Module` (explorer.expression.codegen) and its gradcheck;
- a catalogue loss torch has: torch's own class with the parameters set (`nn.HuberLoss(...)`);
- a catalogue loss the formula language can write: the module generated from that formula;
- anything else: no code, and a note saying why (a set-level loss, per-sample weights, ...).
"""

from collections.abc import Mapping
from dataclasses import dataclass

from explorer.expression import CompiledLoss
from explorer.expression.codegen import module_source
from explorer.losses import LossSpec

FORMULAS = {  # catalogue key → the same loss in the formula language (tests compare the two)
    "log_cosh": "abs(r) + softplus(-2*abs(r)) - log(2)",
    "quantile": "maximum(-tau*r, (1 - tau)*r)",
    "scaled_mse": "where(abs(r) > 1, scale_factor*r**2, r**2)",
    "soft_threshold": "sigmoid(k*(t - abs(r)))*r**2",
    "hard_threshold": "(abs(r) < t)*r**2",
    "proxy_round": "abs(r) + 0.5*abs(pred - round(pred))",
    "sigmoid_weighted_abs": "sigmoid(abs(r))*abs(r)",
    "focal": "(alpha*target + (1 - alpha)*(1 - target)) * exp(-gamma*softplus((2*target - 1)*pred))"
    " * (softplus(pred) - pred*target)",
    "hinge": "relu(1 + margin - target*pred)",
    "zero_one": "0.5*(1 - sign(target*pred))",
    "sigmoid_margin": "sigmoid(-k*target*pred)",
}
TORCH_CLASSES = {  # catalogue key → (torch.nn class, {our parameter: its argument})
    "mse": ("MSELoss", {}),
    "mae": ("L1Loss", {}),
    "huber": ("HuberLoss", {"delta": "delta"}),
    "smooth_l1": ("SmoothL1Loss", {"beta": "beta"}),
    "bce_logits": ("BCEWithLogitsLoss", {}),
    "cross_entropy": ("CrossEntropyLoss", {}),
    "weighted_ce": ("CrossEntropyLoss", {}),  # weight=torch.tensor([w0, w1, w2])
}
_SAMPLES = {  # task → how the check draws (input, target)
    "regression": ("torch.randn(8, dtype=torch.float64)", "torch.randn(8, dtype=torch.float64)"),
    "binary": ("torch.randn(8, dtype=torch.float64)", "torch.randint(0, 2, (8,)).double()"),
    "multiclass": ("torch.randn(8, 3, dtype=torch.float64)", "torch.randint(0, 3, (8,))"),
}
NO_CODE = {
    "dice": "Dice is one set-level ratio, not a mean of per-element losses; torch has no "
    "Dice loss class",
    "weighted_mse": "it needs per-sample weights, which forward(input, target) has no place "
    "for; with all weights 1 it is nn.MSELoss",
    "hand_grad_weighted_se": "it runs a hand-written autograd.Function (see the gradcheck "
    "table below); without weights it is nn.MSELoss",
    "sin2_function": "it runs a custom autograd.Function; its value 2(1 − cos r) needs cos, "
    "which the formula language lacks",
}


@dataclass(frozen=True)
class TorchCode:
    """Code for a loss: `code` ("" when none is offered), its file name and what it is."""

    code: str
    filename: str
    note: str


def torch_code(spec: LossSpec, params: Mapping[str, float] | None = None) -> TorchCode:
    """PyTorch code for spec with these parameter values (clamped as the page's sliders are)."""
    values = spec.clamp(params)
    if isinstance(spec.fn, CompiledLoss):
        source = module_source(spec.fn, values)
        note = "A generated nn.Module: the formula's parse tree written as torch operations."
        return TorchCode(source.text, "custom_loss.py", note)
    name = _class_name(spec.key)
    if spec.key in TORCH_CLASSES:
        return TorchCode(_torch_class(spec, values), f"{spec.key}_loss.py", "PyTorch's own loss.")
    if spec.key in FORMULAS:
        summary = f"{spec.name}, written in the formula language."
        source = module_source(FORMULAS[spec.key], values, class_name=name, summary=summary)
        note = f"A generated nn.Module from the formula `{FORMULAS[spec.key]}` (same values)."
        return TorchCode(source.text, f"{spec.key}_loss.py", note)
    why = NO_CODE.get(spec.key, "it has no torch equivalent and no formula")
    return TorchCode("", "", f"No PyTorch code for {spec.name}: {why}.")


def _class_name(key: str) -> str:
    return "".join(part.capitalize() for part in key.split("_")) + "Loss"


def _torch_class(spec: LossSpec, values: Mapping[str, float]) -> str:
    cls, renamed = TORCH_CLASSES[spec.key]
    args = [f"{arg}={values[ours]!r}" for ours, arg in renamed.items()]
    if spec.key == "weighted_ce":
        weights = ", ".join(repr(values[f"w{c}"]) for c in range(3))
        args.append(f"weight=torch.tensor([{weights}], dtype=torch.float64)")
    args.append('reduction="mean"')
    made, drawn = _SAMPLES[spec.task]
    return (
        "\n".join(
            [
                "import torch",
                "from torch import nn",
                "",
                f"loss_fn = nn.{cls}({', '.join(args)})",
                "",
                "# gradcheck: autograd against float64 finite differences",
                "torch.manual_seed(0)",
                f"input = {made}.requires_grad_()",
                f"target = {drawn}",
                "assert torch.autograd.gradcheck(lambda x: loss_fn(x, target), (input,))",
                'print("gradcheck passed:", loss_fn(input, target).item())',
            ]
        )
        + "\n"
    )
