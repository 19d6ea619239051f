"""No code path runs text as code: the app's source has no eval/exec/compile/pickle of input.

Walks the AST of every .py file the server runs (app.py, app_pages/, explorer/), and of the
command-line bench/ (which may spawn a subprocess), and flags calls that turn data into code or
objects; `re.compile`, `torch.compile`, `model.eval()` and `ast.literal_eval` are fine. The
checker itself is tested on snippets, so it can fail.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVED = [ROOT / "app.py", *sorted((ROOT / "app_pages").rglob("*.py"))]
SERVED += sorted((ROOT / "explorer").rglob("*.py"))

BUILTINS = {"eval", "exec", "compile", "__import__", "breakpoint"}
DESERIALIZERS = {"pickle", "cPickle", "marshal", "dill", "cloudpickle", "shelve", "joblib"}
SHELL = {("os", "system"), ("os", "popen"), ("yaml", "load"), ("yaml", "unsafe_load")}
TEXT_TO_EXPR = {"sympify", "parse_expr"}  # sympy evaluates the string with eval
IMPORTERS = {("importlib", "import_module"), ("builtins", "__import__")}
CLI_ONLY = ROOT / "bench"  # a command-line tool the server never imports: may spawn
CLI = sorted(CLI_ONLY.rglob("*.py"))
OWN_PACKAGES = ("explorer.", "bench.")  # f-string import targets under these are fixed modules


def _dotted(node: ast.AST) -> tuple[str, ...]:
    """`a.b.c` as ("a", "b", "c"); () for anything that is not a plain dotted name."""
    if isinstance(node, ast.Name):
        return (node.id,)
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return (*head, node.attr) if head else ()
    return ()


def _fixed_module(args: list[ast.expr]) -> bool:
    """An import target that is a literal, or an f-string starting with one of OWN_PACKAGES."""
    if args and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str):
        return True
    if args and isinstance(args[0], ast.JoinedStr) and args[0].values:
        head = args[0].values[0]
        return isinstance(head, ast.Constant) and str(head.value).startswith(OWN_PACKAGES)
    return False


def _call_problem(node: ast.Call) -> str | None:
    name = _dotted(node.func)
    if not name:
        return None
    if name in {(b,) for b in BUILTINS} or name in {("builtins", b) for b in BUILTINS}:
        if name[-1] == "__import__" and _fixed_module(node.args):
            return None
        return f"{'.'.join(name)}() runs text as code"
    if name[0] in DESERIALIZERS:
        return f"{'.'.join(name)}() deserializes objects"
    if name[-2:] in SHELL:
        return f"{'.'.join(name)}() runs a shell or builds objects from text"
    if name[-1] in TEXT_TO_EXPR:
        return f"{'.'.join(name)}() evaluates text"
    if name[-2:] in IMPORTERS and not _fixed_module(node.args):
        return f"{'.'.join(name)}() imports a module named at run time"
    if name[-2:] == ("torch", "load") and not any(
        k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True
        for k in node.keywords
    ):
        return "torch.load() without weights_only=True unpickles"
    return None


def problems(source: str, filename: str = "<snippet>", cli: bool = False) -> list[str]:
    """Every risky call or import in one module's source, as "file:line: what".

    cli: the module is a command-line tool (not served), so importing subprocess is allowed."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        what = None
        if isinstance(node, ast.Call):
            what = _call_problem(node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [a.name for a in node.names]
            risky = DESERIALIZERS if cli else DESERIALIZERS | {"subprocess"}
            bad = sorted({n.split(".")[0] for n in names} & risky)
            what = f"imports {', '.join(bad)}" if bad else None
        if what:
            found.append(f"{filename}:{node.lineno}: {what}")
    return found


@pytest.mark.parametrize(
    "snippet",
    [
        "eval(text)",
        "exec(code, {})",
        "compile(src, 'f', 'eval')",
        "__import__(name)",
        "builtins.eval('1')",
        "import pickle\npickle.loads(blob)",
        "from pickle import loads",
        "import marshal",
        "marshal.loads(b)",
        "import subprocess",
        "os.system(cmd)",
        "yaml.load(text)",
        "sympy.sympify(text)",
        "parse_expr(text)",
        "importlib.import_module(user_module)",
        "importlib.import_module(f'{package}.{name}')",
        "torch.load(path)",
        "torch.load(path, weights_only=False)",
    ],
)
def test_checker_flags(snippet):
    assert problems(snippet), snippet


@pytest.mark.parametrize(
    "snippet",
    [
        "re.compile(r'[a-z]+')",
        "torch.compile(model)",
        "model.eval()",
        "ast.literal_eval(text)",
        "json.loads(text)",
        "yaml.safe_load(text)",
        "torch.load(path, weights_only=True)",
        "importlib.import_module('explorer.expression')",
        "importlib.import_module(f'explorer.{name}')",
        "importlib.import_module(f'bench.{name}')",
        "evaluate(x)",
    ],
)
def test_checker_allows(snippet):
    assert not problems(snippet), snippet


def test_cli_tools_may_spawn_but_not_eval():
    assert not problems("import subprocess", cli=True)
    assert problems("eval(text)", cli=True)


def test_served_sources_never_run_text_as_code():
    assert len(SERVED) > 3 and CLI, "the source tree was not found"
    found = []
    for path in SERVED + CLI:
        cli = CLI_ONLY in path.parents
        found += problems(path.read_text(), str(path.relative_to(ROOT)), cli=cli)
    assert not found, "\n".join(found)
