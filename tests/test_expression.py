"""Custom-loss expressions: values and gradients against the same formula in torch, every refused
construct refused with ExpressionError, and a fuzz in which nothing outside the whitelist runs."""

import ast
import builtins
import io
import math
import os
import pickle
import re
import subprocess
import sys
from contextlib import contextmanager
from importlib.util import resolve_name
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.expression import FUNCTIONS, ExpressionError, compile_loss, to_latex, to_spec
from explorer.losses import curve_inputs, get_loss

VALUE_TOL = {"rtol": 1e-12, "atol": 1e-12}  # same float64 ops in a different order
FD_TOL = {"rtol": 1e-6, "atol": 1e-8}  # central differences with step FD_STEP
FD_STEP = 1e-6
PACKAGE = Path(__file__).parent.parent / "explorer" / "expression"


def _data(n=32, seed=0):
    """float64 predictions and targets whose residuals stay clear of kinks at 0 and ±1."""
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(n, generator=g, dtype=torch.float64)
    r = (torch.rand(n, generator=g, dtype=torch.float64) * 0.8 + 0.1) * 3
    r = torch.where(torch.arange(n) % 2 == 0, r, -r)
    r = torch.where((r.abs() - 1).abs() < 0.05, r + 0.1, r)
    return (target + r).requires_grad_(), target


def _huber(p, y, d):
    return F.huber_loss(p, y, delta=d, reduction="none")


# (text, params, the same formula written directly in torch: (pred, target, **params) -> values)
CASES = [
    ("r**2", {}, lambda p, y: (p - y) ** 2),
    ("abs(pred - target)", {}, lambda p, y: (p - y).abs()),
    (
        "mean(sigmoid(k*(t - abs(pred - target))) * (pred - target)**2)",
        {"k": 20.0, "t": 1.0},
        lambda p, y, k, t: (torch.sigmoid(k * (t - (p - y).abs())) * (p - y) ** 2).mean(),
    ),
    ("where(abs(r) <= d, 0.5*r**2, d*(abs(r) - 0.5*d))", {"d": 1.3}, _huber),
    ("sqrt(r**2 + 1) - 1", {}, lambda p, y: torch.sqrt((p - y) ** 2 + 1) - 1),
    (
        "softplus(r) - log1p(exp(r))",
        {},
        lambda p, y: F.softplus(p - y) - torch.log1p((p - y).exp()),
    ),
    (
        "maximum(-tau*r, (1 - tau)*r)",
        {"tau": 0.3},
        lambda p, y, tau: torch.max(-tau * (p - y), (1 - tau) * (p - y)),
    ),
    ("tanh(r)**2 + relu(r)", {}, lambda p, y: torch.tanh(p - y) ** 2 + torch.relu(p - y)),
    ("exp(-r**2 / (2*s**2))", {"s": 0.7}, lambda p, y, s: torch.exp(-((p - y) ** 2) / (2 * s**2))),
    ("clamp(r, -c, c)**2", {"c": 0.8}, lambda p, y, c: torch.clamp(p - y, -c, c) ** 2),
    (
        "minimum(abs(r), 1) * sign(r) * r",
        {},
        lambda p, y: torch.clamp((p - y).abs(), max=1) * (p - y).abs(),
    ),
    ("sum(r**2) / 2", {}, lambda p, y: ((p - y) ** 2).sum() / 2),
    (
        "-(target*log(sigmoid(pred)) + (1 - target)*log(1 - sigmoid(pred)))",
        {},
        lambda p, y: F.binary_cross_entropy_with_logits(p, y, reduction="none"),
    ),
    (
        "mean(r**2) + lam*mean(abs(r))",
        {"lam": 0.5},
        lambda p, y, lam: ((p - y) ** 2).mean() + lam * (p - y).abs().mean(),
    ),
    (
        "r**4/4 + pi*e*r - +r*-1",
        {},
        lambda p, y: (p - y) ** 4 / 4 + math.pi * math.e * (p - y) + (p - y),
    ),
    (
        "(abs(r) < t) * r**2",
        {"t": 1.0},
        lambda p, y, t: ((p - y).abs() < t).double() * (p - y) ** 2,
    ),
    (
        "1/(1 + exp(-k*r)) + round(r)",
        {"k": 3.0},
        lambda p, y, k: torch.sigmoid(k * (p - y)) + torch.round(p - y),
    ),
    (
        "(0 < r < 1) * r + (r >= 1) + (r != r) + (r == 2)",
        {},
        lambda p, y: (
            ((p - y > 0) & (p - y < 1)).double() * (p - y)
            + (p - y >= 1).double()
            + (p - y != p - y).double()
            + (p - y == 2).double()
        ),
    ),
    (
        "mean(r)**2 + mean(abs(r - mean(r)))",
        {},
        lambda p, y: (p - y).mean() ** 2 + (p - y - (p - y).mean()).abs().mean(),
    ),
    ("log(abs(r)) * 2**r", {}, lambda p, y: torch.log((p - y).abs()) * 2 ** (p - y)),
]


