"""The training loop: config validation, devices, build, every (data, loss) pair learns, divergence."""

import dataclasses

import numpy as np
import pytest
import torch

import explorer.training as train_module
from explorer.data import DATASETS, datasets_for, make_dataset
from explorer.losses import LOSSES, get_loss
from explorer.models import flat_params, make_model, param_names
from explorer.training import (
    OPTIMIZERS,
    StepRecord,
    TrainConfig,
    build,
    history_frame,
    run_to_end,
    select_device,
    train,
)

TOL = dict(rtol=1e-5, atol=1e-6)  # float32 training quantities against float64 closed forms
NO_GRADIENT = {"zero_one"}  # losses whose gradient is zero wherever it exists: nothing can learn
LEARNS_LR = {  # lr per optimizer for line / mse, 40 full-batch steps
    "sgd": 0.05,
    "momentum": 0.02,
    "nesterov": 0.02,
    "adam": 0.05,
    "adamw": 0.05,
    "rmsprop": 0.01,
    "adagrad": 0.3,
}
LINEAR_SETS = {"line", "blobs", "imbalanced", "blobs3", "imbalanced3"}


def _pairs():
    return [(loss, ds) for loss, spec in LOSSES.items() for ds in datasets_for(spec.task)]


def _small(dataset, loss, **kw) -> TrainConfig:
    """A quick run: 64 points, the simplest model that fits the data set, adam, 40 steps."""
    model = "line" if dataset == "line" else "logistic" if dataset in LINEAR_SETS else "mlp"
    base = dict(n=64, model=model, hidden=(8,), optimizer="adam", lr=0.05, steps=40, device="cpu")
    base.update(outlier_frac=0.1 if DATASETS[dataset].task == "regression" else 0.0)
    return TrainConfig(dataset=dataset, loss=loss, **{**base, **kw})


def test_the_catalogue_gives_pairs_for_every_loss():
    assert {loss for loss, _ in _pairs()} == set(LOSSES)
    assert ("dice", "mask") in _pairs() and ("dice", "moons") in _pairs()


@pytest.mark.parametrize("loss, dataset", _pairs())
def test_training_lowers_the_loss_for_every_suitable_pair(loss, dataset):
    records = list(train(_small(dataset, loss)))
    assert records[-1].stop is None and len(records) == 41
    if loss in NO_GRADIENT:
        assert all(r.grad_norm == 0 for r in records)
        assert records[-1].loss == records[0].loss
        np.testing.assert_array_equal(records[-1].theta, records[0].theta)
    else:
        assert records[-1].loss < records[0].loss


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_at_least_halves_the_line_loss(optimizer):
    config = TrainConfig(n=64, optimizer=optimizer, lr=LEARNS_LR[optimizer], steps=40, device="cpu")
    records = list(train(config))
    assert records[-1].loss < 0.5 * records[0].loss


def test_first_sgd_step_matches_the_closed_form():
    """Line + MSE: ∇w = 2·mean((wx + b − y)x), ∇b = 2·mean(wx + b − y); θ₁ = θ₀ − lr·∇."""
    config = TrainConfig(n=50, lr=0.1, steps=1, device="cpu")
    r0, r1 = list(train(config))
    data = make_dataset("line", n=50)
    x, y = data.x[:, 0].double().numpy(), data.y.double().numpy()
    model = make_model("line", in_dim=1, out_dim=1)
    w, b = model.w.item(), model.b.item()
    residual = w * x + b - y
    grad = np.array([2 * np.mean(residual * x), 2 * np.mean(residual)])
    np.testing.assert_allclose(r0.theta, [w, b], **TOL)
    np.testing.assert_allclose(r0.loss, np.mean(residual**2), **TOL)
    np.testing.assert_allclose(r0.grad_norm, np.linalg.norm(grad), **TOL)
    np.testing.assert_allclose(r1.theta, r0.theta - 0.1 * grad, **TOL)
    assert (r0.step, r1.step) == (0, 1) and r0.elapsed_s <= r1.elapsed_s


