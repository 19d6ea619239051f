"""A checked formula as the Python source of a PyTorch `nn.Module`: text out, nothing run here.

The source is built from the checked syntax tree, never from the typed text: each allowed node
becomes its torch twin (`abs` → `torch.abs`, `softplus` → `F.softplus`, `a < b` → a float mask),
parts made of numbers only are folded to one literal (computed as the compiled formula computes
them, in float64), and `ast.unparse` writes the result, so precedence is Python's own. The only
names in the source are the whitelist's, the parser's validated parameter names and the class
name (checked here); the typed text appears only in the docstring, escaped so it cannot end it.

The module's `reduction` follows the compiled formula (`explorer.expression`'s reduction rule):
a per-element formula is reduced by it; a formula that is a linear combination of means (sums)
keeps its own mean (sum) for "mean" and "sum", and "none" gives the per-element terms inside;
a formula that mixes samples has no per-element values, so it refuses "none".
"""

import ast
import math
import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from . import CompiledLoss, compile_loss
from .build import FUNCTIONS, Builder, Env
from .kinds import MIXED, REDUCERS

CLASS_NAME = re.compile(r"[A-Z][A-Za-z0-9]{0,63}")
_STATIC = Env({}, torch.float64, torch.device("cpu"), per_element=False)
_TORCH = {"softplus": ("F", "softplus")}  # every other function is torch.<name>
_SAMPLE = {"pred": "input", "target": "target", "r": "r"}  # formula variable → forward's local
_REDUCTION_NOTES = {
    "elem": "reduction: 'none' gives one value per element, 'mean' their mean, 'sum' their sum.",
    "mean": "The formula is a mean of per-element terms: reduction='none' gives those terms; "
    "'mean' and 'sum' both give the formula's own value, their mean.",
    "sum": "The formula is a sum of per-element terms: reduction='none' gives those terms; "
    "'mean' and 'sum' both give the formula's own value, their sum.",
    MIXED: "The formula mixes samples, so it has no per-element values: reduction='none' is "
    "refused; a non-scalar value is reduced by 'mean' or 'sum'.",
}
_RETURNS = {
    "elem": [
        'if self.reduction == "none":',
        "    return loss",
        'return loss.mean() if self.reduction == "mean" else loss.sum()',
    ],
    "mean": ['return loss if self.reduction == "none" else loss.mean()'],
    "sum": ['return loss if self.reduction == "none" else loss.sum()'],
    MIXED: [
        "if loss.dim() == 0:",
        "    return loss",
        'return loss.mean() if self.reduction == "mean" else loss.sum()',
    ],
}


@dataclass(frozen=True)
class ModuleSource:
    """Ready-to-paste source: `code` defines the class, `check` runs gradcheck on it."""

    class_name: str
    code: str
    check: str

    @property
    def text(self) -> str:
        """The class and its check as one file."""
        return f"{self.code}\n\n{self.check}"


def docstring_text(text: str) -> str:
    """text on one line, safe inside a non-raw triple-quoted string: backslashes and quotes
    escaped (so it cannot close the string), anything but printable ASCII as an escape."""
    flat = " ".join(str(text).split())
    flat = flat.replace("\\", "\\\\").replace('"', '\\"')
    return "".join(c if c.isascii() and c.isprintable() else ascii(c)[1:-1] for c in flat)


def module_source(
    loss: CompiledLoss | str,
    params: Mapping[str, float] | None = None,
    *,
    class_name: str = "CustomLoss",
    reduction: str = "mean",
    summary: str = "",
) -> ModuleSource:
    """The formula as a class `class_name(nn.Module)` with forward(input, target), its parameters
    (values from params, else 1.0) and `reduction` as constructor arguments, and a gradcheck.

    summary: the docstring's first line (default: "Custom loss `<formula>`"), escaped too.
    """
    loss = compile_loss(loss) if isinstance(loss, str) else loss
    if not CLASS_NAME.fullmatch(class_name):
        raise ValueError(f"class name must match {CLASS_NAME.pattern}, got {class_name!r}")
    values = {name: _value(name, (params or {}).get(name, 1.0)) for name in loss.params}
    allowed = ("mean", "sum") if loss.kind == MIXED else ("none", "mean", "sum")
    if reduction not in allowed:
        raise ValueError(f"reduction must be one of {allowed} for this formula, got {reduction!r}")
    kind = loss.kind if loss.kind in (*REDUCERS, MIXED) else "elem"
    body = _statement(_Emitter(loss).tensor(loss.tree))
    code = _class_code(loss, class_name, values, reduction, kind, body, summary)
    return ModuleSource(class_name, code, _check_code(class_name, values, reduction))