@pytest.mark.parametrize(("text", "params", "reference"), CASES, ids=[c[0] for c in CASES])
def test_value_and_gradient_match_torch(text, params, reference):
    pred, target = _data()
    ours = compile_loss(text)(pred, target, **params)
    theirs = reference(pred, target, **params)
    theirs = theirs if theirs.dim() == 0 else theirs.mean()
    torch.testing.assert_close(ours, theirs, **VALUE_TOL)
    (g_ours,) = torch.autograd.grad(ours, pred)
    (g_theirs,) = torch.autograd.grad(theirs, pred)
    torch.testing.assert_close(g_ours, g_theirs, **VALUE_TOL)


def test_gradient_with_respect_to_a_parameter_matches_torch():
    pred, target = _data()
    k = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    ours = compile_loss("mean(sigmoid(k*(1 - abs(r))) * r**2)")(pred, target, k=k)
    theirs = (torch.sigmoid(k * (1 - (pred - target).abs())) * (pred - target) ** 2).mean()
    torch.testing.assert_close(
        torch.autograd.grad(ours, k), torch.autograd.grad(theirs, k), **VALUE_TOL
    )


def test_curve_of_the_soft_threshold_matches_the_catalogue_and_finite_differences():
    spec = to_spec("mean(sigmoid(k*(t - abs(r))) * r**2)")
    x = torch.linspace(-3, 3, 61, dtype=torch.float64, requires_grad=True)
    pred, target = curve_inputs(spec, x)
    values = spec.fn(pred, target, reduction="none", k=20.0, t=1.0)
    catalogue = get_loss("soft_threshold").fn(pred, target, reduction="none", k=20.0, t=1.0)
    torch.testing.assert_close(values, catalogue, **VALUE_TOL)
    (slope,) = torch.autograd.grad(values.sum(), x)
    with torch.no_grad():
        up = spec.fn(x + FD_STEP, target, reduction="none", k=20.0, t=1.0)
        down = spec.fn(x - FD_STEP, target, reduction="none", k=20.0, t=1.0)
    torch.testing.assert_close(slope, (up - down) / (2 * FD_STEP), **FD_TOL)


def test_reduction_rule():
    pred, target = _data(8)
    r = (pred - target).detach()
    elem = compile_loss("r**2")
    torch.testing.assert_close(elem(pred, target, reduction="none"), r**2)
    torch.testing.assert_close(elem(pred, target, reduction="sum"), (r**2).sum())
    linear = compile_loss("mean(r**2) + k*mean(abs(r)) + 1")
    per_element = r**2 + 2 * r.abs() + 1
    torch.testing.assert_close(linear(pred, target, reduction="none", k=2), per_element)
    for reduction in ("mean", "sum"):  # its own mean wins over the caller's reduction
        torch.testing.assert_close(
            linear(pred, target, reduction=reduction, k=2), per_element.mean()
        )
    torch.testing.assert_close(compile_loss("sum(r**2)/2")(pred, target), (r**2).sum() / 2)
    assert compile_loss("mean(3)")(pred, target).item() == 3.0
    mixed = compile_loss("r - mean(r)")
    assert not mixed.elementwise and linear.elementwise
    torch.testing.assert_close(mixed(pred, target, reduction="sum"), (r - r.mean()).sum())
    with pytest.raises(ExpressionError, match="mixes samples"):
        mixed(pred, target, reduction="none")
    with pytest.raises(ExpressionError, match="weights"):
        mixed(pred, target, weights=torch.ones(8))
    w = torch.linspace(0.1, 1.0, 8, dtype=torch.float64)
    torch.testing.assert_close(elem(pred, target, weights=w), (w * r**2).mean())
    torch.testing.assert_close(linear(pred, target, weights=w, k=2), (w * per_element).mean())
    with pytest.raises(ValueError, match="none"):
        elem(pred, target, reduction="max")


