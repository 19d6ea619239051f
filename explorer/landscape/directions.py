"""Directions in parameter space for loss slices: named parameters, filter-normalized random
directions (Li et al. 2018), the principal components of a trajectory, Hessian eigenvectors.

Every direction is a flat float64 vector over theta (the order of model.named_parameters()).
"""

import copy
from collections.abc import Callable, Sequence

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import Tensor, nn
from torch.func import functional_call

from explorer.budget import Budget, checkpoint
from explorer.models import flat_params, param_slices, theta_labels
from explorer.objective import Objective

MAX_HESSIAN_PARAMS = 50_000  # Lanczos keeps `iters` vectors of this length; tiny nets only
LANCZOS_ITERS = 60


def param_axes(
    model: nn.Module, names: Sequence[str] | None = None
) -> tuple[Tensor, tuple[str, str]]:
    """Unit vectors (2, P) along two entries of theta named as in theta_labels ("w", "net.0.weight[3]").

    names=None takes the model's two entries when it has exactly two (the line: w and b).
    """
    labels = theta_labels(model)
    if names is None:
        if len(labels) != 2:
            raise ValueError(
                f"axes 'params' needs names=(first, second) for a model with {len(labels)} "
                f"parameter entries; {_describe(model)}"
            )
        names = labels
    names = tuple(names)
    unknown = [n for n in names if n not in labels]
    if len(names) != 2 or unknown or names[0] == names[1]:
        raise ValueError(
            f"axes 'params' needs two different parameter entries, got {names!r}"
            f"{f' (unknown: {unknown})' if unknown else ''}; {_describe(model)}"
        )
    dirs = np.zeros((2, len(labels)))  # made in numpy: a torch index assignment costs ~10x
    dirs[(0, 1), [labels.index(name) for name in names]] = 1.0
    return torch.from_numpy(dirs), (names[0], names[1])


def _describe(model: nn.Module) -> str:
    """The model's parameter names and shapes, and how to name one entry."""
    shapes = {n: tuple(p.shape) for n, p in model.named_parameters()}
    parts = [n if not s else f"{n} {'×'.join(map(str, s))}" for n, s in shapes.items()]
    hint = "" if all(not s for s in shapes.values()) else "; name one entry as name[i] (flat index)"
    return f"this model's parameters are: {', '.join(parts)}{hint}"