def _value(name: str, value: object) -> float:
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number):
        raise ValueError(f"parameter `{name}` must be a finite number, got {value!r}")
    return number


class _Emitter:
    """Checked formula tree → a Python expression tree over torch (see the module)."""

    def __init__(self, loss: CompiledLoss) -> None:
        self.per_element = loss.elementwise  # mean/sum pass their argument through
        self.builder = Builder(loss.text, 0)  # builds sub-trees: their kind and folded value

    def emit(self, node: ast.expr) -> ast.expr:
        closure, kind = self.builder.build(node)
        if kind == "const":
            return _literal(float(closure(_STATIC)))
        if isinstance(node, ast.Name):
            return ast.Name(_SAMPLE.get(node.id, node.id))
        if isinstance(node, ast.UnaryOp):
            inner = self.emit(node.operand)
            return ast.UnaryOp(ast.USub(), inner) if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp):
            return ast.BinOp(self.emit(node.left), node.op, self.emit(node.right))
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return self._call(node.func.id, node.args)
        raise ValueError(f"not a checked formula tree: `{type(node).__name__}`")

    def tensor(self, node: ast.expr) -> ast.expr:
        """node as a tensor: a folded number becomes input.new_tensor(number)."""
        out = self.emit(node)
        return _call(_attr("input", "new_tensor"), out) if _is_literal(out) else out

    def _test(self, op: ast.cmpop, left: ast.expr, right: ast.expr) -> ast.Compare:
        """left op right on tensors: a number may stay a number beside a tensor."""
        a, b = self.emit(left), self.emit(right)
        if _is_literal(a) and _is_literal(b):
            a = _call(_attr("input", "new_tensor"), a)
        return ast.Compare(a, [op], [b])

    def _compare(self, node: ast.Compare) -> ast.expr:
        sides = [node.left, *node.comparators]
        masks = [
            _call(ast.Attribute(self._test(op, a, b), "to"), _attr("input", "dtype"))
            for op, a, b in zip(node.ops, sides, sides[1:], strict=False)
        ]  # a < b < c is (a < b)·(b < c)
        out: ast.expr = masks[0]
        for mask in masks[1:]:
            out = ast.BinOp(out, ast.Mult(), mask)
        return out

    def _call(self, name: str, args: list[ast.expr]) -> ast.expr:
        if name in REDUCERS:
            inner = self.emit(args[0])
            return inner if self.per_element else _call(_attr("torch", name), inner)
        if name == "where":  # where(cond, a, b) picks a where cond != 0
            cond = args[0]
            if isinstance(cond, ast.Compare) and len(cond.ops) == 1:
                mask: ast.expr = self._test(cond.ops[0], cond.left, cond.comparators[0])
            else:
                mask = ast.Compare(self.tensor(cond), [ast.NotEq()], [ast.Constant(0)])
            return _call(_attr("torch", "where"), mask, *(self.tensor(a) for a in args[1:]))
        if name == "clamp":
            x, lo, hi = (self.tensor(args[0]), self.emit(args[1]), self.emit(args[2]))
            if _is_literal(lo) and _is_literal(hi):
                return _call(_attr("torch", "clamp"), x, lo, hi)
            parts = _call(_attr("torch", "broadcast_tensors"), x, self.tensor(args[1]))
            parts.args.append(self.tensor(args[2]))
            return _call(_attr("torch", "clamp"), ast.Starred(parts))
        module, attr = _TORCH.get(name, ("torch", name))
        if name not in FUNCTIONS:
            raise ValueError(f"not a checked formula tree: function `{name}`")
        return _call(_attr(module, attr), *(self.tensor(a) for a in args))


def _attr(name: str, attr: str) -> ast.Attribute:
    return ast.Attribute(ast.Name(name), attr)


def _call(func: ast.expr, *args: ast.expr) -> ast.Call:
    return ast.Call(func, list(args), [])


def _literal(value: float) -> ast.expr:
    """A number as source: integers without a point, negatives as -x, NaN/inf as float(...)."""
    if math.isnan(value):
        return _call(ast.Name("float"), ast.Constant("nan"))
    if math.copysign(1.0, value) < 0:
        return ast.UnaryOp(ast.USub(), _literal(-value))
    if math.isinf(value):
        return _call(ast.Name("float"), ast.Constant("inf"))
    return ast.Constant(int(value) if value.is_integer() and value < 1e15 else value)


def _is_literal(node: ast.expr) -> bool:
    """Whether node is a folded number (a plain Python float/int, not a tensor)."""
    if isinstance(node, ast.UnaryOp):
        return _is_literal(node.operand)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id == "float"
    return isinstance(node, ast.Constant)


