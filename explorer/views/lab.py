"""The Gradient Lab's computations: a loss's curve, its diagnosis and its autograd graph on a tiny
model; and the Training page's word on a run whose gradient is zero.

Each takes a loss as a catalogue key, an "expr:" formula or a LossSpec already resolved (a
page that holds the spec passes it, so a formula is not parsed again).

A typed formula that mixes samples (`mean(r)**2`, `r - mean(r)`) has no loss of one residual
alone, so it has no curve L(r): its curve is L(r + s) against a shift s of every residual of a
fixed sample (`explorer.gradients.shift_curve`), and the doctor runs on that curve the checks
that still mean something there (`skipped_checks` names the others and why).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import torch

from explorer.data import DATASETS, datasets_for
from explorer.doctor import Finding, by_severity, diagnose_loss, finding
from explorer.doctor.findings import fmt
from explorer.doctor.sweep import (
    FLAT_LEVELS,
    check_flat,
    check_kinks,
    check_mean_reduction,
    check_nan_inf,
    check_repeats,
    probe_points,
    tiny_gradient,
    unbounded_parts,
)
from explorer.gradients.curves import Curve, loss_curve
from explorer.gradients.jumps import falls_forever
from explorer.gradients.shift import (
    SHIFT_AXIS,
    SHIFT_SAMPLE,
    mixes_samples,
    residual_gradients,
    shift_curve,
    shift_steps,
    shifted_loss,
)
from explorer.graph import autograd_dot
from explorer.losses import LossSpec, get_loss
from explorer.models import models_for
from explorer.rng import GLOBAL_RNG
from explorer.training import TrainConfig, build

GRAPH_POINTS = 8  # data points behind the graph: few, so the picture stays small
AXIS_LABELS = {
    "residual": "residual r = ŷ − y",
    "margin": "margin m = y·ŷ",
    "probability": "predicted probability p (target y = 1)",
    "logit": "logit of the true class (others 0, 3 classes)",
    SHIFT_AXIS: f"shift s added to all {len(SHIFT_SAMPLE)} residuals of a fixed sample (r + s)",
}
SHIFT_Y_LABELS = ("loss L(r + s)", "dL/ds")
SKIPPED_FOR_MIXED = {
    "Gradient pushes residuals outwards": "it compares the sign of dL/dr with the sign of one "
    "residual, and a formula that mixes samples has no loss of one residual alone",
}
ON_THE_SHIFT = (
    "nan_inf",
    "flat",
    "shift_invariant",
    "jump",
    "kink",
    "unbounded_below",
    "nondeterministic",
)
ZERO_GRADIENT_CODES = ("flat", "zero_gradient", "no_gradient")


@dataclass(frozen=True)
class LossGraph:
    """A loss's autograd graph on a tiny model, its value there, each parameter's ‖gradient‖."""

    dot: str  # Graphviz DOT source
    value: float
    norms: dict[str, float | None]  # parameter name → ‖∂L/∂p‖ (None: no gradient reached it)


@dataclass(frozen=True)
class LabCurve:
    """The Lab's 1-D picture of a loss: the curve and how to label it.

    For a formula that mixes samples the curve is L(r + s) against the shift s (x_axis "s"),
    and `caption` says why and what the sample is; otherwise it is L(x) and `caption` is ""."""

    curve: Curve
    mixed: bool
    title: str
    x_label: str
    y_labels: tuple[str, str]
    caption: str


def _spec(loss: str | LossSpec) -> LossSpec:
    return loss if isinstance(loss, LossSpec) else get_loss(loss)


def _sample_text() -> str:
    return f"r = ({fmt(SHIFT_SAMPLE, limit=len(SHIFT_SAMPLE))}), mean 0"


def lab_curve(loss: str | LossSpec, params: Mapping[str, float] | None = None) -> LabCurve:
    """The loss's curve with its labels: L(x) for a per-element loss, L(r + s) for a mixed one."""
    spec = _spec(loss)
    params = spec.clamp(params)
    if not mixes_samples(spec):
        return LabCurve(
            loss_curve(spec, params),
            False,
            f"{spec.name}: value and gradient against the {spec.x_axis}",
            AXIS_LABELS[spec.x_axis],
            ("loss L", "dL/dŷ"),
            "",
        )
    mixing = getattr(spec.fn, "mixing", "") or "a mean or sum inside a non-linear term"
    caption = (
        f"This formula mixes samples ({mixing}): it has no loss of one residual alone, so there "
        "is no curve L(r). Drawn instead: the loss L(r + s) and its derivative dL/ds as all "
        f"{len(SHIFT_SAMPLE)} residuals of a fixed sample, {_sample_text()}, shift together by s "
        "(autograd as lines, float64 finite differences as markers)."
    )
    return LabCurve(
        shift_curve(spec, params),
        True,
        f"{spec.name}: L(r + s) and dL/ds as all residuals shift together by s",
        AXIS_LABELS[SHIFT_AXIS],
        SHIFT_Y_LABELS,
        caption,
    )