def filter_ids(model: nn.Module, keep_bias: bool = False) -> tuple[Tensor, int]:
    """Filter index of every theta entry (−1: zeroed) and the number of filters.

    A filter is one slice along dim 0 of a ≥2-D parameter (one output unit's incoming weights);
    a bias or other ≤1-D parameter is one filter when keep_bias, else it is zeroed.
    """
    ids: list[Tensor] = []
    count = 0
    for p in model.parameters():
        if p.dim() >= 2:
            rows = p.shape[0]
            ids.append(torch.arange(count, count + rows).repeat_interleave(p.numel() // rows))
            count += rows
        elif keep_bias:
            ids.append(torch.full((p.numel(),), count))
            count += 1
        else:
            ids.append(torch.full((p.numel(),), -1))
    return torch.cat(ids), count


def per_filter(values: Tensor, ids: Tensor, count: int) -> Tensor:
    """Sum of values over each filter: (count + 1,); the last bin collects the zeroed entries."""
    return values.new_zeros(count + 1).index_add_(0, ids % (count + 1), values)


def _to_filter_norms(d: Tensor, theta: Tensor, ids: Tensor, count: int) -> Tensor:
    """d with every filter rescaled to the norm of theta's matching filter; −1 entries zeroed."""
    scale = (per_filter(theta**2, ids, count) / per_filter(d**2, ids, count)).sqrt()
    scale = torch.nan_to_num(scale, nan=0.0, posinf=0.0)
    scale[-1] = 0.0
    return d * scale[ids]


def filter_normalized_directions(
    model: nn.Module,
    theta: ArrayLike | None = None,
    *,
    n: int = 2,
    seed: int = 0,
    keep_bias: bool = False,
) -> Tensor:
    """n seeded Gaussian directions (n, P), each filter scaled to ‖θ_filter‖ (Li et al. 2018).

    Orthogonalized filter by filter (Gram–Schmidt inside each filter, then rescaled), so every
    direction keeps the filter norms exactly and d_i · d_j = 0 wherever each filter has more
    than i entries; one-entry filters cannot be both, and keep their own random sign.
    """
    theta = _theta(model, theta)
    ids, count = filter_ids(model, keep_bias)
    gen = torch.Generator().manual_seed(int(seed))
    raw = torch.randn(n, theta.numel(), generator=gen, dtype=torch.float64)
    dirs: list[Tensor] = []
    for d in raw:
        for prev in dirs:
            along = per_filter(d * prev, ids, count) / per_filter(prev**2, ids, count)
            ortho = d - torch.nan_to_num(along)[ids] * prev
            big = per_filter(ortho**2, ids, count) > 1e-12 * per_filter(d**2, ids, count)
            d = torch.where(big[ids], ortho, d)
        dirs.append(_to_filter_norms(d, theta, ids, count))
    return torch.stack(dirs)


def _as_theta(values: ArrayLike) -> Tensor:
    """values as a float64 CPU tensor."""
    return torch.as_tensor(np.asarray(values, np.float64))


def _theta(model: nn.Module, theta: ArrayLike | None) -> Tensor:
    """theta as a float64 CPU tensor; the model's own parameters when theta is None."""
    return _as_theta(flat_params(model) if theta is None else theta)


def pca_directions(
    thetas: ArrayLike, centre: ArrayLike, *, centred: bool = True
) -> tuple[Tensor, Tensor]:
    """The first two principal directions (2, P) of a trajectory θ_t (T, P), and the fraction
    each explains. Oriented so the first step lies on the negative side of the centre.

    centred=True is PCA as Li et al. (2018) run it (sklearn's PCA): the SVD of θ_t − mean_t θ_t,
    fractions s_i² / Σ s² (sklearn's explained_variance_ratio_). centred=False is the SVD of
    θ_t − centre itself (no mean removed), fractions of Σ‖θ_t − centre‖². Either way the plane
    is drawn through the centre; only the directions depend on this choice.
    """
    rows, at = _as_theta(thetas), _as_theta(centre)
    if rows.ndim != 2 or rows.shape[0] < 2 or rows.shape[1] < 2:
        raise ValueError(f"PCA axes need ≥ 2 steps of ≥ 2 parameters, got {tuple(rows.shape)}")
    spread = rows - (rows.mean(dim=0) if centred else at)
    _, s, vh = torch.linalg.svd(spread, full_matrices=False)
    total = (s**2).sum()
    if not total > 0:
        what = "moves (all its steps are one point)" if centred else "moves away from the centre"
        raise ValueError(f"PCA axes need a trajectory that {what}")
    dirs = vh[:2].clone()
    flip = torch.where(((rows[0] - at) @ dirs.T) > 0, -1.0, 1.0)
    return dirs * flip[:, None], (s[:2] ** 2) / total


def hessian_eigenpairs(
    model: nn.Module,
    obj: Objective,
    theta: ArrayLike | None = None,
    *,
    k: int = 2,
    iters: int = LANCZOS_ITERS,
    seed: int = 0,
    budget: Budget | None = None,
) -> tuple[Tensor, Tensor]:
    """The k Hessian eigenvalues of largest |λ| at theta and unit eigenvectors (k, P), float64.

    Lanczos with full reorthogonalization on Hessian-vector products (double backward);
    min(P, iters) products, exact when P ≤ iters. `budget` is checked before the graph is
    built and before every product, and raises explorer.budget.Cut once it is spent or
    cancelled (nothing half-done is returned); a budget not yet running runs for this call.
    Without one, the thread's running unit of heavy work, if any, is checked the same way.
    """
    if budget is not None and not budget.running:
        with budget:
            return hessian_eigenpairs(model, obj, theta, k=k, iters=iters, seed=seed, budget=budget)
    check = checkpoint if budget is None else budget.check
    theta = _theta(model, theta)
    if theta.numel() > MAX_HESSIAN_PARAMS:
        raise ValueError(
            f"Hessian axes are for tiny nets: {theta.numel()} parameters > {MAX_HESSIAN_PARAMS}"
        )
    check()
    hvp, n = _hvp(model, obj, theta), theta.numel()
    gen = torch.Generator().manual_seed(int(seed))
    fresh = lambda: torch.randn(n, generator=gen, dtype=torch.float64)
    basis = [fresh()]
    diag: list[float] = []  # the tridiagonal matrix: its diagonal and off-diagonal
    off: list[float] = []
    basis[0] /= basis[0].norm()
    while True:
        check()  # the budget may end the work here (explorer.budget.Cut)
        w = hvp(basis[-1])
        diag.append(float(w @ basis[-1]))
        if len(basis) == min(n, int(iters)):
            break
        w = _orthogonal(w, basis)
        scale = max(1.0, *(abs(v) for v in diag))
        coupling = float(w.norm())
        if coupling < 1e-10 * scale:  # an invariant subspace: restart, uncoupled from it
            w, coupling = _orthogonal(fresh(), basis), 0.0
        off.append(coupling)
        basis.append(w / w.norm())
    d, o = torch.tensor(diag, dtype=torch.float64), torch.tensor(off, dtype=torch.float64)
    vals, vecs = torch.linalg.eigh(torch.diag(d) + torch.diag(o, 1) + torch.diag(o, -1))
    order = vals.abs().argsort(descending=True)[:k]
    return vals[order], vecs[:, order].T @ torch.stack(basis)


def _orthogonal(w: Tensor, basis: list[Tensor]) -> Tensor:
    """w minus its projection on the orthonormal basis (two passes: full reorthogonalization)."""
    Q = torch.stack(basis)
    for _ in range(2):
        w = w - Q.T @ (Q @ w)
    return w


def _hvp(model: nn.Module, obj: Objective, theta: Tensor) -> Callable[[Tensor], Tensor]:
    """v ↦ H v at theta, on the CPU in float64, by double backward through functional_call."""
    model = copy.deepcopy(model).to("cpu", torch.float64)
    obj = obj.to("cpu", torch.float64)
    slices, shapes = param_slices(model), {n: p.shape for n, p in model.named_parameters()}
    point = theta.clone().requires_grad_(True)
    params = {n: point[s].reshape(shapes[n]) for n, s in slices.items()}
    loss = obj.of_output(functional_call(model, params, (obj.x,)))
    (grad,) = torch.autograd.grad(loss, point, create_graph=True)
    if not grad.requires_grad:  # gradient does not depend on theta: H = 0
        return lambda v: torch.zeros_like(v)
    return lambda v: torch.autograd.grad(grad, point, grad_outputs=v, retain_graph=True)[0]