def test_parameters_and_shapes():
    pred, target = _data(6)
    loss = compile_loss("a*r**2 + b")
    assert loss.params == ("a", "b")
    torch.testing.assert_close(loss(pred, target, b=0.0, unused=5.0), ((pred - target) ** 2).mean())
    assert compile_loss("k")(pred, target, reduction="none", k=2.0).shape == pred.shape
    assert (
        compile_loss("r")(torch.zeros(3, dtype=torch.float32), torch.zeros(3)).dtype
        == torch.float32
    )
    with pytest.raises(ExpressionError, match="must be a number"):
        loss(pred, target, a="two")
    with pytest.raises(ExpressionError, match="must be one number"):
        loss(pred, target, a=torch.ones(6))
    with pytest.raises(ValueError, match="broadcast"):
        loss(pred, target[:, None])
    batch = torch.randn(5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    mapped = torch.func.vmap(lambda p: loss(p, target.detach(), a=2.0))(batch)
    torch.testing.assert_close(mapped, torch.stack([loss(p, target, a=2.0) for p in batch]))


def test_compiled_losses_and_errors_pickle():
    pred, target = _data(4)
    loss = pickle.loads(pickle.dumps(to_spec("mean(k*r**2)"))).fn
    torch.testing.assert_close(loss(pred, target, k=2.0), 2 * ((pred - target) ** 2).mean())
    with pytest.raises(ExpressionError) as info:
        compile_loss("r + foo(r)")
    copy = pickle.loads(pickle.dumps(info.value))
    assert (str(copy), copy.col) == (str(info.value), 5)


def test_to_spec_and_get_loss():
    text = "mean(sigmoid(k*(t - abs(pred - target))) * (pred - target)**2)"
    spec = get_loss(f"expr:{text}")
    assert (spec.key, spec.name, spec.task, spec.x_axis) == (
        f"expr:{text}",
        f"Custom: {text}",
        "regression",
        "residual",
    )
    assert (spec.link, spec.target, spec.source) == ("identity", "real", "custom expression")
    assert [(p.name, p.default, p.min, p.max, p.step) for p in spec.params] == [
        ("k", 1.0, -100.0, 100.0, 0.1),
        ("t", 1.0, -100.0, 100.0, 0.1),
    ]
    assert spec.formula == (
        r"\frac{1}{N}\sum_{i} \sigma\left(k \cdot \left(t - \left|\hat{y}_i - y_i\right|\right)\right)"
        r" \cdot \left(\hat{y}_i - y_i\right)^{2}"
    )
    with pytest.raises(ExpressionError):
        get_loss("expr:__import__('os').system('id')")


@pytest.mark.parametrize(
    ("text", "latex"),
    [
        ("abs(pred - target)/2", r"\frac{\left|\hat{y} - y\right|}{2}"),
        (
            "where(abs(r) < t, r**2, 0)",
            r"\begin{cases} r^{2} & \text{if } \left|r\right| < t \\ 0 & \text{otherwise} \end{cases}",
        ),
        ("-(r + 1)**-2 * 2e-5", r"-\left(r + 1\right)^{-2} \cdot 2 \cdot 10^{-5}"),
        ("2*sqrt(alpha_1) - (a - b)", r"2\,\sqrt{\mathrm{alpha\_1}} - \left(a - b\right)"),
        ("lam*sum(relu(r))", r"\lambda \cdot \left(\sum_{i} \max\left(0, r_i\right)\right)"),
    ],
)
def test_latex(text, latex):
    assert to_latex(compile_loss(text).tree) == latex


REFUSED = [
    "__import__('os').system('id')",
    "pred.__class__",
    "().__class__.__bases__",
    "[x for x in y]",
    "{x for x in r}",
    "(x for x in r)",
    "lambda: 1",
    '"a"',
    "b'a'",
    "pred[0]",
    "pred[1:2]",
    "open('f')",
    "exp(pred, foo=1)",
    "exp(**{})",
    "exp(*r)",
    "(x := 1)",
    'f"{pred}"',
    "9**9**9",
    "r ** (1e6*1e6)",
    "2 ** 11",
    "1e400",
    "10000000",
    "x" * 10_000,
    "-" * 200 + "r",
    "sqrt(" * 40 + "r" + ")" * 40,
    "abs(" * 200 + "r" + ")" * 200,
    "+".join(["r"] * 201),
    "a+b+c+d+f+g+h",
    "__builtins__",
    "_x",
    "Pred",
    "print",
    "eval(r)",
    "exec",
    "getattr(r, 'x')",
    "foo(r)",
    "abs",
    "abs(1, 2)",
    "clamp(r, 1)",
    "r(1)",
    "r % 2",
    "r // 2",
    "r @ r",
    "r ^ 2",
    "~r",
    "not r",
    "r and 1",
    "r or 1",
    "r if r else 1",
    "1 in r",
    "r is r",
    "True",
    "None",
    "...",
    "1j",
    "(r, r)",
    "{}",
    "",
    "   ",
    "pred +",
    "pred\\\n+1",
    "r # comment",
    "r; 1",
    "1if 1else 2",
    "\u0440",  # Cyrillic r
    "r\x00",
    "await r",
    "yield r",
    "r = 1",
    "import os",
    "pred\n+ 1\n+",
]


@pytest.mark.parametrize("text", REFUSED, ids=[repr(t[:30]) for t in REFUSED])
def test_refused_with_expression_error(text):
    with pytest.raises(ExpressionError) as info:
        compile_loss(text)
    assert isinstance(info.value, ValueError) and str(info.value)
    assert info.value.col is None or 1 <= info.value.col <= min(len(text), 500) + 1


@pytest.mark.parametrize(
    ("text", "col", "message"),
    [
        ("pred + foo(r)", 8, "unknown function `foo` at column 8; known: abs, clamp"),
        ("max(r, 0)", 1, "did you mean `maximum`?"),
        ("__import__('os').system('id')", 17, "attribute access (`.system`) is not allowed"),
        ("pred.__class__", 5, "attribute access (`.__class__`)"),
        ("exp(pred, foo=1)", 11, "keyword arguments (`foo=`)"),
        ("  r % 2", 5, "operator `%`"),
        ("r +\n  foo(r)", 7, "unknown function `foo`"),
        ("r * ", 5, "syntax error"),
        ("1 + 2 ** 11", 7, "exponent 11"),
        ("a" * 612, 501, "expression too long (612 > 500 characters)"),
        ("r + [1]", 5, "lists"),
        ("r +\x7f", 4, "plain ASCII"),
    ],
)
def test_error_positions(text, col, message):
    with pytest.raises(ExpressionError) as info:
        compile_loss(text)
    assert info.value.col == col
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+".join(["r"] * 31), lambda r: 31 * r),
        ("+".join(["r"] * 100), lambda r: 100 * r),
        ("-".join(["r"] * 60), lambda r: -58 * r),
        ("+".join(["r*2"] * 50), lambda r: 100 * r),
        ("*".join(["2"] * 31) + "*r", lambda r: 2.0**31 * r),
        ("r" + "/2" * 80, lambda r: r / 2.0**80),
        ("sqrt(" * 26 + "+".join(["r**2"] * 20) + ")" * 26, lambda r: (20 * r**2) ** 0.5**26),
    ],
    ids=lambda v: v[:20] if isinstance(v, str) else "",
)
def test_a_long_flat_chain_is_not_deep(text, expected):
    loss = compile_loss(text)
    pred, target = _data(5)
    value = loss(pred, target, reduction="none")
    torch.testing.assert_close(value, expected((pred - target).detach()), rtol=1e-12, atol=1e-12)
    (grad,) = torch.autograd.grad(value.sum(), pred)  # backward runs through the whole chain
    assert torch.isfinite(grad).all() and isinstance(to_latex(loss.tree), str)


