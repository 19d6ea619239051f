"""A step's anatomy as a page shows it: a one-line summary and a table of the parts."""

import numpy as np
import pandas as pd

from explorer.anatomy.step import Anatomy

SETTINGS = (
    "lr",
    "momentum",
    "dampening",
    "nesterov",
    "betas",
    "eps",
    "alpha",
    "centered",
    "amsgrad",
    "lr_decay",
    "weight_decay",
)  # the group settings a summary names, in this order
TABLE_COLUMNS = 8  # parameters a table shows (the largest entries of the update beyond that)


def summary(a: Anatomy) -> str:
    """One line: which step, which optimizer with which settings."""
    settings = ", ".join(
        f"{k} = {_setting(a.hyper[k])}" for k in SETTINGS if k in a.hyper and a.hyper[k] is not None
    )
    return f"Step {a.step} ({a.optimizer}: {settings}) takes θ from step {a.step - 1} to step {a.step}."


def _setting(v: object) -> str:
    if isinstance(v, tuple | list):
        return "(" + ", ".join(_setting(x) for x in v) + ")"
    return f"{v:g}" if isinstance(v, float) else str(v)


def parts_table(a: Anatomy, columns: int = TABLE_COLUMNS) -> pd.DataFrame:
    """The per-parameter parts as rows, one column per parameter (the `columns` parameters that
    move most, in theta order, when there are more). Scalar parts (the bias corrections) are
    in their sentences only."""
    size = a.delta.size
    keep = np.arange(size)
    if size > columns:
        keep = np.sort(np.argsort(-np.abs(a.delta), kind="stable")[:columns])
    rows = [
        {"part": p.label, **{a.names[i]: float(p.values[i]) for i in keep}}
        for p in a.parts
        if p.values.size == size
    ]
    return pd.DataFrame(rows)
