"""Plotly figure builders: plain arrays in, `go.Figure` out (no torch, no streamlit).

Every figure has a title, axis labels, the plotly_white template, a fixed palette and a
`uirevision` key (pass a stable one so Streamlit keeps the camera / zoom when data changes).
Grids: values[i, j] is the value at (alpha[i], beta[j]).
"""

from ._common import PALETTE, log_values, to_html
from .animation import trajectory_animation
from .curves import loss_curves, slice_1d, threshold_comparison
from .lessons import lesson_figure
from .phase import phase_figure
from .surface import arrow_segments, contour_arrows, surface_3d
from .training import fit_plot, param_path, training_curves
from .tuning import tuning_curves

__all__ = [
    "PALETTE",
    "arrow_segments",
    "contour_arrows",
    "fit_plot",
    "lesson_figure",
    "log_values",
    "loss_curves",
    "param_path",
    "phase_figure",
    "slice_1d",
    "surface_3d",
    "threshold_comparison",
    "to_html",
    "training_curves",
    "trajectory_animation",
    "tuning_curves",
]
