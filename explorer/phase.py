"""The (α, β) phase diagram of heavy-ball momentum on a quadratic: how fast it converges.

On L(θ) = ½ θᵀHθ, heavy ball (torch's SGD with momentum β, no dampening: v ← βv + ∇L,
θ ← θ − αv) moves each eigen-direction of H (eigenvalue λ) by the 2×2 iteration

    [x_{k+1}, x_k] = M [x_k, x_{k-1}],   M = [[1 + β − αλ, −β], [1, 0]],

so the error shrinks like ρ(M)^k; the rate of the whole run is the slowest direction's,
max over λ of ρ(M). It converges iff 0 < αλ < 2(1 + β) for every λ (with 0 ≤ β < 1): the
divergence boundary is α = 2(1 + β)/λ_max. Optima (Goh, "Why Momentum Really Works", Distill
2017): plain gradient descent α* = 2/(λ_min + λ_max), rate (κ − 1)/(κ + 1); momentum
α* = (2/(√λ_min + √λ_max))², β* = ((√κ − 1)/(√κ + 1))², rate √β*; κ = λ_max/λ_min.

For the line model with MSE the Hessian is exact and constant; for other models it is the
Hessian at one point, and the diagram is local (true only near that point).
"""

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn
from torch.func import functional_call

from explorer.models import flat_params, param_slices
from explorer.objective import Objective

MAX_PARAMS = 600  # a dense Hessian (P × P, float64) of at most this many parameters
POINTS_RANGE = (11, 201)  # grid points an axis
BETA_MAX = 0.995  # the β axis runs over [0, BETA_MAX]
FLAT = 1e-9  # eigenvalues below FLAT × λ_max are treated as flat (no curvature)
QUADRATIC_MODELS = ("line", "logistic")  # linear in θ: with MSE the loss is a quadratic


def is_quadratic(model: str, loss: str) -> bool:
    """True when L(θ) is exactly a quadratic: a model linear in θ under MSE."""
    return model in QUADRATIC_MODELS and loss == "mse"


def iteration_matrix(alpha: float, beta: float, lam: float) -> np.ndarray:
    """M = [[1 + β − αλ, −β], [1, 0]]: one heavy-ball step on the eigen-direction λ."""
    return np.array([[1 + beta - alpha * lam, -beta], [1.0, 0.0]])


def momentum_rate(alpha: ArrayLike, beta: ArrayLike, eigenvalues: ArrayLike) -> np.ndarray:
    """max over λ of ρ(M(α, β, λ)), broadcast over alpha and beta (any shapes that broadcast).

    ρ(M) is the larger |μ| of μ² − (1 + β − αλ)μ + β = 0, μ = (t ± √(t² − 4β))/2.
    """
    a, b = np.asarray(alpha, np.float64)[..., None], np.asarray(beta, np.float64)[..., None]
    lam = np.asarray(eigenvalues, np.float64).reshape(-1)
    t = 1 + b - a * lam
    root = np.sqrt((t * t - 4 * b).astype(np.complex128))
    rho = np.maximum(np.abs((t + root) / 2), np.abs((t - root) / 2))
    return rho.max(axis=-1)


def gd_optimum(lam_min: float, lam_max: float) -> tuple[float, float]:
    """(α*, rate) of plain gradient descent: α* = 2/(λ_min + λ_max), rate (κ − 1)/(κ + 1)."""
    kappa = lam_max / lam_min
    return 2.0 / (lam_min + lam_max), (kappa - 1) / (kappa + 1)


def momentum_optimum(lam_min: float, lam_max: float) -> tuple[float, float, float]:
    """(α*, β*, rate) of heavy ball: α* = (2/(√λ_min + √λ_max))², β* = ((√κ − 1)/(√κ + 1))²."""
    root = math.sqrt(lam_max / lam_min)
    beta = ((root - 1) / (root + 1)) ** 2
    return (2 / (math.sqrt(lam_min) + math.sqrt(lam_max))) ** 2, beta, math.sqrt(beta)


