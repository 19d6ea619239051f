"""The seeds' pitfalls reproduce as written, and the catalogue's versions avoid them."""

import pytest
import torch
import torch.nn.functional as F

from explorer.functions import MatrixPowerSeed
from explorer.losses import LOSSES

DTYPE = torch.float64
CLOSED_FORM_TOL = 1e-12  # autograd vs an exact closed form in float64
N = 10


def leaf(values):
    return torch.tensor(values, dtype=DTYPE, requires_grad=True)


def derivative(key, r, **params):
    """dL/dr of a regression loss at residuals r (pred = r, target = 0), one value per r."""
    r = leaf(r)
    LOSSES[key].fn(r, torch.zeros_like(r), reduction="sum", **params).backward()
    return r.grad


def test_seed_weighted_mse_broadcasts_n_by_1_residuals_into_n_by_n():
    g = torch.Generator().manual_seed(0)
    weights = 0.5 + torch.rand(N, generator=g, dtype=DTYPE)
    y_pred, y_true = torch.randn(2, N, 1, generator=g, dtype=DTYPE)  # as nn.Linear(1, 1) gives
    seed_terms = weights * (y_pred - y_true) ** 2  # seed 003 WeightedMSE.forward
    assert seed_terms.shape == (N, N)
    right = LOSSES["weighted_mse"].fn(y_pred.squeeze(1), y_true.squeeze(1), weights=weights)
    torch.testing.assert_close(right, (weights * (y_pred - y_true).squeeze(1) ** 2).mean())
    assert not torch.isclose(seed_terms.mean(), right)
    with pytest.raises(ValueError, match=r"\(10, 10\)"):
        LOSSES["weighted_mse"].fn(y_pred, y_true, weights=weights)
    with pytest.raises(ValueError, match=r"\(10, 10\)"):
        LOSSES["mse"].fn(y_pred, y_true.squeeze(1))


def test_seed_per_sample_weights_passed_as_class_weight_raise():
    class_weights = torch.tensor([0.1, 0.9, 0.5])
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(N, 3, generator=g)
    targets = torch.randint(0, 3, (N,), generator=g)
    per_sample = class_weights[targets]  # seed 002 WeightedCrossEntropyLoss
    with pytest.raises(RuntimeError):
        F.cross_entropy(logits, targets, weight=per_sample)
    params = dict(zip(("w0", "w1", "w2"), class_weights.tolist()))
    ours = LOSSES["weighted_ce"].fn(logits, targets, **params)
    torch.testing.assert_close(ours, F.cross_entropy(logits, targets, weight=class_weights))


def test_seed_proxy_loss_is_a_vector_and_backward_raises():
    g = torch.Generator().manual_seed(0)
    inputs = torch.randn(N, generator=g, requires_grad=True)
    targets = torch.randn(N, generator=g)
    seed_loss = F.l1_loss(inputs, targets) + 0.5 * torch.abs(inputs - torch.round(inputs))
    assert seed_loss.shape == (N,)
    with pytest.raises(
        RuntimeError, match="grad can be implicitly created only for scalar outputs"
    ):
        seed_loss.backward()
    fixed = LOSSES["proxy_round"].fn(inputs, targets)
    assert fixed.shape == ()
    fixed.backward()
    expected = F.l1_loss(inputs, targets) + 0.5 * (inputs - torch.round(inputs)).abs().mean()
    torch.testing.assert_close(fixed, expected)
    assert inputs.grad.abs().sum() > 0


@pytest.mark.parametrize("k, t", [(20.0, 1.0), (5.0, 1.0), (40.0, 0.5), (10.0, 2.0)])
def test_soft_threshold_gradient_at_the_threshold_has_its_closed_form(k, t):
    grad = derivative("soft_threshold", [t, -t], k=k, t=t)
    closed = (t - k * t**2 / 4) * torch.tensor([1.0, -1.0], dtype=DTYPE)  # sign(r)
    torch.testing.assert_close(grad, closed, rtol=0, atol=CLOSED_FORM_TOL)


