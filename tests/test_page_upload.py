"""Your data on the pages (AppTest): the upload on Training and Landscape, each bad file's
message, a good file's preview, fit and training, the URL that never holds the data, the real
data sets, and the edited data set that clicks on the fit make."""

import re

import numpy as np
import pytest
import torch

from app_pages.widgets import data as widgets
from explorer.data import DATASETS, make_dataset
from explorer.plots.draw import CLICK_TRACE, GRID
from explorer.training import TrainConfig, train
from explorer.upload import guess_columns, read_table, to_user_data
from explorer.user_data import as_user_data, with_point
from tests.apptest import array, figures, open_page, problems, trace
from tests.test_upload import BAD_FILES, csv_of

torch.set_num_threads(1)
GOOD = csv_of("blobs", n=40, seed=0)


def plain(markdown: str) -> str:
    """Text as shown: md_text's backslash escapes removed."""
    return re.sub(r"\\(.)", r"\1", markdown)


def upload(at, name: str, raw: bytes):
    at.file_uploader(key=widgets.UPLOADER).set_value((name, raw, "text/csv"))
    return at.run()


def button(at, label):
    return next(b for b in at.button if b.label == label)


@pytest.fixture(scope="module")
def upload_page():
    return open_page("training", {"data": "upload", "model": "logistic", "steps": "30"})


def test_without_a_file_the_page_asks_for_one_and_says_links_do_not_carry_it(upload_page):
    at = upload_page
    assert problems(at) == []
    assert any("Choose a CSV file" in i.value for i in at.info)
    assert widgets.NOT_IN_LINK in [c.value for c in at.caption]
    assert at.file_uploader(key=widgets.UPLOADER).proto.type == [".csv", ".txt"]


@pytest.mark.parametrize("case", ["empty", "one column", "binary", "not utf-8", "non-numeric",
                                  "missing", "infinite", "one class", "fractional label",
                                  "word label", "ragged", "numbers as header"])  # fmt: skip
def test_each_bad_file_shows_its_message_and_nothing_trains(upload_page, case):
    raw, message = BAD_FILES[case]
    at = upload(upload_page, f"{case}.csv", raw)
    assert problems(at) == []
    shown = [plain(e.value) for e in at.error]
    assert len(shown) == 1 and shown[0].startswith("This file cannot be used")
    assert message in shown[0], shown[0]
    assert "fit" not in figures(at) and widgets.FILE not in at.session_state


def test_too_many_rows_are_cut_and_the_page_says_how_many_were_kept(upload_page):
    raw = b"x,y\n" + b"".join(b"%d,%d\n" % (i % 50, i % 7) for i in range(5100))
    at = upload(upload_page, "long.csv", raw)
    assert problems(at) == [] and not at.error
    notes = [w.value for w in at.warning]
    assert any("5100 rows of data: the first 5000 are kept" in n for n in notes), notes
    assert len(at.session_state[widgets.FILE]) == 5000


def test_a_good_file_is_previewed_trains_and_never_enters_the_url(upload_page):
    at = upload(upload_page, "blobs.csv", GOOD)
    assert problems(at) == [] and not at.error
    preview = at.dataframe[0].value
    assert list(preview.columns) == ["x1", "x2", "label"] and len(preview) == 10
    assert preview.index.tolist() == list(range(2, 12))  # the file's lines
    figs = figures(at)
    assert {"data.preview", "fit"} <= set(figs)
    shown = sum(array(t["x"]).size for t in figs["data.preview"]["data"] if "class" in t["name"])
    assert shown == 40
    button(at, "Run to the end").click().run()
    assert problems(at) == [] and "step 30 of 30 · done" in at.get("progress")[0].proto.text
    user = at.session_state[widgets.FILE]
    config = at.session_state["last_run"]["config"]
    assert config.user_data == user and config.dataset == user.key
    reference = TrainConfig(dataset="blobs", n=40, model="logistic", loss=config.loss,
                            lr=config.lr, steps=30, seed=0)  # fmt: skip
    expected = list(train(reference))[-1].theta
    np.testing.assert_array_equal(at.session_state["last_run"]["records"][-1].theta, expected)
    url = " ".join(f"{k}={v}" for k, v in at.query_params.items())
    assert "data=upload" in url
    numbers = {f"{v!r}" for v in user.x.ravel()[:10]}
    assert not any(n in url for n in numbers) and user.key not in url and "yours" not in url


