"""Formulas that mix samples (`mean(r)**2`, `r - mean(r)`): marked as such, drawn as L(r + s)
against a common shift s of a fixed sample, diagnosed by the checks that apply, graphed."""

import numpy as np
import pytest
import torch

from explorer.expression import ExpressionError, compile_loss
from explorer.gradients.curves import FD_STEP
from explorer.gradients.shift import (
    SHIFT_AXIS,
    SHIFT_SAMPLE,
    mixes_samples,
    residual_gradients,
    shift_curve,
    shifted_loss,
)
from explorer.losses import get_loss
from explorer.training import build
from explorer.views.lab import diagnosis, graph_config, lab_curve, loss_graph, skipped_checks
from tests.apptest import array, figures, open_page, problems, trace

SAMPLE = torch.tensor(SHIFT_SAMPLE, dtype=torch.float64)
MIXED = ["mean(r)**2", "r - mean(r)", "mean((r - mean(r))**2)", "exp(mean(abs(r)))", "sum(r) + 1"]


def _spec(text: str):
    return get_loss("expr:" + text)


@pytest.mark.parametrize(
    ("text", "how"),
    [
        ("mean(r)**2", "`mean(r)**2` raises a mean to a power"),
        ("r - mean(r)", "`r - mean(r)` combines per-element values with a mean"),
        ("mean(r) * sum(r)", "`mean(r) * sum(r)` multiplies a mean by a sum"),
        ("sum(r**2) + 1", "`sum(r**2) + 1` adds a number to a sum"),
        ("mean(r) + sum(r)", "`mean(r) + sum(r)` adds a mean and a sum"),
        ("k / mean(abs(r))", "`k / mean(abs(r))` divides by a mean"),
        ("log1p(mean(r**2))", "`log1p(mean(r**2))` applies log1p to a mean"),
        ("where(mean(r) > 0, r, -r)", "`mean(r) > 0` compares a mean"),
        ("mean(r * mean(r))", "`r * mean(r)` combines per-element values with a mean"),
    ],
)
def test_the_language_marks_mixed_formulas_and_says_how_they_mix(text, how):
    loss = compile_loss(text)
    assert loss.kind == "mixed" and not loss.elementwise and loss.mixing.startswith(how)
    assert mixes_samples(get_loss("expr:" + text))
    with pytest.raises(ExpressionError) as info:
        loss(torch.zeros(4), torch.zeros(4), reduction="none")
    assert f"no per-element values: this formula mixes samples ({loss.mixing})" in str(info.value)
    assert how in get_loss("expr:" + text).notes


@pytest.mark.parametrize("text", ["mean(r**2)", "r**2", "mean(r**2) + k*mean(abs(r))"])
def test_per_element_formulas_are_not_mixed(text):
    loss = compile_loss(text)
    assert loss.elementwise and loss.mixing == "" and not mixes_samples(_spec(text))
    assert skipped_checks("expr:" + text) == {}


def test_the_shift_curve_of_mean_r_squared_is_s_squared():
    assert float(SAMPLE.mean()) == pytest.approx(0.0, abs=1e-15)  # so L(r + s) = s²
    c = shift_curve(_spec("mean(r)**2"))
    assert c.x_axis == SHIFT_AXIS and c.x[0] == -3 and c.x[-1] == 3 and c.x.size == 401
    np.testing.assert_allclose(c.value, c.x**2, atol=1e-12)
    np.testing.assert_allclose(c.grad_autograd, 2 * c.x, atol=1e-12)
    np.testing.assert_allclose(c.grad_fd, 2 * c.x, atol=1e-8)
    assert c.fd_step == FD_STEP and c.kinks.size == 0


@pytest.mark.parametrize("text", MIXED)
def test_the_shift_curve_is_the_loss_of_the_shifted_sample(text):
    loss, spec = compile_loss(text), _spec(text)
    s = torch.tensor([-2.5, -0.3, 0.0, 0.7, 2.0], dtype=torch.float64)
    reference = []
    for shift in s:
        pred = (SAMPLE + shift).requires_grad_()
        value = loss(pred, torch.zeros(8, dtype=torch.float64))
        (grad,) = torch.autograd.grad(value, pred, allow_unused=True)
        value = value.detach()
        reference.append((value.item(), torch.zeros(8) if grad is None else grad))
    c = shift_curve(spec, x=s)
    np.testing.assert_allclose(c.value, [v for v, _ in reference], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c.grad_autograd, [float(g.sum()) for _, g in reference], atol=1e-10)
    np.testing.assert_allclose(c.grad_fd, c.grad_autograd, atol=1e-6)
    _, per_residual = residual_gradients(spec, {}, s)
    np.testing.assert_allclose(per_residual, torch.stack([g for _, g in reference]), atol=1e-12)
    np.testing.assert_allclose(shifted_loss(spec, {}, s), c.value, rtol=1e-15)


