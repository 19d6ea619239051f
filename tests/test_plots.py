"""Figure builders: the spec each one produces, checked against numpy on small synthetic data."""

import json

import numpy as np
import pandas as pd
import plotly.io as pio
import pytest

from explorer import plots

TOL = 1e-12  # float64 arithmetic on the same numbers
RNG = np.random.default_rng(0)

# y = w·x + b with MSE: L(w, b) = mean((w x + b − y)²), a closed form with a known gradient.
X_DATA = RNG.normal(size=50)
Y_DATA = 2.0 * X_DATA + 0.5 + 0.3 * RNG.normal(size=50)
W = np.linspace(-1.0, 5.0, 23)  # deliberately not square: catches transposed grids
B = np.linspace(-2.5, 3.5, 17)


def mse(w, b):
    r = np.multiply.outer(w, X_DATA) + np.asarray(b)[..., None] - Y_DATA
    return (r**2).mean(-1)


def mse_grad(w, b):
    r = np.multiply.outer(w, X_DATA) + np.asarray(b)[..., None] - Y_DATA
    return (2 * r * X_DATA).mean(-1), (2 * r).mean(-1)


WW, BB = np.meshgrid(W, B, indexing="ij")
VALUES = mse(WW, BB)
GA, GB = mse_grad(WW, BB)


def gd_path(steps=12, lr=0.1):
    th = np.array([4.5, 3.0])
    path = [th]
    for _ in range(steps - 1):
        th = th - lr * np.array(mse_grad(th[0], th[1]))
        path.append(th)
    path = np.array(path)
    loss = mse(path[:, 0], path[:, 1])
    n = len(path)
    return dict(step=np.arange(n), alpha=path[:, 0], beta=path[:, 1], loss=loss + 0.01,
                surface=loss, dropped=np.full(n, 0.1))  # fmt: skip


TRAJ = gd_path()
R = np.linspace(-3, 3, 241)  # contains ±1 exactly
K, T = 20.0, 1.0


def sig(z):
    return 1 / (1 + np.exp(-z))


def soft_threshold(r):
    """σ(k(t − |r|))·r² and its derivative, in closed form."""
    m = sig(K * (T - abs(r)))
    return m, m * r**2, 2 * r * m - K * np.sign(r) * m * (1 - m) * r**2


def history():
    s = np.arange(30)
    return pd.concat(
        [
            pd.DataFrame(
                dict(step=s, loss=np.exp(-s / 5) + 0.1, grad_norm=np.exp(-s / 7), run="a")
            ),
            pd.DataFrame(
                dict(step=s, loss=np.exp(-s / 9) + 0.1, grad_norm=np.exp(-s / 3), run="b")
            ),
        ]
    )


def all_figures():
    m, v, g = soft_threshold(R)
    hard = dict(
        mask=(abs(R) < T) * 1.0, value=(abs(R) < T) * R**2, grad=np.where(abs(R) < T, 2 * R, 0)
    )
    g2 = np.linspace(-3, 3, 20)
    gx, gy = np.meshgrid(g2, g2)
    xy = RNG.normal(size=(40, 2))
    return {
        "loss_curves": plots.loss_curves(
            R, [dict(name="soft", value=v, grad_autograd=g, grad_fd=g)], uirevision="k1"
        ),
        "threshold": plots.threshold_comparison(
            R, dict(mask=m, value=v, grad=g), hard, k=K, t=T, uirevision="k2"
        ),
        "surface": plots.surface_3d(
            W, B, VALUES, grad=(GA, GB), trajectory=TRAJ, axis_labels=("w", "b"), uirevision="k3"
        ),
        "contour": plots.contour_arrows(W, B, VALUES, GA, GB, trajectory=TRAJ, uirevision="k4"),
        "animation": plots.trajectory_animation(W, B, VALUES, TRAJ, uirevision="k5"),
        "training": plots.training_curves(history(), uirevision="k6"),
        "fit_regression": plots.fit_plot(
            X_DATA, Y_DATA, task="regression", predict_grid=dict(x=g2, y=2 * g2), uirevision="k7"
        ),
        "fit_binary": plots.fit_plot(
            xy,
            (xy[:, 0] > 0) * 1.0,
            task="binary",
            predict_grid=dict(xx=gx, yy=gy, zz=sig(gx)),
            uirevision="k8",
        ),  # fmt: skip
        "params": plots.param_path(np.column_stack([TRAJ["alpha"], TRAJ["beta"]]), ["w", "b"]),
        "slice": plots.slice_1d(np.linspace(-0.5, 1.5, 41), np.linspace(-0.5, 1.5, 41) ** 2),
    }