def test_soft_threshold_pushes_residuals_near_the_threshold_outwards():
    r = [0.95, 1.0, 1.05, -0.95, -1.0, -1.05]
    grad = derivative("soft_threshold", r, k=20.0, t=1.0)
    assert torch.equal(torch.sign(grad), -torch.sign(torch.tensor(r, dtype=DTYPE)))
    torch.testing.assert_close(grad[1], torch.tensor(-4.0, dtype=DTYPE))  # 1 − 20/4


def test_soft_threshold_gradient_near_the_threshold_grows_with_k():
    near = [0.98, 1.0, 1.02]
    size = [derivative("soft_threshold", near, k=k).abs().min() for k in (5.0, 10.0, 20.0, 40.0)]
    assert all(s > 0 for s in size) and all(a < b for a, b in zip(size, size[1:]))


def test_hard_threshold_mask_contributes_no_gradient():
    r = leaf([-1.5, -0.7, -0.2, 0.3, 0.9, 1.2, 2.0])
    mask = (r.abs() < 1.0).to(DTYPE)
    assert mask.grad_fn is None and not mask.requires_grad
    expected = torch.where(r.abs() < 1.0, 2 * r, 0.0).detach()  # d(r²)/dr inside, 0 outside
    torch.testing.assert_close(derivative("hard_threshold", r.tolist(), t=1.0), expected)
    soft_mask = torch.sigmoid(20.0 * (1.0 - r.abs()))
    (d_soft_mask,) = torch.autograd.grad(soft_mask.sum(), r)
    assert (d_soft_mask.abs() > 0).all()


def test_zero_one_has_zero_gradient_everywhere_sigmoid_margin_does_not():
    margins = [-2.0, -0.5, -1e-3, 0.0, 1e-3, 0.5, 2.0]
    m = leaf(margins)
    value = LOSSES["zero_one"].fn(m, torch.ones_like(m), reduction="none")
    assert value.tolist() == [1.0, 1.0, 1.0, 0.5, 0.0, 0.0, 0.0] and value.requires_grad
    value.sum().backward()
    assert torch.equal(m.grad, torch.zeros_like(m))
    m = leaf(margins)
    LOSSES["sigmoid_margin"].fn(m, torch.ones_like(m), reduction="sum", k=5.0).backward()
    assert (m.grad < 0).all()


def test_sigmoid_margin_tends_to_zero_one_pointwise():
    m = torch.tensor([-2.0, -0.5, -0.1, 0.0, 0.1, 0.5, 2.0], dtype=DTYPE)
    ones = torch.ones_like(m)
    step = LOSSES["zero_one"].fn(m, ones, reduction="none")
    gaps = [
        (LOSSES["sigmoid_margin"].fn(m, ones, reduction="none", k=k) - step).abs()
        for k in (1.0, 5.0, 20.0, 100.0)
    ]
    off_boundary = m != 0
    for wide, narrow in zip(gaps, gaps[1:]):  # never wider; float64 rounds the far ones to 0
        assert (narrow[off_boundary] <= wide[off_boundary]).all()
    assert (
        (gaps[0][off_boundary] > 0.1).all()
        and gaps[-1].max() < 1e-4
        and (torch.stack(gaps)[:, ~off_boundary] == 0).all()
    )


def test_seed_matrix_power_backward_never_runs_when_the_matrix_needs_no_grad():
    g = torch.Generator().manual_seed(0)
    prediction = torch.randn(5, generator=g, requires_grad=True)
    powered = MatrixPowerSeed.apply(torch.randn(3, 3, generator=g), 2)  # seed 000 CustomLoss
    assert powered.grad_fn is None
    loss = torch.mean((prediction - 1.0) * powered[0, 0])
    loss.backward()  # fine: the wrong backward is never reached
    torch.testing.assert_close(prediction.grad, torch.full((5,), powered[0, 0].item() / 5))
