"""explorer.race: lock-step runs equal solo runs, share their start, stop, thin and tabulate."""

import ast
import inspect
import threading

import numpy as np
import pytest

import explorer.race as race_module
from explorer.data import DATASETS
from explorer.losses import LOSSES
from explorer.race import WORK, Race, live_ticks, race_configs, run_name
from explorer.training import TrainConfig, check_fit, losses_for_data, train

BASE = TrainConfig(dataset="line", loss="mse", optimizer="sgd", lr=0.05, steps=30, device="cpu")


def test_losses_for_data_are_exactly_those_check_fit_accepts():
    for dataset in DATASETS:
        for key, spec in LOSSES.items():
            fits = key in losses_for_data(dataset)
            try:
                check_fit(spec, dataset, "mlp")
                assert fits, (key, dataset)
            except ValueError:
                assert not fits, (key, dataset)
    with pytest.raises(ValueError, match="allowed"):
        losses_for_data("nope")


def test_race_configs_name_runs_and_skip_duplicates():
    configs = race_configs(BASE, ["sgd", "adam", "adam"], ["mse", "huber"])
    assert list(configs) == ["sgd · mse", "adam · mse", "sgd · huber"]
    assert configs["sgd · huber"].loss_params == LOSSES["huber"].defaults()
    assert all(c.seed == BASE.seed for c in configs.values())
    assert run_name(configs["adam · mse"]) == "adam · mse"
    with pytest.raises(ValueError, match="needs binary data"):
        race_configs(BASE, losses=["hinge"])


def test_lock_step_runs_equal_solo_runs_from_one_start():
    configs = race_configs(BASE, ["adam", "momentum"], ["huber"])
    race = Race(configs)
    while race.advance(max_rounds=7):
        pass
    starts = [run.records[0].theta for run in race.runs.values()]
    assert all(np.array_equal(starts[0], t) for t in starts)  # same seed, same init
    for name, cfg in configs.items():
        solo = [r.loss for r in train(cfg)]
        assert [r.loss for r in race.runs[name].records] == solo, name


def test_advance_counts_rounds_and_progress_reaches_one():
    race = Race(race_configs(BASE, ["adam"]))
    assert race.advance(max_rounds=5)
    assert race.step == 4 and all(len(r.rows) == 5 for r in race.runs.values())
    assert race.progress == pytest.approx(4 / 30)
    assert race.advance(budget_s=0.0)  # a spent budget still takes one round
    assert race.step == 5
    assert not race.advance() and race.done and race.progress == 1.0


def test_budget_is_spent_on_the_given_clock_not_the_wall():
    """A server busy with other sessions must still buy the same steps per redraw."""
    ticks = iter(range(1000))
    race = Race(race_configs(BASE, ["adam"]))
    race.advance(budget_s=3.0, clock=lambda: float(next(ticks)))  # read once, then per round
    assert race.step == 2  # rounds end at clock 1, 2, 3: three rounds, steps 0..2


def test_wall_cap_stops_a_budget_the_clock_never_sees_spent():
    race = Race(race_configs(BASE, ["adam"]))
    race.advance(budget_s=1e-4, clock=lambda: 0.0, wall_cap=1.0)  # stops after 0.1 ms of wall
    assert 0 <= race.step < 30 and not race.done


def test_advances_from_two_threads_take_turns_and_match_one_thread():
    """An old script run finishing its tick beside a new one: no "generator already executing"."""
    configs = race_configs(BASE, ["adam"])
    shared, alone, errors = Race(configs), Race(configs), []

    def tick():
        try:
            while shared.advance(max_rounds=3):
                pass
        except Exception as err:  # noqa: BLE001 - any error fails the test below
            errors.append(err)

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    alone.advance()
    assert errors == [] and shared.done
    for name in configs:
        assert [r.loss for r in shared.runs[name].records] == [
            r.loss for r in alone.runs[name].records
        ]


def test_live_ticks_train_then_sleep_the_rest_of_each_interval_until_done():
    race, naps = Race(race_configs(BASE, ["adam"])), []
    ticks = list(live_ticks(race, 0.2, sleep=naps.append))
    assert race.done and ticks == list(range(len(ticks)))
    assert naps == [pytest.approx((1 - WORK) * 0.2)] * (len(ticks) - 1)  # none after the last


def test_live_ticks_end_after_a_sleep_once_a_newer_run_took_over():
    race, current = Race(race_configs(BASE, ["adam"])), iter([True, False])
    ticks = list(live_ticks(race, 1e-6, lambda: next(current), sleep=lambda s: None))
    assert ticks == [0, 1] and not race.done


def test_status_progress_text_and_handover_follow_the_race():
    race = Race(race_configs(BASE, ["adam"]))
    assert race.progress_text(False) == "step 0 of 30 · ready"
    race.advance(max_rounds=5)
    assert race.status(True) == "running" and race.progress_text(False) == "step 4 of 30 · stopped"
    race.advance()
    assert race.progress_text(False) == "step 30 of 30 · done"
    handed = race.handover()
    main = next(iter(race.runs.values()))
    assert handed["config"] == main.config and [r.step for r in handed["records"]] == list(
        range(31)
    )


def test_a_diverging_run_stops_with_its_reason_while_others_finish():
    configs = race_configs(BASE, ["adagrad"])
    configs["sgd · mse"] = TrainConfig(**{**vars(BASE), "lr": 10.0})
    race = Race(configs)
    race.advance()
    blown = race.runs["sgd · mse"]
    assert blown.stop.startswith("diverged") and blown.records[-1].step < BASE.steps
    assert race.runs["adagrad · mse"].stop is None
    assert race.runs["adagrad · mse"].records[-1].step == BASE.steps
    assert race.progress == 1.0


def test_history_table_has_every_step_and_labelled_theta():
    race = Race(race_configs(BASE, ["adam"]))
    race.advance()
    table = race.history_table()
    assert list(table.columns) == [
        "run",
        "step",
        "loss",
        "grad_norm",
        "elapsed_s",
        "stop",
        "w",
        "b",
    ]
    assert len(table) == 2 * (BASE.steps + 1)
    assert set(table["run"]) == {"sgd · mse", "adam · mse"}


def test_many_parameters_thin_the_records_but_keep_every_step_and_the_last(monkeypatch):
    monkeypatch.setattr(race_module, "THETA_BUDGET", 20)  # 2 parameters × 31 steps > 20
    race = Race({"a": BASE})
    run = race.runs["a"]
    assert run.stride == 4  # ceil(62 / 20)
    race.advance()
    assert [r.step for r in run.records] == [0, 4, 8, 12, 16, 20, 24, 28, 30]
    history = run.history()
    assert list(history.columns) == ["step", "loss", "grad_norm", "elapsed_s", "stop"]
    assert len(history) == BASE.steps + 1
    steps, theta = run.path()
    assert steps.tolist() == [r.step for r in run.records] and theta.shape == (9, 2)


def test_the_engine_imports_no_view_model():
    """Pictures of a run come from explorer.views.fit.race_fit; the race itself draws nothing."""
    tree = ast.parse(inspect.getsource(race_module))
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert names and not [m for m in names if m.startswith(("explorer.views", "streamlit"))]
    assert not hasattr(Race, "fit")
