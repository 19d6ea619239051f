"""explorer.phase: heavy-ball rates against numpy's eigenvalues of the iteration matrix, the
optima against Distill's formulas and a fine grid, the Hessian against the closed form."""

import math

import numpy as np
import pytest
import torch

from explorer.phase import (
    hessian_matrix,
    is_quadratic,
    iteration_matrix,
    model_phase,
    momentum_rate,
    phase_diagram,
)
from explorer.training import TrainConfig, build

CLOSE = 1e-9
LAMBDAS = np.array([0.3, 2.5])  # a 2×2 quadratic's Hessian eigenvalues (κ ≈ 8.3)


def numpy_rate(alpha: float, beta: float, lams) -> float:
    """max over λ of the spectral radius, by numpy.linalg.eigvals of the 2×2 matrix itself."""
    return max(abs(np.linalg.eigvals(iteration_matrix(alpha, beta, lam))).max() for lam in lams)


def test_iteration_matrix_is_one_torch_heavy_ball_step():
    lam, alpha, beta = 1.7, 0.3, 0.6
    w = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=alpha, momentum=beta)
    xs = [1.0]
    for _ in range(6):
        opt.zero_grad()
        (0.5 * lam * w**2).sum().backward()
        opt.step()
        xs.append(w.item())
    m = iteration_matrix(alpha, beta, lam)
    for k in range(1, 6):  # [x_{k+1}, x_k] = M [x_k, x_{k-1}]
        assert np.allclose(m @ [xs[k], xs[k - 1]], [xs[k + 1], xs[k]], atol=1e-12)


def test_rates_equal_numpy_eigenvalues_of_the_iteration_matrix():
    rng = np.random.default_rng(0)
    alphas, betas = rng.uniform(0, 2, 200), rng.uniform(0, 1, 200)
    got = momentum_rate(alphas, betas, LAMBDAS)
    want = [numpy_rate(a, b, LAMBDAS) for a, b in zip(alphas, betas, strict=True)]
    assert np.allclose(got, want, rtol=CLOSE, atol=CLOSE)
    assert momentum_rate(0.2, 0.0, LAMBDAS) == pytest.approx(max(abs(1 - 0.2 * LAMBDAS)))


def test_optimum_matches_distill_and_is_the_argmin_of_a_fine_grid():
    d = phase_diagram(LAMBDAS, points=201)
    lo, hi = LAMBDAS
    kappa = hi / lo
    a_star = (2 / (math.sqrt(lo) + math.sqrt(hi))) ** 2
    b_star = ((math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)) ** 2
    assert d.momentum[:2] == pytest.approx((a_star, b_star), rel=1e-12)
    assert d.momentum[2] == pytest.approx(numpy_rate(a_star, b_star, LAMBDAS), rel=1e-6)
    assert d.gd == pytest.approx((2 / (lo + hi), (kappa - 1) / (kappa + 1)), rel=1e-12)
    alphas = np.linspace(1e-3, 4 / hi, 801)
    betas = np.linspace(0, 0.99, 800)
    grid = momentum_rate(alphas[None, :], betas[:, None], LAMBDAS)
    i, j = np.unravel_index(np.argmin(grid), grid.shape)
    assert abs(alphas[j] - a_star) <= 2 * (alphas[1] - alphas[0])
    assert abs(betas[i] - b_star) <= 2 * (betas[1] - betas[0])
    gd = momentum_rate(alphas, 0.0, LAMBDAS)
    assert abs(alphas[np.argmin(gd)] - 2 / (lo + hi)) <= alphas[1] - alphas[0]


def test_the_divergence_boundary_is_where_the_rate_reaches_one():
    d = phase_diagram(LAMBDAS)
    alpha, beta = d.boundary()
    assert momentum_rate(alpha * 0.999, beta, LAMBDAS).max() < 1
    assert momentum_rate(alpha * 1.001, beta, LAMBDAS).min() > 1
    assert d.rate.shape == (len(d.beta), len(d.alpha))
    assert d.rate[0, -1] > 1  # β = 0, α = 4.2/λ_max: past 2/λ_max


def test_line_mse_hessian_is_the_closed_form_and_exact():
    cfg = TrainConfig(dataset="line", model="line", loss="mse", n=50, device="cpu")
    problem = build(cfg)
    x = problem.dataset.x.double().numpy()[:, 0]
    want = 2 / len(x) * np.array([[x @ x, x.sum()], [x.sum(), len(x)]])
    assert np.allclose(hessian_matrix(problem.model, problem.objective), want, atol=1e-12)
    assert is_quadratic("line", "mse") and not is_quadratic("mlp", "mse")
    d = model_phase(problem.model, problem.objective, exact=True)
    assert np.allclose(d.eigenvalues, np.linalg.eigvalsh(want), rtol=1e-12)
    assert d.exact and "exact" in d.title() and d.left_out == 0


def test_local_diagrams_leave_out_flat_and_negative_curvature():
    d = phase_diagram([-0.5, 0.0, 0.4, 2.0], exact=False)
    assert (d.lam_min, d.lam_max, d.left_out) == (0.4, 2.0, 2)
    assert "local" in d.title() and "left out" in d.summary()
    with pytest.raises(ValueError, match="no positive curvature"):
        phase_diagram([-1.0, 0.0])
    with pytest.raises(ValueError, match="finite"):
        phase_diagram([np.nan, 1.0])
    cfg = TrainConfig(dataset="moons", model="mlp", hidden=(4,), loss="bce_logits", device="cpu")
    problem = build(cfg)
    local = model_phase(problem.model, problem.objective, exact=False, points=11)
    assert local.rate.shape == (11, 11) and not local.exact
