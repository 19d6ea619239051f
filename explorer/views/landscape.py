"""One-call views for the Landscape page: data, model, loss, a quick run, surfaces of one or two
losses on the same axes and grid, the trajectory projected honestly, a 1-D slice, and exports.

Plain values in (a frozen ViewConfig, so a page can key a cache on it), arrays and dataclasses out.
"""

import hashlib
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from numpy.typing import ArrayLike

from explorer import budget as budgets
from explorer.data import DataSpec
from explorer.devices import select_device
from explorer.landscape import AXES, POINTS_RANGE, AxisKind, Surface, SurfaceConfig, loss_surface
from explorer.landscape.batched import grid_losses
from explorer.landscape.directions import filter_ids, hessian_eigenpairs
from explorer.losses import LossSpec, get_loss
from explorer.models import flat_params, make_model, theta_labels
from explorer.objective import Objective, objective
from explorer.training import Problem, TrainConfig, build, train
from explorer.user_data import UserData, data_spec
from explorer.views import anatomy
from explorer.views.panels import LandscapeView, Panel, make_panel, make_slice

TRAJECTORIES = {
    "quick": "a quick run here",
    "last": "the last Training run",
    "none": "no path (PCA axes still run one)",
}
AXIS_NAMES = {
    "params": "the two parameters exactly (w, b)",
    "random": "random, filter-normalized (Li et al.)",
    "pca": "PCA of the trajectory",
    "hessian": "top-2 Hessian eigenvectors",
}
PARTNERS = {"soft_threshold": "hard_threshold", "sigmoid_margin": "zero_one", "mse": "mae"}
PARTNERS |= {v: k for k, v in PARTNERS.items()}  # soft vs hard, and back
RANDOM_SPAN = 1.0  # a fitted span on random axes is at least this (Li et al.'s unit: weights' norm)
RUN_FIELDS = ("n", "noise", "outlier_frac", "seed", "straight_through")  # taken from a last run


@dataclass(frozen=True)
class ViewConfig:
    """What the Landscape page shows; every field a plain, hashable value."""

    dataset: str = "line"
    model: str = "line"
    hidden: tuple[int, ...] = (16,)  # mlp hidden widths
    activation: str = "tanh"
    straight_through: bool | str = False
    loss: str = "mse"
    loss_params: tuple = ()  # ((name, value), ...); missing = default
    compare: str | None = None  # a second loss drawn on the same axes and grid
    compare_params: tuple = ()
    axes: AxisKind = "params"  # one of explorer.landscape.AXES
    span: float | None = None  # grid half-width; None: fitted to the trajectory (1 without one)
    points: int = 31  # grid points per axis (train_steps: optimizer steps)
    trajectory: str = "quick"  # one of TRAJECTORIES ("pca" axes always get one)
    optimizer: str = "sgd"
    lr: float = 0.05
    optimizer_params: tuple = ()  # ((torch keyword, value), ...); missing = default
    schedule: str = "constant"  # the quick run's learning-rate schedule
    schedule_params: tuple = ()
    train_steps: int = 100
    seed: int = 0
    device: str = "auto"
    n: int = 200
    noise: float = 0.1
    outlier_frac: float = 0.0
    start: tuple[float, float] | None = None  # (α, β): the quick run starts there on the plane
    user_data: UserData | None = None  # your points when dataset is their key ("yours:…")

    def train_config(
        self, loss: str | None = None, params: tuple | None = None, *, validate: bool = True
    ) -> TrainConfig:
        """The TrainConfig of this view's problem (and quick run), validated unless told not to
        (build validates it anyway); loss/params: another loss on the same problem."""
        config = TrainConfig(
            dataset=self.dataset,
            n=self.n,
            noise=self.noise,
            outlier_frac=self.outlier_frac,
            model=self.model,
            hidden=self.hidden,
            activation=self.activation,
            straight_through=self.straight_through,
            loss=loss or self.loss,
            loss_params=dict(self.loss_params if params is None else params),
            optimizer=self.optimizer,
            optimizer_params=dict(self.optimizer_params),
            lr=self.lr,
            schedule=self.schedule,
            schedule_params=dict(self.schedule_params),
            steps=self.train_steps,
            seed=self.seed,
            device=self.device,
            user_data=self.user_data,
        )
        return config.validate() if validate else config