FIGURES = all_figures()


def axis_titles(fig):
    lay = fig.layout
    if "scene" in fig.to_dict()["layout"]:
        return [lay.scene.xaxis.title.text, lay.scene.yaxis.title.text, lay.scene.zaxis.title.text]
    names = [k for k in fig.to_dict()["layout"] if k.startswith(("xaxis", "yaxis"))]
    titled = [lay[k].title.text for k in names if lay[k].title.text]
    return titled


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_figure_has_title_labels_template_and_serializes(name):
    fig = FIGURES[name]
    assert fig.layout.title.text
    titles = axis_titles(fig)
    assert len(titles) >= 2 and all(titles)
    assert fig.layout.template == pio.templates["plotly_white"]
    assert fig.layout.uirevision
    json.loads(fig.to_json())  # serializable, NaN → null
    fig.to_dict()
    named = [t.name for t in fig.data if t.showlegend is not False]
    if len(fig.data) > 1:
        assert all(named), f"unnamed legend entries in {name}"


def test_uirevision_is_the_callers_key():
    assert [FIGURES[k].layout.uirevision for k in ("loss_curves", "surface", "animation")] == [
        "k1",
        "k3",
        "k5",
    ]


def test_loss_curves_two_panels_same_colour_per_loss_and_marks():
    r = np.linspace(-2, 2, 201)
    curves = [
        dict(name="MSE", value=r**2, grad_autograd=2 * r, grad_fd=2 * r),
        dict(name="MAE", value=abs(r), grad_autograd=np.sign(r)),
    ]
    fig = plots.loss_curves(r, curves, marks=[(-1, "−t"), (1, "+t")], x_label="residual ŷ − y")
    assert [t.name for t in fig.data] == [
        "MSE",
        "MSE · autograd",
        "MSE · finite differences",
        "MAE",
        "MAE · autograd",
    ]
    assert [t.yaxis for t in fig.data] == ["y", "y2", "y2", "y", "y2"]
    assert fig.data[0].line.color == fig.data[1].line.color == fig.data[2].marker.color
    assert fig.data[0].line.color != fig.data[3].line.color
    assert fig.data[2].mode == "markers" and len(fig.data[2].x) <= 60
    np.testing.assert_allclose(fig.data[2].y, 2 * fig.data[2].x, atol=TOL)
    assert fig.layout.xaxis2.title.text == "residual ŷ − y"
    assert fig.layout.yaxis2.title.text == "dL/dŷ"
    zero = [s for s in fig.layout.shapes if s.y0 == 0 and s.y1 == 0]
    assert len(zero) == 1 and zero[0].yref == "y2"
    vlines = [s for s in fig.layout.shapes if s.x0 == s.x1]
    assert sorted(s.x0 for s in vlines) == [-1, -1, 1, 1]  # both panels
    assert sorted(a.text for a in fig.layout.annotations) == ["+t", "−t"]


def test_threshold_comparison_highlights_zero_and_outward_gradients():
    fig = FIGURES["threshold"]
    m, v, g = soft_threshold(R)
    zero = next(t for t in fig.data if t.name.startswith("hard: dL/dŷ = 0"))
    hard_zero = (abs(R) >= T) | (R == 0)  # 2r inside, 0 outside
    assert np.all(np.asarray(zero.y)[hard_zero] == 0)
    assert np.all(np.isnan(np.asarray(zero.y, float)[~hard_zero]))
    out = next(t for t in fig.data if t.name.startswith("soft: descent pushes"))
    expected = (g * R < 0) & (abs(g) >= 0.02 * abs(g).max())
    np.testing.assert_array_equal(np.isfinite(np.asarray(out.y, float)), expected)
    # just outside ±t the soft gradient makes descent push |r| outward, inside it pulls inward
    near = (abs(R) > T) & (abs(R) < T + 0.1)
    assert expected[near].all() and not expected[abs(R) < 0.5].any()
    # annotation quotes dL/dŷ at r = +t: (t − k t²/4) for this loss
    note = next(a.text for a in fig.layout.annotations if "soft" in a.text)
    assert f"{T - K * T**2 / 4:.3g}" in note and "outward" in note
    assert fig.layout.yaxis.title.text == "mask" and fig.layout.yaxis3.title.text == "dL/dŷ"


