"""Landscape's phase diagram (not a page): heavy-ball momentum's convergence rate over (α, β)
from the Hessian, the optima marked; a click on the plane sets the quick run's α and β.

A click's callback (on_select) runs before the next script run draws the settings, so it can
set those widgets through session state: "opt" (the Landscape optimizer) becomes "momentum",
"lr" α, "ls_opt_momentum" β (the Landscape optimizer's momentum widget), and
"path" "quick" (the run drawn on the surface uses them).
"""

import streamlit as st

from app_pages.widgets import optimizer as optimizer_widgets
from app_pages.widgets.memo import memo
from explorer import budget as budgets
from explorer import plots
from explorer.losses import LossSpec
from explorer.optimizers import OPTIMIZER_PARAMS, check_optimizer_params
from explorer.phase import PhaseDiagram, is_quadratic, model_phase
from explorer.training import build
from explorer.views import landscape as views

CHART = "phase"  # the chart's key: its selection state lives in session state under it
OPT_PREFIX = "ls_opt_"  # the Landscape optimizer's parameter widgets: ls_opt_momentum, …
LR_RANGE = (1e-4, 5.0)  # the Landscape learning-rate widget's range
_BETA = OPTIMIZER_PARAMS["momentum"]["momentum"]  # β's spec: its widget's range


@memo(max_entries=32, show_spinner="Computing the Hessian…")
def _diagram(fields: tuple, centre: tuple[float, ...], exact: bool, _spec) -> PhaseDiagram:
    """The diagram of the view's problem at `centre` (empty: the model's initial parameters);
    _spec: the view's loss, already resolved (its key is in fields)."""
    cfg = views.ViewConfig(**dict(fields))
    with budgets.Budget(budgets.VIEW_S, slots=budgets.HEAVY, what="the phase diagram's"):
        problem = build(cfg.train_config(validate=False), _spec)
        return model_phase(problem.model, problem.objective, centre or None, exact=exact)


def set_alpha_beta(alpha: float, beta: float) -> None:
    """Set the quick run to heavy ball at (α, β), clamped to the widgets' ranges: the momentum
    optimizer's parameters at their defaults (as a change of optimizer puts them), then β."""
    optimizer_widgets._reset_on_change("momentum", OPT_PREFIX)  # noqa: SLF001 (their defaults)
    st.session_state["lr"] = float(f"{min(max(float(alpha), LR_RANGE[0]), LR_RANGE[1]):.4g}")
    beta = round(min(max(float(beta), _BETA.low), _BETA.high), 3)
    st.session_state[f"{OPT_PREFIX}momentum"] = beta
    st.session_state["opt"] = "momentum"
    st.session_state["path"] = "quick"


def _picked() -> None:
    """on_select: the first clicked point's (x, y) are (α, β)."""
    points = st.session_state[CHART]["selection"]["points"]
    if points and "x" in points[0] and "y" in points[0]:
        set_alpha_beta(points[0]["x"], points[0]["y"])


def current(cfg: views.ViewConfig) -> tuple[float, float] | None:
    """The quick run's (α, β) when it is plain heavy ball (or gradient descent), else None."""
    if cfg.optimizer not in ("sgd", "momentum"):
        return None
    params = check_optimizer_params(cfg.optimizer, dict(cfg.optimizer_params))
    if params.get("nesterov") or params.get("dampening") or params.get("weight_decay"):
        return None  # another iteration than heavy ball's on this Hessian
    return cfg.lr, float(params.get("momentum", 0.0))


def phase_section(cfg: views.ViewConfig, spec: LossSpec, centre) -> None:
    """The diagram for the view's problem (its loss resolved: `spec`): exact for a quadratic,
    else at the view's centre."""
    exact = is_quadratic(cfg.model, cfg.loss)
    st.subheader("Momentum phase diagram" + ("" if exact else " (local)"))
    at = () if exact else tuple(float(v) for v in centre)
    try:
        d = _diagram(tuple(vars(cfg).items()), at, exact, spec)
    except ValueError as err:
        st.info(f"No phase diagram here: {err}.")
        return
    a_gd, _ = d.gd
    a_m, b_m, _ = d.momentum
    marks = {  # drawn in this order: the momentum optimum under the (hollow) GD star
        f"best momentum α = {a_m:.3g}, β = {b_m:.3g}": (a_m, b_m),
        f"best GD α = {a_gd:.3g}": (a_gd, 0.0),
    }
    now = current(cfg)
    if now is not None:
        marks[f"this run: α = {now[0]:.3g}, β = {now[1]:.3g}"] = now
    fig = plots.phase_figure(
        d.alpha, d.beta, d.rate, boundary=d.boundary(), marks=marks, title=d.title()
    )
    st.plotly_chart(fig, key=CHART, on_select=_picked, selection_mode="points")
    where = "" if exact else " Local: the Hessian at the surface's centre, true only near it."
    st.caption(f"Click the plane to run heavy ball with that α and β.{where} {d.summary()}")
