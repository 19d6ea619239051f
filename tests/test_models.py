"""Tiny models: exact line output, parameter naming, seeded init, step / straight-through gradients."""

import numpy as np
import pytest
import torch
from torch.func import functional_call, grad, vmap

from explorer.models import (
    ACTIVATIONS,
    MODELS,
    StepFunction,
    clamp_hidden,
    flat_params,
    load_flat_params,
    make_model,
    models_for,
    param_names,
    param_slices,
    theta_labels,
)

TOL = dict(rtol=1e-12, atol=1e-12)  # float64 comparisons against closed forms


def test_line_output_is_exactly_w_x_plus_b():
    model = make_model("line", in_dim=1, out_dim=1, seed=4)
    x = torch.linspace(-2, 2, 9).unsqueeze(1)
    assert param_names(model) == ["w", "b"]
    assert model.w.shape == () and model.b.shape == ()
    assert torch.equal(model(x), model.w * x[:, 0] + model.b)
    assert sum(p.numel() for p in model.parameters()) == 2


@pytest.mark.parametrize("in_dim, out_dim", [(2, 1), (1, 3)])
def test_line_rejects_other_shapes(in_dim, out_dim):
    with pytest.raises(ValueError, match="1-D"):
        make_model("line", in_dim=in_dim, out_dim=out_dim)


@pytest.mark.parametrize(
    "key, in_dim, out_dim",
    [("line", 1, 1), ("logistic", 2, 1), ("logistic", 2, 3), ("mlp", 2, 1), ("mlp", 1, 3)],
)
def test_output_shapes(key, in_dim, out_dim):
    model = make_model(key, in_dim=in_dim, out_dim=out_dim)
    out = model(torch.randn(7, in_dim))
    assert out.shape == ((7,) if out_dim == 1 else (7, out_dim))


@pytest.mark.parametrize("key", list(MODELS))
def test_same_seed_same_parameters(key):
    in_dim = 1 if key == "line" else 2
    a, b = (make_model(key, in_dim=in_dim, out_dim=1, seed=3) for _ in range(2))
    c = make_model(key, in_dim=in_dim, out_dim=1, seed=4)
    assert np.array_equal(flat_params(a), flat_params(b))
    assert not np.array_equal(flat_params(a), flat_params(c))


def test_param_names_slices_and_labels_agree_with_theta():
    model = make_model("mlp", in_dim=2, out_dim=1, hidden=(3, 4))
    names = param_names(model)
    assert names == [n for n, _ in model.named_parameters()]
    theta = flat_params(model)
    assert theta.dtype == np.float64 and theta.shape == (2 * 3 + 3 + 3 * 4 + 4 + 4 + 1,)
    assert len(theta_labels(model)) == theta.size
    for name, part in param_slices(model).items():
        p = dict(model.named_parameters())[name]
        np.testing.assert_array_equal(theta[part], p.detach().double().reshape(-1).numpy())


def test_load_flat_params_round_trip():
    model = make_model("logistic", in_dim=2, out_dim=3)
    theta = np.arange(9, dtype=np.float64)
    load_flat_params(model, theta)
    np.testing.assert_array_equal(flat_params(model), theta)
    assert model.net.weight[1, 0].item() == 2 and model.net.bias[2].item() == 8


def test_logistic_is_one_linear_layer():
    model = make_model("logistic", in_dim=2, out_dim=1, seed=1).double()
    x = torch.randn(5, 2, dtype=torch.float64)
    w, b = model.net.weight, model.net.bias
    torch.testing.assert_close(model(x), (x @ w.T + b)[:, 0], **TOL)