def test_surface_z_range_keeps_a_path_above_the_surface_in_view_up_to_a_cap():
    top, low = float(VALUES.max()), float(VALUES.min())
    above = {**TRAJ, "loss": TRAJ["loss"].copy()}
    above["loss"][0] = top + 0.5 * (top - low)  # a start higher than anything on the grid
    lo, hi = plots.surface_3d(W, B, VALUES, trajectory=above).layout.scene.zaxis.range
    hi_raw = top + 0.5 * (top - low)
    span = hi_raw - low
    assert (lo, hi) == pytest.approx((low - 0.25 * span, hi_raw + 0.05 * span))
    above["loss"][0] = 1e9  # a diverged point: the surface keeps half the axis at least
    lo, hi = plots.surface_3d(W, B, VALUES, trajectory=above).layout.scene.zaxis.range
    capped = top + (top - low)
    assert hi == pytest.approx(capped + 0.05 * (capped - low))


def test_surface_grid_convention_log_toggle_and_camera():
    fig = FIGURES["surface"]
    assert [type(t).__name__ for t in fig.data] == [
        "Surface",
        "Cone",
        "Scatter3d",
        "Scatter3d",
        "Scatter3d",
    ]
    s = fig.data[0]
    z = np.asarray(s.z)
    assert z.shape == (B.size, W.size)  # Plotly: rows follow y (beta), columns x (alpha)
    np.testing.assert_allclose(z, mse(W[None, :], B[:, None]), atol=1e-10)
    assert s.contours.z.show and s.contours.z.project.z
    assert fig.layout.scene.camera.eye.x > 1 and fig.layout.scene.camera.eye.y < -1
    assert fig.layout.scene.xaxis.title.text == "w"

    logged = plots.surface_3d(W, B, VALUES, log_scale=True)
    eps = 1e-4 * (VALUES.max() - VALUES.min())
    expected = np.log10(VALUES - VALUES.min() + eps).T
    np.testing.assert_allclose(np.asarray(logged.data[0].z), expected, atol=1e-12)
    assert "log" in logged.data[0].colorbar.title.text
    assert "log" not in s.colorbar.title.text


