"""Guided tours: every step of every tour opens clean on its page, each setting is a real
control of that page and the control shows the step's value (a value out of the control's
range or options would fall back to its default and fail here); Next and Back reproduce what
the step's own link shows; the loader refuses malformed tour files with a message.
"""

from pathlib import Path

import pytest

from app_pages.widgets.teacher import DRAWN
from app_pages.widgets.tour import step_link, step_query
from explorer.tours import MAX_STEPS, TOURS, load_tour, load_tours
from tests.apptest import open_page, problems

ROOT = Path(__file__).resolve().parent.parent
STEPS = [(tour, i) for tour in TOURS.values() for i in range(len(tour.steps))]


def as_url(value) -> str | list[str]:
    """A widget's value as the URL writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return str(value)


def same(value, setting) -> bool:
    """The widget's value is the setting's (numbers compared as numbers: '0.3' is 0.3)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(setting) == pytest.approx(float(value))
    return as_url(value) == setting


def widget_values(at) -> dict:
    """{URL key: value} of every control the page drew (hidden ones included)."""
    return {key: at.session_state[key] for key in at.session_state[DRAWN]}


def bar_text(at) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("**Tour:")]


def test_the_two_tours_are_shipped():
    titles = {t.title for t in TOURS.values()}
    assert titles == {"Why a hard threshold gives no gradient", "Learning rate and momentum"}
    pages = [s.page for s in TOURS["threshold"].steps]
    assert pages[0] == "loss_shapes" and "gradient_lab" in pages and pages[-1] == "training"
    throughs = [s.query().get("through") for s in TOURS["threshold"].steps if s.page == "training"]
    assert throughs == ["off", "identity"]
    rates = {s.query()["lr"] for s in TOURS["learning_rate"].steps if s.query()["opt"] == "sgd"}
    assert len(rates) == 3


@pytest.mark.parametrize(("tour", "index"), STEPS, ids=lambda v: getattr(v, "key", v))
def test_every_step_opens_clean_and_its_controls_show_its_settings(tour, index):
    step = tour.steps[index]
    assert (ROOT / "app_pages" / f"{step.page}.py").is_file()
    at = open_page(step.page, step_query(tour, index))
    assert problems(at) == [] and not at.error and not at.exception
    assert bar_text(at) == [f"**Tour: {tour.title}** · step {index + 1} of {len(tour.steps)}"]
    values = widget_values(at)
    for key, setting in step.query().items():
        assert key in values, f"{key} is not a control of the {step.page} page"
        assert same(values[key], setting), (
            f"{key}: shows {values[key]!r}, the step says {setting!r}"
        )
    code = [c.value for c in at.code]
    assert any(c.endswith(step_link(tour, index)) for c in code)  # the step's own link


@pytest.mark.parametrize("tour", TOURS.values(), ids=lambda t: t.key)
def test_next_and_back_show_what_each_step_link_shows(tour):
    at = open_page(tour.steps[0].page, step_query(tour, 0))
    for index in range(1, len(tour.steps)):
        next(b for b in at.button if b.label == "Next").click().run()
        fresh = open_page(tour.steps[index].page, step_query(tour, index))
        assert problems(at) == [] and bar_text(at) == bar_text(fresh)
        assert widget_values(at) == widget_values(fresh), f"step {index + 1} by Next"
    assert next(b for b in at.button if b.label == "Next").disabled  # the last step
    next(b for b in at.button if b.label == "Back").click().run()
    before = open_page(tour.steps[-2].page, step_query(tour, len(tour.steps) - 2))
    assert widget_values(at) == widget_values(before)


def test_home_lists_the_tours_and_starts_one():
    at = open_page(None)
    assert problems(at) == []
    starts = [b for b in at.button if b.label == "Start the tour"]
    assert len(starts) == len(TOURS)
    starts[list(TOURS).index("learning_rate")].click().run()
    assert at.title[0].value == "Landscape"
    assert bar_text(at) == ["**Tour: Learning rate and momentum** · step 1 of 5"]
    assert at.number_input(key="lr").value == pytest.approx(0.01)


@pytest.mark.parametrize(
    ("query", "note"),
    [
        ({"tour": "no_such_tour"}, "does not have"),
        ({"tour": "threshold", "step": "99"}, "steps 1 to 6"),
        ({"tour": "threshold", "step": "-1"}, "steps 1 to 6"),
        ({"tour": "threshold", "step": "9" * 400}, "steps 1 to 6"),
        ({"tour": "<script>x</script>"}, "does not have"),
    ],
)
def test_a_bad_tour_or_step_in_the_url_gives_a_caption(query, note):
    at = open_page("loss_shapes", query)
    assert problems(at) == [] and not at.error
    assert any(note in c.value for c in at.caption)


def tour_file(tmp_path, text: str, name: str = "t.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD_STEP = '[[steps]]\npage = "landscape"\ntext = "x"\nlook = "y"\n'
HEAD = 'title = "T"\nsummary = "S"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (HEAD, "'steps' must list 1 to"),
        (HEAD + GOOD_STEP * (MAX_STEPS + 1), "'steps' must list 1 to"),
        ('summary = "S"\n' + GOOD_STEP, "'title' must be"),
        (HEAD + "colour = 1\n" + GOOD_STEP, "unknown fields ['colour']"),
        (HEAD + GOOD_STEP.replace("landscape", "../app"), "'page' must be"),
        (HEAD + GOOD_STEP.replace('look = "y"\n', ""), "step 1: 'look' must be"),
        (HEAD + GOOD_STEP + "[steps.settings]\nlr = 0.3\n", "a setting is a string"),
        (HEAD + GOOD_STEP + '[steps.settings]\ntour = "x"\n', "are not URL keys"),
        (HEAD + GOOD_STEP + '[steps.settings]\n"a b" = "x"\n', "are not URL keys"),
        (HEAD + GOOD_STEP + "[steps.settings]\nk = [1, 2]\n", "a setting is a string"),
        ("title = \n", "not valid TOML"),
    ],
)
def test_the_loader_refuses_malformed_tours_with_a_message(tmp_path, text, message):
    with pytest.raises(ValueError, match="t.toml") as err:
        load_tour(tour_file(tmp_path, text))
    assert message in str(err.value)


def test_the_loader_reads_a_good_folder_and_names_each_tour_by_its_file(tmp_path):
    body = HEAD + GOOD_STEP + '[steps.settings]\nlr = "0.3"\nlosses = ["mse", "mae"]\n'
    (tmp_path / "good").mkdir()
    tour_file(tmp_path / "good", body, "my_tour.toml")
    (tour,) = load_tours(tmp_path / "good").values()
    assert tour.key == "my_tour" and tour.title == "T"
    assert tour.steps[0].query() == {"lr": "0.3", "losses": ["mse", "mae"]}
    with pytest.raises(ValueError, match="file name"):
        load_tour(tour_file(tmp_path, body, "Bad-Name.toml"))