def test_a_shift_needs_a_residual_loss():
    with pytest.raises(ValueError, match="needs a residual loss; 'hinge' is not"):
        shifted_loss(get_loss("hinge"), {}, torch.zeros(3))


def _codes(text: str) -> dict[str, str]:
    return {f.code: f.severity for f in diagnosis("expr:" + text)}


def test_the_doctor_runs_on_mixed_formulas_instead_of_raising():
    assert _codes("mean(r)**2") == {}
    assert _codes("r - mean(r)") == {"flat": "error"}  # identically 0: no gradient at all
    assert _codes("mean(round(r))**2") == {"flat": "error", "jump": "warning"}
    assert _codes("-mean(r)**2") == {"unbounded_below": "error"}
    assert _codes("abs(mean(r))") == {"kink": "info"}
    assert _codes("log(mean(r) + 10)") == {}
    assert "nan_inf" in _codes("log(mean(r))")  # NaN for every s below 0


def test_a_shift_invariant_loss_is_not_called_flat():
    """The variance of the residuals ignores a common shift but trains their spread."""
    (f,) = diagnosis("expr:mean((r - mean(r))**2)")
    assert (f.code, f.severity) == ("shift_invariant", "info")
    assert f.title == "No gradient along a common shift of the residuals"
    assert (
        f.seen.startswith("|dL/ds| < ") and "the gradient with respect to each residual" in f.seen
    )


def test_findings_say_they_were_read_along_the_shift():
    (flat, jump) = diagnosis("expr:mean(round(r))**2")
    assert flat.seen.startswith("‖∇ᵣL‖, the gradient with respect to each of the 8 residuals")
    assert flat.seen.endswith("(s: a shift of all 8 residuals together)")
    assert jump.seen.startswith("L jumps at s ≈ ")


def test_the_skipped_check_is_named_with_its_reason():
    skipped = skipped_checks("expr:mean(r)**2")
    assert list(skipped) == ["Gradient pushes residuals outwards"]
    assert "no loss of one residual alone" in skipped["Gradient pushes residuals outwards"]


def test_the_lab_curve_labels_the_shift():
    view = lab_curve("expr:mean(r)**2")
    assert view.mixed and view.curve.x_axis == SHIFT_AXIS
    assert view.x_label == "shift s added to all 8 residuals of a fixed sample (r + s)"
    assert view.y_labels == ("loss L(r + s)", "dL/ds")
    assert "`mean(r)**2` raises a mean to a power" in view.caption
    assert "shift together by s" in view.caption and "-1.5, -0.9" in view.caption
    plain = lab_curve("mse")
    assert not plain.mixed and plain.caption == "" and plain.x_label == "residual r = ŷ − y"


def test_the_graph_of_a_mixed_formula_has_its_closed_form_gradient():
    cfg = graph_config("expr:mean(r)**2")
    problem = build(cfg)
    x, y = problem.dataset.x.squeeze(1).double(), problem.dataset.y.double()
    w, b = problem.model.w.detach().double(), problem.model.b.detach().double()
    mean_r = float((w * x + b - y).mean())
    graph = loss_graph("expr:mean(r)**2")
    assert graph.value == pytest.approx(mean_r**2, rel=1e-5)
    assert graph.norms["b"] == pytest.approx(abs(2 * mean_r), rel=1e-4)
    assert graph.norms["w"] == pytest.approx(abs(2 * mean_r * float(x.mean())), rel=1e-4)


@pytest.mark.parametrize("text", ["mean(r)**2", "r - mean(r)"])
def test_the_lab_page_shows_a_mixed_formula(text):
    at = open_page("gradient_lab", {"loss": "custom", "expr": text})
    assert problems(at) == [] and not at.error
    fig = figures(at)["lab_curve"]
    name = fig["data"][0]["name"]
    s, value = array(trace(fig, name)["x"]), array(trace(fig, name)["y"])
    expected = shift_curve(_spec(text)).value
    np.testing.assert_allclose(value, expected, atol=1e-12)
    assert s[0] == -3 and s[-1] == 3
    titles = [
        axis.get("title", {}).get("text")
        for key, axis in fig["layout"].items()
        if key.startswith(("xaxis", "yaxis"))
    ]
    assert "shift s added to all 8 residuals of a fixed sample (r + s)" in titles
    assert "dL/ds" in titles
    assert any("mixes samples" in i.value and "shift together" in i.value for i in at.info)
    assert any(
        c.value.startswith("Skipped: gradient pushes residuals outwards") for c in at.caption
    )
    (graph,) = at.get("graphviz_chart")
    assert graph.proto.spec.startswith("digraph")


def test_the_lab_page_reports_the_doctor_on_a_mixed_formula():
    at = open_page("gradient_lab", {"loss": "custom", "expr": "r - mean(r)"})
    assert problems(at) == [] and not at.error
    assert [e.label for e in at.expander] == ["ERROR\\: Gradient zero almost everywhere"]