@pytest.mark.parametrize("optimizer", ["adam", "momentum"])
def test_records_match_a_hand_written_loop(optimizer):
    """θ, loss and ‖∇‖ of every record equal those of a plain torch loop on the same model."""
    config = _small("moons", "bce_logits", model="mlp", optimizer=optimizer, lr=0.05, steps=6)
    records = list(train(config))
    problem = build(config)
    model, loss_of = problem.model, problem.objective
    opt = train_module.make_optimizer(optimizer, model.parameters(), config.lr)
    for record in records:
        opt.zero_grad()
        loss = loss_of(model)
        loss.backward()
        grad_norm = torch.cat([p.grad.reshape(-1) for p in model.parameters()]).norm().item()
        np.testing.assert_allclose(record.theta, flat_params(model), **TOL)
        np.testing.assert_allclose([record.loss, record.grad_norm], [loss.item(), grad_norm], **TOL)
        opt.step()


def test_records_are_well_formed():
    config = _small("moons", "bce_logits", steps=5)
    records = list(train(config))
    model = build(config).model
    assert [r.step for r in records] == list(range(6))
    assert all(isinstance(r, StepRecord) and r.theta.dtype == np.float64 for r in records)
    np.testing.assert_array_equal(records[0].theta, flat_params(model))


@pytest.mark.parametrize("batch_size", [None, 16])
def test_same_seed_same_run_other_seed_other_run(batch_size):
    config = _small("moons", "hinge", batch_size=batch_size, steps=15)
    a, b = list(train(config)), list(train(config))
    c = list(train(dataclasses.replace(config, seed=1)))
    for ra, rb in zip(a, b, strict=True):
        assert (ra.loss, ra.grad_norm, ra.stop) == (rb.loss, rb.grad_norm, rb.stop)
        np.testing.assert_array_equal(ra.theta, rb.theta)
    assert not np.array_equal(a[-1].theta, c[-1].theta)


def test_mini_batches_are_seeded_and_loss_is_on_the_full_data():
    config = _small("moons", "bce_logits", batch_size=16, steps=8)
    full = list(train(dataclasses.replace(config, batch_size=None)))
    mini = list(train(config))
    np.testing.assert_array_equal(mini[0].theta, full[0].theta)
    assert mini[0].loss == pytest.approx(full[0].loss, rel=1e-6)  # full-data loss at the same θ₀
    assert mini[0].grad_norm != pytest.approx(full[0].grad_norm)  # but a mini-batch gradient
    assert not np.array_equal(mini[-1].theta, full[-1].theta)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_a_huge_learning_rate_ends_with_a_divergence_reason(optimizer):
    config = TrainConfig(optimizer=optimizer, lr=10.0, steps=500, device="cpu")
    records = list(train(config))
    assert (
        records[-1].stop.startswith("diverged:") and f"step {records[-1].step}" in records[-1].stop
    )
    assert len(records) < 501 and all(r.stop is None for r in records[:-1])


def test_a_nan_loss_ends_the_run_with_a_reason_not_an_exception(monkeypatch):
    mse = get_loss("mse")
    always_nan = lambda pred, target, **kw: mse.fn(pred, target, **kw) * float("nan")
    monkeypatch.setattr(
        train_module, "get_loss", lambda key: dataclasses.replace(mse, fn=always_nan)
    )
    records = list(train(TrainConfig(steps=10, device="cpu")))
    assert len(records) == 1
    assert records[0].stop == (
        "the loss is NaN at step 0 (before any update): the formula is undefined at the "
        "initial parameters"
    )


def test_a_formula_undefined_at_the_start_is_not_said_to_diverge():
    config = TrainConfig(loss="expr:mean(log(r))", steps=10, device="cpu")  # some r < 0
    (record,) = train(config)
    assert record.stop == (
        "the loss is NaN at step 0 (before any update): the formula is undefined at the "
        "initial parameters"
    )


