"""Synthetic data sets: shapes, dtypes, seeds, clamping, class balance, weights."""

import pytest
import torch

from explorer.data import DATASETS, N_RANGE, OUTLIER_WEIGHT, datasets_for, make_dataset

Y_DTYPE = {"regression": torch.float32, "binary": torch.float32, "segmentation": torch.float32}


@pytest.mark.parametrize("key", list(DATASETS))
def test_shapes_dtypes_and_metadata(key):
    spec = DATASETS[key]
    d = make_dataset(key, n=100, seed=1)
    n = len(d)
    assert d.name == key and d.task == spec.task and d.n_classes == spec.n_classes
    assert d.x.shape == (n, spec.in_dim) and d.x.dtype == torch.float32
    assert d.y.shape == (n,) and d.y.dtype == Y_DTYPE.get(spec.task, torch.long)
    assert d.weights.shape == (n,) and d.weights.dtype == torch.float32
    assert d.outlier.shape == (n,) and d.outlier.dtype == torch.bool and not d.outlier.any()
    assert torch.isfinite(d.x).all() and torch.isfinite(d.y.float()).all()
    if spec.task != "regression":
        assert set(d.y.long().unique().tolist()) == set(range(spec.n_classes))
    if key != "mask":
        assert n == (spec.size or 100)  # a real data set keeps its own size


@pytest.mark.parametrize("key", list(DATASETS))
def test_same_seed_same_data_other_seed_other_data(key):
    a, b = make_dataset(key, seed=7, outlier_frac=0.2), make_dataset(key, seed=7, outlier_frac=0.2)
    c = make_dataset(key, seed=8, outlier_frac=0.2)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y) and torch.equal(a.outlier, b.outlier)
    assert not (torch.equal(a.x, c.x) and torch.equal(a.y, c.y))


def test_seeding_does_not_touch_the_global_rng():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    make_dataset("moons", seed=5)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("n, expected", [(1, N_RANGE[0]), (-5, N_RANGE[0]), (10**6, N_RANGE[1])])
def test_n_is_clamped(n, expected):
    assert len(make_dataset("line", n=n)) == expected


def test_mask_is_a_square_grid_within_bounds():
    for n in (1, 100, 10**6):
        d = make_dataset("mask", n=n)
        side = round(len(d) ** 0.5)
        assert side * side == len(d) <= N_RANGE[1] and side >= 3
        assert d.x.min() == -1 and d.x.max() == 1


def test_noise_and_outlier_fraction_are_clamped():
    wild = make_dataset("line", n=100, noise=1e9, outlier_frac=3.0)
    capped = make_dataset("line", n=100, noise=5.0, outlier_frac=0.5)
    assert torch.equal(wild.y, capped.y) and wild.outlier.sum() == 50
    assert torch.equal(make_dataset("line", noise=-1).y, make_dataset("line", noise=0).y)
    assert torch.equal(make_dataset("line", noise=float("nan")).y, make_dataset("line").y)


def test_noiseless_line_is_exactly_two_x_minus_one():
    d = make_dataset("line", n=50, noise=0.0)
    torch.testing.assert_close(d.y, 2 * d.x[:, 0] - 1)
    assert d.x.min() >= -2 and d.x.max() <= 2


def test_line_outliers_are_shifted_marked_and_down_weighted():
    clean = make_dataset("line", n=200, seed=3)
    dirty = make_dataset("line", n=200, seed=3, outlier_frac=0.1)
    assert dirty.outlier.sum() == 20
    assert torch.equal(dirty.y[~dirty.outlier], clean.y[~dirty.outlier])
    assert (dirty.y[dirty.outlier] - clean.y[dirty.outlier]).min() > 5
    assert torch.all(dirty.weights[dirty.outlier] == torch.tensor(OUTLIER_WEIGHT))
    assert torch.all(dirty.weights[~dirty.outlier] == 1)


def test_classification_outliers_flip_labels():
    clean = make_dataset("moons", n=100)
    dirty = make_dataset("moons", n=100, outlier_frac=0.2)
    assert torch.equal(dirty.y != clean.y, dirty.outlier) and dirty.outlier.sum() == 20


@pytest.mark.parametrize(
    "key, fractions, weights",
    [("imbalanced", (0.9, 0.1), (1.0, 9.0)), ("imbalanced3", (0.7, 0.2, 0.1), (1.0, 3.5, 7.0))],
)
def test_imbalanced_class_balance_and_weights(key, fractions, weights):
    d = make_dataset(key, n=1000, seed=2)
    counts = torch.bincount(d.y.long(), minlength=len(fractions))
    assert counts.tolist() == [round(1000 * f) for f in fractions]
    for k, w in enumerate(weights):
        assert torch.allclose(d.weights[d.y.long() == k], torch.tensor(w))


@pytest.mark.parametrize("key", ["blobs", "moons", "circles"])
def test_balanced_sets_are_balanced_with_unit_weights(key):
    d = make_dataset(key, n=101)
    assert sorted(torch.bincount(d.y.long()).tolist()) == [50, 51]
    assert torch.all(d.weights == 1)


def test_datasets_for_each_task():
    assert datasets_for("regression") == ["line", "sine", "diabetes"]
    assert datasets_for("binary") == ["blobs", "moons", "circles", "xor", "imbalanced", "cancer"]
    assert datasets_for("multiclass") == ["blobs3", "imbalanced3", "iris"]
    assert set(datasets_for("segmentation")) == {"mask", *datasets_for("binary")}


def test_unknown_names_raise_naming_the_allowed_values():
    with pytest.raises(ValueError, match="moons"):
        make_dataset("spiral")
    with pytest.raises(ValueError, match="regression"):
        datasets_for("ranking")


def test_to_moves_every_tensor():
    d = make_dataset("xor").to("cpu")
    assert {t.device.type for t in (d.x, d.y, d.weights, d.outlier)} == {"cpu"}