@dataclass(frozen=True)
class PhaseDiagram:
    """The rate over an (α, β) grid: rate[i, j] at (alpha[j], beta[i]); marks and their text."""

    alpha: np.ndarray  # (A,) step sizes, from just above 0 to past the divergence at β = 1
    beta: np.ndarray  # (B,) momentum, 0 … BETA_MAX
    rate: np.ndarray  # (B, A) max over λ of ρ(M); ≥ 1: no convergence
    eigenvalues: np.ndarray  # the Hessian's eigenvalues, ascending (all, flat and negative too)
    lam_min: float  # the smallest curved (positive, not flat) eigenvalue
    lam_max: float
    exact: bool  # True: the loss is a quadratic; False: the Hessian at one point (local)
    gd: tuple[float, float]  # (α*, rate) of plain gradient descent
    momentum: tuple[float, float, float]  # (α*, β*, rate) of heavy ball
    left_out: int  # eigenvalues left out of the rate: flat or negative (local diagrams only)

    @property
    def kappa(self) -> float:
        return self.lam_max / self.lam_min

    def boundary(self) -> tuple[np.ndarray, np.ndarray]:
        """(α, β) along the divergence boundary α = 2(1 + β)/λ_max, over the β axis."""
        return 2 * (1 + self.beta) / self.lam_max, self.beta

    def rate_at(self, alpha: float, beta: float) -> float:
        return float(momentum_rate(alpha, beta, self.curved))

    @property
    def curved(self) -> np.ndarray:
        """The eigenvalues the rate is taken over."""
        lam = self.eigenvalues
        return lam[lam > FLAT * self.lam_max]

    def title(self) -> str:
        kind = "exact: the loss is a quadratic" if self.exact else "local: Hessian at the centre"
        return f"Heavy-ball momentum: convergence rate over (α, β) — {kind}"

    def summary(self) -> str:
        """One paragraph naming the numbers."""
        a_gd, r_gd = self.gd
        a_m, b_m, r_m = self.momentum
        text = (
            f"Hessian eigenvalues λ_min = {self.lam_min:.4g}, λ_max = {self.lam_max:.4g} "
            f"(κ = {self.kappa:.4g}). Gradient descent converges for α < 2/λ_max = "
            f"{2 / self.lam_max:.4g}; its best α = 2/(λ_min + λ_max) = {a_gd:.4g} shrinks the "
            f"error ×{r_gd:.4g} a step. Momentum's best α = {a_m:.4g}, β = {b_m:.4g} gives "
            f"×{r_m:.4g} a step. Rate ≥ 1 (grey, right of the boundary α = 2(1 + β)/λ_max): "
            "no convergence."
        )
        if self.left_out:
            text += (
                f" {self.left_out} eigenvalue(s) ≤ {FLAT:g} × λ_max (flat or negative "
                "curvature) are left out of the rate: no step size makes those directions converge."
            )
        return text


def phase_diagram(eigenvalues: ArrayLike, *, points: int = 121, exact: bool = True) -> PhaseDiagram:
    """The diagram for a Hessian with these eigenvalues; ValueError without positive curvature."""
    lam = np.sort(np.asarray(eigenvalues, np.float64).reshape(-1))
    if lam.size == 0 or not np.all(np.isfinite(lam)):
        raise ValueError("the phase diagram needs finite Hessian eigenvalues")
    top = float(lam.max())
    curved = lam[lam > FLAT * top] if top > 0 else lam[:0]
    if curved.size == 0:
        raise ValueError(
            "the Hessian has no positive curvature here (every eigenvalue is ≤ 0): "
            "no step size converges, so there is no phase diagram to draw"
        )
    n = int(min(max(int(points), POINTS_RANGE[0]), POINTS_RANGE[1]))
    lo, hi = float(curved.min()), float(curved.max())
    alpha = np.linspace(0, 4.2 / hi, n + 1)[1:]  # past the divergence at β → 1 (α = 4/λ_max)
    beta = np.linspace(0, BETA_MAX, n)
    rate = momentum_rate(alpha[None, :], beta[:, None], curved)
    return PhaseDiagram(
        alpha=alpha,
        beta=beta,
        rate=rate,
        eigenvalues=lam,
        lam_min=lo,
        lam_max=hi,
        exact=exact,
        gd=gd_optimum(lo, hi),
        momentum=momentum_optimum(lo, hi),
        left_out=int(lam.size - curved.size),
    )


def hessian_matrix(model: nn.Module, obj: Objective, theta: ArrayLike | None = None) -> np.ndarray:
    """The dense Hessian (P, P) of L at theta (default: the model's parameters), float64 on the
    CPU, by torch.autograd.functional.hessian through functional_call."""
    point = torch.as_tensor(np.asarray(flat_params(model) if theta is None else theta, np.float64))
    if point.numel() > MAX_PARAMS:
        raise ValueError(
            f"the phase diagram needs the full Hessian: {point.numel()} parameters > "
            f"{MAX_PARAMS}; pick a smaller model"
        )
    net = copy.deepcopy(model).to("cpu", torch.float64)
    data = obj.to("cpu", torch.float64)
    slices, shapes = param_slices(net), {n: p.shape for n, p in net.named_parameters()}

    def loss(flat: torch.Tensor) -> torch.Tensor:
        params = {n: flat[s].reshape(shapes[n]) for n, s in slices.items()}
        return data.of_output(functional_call(net, params, (data.x,)))

    h = torch.autograd.functional.hessian(loss, point)
    return ((h + h.T) / 2).numpy()


def model_phase(
    model: nn.Module,
    obj: Objective,
    theta: ArrayLike | None = None,
    *,
    exact: bool,
    points: int = 121,
) -> PhaseDiagram:
    """The phase diagram of the Hessian of L at theta; `exact` says whether L is a quadratic."""
    h = hessian_matrix(model, obj, theta)
    if not np.all(np.isfinite(h)):
        raise ValueError("the Hessian is not finite at this point: no phase diagram")
    return phase_diagram(np.linalg.eigvalsh(h), points=points, exact=exact)