@pytest.mark.parametrize(
    ("text", "col"),
    [
        ("sqrt(" * 31 + "r" + ")" * 31, 151),
        ("r+(" * 30 + "r" + ")" * 30, 91),  # parentheses nest for real
        ("r" + "**r" * 30, 30 * 3 + 1),  # ** is right-associative: real nesting
        ("-" * 31 + "r", 31),
    ],
)
def test_real_nesting_is_still_limited(text, col):
    with pytest.raises(ExpressionError) as info:
        compile_loss(text)
    assert str(info.value).startswith("expression nested too deeply (more than 30 levels)")
    assert info.value.col == col


def test_size_stays_bounded_by_the_parts():
    with pytest.raises(ExpressionError, match=r"^expression too complex \(more than 200 parts\)$"):
        compile_loss("+".join(["r"] * 101))
    compile_loss("+".join(["r"] * 100))


@pytest.mark.parametrize(
    ("text", "col", "message"),
    [
        (
            "r**(0/0)",
            5,
            "the exponent after `**` is NaN (not a number): `0/0` divides zero by zero",
        ),
        ("r**(1/0)", 5, "the exponent after `**` is infinite: `1/0` divides by zero"),
        ("r**(2 - 3/(1 - 1))", 9, "is infinite: `3/(1 - 1)` divides by zero"),
        ("r**log(-1)", 4, "is NaN (not a number): `log(-1)` takes the log of a negative number"),
        ("r**(1 + log(0))", 9, "is infinite: `log(0)` takes the log of zero"),
        ("r**log1p(-1)", 4, "is infinite: `log1p(-1)` takes log1p of −1 (the log of zero)"),
        ("r**sqrt(-2)", 4, "is NaN (not a number): `sqrt(-2)` takes the square root of a negative"),
        ("r**(0**-1)", 5, "is infinite: `0**-1` raises zero to a negative power"),
        ("r**((-8)**0.5)", 5, "`(-8)**0.5` raises a negative number to a fractional power"),
        ("r**exp(800)", 4, "is infinite: `exp(800)` overflows the floating-point range"),
        ("r**(exp(800) - exp(800))", 5, "is NaN (not a number): `exp(800)` overflows"),
        ("abs(r)**(1/0*0)", 10, "is NaN (not a number): `1/0` divides by zero"),
    ],
)
def test_a_nan_or_infinite_exponent_says_why(text, col, message):
    with pytest.raises(ExpressionError) as info:
        compile_loss(text)
    assert message in str(info.value) and "too large" not in str(info.value)
    assert info.value.col == col


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("r ** 11", "exponent 11 after `**` is too large (|p| ≤ 10) at column 3"),
        ("r ** -(2*6)", "exponent -12 after `**` is too large (|p| ≤ 10)"),
        ("1e400 * r", "number `1e400` overflows to infinity (at most 1e+06) at column 1"),
        ("r + 2e6", "number `2e6` is too large (at most 1e+06) at column 5"),
        ("r + 1" + "0" * 400, "is too large (at most 1e+06)"),
    ],
)
def test_a_finite_number_too_large_is_told_apart_from_an_infinite_one(text, message):
    with pytest.raises(ExpressionError) as info:
        compile_loss(text)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "col", "shown", "what"),
    [
        ("r * inf", 5, "inf", "infinity"),
        ("minimum(r, Inf)", 12, "Inf", "infinity"),
        ("clamp(r, -INFINITY, 1)", 11, "INFINITY", "infinity"),
        ("r + nan", 5, "nan", "NaN"),
        ("NaN * r", 1, "NaN", "NaN"),
        ("mean(r**2) + infty", 14, "infty", "infinity"),
    ],
)
def test_names_of_non_finite_numbers_are_refused_not_made_parameters(text, col, shown, what):
    with pytest.raises(ExpressionError) as info:
        compile_loss(text)
    assert str(info.value).startswith(
        f"name `{shown}` is not allowed: it reads as {what}, which no loss can use "
        f"(and it is not a parameter) at column {col}; "
    )
    assert info.value.col == col


