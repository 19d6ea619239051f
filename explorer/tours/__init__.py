"""Guided tours: a story told in steps, each a page of the app opened with given settings.

A tour is data: one TOML file in this folder a tour (its name is the tour's key), read and
checked by `load_tour`:

    title = "…"
    summary = "…"            # one sentence, shown where tours are listed
    [[steps]]
    page = "loss_shapes"     # the page's script name in app_pages/
    text = "…"               # what this step shows (Markdown, a few sentences)
    look = "…"               # what to look at on the page
    [steps.settings]         # the page's URL settings: URL key = value as the URL writes it
    pair = "threshold"       # (a list of strings for a multi-choice control)

This package checks the shape (keys, types, lengths); that each setting is a real control of its
page with a value the control takes is checked by the app's tests, which open every step.
"""

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

FOLDER = Path(__file__).parent
NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
SETTING_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,80}")
MAX_STEPS = 20
MAX_TEXT = 1200  # characters of a step's text or look
MAX_VALUE = 500  # characters of one setting value


@dataclass(frozen=True)
class Step:
    """One step: the page, its URL settings ((key, value or values), …), its text, what to see."""

    page: str
    settings: tuple[tuple[str, str | tuple[str, ...]], ...]
    text: str
    look: str

    def query(self) -> dict[str, str | list[str]]:
        """The step's settings as a query-params mapping."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.settings}


@dataclass(frozen=True)
class Tour:
    key: str
    title: str
    summary: str
    steps: tuple[Step, ...]


def _text(table: dict, field: str, where: str, limit: int = MAX_TEXT) -> str:
    value = table.get(field)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise ValueError(f"{where}: '{field}' must be a non-empty string of at most {limit} chars")
    return value.strip()


def _value(value, where: str) -> str | tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) and len(v) <= MAX_VALUE for v in values):
        raise ValueError(f"{where}: a setting is a string, or a list of strings, as the URL has it")
    return tuple(values) if isinstance(value, list) else value


def _step(table, where: str) -> Step:
    if not isinstance(table, dict):
        raise ValueError(f"{where}: a step is a table")
    unknown = set(table) - {"page", "settings", "text", "look"}
    if unknown:
        raise ValueError(f"{where}: unknown fields {sorted(unknown)}")
    page = table.get("page")
    if not isinstance(page, str) or not NAME.fullmatch(page):
        raise ValueError(f"{where}: 'page' must be a page's script name, like 'loss_shapes'")
    settings = table.get("settings", {})
    if not isinstance(settings, dict):
        raise ValueError(f"{where}: 'settings' must be a table of URL keys")
    bad = [k for k in settings if not SETTING_KEY.fullmatch(k) or k in ("tour", "step")]
    if bad:
        raise ValueError(f"{where}: {bad} are not URL keys a step may set")
    pairs = tuple((k, _value(v, f"{where}, setting {k!r}")) for k, v in settings.items())
    return Step(page, pairs, _text(table, "text", where), _text(table, "look", where))


def load_tour(path: Path) -> Tour:
    """The tour in a TOML file; ValueError naming the file (and step) for any mistake."""
    key = path.stem
    if not NAME.fullmatch(key):
        raise ValueError(f"{path.name}: a tour's file name is its key: lowercase, digits, '_'")
    with path.open("rb") as f:
        try:
            data = tomllib.load(f)
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{path.name}: not valid TOML: {err}") from err
    unknown = set(data) - {"title", "summary", "steps"}
    if unknown:
        raise ValueError(f"{path.name}: unknown fields {sorted(unknown)}")
    steps = data.get("steps")
    if not isinstance(steps, list) or not 1 <= len(steps) <= MAX_STEPS:
        raise ValueError(f"{path.name}: 'steps' must list 1 to {MAX_STEPS} steps")
    return Tour(
        key=key,
        title=_text(data, "title", path.name, 120),
        summary=_text(data, "summary", path.name, 300),
        steps=tuple(_step(s, f"{path.name}, step {i}") for i, s in enumerate(steps, 1)),
    )


def load_tours(folder: Path = FOLDER) -> dict[str, Tour]:
    """Every tour in the folder, by key, in file-name order."""
    return {t.key: t for t in (load_tour(p) for p in sorted(folder.glob("*.toml")))}


TOURS = load_tours()