def axes_for(dataset: str | DataSpec, model: str) -> list[str]:
    """The axes kinds that span a plane for this model: "params" needs exactly two parameter
    entries; "random" needs a filter of ≥ 2 entries (one-entry filters give ± parallel lines)."""
    spec = data_spec(dataset)  # a DATASETS key, or a spec (your data's)
    out_dim = spec.n_classes if spec.task == "multiclass" else 1
    net = make_model(model, in_dim=spec.in_dim, out_dim=out_dim, hidden=(2,))
    ids, count = filter_ids(net)
    widest = int(torch.bincount(ids[ids >= 0], minlength=count).max()) if count else 0
    two = len(theta_labels(net)) == 2
    return [a for a in AXES if (a != "params" or two) and (a != "random" or widest >= 2)]


def partner(loss: str, others: list[str]) -> int:
    """Index in others of the loss to compare `loss` with (its soft/hard twin), else 0."""
    return others.index(PARTNERS[loss]) if PARTNERS.get(loss) in others else 0


def follow_run(config: ViewConfig, run) -> tuple[ViewConfig, list]:
    """(config drawing the Training page's last run, its records), or ValueError saying why not.

    run: {"config": TrainConfig, "records": [StepRecord]}. Data set, model, hidden widths and
    activation must match; the run's data (n, noise, outliers, seed) is adopted.
    """
    if not run or not run.get("records"):
        raise ValueError("there is no Training run yet (start one on the Training page)")
    rc = run["config"]
    wanted = [("data set", "dataset"), ("model", "model")]
    if config.model == "mlp":
        wanted += [("hidden widths", "hidden"), ("activation", "activation")]
    for label, field in wanted:
        mine, theirs = getattr(config, field), getattr(rc, field)
        if tuple(np.atleast_1d(mine)) != tuple(np.atleast_1d(theirs)):
            raise ValueError(f"the last run used {label} {theirs!r}, this view {mine!r}")
    adopted = {f: getattr(rc, f) for f in RUN_FIELDS}
    return replace(config, trajectory="last", **adopted), list(run["records"])


def run_fingerprint(records) -> str:
    """A short digest of a trajectory's steps and parameters (a cache key for it)."""
    digest = hashlib.sha1()
    for r in records:
        digest.update(np.asarray(r.theta, dtype=np.float64).tobytes())
    return f"{len(records)}-{digest.hexdigest()[:16]}"


def same_plane(model, obj, surface: Surface, *, grad: bool = True, **engine) -> Surface:
    """Another objective on exactly the surface's centre, directions and grid."""
    a, b = surface.alpha - surface.origin[0], surface.beta - surface.origin[1]
    values, grads = grid_losses(
        model, obj, surface.centre, surface.directions, a, b, grad=grad, **engine
    )
    shape = surface.values.shape
    g = None if grads is None else grads.double().cpu().numpy().reshape(*shape, 2)
    return replace(
        surface,
        values=values.double().cpu().numpy().reshape(shape),
        grad_alpha=None if g is None else g[..., 0],
        grad_beta=None if g is None else g[..., 1],
    )


VIEW_HINT = "choose fewer grid points, fewer training steps or a smaller model"


def _view_budget() -> budgets.Budget:
    """One view's unit of heavy work: explorer.budget.VIEW_S of CPU and a server-wide slot."""
    return budgets.Budget(budgets.VIEW_S, slots=budgets.HEAVY, what="this view's", hint=VIEW_HINT)