def graph_config(loss: str | LossSpec, params: dict | None = None, *, seed: int = 0) -> TrainConfig:
    """The smallest run a loss fits: its task's first data set and simplest model, 8 points."""
    spec = _spec(loss)
    dataset = datasets_for(spec.task)[0]
    model = models_for(DATASETS[dataset].in_dim)[0]
    return TrainConfig(
        dataset=dataset,
        n=GRAPH_POINTS,
        model=model,
        loss=spec.key,
        loss_params=dict(params or {}),
        seed=seed,
    ).validate(spec)


def loss_graph(loss: str | LossSpec, params: dict | None = None, *, seed: int = 0) -> LossGraph:
    """The loss's autograd graph on a tiny model, the loss value and each gradient norm."""
    spec = _spec(loss)
    problem = build(graph_config(spec, params, seed=seed), spec)
    model, loss_of = problem.model, problem.objective
    named = dict(model.named_parameters())
    value = loss_of(model)
    dot = autograd_dot(value, params=named)
    if value.requires_grad and value.dim() == 0:
        value.backward()
    norms = {n: (float(p.grad.norm()) if p.grad is not None else None) for n, p in named.items()}
    return LossGraph(dot, float(value.detach().sum()), norms)


def diagnosis(loss: str | LossSpec, params: dict | None = None) -> list[Finding]:
    """The gradient doctor's findings for a loss, errors first; for a formula that mixes
    samples, the checks that apply, run along the shift s of all residuals together."""
    spec = _spec(loss)
    params = spec.clamp(params)
    if not mixes_samples(spec):
        return diagnose_loss(spec, params)
    with GLOBAL_RNG, torch.random.fork_rng(devices=[]):  # random draws inside leave it alone
        try:
            found = [_on_the_shift(f) for f in _mixed_findings(spec, params)]
        except (RuntimeError, ValueError, TypeError, IndexError) as err:
            found = [finding("loss_raised", "error", f"{type(err).__name__}: {err}")]
    return by_severity(found)


def skipped_checks(loss: str | LossSpec) -> dict[str, str]:
    """{check: why it was not run} for this loss: none for a per-element loss."""
    return dict(SKIPPED_FOR_MIXED) if mixes_samples(_spec(loss)) else {}


def _mixed_findings(spec: LossSpec, params: Mapping[str, float]) -> list[Finding]:
    c = shift_curve(spec, params)
    noisy = check_repeats(lambda x: shifted_loss(spec, params, x), c, SHIFT_AXIS)
    if noisy:  # the shape checks read a noisy curve wrongly: leave them out
        return noisy + check_nan_inf(c) + check_mean_reduction(spec, params)
    values, grads = shift_steps(spec, params, c)
    unbounded = unbounded_parts(values, grads, c.x_axis)
    found = check_nan_inf(c, unbounded=unbounded) + check_mean_reduction(spec, params)
    found += _shift_flat(spec, params, c) + check_kinks(c, values, grads)
    return found + _shift_unbounded(spec, params, c)


def _on_the_shift(f: Finding) -> Finding:
    """A finding read off the shift curve, saying what s is."""
    if f.code not in ON_THE_SHIFT:
        return f
    return replace(f, seen=f"{f.seen} (s: a shift of all {len(SHIFT_SAMPLE)} residuals together)")


