"""URL settings: untrusted query values become clamped, typed values or the default."""

import math

import pytest

from explorer.urlstate import Setting

STEPS = Setting("steps", 51, 5, 401)
LR = Setting("lr", 0.05, 1e-6, 10.0)
LOSS = Setting("loss", "mse", options=("mse", "huber"))
LOSSES = Setting("losses", ["mse"], options=("mse", "huber", "mae"))
LOG = Setting("log", False)


@pytest.mark.parametrize(
    ("setting", "raw", "expected"),
    [
        (STEPS, None, 51),
        (STEPS, "101", 101),
        (STEPS, "1e9", 401),
        (STEPS, "-3", 5),
        (STEPS, "abc", 51),
        (STEPS, "nan", 51),
        (STEPS, "inf", 51),
        (STEPS, ["7", "9"], 9),
        (LR, "0.5", 0.5),
        (LR, "1e300", 10.0),
        (LOSS, "huber", "huber"),
        (LOSS, "__import__('os')", "mse"),
        (LOSSES, "huber,mae,nope,huber", ["huber", "mae"]),
        (LOSSES, "nope", ["mse"]),
        (LOG, "1", True),
        (LOG, "0", False),
    ],
)
def test_parse(setting, raw, expected):
    assert setting.parse(raw) == expected


def test_int_setting_stays_int_and_float_stays_float():
    assert isinstance(STEPS.parse("50.7"), int) and STEPS.parse("50.7") == 51
    assert isinstance(LR.parse("1"), float)


def test_encode_round_trips():
    for setting, value in [
        (STEPS, 77),
        (LR, 0.0125),
        (LOSS, "huber"),
        (LOSSES, ["mse", "mae"]),
        (LOG, True),
    ]:
        assert setting.parse(setting.encode(value)) == value
    assert math.isclose(LR.parse(LR.encode(1 / 3)), 1 / 3, rel_tol=1e-5)


def test_long_input_is_cut():
    assert STEPS.parse("9" * 10_000) == 401