def test_hidden_widths_and_depth_are_clamped():
    assert clamp_hidden((0, 1000, 5, 5, 5, 5)) == (1, 256, 5, 5)
    model = make_model("mlp", in_dim=2, out_dim=1, hidden=(0, 1000, 5, 5, 5, 5))
    widths = [m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert widths == [1, 256, 5, 5, 1]


def test_models_for_input_dimension():
    assert models_for(1) == ["line", "logistic", "mlp"]
    assert models_for(2) == ["logistic", "mlp"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(key="cnn"), "line, logistic, mlp"),
        (dict(key="mlp", activation="swish"), "tanh"),
        (dict(key="mlp", straight_through="maybe"), "clipped"),
    ],
)
def test_unknown_options_raise_naming_allowed_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_model(in_dim=2, out_dim=1, **kwargs)


def _tiny_step_mlp(straight_through):
    """2-2-1 step MLP in float64 with hand-set weights, and its input x."""
    model = make_model(
        "mlp",
        in_dim=2,
        out_dim=1,
        hidden=(2,),
        activation="step",
        straight_through=straight_through,
    ).double()
    load_flat_params(model, [1.0, -1.0, 0.5, 2.0, 0.1, -0.3, 1.5, -2.0, 0.25])
    return model, torch.tensor([[0.4, 0.2], [-0.3, 0.1], [2.0, 0.5]], dtype=torch.float64)


def test_step_forward_is_a_hard_threshold_and_its_gradient_is_exactly_zero():
    model, x = _tiny_step_mlp(False)
    h = x @ model.net[0].weight.T + model.net[0].bias
    torch.testing.assert_close(model.net[1](h), (h > 0).double(), **TOL)
    at_zero = StepFunction.apply(torch.tensor([-1.0, 0.0, 1.0]), "off")
    assert at_zero.tolist() == [0.0, 0.0, 1.0]  # H(0) = 0, as in (x > 0).float()
    model(x).sum().backward()
    assert torch.equal(model.net[0].weight.grad, torch.zeros(2, 2, dtype=torch.float64))
    assert torch.equal(model.net[0].bias.grad, torch.zeros(2, dtype=torch.float64))
    assert model.net[2].weight.grad.abs().sum() > 0  # the last layer still learns


@pytest.mark.parametrize("mode", ["identity", "clipped", True])
def test_straight_through_gradient_matches_closed_form(mode):
    """d/dW1 Σ v·step(W1 x + c) with backward g or g·[|h| ≤ 1]: Σ_n v_j·gate(h_nj)·x_nk."""
    model, x = _tiny_step_mlp(mode)
    w1, c, v = model.net[0].weight, model.net[0].bias, model.net[2].weight[0]
    h = (x @ w1.T + c).detach()
    gate = torch.ones_like(h) if mode in ("identity", True) else (h.abs() <= 1).double()
    model(x).sum().backward()
    expected_w1 = (gate * v.detach()).T @ x
    torch.testing.assert_close(w1.grad, expected_w1, **TOL)
    torch.testing.assert_close(c.grad, (gate * v.detach()).sum(0), **TOL)
    assert w1.grad.abs().sum() > 0


def test_step_function_works_under_vmap_and_grad():
    x = torch.tensor([[-0.5, 0.5], [2.0, -2.0]], dtype=torch.float64)
    for mode, expected in [("off", 0 * x), ("identity", 1 + 0 * x), ("clipped", (x.abs() <= 1))]:
        g = vmap(grad(lambda row, m=mode: StepFunction.apply(row, m).sum()))(x)
        torch.testing.assert_close(g, expected.double(), **TOL)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_vmap_over_parameter_sets_matches_a_loop(activation):
    model = make_model("mlp", in_dim=2, out_dim=1, hidden=(4,), activation=activation)
    x = torch.randn(6, 2, generator=torch.Generator().manual_seed(0))
    params = {k: v.detach() for k, v in model.named_parameters()}
    batch = {k: torch.stack([v, 2 * v]) for k, v in params.items()}
    out = vmap(lambda p: functional_call(model, p, (x,)))(batch)
    for i in range(2):
        one = functional_call(model, {k: v[i] for k, v in batch.items()}, (x,))
        torch.testing.assert_close(out[i], one)