@pytest.mark.parametrize(
    "loss, grad, initial, expected",
    [
        (float("inf"), 1.0, 1.0, "diverged: loss became inf at step 37"),
        (1.0, float("nan"), 1.0, "diverged: gradient became nan at step 37"),
        (2e6, 1.0, 1.0, "diverged: loss grew past 1e+06 × its initial value at step 37"),
        (
            -2e6,
            1.0,
            0.0,
            "diverged: loss fell below −1e+06 × max(|initial loss|, 1) = −1e+06 at step 37",
        ),
        (
            -8.7e6,
            1.0,
            -4.0,
            "diverged: loss fell below −1e+06 × max(|initial loss|, 1) = −4e+06 at step 37",
        ),
        (-3e6, 1.0, -4.0, None),
        (5e5, 1.0, 1.0, None),
        (-5e5, 1.0, 0.2, None),
        (0.5, 0.0, 0.0, None),
    ],
)
def test_stop_reasons(loss, grad, initial, expected):
    assert train_module._stop_reason(37, loss, grad, initial) == expected


@pytest.mark.parametrize(
    "loss, grad, expected",
    [
        (
            float("nan"),
            float("nan"),
            "the loss is NaN at step 0 (before any update): the formula is undefined at the "
            "initial parameters",
        ),
        (
            float("inf"),
            1.0,
            "the loss is inf at step 0 (before any update): the formula is infinite at the "
            "initial parameters",
        ),
        (
            float("-inf"),
            0.0,
            "the loss is -inf at step 0 (before any update): the formula is infinite at the "
            "initial parameters",
        ),
        (
            1.0,
            float("nan"),
            "the gradient is NaN at step 0 (before any update): the loss has no finite "
            "gradient at the initial parameters",
        ),
        (
            1.0,
            float("inf"),
            "the gradient is inf at step 0 (before any update): the loss has no finite "
            "gradient at the initial parameters",
        ),
        (1e9, 1.0, None),  # the first loss sets the scale: nothing grew yet
    ],
)
def test_stop_reasons_at_step_0_say_the_start_is_bad_not_that_it_diverged(loss, grad, expected):
    assert train_module._stop_reason(0, loss, grad, loss) == expected


def test_the_loop_never_prints(capsys):
    list(train(TrainConfig(steps=3, device="cpu")))
    assert capsys.readouterr() == ("", "")


