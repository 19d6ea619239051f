"""Every URL-bound number on every page: hostile URL values fall back to the default, silently.

Streamlit's own parsing of a bound number_input raises OverflowError on ?seed=inf (int(inf)),
outside any try/except of the app; the widgets of app_pages.widgets.common check the URL first.
Each page is opened with one hostile value in every numeric key at once; every widget must show
its default, the page must show no error, and the URL must lose the value.
"""

import pytest

from tests.apptest import open_page, problems

HOSTILE = [
    "inf",
    "-inf",
    "nan",
    "1e309",
    "-1e400",
    "9" * 400,
    "-" + "9" * 400,
    "0x10",
    "1e5",  # a finite number, but above every one of these widgets' maximum
    "-1e5",  # below every minimum
    "abc",
    ["3", "inf"],  # repeated: a number_input reads the last, a slider wants exactly one
]

# page -> (the query that shows its widgets, {key: (widget kind, default)})
PAGES = {
    None: ({}, {"seed": ("number_input", 0)}),
    "training": (
        {"model": "mlp", "loss": "huber"},
        {
            "seed": ("number_input", 0),
            "n": ("number_input", 200),
            "noise": ("slider", 0.1),
            "outliers": ("slider", 0.0),
            "width": ("select_slider", 16),
            "depth": ("slider", 1),
            "huber.delta": ("slider", 1.0),
            "lr": ("select_slider", 0.05),
            "steps": ("number_input", 200),
            "batch": ("number_input", 0),
        },
    ),
    "landscape": (
        {"model": "mlp", "loss": "huber", "fit": "false"},
        {
            "seed": ("number_input", 0),
            "hidden": ("slider", 16),
            "huber.delta": ("slider", 1.0),
            "span": ("slider", 1.0),
            "steps": ("slider", 31),
            "lr": ("number_input", 0.05),
            "train_steps": ("slider", 100),
        },
    ),
    "loss_shapes": (
        {"losses": ["huber", "soft_threshold"]},
        {
            "seed": ("number_input", 0),
            "huber.delta": ("slider", 1.0),
            "soft_threshold.k": ("slider", 20.0),
            "soft_threshold.t": ("slider", 1.0),
            "k": ("slider", 20.0),
            "t": ("slider", 1.0),
        },
    ),
    "gradient_lab": (
        {},
        {"seed": ("number_input", 0), "lab.k": ("slider", 20.0), "lab.t": ("slider", 1.0)},
    ),
}


def widget(at, kind: str, key: str):
    return getattr(at, kind)(key=key)


def shown(value) -> str:
    return repr(value) if len(repr(value)) < 40 else repr(value)[:37] + "..."


@pytest.mark.parametrize("value", HOSTILE, ids=shown)
@pytest.mark.parametrize("page", list(PAGES), ids=lambda p: p or "home")
def test_hostile_url_numbers_fall_back_to_the_default(page, value):
    base, keys = PAGES[page]
    at = open_page(page, {**base, **dict.fromkeys(keys, value)})
    assert problems(at) == []
    assert [e.value for e in at.error] == []
    for key, (kind, default) in keys.items():
        assert widget(at, kind, key).value == default, key
        assert key not in at.query_params, key  # the shared link is clean again
    for key, expected in base.items():  # the page's other settings still came from the URL
        assert at.query_params[key] == expected, key


# in-range values the same widgets must keep, from the URL and in it: the control for the above
VALID = {
    None: {"seed": ("7", 7)},
    "training": {
        "seed": ("42", 42),
        "n": ("500", 500),
        "noise": ("0.5", 0.5),
        "outliers": ("0.2", 0.2),
        "width": ("8", 8),
        "depth": ("2", 2),
        "huber.delta": ("2.5", 2.5),
        "lr": ("0.01", 0.01),
        "steps": ("300", 300),
        "batch": ("16", 16),
    },
    "landscape": {
        "hidden": ("8", 8),
        "span": ("2.5", 2.5),
        "steps": ("11", 11),
        "lr": ("0.003", 0.003),
        "train_steps": ("20", 20),
    },
    "loss_shapes": {"k": ("5.5", 5.5), "t": ("2", 2.0), "soft_threshold.k": ("3", 3.0)},
    "gradient_lab": {"lab.k": ("-3.5", -3.5), "lab.t": ("0.5", 0.5)},
}


@pytest.mark.parametrize("page", list(VALID), ids=lambda p: p or "home")
def test_valid_url_numbers_are_kept(page):
    base, kinds = PAGES[page]
    at = open_page(page, {**base, **{k: raw for k, (raw, _) in VALID[page].items()}})
    assert problems(at) == []
    for key, (raw, value) in VALID[page].items():
        assert widget(at, kinds[key][0], key).value == pytest.approx(value), key
        assert at.query_params[key] == raw, key


def test_only_the_hostile_value_goes_valid_ones_stay():
    at = open_page("training", {"n": "500", "steps": "inf", "batch": "1e309", "noise": "0.5"})
    assert problems(at) == []
    assert at.number_input(key="n").value == 500 and at.query_params["n"] == "500"
    assert at.slider(key="noise").value == 0.5 and at.query_params["noise"] == "0.5"
    assert at.number_input(key="steps").value == 200 and "steps" not in at.query_params
    assert at.number_input(key="batch").value == 0 and "batch" not in at.query_params
    assert at.session_state["train.race"].configs["sgd · mse"].n == 500


@pytest.mark.parametrize(
    ("key", "raw", "kind", "default"),
    [
        ("n", "300.5", "number_input", 200),  # an integer widget takes whole numbers only
        ("depth", "1.5", "slider", 1),
        ("width", "12", "select_slider", 16),  # a number, but not one of the widths offered
        ("lr", "0.050", "select_slider", 0.05),  # the option, but not as the option reads
        ("n", "", "number_input", 200),
    ],
)
def test_numbers_that_are_not_the_widgets_values_fall_back(key, raw, kind, default):
    at = open_page("training", {"model": "mlp", key: raw})
    assert problems(at) == []
    assert widget(at, kind, key).value == default
    assert key not in at.query_params


def test_after_a_hostile_url_the_widget_works_as_usual():
    at = open_page(None, {"seed": "inf"})
    assert problems(at) == [] and at.number_input(key="seed").value == 0
    at.number_input(key="seed").set_value(5).run()
    assert problems(at) == [] and at.number_input(key="seed").value == 5
    assert at.session_state["seed"] == 5


def test_the_seed_reaches_the_training_run_after_a_hostile_one():
    at = open_page("training", {"seed": "1e309", "steps": "-inf"})
    assert problems(at) == []
    config = at.session_state["train.race"].configs["sgd · mse"]
    assert (config.seed, config.steps) == (0, 200)
