"""Exports in Chromium: the modebar's camera saves a chart as `<name>.png` (drawn by Plotly in the
browser, at PNG_SCALE × its size on screen), and "Path as GIF" downloads the GIF drawn on the
server, with one frame a step of the path."""

import io

import pytest
from PIL import Image

from app_pages.widgets.common import PNG_SCALE
from tests.browser.harness import CHART
from tests.browser.test_pages_browser import (
    WAIT_MS,
    assert_clean,
    screenshot,
    settle,
    wait_for_charts,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(150)]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CAMERA = ".modebar-btn[data-title^='Download plot']"


def open_path(page, base: str, path: str, charts: int) -> None:
    page.goto(base + "/")
    settle(page)
    page.goto(f"{base}/{path}")
    settle(page)
    wait_for_charts(page, charts)
    assert_clean(page, f"on /{path}")


def test_the_camera_button_downloads_the_chart_as_a_png(page, app_url, tmp_path):
    open_path(page, app_url, "gradient_lab", 1)
    chart = page.locator(CHART).first
    chart.hover()  # the modebar shows on hover
    width, height = chart.evaluate("el => [el._fullLayout.width, el._fullLayout.height]")
    with page.expect_download(timeout=WAIT_MS) as info:
        chart.locator(CAMERA).click()
    download = info.value
    assert download.suggested_filename == "gradient_lab_curve.png"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    blob = saved.read_bytes()
    assert blob.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(blob))
    assert image.size == pytest.approx((PNG_SCALE * width, PNG_SCALE * height), abs=1)
    screenshot(page, "gradient_lab-export")


def test_path_as_gif_downloads_one_frame_a_step(page, app_url, tmp_path):
    open_path(page, app_url, "landscape?steps=11&train_steps=20", 4)
    page.get_by_text("Animated path over the contours").click()
    button = page.get_by_role("button", name="Path as GIF")
    with page.expect_download(timeout=WAIT_MS) as info:
        button.click()
    download = info.value
    assert download.suggested_filename.endswith(".gif")
    saved = tmp_path / "path.gif"
    download.save_as(saved)
    image = Image.open(saved)
    assert (image.format, image.n_frames, image.size) == ("GIF", 21, (480, 400))
    assert_clean(page, "after the GIF download")
