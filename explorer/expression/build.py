"""Checked syntax tree → torch closures: the whitelist of names, functions and operators.

Each allowed node becomes `closure(env) -> Tensor` over torch ops, plus its *kind*, which says
how it depends on the samples (explorer.expression.kinds).
"""

import ast
import builtins
import difflib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import torch
import torch.nn.functional as F
from torch import Tensor

from .kinds import CONST, ELEM, FREE, MIXED, REDUCERS, SCALAR, Kind, join, linear, mixing, operands
from .parse import fail

MAX_CONSTANT, MAX_EXPONENT, MAX_PARAMS = 1e6, 10.0, 6
VARIABLES = ("pred", "target", "r")
RESERVED = ("reduction", "weights", "self")  # the loss's own keyword arguments
CONSTANTS = {"pi": math.pi, "e": math.e}
NAME_RULE = re.compile(r"[a-z][a-z0-9_]{0,15}")
NON_FINITE_NAMES = frozenset({"inf", "infinity", "infty", "nan"})  # in any case


def _clamp(x: Tensor, lo: Tensor, hi: Tensor) -> Tensor:
    return torch.clamp(*torch.broadcast_tensors(x, lo, hi))


def _where(cond: Tensor, a: Tensor, b: Tensor) -> Tensor:
    return torch.where(cond != 0, a, b)


