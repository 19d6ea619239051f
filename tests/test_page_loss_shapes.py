"""Loss Shapes page: curves follow the chosen losses and parameters; the URL opens a view."""

import numpy as np
import pytest

from tests.apptest import array, figures, open_page, problems, trace


@pytest.fixture(scope="module")
def default_page():
    return open_page("loss_shapes")


def test_default_view_draws_curves_and_the_threshold_pair(default_page):
    at = default_page
    assert problems(at) == []
    figs = figures(at)
    assert set(figs) == {"curves_residual", "soft_vs_hard"}
    names = {t["name"] for t in figs["curves_residual"]["data"] if t.get("showlegend", True)}
    assert {"Mean squared error", "Huber"} <= names
    assert any("outward" in w.value for w in at.warning)  # k = 20, t = 1 pushes outward
    assert len(at.latex) == 3  # one formula a chosen loss


def test_a_loss_parameter_changes_the_curve():
    at = open_page("loss_shapes", {"losses": ["huber"]})
    before = array(trace(figures(at)["curves_residual"], "Huber")["y"])
    at.slider(key="huber.delta").set_value(0.2).run()
    after = array(trace(figures(at)["curves_residual"], "Huber")["y"])
    x = array(trace(figures(at)["curves_residual"], "Huber")["x"])
    assert problems(at) == []
    far = np.abs(x) > 1.0  # Huber with δ: δ(|r| − δ/2) away from 0
    np.testing.assert_allclose(after[far], 0.2 * (np.abs(x[far]) - 0.1), rtol=1e-6)
    assert not np.allclose(before, after)


def test_choosing_losses_of_other_tasks_adds_their_axis():
    at = open_page("loss_shapes")
    at.multiselect(key="losses").set_value(["mse", "hinge", "dice"]).run()
    assert problems(at) == []
    assert {"curves_residual", "curves_margin", "curves_probability"} <= set(figures(at))


def test_steepness_sharpens_the_soft_gradient():
    at = open_page("loss_shapes", {"k": "5"})
    peak = lambda: max(
        np.nanmax(np.abs(array(t["y"])))
        for t in figures(at)["soft_vs_hard"]["data"]
        if t["name"].startswith("soft")
    )
    low = peak()
    at.slider(key="k").set_value(80.0).run()
    assert peak() > 4 * low


def test_url_opens_the_margin_pair_and_chosen_losses():
    at = open_page("loss_shapes", {"losses": ["hinge", "zero_one"], "pair": "margin", "k": "40"})
    assert problems(at) == []
    assert at.multiselect(key="losses").value == ["hinge", "zero_one"]
    fig = figures(at)["soft_vs_hard"]
    assert "0-1" in fig["layout"]["title"]["text"]
    grads = [t for t in fig["data"] if t["name"].startswith("zero_one")]
    assert grads and all(np.all(array(t["y"])[len(array(t["y"])) // 2 + 5 :] == 0) for t in grads)


def test_bad_url_values_fall_back_to_defaults():
    at = open_page("loss_shapes", {"k": "1e99", "losses": ["__import__"], "pair": "nope"})
    assert problems(at) == []
    assert at.slider(key="k").value == 20.0
    assert at.radio(key="pair").value == "threshold"
