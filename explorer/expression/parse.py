"""Text → syntax tree, with the limits on size: nothing here evaluates anything.

`ast.parse` only builds a tree (it compiles to an AST, never to bytecode). Before it, the text
must be short plain ASCII; after it, the tree must be small and shallow (a chain of + and -,
or of * and /, is one level however long). Every refusal is an `ExpressionError` carrying the
1-based column where the problem is.
"""

import ast
import re
import warnings
from typing import NoReturn

MAX_CHARS, MAX_NODES, MAX_DEPTH = 500, 200, 30

_BAD_CHARACTERS = {
    "'": "strings are not allowed (quote `'`)",
    '"': 'strings are not allowed (quote `"`)',
    "[": "square brackets (lists, subscripts) are not allowed",
    "]": "square brackets (lists, subscripts) are not allowed",
    "{": "braces (sets, dicts) are not allowed",
    "}": "braces (sets, dicts) are not allowed",
    ":": "`:` is not allowed (no lambdas, slices or `:=`)",
    "#": "comments (`#`) are not allowed",
    "\\": "backslashes are not allowed",
}
_NOT_OPERATORS = "@%&|^~$?`;"


class ExpressionError(ValueError):
    """A custom-loss expression that cannot be used; `col` is its 1-based column, or None."""

    def __init__(self, message: str, col: int | None = None) -> None:
        super().__init__(message)
        self.col = col

    def __reduce__(self) -> tuple[type["ExpressionError"], tuple[str, int | None]]:
        return type(self), (str(self), self.col)


def fail(what: str, col: int | None, hint: str = "") -> NoReturn:
    """Raise ExpressionError("<what> at column <col>; <hint>")."""
    where = f" at column {col}" if col is not None else ""
    raise ExpressionError(what + where + (f"; {hint}" if hint else ""), col)


def parse(text: object) -> tuple[ast.expr, str, int]:
    """The checked tree's body, the text on one line, and how many leading blanks were cut.

    Columns in the tree are relative to the cut text: column = col_offset + 1 + cut.
    """
    if not isinstance(text, str):
        fail(f"the expression must be text, got {type(text).__name__}", None)
    if len(text) > MAX_CHARS:
        fail(f"expression too long ({len(text)} > {MAX_CHARS} characters)", MAX_CHARS + 1)
    for i, ch in enumerate(text):
        if not (ch.isascii() and (ch.isprintable() or ch in "\t\n\r")):
            fail(f"character {ascii(ch)} is not allowed (plain ASCII only)", i + 1)
    if "#" in text:  # a comment would hide part of the formula from its name and key
        fail(_BAD_CHARACTERS["#"], text.index("#") + 1)
    flat = re.sub(r"\s", " ", text)  # one line: a column is a position in the text
    stripped = flat.lstrip()  # eval mode refuses leading blanks ("unexpected indent")
    cut = len(flat) - len(stripped)
    if not stripped:
        fail("the expression is empty: type a formula such as mean((pred - target)**2)", 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the tokenizer's warnings become SyntaxErrors
            body = ast.parse(stripped, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        _refuse_characters(text)
        col = min(getattr(err, "offset", None) or len(stripped) + 1, len(stripped) + 1)
        fail(f"syntax error: {getattr(err, 'msg', None) or 'too deeply nested'}", col + cut)
    _check_size(body, cut)
    return body, flat, cut


def _refuse_characters(text: str) -> None:
    """Name the first character that can never be part of a formula, if there is one."""
    for i, ch in enumerate(text):
        if ch in _BAD_CHARACTERS:
            fail(_BAD_CHARACTERS[ch], i + 1)
        if ch in _NOT_OPERATORS:
            fail(f"`{ch}` is not an operator here (use + - * / ** and comparisons)", i + 1)


def _check_size(body: ast.expr, cut: int) -> None:
    """Refuse trees with too many parts or nested too deeply, without recursing.

    Depth counts real nesting: a chain `a + b - c + ...` (or `a * b / c * ...`) is one level,
    though Python parses it as left-nested operations; its size is bounded by the parts.
    """
    count = 0
    stack: list[tuple[ast.AST, int]] = [(body, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            fail(f"expression too complex (more than {MAX_NODES} parts)", None)
        if depth > MAX_DEPTH:
            col = getattr(node, "col_offset", 0) + 1 + cut
            fail(f"expression nested too deeply (more than {MAX_DEPTH} levels)", col)
        stack.extend((child, depth + (not _same_chain(node, child))) for child in _parts(node))


_CHAINS = ((ast.Add, ast.Sub), (ast.Mult, ast.Div))


def _same_chain(node: ast.AST, child: ast.AST) -> bool:
    """Whether child continues node's left-associative chain: `(a + b) - c`, `(a * b) / c`."""
    if not (isinstance(node, ast.BinOp) and isinstance(child, ast.BinOp) and child is node.left):
        return False
    return any(isinstance(node.op, ops) and isinstance(child.op, ops) for ops in _CHAINS)


def _parts(node: ast.AST) -> list[ast.AST]:
    """Child nodes that count towards size (operators and load/store markers do not)."""
    skip = (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)
    return [c for c in ast.iter_child_nodes(node) if not isinstance(c, skip)]