def test_cones_point_along_negative_gradient_at_their_points():
    cone = FIGURES["surface"].data[1]
    x, y = np.asarray(cone.x), np.asarray(cone.y)
    ga, gb = mse_grad(x, y)
    np.testing.assert_allclose(np.asarray(cone.u), -ga, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(np.asarray(cone.v), -gb, rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(np.asarray(cone.w), 0)
    assert 4 <= len(np.unique(x)) <= 12 and set(np.unique(x)) <= set(W)  # a subsampled grid
    np.testing.assert_allclose(np.asarray(cone.z), mse(x, y), atol=1e-10)  # on the surface


def test_trajectory_uses_true_loss_and_shows_surface_value_in_hover():
    path, start, end = FIGURES["surface"].data[2:]
    np.testing.assert_allclose(np.asarray(path.z), TRAJ["loss"], atol=TOL)
    custom = np.asarray(path.customdata)
    np.testing.assert_allclose(custom[:, 2], TRAJ["surface"], atol=TOL)
    assert "surface" in path.hovertemplate and "dropped" in path.hovertemplate
    assert (start.name, end.name) == ("start", "end")
    assert start.x[0] == TRAJ["alpha"][0] and end.x[0] == TRAJ["alpha"][-1]


def test_contour_arrows_count_scale_and_direction():
    fig = FIGURES["contour"]
    assert type(fig.data[0]).__name__ == "Contour"
    assert np.asarray(fig.data[0].z).shape == (B.size, W.size)
    arrows = fig.data[2]  # white arrows over their dark halo (data[1])
    xs, ys = np.asarray(arrows.x, float), np.asarray(arrows.y, float)
    assert np.isnan(xs).sum() == 2 * 15 * 15  # 15 × 15 subgrid, no zero gradients here
    tail, tip = np.column_stack([xs[0::7], ys[0::7]]), np.column_stack([xs[1::7], ys[1::7]])
    ga, gb = mse_grad(tail[:, 0], tail[:, 1])
    d = tip - tail
    cross = d[:, 0] * -gb - d[:, 1] * -ga
    np.testing.assert_allclose(cross, 0, atol=1e-9)  # parallel to −∇L ...
    assert np.all(d[:, 0] * -ga + d[:, 1] * -gb > 0)  # ... and pointing along it
    cell = np.array([(W[-1] - W[0]) / 14, (B[-1] - B[0]) / 14])
    lengths = np.hypot(*(d / cell).T)
    assert lengths.max() == pytest.approx(0.8)
    np.testing.assert_allclose(lengths / lengths.max(), np.hypot(ga, gb) / np.hypot(ga, gb).max(),
                               rtol=1e-9, atol=1e-12)  # fmt: skip
    names = [t.name for t in fig.data]
    assert names[-3:] == ["trajectory", "start", "end"]


def test_arrow_segments_unit_mode_skips_zero_and_rejects_bad_mode():
    xs, ys = plots.arrow_segments(
        [0, 1, 2], [0, 0, 0], [3, 0, 0], [0, 0, -1], cell=(1.0, 2.0), mode="unit"
    )
    assert np.isnan(xs).sum() == 4  # two arrows; the zero vector is skipped
    np.testing.assert_allclose([xs[1] - xs[0], ys[1] - ys[0]], [0.8, 0.0])
    np.testing.assert_allclose([xs[8] - xs[7], ys[8] - ys[7]], [0.0, -1.6])  # 0.8 cells of dy = 2
    with pytest.raises(ValueError, match="linear"):
        plots.arrow_segments([0], [0], [1], [1], cell=(1, 1), mode="sqrt")


def test_animation_one_frame_per_step_with_play_pause_and_slider():
    fig = FIGURES["animation"]
    n = TRAJ["alpha"].size
    assert len(fig.frames) == n
    assert [f.name for f in fig.frames] == [str(i) for i in range(n)]
    last = fig.frames[-1]
    assert tuple(last.traces) == (3, 4)
    np.testing.assert_allclose(np.asarray(last.data[0].x), TRAJ["alpha"])
    assert [b.label for b in fig.layout.updatemenus[0].buttons] == ["▶ Play", "❚❚ Pause"]
    assert len(fig.layout.sliders[0].steps) == n
    # the slider has a row of its own under the buttons, its value label at the right end: at
    # any width nothing overlaps (side by side, narrow figures hid the label under the buttons)
    menu, slider = fig.layout.updatemenus[0], fig.layout.sliders[0]
    assert (slider.x, slider.len, slider.y) == (menu.x, 1.0, menu.y) and slider.pad.t > 40
    assert slider.currentvalue.xanchor == "right"
    # contour traces vanish when Plotly animates with redraw off (plotly.js #4491)
    assert fig.layout.updatemenus[0].buttons[0].args[1]["frame"]["redraw"] is True

    long = {k: np.repeat(v, 30) for k, v in TRAJ.items()}
    capped = plots.trajectory_animation(W, B, VALUES, long, max_frames=50)
    assert len(capped.frames) == 50 and capped.frames[-1].name == str(long["alpha"].size - 1)


def test_training_curves_log_axes_colours_and_zero_gradients():
    fig = FIGURES["training"]
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis2.type == "log"
    legend = [t.name for t in fig.data if t.showlegend is not False]
    assert legend == ["a", "b"]
    assert fig.data[0].line.color == fig.data[1].line.color != fig.data[2].line.color
    h = history()
    h.loc[h.run == "b", "grad_norm"] = 0.0  # a hard threshold: exactly zero gradient
    fig = plots.training_curves({"only b": h[h.run == "b"].drop(columns="run")}, runs=["only b"])
    assert fig.layout.yaxis2.type == "linear" and "≤ 0" in fig.layout.yaxis2.title.text
    assert [t.name for t in fig.data] == ["only b", "only b"]
    with pytest.raises(ValueError, match="grad_norm"):
        plots.training_curves(pd.DataFrame(dict(step=[0], loss=[1.0])))


def test_fit_plot_regression_and_outliers():
    out = np.zeros(X_DATA.size, bool)
    out[:3] = True
    fig = plots.fit_plot(
        X_DATA, Y_DATA, task="regression", outlier=out, predict_grid=dict(x=[1, 0], y=[3, 1])
    )
    assert [t.name for t in fig.data] == ["data", "outliers", "model ŷ(x)"]
    assert len(fig.data[1].x) == 3 and len(fig.data[0].x) == X_DATA.size - 3
    np.testing.assert_array_equal(fig.data[2].x, [0, 1])  # sorted for a line
    with pytest.raises(ValueError, match="regression"):
        plots.fit_plot(X_DATA, Y_DATA, task="ranking")


def test_fit_plot_classification_grid_orientation_and_boundary():
    g1, g2 = np.linspace(-2, 2, 9), np.linspace(-1, 1, 5)
    prob_xy = sig(np.add.outer(2 * g2, g1))  # xy meshgrid layout: rows follow y
    xy = RNG.normal(size=(30, 2))
    y = (xy[:, 0] > 0) * 1.0
    a = plots.fit_plot(xy, y, task="binary", predict_grid=dict(xx=g1, yy=g2, zz=prob_xy.T))
    gx, gy = np.meshgrid(g1, g2)
    b = plots.fit_plot(xy, y, task="binary", predict_grid=dict(xx=gx, yy=gy, zz=prob_xy))
    np.testing.assert_allclose(np.asarray(a.data[0].z), prob_xy)
    np.testing.assert_allclose(np.asarray(b.data[0].z), prob_xy)
    edge = a.data[1]
    assert edge.contours.start == edge.contours.end == 0.5
    assert [t.name for t in a.data[2:]] == ["class 0", "class 1"]

    probs = np.stack([gx, gy, -gx - gy], axis=-1)
    c = plots.fit_plot(xy, y, task="multiclass", predict_grid=dict(xx=gx, yy=gy, zz=probs))
    np.testing.assert_array_equal(np.asarray(c.data[0].z), probs.argmax(-1))


def test_param_path_lines_or_norms():
    theta = RNG.normal(size=(8, 3))
    fig = plots.param_path(theta, ["w", "b", "c"])
    assert [t.name for t in fig.data] == ["w", "b", "c"]
    np.testing.assert_allclose(np.asarray(fig.data[1].y), theta[:, 1])
    big = RNG.normal(size=(8, 40))
    fig = plots.param_path(big, [f"p{i}" for i in range(40)])
    np.testing.assert_allclose(np.asarray(fig.data[0].y), np.linalg.norm(big, axis=1))
    np.testing.assert_allclose(np.asarray(fig.data[1].y), np.linalg.norm(big - big[0], axis=1))
    with pytest.raises(ValueError, match="names"):
        plots.param_path(theta, ["w"])


def test_slice_1d_marks_endpoints_with_true_values():
    t = np.linspace(-0.5, 1.5, 41)
    fig = plots.slice_1d(t, {"MSE": t**2, "MAE": abs(t)}, endpoints=[(0, "θ₀"), (1, "θ₁", 7.0)])
    assert [tr.name for tr in fig.data] == ["MSE", "MAE", "θ₀", "θ₁"]
    assert fig.data[2].y[0] == pytest.approx(0.0) and fig.data[3].y[0] == 7.0
    line = plots.slice_1d(np.linspace(-1, 1, 11), np.ones(11))  # t = 1 is the range's edge
    assert [tr.name for tr in line.data][1:] == ["θ₀ (t = 0)", "θ₁ (t = 1)"]


def test_slice_1d_log_scale_shares_one_floor_and_eps_across_curves_and_marks():
    t = np.linspace(-0.5, 1.5, 41)
    fig = plots.slice_1d(
        t, {"MSE": t**2, "MAE": abs(t)}, endpoints=[(1, "θ₁", 7.0)], log_scale=True
    )
    eps = 1e-4 * (1.5**2 - 0.0)  # the range of every curve together; floor min = 0
    np.testing.assert_allclose(fig.data[0].y, np.log10(t**2 + eps))
    np.testing.assert_allclose(fig.data[1].y, np.log10(abs(t) + eps))
    assert fig.data[2].y[0] == pytest.approx(np.log10(7.0 + eps))
    assert fig.layout.yaxis.title.text == "log₁₀(L − L_min + ε)"


def test_bad_grid_shape_is_explained():
    with pytest.raises(ValueError, match=r"values\[i, j\]"):
        plots.surface_3d(W, B, VALUES.T)


def test_nan_and_inf_become_gaps_not_errors():
    bad = VALUES.copy()
    bad[3, 4], bad[5, 6] = np.nan, np.inf
    ga = GA.copy()
    ga[0, 0] = np.inf
    traj = {k: v.astype(float).copy() for k, v in TRAJ.items()}
    traj["loss"][-1] = np.inf
    figs = [
        plots.surface_3d(W, B, bad, log_scale=True, grad=(ga, GB), trajectory=traj),
        plots.contour_arrows(W, B, bad, ga, GB, log_scale=True, trajectory=traj),
        plots.trajectory_animation(W, B, bad, traj),
        plots.loss_curves(R, [dict(name="x", value=np.full(R.size, np.inf), grad_autograd=R)]),
        plots.training_curves(history().assign(loss=np.nan)),
    ]
    for fig in figs:
        fig.to_dict()
        json.loads(fig.to_json())
    z = np.asarray(figs[0].data[0].z, float)
    assert np.isnan(z[4, 3]) and np.isnan(z[6, 5]) and np.isfinite(z).sum() == z.size - 2
    assert np.isnan(np.asarray(figs[0].data[2].z, float)[-1])


def test_to_html_cdn_or_self_contained():
    fig = FIGURES["slice"]
    cdn, full = plots.to_html(fig), plots.to_html(fig, self_contained=True)
    src = 'src="https://cdn.plot.ly/'
    assert src in cdn and src not in full
    assert len(full) > len(cdn) + 1_000_000  # plotly.js inlined
    assert "Loss along a line" in cdn and "Loss along a line" in full
