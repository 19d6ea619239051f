"""The optimizer's path over a loss's filled contours as an animated GIF, drawn with Pillow alone
(no browser): one frame a shown step, the path growing, the current point marked, the step number
in a corner.

Bounded: at most MAX_FRAMES frames (a longer path is shown at evenly spaced steps, the last one
always included) and at most MAX_SIZE pixels. The contour image is the grid's values bilinearly
resampled to the plot's pixels and cut into LEVELS bands of the viridis colormap (computed here in
numpy); a pixel next to a missing (NaN or infinite) grid value gets NO_VALUE, never a crash.
"""

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from PIL import Image, ImageDraw, ImageFont

from explorer.plots.surface import scale_values

MAX_FRAMES = 120
MAX_SIZE = (480, 400)  # width, height in pixels
MIN_SIZE = (240, 200)
LEVELS = 16  # colour bands of the filled contours
FRAME_MS, LAST_FRAME_MS = 80, 1500
MARGIN = (58, 28, 62, 40)  # left, top, right, bottom: ticks, title, colour bar, labels
_VIRIDIS = np.array(  # matplotlib's viridis at 0, 1/8, ..., 1 (a perceptually uniform map)
    [
        (68, 1, 84),
        (71, 45, 123),
        (59, 82, 139),
        (44, 114, 142),
        (33, 145, 140),
        (40, 174, 128),
        (94, 201, 98),
        (173, 220, 48),
        (253, 231, 37),
    ],
    dtype=np.float64,
)
NO_VALUE = (190, 190, 190)  # grid cells without a finite loss
ISO_LINE = (255, 255, 255)
PATH, PATH_EDGE = (255, 255, 255), (20, 20, 20)
START, CURRENT = (44, 160, 44), (214, 39, 40)  # the house's START / END colours
INK, PAPER = (30, 30, 30), (255, 255, 255)
_PLAIN = {"α": "alpha", "β": "beta", "θ": "theta", "λ": "lambda", "∇": "grad ", "−": "-"}
_PLAIN |= {"ŷ": "y_hat", "‖": "|", "·": "*", "…": "...", "→": "->", "₁": "1", "₂": "2"}


