"""The anatomy of a step against torch itself: a hand-written float64 loop with torch.optim,
whose optimizer.state and parameters the test reads on its own."""

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch

from explorer import anatomy as an
from explorer.objective import objective
from explorer.training import TrainConfig, build, train

EXACT = 1e-12  # float64: the parts add up to what torch applied
F32 = 2e-6  # float32 runs: each step rounds θ to float32 (relative to |θ|)
STEPS = 6

# (TrainConfig optimizer, the same optimizer written by hand)
PRESETS = {
    "sgd": lambda p, lr: torch.optim.SGD(p, lr=lr),
    "momentum": lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9),
    "nesterov": lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True),
    "adam": lambda p, lr: torch.optim.Adam(p, lr=lr),
    "adamw": lambda p, lr: torch.optim.AdamW(p, lr=lr, weight_decay=0.01),
    "rmsprop": lambda p, lr: torch.optim.RMSprop(p, lr=lr),
    "adagrad": lambda p, lr: torch.optim.Adagrad(p, lr=lr),
}
# hyper-parameters beyond the presets, for the hand-written loop
SETTINGS = [
    ("sgd-wd", lambda p: torch.optim.SGD(p, lr=0.05, weight_decay=0.1)),
    ("sgd-damp", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, dampening=0.3)),
    (
        "nesterov-wd",
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.7, nesterov=True, weight_decay=0.05),
    ),
    ("adam-b05", lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.5, 0.9))),
    ("adam-l2", lambda p: torch.optim.Adam(p, lr=0.05, weight_decay=0.1)),
    ("adam-ams", lambda p: torch.optim.Adam(p, lr=0.05, amsgrad=True)),
    ("adamw-wd", lambda p: torch.optim.AdamW(p, lr=0.05, weight_decay=0.3, betas=(0.5, 0.99))),
    ("rmsprop-mom", lambda p: torch.optim.RMSprop(p, lr=0.01, momentum=0.9, weight_decay=0.1)),
    ("rmsprop-centered", lambda p: torch.optim.RMSprop(p, lr=0.01, centered=True, alpha=0.9)),
    ("adagrad-decay", lambda p: torch.optim.Adagrad(p, lr=0.1, lr_decay=0.2, weight_decay=0.05)),
]


def problem64(config: TrainConfig):
    """The config's problem in float64 (data, model and objective)."""
    problem = build(config)
    ds = problem.dataset
    ds = replace(ds, x=ds.x.double(), y=ds.y.double(), weights=ds.weights.double())
    return replace(
        problem,
        dataset=ds,
        model=problem.model.double(),
        objective=objective(ds, problem.spec, problem.config.loss_params),
    )


def hand_loop(model, loss_of, make, steps):
    """(θ before, ∇L, states before, states after, θ after) of each step, read by the test
    (states: one dict per parameter, copies of opt.state[p])."""
    opt = make(list(model.parameters()))
    params = list(model.parameters())

    def states():
        return [
            {k: v.clone() if torch.is_tensor(v) else v for k, v in opt.state[p].items()}
            for p in params
        ]

    out = []
    for _ in range(steps):
        opt.zero_grad()
        loss_of(model).backward()
        theta = torch.cat([p.detach().reshape(-1).clone() for p in params])
        grad = torch.cat([p.grad.reshape(-1).clone() for p in params])
        before = states()
        opt.step()
        after = torch.cat([p.detach().reshape(-1).clone() for p in params])
        out.append((theta, grad, before, states(), after))
    return opt, out


def flat_key(states, key):
    return torch.cat([s[key].reshape(-1) for s in states]).numpy()


