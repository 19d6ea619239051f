"""Lessons page: every lesson renders its code, the real outcome, the doctor's findings and a picture."""

import pytest

from explorer.lessons import LESSONS
from tests.apptest import array, figures, open_page, problems


@pytest.fixture(scope="module")
def page():
    return open_page("lessons")


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.key)
def test_each_lesson_renders(page, lesson):
    at = page.selectbox(key="lesson").set_value(lesson.key).run()
    assert problems(at) == []
    assert at.header[0].value == lesson.title
    codes = [c.value for c in at.code]
    assert lesson.seed_code in codes and lesson.fixed_code in codes
    assert len(at.expander) >= 1  # the doctor has something to say about every seed bug
    picture = figures(at) or at.dataframe
    assert picture


def test_non_scalar_lesson_shows_the_real_exception_text():
    at = open_page("lessons", {"lesson": "proxy_non_scalar"})
    assert problems(at) == []
    assert "grad can be implicitly created only for scalar outputs" in at.error[0].value


def test_broadcast_lesson_shows_the_n_by_n_shape_and_its_picture():
    at = open_page("lessons", {"lesson": "weighted_mse_broadcast"})
    assert "(10, 10)" in at.error[0].value
    fig = figures(at)["lesson_figure"]
    assert [t["type"] for t in fig["data"]] == ["bar"] * 4
    bars = {t["name"]: array(t["y"]) for t in fig["data"]}
    # the seed's loss trains to ordinary least squares, the fix to weighted least squares
    assert bars["seed's WeightedMSE, trained"] == pytest.approx(
        bars["ordinary least squares"], abs=2e-3
    )
    assert bars["fixed, trained"] == pytest.approx(bars["weighted least squares"], abs=2e-3)


def test_unknown_lesson_in_url_falls_back_to_the_first():
    at = open_page("lessons", {"lesson": "os.system"})
    assert problems(at) == []
    assert at.selectbox(key="lesson").value == LESSONS[0].key
