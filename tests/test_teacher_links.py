"""Teacher links on every page: ?hide= removes controls but keeps their values, ?lock= disables
them; the page then shows what those values give (checked against explorer run on its own,
or a closed form). Hostile hide/lock lists never break a page; every URL-bound widget of the
app is drawn through teacher.control (else a link could not hide it).
"""

import ast
from pathlib import Path

import numpy as np
import pytest

from app_pages.widgets.teacher import MAX_CHARS, MAX_KEYS
from explorer.data import make_dataset
from explorer.lessons import LESSONS
from explorer.training import TrainConfig, train
from tests.apptest import array, figures, open_page, problems, trace

ROOT = Path(__file__).resolve().parent.parent
KINDS = (
    "selectbox multiselect slider select_slider number_input radio toggle checkbox text_input"
).split()
CLOSED_FORM = 1e-5  # float32 values against float64 closed forms
SAME_RUN = 1e-6  # the page's run against the same run made here


def widgets(at, key: str) -> list:
    """Every widget on the page (main area and sidebar) with this key."""
    return [w for kind in KINDS for w in at.get(kind) if getattr(w, "key", None) == key]


def assert_hidden(at, *keys: str) -> None:
    for key in keys:
        assert widgets(at, key) == [], f"{key} is shown, though the link hides it"


def locked(at, key: str):
    """The one widget with this key, which must be shown disabled."""
    (widget,) = widgets(at, key)
    assert widget.disabled, f"{key} can be changed, though the link locks it"
    return widget


def clean(at) -> None:
    assert problems(at) == [] and not at.error
    assert not any("partly ignored" in c.value for c in at.sidebar.caption)


def test_home_hides_the_seed_and_locks_the_device():
    at = open_page(None, {"seed": "7", "device": "cpu", "hide": "seed", "lock": "device"})
    clean(at)
    assert_hidden(at, "seed")
    assert locked(at, "device").value == "cpu"
    assert at.session_state["seed"] == 7  # the value every page reads from the sidebar
    assert any("Running on **cpu**" in c.value for c in at.sidebar.caption)


def test_loss_shapes_uses_a_hidden_steepness_and_a_locked_threshold():
    query = {"pair": "threshold", "k": "50", "t": "2", "losses": "huber"}
    at = open_page("loss_shapes", {**query, "hide": "k,losses", "lock": "t"})
    clean(at)
    assert_hidden(at, "k", "losses")
    assert locked(at, "t").value == 2.0
    k, t = 50.0, 2.0
    metric = next(m for m in at.metric if m.label.startswith("soft dL/dr at r = t"))
    assert float(metric.value) == pytest.approx(-k * t * t / 4 + t, rel=1e-2)  # the closed form
    names = {tr["name"] for tr in figures(at)["curves_residual"]["data"]}
    assert names and all(name.startswith("Huber") for name in names)  # only the hidden choice


def test_gradient_lab_draws_a_hidden_loss_at_a_locked_threshold():
    at = open_page(
        "gradient_lab",
        {"loss": "hard_threshold", "lab.t": "2", "hide": "loss", "lock": "lab.t"},
    )
    clean(at)
    assert_hidden(at, "loss", "expr")
    assert locked(at, "lab.t").value == 2.0
    curve = trace(figures(at)["lab_curve"], "Hard threshold (0/1 mask)")
    r, value = array(curve["x"]), array(curve["y"])
    want = np.where(np.abs(r) < 2.0, r**2, 0.0)  # [|r| < t]·r², t = 2
    np.testing.assert_allclose(value, want, rtol=CLOSED_FORM, atol=CLOSED_FORM)


def test_landscape_draws_a_hidden_loss_on_a_hidden_grid_with_a_locked_rate():
    query = {"loss": "mae", "steps": "11", "train_steps": "20", "lr": "0.1"}
    at = open_page("landscape", {**query, "hide": "loss,steps", "lock": "lr"})
    clean(at)
    assert_hidden(at, "loss", "steps")
    assert locked(at, "lr").value == pytest.approx(0.1)
    surf = trace(figures(at)["surface_0"], "surface")
    w, b, z = array(surf["x"]), array(surf["y"]), array(surf["z"])
    assert z.shape == (11, 11)
    data = make_dataset("line", n=200, seed=0, noise=0.1)
    x, y = data.x[:, 0].double().numpy(), data.y.double().numpy()
    for i, j in [(0, 0), (3, 7), (10, 10)]:  # the MAE surface, not the default MSE
        np.testing.assert_allclose(z[j, i], np.mean(np.abs(w[i] * x + b[j] - y)), rtol=CLOSED_FORM)