def test_a_parameter_value_must_be_finite():
    loss = compile_loss("k*r**2")
    pred, target = _data(4)
    for bad in (float("nan"), float("inf"), -math.inf):
        with pytest.raises(ExpressionError) as info:
            loss(pred, target, k=bad)
        assert str(info.value) == f"parameter `k` must be a finite number, got {bad}"
    torch.testing.assert_close(loss(pred, target, k=2.0), 2 * ((pred - target) ** 2).mean())


def _dangerous_call(node: ast.AST) -> bool:
    """A call of eval/exec/compile/__import__, directly or as builtins.<name> or importlib's."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if isinstance(func, ast.Name):
        return func.id in {"eval", "exec", "compile", "__import__"}
    if isinstance(func, ast.Attribute):
        owner = func.value.id if isinstance(func.value, ast.Name) else ""
        return func.attr in {"eval", "exec", "__import__", "import_module"} or (
            func.attr == "compile" and owner == "builtins"
        )
    return False


def test_no_eval_exec_or_compile_in_the_package():
    text_calls = re.compile(r"(?<![\w.])(eval|exec|compile|__import__)\s*\(")
    for path in sorted(PACKAGE.glob("*.py")):
        source = path.read_text()
        assert not text_calls.search(source), path
        assert not any(_dangerous_call(node) for node in ast.walk(ast.parse(source))), path
    assert _dangerous_call(ast.parse("builtins.compile(x)").body[0].value)  # the check can fail


# ---------------------------------------------------------------- fuzz: nothing else ever runs

_FORBIDDEN_EVENTS = (
    "exec",
    "import",
    "open",
    "os.",
    "subprocess.",
    "ctypes.",
    "socket.",
    "shutil.",
)
_WATCHING: list[list[str]] = []  # the tripwire's log while it is armed


def _audit(event: str, args) -> None:
    if _WATCHING and event.startswith(_FORBIDDEN_EVENTS):
        _WATCHING[-1].append(event)


sys.addaudithook(_audit)  # audit hooks cannot be removed; it only records while armed


@contextmanager
def _tripwire():
    """Fail on any import, file access, process or bytecode compile while compiling/evaluating.

    The audit hook sees every new module load, file open and process at the C level; the
    patched builtins catch calls that would reach them from Python.
    """
    seen: list[str] = []
    real_compile, real_import = builtins.compile, builtins.__import__

    def trap(name):
        def trapped(*args, **kwargs):
            seen.append(name)
            raise AssertionError(f"{name} was called")

        return trapped

    def torch_reimport_only(name, globals=None, locals=None, fromlist=(), level=0):
        """torch's ops re-import their own loaded submodules in function bodies: that is all."""
        caller = (globals or {}).get("__name__", "")
        package = (globals or {}).get("__package__") or ""
        absolute = resolve_name("." * level + name, package) if level else name
        if not (caller.startswith("torch") and absolute in sys.modules):
            return trap("__import__")()
        return real_import(name, globals, locals, fromlist, level)

    def ast_only(source, filename, mode, flags=0, *args, **kwargs):
        if not flags & ast.PyCF_ONLY_AST:  # ast.parse may compile to a tree, never to code
            return trap("compile")()
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    patches = [(builtins, n, trap(n)) for n in ("open", "eval", "exec", "input", "breakpoint")]
    patches += [(builtins, "compile", ast_only), (builtins, "__import__", torch_reimport_only)]
    patches += [(os, "system", trap("os.system"))]
    patches += [(os, "popen", trap("os.popen")), (subprocess, "Popen", trap("Popen"))]
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
    for obj, name, value in patches:
        setattr(obj, name, value)
    _WATCHING.append(seen)
    try:
        yield seen
    finally:
        _WATCHING.pop()
        for obj, name, value in saved:
            setattr(obj, name, value)


