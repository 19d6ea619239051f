"""PCA axes against sklearn.decomposition.PCA (centred, the default) and an eigendecomposition of
the scatter about the centre (the uncentred option)."""

import numpy as np
import pytest

from explorer.data import make_dataset
from explorer.landscape import SurfaceConfig, loss_surface, pca_directions
from explorer.losses import get_loss
from explorer.models import make_model
from explorer.objective import objective

PCA = pytest.importorskip("sklearn.decomposition").PCA


def _random_walk(seed: int, steps: int = 40, size: int = 12) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.normal(size=(steps, size)) * rng.uniform(0.1, 2.0, size), axis=0)


def _drift_and_spiral(seed: int) -> np.ndarray:
    """A path that drifts along one direction while circling in two others, plus a little noise."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(9, 3)))[0].T
    t = np.linspace(0, 4 * np.pi, 60)
    coords = np.stack([3 * t, 2 * np.cos(t), np.sin(t)], axis=1)
    return 1.5 + coords @ basis + 0.01 * rng.normal(size=(60, 9))


def _training_run() -> np.ndarray:
    import explorer

    config = explorer.TrainConfig(
        dataset="moons", model="mlp", hidden=(8,), loss="hinge", optimizer="adam", lr=0.05, steps=60
    )
    return np.stack([r.theta for r in explorer.train(explorer.build(config))])


TRAJECTORIES = {
    "walk-0": lambda: _random_walk(0),
    "walk-1": lambda: _random_walk(1, steps=7, size=30),  # fewer steps than parameters
    "drift-and-spiral": lambda: _drift_and_spiral(2),
    "training-run": _training_run,
}


@pytest.mark.parametrize("name", TRAJECTORIES)
def test_centred_axes_are_sklearns_components_and_ratios(name):
    thetas = TRAJECTORIES[name]()
    centre = thetas[-1]
    dirs, frac = pca_directions(thetas, centre)
    pca = PCA(n_components=2, svd_solver="full").fit(thetas)
    np.testing.assert_allclose(frac.numpy(), pca.explained_variance_ratio_, rtol=1e-9, atol=1e-12)
    for ours, theirs in zip(dirs.numpy(), pca.components_, strict=True):
        sign = np.sign(ours @ theirs)
        np.testing.assert_allclose(sign * ours, theirs, atol=1e-8)
    np.testing.assert_allclose(dirs.numpy() @ dirs.numpy().T, np.eye(2), atol=1e-12)
    assert ((thetas[0] - centre) @ dirs.numpy().T <= 0).all()  # the first step on the negative side


@pytest.mark.parametrize("name", ["walk-0", "drift-and-spiral"])
def test_uncentred_axes_are_the_top_eigenvectors_of_the_scatter_about_the_centre(name):
    thetas = TRAJECTORIES[name]()
    centre = thetas[-1] + 0.3  # any centre: the scatter is about it, nothing is subtracted
    diffs = thetas - centre
    vals, vecs = np.linalg.eigh(diffs.T @ diffs)
    dirs, frac = pca_directions(thetas, centre, centred=False)
    np.testing.assert_allclose(frac.numpy(), vals[::-1][:2] / vals.sum(), rtol=1e-9)
    np.testing.assert_allclose(np.abs(dirs.numpy() @ vecs[:, ::-1][:, :2]), np.eye(2), atol=1e-8)


def test_a_pca_surface_is_centred_by_default_labelled_so_and_drawn_through_its_centre():
    thetas = _training_run()
    data = make_dataset("moons")
    model = make_model("mlp", in_dim=2, out_dim=1, hidden=(8,))
    obj = objective(data, get_loss("hinge"))
    centre = thetas[-1]
    surfaces = {
        kind: loss_surface(
            model,
            obj,
            SurfaceConfig(axes="pca", points=5, pca=kind),
            trajectory=thetas,
            centre=centre,
            grad=False,
        )
        for kind in ("centred", "uncentred")
    }
    pca = PCA(n_components=2).fit(thetas)
    default = loss_surface(
        model, obj, SurfaceConfig(axes="pca", points=5), trajectory=thetas, centre=centre
    )
    assert default.labels == surfaces["centred"].labels
    np.testing.assert_allclose(default.explained, pca.explained_variance_ratio_, rtol=1e-9)
    first, second = (100 * pca.explained_variance_ratio_).round(1)
    assert default.labels == (
        f"PC1 ({first:.1f}% of the path's variance)",
        f"PC2 ({second:.1f}% of the path's variance)",
    )
    assert surfaces["uncentred"].labels[0].endswith("of Σ‖θ − centre‖², uncentred)")
    for surface in surfaces.values():
        np.testing.assert_array_equal(surface.centre, centre)  # only the directions differ
        np.testing.assert_allclose(surface.theta(0.0, 0.0), centre)
    assert not np.allclose(surfaces["centred"].explained, surfaces["uncentred"].explained)


def test_pca_kind_is_checked_and_a_still_path_is_refused():
    with pytest.raises(ValueError, match="unknown pca 'last'; allowed: centred, uncentred"):
        SurfaceConfig(axes="pca", pca="last").validate()  # type: ignore[arg-type]
    still = np.ones((5, 4))
    with pytest.raises(ValueError, match="moves"):
        pca_directions(still, still[-1])
    dirs, frac = pca_directions(still, np.zeros(4), centred=False)  # away from the centre: fine
    assert float(frac[0]) == pytest.approx(1.0)
