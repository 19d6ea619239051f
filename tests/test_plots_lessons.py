"""lesson_figure: each kind of lesson data becomes the right traces with its values."""

import numpy as np
import pytest

from explorer.plots import lesson_figure


def test_curve_history_and_bars_keep_their_values():
    curve = lesson_figure(
        {
            "kind": "curve",
            "x": [0, 1, 2],
            "x_label": "r",
            "y_label": "dL/dr",
            "series": {"a": [1, 2, 3], "b": [0, 0, 0]},
        },
        title="t",
    )
    assert [t.type for t in curve.data] == ["scatter", "scatter"]
    np.testing.assert_array_equal(curve.data[0].y, [1, 2, 3])
    assert curve.layout.xaxis.title.text == "r" and curve.layout.yaxis.title.text == "dL/dr"
    hist = lesson_figure(
        {
            "kind": "history",
            "step": [0, 1, 2, 3],
            "y_label": "loss",
            "series": {"short": [3, 2], "long": [3, 2, 1, 0.5]},
        },
        title="t",
    )
    np.testing.assert_array_equal(hist.data[0].x, [0, 1])  # each series over its own steps
    assert hist.layout.xaxis.title.text == "optimizer step"
    bars = lesson_figure(
        {
            "kind": "bars",
            "labels": ["slope", "intercept"],
            "y_label": "value",
            "series": {"fit": [2.0, -1.0]},
        },
        title="t",
    )
    assert bars.data[0].type == "bar" and list(bars.data[0].x) == ["slope", "intercept"]


def test_table_has_no_figure_and_unknown_kinds_are_refused():
    assert lesson_figure({"kind": "table", "columns": [], "rows": []}, title="t") is None
    with pytest.raises(ValueError, match="allowed: curve, history, bars, table"):
        lesson_figure({"kind": "pie", "series": {}}, title="t")
