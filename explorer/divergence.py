"""Why a run diverged, in numbers: the stability bound of (momentum) gradient descent where the
loss is an exact quadratic, else what the run showed (where the loss began to grow, the
largest step one parameter took).

On L(θ) = ½θᵀHθ + …, each eigen-direction of H (eigenvalue λ) evolves on its own, and full-batch
SGD is stable iff for every λ:  plain  αλ < 2;  heavy ball (v ← βv + g, θ ← θ − αv)
αλ < 2(1 + β);  Nesterov (θ ← θ − α(g + βv))  αλ < 2(1 + β)/(1 + 2β). Dampening τ scales α by
(1 − τ); weight decay adds its value to every λ.
"""

from dataclasses import dataclass

import numpy as np

from explorer.models import theta_labels


@dataclass(frozen=True)
class Bound:
    """The stability bound of a run on a quadratic: it diverges when alpha > limit."""

    method: str  # "gradient descent", "heavy-ball momentum", "Nesterov momentum"
    alpha: float  # the (largest) rate used, times (1 − dampening)
    limit: float  # the largest stable rate: factor / λ_max
    lam_max: float  # the Hessian's largest eigenvalue (plus weight decay)
    factor: float  # 2, 2(1+β) or 2(1+β)/(1+2β)
    formula: str  # the limit in symbols: "2/λ_max", "2(1+β)/λ_max", ...
    beta: float = 0.0
    decay: float = 0.0  # weight decay, included in lam_max

    def sentence(self, note: str = "") -> str:
        """ "gradient descent on this quadratic loss diverges when α > 2/λ_max: here α = 0.6 >
        2/λ_max = 0.45 (λ_max = 4.44, …)"; note follows α's value."""
        relation = ">" if self.alpha > self.limit else "≤"
        beta = f"β = {self.beta:g}, " if self.beta else ""
        decay = f" plus the weight decay {self.decay:g}" if self.decay else ""
        return (
            f"{self.method} on this quadratic loss diverges when α > {self.formula}: "
            f"here α = {self.alpha:.3g}{note} {relation} {self.formula} = {self.limit:.3g} "
            f"({beta}λ_max = {self.lam_max:.4g}, the largest eigenvalue of the Hessian "
            f"(2/n)·X̃ᵀX̃{decay})"
        )


def quadratic_hessian(problem) -> np.ndarray | None:
    """The exact, constant Hessian (2/n)·X̃ᵀX̃ (X̃ = [x, 1]) of a linear model with MSE on the
    whole data set, float64; None for any other problem (no closed form)."""
    cfg, obj = problem.config, problem.objective
    linear = cfg.model in ("line", "logistic") and obj.x.ndim == 2
    if not (linear and problem.spec.key == "mse" and obj.link == "identity"):
        return None
    if obj.weights is not None or obj.target.ndim != 1:
        return None
    x = obj.x.detach().cpu().double().numpy()
    design = np.hstack([x, np.ones((len(x), 1))])
    return 2.0 / len(x) * design.T @ design


def stability_bound(problem, alpha: float | None = None) -> Bound | None:
    """The bound of a full-batch SGD-family run on a quadratic loss (at rate alpha, default the
    config's); None where it cannot be known (other optimizers, mini-batches, other losses)."""
    cfg = problem.config
    full = cfg.batch_size is None or cfg.batch_size >= len(problem.dataset)
    hessian = quadratic_hessian(problem)
    if hessian is None or not full or cfg.optimizer not in ("sgd", "momentum", "nesterov"):
        return None
    p = cfg.optimizer_params
    beta, damp = float(p["momentum"]), float(p["dampening"])
    decay = float(p["weight_decay"])
    lam = float(np.linalg.eigvalsh(hessian)[-1]) + decay
    if beta == 0:
        method, factor, formula = "gradient descent", 2.0, "2/λ_max"
    elif p["nesterov"]:
        method, factor = "Nesterov momentum", 2 * (1 + beta) / (1 + 2 * beta)
        formula = "2(1+β)/((1+2β)·λ_max)"
    else:
        method, factor, formula = "heavy-ball momentum", 2 * (1 + beta), "2(1+β)/λ_max"
    rate = (cfg.lr if alpha is None else alpha) * (1 - damp)
    return Bound(method, rate, factor / lam, lam, factor, formula, beta, decay)


class Watch:
    """What a run showed, step by step: where the loss began its latest climb, the largest
    change of a single parameter, the largest rate used."""

    def __init__(self) -> None:
        self.climb_from: tuple[int, float] | None = None  # (step, loss) where it began to grow
        self.biggest: tuple[float, int, int] | None = None  # (|Δθ_i|, i, step)
        self.peak_lr = 0.0  # the largest rate of an update made so far
        self._last: tuple[int, float, np.ndarray] | None = None
        self._next_lr = 0.0

    def see(self, step: int, loss: float, theta: np.ndarray, optimizer) -> None:
        """Record step `step` (after its update); optimizer: its rate is the next update's."""
        self.peak_lr = max(self.peak_lr, self._next_lr)
        self._next_lr = max(g["lr"] for g in optimizer.param_groups)
        if self._last is not None:
            before, last_loss, last_theta = self._last
            if loss <= last_loss:  # a NaN loss counts as growth
                self.climb_from = None
            elif self.climb_from is None:
                self.climb_from = (before, last_loss)
            moved = np.abs(theta - last_theta)
            moved[~np.isfinite(moved)] = -1.0
            i = int(np.argmax(moved)) if moved.size else 0
            if (
                moved.size
                and moved[i] >= 0
                and (self.biggest is None or moved[i] > self.biggest[0])
            ):
                self.biggest = (float(moved[i]), i, step)
        self._last = (step, loss, theta)

    def seen(self, labels: list[str]) -> str:
        """What was seen, as a clause: "the loss grew at every step from step 3 (0.8) on; the
        largest step of one parameter was |Δw| = 12 (at step 7)"."""
        parts = []
        if self.climb_from is not None:
            step, loss = self.climb_from
            parts.append(f"the loss grew at every step from step {step} ({loss:.3g}) on")
        if self.biggest is not None:
            size, i, step = self.biggest
            name = labels[i] if i < len(labels) else f"theta[{i}]"
            parts.append(
                f"the largest step of one parameter was |Δ{name}| = {size:.3g} (step {step})"
            )
        return "; ".join(parts)


def explain(problem, watch: Watch) -> str:
    """Why the run of `problem` diverged: the bound where it is known, and what was seen."""
    seen = watch.seen(theta_labels(problem.model))
    schedule = problem.config.schedule != "constant"
    bound = stability_bound(problem, watch.peak_lr if schedule else None)
    if bound is None:
        return f"Seen: {seen}." if seen else ""
    why = bound.sentence(" (the largest rate the schedule reached)" if schedule else "")
    return f"Why: {why}." + (f" Seen: {seen}." if seen else "")