def test_device_fallback_and_auto(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    device, message = select_device("cuda")
    assert device.type == "cpu" and "cuda" in message and "not available" in message
    assert select_device("auto")[0].type == "cpu" and "no CUDA" in select_device("auto")[1]
    assert select_device("cpu") == (torch.device("cpu"), "using cpu, as requested")
    records = list(train(TrainConfig(steps=2, device="cuda")))  # falls back, trains on the cpu
    assert len(records) == 3 and records[-1].stop is None


def test_auto_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Test GPU")
    assert select_device("auto") == (
        torch.device("cuda"),
        "auto picked cuda: Test GPU is available",
    )
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert select_device("auto")[0] == torch.device("mps")


@pytest.mark.parametrize(
    "field, value, allowed",
    [
        ("dataset", "spiral", "moons"),
        ("model", "cnn", "logistic"),
        ("optimizer", "lbfgs", "adagrad"),
        ("activation", "swish", "gelu"),
        ("device", "tpu", "mps"),
        ("loss", "kl_div", "bce_logits"),
    ],
)
def test_unknown_names_raise_naming_the_allowed_values(field, value, allowed):
    with pytest.raises(ValueError, match=allowed):
        TrainConfig(**{field: value}).validate()


def test_select_device_rejects_unknown_choices():
    with pytest.raises(ValueError, match="auto, cpu, cuda, mps"):
        select_device("tpu")


@pytest.mark.parametrize(
    "changes, match",
    [
        (dict(loss="hinge"), "loss 'hinge' needs binary data; 'line' is regression"),
        (
            dict(dataset="moons", model="logistic"),
            "loss 'mse' needs regression data; 'moons' is binary",
        ),
        (dict(dataset="line", loss="cross_entropy"), "needs multiclass data"),
        (dict(dataset="moons", loss="bce_logits", model="line"), "model 'line' needs 1-D inputs"),
    ],
)
def test_a_mismatched_loss_or_model_raises(changes, match):
    with pytest.raises(ValueError, match=match):
        list(train(TrainConfig(**changes)))


def test_dice_trains_on_binary_data_and_on_the_mask():
    for dataset in ("moons", "mask"):
        TrainConfig(dataset=dataset, model="mlp", loss="dice").validate()


def test_validate_clamps_every_number():
    wild = TrainConfig(
        n=10**9, noise=99, outlier_frac=2, hidden=(0, 999, 4, 4, 4), lr=1e9, steps=-3,
        batch_size=0, seed=-5, loss="huber", loss_params={"delta": 1e9, "bogus": 1},
    ).validate()  # fmt: skip
    assert (wild.n, wild.noise, wild.outlier_frac, wild.lr, wild.steps) == (5000, 5.0, 0.5, 10.0, 1)
    assert wild.hidden == (1, 256, 4, 4) and wild.batch_size == 1 and wild.seed == 0
    assert wild.loss_params == get_loss("huber").clamp({"delta": 1e9})
    assert TrainConfig(lr=0).validate().lr == 1e-6
    assert TrainConfig(lr=float("nan")).validate().lr == TrainConfig().lr
    assert TrainConfig(hidden=8).validate().hidden == (8,)


def test_build_loss_of_matches_a_hand_computation():
    config = TrainConfig(
        dataset="line", model="line", loss="weighted_mse", outlier_frac=0.2, device="cpu"
    )
    problem = build(config)
    data, model, spec, loss_of = problem.dataset, problem.model, problem.spec, problem.objective
    assert param_names(model) == ["w", "b"] and spec.key == "weighted_mse"
    pred = (model.w * data.x[:, 0] + model.b).detach()
    weighted = spec.fn(pred, data.y, weights=data.weights)
    torch.testing.assert_close(loss_of(model).detach(), weighted)
    assert not torch.allclose(weighted, spec.fn(pred, data.y))  # the weights do matter here
    index = torch.arange(5)
    torch.testing.assert_close(
        loss_of(model, index).detach(), spec.fn(pred[:5], data.y[:5], weights=data.weights[:5])
    )


def test_build_applies_the_sigmoid_link_for_dice():
    problem = build(TrainConfig(dataset="mask", model="mlp", loss="dice", device="cpu"))
    data, model, spec, loss_of = problem.dataset, problem.model, problem.spec, problem.objective
    expected = spec.fn(torch.sigmoid(model(data.x)), data.y, **spec.defaults())
    torch.testing.assert_close(loss_of(model), expected)


def test_multiclass_models_get_one_logit_a_class():
    problem = build(TrainConfig(dataset="blobs3", model="logistic", loss="cross_entropy"))
    data, model, loss_of = problem.dataset, problem.model, problem.objective
    assert model(data.x).shape == (len(data), 3)
    expected = torch.nn.functional.cross_entropy(model(data.x), data.y)
    torch.testing.assert_close(loss_of(model), expected)


def test_history_frame_and_run_to_end():
    frame = run_to_end(TrainConfig(steps=4, device="cpu"))
    assert list(frame.columns) == ["step", "loss", "grad_norm", "elapsed_s", "stop", "w", "b"]
    assert frame["step"].tolist() == [0, 1, 2, 3, 4]
    records = list(train(TrainConfig(steps=2, device="cpu")))
    default = history_frame(records)
    assert list(default.columns)[-2:] == ["theta[0]", "theta[1]"]
    np.testing.assert_array_equal(
        default[["theta[0]", "theta[1]"]].to_numpy(), np.stack([r.theta for r in records])
    )
    assert list(history_frame([]).columns) == ["step", "loss", "grad_norm", "elapsed_s", "stop"]