def test_columns_are_chosen_by_name():
    at = open_page("training", {"data": "upload", "model": "line"})
    raw = b"weight,height,other\n1,2,0\n2,4,1\n3,6,1\n4,8,0\n"
    at = upload(at, "people.csv", raw)  # three columns: read as classification at first
    next(r for r in at.radio if r.label == "the file holds").set_value("regression").run()
    next(b for b in at.selectbox if b.label == "column x").set_value("weight")
    next(b for b in at.selectbox if b.label == "column y").set_value("height").run()
    assert problems(at) == [] and not at.error
    user = at.session_state[widgets.FILE]
    assert user.task == "regression" and user.y.tolist() == [2, 4, 6, 8]


def test_landscape_draws_the_surface_of_an_uploaded_file():
    at = open_page("landscape", {"data": "upload", "steps": "7", "train_steps": "10"})
    at = upload(at, "line.csv", csv_of("line"))  # the page's own line: 200 points, seed 0
    assert problems(at) == [] and not at.error
    surface = figures(at)["surface_0"]
    reference = open_page("landscape", {"data": "line", "steps": "7", "train_steps": "10"})
    np.testing.assert_array_equal(
        array(surface["data"][0]["z"]), array(figures(reference)["surface_0"]["data"][0]["z"])
    )


@pytest.mark.parametrize("key", ["iris", "cancer", "diabetes"])
def test_the_real_data_sets_train_on_both_pages(key):
    at = open_page("training", {"data": key, "steps": "20"})
    assert problems(at) == []
    assert at.number_input(key="n").disabled  # a real data set keeps its own points
    fit = figures(at)["fit"]
    points = sum(array(t["x"]).size for t in fit["data"] if t.get("mode") == "markers")
    assert points == DATASETS[key].size
    land = open_page("landscape", {"data": key, "steps": "5", "train_steps": "5"})
    assert problems(land) == [] and "surface_0" in figures(land)


def test_edited_data_shows_as_your_data_edited_and_trains():
    edited = with_point(as_user_data(make_dataset("blobs", n=30)), (3.0, -3.0), 1)
    at = open_page("training", {"data": "blobs", "model": "logistic"})
    at.session_state[widgets.EDITS] = edited
    at.selectbox(key="data").set_value(widgets.EDITED).run()
    assert problems(at) == []
    assert any("your data (edited)" in plain(c.value) for c in at.caption)
    fit = figures(at)["fit"]
    assert sum(array(t["x"]).size for t in fit["data"] if t["name"].startswith("class")) == 31
    assert at.session_state["train.race"].configs["sgd · bce_logits"].user_data == edited


def test_add_mode_puts_a_click_grid_on_the_fit_and_remove_mode_the_points():
    at = open_page("training", {"data": "moons", "model": "logistic", "n": "50"})
    at.button_group(key=widgets.MODE).set_value("add").run()
    assert problems(at) == []
    key = next(k for k in figures(at) if k.startswith("fit.add."))
    grid = trace(figures(at)[key], CLICK_TRACE)
    assert array(grid["x"]).size == GRID * GRID
    at.button_group(key=widgets.MODE).set_value("remove").run()
    key = next(k for k in figures(at) if k.startswith("fit.remove."))
    hits = trace(figures(at)[key], CLICK_TRACE)
    assert array(hits["customdata"]).tolist() == list(range(50))


def test_clicks_edit_the_data_and_retrain(monkeypatch):
    """The click callbacks on a session's state (the browser test does the real clicks)."""
    state: dict = {}
    monkeypatch.setattr(widgets.st, "session_state", state)
    base = as_user_data(make_dataset("blobs", n=20))
    state["chart"] = type("Event", (), {"selection": type("S", (), {"points": [
        {"curve_number": 0, "x": 9.0, "y": 9.0},  # another trace: ignored
        {"curve_number": 4, "x": 1.5, "y": -2.0, "point_index": 2, "customdata": 7},
    ]})})()  # fmt: skip
    state[widgets.CLASS] = 1
    widgets._clicked("chart", base, "add", 4)
    added = state[widgets.EDITS]
    assert len(added) == 21 and added.x[-1].tolist() == [1.5, -2.0] and added.y[-1] == 1
    assert state["data"] == widgets.EDITED
    assert widgets.edited_now() and not widgets.edited_now()  # the page retrains once
    widgets._clicked("chart", added, "remove", 4)
    removed = state[widgets.EDITS]
    np.testing.assert_array_equal(removed.x, np.delete(added.x, 7, axis=0))


def test_a_table_and_its_data_match_what_the_page_uses():
    table = read_table(GOOD)
    assert to_user_data(table, guess_columns(table)) == as_user_data(make_dataset("blobs", n=40))
