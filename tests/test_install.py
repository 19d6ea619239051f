"""`pip install .` into a fresh venv installs the library `explorer`, all of it and nothing else.

The checkout is copied to a temporary directory first (without .venv, .git and build outputs), so
the build leaves no build/ or *.egg-info behind in it, and pip installs the copy into a fresh venv.
Everything is then checked from a directory outside the checkout, with no PYTHONPATH.

A full install with dependencies (torch's CPU wheel included) takes about a minute and 1.2 GB of
disk, and downloads from the package index: too slow and heavy for every test run. So by default
the fresh venv sees this interpreter's site-packages through a .pth file (which also lends it
pip; the venv is made without its own), and the checkout is installed with `pip install --no-deps`,
still built by pip in an isolated build environment as a user's install is. That the declared
dependencies cover every third-party module `explorer` imports, and are satisfied by the versions
installed, is checked instead of resolving them. LLE_INSTALL_FULL=1 (as in CI) does the real
thing: a venv with its own pip, dependencies resolved and installed into it, no .pth file.
"""

import ast
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
DIST = "loss-landscape-explorer"
FULL = os.environ.get("LLE_INSTALL_FULL") == "1"

PUBLIC = (
    "LOSSES get_loss LossSpec compile_loss DATASETS make_dataset MODELS make_model TrainConfig "
    "build train Race loss_surface SurfaceConfig project_trajectory loss_curve diagnose_loss "
    "diagnose_callable diagnose_function Finding"
).split()
SUBPACKAGES = ("losses", "expression", "plots", "landscape", "doctor", "lessons", "views")
SUBPACKAGES += ("gradients", "tours", "export", "anatomy")
# (tests: checked by the RECORD; other packages ship one)
NOT_INSTALLED = ("app_pages", "bench", "deploy")
# what a copy of the checkout leaves out: environments, history, build outputs, caches
SKIP = (".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis")
SKIP += ("artifacts",)

# Run by the fresh venv's python: what got installed, and whether all of it imports.
PROBE = r"""
import ast, importlib, importlib.metadata as md, importlib.util, json, pathlib, pkgutil, sys

spec = importlib.util.find_spec("explorer")  # found without importing it: it may not import
root = pathlib.Path(spec.origin).resolve().parent
files = sorted(p.relative_to(root.parent).as_posix() for p in root.rglob("*.py"))
failed = {}
try:
    import explorer
except Exception as exc:
    failed["explorer"] = repr(exc)
else:
    for info in pkgutil.walk_packages(explorer.__path__, "explorer."):
        try:
            importlib.import_module(info.name)
        except Exception as exc:
            failed[info.name] = repr(exc)
found = {}
for name in sys.argv[1].split(","):
    try:
        importlib.import_module(name)
        found[name] = True
    except ModuleNotFoundError:
        found[name] = False
imports = set()
for path in root.rglob("*.py"):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imports.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imports.add(node.module.split(".")[0])
third_party = sorted(imports - set(sys.stdlib_module_names) - {"explorer", "__future__"})
providers = md.packages_distributions()
dist = md.distribution(sys.argv[2])
print(json.dumps({
    "file": str(pathlib.Path(spec.origin).resolve()),
    "prefix": str(pathlib.Path(sys.prefix).resolve()),
    "files": files,
    "failed": failed,
    "found": found,
    "record": sorted(str(f) for f in dist.files or []),
    "requires": dist.requires or [],
    "versions": {d.metadata["Name"]: d.version for d in md.distributions()},
    "third_party": {m: providers.get(m, []) for m in third_party},
}))
"""


def _clean_env() -> dict[str, str]:
    """This process's environment without anything that would point Python at the checkout."""
    drop = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTHONUSERBASE")
    return {k: v for k, v in os.environ.items() if k not in drop}


def _run(args: list, cwd: Path, timeout: float = 420) -> str:
    proc = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    shown = " ".join("<probe>" if a == PROBE else str(a) for a in args)
    assert proc.returncode == 0, f"{shown} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@dataclass(frozen=True)
