"""The Lessons page's data: one lesson per pitfall of the seed articles (and two classics).

Each source article has its own module — its verbatim quotes, its buggy code as real Python,
our fix, the live runs and its `Lesson` objects: `seed_000` (a small package), `seed_002`,
`seed_003`, and `classic` for the two examples not from the seeds. `kit` holds what they share.
This registry lists the lessons in the page's order; a new lesson is one article module entry
plus one line here.
"""

from __future__ import annotations

from explorer.lessons import classic, seed_000, seed_002, seed_003
from explorer.lessons.kit import FIGURE_KINDS, Lesson, LessonResult

__all__ = ["FIGURE_KINDS", "LESSONS", "Lesson", "LessonResult", "get_lesson", "run_lesson"]

LESSONS: list[Lesson] = [
    seed_003.WEIGHTED_MSE_BROADCAST,
    seed_002.WEIGHTED_CE_PER_SAMPLE,
    seed_000.MATRIX_POWER_BACKWARD,
    seed_000.CUSTOM_LOSS_UNBOUNDED,
    seed_000.BACKWARD_NEVER_CALLED,
    seed_000.RANDOM_INSIDE_LOSS,
    seed_000.HARD_THRESHOLD,
    seed_000.SOFT_THRESHOLD_OUTWARD,
    seed_002.DETACH_NO_GRAD,
    seed_002.PROXY_NON_SCALAR,
    classic.ZERO_ONE_VS_SIGMOID,
    classic.STEP_ACTIVATION,
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