def _shift_flat(spec: LossSpec, params: Mapping[str, float], c: Curve) -> list[Finding]:
    """Flat when the gradient with respect to every residual of the sample, ‖∇ᵣL(r + s)‖, is zero
    in practice at most shifts s; shift-invariant (info) when only dL/ds = Σᵢ ∂L/∂rᵢ is."""
    norms = residual_gradients(spec, params, torch.as_tensor(c.x))[1].norm(dim=-1).numpy()
    ok = np.isfinite(norms)
    if ok.any():
        g, x = norms[ok], c.x[ok]
        tiny = tiny_gradient(g)
        flat = g < tiny
        frac = float(flat.mean())
        level = next((sev for limit, sev in FLAT_LEVELS if frac >= limit), None)
        if level is not None:
            where = (
                f"only for s in [{x[~flat].min():.3g}, {x[~flat].max():.3g}]"
                if not flat.all()
                else "nowhere"
            )
            seen = (
                f"‖∇ᵣL‖, the gradient with respect to each of the {len(SHIFT_SAMPLE)} residuals, "
                f"is < {tiny:.2g} (zero in practice) at {flat.sum()} of {g.size} shifts s "
                f"({frac:.0%}) of [{c.x[0]:.3g}, {c.x[-1]:.3g}]; nonzero {where}"
            )
            return [finding("flat", level, seen)]
    along = check_flat(c)  # the residuals get a gradient, but a common shift may not
    return [_shift_invariant(f.seen) for f in along]


def _shift_invariant(seen: str) -> Finding:
    """Finding: the loss does not change when every residual moves by the same amount."""
    return Finding(
        "shift_invariant",
        "info",
        "No gradient along a common shift of the residuals",
        f"{seen}, while the gradient with respect to each residual is not zero",
        "Moving every prediction by the same amount leaves this loss unchanged, so a bias (or "
        "anything that moves all predictions alike) gets no gradient: the spread of the "
        "residuals is trained, their mean is not.",
        "If the mean residual should go to 0 as well, add a term for it, e.g. + mean(r)**2.",
    )


def _shift_unbounded(spec: LossSpec, params: Mapping[str, float], c: Curve) -> list[Finding]:
    """Unbounded below when L(r + s) keeps falling as s runs out towards either end."""
    for ray in probe_points(c):
        with torch.no_grad():
            v = shifted_loss(spec, params, torch.as_tensor(ray)).numpy()
        if falls_forever(v):
            seen = f"L = {fmt(v)} at s = {fmt(ray)}: it keeps falling"
            return [finding("unbounded_below", "error", seen)]
    return []


# ---------------------------------------------------------------- a run that cannot move


def zero_gradient_warning(config: TrainConfig, grad_norms: Iterable[float]) -> str | None:
    """What to tell about a run whose gradient norm is exactly 0 at step 0 and every step since
    (`grad_norms`: one a step, from step 0), with the doctor's finding for its loss; else None."""
    norms = [float(g) for g in grad_norms]
    if not norms or any(g != 0.0 for g in norms):
        return None
    when = "at step 0" if len(norms) == 1 else f"at every step from 0 to {len(norms) - 1}"
    message = (
        "this run's gradient is zero: the loss passes no gradient to the parameters "
        f"(‖∇‖ = 0 exactly {when}), so no optimizer step can move them"
    )
    params = tuple(sorted(config.loss_params.items()))
    found = _zero_gradient_finding(config.loss, params)
    if found is not None:
        return f"{message}. Gradient doctor: {found.title}: {found.seen}. Fix: {found.fix}"
    return (
        f"{message}. The gradient doctor finds no flat stretch in the loss itself: its gradient "
        "vanishes at these initial parameters only (other data or another seed may train)"
    )


@lru_cache(maxsize=64)
def _zero_gradient_finding(loss: str, params: tuple[tuple[str, float], ...]) -> Finding | None:
    """The doctor's most severe finding that the loss passes no gradient, if it has one."""
    found = diagnosis(loss, dict(params))
    return next((f for f in found if f.code in ZERO_GRADIENT_CODES), None)
