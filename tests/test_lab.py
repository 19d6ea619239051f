"""The Lab's graph and diagnosis: real graphs of real losses, on the smallest run each loss fits."""

import pytest
import torch

from explorer.losses import LOSSES, get_loss
from explorer.training import build
from explorer.views.lab import diagnosis, graph_config, lab_curve, loss_graph, skipped_checks


@pytest.mark.parametrize("key", list(LOSSES))
def test_every_catalogue_loss_has_a_graph_on_a_model_it_fits(key):
    graph = loss_graph(key)
    assert graph.dot.startswith("digraph") and graph.dot.count("{") == graph.dot.count("}")
    assert torch.isfinite(torch.tensor(graph.value))
    assert graph.norms  # the model's parameters, each with a gradient norm (or None)


def test_mse_on_the_line_model_matches_its_closed_form_gradient():
    cfg = graph_config("mse")
    assert (cfg.dataset, cfg.model, cfg.n) == ("line", "line", 8)
    graph = loss_graph("mse")
    dot, value, norms = graph.dot, graph.value, graph.norms

    problem = build(cfg)
    data, model = problem.dataset, problem.model
    x, y = data.x.squeeze(1).double(), data.y.double()
    w, b = model.w.detach().double(), model.b.detach().double()
    r = w * x + b - y
    assert value == pytest.approx(float((r**2).mean()), rel=1e-5)
    assert norms["w"] == pytest.approx(float((2 * r * x).mean().abs()), rel=1e-4)
    assert norms["b"] == pytest.approx(float((2 * r).mean().abs()), rel=1e-4)
    assert r"w\n()\nAccumulateGrad" in dot and r"b\n()\nAccumulateGrad" in dot  # both leaves


def test_zero_one_passes_exactly_zero_gradient_and_the_doctor_says_so():
    assert all(v == 0.0 for v in loss_graph("zero_one").norms.values())
    codes = {f.code for f in diagnosis("zero_one")}
    assert "flat" in codes
    assert diagnosis("mse") == []


def test_a_typed_formula_works_like_a_catalogue_loss():
    typed, ref = loss_graph("expr:mean(r**2)"), loss_graph("mse")
    assert typed.value == pytest.approx(ref.value, rel=1e-6)
    assert typed.norms == pytest.approx(ref.norms, rel=1e-5)
    assert "outward_push" in {
        f.code for f in diagnosis("expr:sigmoid(k*(t - abs(r))) * r**2", {"k": 20.0, "t": 1.0})
    }


def test_a_resolved_spec_gives_what_its_key_gives():
    spec = get_loss("expr:mean(k*r**2)")
    assert graph_config(spec, {"k": 3.0}) == graph_config(spec.key, {"k": 3.0})
    assert loss_graph(spec, {"k": 3.0}) == loss_graph(spec.key, {"k": 3.0})
    assert diagnosis(spec) == diagnosis(spec.key)


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("mse", "residual r = ŷ − y"),
        ("zero_one", "margin m = y·ŷ"),
        ("dice", "predicted probability p (target y = 1)"),
        ("cross_entropy", "logit of the true class (others 0, 3 classes)"),
    ],
)
def test_a_per_element_loss_keeps_its_curve_and_is_labelled_by_its_axis(key, label):
    import numpy as np

    from explorer.gradients.curves import loss_curve

    view = lab_curve(key)
    assert not view.mixed and view.caption == "" and view.x_label == label
    assert view.title == f"{LOSSES[key].name}: value and gradient against the {LOSSES[key].x_axis}"
    np.testing.assert_array_equal(view.curve.value, loss_curve(LOSSES[key]).value)
    assert skipped_checks(key) == {}


def test_a_mixed_formula_is_diagnosed_by_key_or_spec_alike():
    spec = get_loss("expr:mean(round(r))**2")
    assert diagnosis(spec) == diagnosis(spec.key)
    assert [f.code for f in diagnosis(spec)] == ["flat", "jump"]
