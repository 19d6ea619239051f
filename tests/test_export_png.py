"""Every chart's modebar saves a PNG with its own name: the config the pages pass to Plotly."""

import ast
from pathlib import Path

import pytest

from app_pages.widgets.common import PNG_SCALE, png_config

PAGES = sorted((Path(__file__).resolve().parent.parent / "app_pages").glob("*.py"))


def test_png_config_names_the_file_and_asks_for_a_sharp_png():
    options = png_config("landscape_surface_0")["toImageButtonOptions"]
    assert options == {"format": "png", "filename": "landscape_surface_0", "scale": PNG_SCALE}
    assert PNG_SCALE >= 2


@pytest.mark.parametrize("name", ["lesson_../../etc/passwd", "expr:mean(r**2)", "", ".hidden"])
def test_png_file_names_are_safe(name):
    stem = png_config(name)["toImageButtonOptions"]["filename"]
    assert (
        stem
        and not stem.startswith(".")
        and set(stem) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
    )


def _charts(path: Path) -> list[ast.Call]:
    tree = ast.parse(path.read_text())
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr == "plotly_chart"
    ]


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_every_chart_of_a_page_passes_the_png_config(path):
    for call in _charts(path):
        config = next((k.value for k in call.keywords if k.arg == "config"), None)
        assert isinstance(config, ast.Call) and ast.unparse(config.func) == "png_config", (
            f"{path.name}:{call.lineno} st.plotly_chart without config=png_config(...)"
        )
