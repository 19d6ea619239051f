"""The path as an animated GIF: frame count and size within the caps, the path drawn where the
data→pixel map puts it, missing values drawn as 'no value', bad input refused with a message."""

import io

import numpy as np
import pytest
from PIL import Image

from explorer.export.gif import (
    CURRENT,
    MAX_FRAMES,
    MAX_SIZE,
    NO_VALUE,
    START,
    gif_caption,
    path_gif,
    plot_area,
    projection_gif,
    viridis,
)
from explorer.views.landscape import ViewConfig, landscape_view

A = np.linspace(-2.0, 2.0, 21)
B = np.linspace(-1.0, 3.0, 25)
GRID = (A[:, None] - 0.5) ** 2 + 2 * (B[None, :] - 1.0) ** 2  # values[i, j] at (A[i], B[j])
COLOUR_TOL = 40  # quantizing to one palette moves a colour a little


def frames(gif: bytes) -> list[np.ndarray]:
    image = Image.open(io.BytesIO(gif))
    out = []
    for k in range(image.n_frames):
        image.seek(k)
        out.append(np.asarray(image.convert("RGB"), dtype=int))
    return out


def near(rgb: np.ndarray, colour) -> np.ndarray:
    return np.abs(rgb - np.array(colour)).max(axis=-1) <= COLOUR_TOL


def centroid(mask: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(mask)
    return float(xs.mean()), float(ys.mean())


@pytest.mark.parametrize(("points", "expected"), [(1, 1), (37, 37), (MAX_FRAMES, 120), (500, 120)])
def test_frame_count_and_size_keep_to_the_caps(points, expected):
    t = np.linspace(0, 1, points)
    gif = path_gif(A, B, GRID, -1.5 + 3 * t, 2.5 - 3 * t)
    image = Image.open(io.BytesIO(gif))
    assert (image.format, image.n_frames, image.size) == ("GIF", expected, MAX_SIZE)
    assert gif_caption(points).startswith(f"{expected} frames (at most {MAX_FRAMES}")


def test_a_smaller_size_and_fewer_frames_can_be_asked_for():
    t = np.linspace(0, 1, 50)
    gif = path_gif(A, B, GRID, t, t, max_frames=10, size=(320, 240))
    image = Image.open(io.BytesIO(gif))
    assert (image.n_frames, image.size) == (10, (320, 240))


def test_the_data_to_pixel_map_puts_the_grid_corners_on_the_plot_corners():
    area = plot_area(A, B)
    x, y = area.pixel([A[0], A[-1]], [B[-1], B[0]])
    right, bottom = area.left + area.width - 1, area.top + area.height - 1
    np.testing.assert_allclose(x, [area.left, right])
    np.testing.assert_allclose(y, [area.top, bottom])  # b grows upwards
    mid_x, mid_y = area.pixel(0.0, 1.0)  # the centre of the plane
    assert mid_x == pytest.approx((area.left + right) / 2)
    assert mid_y == pytest.approx((area.top + bottom) / 2)


def test_each_frame_marks_the_start_and_the_current_point_where_the_map_puts_them():
    pa = np.array([-1.5, -1.0, 0.0, 0.5, 1.5])
    pb = np.array([2.5, 0.0, 1.0, 2.0, -0.5])
    area = plot_area(A, B)
    xs, ys = area.pixel(pa, pb)
    drawn = frames(path_gif(A, B, GRID, pa, pb))
    assert len(drawn) == pa.size
    for k, rgb in enumerate(drawn):
        cx, cy = centroid(near(rgb, CURRENT))
        assert (cx, cy) == pytest.approx((xs[k], ys[k]), abs=1.0)
        if k > 0:  # the start marker lies under the current point in frame 0
            sx, sy = centroid(near(rgb, START))
            assert (sx, sy) == pytest.approx((xs[0], ys[0]), abs=1.5)


def test_contour_colours_follow_the_values():
    rgb = frames(path_gif(A, B, GRID, [A[0]], [B[-1]]))[0]
    area = plot_area(A, B)
    lowest = area.pixel(0.5, 1.0)  # GRID's minimum
    highest = area.pixel(A[0] + 0.05, B[0] + 0.05)  # near its largest corner
    lum = lambda p: rgb[round(float(p[1])), round(float(p[0]))] @ [0.2126, 0.7152, 0.0722]
    assert lum(lowest) < 60 < 180 < lum(highest)  # viridis: dark purple low, yellow high


def test_viridis_is_the_known_map_and_its_lightness_rises():
    np.testing.assert_array_equal(viridis([0.0, 1.0]), [[68, 1, 84], [253, 231, 37]])
    rgb = viridis(np.linspace(0, 1, 101)).astype(float)
    assert (np.diff(rgb @ [0.2126, 0.7152, 0.0722]) > 0).all()
    np.testing.assert_array_equal(viridis([np.nan]), [NO_VALUE])


def test_missing_values_are_drawn_as_no_value_and_never_crash():
    z = GRID.copy()
    z[2:6, 18:23] = np.nan  # a block around (A[3..4], B[19..21])
    z[15, 3] = np.inf
    rgb = frames(path_gif(A, B, z, [0.5], [1.0], log_scale=True))[0]
    x, y = plot_area(A, B).pixel(A[3] + 0.1, B[20])
    assert near(rgb[round(float(y)), round(float(x))], NO_VALUE)
    everything_missing = np.full_like(GRID, np.nan)
    rgb = frames(path_gif(A, B, everything_missing, [0.0], [0.0]))[0]
    x, y = plot_area(A, B).pixel(1.5, -0.5)
    assert near(rgb[round(float(y)), round(float(x))], NO_VALUE)


def test_non_finite_path_points_are_left_out():
    pa = np.array([0.0, np.nan, 0.5, np.inf, 1.0])
    image = Image.open(io.BytesIO(path_gif(A, B, GRID, pa, np.zeros(5))))
    assert image.n_frames == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(max_frames=0), "max_frames"),
        (dict(max_frames=MAX_FRAMES + 1), "max_frames"),
        (dict(size=(1920, 1080)), "size"),
        (dict(size=(10, 10)), "size"),
        (dict(values=GRID.T), "shape"),
        (dict(alpha=A[::-1]), "increasing"),
        (dict(alpha=[np.nan, 1.0]), "finite"),
        (dict(path_alpha=[np.nan], path_beta=[np.nan]), "no finite point"),
        (dict(path_alpha=[0.0, 1.0], path_beta=[0.0]), "same length"),
    ],
)
def test_bad_input_is_refused_with_a_message(kwargs, message):
    args = dict(alpha=A, beta=B, values=GRID, path_alpha=[0.0], path_beta=[0.0]) | kwargs
    with pytest.raises(ValueError, match=message):
        path_gif(**args)


def test_a_landscape_panel_becomes_a_gif_of_its_projected_path():
    view = landscape_view(ViewConfig(points=11, train_steps=30))
    panel = view.panels[0]
    gif = projection_gif(panel.surface, panel.projection, log_scale=True, title=panel.name)
    image = Image.open(io.BytesIO(gif))
    assert (image.n_frames, image.size) == (panel.projection.step.size, MAX_SIZE)
    area = plot_area(panel.surface.alpha, panel.surface.beta)
    last = frames(gif)[-1]
    x, y = area.pixel(panel.projection.alpha[-1], panel.projection.beta[-1])
    assert centroid(near(last, CURRENT)) == pytest.approx((x, y), abs=1.0)
