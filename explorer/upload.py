"""Your file: a CSV read as text (`read_table`), then the chosen columns converted to your points
(`to_user_data`). Every problem is a precise message naming its line and column; no cell is
evaluated (numbers are matched by a pattern, then converted with float), no row silently dropped.
"""

import csv
import io
import math
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from explorer.data import N_RANGE
from explorer.user_data import CLASSES_RANGE, YOURS_MIN, UserData, classification_task

MAX_BYTES = 1 << 20  # the app's upload cap (server.maxUploadSize = 1 MB)
MAX_ROWS = N_RANGE[1]  # rows kept; the rest of a longer file is left out, and the page says so
VALUE_LIMIT = 1e9  # |value| beyond this is refused (float32 training would overflow its squares)
SHOWN = 6  # problems listed in a message; the rest are counted
DELIMITERS = (",", ";", "\t")
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
MISSING = {"nan", "na", "n/a", "null", "none", "-", "?"}
INFINITE = {"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
TaskChoice = Literal["regression", "classification"]
ROLES = {"regression": ("x", "y"), "classification": ("x1", "x2", "label")}
ALIASES = {"x": ("x", "x1"), "y": ("y", "target"), "label": ("label", "class", "target", "y")}


class UploadError(ValueError):
    """A file that cannot become your data: `problems` lists each one, line and column named."""

    def __init__(self, problems: list[str]):
        self.problems = tuple(problems)
        shown = list(problems[:SHOWN])
        if len(problems) > SHOWN:
            shown.append(f"… and {len(problems) - SHOWN} more problems")
        super().__init__("\n".join(shown))


@dataclass(frozen=True)
class Table:
    """A CSV file's header and its first MAX_ROWS rows of data, as text."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    lines: tuple[int, ...]  # the file's line number of each row (the header is line 1)
    total_rows: int  # rows of data in the whole file
    delimiter: str = ","

    @property
    def kept_note(self) -> str | None:
        """What was left out of a long file, else None."""
        if self.total_rows <= len(self.rows):
            return None
        return (
            f"The file has {self.total_rows} rows of data: the first {len(self.rows)} are kept "
            f"(the most a data set may have), the other {self.total_rows - len(self.rows)} "
            "are left out."
        )

    def preview(self, rows: int = 10) -> pd.DataFrame:
        """The first rows as written, indexed by their line in the file."""
        index = pd.Index(self.lines[:rows], name="line")
        return pd.DataFrame(list(self.rows[:rows]), columns=list(self.columns), index=index)


def _text(raw: bytes) -> str:
    """The file as text; UploadError for an empty, too large, binary or non-UTF-8 file."""
    if not raw.strip():
        raise UploadError(["the file is empty"])
    if len(raw) > MAX_BYTES:
        raise UploadError([f"the file has {len(raw)} bytes; at most {MAX_BYTES} (1 MB)"])
    if b"\x00" in raw or raw.startswith(b"PK\x03\x04"):
        line = raw[: raw.find(b"\x00")].count(b"\n") + 1 if b"\x00" in raw else 1
        raise UploadError([
            f"this is not a CSV file: line {line} holds binary bytes (a spreadsheet or an "
            "image?); save it as CSV (comma-separated text)"
        ])  # fmt: skip
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise UploadError([
            f"line {line}: byte 0x{raw[err.start]:02x} is not UTF-8 text; save the file as "
            "CSV UTF-8"
        ]) from None  # fmt: skip


def _delimiter(text: str) -> str:
    """The delimiter its first line uses most: ",", ";" or a tab (ties go to ",")."""
    first = text.lstrip().splitlines()[0]
    return max(DELIMITERS, key=first.count)


def _header(names: list[str]) -> tuple[str, ...]:
    columns = tuple(n.strip() for n in names)
    problems = [f"line 1, column {i + 1} has no name" for i, n in enumerate(columns) if not n]
    for i, n in enumerate(columns):
        if n and n in columns[:i]:
            problems.append(
                f"line 1: column name {n!r} appears twice (columns {columns.index(n) + 1} and {i + 1})"
            )
    if columns and all(NUMBER.fullmatch(n) for n in columns):
        problems.append(
            f"line 1 holds numbers ({', '.join(columns[:3])}), not column names: the first "
            "line names the columns, e.g. x,y or x1,x2,label"
        )
    if len(columns) == 1 and not problems:
        problems.append(
            f"the file has one column ({columns[0]!r}): regression needs two (x, y), "
            "classification three (x1, x2, label), separated by commas"
        )
    if problems:
        raise UploadError(problems)
    return columns


def read_table(raw: bytes) -> Table:
    """The header and the first MAX_ROWS rows of a CSV file (blank lines skipped).

    UploadError for an empty, binary, non-UTF-8 or too large file, a malformed or unnamed header,
    one column, no rows, or rows whose number of fields differs from the header's."""
    text = _text(raw)
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    columns: tuple[str, ...] | None = None
    rows, lines, problems, total = [], [], [], 0
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if columns is None:
                columns = _header(row)
                continue
            total += 1
            if total > MAX_ROWS:
                continue
            if len(row) != len(columns):
                problems.append(
                    f"line {reader.line_num} has {len(row)} fields; the header has {len(columns)}"
                )
            rows.append(tuple(cell.strip() for cell in row))
            lines.append(reader.line_num)
    except csv.Error as err:
        raise UploadError([f"line {reader.line_num}: not valid CSV ({err})"]) from None
    if columns is None:
        raise UploadError(["the file is empty"])
    if not rows:
        raise UploadError(
            [f"the file names its columns ({', '.join(columns)}) but has no rows of data"]
        )
    if problems:
        raise UploadError(problems)
    return Table(columns, tuple(rows), tuple(lines), total, delimiter)


@dataclass(frozen=True)
class Columns:
    """Which columns are which: regression (x, y) or classification (x1, x2, label), by name."""

    task: TaskChoice
    names: tuple[str, ...]  # in the order of ROLES[task]


def guess_columns(table: Table) -> Columns:
    """Columns by their names where they say (x, y, x1, x2, label, class, target), else in order:
    three or more columns read as classification (the last one left is the label), two as
    regression."""
    lower = {c.lower(): c for c in table.columns}
    task: TaskChoice = "classification" if len(table.columns) >= 3 else "regression"
    picks: list[str | None] = []
    for role in ROLES[task]:
        aliases = ALIASES.get(role, (role,))
        picks.append(
            next((lower[a] for a in aliases if a in lower and lower[a] not in picks), None)
        )
    rest = [c for c in table.columns if c not in picks]
    if picks[-1] is None:
        picks[-1] = rest.pop()  # the target or label: the last column left
    return Columns(task, tuple(p if p is not None else rest.pop(0) for p in picks))


def _number(cell: str, where: str) -> float | str:
    """The cell as a finite float, or the message saying why it is not one."""
    low = cell.lower()
    if not cell or low in MISSING:
        return f"{where}: missing value{f' ({cell!r})' if cell else ''}"
    if low in INFINITE:
        return f"{where}: {cell!r} is infinite; only finite numbers are accepted"
    if not NUMBER.fullmatch(cell):
        hint = " (use a point as the decimal mark)" if re.fullmatch(r"[+-]?\d+,\d+", cell) else ""
        return f"{where}: {cell!r} is not a number{hint}"
    value = float(cell)
    if not math.isfinite(value):
        return f"{where}: {cell!r} overflows to infinity; only finite numbers are accepted"
    if abs(value) > VALUE_LIMIT:
        return f"{where}: {cell} is beyond ±{VALUE_LIMIT:g}; rescale the column"
    return value


def _label(cell: str, where: str) -> int | str:
    """The cell as an integer class label, or the message saying why it is not one."""
    value = _number(cell, where)
    if isinstance(value, str):
        return value.replace("is not a number", "is not an integer class label")
    if not value.is_integer():
        return f"{where}: {cell} is not an integer class label"
    return int(value)


def to_user_data(table: Table, columns: Columns, name: str = "your file") -> UserData:
    """The chosen columns of every row as your points; UploadError listing every bad cell (line
    and column), a missing or repeated column, or labels with one class only or more than five.

    Classification labels are integers; their distinct values, in increasing order, become
    classes 0..K−1 (UserData.classes keeps them as written)."""
    wanted = ROLES.get(columns.task)
    if wanted is None or len(columns.names) != len(wanted):
        raise UploadError([f"choose the columns {', '.join(ROLES.get(columns.task, ('x', 'y')))}"])
    problems = [
        f"there is no column {n!r}; the file has {', '.join(table.columns)}"
        for n in columns.names
        if n not in table.columns
    ]
    problems += [
        f"{wanted[i]} and {role} are the same column {n!r}: choose different columns"
        for i, n in enumerate(columns.names)
        for role, m in zip(wanted[i + 1 :], columns.names[i + 1 :], strict=True)
        if n == m
    ]
    if problems:
        raise UploadError(problems)
    if len(table.rows) < YOURS_MIN:
        raise UploadError([f"the file has {len(table.rows)} row of data; at least {YOURS_MIN}"])
    index = [table.columns.index(n) for n in columns.names]
    values: list[list[float]] = [[] for _ in index]
    for row, line in zip(table.rows, table.lines, strict=True):
        for k, (i, n) in enumerate(zip(index, columns.names, strict=True)):
            where = f"line {line}, column {n!r}"
            is_label = columns.task == "classification" and k == 2
            got = _label(row[i], where) if is_label else _number(row[i], where)
            if isinstance(got, str):
                problems.append(got)
            else:
                values[k].append(got)
    if problems:
        raise UploadError(problems)
    if columns.task == "regression":
        return UserData(name, "regression", np.array(values[0])[:, None], np.array(values[1]))
    labels = sorted(set(values[2]))
    label = columns.names[2]
    if len(labels) < CLASSES_RANGE[0]:
        raise UploadError(
            [f"column {label!r} holds one class only ({labels[0]}): a classifier needs two to five"]
        )
    if len(labels) > CLASSES_RANGE[1]:
        shown = ", ".join(map(str, labels[:6])) + (", …" if len(labels) > 6 else "")
        raise UploadError(
            [f"column {label!r} holds {len(labels)} classes ({shown}); at most {CLASSES_RANGE[1]}"]
        )
    ids = {v: i for i, v in enumerate(labels)}
    x = np.array([values[0], values[1]]).T
    y = np.array([ids[v] for v in values[2]])
    return UserData(name, classification_task(len(labels)), x, y, tuple(map(str, labels)))