def test_training_trains_the_hidden_model_seed_and_width_for_the_locked_steps():
    query = {"model": "mlp", "width": "4", "seed": "3", "steps": "20"}
    at = open_page("training", {**query, "hide": "model,width,seed", "lock": "steps"})
    clean(at)
    assert_hidden(at, "model", "width", "seed")
    assert locked(at, "steps").value == 20
    next(b for b in at.button if b.label == "Run to the end").click().run()
    clean(at)
    table = next(d.value for d in at.dataframe if {"step", "loss"} <= set(d.value.columns))
    want = list(train(TrainConfig(model="mlp", hidden=(4,), seed=3, steps=20, device="cpu")))
    assert len(table) == len(want) == 21
    np.testing.assert_allclose(table["loss"].to_numpy(), [r.loss for r in want], rtol=SAME_RUN)


def test_lessons_opens_the_hidden_lesson_with_a_locked_seed():
    lesson = LESSONS[1]
    at = open_page("lessons", {"lesson": lesson.key, "hide": "lesson", "lock": "seed"})
    assert problems(at) == []
    assert_hidden(at, "lesson")
    assert locked(at, "seed").value == 0
    assert at.header[0].value == lesson.title


def test_hidden_controls_keep_their_values_in_the_link_and_locked_ones_after_a_change():
    at = open_page("loss_shapes", {"k": "50", "t": "2", "hide": "k", "lock": "t"})
    at.radio(key="pair").set_value("margin").run()  # a rerun after a change elsewhere
    assert at.query_params["k"] == "50" and at.query_params["t"] == "2"
    assert_hidden(at, "k")
    assert at.session_state["k"] == 50.0
    assert locked(at, "t").value == 2.0


def test_unknown_keys_are_named_in_a_caption_and_ignored():
    at = open_page("loss_shapes", {"hide": "k,no_such_key", "lock": "seed,other.key"})
    assert problems(at) == [] and not at.error
    assert_hidden(at, "k")
    assert locked(at, "seed")
    (note,) = [c.value for c in at.sidebar.caption if "partly ignored" in c.value]
    assert "`no_such_key`" in note and "`other.key`" in note


HOSTILE = [
    "x" * 5000,  # too long: all of it is ignored
    "<script>alert(1)</script>,k",
    "**bold**,[a](javascript:alert(1)),k",
    ",,, ,k,",
    "ключ,k,\u202e",
    ",".join(f"key{i}" for i in range(200)) + ",k",  # more keys than a list may hold
    "k\nseed",
    ["k", "seed"],  # repeated: both lists count
    "%00,k",
    "$x$,:red[x],k",
]


@pytest.mark.parametrize("hide", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_hide_and_lock_lists_never_break_a_page(hide):
    at = open_page("loss_shapes", {"hide": hide, "lock": hide})
    assert problems(at) == [] and not at.error
    assert at.title[0].value == "Loss Shapes"
    notes = [c.value for c in at.sidebar.caption if "partly ignored" in c.value]
    for note in notes:  # only well-formed keys are echoed, each in a code span
        assert "<" not in note and "javascript" not in note and "**" not in note
    keys = {e.strip() for e in (",".join(hide) if isinstance(hide, list) else hide).split(",")}
    if "k" in keys and len(hide) <= MAX_CHARS and len(keys) <= MAX_KEYS:
        assert_hidden(at, "k")  # a good key among bad ones still works
        assert at.session_state["k"] == 20.0


def test_the_share_dialog_builds_the_link_from_the_ticked_boxes():
    at = open_page("loss_shapes", {"k": "50", "pair": "margin"})
    at.session_state["share.hide.k"] = True  # ticked before the dialog opens (AppTest closes a
    at.session_state["share.lock.pair"] = True  # dialog on a click inside it)
    next(b for b in at.sidebar.button if b.label == "Share this view").click().run()
    assert problems(at) == []
    boxes = {c.key for c in at.checkbox}
    assert {"share.hide.k", "share.lock.k", "share.hide.seed", "share.hide.losses"} <= boxes
    (link,) = [c.value for c in at.code]
    path, query = link.split("?", 1)
    assert path.endswith("/loss_shapes")
    assert set(query.split("&")) == {"k=50", "pair=margin", "hide=k", "lock=pair"}


def test_every_url_bound_widget_is_drawn_through_teacher_control():
    """A call with bind= anywhere in the app must be teacher.control(widget, …, bind=…)."""
    files = [ROOT / "app.py", *sorted((ROOT / "app_pages").rglob("*.py"))]
    direct = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and any(k.arg == "bind" for k in node.keywords):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                if name != "control":
                    direct.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert direct == [], f"bound widgets a teacher link cannot hide: {direct}"


def test_a_hidden_number_with_a_hostile_url_value_falls_back_to_its_default():
    at = open_page("training", {"n": "1e309", "seed": "inf", "hide": "n,seed"})
    assert problems(at) == [] and not at.error
    assert_hidden(at, "n", "seed")
    assert at.session_state["n"] == 200 and at.session_state["seed"] == 0
    assert "n" not in at.query_params and "seed" not in at.query_params
