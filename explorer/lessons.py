"""The Lessons page's data: one lesson per pitfall of the seeds (and two classics).

A `Lesson` quotes the seed's code verbatim, shows our fix (the real source of the fixed code in
`explorer.seed_bugs` and friends), and `run()`s both live, returning a `LessonResult`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from explorer import functions, models, seed_bugs
from explorer import lesson_runs_000 as r000
from explorer import lesson_runs_other as other
from explorer.lesson_kit import FIGURE_KINDS, LessonResult
from explorer.lesson_quotes import QUOTES, SEED_TITLES, quote
from explorer.losses import classification

__all__ = ["FIGURE_KINDS", "LESSONS", "Lesson", "LessonResult", "get_lesson", "run_lesson"]


@dataclass(frozen=True)
class Lesson:
    """One pitfall: where it comes from, the buggy and the fixed code, and a live run of both."""

    key: str
    title: str
    summary: str  # the pitfall in one sentence
    seed_id: str  # "000".."003", or "classic"
    seed_code: str  # quoted verbatim from the seed (classic: the buggy code as written here)
    fixed_code: str  # the source of our fix
    run: Callable[[], LessonResult]

    @property
    def seed_title(self) -> str:
        return SEED_TITLES.get(self.seed_id, "a classic example, not from the seeds")

    @property
    def seed(self) -> str:
        """'seed 003 · How are custom loss gradients calculated?' or 'classic · …'."""
        prefix = "classic" if self.seed_id == "classic" else f"seed {self.seed_id}"
        return f"{prefix} · {self.seed_title}"


def source(*objects) -> str:
    """The source code of our fixed functions / classes, one after another."""
    return "\n\n".join(inspect.getsource(o).rstrip() for o in objects)


def seeded_lesson(key: str, title: str, summary: str, fix, run) -> Lesson:
    """A lesson whose buggy code is quoted from its seed (QUOTES[key])."""
    fixes = fix if isinstance(fix, tuple) else (fix,)
    return Lesson(key, title, summary, QUOTES[key][0], quote(key), source(*fixes), run)


LESSONS: list[Lesson] = [
    seeded_lesson(
        "weighted_mse_broadcast",
        "Weights (N,) times residuals (N, 1) make an N×N matrix",
        "Broadcasting silently pairs every weight with every residual; the mean is wrong and the weights are averaged away.",
        seed_bugs.WeightedMSEFixed,
        other.run_weighted_mse_broadcast,
    ),
    seeded_lesson(
        "weighted_ce_per_sample",
        "Per-sample weights passed as cross-entropy's per-class weight",
        "F.cross_entropy(weight=...) wants one weight per class; ten per-sample weights raise.",
        seed_bugs.WeightedCrossEntropyLossFixed,
        other.run_weighted_ce_per_sample,
    ),
    seeded_lesson(
        "matrix_power_backward",
        "A hand-written backward that is not the gradient",
        "The matrix power's backward G ⊙ n·Aⁿ⁻¹ is an element-wise rule; gradcheck shows it is wrong.",
        functions.MatrixPowerExact,
        r000.run_matrix_power_backward,
    ),
    seeded_lesson(
        "custom_loss_unbounded",
        "A loss linear in the prediction has no minimum",
        "mean((ŷ − y)·c) keeps falling as ŷ moves: training runs off to −∞.",
        seed_bugs.CustomLossFixed,
        r000.run_custom_loss_unbounded,
    ),
    seeded_lesson(
        "backward_never_called",
        "A backward that never runs cannot be wrong — or tested",
        "Nothing upstream of the Function requires grad, so autograd never calls its backward.",
        seed_bugs.learnable_matrix_power,
        r000.run_backward_never_called,
    ),
    seeded_lesson(
        "random_inside_loss",
        "A random tensor drawn inside the loss",
        "torch.randn inside forward makes the loss a different function on every call.",
        seed_bugs.CustomLossFixed,
        r000.run_random_inside_loss,
    ),
    seeded_lesson(
        "hard_threshold",
        "A hard threshold passes no gradient",
        "(|r| < t).float() is a constant to autograd: zero gradient almost everywhere; a sigmoid mask is not.",
        seed_bugs.ThresholdedLoss,
        r000.run_hard_threshold,
    ),
    seeded_lesson(
        "soft_threshold_outward",
        "The soft threshold pushes residuals outwards",
        "Near |r| = t, d/dr sigmoid(k(t − |r|))·r² ≈ (−k·t²/4 + t)·sign(r): for k = 20 descent moves r away from 0.",
        seed_bugs.WelschLoss,
        r000.run_soft_threshold_outward,
    ),
    seeded_lesson(
        "detach_no_grad",
        ".detach() and no_grad cut the graph",
        "Whatever is computed outside the graph gets no gradient: those parameters never learn.",
        seed_bugs.features_forward_fixed,
        other.run_detach_no_grad,
    ),
    seeded_lesson(
        "proxy_non_scalar",
        "A loss that is a vector",
        "A scalar L1 plus an unreduced penalty is a vector: loss.backward() raises.",
        seed_bugs.ProxyLossFixed,
        other.run_proxy_non_scalar,
    ),
    Lesson(
        "zero_one_vs_sigmoid",
        "The 0-1 loss versus sigmoid(−k·y·ŷ)",
        "The 0-1 loss is a step of the margin: zero gradient wherever it exists; its sigmoid twin trains.",
        "classic",
        source(classification.zero_one),
        source(classification.sigmoid_margin),
        other.run_zero_one_vs_sigmoid,
    ),
    Lesson(
        "step_activation",
        "A step activation inside a model",
        "A hard step in a hidden layer blocks the gradient to every layer before it; a straight-through estimator passes it.",
        "classic",
        source(seed_bugs.hard_step),
        source(models.StepFunction),
        other.run_step_activation,
    ),
]
_BY_KEY = {lesson.key: lesson for lesson in LESSONS}


def get_lesson(key: str) -> Lesson:
    """The lesson `key`; ValueError naming the allowed keys."""
    if key not in _BY_KEY:
        raise ValueError(f"unknown lesson {key!r}; allowed: {', '.join(_BY_KEY)}")
    return _BY_KEY[key]


def run_lesson(key: str) -> LessonResult:
    """Run lesson `key`'s buggy and fixed code live."""
    return get_lesson(key).run()