FUNCTIONS: dict[str, tuple[Callable[..., Tensor], tuple[str, ...]]] = {
    "abs": (torch.abs, ("x",)),
    "sqrt": (torch.sqrt, ("x",)),
    "exp": (torch.exp, ("x",)),
    "log": (torch.log, ("x",)),
    "log1p": (torch.log1p, ("x",)),
    "sigmoid": (torch.sigmoid, ("x",)),
    "tanh": (torch.tanh, ("x",)),
    "relu": (torch.relu, ("x",)),
    "softplus": (F.softplus, ("x",)),
    "clamp": (_clamp, ("x", "lo", "hi")),
    "minimum": (torch.minimum, ("a", "b")),
    "maximum": (torch.maximum, ("a", "b")),
    "where": (_where, ("cond", "a", "b")),
    "round": (torch.round, ("x",)),
    "sign": (torch.sign, ("x",)),
    "mean": (torch.mean, ("x",)),
    "sum": (torch.sum, ("x",)),
}
_ARITHMETIC: dict[type[ast.operator], Callable[..., Tensor]] = {
    ast.Add: torch.add,
    ast.Sub: torch.sub,
    ast.Mult: torch.mul,
    ast.Div: torch.div,
    ast.Pow: torch.pow,
}
_COMPARISONS: dict[type[ast.cmpop], Callable[..., Tensor]] = {
    ast.Lt: torch.lt,
    ast.LtE: torch.le,
    ast.Gt: torch.gt,
    ast.GtE: torch.ge,
    ast.Eq: torch.eq,
    ast.NotEq: torch.ne,
}
_SYMBOLS: dict[type[ast.AST], str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_SYMBOLS[ast.Pow] = "**"
_SYMBOLS |= {ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.BitAnd: "&", ast.BitOr: "|"}
_SYMBOLS |= {ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>", ast.In: "in", ast.NotIn: "in"}
_SYMBOLS |= {ast.Is: "is", ast.IsNot: "is", ast.Not: "not", ast.Invert: "~"}
_HINTS = {"max": "maximum", "min": "minimum", "ln": "log", "clip": "clamp", "pow": "**"}
_REFUSED: dict[type[ast.AST], str] = {
    ast.Subscript: "subscripts (`x[...]`) are not allowed",
    ast.Lambda: "lambdas are not allowed",
    ast.NamedExpr: "assignments (`:=`) are not allowed",
    ast.IfExp: "`a if c else b` is not supported: use where(c, a, b)",
    ast.BoolOp: "`and` / `or` are not supported: multiply masks for and, maximum(m1, m2) for or",
    ast.JoinedStr: "f-strings are not allowed",
    ast.Starred: "`*` unpacking is not allowed",
}
_CONTAINERS = (ast.List, ast.Tuple, ast.Set, ast.Dict)
_LOOPS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_REFUSED |= dict.fromkeys(_CONTAINERS, "lists, tuples, sets and dicts are not allowed")
_REFUSED |= dict.fromkeys(_LOOPS, "comprehensions (`for` inside) are not allowed")
_PYTHON_BUILTINS = frozenset(dir(builtins))


@dataclass(frozen=True)
class Env:
    """What closures evaluate against: named tensors, dtype/device for constants, and the mode."""

    values: dict[str, torch.Tensor]
    dtype: torch.dtype
    device: torch.device
    per_element: bool  # mean/sum pass their argument through (one sample's share of the loss)


Closure = Callable[[Env], Tensor]  # a built node: its value in an Env
_STATIC = Env({}, torch.float64, torch.device("cpu"), per_element=False)


def _why_not_finite(node: ast.expr, values: list[float]) -> str:
    """Why node's value is NaN or infinite when the values of its operands are finite."""
    if isinstance(node, ast.BinOp) and len(values) == 2:
        a, b = values
        if isinstance(node.op, ast.Div) and b == 0:
            return "divides zero by zero" if a == 0 else "divides by zero"
        if isinstance(node.op, ast.Pow) and a == 0 and b < 0:
            return "raises zero to a negative power"
        if isinstance(node.op, ast.Pow) and a < 0 and b != int(b):
            return "raises a negative number to a fractional power"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and values:
        name, x = node.func.id, values[0]
        if name == "log" and x <= 0:
            return "takes the log of zero" if x == 0 else "takes the log of a negative number"
        if name == "log1p" and x <= -1:
            return "takes log1p of −1 (the log of zero)" if x == -1 else "takes log1p below −1"
        if name == "sqrt" and x < 0:
            return "takes the square root of a negative number"
    return "overflows the floating-point range"


def _constant(value: float) -> Closure:
    return lambda env: torch.tensor(value, dtype=env.dtype, device=env.device)


def _lookup(name: str) -> Closure:
    return lambda env: env.values[name]


class Builder:
    """Walks a parsed tree: checks each node and returns (closure over an Env, kind)."""

    def __init__(self, flat: str, cut: int) -> None:
        self.text, self.cut = flat, cut
        self.params: list[str] = []  # parameter names, in order of first use
        self.mixing = ""  # how the first part that mixes samples does it ("" if none does)
        self._kinds: dict[int, Kind] = {}  # id(node) -> kind of every node built so far
        self._methods: dict[type[ast.expr], Callable[[Any], tuple[Closure, Kind]]] = {
            ast.Constant: self._number,
            ast.Name: self._name,
            ast.Call: self._call,
            ast.UnaryOp: self._unary,
            ast.BinOp: self._binary,
            ast.Compare: self._compare,
        }

    def col(self, node: ast.expr | ast.keyword) -> int:
        """The 1-based column of node in the text."""
        return node.col_offset + 1 + self.cut

    def end(self, node: ast.expr) -> int:
        """Where node ends, as an index into the text (ast.parse always sets the end)."""
        return (node.end_col_offset or 0) + self.cut

    def source(self, node: ast.expr, limit: int = 40) -> str:
        """node's text, shortened to `limit` characters."""
        text = self.text[self.col(node) - 1 : self.end(node)].strip()
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def build(self, node: ast.expr) -> tuple[Closure, Kind]:
        method = self._methods.get(type(node))
        closure, kind = method(node) if method else self._refuse(node)
        self._kinds[id(node)] = kind
        if kind == MIXED and not self.mixing:  # built bottom-up: the innermost mixing part
            kinds = [self._kinds.get(id(c), ELEM) for c in operands(node)]
            self.mixing = f"`{self.source(node)}` {mixing(node, kinds)}"
        return closure, kind

    def _static(self, node: ast.expr) -> float:
        """The value of a part made of numbers only."""
        return float(self.build(node)[0](_STATIC))

    def _not_finite(self, node: ast.expr) -> tuple[ast.expr, str]:
        """The innermost part of a non-finite constant whose operands are finite, and why it is not."""
        while True:
            parts = operands(node)
            values = [self._static(c) for c in parts]
            bad = [c for c, v in zip(parts, values, strict=True) if not math.isfinite(v)]
            if not bad:
                return node, _why_not_finite(node, values)
            node = bad[0]

    def _refuse(self, node: ast.expr) -> NoReturn:
        if isinstance(node, ast.Attribute):
            dot = self.text.rfind(".", 0, self.end(node) - len(node.attr))
            fail(f"attribute access (`.{node.attr}`) is not allowed", dot + 1)
        fail(_REFUSED.get(type(node), f"`{type(node).__name__}` is not allowed"), self.col(node))

    def _number(self, node: ast.Constant) -> tuple[Closure, Kind]:
        value, col = node.value, self.col(node)
        source = self.text[col - 1 : self.end(node)][:20]
        if isinstance(value, str | bytes):
            fail("strings are not allowed", col)
        if isinstance(value, bool) or not isinstance(value, int | float):
            fail(f"`{source}` is not a number you can use here", col)
        if isinstance(value, float) and math.isinf(value):
            fail(f"number `{source}` overflows to infinity (at most {MAX_CONSTANT:g})", col)
        if not abs(value) <= MAX_CONSTANT:
            fail(f"number `{source}` is too large (at most {MAX_CONSTANT:g})", col)
        return _constant(float(value)), CONST

    def _name(self, node: ast.Name) -> tuple[Closure, Kind]:
        name, col = node.id, self.col(node)
        if name in VARIABLES:
            return _lookup(name), ELEM
        if name in CONSTANTS:
            return _constant(CONSTANTS[name]), CONST
        if name in FUNCTIONS:
            fail(f"`{name}` is a function: call it, e.g. {name}(r)", col)
        self._check_name(name, col)
        if name not in self.params:
            self.params.append(name)
            if len(self.params) > MAX_PARAMS:
                names = ", ".join(self.params)
                fail(f"too many parameters ({len(self.params)} > {MAX_PARAMS}: {names})", col)
        return _lookup(name), FREE

    def _check_name(self, name: str, col: int) -> None:
        if name.lower() in NON_FINITE_NAMES:
            nan = name.lower() == "nan"
            fail(
                f"name `{name}` is not allowed: it reads as {'NaN' if nan else 'infinity'}, "
                "which no loss can use (and it is not a parameter)",
                col,
                "NaN turns every value and gradient into NaN"
                if nan
                else "write a finite number instead, e.g. 1e6 for a large bound",
            )
        if name.startswith("_"):
            fail(f"name `{name[:20]}` is not allowed (names may not start with `_`)", col)
        if not NAME_RULE.fullmatch(name):
            rule = "lower-case letters, digits and _, starting with a letter, at most 16 long"
            fail(f"name `{name[:20]}` is not allowed ({rule})", col)
        if name in _PYTHON_BUILTINS:
            fail(f"`{name}` is a Python built-in, not a parameter name", col)
        if name in RESERVED:
            fail(f"`{name}` is reserved (an argument of the loss), pick another name", col)

    def _unary(self, node: ast.UnaryOp) -> tuple[Closure, Kind]:
        if not isinstance(node.op, ast.USub | ast.UAdd):
            fail(f"`{_SYMBOLS[type(node.op)]}` is not supported", self.col(node))
        operand, kind = self.build(node.operand)
        if isinstance(node.op, ast.UAdd):
            return operand, kind
        return (lambda env: torch.neg(operand(env))), kind

    def _binary(self, node: ast.BinOp) -> tuple[Closure, Kind]:
        op, symbol = type(node.op), _SYMBOLS.get(type(node.op), "?")
        between = (self.end(node.left), node.right.col_offset + self.cut)
        col = self.text.find(symbol, *between) + 1 or self.col(node)
        if op not in _ARITHMETIC:
            fail(f"operator `{symbol}` is not supported (use + - * / **)", col)
        (left, a), (right, b) = self.build(node.left), self.build(node.right)
        if op is ast.Pow and b == CONST:
            p = float(right(_STATIC))
            if not math.isfinite(p):
                part, why = self._not_finite(node.right)
                what = "NaN (not a number)" if math.isnan(p) else "infinite"
                fail(
                    f"the exponent after `**` is {what}: `{self.source(part)}` {why}",
                    self.col(part),
                )
            if not abs(p) <= MAX_EXPONENT:
                fail(f"exponent {p:.6g} after `**` is too large (|p| ≤ {MAX_EXPONENT:g})", col)
        fn = _ARITHMETIC[op]
        kind = join(a, b) if op is ast.Pow else linear(op, a, b)
        return (lambda env: fn(left(env), right(env))), kind

    def _compare(self, node: ast.Compare) -> tuple[Closure, Kind]:
        for op in node.ops:
            if type(op) not in _COMPARISONS:
                symbol = _SYMBOLS[type(op)]
                fail(f"`{symbol}` is not supported: use < <= > >= == !=", self.col(node))
        built = [self.build(n) for n in (node.left, *node.comparators)]
        pairs = list(zip(node.ops, built, built[1:], strict=False))
        tests = [(_COMPARISONS[type(op)], a, b) for op, (a, _), (b, _) in pairs]

        def compare(env: Env) -> Tensor:  # a < b < c is (a < b)·(b < c)
            masks = [test(a(env), b(env)).to(env.dtype) for test, a, b in tests]
            return math.prod(masks[1:], start=masks[0])

        return compare, join(*(k for _, k in built))

    def _call(self, node: ast.Call) -> tuple[Closure, Kind]:
        name = self._function_name(node)
        fn, arg_names = FUNCTIONS[name]
        for kw in node.keywords:
            shown = f"`{kw.arg}=`" if kw.arg else "`**`"
            fail(f"keyword arguments ({shown}) are not allowed", self.col(kw))
        if len(node.args) != len(arg_names):
            wanted = f"{len(arg_names)} argument(s) ({', '.join(arg_names)})"
            fail(f"`{name}` takes {wanted}, got {len(node.args)}", self.col(node))
        built = [self.build(a) for a in node.args]
        args = [c for c, _ in built]
        if name in REDUCERS:  # of a scalar it is the scalar itself
            ((inner, kind),) = built
            reducer: Kind = "mean" if name == "mean" else "sum"
            kind = reducer if kind == ELEM else kind if kind in SCALAR else MIXED
            return (lambda env: inner(env) if env.per_element else fn(inner(env))), kind
        return (lambda env: fn(*[a(env) for a in args])), join(*(k for _, k in built))

    def _function_name(self, node: ast.Call) -> str:
        func, col = node.func, self.col(node)
        known = "known: " + ", ".join(sorted(FUNCTIONS))
        if isinstance(func, ast.Attribute):
            self._refuse(func)
        if not isinstance(func, ast.Name):
            fail("only the listed functions can be called", col, known)
        if func.id in FUNCTIONS:
            return func.id
        if func.id in VARIABLES or func.id in CONSTANTS:
            fail(f"`{func.id}` is not a function", col)
        if not NAME_RULE.fullmatch(func.id):
            self._check_name(func.id, col)
        close = _HINTS.get(func.id) or next(iter(difflib.get_close_matches(func.id, FUNCTIONS)), "")
        fail(
            f"unknown function `{func.id}`",
            col,
            (f"did you mean `{close}`? " if close else "") + known,
        )