_PRED = torch.linspace(-2.0, 2.0, 5, dtype=torch.float64)
_TARGET = torch.tensor([0.0, 0.5, -0.5, 1.0, 0.0], dtype=torch.float64)


def _evaluate(loss) -> None:
    """Compile-time success must mean: evaluates to a tensor of the right shape, backward runs."""
    params = {name: 0.5 + 0.3 * i for i, name in enumerate(loss.params)}
    for reduction in ("mean", "none"):
        pred = _PRED.clone().requires_grad_()
        try:
            out = loss(pred, _TARGET, reduction=reduction, **params)
        except ExpressionError:
            assert reduction == "none" and not loss.elementwise
            continue
        assert isinstance(out, torch.Tensor)
        assert out.shape == (() if reduction == "mean" else pred.shape)
        if out.requires_grad:
            torch.autograd.grad(out.sum(), pred, allow_unused=True)
    assert isinstance(to_latex(loss.tree), str)


def _compiles_or_refuses(text: str):
    """The compiled loss (checked by _evaluate) or None when refused; nothing else may happen."""
    loss = None
    with _tripwire() as seen:
        try:
            loss = compile_loss(text)
        except ExpressionError as err:
            assert err.col is None or 1 <= err.col <= len(text) + 1, (text, err.col)
        else:
            _evaluate(loss)
    assert not seen, (text, seen)
    return loss