def _statement(tree: ast.expr, width: int = 88) -> list[str]:
    """`loss = <tree>` as lines: a long sum or difference gets one term a line."""
    line = f"loss = {ast.unparse(tree)}"
    if len(line) <= width:
        return [line]
    terms: list[tuple[str, ast.expr]] = []
    while isinstance(tree, ast.BinOp) and isinstance(tree.op, ast.Add | ast.Sub):
        terms.append(("+" if isinstance(tree.op, ast.Add) else "-", tree.right))
        tree = tree.left
    if not terms:
        return [line]
    parts = [ast.unparse(tree)]
    for sign, term in reversed(terms):
        text = ast.unparse(term)
        low = isinstance(term, ast.BinOp) and isinstance(term.op, ast.Add | ast.Sub)
        parts.append(f"{sign} ({text})" if low else f"{sign} {text}")
    return ["loss = (", *(f"    {p}" for p in parts), ")"]


def _variables(loss: CompiledLoss) -> set[str]:
    """The sample variables (pred, target, r) the formula uses."""
    return {n.id for n in ast.walk(loss.tree) if isinstance(n, ast.Name) and n.id in _SAMPLE}


def _quoted(names: tuple[str, ...]) -> str:
    return "(" + ", ".join(f'"{n}"' for n in names) + ")"


def _doc(summary: str, loss: CompiledLoss, kind: str) -> list[str]:
    """The docstring's lines (without indentation): what it computes, reduction, shapes."""
    first = docstring_text(summary) or f"Custom loss `{docstring_text(loss.text)}`."
    first = first if len(first) <= 84 else "A custom loss typed as a formula."
    wrap = lambda text: textwrap.wrap(text, 92, break_long_words=False, break_on_hyphens=False)
    return [
        f'"""{first}',
        "",
        *wrap(f"Formula: {docstring_text(loss.text)}, with pred = input and r = input - target."),
        *wrap(_REDUCTION_NOTES[kind]),
        "Shapes: input and target of the same shape; target is cast to input's dtype.",
        '"""',
    ]


def _class_code(
    loss: CompiledLoss,
    class_name: str,
    values: dict[str, float],
    reduction: str,
    kind: str,
    body: list[str],
    summary: str,
) -> str:
    args = [f"{name}: float = {value!r}" for name, value in values.items()]
    head = ", ".join(["self", *args, f'reduction: str = "{reduction}"'])
    allowed = ("mean", "sum") if kind == MIXED else ("none", "mean", "sum")
    used = _variables(loss)
    words = ", ".join(f"'{a}'" for a in allowed)
    init = [
        f"def __init__({head}) -> None:",
        "    super().__init__()",
        f"    if reduction not in {_quoted(allowed)}:",
        f'        raise ValueError(f"reduction must be one of {words}, got {{reduction!r}}")',
        *(f"    self.{name} = {name}" for name in values),
        "    self.reduction = reduction",
    ]
    forward = ["def forward(self, input: Tensor, target: Tensor) -> Tensor:"]
    forward += ["    target = target.to(input.dtype)"]
    forward += ["    r = input - target"] if "r" in used else []
    forward += [
        f"    {n} = torch.as_tensor(self.{n}, dtype=input.dtype, device=input.device)"
        for n in values
    ]
    forward += [f"    {line}" for line in body]
    if loss.elementwise and not used & {"pred", "r"}:  # one value per element, as compiled
        forward += ["    loss = torch.broadcast_to(loss, input.shape)"]
    forward += [f"    {line}" for line in _RETURNS[kind]]
    lines = [
        "import torch",
        "import torch.nn.functional as F",
        "from torch import Tensor, nn",
        "",
        "",
        f"class {class_name}(nn.Module):",
        *(f"    {line}" if line else "" for line in _doc(summary, loss, kind)),
        "",
        *(f"    {line}" for line in init),
        "",
        *(f"    {line}" for line in forward),
    ]
    return "\n".join(lines) + "\n"


def _check_code(class_name: str, values: dict[str, float], reduction: str) -> str:
    args = ", ".join([*(f"{n}={v!r}" for n, v in values.items()), f'reduction="{reduction}"'])
    lines = [
        "# gradcheck: autograd against float64 finite differences, at inputs where the",
        "# formula is defined (r in (0.5, 2)); change them to your data's range",
        "torch.manual_seed(0)",
        f"loss_fn = {class_name}({args})",
        "input = (torch.rand(8, dtype=torch.float64) + 1).requires_grad_()",
        "target = (torch.rand(8, dtype=torch.float64) / 2).requires_grad_()",
        "assert torch.autograd.gradcheck(loss_fn, (input, target))",
        'print("gradcheck passed:", loss_fn(input, target).item())',
    ]
    return "\n".join(lines) + "\n"
