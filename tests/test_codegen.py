"""A formula as PyTorch source: the generated nn.Module, executed here (never in the app), gives
the compiled formula's values and gradients in float64, passes gradcheck, and is safe source."""

import ast

import pytest
import torch

from explorer.expression import FUNCTIONS, ExpressionError, compile_loss
from explorer.expression.codegen import docstring_text, module_source

TOL = dict(rtol=1e-12, atol=1e-12)  # float64: the same ops in the same order, up to folding
N = 64
# every function, operator, comparison, constant and variable of the language, and every kind
# (per element, mean, sum, mixed, numbers only); params: the values the module is built with
TABLE = [
    ("mean(sigmoid(k*(t - abs(r))) * r**2)", {"k": 20.0, "t": 1.0}),
    ("sqrt(r**2 + 1) - 1 + exp(-abs(r))", {}),
    ("log(1 + r**2) + log1p(abs(r)) / 2", {}),
    ("tanh(r)**2 + relu(r - c) + softplus(-pred)", {"c": 0.3}),
    ("clamp(r, -1, 1)**2 + clamp(r, lo, hi) * target", {"lo": -0.5, "hi": 0.7}),
    ("minimum(r**2, 1) + maximum(0, r) + maximum(pred, target)", {}),
    ("where(abs(r) < 1, 0.5*r**2, abs(r) - 0.5) + where(r, 1, 0)", {}),
    ("round(pred) * r + sign(r) * r + (r > 0) + (r >= 0.1) * (r <= 2)", {}),
    ("(r == 0) + (r != 0) * r**2 + (-1 < r < 1) * pi + e", {}),
    ("sum(+r**2 - -r / 2) / 100", {}),
    ("mean(r**2) + k*mean(abs(r)) + 2", {"k": 0.5}),
    ("(mean(r) - target)**2 + sum(r**2) / 10", {}),
    ("mean(r)**2 + mean(abs(r - mean(r)))", {}),
    ("r - mean(r)", {}),
    ("2**r + (pred/3)**3 + 1/(1 + target**2)", {}),
    ("3 * 2 - 1", {}),
    ("k * (1 < 2 < r)", {"k": 2.5}),
]


def _inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    pred = 1.5 * torch.randn(N, generator=g, dtype=torch.float64)
    target = torch.randn(N, generator=g, dtype=torch.float64)
    pred[:4] = torch.tensor([0.0, 1.0, -1.0, 0.5], dtype=torch.float64) + target[:4]  # r on kinks
    return pred, target


def run_source(code: str) -> dict:
    """Run generated source in a fresh namespace: only a test does this, never the app."""
    namespace: dict = {}
    exec(compile(code, "<generated>", "exec"), namespace)  # noqa: S102
    return namespace


def _module(text: str, params: dict, reduction: str):
    return run_source(module_source(text, params).code)["CustomLoss"](**params, reduction=reduction)


def _value_and_grads(fn, pred, target, weights):
    pred, target = pred.clone().requires_grad_(), target.clone().requires_grad_()
    value = fn(pred, target)
    grads: tuple = (None, None)
    if value.requires_grad:  # a formula of numbers only has no graph
        cotangent = weights[: value.numel()].reshape(value.shape)
        grads = torch.autograd.grad((value * cotangent).sum(), (pred, target), allow_unused=True)
    return value.detach(), [torch.zeros_like(pred) if g is None else g for g in grads]


def test_the_table_covers_the_whole_language():
    used = {n.func.id for t, _ in TABLE for n in ast.walk(ast.parse(t)) if isinstance(n, ast.Call)}
    assert used == set(FUNCTIONS)
    nodes = {type(n) for t, _ in TABLE for n in ast.walk(ast.parse(t))}
    ops = {ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd}
    ops |= {ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq}
    assert ops <= nodes
    names = {n.id for t, _ in TABLE for n in ast.walk(ast.parse(t)) if isinstance(n, ast.Name)}
    assert {"pred", "target", "r", "pi", "e"} <= names
    assert {compile_loss(t).kind for t, _ in TABLE} == {"elem", "mean", "sum", "mixed"}


