"""Training page: runs started by its buttons finish and learn, races overlay, URLs open setups."""

import io

import numpy as np
import pandas as pd
import pytest
import torch
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from tests.apptest import array, figures, open_page, problems, trace

torch.set_num_threads(1)  # tiny models: threads only contend on a small shared machine
HISTORY_COLUMNS = ["run", "step", "loss", "grad_norm", "elapsed_s", "stop"]


def button(at, label):
    return next(b for b in at.button if b.label == label)


def run_to_end(at):
    button(at, "Run to the end").click().run()
    assert problems(at) == []
    return at


def curve_names(fig) -> list[str]:
    return [t["name"] for t in fig["data"] if t.get("showlegend", True)]


def history(at) -> pd.DataFrame:
    return at.dataframe[0].value


@pytest.fixture(scope="module")
def default_page():
    return open_page("training")


def test_default_view_shows_the_initial_fit_and_waits_for_start(default_page):
    at = default_page
    assert problems(at) == []
    assert set(figures(at)) == {"fit"}  # curves appear once training starts
    assert "step 0 of 200" in at.get("progress")[0].proto.text
    assert any("Training on **cpu**" in i.value for i in at.info)
    assert len(at.latex) == 1 and not at.dataframe


def test_start_trains_live_to_the_end_within_its_own_script_run():
    """The server drives the redraws: one click, and the run loops until the race ends."""
    at = open_page("training", {"steps": "3000", "race_opt": ["adam", "momentum"], "every": "0.2"})
    button(at, "Start").click().run()
    assert problems(at) == [] and not at.session_state["train.running"]
    assert "step 3000 of 3000 · done" in at.get("progress")[0].proto.text
    assert set(figures(at)) == {"curves", "fit", "params"}  # the settled view, plain keys
    loss = array(trace(figures(at)["curves"], "sgd · mse")["y"])
    assert loss.size == 3001 and loss[-1] < 0.1 * loss[0]
    last = at.session_state["last_run"]
    assert last["config"].optimizer == "sgd" and last["config"].steps == 3000
    assert [r.step for r in last["records"]] == list(range(3001))
    table = history(at)
    assert table[table["run"] == "sgd · mse"]["loss"].iloc[-1] == pytest.approx(loss[-1])


def test_a_race_left_mid_way_shows_as_stopped_with_its_records():
    """What Stop leaves: AppTest cannot click into a running script run (the browser test
    presses Stop in a live run), so the race is left mid-way in session state."""
    at = open_page("training", {"steps": "5000"})
    race = at.session_state["train.race"]
    race.advance(max_rounds=40)  # after the page's own round (step 0): steps 1..40
    at.run()
    assert problems(at) == [] and not at.session_state["train.running"]
    assert at.session_state["train.race"] is race and race.step == 40
    assert at.get("progress")[0].proto.text == "step 40 of 5000 · stopped"
    assert len(history(at)) == 41
    assert button(at, "Start").proto.disabled is False
    assert button(at, "Stop training").proto.disabled is True


def test_a_race_of_two_optimizers_draws_two_runs_from_one_start():
    at = run_to_end(open_page("training", {"race_opt": ["adam"], "steps": "50"}))
    assert curve_names(figures(at)["curves"]) == ["sgd · mse", "adam · mse"]
    table = history(at)
    first = table[table["step"] == 0]
    assert len(first) == 2 and first["loss"].nunique() == 1  # same data, same initial parameters
    assert at.radio(key="fit_run").options == ["sgd · mse", "adam · mse"]


def test_a_race_of_losses_on_moons_draws_decision_boundaries():
    query = {"data": "moons", "model": "mlp", "race_loss": ["hinge"], "steps": "40"}
    at = run_to_end(open_page("training", query))
    assert curve_names(figures(at)["curves"]) == ["sgd · bce_logits", "sgd · hinge"]
    types = [t["type"] for t in figures(at)["fit"]["data"]]
    assert types.count("contour") == 2  # probability regions and the 0.5 boundary


def test_a_huge_learning_rate_ends_with_the_divergence_reason():
    at = run_to_end(open_page("training", {"lr": "10.0"}))
    warnings = [w.value for w in at.warning]
    assert any("diverged" in w for w in warnings), warnings
    assert not at.session_state["train.running"]
    assert history(at)["stop"].iloc[-1].startswith("diverged")


def test_changing_loss_and_optimizer_changes_the_setup():
    at = open_page("training")
    at.selectbox(key="loss").set_value("huber").run()
    at.selectbox(key="opt").set_value("adam").run()
    assert problems(at) == []
    assert at.slider(key="huber.delta").value == 1.0
    assert list(at.session_state["train.race"].configs) == ["adam · huber"]
    assert any(c.value.startswith("Huber") for c in at.caption)
    at.selectbox(key="data").set_value("blobs3").run()  # losses follow the data's task
    assert problems(at) == []
    assert at.selectbox(key="loss").value == "cross_entropy"
    assert "line" not in at.selectbox(key="model").options


def test_url_opens_the_matching_setup():
    query = {"data": "xor", "model": "mlp", "width": "8", "depth": "2", "act": "relu"}
    query |= {"loss": "focal", "focal.gamma": "3.0", "opt": "adam", "lr": "0.01", "steps": "70"}
    at = open_page("training", query)
    assert problems(at) == []
    (config,) = at.session_state["train.race"].configs.values()
    assert (config.dataset, config.model, config.hidden, config.activation) == (
        "xor",
        "mlp",
        (8, 8),
        "relu",
    )
    assert (config.loss, config.loss_params["gamma"], config.optimizer) == ("focal", 3.0, "adam")
    assert (config.lr, config.steps) == (0.01, 70)
    assert any(t["type"] == "contour" for t in figures(at)["fit"]["data"])


def test_bad_url_values_fall_back_to_defaults():
    at = open_page("training", {"lr": "1e99", "data": "__import__", "steps": "-4", "loss": "x"})
    assert problems(at) == []
    (config,) = at.session_state["train.race"].configs.values()
    assert (config.dataset, config.loss, config.lr, config.steps) == ("line", "mse", 0.05, 200)


def test_downloads_hold_the_history_csv_and_the_loss_figure(monkeypatch):
    saved = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def keep(self, data, mimetype, kind, filename=None):
        saved[filename] = data
        return original(self, data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    at = run_to_end(open_page("training", {"race_opt": ["momentum"], "steps": "30"}))
    table = pd.read_csv(io.BytesIO(saved["training_history.csv"]))
    assert list(table.columns) == [*HISTORY_COLUMNS, "w", "b"]
    assert len(table) == 2 * 31 and set(table["run"]) == {"sgd · mse", "momentum · mse"}
    np.testing.assert_allclose(table["loss"], history(at)["loss"], rtol=1e-12)
    assert b"plotly" in saved["training_curves.html"]
