"""The kind of an expression: how its value depends on the samples.

"const" (numbers only), "free" (parameters, no samples), "elem" (per element), "mean"/"sum" (a
linear combination of means or of sums), "mixed" (anything else). A loss whose kind is per
element or "mean" has per-element values whose mean is the loss (reduction="none" exists);
`mixing` says, for the first node that is "mixed", in words, how it mixes the samples.
"""

import ast
from typing import Final, Literal

Kind = Literal["const", "free", "elem", "mean", "sum", "mixed"]
CONST: Final = "const"
FREE: Final = "free"
ELEM: Final = "elem"
MIXED: Final = "mixed"
REDUCERS: Final = ("mean", "sum")
_PER_ELEMENT: tuple[Kind, ...] = (CONST, FREE, ELEM)  # in order: a combination takes the last
SCALAR: tuple[Kind, ...] = (CONST, FREE)


def join(*kinds: Kind) -> Kind:
    """The kind of a non-linear combination: any mean/sum inside makes it mixed."""
    if any(k not in _PER_ELEMENT for k in kinds):
        return MIXED
    return max(kinds, key=_PER_ELEMENT.index)


def linear(op: type[ast.operator], a: Kind, b: Kind) -> Kind:
    """The kind of a op b for + - * /: means (sums) survive adding means (sums) and scaling.

    mean(A) + k = mean(A + k), but sum(A) + k ≠ sum(A + k): only means absorb scalars.
    """
    if a in _PER_ELEMENT and b in _PER_ELEMENT:
        return join(a, b)
    if op in (ast.Add, ast.Sub):
        if a == b or (a == "mean" and b in SCALAR) or (b == "mean" and a in SCALAR):
            return a if a in REDUCERS else b
        return MIXED
    if op is ast.Mult and (a in SCALAR or b in SCALAR):
        return a if b in SCALAR else b
    return a if op is ast.Div and b in SCALAR else MIXED


def operands(node: ast.expr) -> list[ast.expr]:
    """The sub-expressions a node combines (none for a number or a name)."""
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.Compare):
        return [node.left, *node.comparators]
    return list(node.args) if isinstance(node, ast.Call) else []


def _amount(kinds: list[Kind]) -> str:
    """ "a mean", "a sum" or "a mean and a sum": the reductions among kinds."""
    found = [k for k in REDUCERS if k in kinds]
    return " and ".join(f"a {k}" for k in found) or "a mean or sum"


def mixing(node: ast.expr, kinds: list[Kind]) -> str:
    """How node, whose operands are each per element or a linear combination of means (sums),
    mixes samples."""
    what = _amount(kinds)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        name = node.func.id
        return f"takes the {name} of {what}" if name in REDUCERS else f"applies {name} to {what}"
    if isinstance(node, ast.Compare):
        return f"compares {what}"
    if not isinstance(node, ast.BinOp) or len(kinds) != 2:
        return f"puts {what} inside a non-linear term"
    if isinstance(node.op, ast.Pow):
        if kinds[0] in REDUCERS:
            return f"raises {_amount(kinds[:1])} to a power"
        return f"has {_amount(kinds[1:])} in its exponent"
    if ELEM in kinds:
        return f"combines per-element values with {what}"
    if isinstance(node.op, ast.Add | ast.Sub):
        if all(k in REDUCERS for k in kinds):
            return "adds a mean and a sum"
        return "adds a number to a sum (sum(A) + k is not sum(A + k))"
    if isinstance(node.op, ast.Div) and kinds[1] in REDUCERS:
        return f"divides by {_amount(kinds[1:])}"
    return f"multiplies {_amount(kinds[:1])} by {_amount(kinds[1:])}"