@budgets.unit(_view_budget)  # or the caller's own `with Budget(...)`; Cut (a ValueError) if cut
def landscape_view(config: ViewConfig, records=None) -> LandscapeView:
    """Everything the Landscape page draws; records: the path when config.trajectory == "last".

    Each loss is resolved once (get_loss) and each TrainConfig validated once; the quick run
    trains the view's own problem. With config.start, the plane is the one without it (see
    restart_view).
    """
    if config.start is not None:
        return restart_view(config, landscape_view(replace(config, start=None), records))
    if config.trajectory not in TRAJECTORIES:
        allowed = ", ".join(TRAJECTORIES)
        raise ValueError(f"unknown trajectory {config.trajectory!r}; allowed: {allowed}")
    surf_cfg = SurfaceConfig(
        axes=config.axes,
        points=config.points,
        span=config.span,
        seed=config.seed,
    ).validate()
    spec = get_loss(config.loss)
    problem = build(config.train_config(validate=False), spec)  # build validates it
    cfg, model = problem.config, problem.model
    device, note = select_device(cfg.device)
    records, stop, found = _trajectory(config, problem, records)
    centre = records[-1].theta if records else flat_params(model)
    losses = [(spec, problem.objective), *_compared(config, problem)]
    if config.axes == "hessian":
        _check_hessian_plane(model, losses[0][1], centre, config.seed)
    surf_cfg = _auto_span(model, losses[0][1], surf_cfg, records, centre)
    first = loss_surface(model, losses[0][1], surf_cfg, trajectory=records or None, centre=centre)
    panels = tuple(
        make_panel(i, s, model, obj, first if i == 0 else same_plane(model, obj, first), records)
        for i, (s, obj) in enumerate(losses)
    )
    return LandscapeView(
        panels=panels,
        records=tuple(records),
        slice=make_slice(model, losses, records, first),
        device=str(device),
        device_note=note,
        fell_back=cfg.device not in ("auto", device.type),
        stop=stop,
        anatomy=anatomy.panel_extras(panels[0], found),
    )


def _compared(config: ViewConfig, problem: Problem) -> list[tuple[LossSpec, Objective]]:
    """The compared loss (resolved, its config validated) on the problem's data; [] if none."""
    if not config.compare:
        return []
    spec = get_loss(config.compare)
    params = dict(config.compare_params)
    cfg = replace(problem.config, loss=config.compare, loss_params=params).validate(spec)
    return [(spec, objective(problem.dataset, spec, cfg.loss_params))]


def _auto_span(model, obj, surf_cfg: SurfaceConfig, records, centre) -> SurfaceConfig:
    """The engine fits span=None to the path; on random axes a path mostly lies off the plane
    and fits a tiny window, so there the span is at least RANDOM_SPAN."""
    if surf_cfg.span is not None or surf_cfg.axes != "random" or not records:
        return surf_cfg
    probe = replace(surf_cfg, points=POINTS_RANGE[0])
    fitted = loss_surface(model, obj, probe, trajectory=records, centre=centre, grad=False)
    return replace(surf_cfg, span=max(float(fitted.alpha[-1]), RANDOM_SPAN))


def _check_hessian_plane(model, obj, centre, seed) -> None:
    """ValueError unless Lanczos finds two Hessian eigenvectors at the centre (a zero Hessian,
    e.g. of MAE on a linear model, yields one: no plane)."""
    values, _ = hessian_eigenpairs(model, obj, centre, k=2, seed=seed)
    if len(values) < 2:
        raise ValueError(
            "the Hessian at the centre has fewer than two eigen-directions (it is zero here: "
            "the loss is piecewise linear in the parameters), so its eigenvectors do not span a "
            "plane; choose other axes"
        )


