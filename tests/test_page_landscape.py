"""Landscape page: the figures follow the widgets and the URL; the numbers are the engine's."""

import json

import numpy as np
import pytest
import torch

import explorer.expression
from explorer import anatomy
from explorer.data import make_dataset
from explorer.training import train
from explorer.views.landscape import ViewConfig
from tests.apptest import array, figures, open_page, problems, trace

SMALL = {"steps": "11", "train_steps": "20"}  # a small grid and a short run keep each render quick
CLOSED_FORM = 1e-5  # float32 surface vs the float64 quadratic


def surface_z(at, key="surface_0") -> np.ndarray:
    return array(trace(figures(at)[key], "surface")["z"])


@pytest.fixture(scope="module")
def default_page():
    return open_page("landscape")


def test_default_view_draws_surface_cones_path_and_contours(default_page):
    at = default_page
    assert problems(at) == [] and not at.error
    figs = figures(at)
    assert set(figs) == {"surface_0", "contour_0", "animation", "slice", "phase"}
    types = lambda key: {t["type"] for t in figs[key]["data"]}
    assert types("surface_0") == {"surface", "cone", "scatter3d"}
    assert types("contour_0") == {"contour", "scatter"}
    assert surface_z(at).shape == (31, 31)
    assert array(trace(figs["contour_0"], "loss")["z"]).shape == (31, 31)
    assert figs["surface_0"]["layout"]["scene"]["xaxis"]["title"]["text"] == "w"
    assert len(at.dataframe) == 1  # the honesty table


def test_line_mse_surface_is_the_closed_form_quadratic(default_page):
    fig = figures(default_page)["surface_0"]
    surf = trace(fig, "surface")
    w, b, z = array(surf["x"]), array(surf["y"]), array(surf["z"])  # z[j, i] at (w[i], b[j])
    data = make_dataset("line", n=200, seed=0, noise=0.1)
    x, y = data.x[:, 0].double().numpy(), data.y.double().numpy()
    for i, j in [(0, 0), (3, 17), (15, 15), (30, 2), (30, 30)]:
        want = np.mean((w[i] * x + b[j] - y) ** 2)
        np.testing.assert_allclose(z[j, i], want, rtol=CLOSED_FORM)
    path = trace(fig, "trajectory (true loss)")
    assert array(path["z"])[-1] < array(path["z"])[0]  # the quick run went downhill


def test_loss_parameter_resolution_and_axes_change_the_drawing():
    at = open_page("landscape", {"loss": "huber", **SMALL})
    before = surface_z(at)
    at.slider(key="huber.delta").set_value(0.2).run()
    assert problems(at) == [] and not np.allclose(surface_z(at), before)
    at.selectbox(key="loss").set_value("log_cosh").run()
    assert "Log-cosh" in figures(at)["surface_0"]["layout"]["title"]["text"]
    at.slider(key="steps").set_value(21).run()
    assert surface_z(at).shape == (21, 21)
    at.radio(key="axes").set_value("hessian").run()
    title = figures(at)["contour_0"]["layout"]["xaxis"]["title"]["text"]
    assert problems(at) == [] and title.startswith("Hessian eigenvector 1")


def test_a_zero_curvature_hessian_view_draws_and_says_lambda_is_zero():
    at = open_page("landscape", {"loss": "mae", "axes": "hessian", **SMALL})
    assert problems(at) == [] and not at.error
    assert {"surface_0", "contour_0"} <= set(figures(at))


def test_toggles_remove_cones_and_log_the_values():
    at = open_page("landscape", SMALL)
    raw = surface_z(at)
    cut = array(figures(at)["slice"]["data"][0]["y"])
    at.toggle(key="cones").set_value(False).run()
    at.toggle(key="log").set_value(True).run()
    types = {t["type"] for t in figures(at)["surface_0"]["data"]}
    assert "cone" not in types
    np.testing.assert_allclose(surface_z(at).min(), np.log10(1e-4 * np.ptp(raw)), rtol=1e-6)
    logged = array(figures(at)["slice"]["data"][0]["y"])  # the 1-D slice follows the toggle
    np.testing.assert_allclose(logged, np.log10(cut - cut.min() + 1e-4 * np.ptp(cut)), rtol=1e-6)


def test_url_opens_the_matching_view():
    query = {"data": "moons", "model": "mlp", "hidden": "4", "loss": "sigmoid_margin"}
    at = open_page("landscape", {**query, "axes": "random", "compare": "true", **SMALL})
    assert problems(at) == []
    assert (
        at.selectbox(key="loss").value == "sigmoid_margin"
        and at.radio(key="axes").value == "random"
    )
    assert at.selectbox(key="loss2").value == "zero_one"  # the sigmoid's hard twin
    figs = figures(at)
    assert figs["contour_0"]["layout"]["xaxis"]["title"]["text"].startswith("random direction 1")
    assert figs["surface_1"]["layout"]["title"]["text"].startswith("0-1 loss")
    assert surface_z(at).shape == (11, 11)
    assert any("exactly 0 at 100%" in c.value for c in at.caption)  # the 0-1 loss has no gradient