@dataclass(frozen=True)
class PlotArea:
    """Where the plane's rectangle lies in the image: data (a, b) ↔ pixel (x, y)."""

    left: int
    top: int
    width: int
    height: int
    a_range: tuple[float, float]
    b_range: tuple[float, float]

    def pixel(self, a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Pixel centres of data points: a_range spans the columns, b_range the rows (up)."""
        (a0, a1), (b0, b1) = self.a_range, self.b_range
        x = self.left + (np.asarray(a, dtype=np.float64) - a0) / (a1 - a0) * (self.width - 1)
        y = self.top + (b1 - np.asarray(b, dtype=np.float64)) / (b1 - b0) * (self.height - 1)
        return x, y


def plot_area(alpha: ArrayLike, beta: ArrayLike, size: tuple[int, int] = MAX_SIZE) -> PlotArea:
    """The plot rectangle of an image of `size` for the grid axes alpha, beta."""
    w, h = _check_size(size)
    a, b = _axis(alpha, "alpha"), _axis(beta, "beta")
    left, top, right, bottom = MARGIN
    return PlotArea(left, top, w - left - right, h - top - bottom, (a[0], a[-1]), (b[0], b[-1]))


def shown_steps(n: int, max_frames: int = MAX_FRAMES) -> np.ndarray:
    """Indices of the steps drawn, one a frame: all of them, or max_frames evenly spaced."""
    if not 1 <= int(max_frames) <= MAX_FRAMES:
        raise ValueError(f"max_frames must be in [1, {MAX_FRAMES}], got {max_frames!r}")
    return np.unique(np.linspace(0, n - 1, min(n, int(max_frames))).round().astype(int))


def path_gif(
    alpha: ArrayLike,
    beta: ArrayLike,
    values: ArrayLike,
    path_alpha: ArrayLike,
    path_beta: ArrayLike,
    *,
    steps: ArrayLike | None = None,
    log_scale: bool = False,
    axis_labels: Sequence[str] = ("alpha", "beta"),
    title: str = "",
    max_frames: int = MAX_FRAMES,
    size: tuple[int, int] = MAX_SIZE,
) -> bytes:
    """The GIF (bytes): values[i, j] = L(alpha[i], beta[j]) as filled contours, the path
    (path_alpha[t], path_beta[t]) growing frame by frame; steps label the frames (default t).

    Path points that are not finite are left out; ValueError if none is left or the grid and
    axes do not fit (see plot_area, shown_steps).
    """
    area = plot_area(alpha, beta, size)
    z = np.array(values, dtype=np.float64)
    a, b = _axis(alpha, "alpha"), _axis(beta, "beta")
    if z.shape != (a.size, b.size):
        raise ValueError(f"values must have shape ({a.size}, {b.size}), got {z.shape}")
    pa, pb, labels = _path(path_alpha, path_beta, steps)
    z[~np.isfinite(z)] = np.nan
    zt = scale_values(z, log_scale)[0] if np.isfinite(z).any() else z
    base = _background(area, a, b, z, zt, _check_size(size), axis_labels, title, log_scale)
    xs, ys = area.pixel(pa, pb)
    frames = [_frame(base, area, xs, ys, k, labels[k]) for k in shown_steps(xs.size, max_frames)]
    palette = frames[-1].quantize(colors=255, dither=Image.Dither.NONE)  # the last frame has it all
    still = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    out = io.BytesIO()
    durations = [FRAME_MS] * (len(still) - 1) + [LAST_FRAME_MS]
    still[0].save(out, "GIF", save_all=True, append_images=still[1:], duration=durations, loop=0)
    return out.getvalue()


def projection_gif(surface, projection, *, log_scale: bool = False, title: str = "") -> bytes:
    """path_gif of a Landscape panel: its Surface and the path's Projection onto it."""
    return path_gif(
        surface.alpha, surface.beta, surface.values, projection.alpha, projection.beta,
        steps=projection.step, log_scale=log_scale, axis_labels=surface.labels, title=title,
    )  # fmt: skip


def gif_caption(steps: int) -> str:
    """What the GIF of a path of `steps` points holds, with the caps."""
    frames = len(shown_steps(steps))
    size = f"{MAX_SIZE[0]}×{MAX_SIZE[1]}"
    return f"{frames} frames (at most {MAX_FRAMES}, evenly spaced steps), {size} pixels."


def viridis(t: ArrayLike) -> np.ndarray:
    """RGB (…, 3) uint8 of t in [0, 1] (clipped) on viridis; NaN → NO_VALUE."""
    t = np.asarray(t, dtype=np.float64)
    u = np.clip(np.nan_to_num(t, nan=0.0), 0.0, 1.0) * (len(_VIRIDIS) - 1)
    i = np.minimum(u.astype(int), len(_VIRIDIS) - 2)
    f = (u - i)[..., None]
    rgb = _VIRIDIS[i] * (1 - f) + _VIRIDIS[i + 1] * f
    rgb[np.isnan(t)] = NO_VALUE
    return np.round(rgb).astype(np.uint8)


def plain_text(text: object, limit: int = 70) -> str:
    """text the default font can draw: Greek and math signs spelled out, others as "?"."""
    flat = " ".join(str(text).split())
    flat = "".join(_PLAIN.get(c, c if c.isprintable() and ord(c) < 256 else "?") for c in flat)
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    w, h = (int(s) for s in size)
    if not (MIN_SIZE[0] <= w <= MAX_SIZE[0] and MIN_SIZE[1] <= h <= MAX_SIZE[1]):
        raise ValueError(f"size must be between {MIN_SIZE} and {MAX_SIZE} pixels, got {size!r}")
    return w, h


def _axis(values: ArrayLike, name: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size < 2 or not np.isfinite(v).all() or not (np.diff(v) > 0).all():
        raise ValueError(f"{name} must be ≥ 2 finite, increasing grid coordinates")
    return v


def _path(pa: ArrayLike, pb: ArrayLike, steps: ArrayLike | None):
    a, b = np.asarray(pa, dtype=np.float64).ravel(), np.asarray(pb, dtype=np.float64).ravel()
    labels = np.arange(a.size) if steps is None else np.asarray(steps).ravel()
    if not a.size == b.size == labels.size:
        raise ValueError("path_alpha, path_beta and steps must have the same length")
    keep = np.isfinite(a) & np.isfinite(b)
    if not keep.any():
        raise ValueError("the path has no finite point to draw")
    return a[keep], b[keep], [f"{s:g}" if isinstance(s, float) else str(s) for s in labels[keep]]


def _resampled(area: PlotArea, a: np.ndarray, b: np.ndarray, zt: np.ndarray) -> np.ndarray:
    """zt at every plot pixel (rows top→bottom), bilinear; NaN where a corner is missing."""
    cols = np.linspace(a[0], a[-1], area.width)
    rows = np.linspace(b[-1], b[0], area.height)
    fi = np.interp(cols, a, np.arange(a.size))  # fractional grid index of each pixel
    fj = np.interp(rows, b, np.arange(b.size))
    i0, j0 = np.minimum(fi.astype(int), a.size - 2), np.minimum(fj.astype(int), b.size - 2)
    u, v = (fi - i0)[None, :], (fj - j0)[:, None]
    c = lambda di, dj: zt[i0[None, :] + di, j0[:, None] + dj]
    return (c(0, 0) * (1 - u) + c(1, 0) * u) * (1 - v) + (c(0, 1) * (1 - u) + c(1, 1) * u) * v


def _contours(area: PlotArea, a: np.ndarray, b: np.ndarray, zt: np.ndarray) -> Image.Image:
    """Filled contour bands with thin iso-lines where the band changes."""
    field = _resampled(area, a, b, zt)
    finite = np.isfinite(field)
    lo, hi = _limits(zt)
    band = np.floor((field - lo) / ((hi - lo) or 1.0) * LEVELS).clip(0, LEVELS - 1)
    band[~finite] = np.nan
    rgb = viridis((band + 0.5) / LEVELS)
    edge = np.zeros(band.shape, dtype=bool)
    edge[:, 1:] |= band[:, 1:] != band[:, :-1]
    edge[1:, :] |= band[1:, :] != band[:-1, :]
    edge &= finite  # no iso-line around missing values
    edge[:, 1:] &= finite[:, :-1]
    edge[1:, :] &= finite[:-1, :]
    rgb[edge] = (0.65 * rgb[edge] + 0.35 * np.array(ISO_LINE)).astype(np.uint8)
    return Image.fromarray(rgb, "RGB")


def _limits(zt: np.ndarray) -> tuple[float, float]:
    """The colour scale's ends: the grid's smallest and largest finite (plotted) values."""
    return (float(np.nanmin(zt)), float(np.nanmax(zt))) if np.isfinite(zt).any() else (0.0, 1.0)


def _colour_bar(draw, area: PlotArea, z: np.ndarray, font) -> None:
    """The bands from low (bottom) to high (top) right of the plot, labelled with the grid's
    smallest and largest loss."""
    x0, bottom = area.left + area.width + 8, area.top + area.height - 1
    for k in range(LEVELS):
        y1 = bottom - k * area.height / LEVELS
        colour = tuple(int(c) for c in viridis((k + 0.5) / LEVELS))
        draw.rectangle((x0, y1 - area.height / LEVELS, x0 + 10, y1), fill=colour)
    finite = z[np.isfinite(z)]
    lo, hi = (f"{finite.min():.3g}", f"{finite.max():.3g}") if finite.size else ("-", "-")
    draw.text((x0 + 13, area.top), hi, fill=INK, font=font, anchor="lt")
    draw.text((x0 + 13, bottom), lo, fill=INK, font=font, anchor="lb")
    draw.text((x0 + 13, area.top + area.height / 2), "loss L", fill=INK, font=font, anchor="lm")


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round numbers in [lo, hi], about count of them (steps of 1, 2 or 5 × 10^k)."""
    raw = (hi - lo) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9)
    return [t * step for t in range(first, math.floor(hi / step + 1e-9) + 1)]


def _background(area, a, b, z, zt, size, axis_labels, title, log_scale) -> Image.Image:
    """The still part: contours, frame, ticks, axis labels and title."""
    image = Image.new("RGB", size, PAPER)
    image.paste(_contours(area, a, b, zt), (area.left, area.top))
    draw, font = ImageDraw.Draw(image), ImageFont.load_default(size=11)
    right, bottom = area.left + area.width - 1, area.top + area.height - 1
    draw.rectangle((area.left - 1, area.top - 1, right + 1, bottom + 1), outline=INK)
    _colour_bar(draw, area, z, font)
    for t in _ticks(*area.a_range):
        x = float(area.pixel(t, area.b_range[0])[0])
        draw.line((x, bottom + 1, x, bottom + 5), fill=INK)
        draw.text((x, bottom + 6), f"{t:.4g}", fill=INK, font=font, anchor="mt")
    for t in _ticks(*area.b_range):
        y = float(area.pixel(area.a_range[0], t)[1])
        draw.line((area.left - 5, y, area.left - 1, y), fill=INK)
        draw.text((area.left - 7, y), f"{t:.4g}", fill=INK, font=font, anchor="rm")
    x_label, y_label = (plain_text(s, 50) for s in (*axis_labels, "", "")[:2])
    draw.text((area.left + area.width / 2, size[1] - 3), x_label, fill=INK, font=font, anchor="md")
    _vertical_text(image, y_label, font, (2, area.top + area.height // 2))
    heading = plain_text(title) + (" (log scale)" if log_scale else "")
    draw.text((size[0] / 2, 4), heading, fill=INK, font=font, anchor="mt")
    return image


def _vertical_text(image: Image.Image, text: str, font, at: tuple[int, int]) -> None:
    """text turned 90° (reading upwards), its left edge at at[0], centred on at[1]."""
    box = font.getbbox(text or " ")
    strip = Image.new("RGB", (box[2] + 2, box[3] + 2), PAPER)
    ImageDraw.Draw(strip).text((1, 1), text, fill=INK, font=font)
    turned = strip.rotate(90, expand=True)
    image.paste(turned, (at[0], max(0, at[1] - turned.height // 2)))


def _frame(base, area: PlotArea, xs, ys, k: int, label: str) -> Image.Image:
    """The background with the path up to point k, the start and the current point."""
    layer = base.crop((area.left, area.top, area.left + area.width, area.top + area.height))
    draw = ImageDraw.Draw(layer)
    px, py = (xs[: k + 1] - area.left).tolist(), (ys[: k + 1] - area.top).tolist()
    points = list(zip(px, py, strict=True))
    if len(points) > 1:  # drawn on the plot only: points off the plane are clipped
        draw.line(points, fill=PATH_EDGE, width=4, joint="curve")
        draw.line(points, fill=PATH, width=2, joint="curve")
    sx, sy = points[0]
    draw.regular_polygon((sx, sy, 6), 4, fill=START, outline=PATH_EDGE)
    cx, cy = points[-1]
    draw.ellipse((cx - 5, cy - 5, cx + 5, cy + 5), fill=CURRENT, outline=PATH_EDGE)
    text = f"step {label}"
    font = ImageFont.load_default(size=12)
    box = draw.textbbox((area.width - 6, 5), text, font=font, anchor="ra")
    draw.rectangle((box[0] - 3, box[1] - 2, box[2] + 3, box[3] + 2), fill=PAPER)
    draw.text((area.width - 6, 5), text, fill=INK, font=font, anchor="ra")
    frame = base.copy()
    frame.paste(layer, (area.left, area.top))
    return frame
