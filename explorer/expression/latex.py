"""LaTeX for a checked custom-loss tree: good enough to read, not a typesetting engine.

Each node gives (latex, precedence); a child is wrapped in \\left( \\right) when it binds more
loosely than its place needs. Inside mean/sum the sample variables get a subscript i.
"""

import ast
from typing import NoReturn

ADD, MUL, UNARY, POW, ATOM = 1, 2, 3, 4, 5
_VARIABLES = {"pred": r"\hat{y}", "target": "y", "r": "r"}
_CONSTANTS = {"pi": r"\pi", "e": "e"}
_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "eta", "theta", "kappa", "mu", "nu"}
_GREEK |= {"xi", "rho", "sigma", "tau", "phi", "chi", "psi", "omega"}
_GREEK_ALIASES = {"lam": "lambda", "eps": "epsilon"}
_COMPARE = {
    ast.Lt: "<",
    ast.LtE: r"\le",
    ast.Gt: ">",
    ast.GtE: r"\ge",
    ast.Eq: "=",
    ast.NotEq: r"\ne",
}
_CALLS = {
    "abs": r"\left|{0}\right|",
    "sqrt": r"\sqrt{{{0}}}",
    "exp": r"\exp\left({0}\right)",
    "log": r"\log\left({0}\right)",
    "log1p": r"\log\left(1 + {0}\right)",
    "sigmoid": r"\sigma\left({0}\right)",
    "tanh": r"\tanh\left({0}\right)",
    "relu": r"\max\left(0, {0}\right)",
    "softplus": r"\log\left(1 + e^{{{0}}}\right)",
    "clamp": r"\operatorname{{clamp}}\left({0}, {1}, {2}\right)",
    "minimum": r"\min\left({0}, {1}\right)",
    "maximum": r"\max\left({0}, {1}\right)",
    "where": r"\begin{{cases}} {1} & \text{{if }} {0} \\ {2} & \text{{otherwise}} \end{{cases}}",
    "round": r"\operatorname{{round}}\left({0}\right)",
    "sign": r"\operatorname{{sign}}\left({0}\right)",
    "mean": r"\frac{{1}}{{N}}\sum_{{i}} {0}",
    "sum": r"\sum_{{i}} {0}",
}


def to_latex(node: ast.expr) -> str:
    """LaTeX (no $ delimiters) for a tree that explorer.expression has accepted."""
    return _tex(node, indexed=False)[0]


def _wrap(pair: tuple[str, int], least: int) -> str:
    text, prec = pair
    return text if prec >= least else rf"\left({text}\right)"


def _unchecked(node: ast.AST) -> NoReturn:
    raise ValueError(f"to_latex takes a checked tree; `{type(node).__name__}` is not in one")


def _tex(node: ast.expr, indexed: bool) -> tuple[str, int]:
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, int | float):
            _unchecked(node)
        return _number(node.value), ATOM
    if isinstance(node, ast.Name):
        return _name(node.id, indexed), ATOM
    if isinstance(node, ast.UnaryOp):
        sign = "-" if isinstance(node.op, ast.USub) else "+"
        return sign + _wrap(_tex(node.operand, indexed), MUL), UNARY
    if isinstance(node, ast.BinOp):
        return _binop(node, indexed)
    if isinstance(node, ast.Compare):
        return rf"\left[{_condition(node, indexed)}\right]", ATOM
    if isinstance(node, ast.Call):
        return _call(node, indexed)
    _unchecked(node)


def _binop(node: ast.BinOp, indexed: bool) -> tuple[str, int]:
    left, right = _tex(node.left, indexed), _tex(node.right, indexed)
    if isinstance(node.op, ast.Pow):
        return f"{_wrap(left, ATOM)}^{{{right[0]}}}", POW
    if isinstance(node.op, ast.Div):
        return rf"\frac{{{left[0]}}}{{{right[0]}}}", POW
    if isinstance(node.op, ast.Mult):
        a, b = _wrap(left, MUL), _wrap(right, POW)
        number_first = isinstance(node.left, ast.Constant) and not isinstance(
            node.right, ast.Constant
        )
        joint = r"\," if number_first and right[1] >= POW else r" \cdot "
        return a + joint + b, MUL
    sign = "+" if isinstance(node.op, ast.Add) else "-"
    return f"{left[0]} {sign} {_wrap(right, MUL)}", ADD


def _condition(node: ast.expr, indexed: bool) -> str:
    if not isinstance(node, ast.Compare):
        return _wrap(_tex(node, indexed), ATOM) + r" \ne 0"
    parts = [_tex(node.left, indexed)[0]]
    for op, right in zip(node.ops, node.comparators, strict=True):
        parts += [_COMPARE[type(op)], _tex(right, indexed)[0]]
    return " ".join(parts)


def _call(node: ast.Call, indexed: bool) -> tuple[str, int]:
    if not isinstance(node.func, ast.Name):
        _unchecked(node.func)
    name = node.func.id
    if name in ("mean", "sum"):
        return _CALLS[name].format(_wrap(_tex(node.args[0], True), MUL)), ADD
    if name == "where":
        args = [_condition(node.args[0], indexed)]
        args += [_tex(a, indexed)[0] for a in node.args[1:]]
    else:
        args = [_tex(a, indexed)[0] for a in node.args]
    return _CALLS[name].format(*args), ATOM


def _name(name: str, indexed: bool) -> str:
    if name in _VARIABLES:
        return _VARIABLES[name] + ("_i" if indexed else "")
    if name in _CONSTANTS:
        return _CONSTANTS[name]
    if name in _GREEK or name in _GREEK_ALIASES:
        return "\\" + _GREEK_ALIASES.get(name, name)
    if len(name) == 1 and name != "y":
        return name
    return r"\mathrm{" + name.replace("_", r"\_") + "}"


def _number(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    mantissa, _, exponent = f"{value:.6g}".partition("e")
    return mantissa + (rf" \cdot 10^{{{int(exponent)}}}" if exponent else "")
