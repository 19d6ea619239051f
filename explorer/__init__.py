"""Loss Landscape Explorer's computation: losses, data, tiny models, training, loss landscapes,
gradients and the gradient doctor. It imports no Streamlit; a notebook uses it as it is.

    import explorer
    problem = explorer.build(explorer.TrainConfig(dataset="moons", model="mlp", loss="hinge"))
    records = list(explorer.train(problem))
    surface = explorer.loss_surface(problem.model, problem.objective, explorer.SurfaceConfig())

Figures are built by `explorer.plots` (its own import: Plotly, no torch).
"""

from explorer.data import DATASETS, Dataset, make_dataset
from explorer.devices import DEVICES, available_devices, select_device
from explorer.doctor import Finding, diagnose_callable, diagnose_function, diagnose_loss
from explorer.expression import compile_loss
from explorer.gradients.curves import Curve, loss_curve
from explorer.landscape import (
    Projection,
    Surface,
    SurfaceConfig,
    loss_surface,
    project_trajectory,
)
from explorer.losses import LOSSES, LossSpec, get_loss
from explorer.models import MODELS, make_model
from explorer.objective import Objective
from explorer.optimizers import OPTIMIZERS
from explorer.race import Race
from explorer.training import Problem, StepRecord, TrainConfig, build, history_frame, train

__all__ = [
    "DATASETS",
    "DEVICES",
    "LOSSES",
    "MODELS",
    "OPTIMIZERS",
    "Curve",
    "Dataset",
    "Finding",
    "LossSpec",
    "Objective",
    "Problem",
    "Projection",
    "Race",
    "StepRecord",
    "Surface",
    "SurfaceConfig",
    "TrainConfig",
    "available_devices",
    "build",
    "compile_loss",
    "diagnose_callable",
    "diagnose_function",
    "diagnose_loss",
    "get_loss",
    "history_frame",
    "loss_curve",
    "loss_surface",
    "make_dataset",
    "make_model",
    "project_trajectory",
    "select_device",
    "train",
]
