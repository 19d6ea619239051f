"""curve_table: autograd agrees with finite differences wherever a derivative exists; kinks and
jumps are located, not averaged over."""

import pytest

from explorer.gradients.curves import curve_table, loss_curve
from explorer.losses import get_loss

AGREE = 1e-6  # float64 central differences with h = 1e-6


def row(key, params=None):
    return curve_table({key: loss_curve(get_loss(key), params)})[0]


def test_smooth_losses_agree_and_have_no_kinks_or_jumps():
    for key in ("mse", "log_cosh", "soft_threshold", "bce_logits"):
        r = row(key)
        assert r["max |autograd − finite diff.| (smooth part)"] < AGREE
        assert r["kinks at"] == "none" and r["jumps at"] == "none"


def test_hinge_kink_sits_at_one_plus_margin():
    r = row("hinge", {"margin": 0.5})
    assert r["kinks at"] == "1.50" and r["jumps at"] == "none"
    assert r["max |autograd − finite diff.| (smooth part)"] < AGREE


def test_step_losses_report_their_jumps_and_agree_elsewhere():
    r = row("zero_one")
    assert abs(float(r["jumps at"].split(",")[0])) < 0.02
    assert r["max |autograd − finite diff.| (smooth part)"] == pytest.approx(0.0, abs=AGREE)
    r = row("hard_threshold", {"t": 1.0})
    assert r["jumps at"] == "-1.00, 1.00"
    assert r["max |autograd − finite diff.| (smooth part)"] < AGREE