def test_bad_url_values_fall_back_to_defaults():
    at = open_page("landscape", {"steps": "9999", "axes": "sideways", "loss": "__import__"})
    assert problems(at) == [] and not at.error
    assert at.slider(key="steps").value == 31
    assert at.radio(key="axes").value == "params"
    assert at.selectbox(key="loss").value == "mse"


def test_classification_losses_are_not_offered_on_regression_data(default_page):
    options = default_page.selectbox(key="loss").options
    assert "mse" in options and "hinge" not in options and "cross_entropy" not in options


def test_two_losses_are_drawn_side_by_side_on_the_same_grid():
    at = open_page("landscape", {"loss": "soft_threshold", "compare": "true", **SMALL})
    assert problems(at) == [] and at.selectbox(key="loss2").value == "hard_threshold"
    figs = figures(at)
    assert {"surface_0", "surface_1", "contour_0", "contour_1"} <= set(figs)
    soft, hard = (trace(figs[k], "surface") for k in ("surface_0", "surface_1"))
    np.testing.assert_array_equal(array(soft["x"]), array(hard["x"]))
    assert not np.allclose(array(soft["z"]), array(hard["z"]))
    assert "Hard threshold" in figs["surface_1"]["layout"]["title"]["text"]


def test_last_training_run_is_overlaid_only_when_it_matches():
    at = open_page("landscape", SMALL)
    config = ViewConfig(train_steps=12).train_config()
    at.session_state["last_run"] = {"config": config, "records": list(train(config))}
    at.radio(key="path").set_value("last").run()
    assert problems(at) == [] and not at.warning
    path = trace(figures(at)["surface_0"], "trajectory (true loss)")
    assert array(path["x"]).size == 13  # the run's steps, not the quick run's 21
    at.selectbox(key="data").set_value("sine").run()
    assert any("cannot be overlaid" in w.value for w in at.warning)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_an_unavailable_device_is_explained():
    at = open_page("landscape", SMALL)
    at.session_state["device"] = "cuda"
    at.run()
    assert any("not available" in i.value for i in at.info)


def test_a_typed_formula_is_parsed_once_by_the_widgets_and_once_by_the_view(monkeypatch):
    texts, parse = [], explorer.expression.parse
    monkeypatch.setattr(
        explorer.expression, "parse", lambda text: texts.append(text) or parse(text)
    )
    formula = "mean(abs(r)**2.5)"  # unique here: no earlier render has cached its view
    at = open_page("landscape", {"loss": "custom", "expr": formula, "compare": "true", **SMALL})
    assert problems(at) == [] and {"surface_0", "surface_1"} <= set(figures(at))
    assert texts == [formula, formula]  # the loss picker's check, then the view's one get_loss
    (element,) = at.get("bidi_component")  # the player: the quick run's updates, taken apart
    doc = json.loads(json.loads(element.proto.json))
    extras = {e["name"]: e for e in doc["runs"][0]["extras"]}
    config = ViewConfig(loss=f"expr:{formula}", train_steps=20).train_config()
    found = anatomy.run_anatomy(config, [3])[3]  # the reference: explorer's own replay
    assert extras["anatomy"]["labels"] == [p.label for p in found.parts]
    assert extras["anatomy"]["values"][2] == [p.sentence for p in found.parts]
    assert not [c for c in at.caption if "taken apart on the Training page" in c.value]


def _gif_button(at):
    (button,) = [b for b in at.get("download_button") if b.proto.label == "Path as GIF"]
    return button.proto


def test_the_path_is_offered_as_a_gif_with_its_frame_count_and_caps():
    at = open_page("landscape", SMALL)
    assert problems(at) == []
    button = _gif_button(at)
    assert button.help == "21 frames (at most 120, evenly spaced steps), 480×400 pixels."
    assert any(c.value.startswith("GIF for slides: 21 frames") for c in at.caption)
    at.slider(key="train_steps").set_value(300).run()
    assert problems(at) == []
    assert _gif_button(at).help.startswith("120 frames (at most 120")
    at.radio(key="path").set_value("none").run()  # no path: nothing to animate
    assert not [b for b in at.get("download_button") if b.proto.label == "Path as GIF"]


def test_every_chart_saves_a_png_named_for_it():
    at = open_page("landscape", SMALL)
    names = {
        el.proto.id.rsplit("-", 1)[-1]: json.loads(el.proto.config).get("toImageButtonOptions")
        for el in at.get("plotly_chart")
    }
    assert {"surface_0", "contour_0", "animation", "slice"} <= set(names)
    for key in ("surface_0", "contour_0", "animation", "slice"):
        assert names[key] == {"format": "png", "filename": f"landscape_{key}", "scale": 2}