@pytest.mark.parametrize("name", list(PRESETS))
def test_replay_equals_a_hand_loop_in_float64(name):
    cfg = TrainConfig(optimizer=name, steps=STEPS, lr=0.05).validate()
    found = an.replay(problem64(cfg), range(1, STEPS + 1))
    assert sorted(found) == list(range(1, STEPS + 1))
    ref = problem64(cfg)  # a second, untouched copy of the same problem
    _, rows = hand_loop(ref.model, ref.objective, lambda p: PRESETS[name](p, cfg.lr), STEPS)
    for k, (theta, grad, _, states, after) in enumerate(rows, start=1):
        a = found[k]
        np.testing.assert_array_equal(a.theta_before, theta.numpy())
        np.testing.assert_array_equal(a.gradient, grad.numpy())
        np.testing.assert_array_equal(a.theta_after, after.numpy())
        for key in ("momentum_buffer", "exp_avg", "exp_avg_sq", "square_avg", "sum"):
            if states[0].get(key) is not None:
                np.testing.assert_array_equal(a.state_after[key], flat_key(states, key))
        np.testing.assert_allclose(a.shares_sum, (after - theta).numpy(), rtol=0, atol=EXACT)
        np.testing.assert_array_equal(a.part("update").values, (after - theta).numpy())


@pytest.mark.parametrize("name,make", SETTINGS, ids=[s[0] for s in SETTINGS])
def test_parts_add_up_and_equal_the_state(name, make):
    cfg = TrainConfig(steps=STEPS).validate()
    problem = problem64(cfg)
    model, loss_of = problem.model, problem.objective
    twin = copy.deepcopy(model)
    opt = make(list(model.parameters()))
    ref_opt, rows = hand_loop(twin, loss_of, make, STEPS)
    for k, (theta, grad, befores, states, after) in enumerate(rows, start=1):
        state = states[0]
        opt.zero_grad()
        loss_of(model).backward()
        a = an.take_step(opt, model, k)
        delta = (after - theta).numpy()
        np.testing.assert_array_equal(a.delta, delta)  # the same update torch applied
        np.testing.assert_allclose(a.shares_sum, delta, rtol=0, atol=EXACT)
        np.testing.assert_array_equal(a.gradient, grad.numpy())
        group = ref_opt.param_groups[0]
        lr, wd = group["lr"], group["weight_decay"]
        if "exp_avg" in state:  # Adam, AdamW
            np.testing.assert_array_equal(a.part("momentum").values, flat_key(states, "exp_avg"))
            key = "max_exp_avg_sq" if group["amsgrad"] else "exp_avg_sq"
            np.testing.assert_array_equal(a.part("second_moment").values, flat_key(states, key))
            b1, b2 = group["betas"]
            t = int(state["step"])
            assert t == k
            np.testing.assert_allclose(a.part("bias").values, [1 - b1**t, 1 - b2**t], rtol=1e-15)
            m_hat = flat_key(states, "exp_avg") / (1 - b1**t)
            v_hat = flat_key(states, key) / (1 - b2**t)
            adam_move = -lr * m_hat / (np.sqrt(v_hat) + group["eps"])
            rate = a.part("step_size").values
            np.testing.assert_allclose(-rate * flat_key(states, "exp_avg"), adam_move, rtol=1e-12)
        if "momentum_buffer" in state and state["momentum_buffer"] is not None:
            buf = flat_key(states, "momentum_buffer")
            np.testing.assert_array_equal(a.part("momentum").values, buf)
            if not group.get("nesterov") and isinstance(opt, torch.optim.SGD):
                np.testing.assert_allclose(-lr * buf, delta, rtol=0, atol=EXACT)
            if k > 1 and isinstance(opt, torch.optim.SGD) and not group["nesterov"]:
                carried = -lr * group["momentum"] * flat_key(befores, "momentum_buffer")
                np.testing.assert_allclose(a.part("momentum").share, carried, rtol=1e-15)
        if "square_avg" in state:
            sq = flat_key(states, "square_avg")
            if group["centered"]:
                sq = sq - flat_key(states, "grad_avg") ** 2
            np.testing.assert_array_equal(a.part("second_moment").values, sq)
        if "sum" in state:
            np.testing.assert_array_equal(a.part("second_moment").values, flat_key(states, "sum"))
        decay = a.part("weight_decay")
        assert (decay is None) == (wd == 0)
        if isinstance(ref_opt, torch.optim.AdamW):
            np.testing.assert_allclose(decay.values, -lr * wd * theta.numpy(), rtol=1e-15)
        for part in a.parts:
            assert part.key in an.PARTS