class Installed:
    python: Path  # the fresh venv's interpreter
    venv: Path
    src: Path  # the copy of the checkout that was installed
    elsewhere: Path  # an empty directory outside the checkout, where everything runs
    probe: dict


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The checkout, copied and pip-installed into a fresh venv, and what the probe found there."""
    tmp = tmp_path_factory.mktemp("install")
    src, venv, elsewhere = tmp / "checkout", tmp / "venv", tmp / "elsewhere"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(*SKIP))
    elsewhere.mkdir()
    if FULL:
        _run([sys.executable, "-m", "venv", venv], cwd=elsewhere)
    else:
        _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=elsewhere)
    python = venv / "bin" / "python"
    if not FULL:
        where = "import sysconfig; print(sysconfig.get_path('purelib'))"
        site = Path(_run([python, "-c", where], cwd=elsewhere).strip())
        ours = dict.fromkeys(sysconfig.get_path(k) for k in ("purelib", "platlib"))
        (site / "_test_install_deps.pth").write_text("\n".join(ours) + "\n")
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _run([*pip, src] if FULL else [*pip, "--no-deps", src], cwd=elsewhere)
    out = _run([python, "-c", PROBE, ",".join(NOT_INSTALLED), DIST], cwd=elsewhere, timeout=180)
    return Installed(python, venv.resolve(), src, elsewhere, json.loads(out))


def test_import_prints_the_public_api_from_outside_the_checkout(installed):
    out = _run(
        [installed.python, "-c", "import explorer; print(explorer.__all__)"], installed.elsewhere
    )
    names = ast.literal_eval(out.strip())
    missing = [n for n in PUBLIC if n not in names]
    assert not missing, f"explorer.__all__ lacks {missing}"


def test_explorer_is_imported_from_the_venv_not_the_checkout(installed):
    file = Path(installed.probe["file"])
    assert file.is_relative_to(installed.venv), f"explorer came from {file}, not the fresh venv"
    assert not file.is_relative_to(ROOT) and not file.is_relative_to(installed.src.resolve())
    assert Path(installed.probe["prefix"]) == installed.venv


def test_every_module_and_subpackage_is_installed_and_imports(installed):
    probe, src = installed.probe, installed.src
    wanted = sorted(p.relative_to(src).as_posix() for p in (src / "explorer").rglob("*.py"))
    assert probe["files"] == wanted, (
        f"missing: {sorted(set(wanted) - set(probe['files']))}, "
        f"extra: {sorted(set(probe['files']) - set(wanted))}"
    )
    for sub in SUBPACKAGES:
        assert f"explorer/{sub}/__init__.py" in probe["files"], f"explorer.{sub} is not installed"
    assert not probe["failed"], f"installed modules that do not import: {probe['failed']}"
    data = sorted(p.relative_to(src).as_posix() for p in (src / "explorer").rglob("*.toml"))
    assert data and set(data) <= set(probe["record"]), "a guided tour (data) is not installed"


def test_the_app_the_tests_and_the_benchmark_are_not_installed(installed):
    found = [name for name, ok in installed.probe["found"].items() if ok]
    assert not found, f"importable in the fresh venv: {found}"
    tops = {Path(f).parts[0] for f in installed.probe["record"]}
    tops = {t for t in tops if not t.endswith(".dist-info")}
    assert tops == {"explorer"}, f"the distribution installs {sorted(tops)}"


def test_declared_dependencies_cover_the_imports_and_are_satisfied(installed):
    probe = installed.probe
    reqs = [Requirement(r) for r in probe["requires"]]
    declared = {canonicalize_name(r.name) for r in reqs}
    assert declared, "the project declares no dependencies"
    for module, dists in probe["third_party"].items():
        assert declared & {canonicalize_name(d) for d in dists}, (
            f"explorer imports {module} (from {dists or 'no installed distribution'}), "
            f"but the project declares only {sorted(declared)}"
        )
    versions = {canonicalize_name(k): v for k, v in probe["versions"].items()}
    for req in reqs:
        version = versions.get(canonicalize_name(req.name))
        assert version is not None, f"{req.name} is declared but not installed"
        assert req.specifier.contains(version, prereleases=True), f"{req.name} {version} ∉ {req}"