_EVERYTHING = (
    "mean(abs(r) + sqrt(abs(pred)) + exp(-r**2) + log(1 + r**2) + log1p(r**2) + sigmoid(r)"
    " + tanh(r) + relu(r) + softplus(r) + clamp(r, -1, 1) + minimum(r, 0) + maximum(r, 0)"
    " + where(r < 1, r, 0) + round(r) + sign(r) + (r <= 1) + (r > 1) + (0 <= r < 1)"
    " + (r == 1) + (r != 1) + r/2 + k) + sum(r) - pi * e"
)


def _warm_up() -> None:
    """Let torch load its own lazily imported modules before the tripwire is armed."""
    _evaluate(compile_loss(_EVERYTHING))
    _evaluate(compile_loss("r - mean(r)"))
    with pytest.raises(ExpressionError):
        compile_loss("1if 1else 2")


def test_tripwire_sees_what_would_escape():
    with pytest.raises(AssertionError), _tripwire() as seen:
        __import__("json")
    assert seen == ["__import__"]
    with _tripwire() as seen:
        io.FileIO(os.devnull).close()  # past the patched builtin: the audit hook sees it
    assert seen == ["open"]


def _fuzz(examples: int) -> settings:
    """Deterministic for CI (derandomize, no example database); no per-example deadline."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


# hypothesis examples × inputs per example: 1,250 × 4 + 1,250 × 4 = 10,000 inputs in all
# (a few inputs per example keep hypothesis's own per-example cost out of the run time)
EXAMPLES, INPUTS_PER_EXAMPLE = 1_250, 4

_TOKENS = [*FUNCTIONS, "pred", "target", "r", "pi", "e", "k", "t", "x", "Pred", "os", "system"]
_TOKENS += ["__import__", "__class__", "__builtins__", "__subclasses__", "open", "eval", "lambda"]
_TOKENS += ["+", "-", "*", "/", "**", "//", "%", "@", "<", "<=", ">", ">=", "==", "!=", "=", ":="]
_TOKENS += ["and", "or", "not", "in", "is", "if", "else", "for", "(", ")", "[", "]", "{", "}"]
_TOKENS += [",", ".", ":", ";", "'", '"', 'f"', "\\", "#", " ", "\n", "\t", "0", "1", "2.5"]
_TOKENS += ["1e3", "1e400", "9", "0x1F", "1j", "_", "\u00e9", "\x00", "...", "True", "None"]
_TEXT = st.one_of(
    st.lists(st.sampled_from(_TOKENS), max_size=30).map("".join),
    st.lists(st.sampled_from(_TOKENS), max_size=30).map(" ".join),
    st.text(alphabet="".join(sorted(set("".join(_TOKENS)))), max_size=60),
)


@pytest.mark.parametrize("text", ["9**9**9", "abs(" * 99 + "r" + ")" * 99, "x" * 10_000])
def test_refusals_pass_the_tripwire(text):
    _warm_up()
    _compiles_or_refuses(text)


def test_fuzz_random_text():
    tried = []
    _warm_up()

    @_fuzz(EXAMPLES)
    @given(st.lists(_TEXT, min_size=INPUTS_PER_EXAMPLE, max_size=INPUTS_PER_EXAMPLE))
    def run(texts):
        for text in texts:
            tried.append(text)
            _compiles_or_refuses(text)

    run()
    assert len(tried) >= EXAMPLES * INPUTS_PER_EXAMPLE


_LEAVES = "pred target r pi e k t alpha_1 0 1 2 0.5 1e-3 10".split()
_BAD_LEAVES = ['"a"', "__class__", "Pred", "[1]", "pred.real", "True", "lambda: 1", "()", "1j"]
_BAD_LEAVES += ["1e7", "open", "print"]
_OPERATORS = ["+", "-", "*", "/", "**", "<", "<=", ">", ">=", "==", "!="]
_BAD_NODES = ["({})[0]", "({}).__class__", "exp({}, foo=1)", "not {}", "~{}", "{} % 2", "{} and r"]
_BAD_NODES += ["{} if 1 else 0", "foo({})", "__import__({})", "max({}, 1)", "abs({}, r)"]
_FUNCTION_NAMES = sorted(FUNCTIONS)


def _formula(rng, depth: int = 0) -> str:
    """A random formula from the language's grammar; about one node in fifteen is refused."""
    if rng.randrange(15) == 0:
        if rng.randrange(2):
            return rng.choice(_BAD_LEAVES)
        return rng.choice(_BAD_NODES).format(_formula(rng, depth + 1))
    if depth >= 5 or rng.randrange(10) < 3:
        return rng.choice(_LEAVES)
    shape = rng.randrange(5)
    if shape == 0:
        return f"({_formula(rng, depth + 1)} {rng.choice(_OPERATORS)} {_formula(rng, depth + 1)})"
    if shape == 1:
        return f"-{_formula(rng, depth + 1)}"
    if shape == 2:
        chained = [_formula(rng, depth + 1) for _ in range(3)]
        return "({} < {} <= {})".format(*chained)
    name = rng.choice(_FUNCTION_NAMES)  # shapes 3 and 4: a call with the right arity
    args = [_formula(rng, depth + 1) for _ in FUNCTIONS[name][1]]
    return f"{name}({', '.join(args)})"


def _mutated(rng, text: str) -> str:
    """text with one character replaced or deleted, one time in five."""
    if not text or rng.randrange(5):
        return text
    i = rng.randrange(len(text))
    return text[:i] + rng.choice(["", "(", ")", ",", "*", "'", ".", "_", "[", " "]) + text[i + 1 :]


def test_fuzz_grammar_trees():
    """Trees drawn from the grammar by hypothesis's own random source (shrinkable, deterministic):
    much cheaper per example than composing st.recursive/one_of strategies."""
    tried, compiled = [], []
    _warm_up()

    @_fuzz(EXAMPLES)
    @given(st.randoms(use_true_random=False))
    def run(rng):
        for _ in range(INPUTS_PER_EXAMPLE):
            one(rng)

    def one(rng):
        text = _mutated(rng, _formula(rng))
        tried.append(text)
        if _compiles_or_refuses(text) is not None:
            compiled.append(text)

    run()
    assert len(tried) >= EXAMPLES * INPUTS_PER_EXAMPLE
    assert len(compiled) >= len(tried) // 4  # the grammar reaches the valid side too
    assert len(tried) - len(compiled) >= len(tried) // 10  # and the refused side
