"""Lessons: every pitfall of DESIGN.md has one; each runs live and shows the real failure."""

import ast
import functools
import json
from pathlib import Path

import pytest
import torch

from explorer.doctor.findings import Finding
from explorer.lessons import (
    FIGURE_KINDS,
    LESSONS,
    LessonResult,
    classic,
    get_lesson,
    run_lesson,
    seed_000,
    seed_002,
    seed_003,
)
from explorer.lessons.kit import SEED_FILES

# The four seed articles, kept with the tests so the quote check runs in any clone; the copies
# must match ../shared/seeds wherever that is beside the checkout.
SEEDS = Path(__file__).resolve().parent / "data" / "seeds"
SHARED_SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"

# lesson -> (the doctor's finding, a piece of the real outcome of the buggy code)
EXPECTED = {
    "weighted_mse_broadcast": ("broadcast", "has shape (10, 10): 100 terms for 10 samples"),
    "weighted_ce_per_sample": (
        "class_weights",
        "RuntimeError: weight tensor should be defined either for all 3 classes",
    ),
    "matrix_power_backward": ("gradcheck_failed", "→ False: max |analytic − numerical|"),
    "custom_loss_unbounded": ("unbounded_below", "no minimum, it runs to −∞"),
    "backward_never_called": ("backward_never_called", "backward ran 0 times"),
    "random_inside_loss": ("nondeterministic", "8 calls with the same prediction and target"),
    "hard_threshold": ("flat", "dL/dŷ = 0, 0, -0.167, 0.167, 0, 0"),
    "soft_threshold_outward": ("outward_push", "dL/dr = -4 (closed form −k·t²/4 + t = -4)"),
    "detach_no_grad": ("no_gradient", "net.0.weight.grad = None, net.0.bias.grad = None"),
    "proxy_non_scalar": (
        "non_scalar",
        "RuntimeError: grad can be implicitly created only for scalar outputs",
    ),
    "zero_one_vs_sigmoid": ("zero_gradient", "gradient norm 0, 0, 0"),
    "step_activation": ("zero_gradient", "net.0.weight.grad norm 0, net.0.bias.grad norm 0"),
}
ARTICLES = {"000": seed_000, "002": seed_002, "003": seed_003, "classic": classic}
QUOTED = [lesson for lesson in LESSONS if lesson.seed_id != "classic"]
BUGGY_NAMES = {  # a name the quoted seed code and its article's module share
    "weighted_mse_broadcast": "WeightedMSE",
    "weighted_ce_per_sample": "WeightedCrossEntropyLoss",
    "matrix_power_backward": "SpectralNormalizationFunction",
    "custom_loss_unbounded": "CustomLoss",
    "backward_never_called": "CustomLoss",
    "random_inside_loss": "CustomLoss",
    "hard_threshold": "ThresholdedLoss",
    "soft_threshold_outward": "ThresholdedLoss",
    "proxy_non_scalar": "ProxyLoss",
}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: one thread is faster than two on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@functools.cache
def result(key: str) -> LessonResult:
    return run_lesson(key)


def series(key: str) -> dict[str, list]:
    return result(key).figure_data["series"]


def test_one_lesson_per_pitfall():
    assert [lesson.key for lesson in LESSONS] == list(EXPECTED)


@pytest.mark.parametrize("key", list(EXPECTED))
def test_lesson_runs_and_shows_the_real_failure(key):
    res = result(key)
    code, seen = EXPECTED[key]
    assert seen in res.outcome_buggy, res.outcome_buggy
    assert res.outcome_fixed and res.outcome_fixed != res.outcome_buggy
    assert all(isinstance(f, Finding) for f in res.findings)
    assert code in {f.code for f in res.findings}
    assert res.figure_data["kind"] in FIGURE_KINDS
    json.dumps(res.figure_data)  # plain numbers and strings only


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.key)
def test_lesson_texts(lesson):
    assert lesson.title and lesson.summary
    assert lesson.seed.startswith("classic" if lesson.seed_id == "classic" else "seed 0")
    ast.parse(lesson.fixed_code)  # our fix is real Python source (parsed, never run from text)
    if lesson.key in BUGGY_NAMES:
        name = BUGGY_NAMES[lesson.key]
        assert name in lesson.seed_code and hasattr(ARTICLES[lesson.seed_id], name)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.key)
def test_each_lesson_lives_in_its_articles_module(lesson):
    article = ARTICLES[lesson.seed_id]
    assert article.SEED_ID == lesson.seed_id
    assert lesson.run.__module__.startswith(article.__name__)
    assert (lesson.seed_id == "classic") == (lesson.excerpts == ())


def test_the_kept_seed_articles_are_the_shared_ones():
    kept = {p.name: p.read_text() for p in SEEDS.glob("*.txt")}
    assert sorted(kept) == sorted(SEED_FILES.values())
    if SHARED_SEEDS.is_dir():  # beside the checkout on the development machine
        assert kept == {p.name: p.read_text() for p in SHARED_SEEDS.glob("*.txt")}


@pytest.mark.parametrize("lesson", QUOTED, ids=lambda lesson: lesson.key)
def test_quotes_are_verbatim_from_the_seed(lesson):
    text = (SEEDS / SEED_FILES[lesson.seed_id]).read_text()
    for piece in lesson.excerpts:
        assert piece.rstrip("\n") in text
        assert piece.rstrip("\n") in lesson.seed_code


def test_the_numbers_behind_the_pictures():
    unbounded = series("custom_loss_unbounded")["CustomLoss (seed, matrix fixed)"]
    assert unbounded[-1] < unbounded[0] - 5 and unbounded[-1] < unbounded[-2]  # still falling
    assert min(series("custom_loss_unbounded")["squared (fixed)"]) >= 0
    seed_path, welsch_path = series("soft_threshold_outward").values()
    assert seed_path[-1] > seed_path[0] > welsch_path[-1]  # outwards vs inwards
    calls = series("random_inside_loss")
    assert (
        len(set(calls["CustomLoss (seed)"])) == 8
        and len(set(calls["matrix drawn once (fixed)"])) == 1
    )
    hard = series("zero_one_vs_sigmoid")
    assert len(set(hard["trained on the 0-1 loss"])) == 1  # no gradient, no change
    assert hard["trained on sigmoid(−k·y·ŷ)"][-1] < hard["trained on sigmoid(−k·y·ŷ)"][0]
    step = series("step_activation")
    assert step["straight-through (clipped)"][-1] < step["step activation"][-1]
    fits = series("weighted_mse_broadcast")
    assert fits["fixed, trained"] == pytest.approx(fits["weighted least squares"], abs=1e-3)
    assert fits["seed's WeightedMSE, trained"] == pytest.approx(
        fits["ordinary least squares"], abs=1e-3
    )


def test_backward_never_called_shows_both_graphs():
    figure = result("backward_never_called").figure_data
    assert "matrix (3, 3)\\nrequires_grad=False" in figure["dot_buggy"]
    assert "MatrixPowerExactBackward" in figure["dot_fixed"]


def test_runs_are_reproducible_and_leave_the_global_rng_alone():
    state = torch.random.get_rng_state()
    again = run_lesson("random_inside_loss")
    assert again.outcome_buggy == result("random_inside_loss").outcome_buggy
    assert torch.equal(state, torch.random.get_rng_state())


def test_unknown_lesson_names_the_allowed_keys():
    with pytest.raises(ValueError, match="weighted_mse_broadcast"):
        get_lesson("nope")
