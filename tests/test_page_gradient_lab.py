"""Gradient Lab page: a typed formula plots; invalid and malicious ones get a message, never run."""

import json

import numpy as np
import pytest
import torch
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from explorer.expression import compile_loss
from tests.apptest import array, figures, open_page, problems, trace
from tests.test_codegen import run_source


@pytest.fixture(scope="module")
def page():
    return open_page("gradient_lab")


def test_default_formula_plots_with_its_diagnosis_graph_and_gradcheck(page):
    at = page
    assert problems(at) == [] and not at.error
    assert "lab_curve" in figures(at)
    assert len(at.expander) >= 1 or at.success  # findings, or the all-clear
    table = at.dataframe[-1].value
    seed_row = table[table["function"] == "MatrixPowerSeed"].iloc[0]
    assert not seed_row["passed"] and seed_row["max_abs_error"] > 1e-2


def test_a_valid_formula_is_plotted_with_its_true_gradient(page):
    at = page.text_input(key="expr").set_value("mean(abs(r)**3)").run()
    assert problems(at) == [] and not at.error
    fig = figures(at)["lab_curve"]
    name = fig["data"][0]["name"]
    x, g = array(trace(fig, name)["x"]), array(fig["data"][1]["y"])
    np.testing.assert_allclose(g, 3 * x * np.abs(x), atol=1e-8)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os').system('id')", "attribute access"),
        ("open('/etc/passwd')", "unknown function `open`"),
        ("mean(r", "syntax error"),
        ("r.__class__", "attribute access"),
    ],
)
def test_invalid_and_malicious_formulas_get_a_clear_message(page, text, message):
    at = page.text_input(key="expr").set_value(text).run()
    assert problems(at) == []
    assert message in at.error[0].value.replace("\\", "")  # shown as typed: escapes aside
    assert "lab_curve" not in figures(at)


def test_a_catalogue_loss_is_diagnosed_too():
    at = open_page("gradient_lab", {"loss": "zero_one"})
    assert problems(at) == []
    assert any("zero almost everywhere" in e.label for e in at.expander)


def test_url_carries_the_formula():
    at = open_page("gradient_lab", {"loss": "custom", "expr": "mean(log1p(r**2))"})
    assert problems(at) == [] and not at.error
    assert at.text_input(key="expr").value == "mean(log1p(r**2))"


@pytest.mark.parametrize("target", ["training", "landscape"])
def test_the_formula_travels_to_training_and_landscape(target):
    from urllib.parse import parse_qsl

    lab = open_page("gradient_lab", {"loss": "custom", "expr": "mean(k*log1p(r**2))", "lab.k": "3"})
    link = next(el.proto for el in lab.get("page_link") if el.proto.page == target)
    query = dict(parse_qsl(link.query_string))
    assert query == {
        "data": "line",
        "loss": "custom",
        "expr": "mean(k*log1p(r**2))",
        "custom.k": "3",
    }
    at = open_page(target, query)
    assert problems(at) == [] and not at.error
    assert at.text_input(key="expr").value == "mean(k*log1p(r**2))"
    assert at.slider(key="custom.k").value == 3.0
    assert figures(at)  # it draws with the typed loss


@pytest.mark.parametrize("text", ["mean(r)**2 + mean(abs(r))", "sum(r**2) + 1", "r*mean(r)"])
def test_a_formula_that_mixes_samples_is_drawn_along_a_shift_not_refused(page, text):
    at = page.text_input(key="expr").set_value(text).run()
    assert problems(at) == [] and not at.error
    assert not any("does not work" in e.value for e in at.error)
    fig = figures(at)["lab_curve"]
    assert fig["layout"]["xaxis2"]["title"]["text"].startswith("shift s added to all 8 residuals")
    assert fig["layout"]["title"]["text"].endswith(
        "L(r + s) and dL/ds as all residuals shift together by s"
    )
    (note,) = [i.value for i in at.info if "mixes samples" in i.value]
    assert "shift together by s" in note
    assert any(
        c.value.startswith("Skipped: gradient pushes residuals outwards") for c in at.caption
    )


def test_a_catalogue_loss_is_drawn_against_its_own_axis():
    at = open_page("gradient_lab", {"loss": "zero_one"})
    assert problems(at) == []
    assert figures(at)["lab_curve"]["layout"]["xaxis2"]["title"]["text"] == "margin m = y·ŷ"
    assert not [i for i in at.info if "mixes samples" in i.value]


def _torch_code(at):
    """The code block under "Loss as PyTorch code" and its download button."""
    (block,) = [c for c in at.code if "nn.Module" in c.value or "from torch import nn" in c.value]
    (button,) = [b for b in at.get("download_button") if b.proto.label == "Loss as PyTorch code"]
    return block.value, button.proto


@pytest.fixture
def downloads(monkeypatch):
    """file name → bytes of every download the pages offer."""
    saved, original = {}, MemoryMediaFileStorage.load_and_get_id

    def keep(self, data, mimetype, kind, filename=None):
        saved[filename] = data
        return original(self, data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    return saved


def test_the_formula_is_shown_as_a_pytorch_module_with_the_slider_values(downloads):
    formula = "mean(sigmoid(k*(t - abs(r))) * r**2)"
    at = open_page("gradient_lab", {"loss": "custom", "expr": formula})
    at.slider(key="lab.k").set_value(7.5).run()
    assert problems(at) == [] and not at.error
    code, _ = _torch_code(at)
    assert "k: float = 7.5, t: float = 1.0" in code
    assert downloads["custom_loss.py"].decode().strip() == code.strip()
    namespace = run_source(code)  # the test runs the shown code; the page never does
    g = torch.Generator().manual_seed(0)
    pred, target = (torch.randn(20, generator=g, dtype=torch.float64) for _ in range(2))
    expected = compile_loss(formula)(pred, target, k=7.5, t=1.0)
    torch.testing.assert_close(namespace["CustomLoss"]()(pred, target), expected)


def test_a_catalogue_loss_gets_torch_code_or_the_reason_there_is_none():
    at = open_page("gradient_lab", {"loss": "huber"})
    at.slider(key="lab.delta").set_value(2.0).run()
    code, _ = _torch_code(at)
    assert "nn.HuberLoss(delta=2.0" in code
    at = open_page("gradient_lab", {"loss": "dice"})
    assert problems(at) == []
    assert not at.get("download_button")
    assert any("No PyTorch code for Soft Dice" in c.value for c in at.caption)


def test_the_curve_saves_a_png_named_for_it(page):
    (chart,) = page.get("plotly_chart")
    options = json.loads(chart.proto.config)["toImageButtonOptions"]
    assert options == {"format": "png", "filename": "gradient_lab_curve", "scale": 2}