def _trajectory(config: ViewConfig, problem: Problem, records) -> tuple[list, str | None, dict]:
    """(finite records of the path to draw, why the run stopped early or None, the anatomy of
    a quick run's updates {step: Anatomy}, read while it trained); a quick run trains the
    problem's model in place."""
    if config.trajectory == "last" and not records:
        raise ValueError("trajectory 'last' needs the last run's records")
    found = {}
    if config.trajectory == "quick" or (config.trajectory == "none" and config.axes == "pca"):
        capture = anatomy.capture(problem.config.steps) if config.trajectory == "quick" else None
        records = list(budgets.each(train(problem, on_step=capture)))  # checked every step
        found = capture.found if capture else {}
    elif config.trajectory == "none":
        return [], None, {}
    stop = records[-1].stop
    keep = [r for r in records if math.isfinite(r.loss) and np.isfinite(r.theta).all()]
    return keep, stop, found


def restart_view(config: ViewConfig, base: LandscapeView) -> LandscapeView:
    """base (the view of config without its start) with the quick run started at config.start
    on base's plane instead: the surfaces stay, the path, projections and slice are new.

    The point is clamped to the grid; ValueError unless it is two finite numbers.
    """
    a, b = (float(v) for v in config.start or (math.nan, math.nan))
    if not (math.isfinite(a) and math.isfinite(b)):
        raise ValueError(f"a start point is two finite numbers, got {config.start!r}")
    surface = base.panels[0].surface
    a = min(max(a, float(surface.alpha[0])), float(surface.alpha[-1]))
    b = min(max(b, float(surface.beta[0])), float(surface.beta[-1]))
    spec = get_loss(config.loss)
    problem = build(config.train_config(validate=False), spec)
    params = list(problem.model.parameters())
    theta = torch.as_tensor(surface.theta(a, b), dtype=params[0].dtype, device=params[0].device)
    torch.nn.utils.vector_to_parameters(theta, params)
    records, stop, found = _trajectory(
        replace(config, trajectory="quick", start=None), problem, None
    )
    losses = [(spec, problem.objective), *_compared(config, problem)]
    model = problem.model
    panels = tuple(
        make_panel(i, s, model, obj, base.panels[i].surface, records)
        for i, (s, obj) in enumerate(losses)
    )
    return replace(
        base,
        panels=panels,
        records=tuple(records),
        slice=make_slice(model, losses, records, surface),
        stop=stop,
        anatomy=anatomy.panel_extras(panels[0], found),
    )


def surface_arrays(panels: Sequence[Panel]) -> dict[str, np.ndarray]:
    """Each panel's surface as named arrays ("<loss key>.values", ".alpha", ...)."""
    out = {}
    for p in panels:
        s = p.surface
        fields: dict[str, ArrayLike] = dict(
            alpha=s.alpha, beta=s.beta, values=s.values, centre=s.centre
        )
        fields.update(directions=s.directions, origin=np.asarray(s.origin))
        if s.grad_alpha is not None and s.grad_beta is not None:
            fields.update(grad_alpha=s.grad_alpha, grad_beta=s.grad_beta)
        out.update({f"{p.key}.{k}": np.asarray(v, dtype=np.float64) for k, v in fields.items()})
    return out


def surface_npz(panels: Sequence[Panel]) -> bytes:
    """The surfaces as an .npz file (np.load gives back surface_arrays)."""
    buffer = io.BytesIO()
    np.savez(buffer, **surface_arrays(panels))  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle
    return buffer.getvalue()


def surface_json(panels: Sequence[Panel]) -> str:
    """The surfaces as JSON: arrays as nested lists (NaN/inf as null), with axis labels and kind."""
    doc: dict[str, object] = {k: _plain(v) for k, v in surface_arrays(panels).items()}
    for p in panels:
        doc[f"{p.key}.labels"] = list(p.surface.labels)
        doc[f"{p.key}.kind"] = p.surface.kind
    return json.dumps(doc)


def _plain(a: np.ndarray) -> list:
    """An array as nested lists, NaN and ±inf as None (JSON has no such numbers)."""
    out = a.astype(object)
    out[~np.isfinite(a)] = None
    return out.tolist()