@pytest.mark.parametrize(("text", "params"), TABLE)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_generated_module_matches_the_compiled_formula(text, params, reduction):
    compiled = compile_loss(text)
    pred, target = _inputs()
    weights = torch.linspace(0.5, 1.5, N, dtype=torch.float64)  # a random-ish cotangent
    if reduction == "none" and not compiled.elementwise:
        with pytest.raises(ExpressionError):
            compiled(pred, target, reduction="none")
        with pytest.raises(ValueError, match="reduction must be one of"):
            _module(text, params, reduction)
        return
    expected = _value_and_grads(
        lambda p, y: compiled(p, y, reduction=reduction, **params), pred, target, weights
    )
    got = _value_and_grads(_module(text, params, reduction), pred, target, weights)
    assert got[0].shape == expected[0].shape
    torch.testing.assert_close(got[0], expected[0], **TOL)
    for g, e in zip(got[1], expected[1], strict=True):
        torch.testing.assert_close(g, e, **TOL)


@pytest.mark.parametrize(("text", "params"), TABLE)
def test_the_gradcheck_snippet_runs_and_passes(text, params, capsys):
    source = module_source(text, params)
    run_source(source.text)  # the module, then its snippet: gradcheck raises on a mismatch
    assert "gradcheck passed:" in capsys.readouterr().out


def test_the_module_takes_its_parameters_as_constructor_arguments():
    namespace = run_source(
        module_source("mean(sigmoid(k*(t - abs(r))) * r**2)", {"k": 20, "t": 1.5}).code
    )
    made = namespace["CustomLoss"]()
    assert (made.k, made.t, made.reduction) == (20.0, 1.5, "mean")
    pred, target = _inputs()
    other = namespace["CustomLoss"](k=3.0, t=0.5)
    expected = compile_loss("mean(sigmoid(k*(t - abs(r))) * r**2)")(pred, target, k=3.0, t=0.5)
    torch.testing.assert_close(other(pred, target), expected, **TOL)
    with pytest.raises(ValueError, match="reduction"):
        namespace["CustomLoss"](reduction="max")


def _names_in(code: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Name)}


def test_generated_source_uses_only_known_names():
    allowed = {"torch", "F", "Tensor", "nn", "self", "input", "target", "r", "loss", "super"}
    allowed |= {"ValueError", "float", "str", "reduction"}
    for text, params in TABLE:
        tree = ast.parse(module_source(text, params).code)
        imports = [ast.unparse(n) for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        assert imports == [
            "import torch",
            "import torch.nn.functional as F",
            "from torch import Tensor, nn",
        ]
        assert _names_in(module_source(text, params).code) <= allowed | set(params)


HOSTILE = [
    '"""; import os; os.system("echo pwned") #',
    'end with a quote"',
    "back\\slash\\",
    'line\nbreak """\n__import__("os")',
    "non-ascii: é ∑ \x00",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_docstring_text_cannot_close_the_string(text):
    tree = ast.parse(f'"""{docstring_text(text)}"""')
    (statement,) = tree.body
    assert isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
    shown = statement.value.value
    assert shown == " ".join(text.split()) or not text.isascii()
    assert "\n" not in shown


def test_a_hostile_summary_stays_inside_the_docstring():
    source = module_source("r**2", summary=HOSTILE[0], class_name="SafeLoss").code
    tree = ast.parse(source)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef))
    assert ast.get_docstring(cls).startswith(HOSTILE[0])
    assert "os" not in _names_in(source)


@pytest.mark.parametrize("name", ["customLoss", "Bad Name", "os.system", "A" * 65, "X;import os"])
def test_class_names_are_checked(name):
    with pytest.raises(ValueError, match="class name"):
        module_source("r**2", class_name=name)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "1e400"])
def test_non_finite_parameter_values_are_refused(value):
    with pytest.raises(ValueError, match="finite"):
        module_source("k*r**2", {"k": value})


def test_a_long_sum_is_written_one_term_a_line_with_its_parentheses():
    text = "abs(r) + sigmoid(abs(r))*abs(r) - (tanh(r)**2 + softplus(r)) - log1p(abs(r))*relu(r)"
    code = module_source(text).code
    assert "loss = (\n" in code and max(len(line) for line in code.splitlines()) <= 100
    pred, target = _inputs(1)
    got = run_source(code)["CustomLoss"](reduction="none")(pred, target)
    torch.testing.assert_close(got, compile_loss(text)(pred, target, reduction="none"), **TOL)