def test_adam_beta1_half_bias_corrections_and_sentences():
    problem = problem64(TrainConfig(steps=4).validate())
    model, loss_of = problem.model, problem.objective
    opt = torch.optim.Adam(model.parameters(), lr=0.05, betas=(0.5, 0.999))
    for k in range(1, 4):
        opt.zero_grad()
        loss_of(model).backward()
        grad = torch.cat([p.grad.reshape(-1) for p in model.parameters()]).numpy().copy()
        a = an.take_step(opt, model, k)
    bias = a.part("bias")
    assert bias.values.tolist() == pytest.approx([1 - 0.5**3, 1 - 0.999**3], rel=1e-15)
    assert "1 − β1^t = 0.875" in bias.sentence and "t = 3" in bias.sentence
    first = a.part("momentum")
    assert "β1 = 0.5" in first.sentence
    for x in first.values:
        assert an.number(x) in first.sentence
    g = a.part("gradient")
    for x in grad:
        assert an.number(x) in g.sentence
    for x in a.delta:
        assert an.number(x) in a.part("update").sentence
    for x in a.part("step_size").values:
        assert an.number(x) in a.part("step_size").sentence


def test_a_float32_run_is_replayed_exactly():
    cfg = TrainConfig(optimizer="momentum", steps=40, batch_size=16)
    records = list(train(cfg))
    found = an.run_anatomy(cfg, [1, 17, 40], records=records)
    for k, a in found.items():
        np.testing.assert_array_equal(a.theta_before, records[k - 1].theta)
        np.testing.assert_array_equal(a.theta_after, records[k].theta)
        scale = np.abs(a.theta_before).max()
        np.testing.assert_allclose(a.shares_sum, a.delta, rtol=0, atol=F32 * scale)


def test_replay_from_a_start_point_and_a_wrong_run_is_refused():
    cfg = TrainConfig(optimizer="adam", steps=10)
    problem = build(cfg)
    start = np.array([1.5, -0.75])
    torch.nn.utils.vector_to_parameters(
        torch.tensor(start, dtype=torch.float32), list(problem.model.parameters())
    )
    records = list(train(problem))
    found = an.run_anatomy(cfg, [1, 10], theta0=start, records=records)
    np.testing.assert_array_equal(found[1].theta_before, start)
    np.testing.assert_array_equal(found[10].theta_after, records[10].theta)
    with pytest.raises(ValueError, match="not the run"):
        an.run_anatomy(cfg, [5], records=records)  # the run started elsewhere


def test_a_diverged_run_has_no_steps_after_its_stop():
    cfg = TrainConfig(optimizer="sgd", lr=10.0, steps=200)
    records = list(train(cfg))
    last = records[-1].step
    assert records[-1].stop and last < 200
    found = an.run_anatomy(cfg, [1, last, last + 1])
    assert sorted(found) == [1, last]


def test_mlp_sentences_name_norms_and_the_largest_entry():
    cfg = TrainConfig(
        dataset="moons", model="mlp", loss="bce_logits", hidden=(8,), optimizer="adam", steps=3
    )
    a = an.run_anatomy(cfg, [2])[2]
    size = len(a.names)
    assert size > an.NAMED and a.gradient.shape == (size,)
    g = a.part("gradient")
    i = int(np.argmax(np.abs(g.values)))
    assert f"largest {a.names[i]} = {an.number(g.values[i])}" in g.sentence
    assert an.number(float(np.linalg.norm(g.values))) in g.sentence


@pytest.mark.parametrize("bad", [0, 7, 2.5, float("nan"), "3", True, None])
def test_bad_steps_are_refused(bad):
    with pytest.raises(ValueError, match="step"):
        an.check_step(bad, 6)


def test_replay_is_bounded_by_a_budget():
    from explorer import budget as budgets

    cfg = TrainConfig(steps=5000)
    with budgets.Budget(1e-4) as b, pytest.raises(budgets.Cut):
        an.run_anatomy(cfg, [5000])
    assert b.cut == "budget"


def test_training_page_explains_a_chosen_step_with_the_optimizers_own_numbers():
    from app_pages.widgets.common import md_text
    from tests.apptest import open_page, problems

    query = {"opt": "adam", "opt_beta1": "0.5", "steps": "30", "anat_step": "2"}  # a shared link
    at = open_page("training", query)
    next(b for b in at.button if b.label == "Run to the end").click().run()
    assert problems(at) == []
    box = next(n for n in at.number_input if n.key == "anat_step")
    assert box.value == 2 and any("Step 2 \\(Adam" in c.value for c in at.caption)
    box.set_value(3).run()
    assert problems(at) == []
    assert any("Step 3 \\(Adam" in c.value for c in at.caption)
    text = "\n".join(m.value for m in at.markdown)
    # the reference: the same problem stepped three times by a hand-written torch.optim.Adam
    problem = build(TrainConfig(optimizer="adam", steps=30))
    opt = torch.optim.Adam(problem.model.parameters(), lr=0.05, betas=(0.5, 0.999))
    for _ in range(3):
        opt.zero_grad()
        problem.objective(problem.model).backward()
        grad = torch.cat([p.grad.reshape(-1).clone() for p in problem.model.parameters()])
        opt.step()
    params = list(problem.model.parameters())
    m = torch.cat([opt.state[p]["exp_avg"].reshape(-1) for p in params]).double().numpy()
    v = torch.cat([opt.state[p]["exp_avg_sq"].reshape(-1) for p in params]).double().numpy()
    for x in [*grad.double().numpy(), *m, *v]:
        assert md_text(an.number(x)) in text, x
    assert md_text("At step t = 3 the bias corrections are 1 − β1^t = 0.875") in text  # 1 − 0.5³
    assert md_text("decays by ×β1 = 0.5 and takes 0.5·g") in text
    table = next(d.value for d in at.dataframe if "part" in d.value.columns)
    row = table[table["part"] == "First moment m"].iloc[0]
    np.testing.assert_allclose([row["w"], row["b"]], m, rtol=1e-7)
    box.set_value(31).run()  # beyond the run: clamped by the widget, never an error
    assert problems(at) == []


SCHEDULED = [
    (
        "adam",
        {"betas": (0.5, 0.9), "weight_decay": 0.1},
        lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.5, 0.9), weight_decay=0.1),
    ),
    (
        "momentum",
        {"dampening": 0.2, "weight_decay": 0.05},
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, dampening=0.2, weight_decay=0.05),
    ),
    (
        "rmsprop",
        {"momentum": 0.5, "centered": True},
        lambda p: torch.optim.RMSprop(p, lr=0.05, momentum=0.5, centered=True),
    ),
]


@pytest.mark.parametrize("name,params,make", SCHEDULED, ids=[s[0] for s in SCHEDULED])
def test_a_runs_own_hyper_parameters_and_schedule_are_read_from_the_optimizer(name, params, make):
    cfg = TrainConfig(
        optimizer=name, optimizer_params=params, schedule="cosine", steps=8
    ).validate()
    found = an.replay(problem64(cfg), range(1, 9))
    ref = problem64(cfg)
    opt = make(list(ref.model.parameters()))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=8)
    for k in range(1, 9):
        opt.zero_grad()
        ref.objective(ref.model).backward()
        lr = opt.param_groups[0]["lr"]
        theta = torch.cat([p.detach().reshape(-1).clone() for p in ref.model.parameters()])
        opt.step()
        sched.step()
        after = torch.cat([p.detach().reshape(-1).clone() for p in ref.model.parameters()])
        a = found[k]
        assert a.hyper["lr"] == pytest.approx(lr, rel=1e-15)
        np.testing.assert_array_equal(a.delta, (after - theta).numpy())
        np.testing.assert_allclose(a.shares_sum, a.delta, rtol=0, atol=EXACT)
        assert a.part("weight_decay") is None or params.get("weight_decay")
