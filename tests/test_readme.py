"""The README's "Use it from Python" block runs as written, and what it prints is true."""

import re
from pathlib import Path

import numpy as np
import torch

import explorer

README = Path(__file__).resolve().parents[1] / "README.md"


def python_block(section: str) -> str:
    """The first ```python block under the README heading `## <section>`."""
    text = README.read_text()
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", body, re.S).group(1)


def test_the_notebook_flow_runs_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(python_block("Use it from Python"), "README.md", "exec"), scope)  # noqa: S102
    out = capsys.readouterr().out.splitlines()
    records, surface, path = scope["records"], scope["surface"], scope["path"]
    first, last = (float(v) for v in re.findall(r"[-\d.]+(?= |$)", out[0])[-2:])
    assert (first, last) == (round(records[0].loss, 3), round(records[-1].loss, 3))
    assert last < first, "training lowered the hinge loss"
    assert surface.values.shape == (31, 31) and surface.kind == "pca"
    assert len(path.step) == len(records)
    assert (tmp_path / "landscape.html").stat().st_size > 10_000
    step = scope["step"]  # step 10 taken apart: Δθ is what training did between records 9, 10
    np.testing.assert_allclose(step.delta, records[10].theta - records[9].theta, atol=1e-7)
    np.testing.assert_allclose(step.shares_sum, step.delta, atol=1e-7)
    assert step.hyper["betas"] == (0.5, 0.999)
    told = out[1 : 1 + len(step.parts)]
    assert told == [f"{p.label}: {p.sentence}" for p in step.parts] and len(told) >= 5
    expected = [
        f"{f.severity}: {f.title}" for f in explorer.diagnose_loss(explorer.LOSSES["zero_one"])
    ]
    assert out[1 + len(step.parts) :] == expected and any("error" in line for line in expected)


def test_the_problem_holds_the_one_objective():
    """build()'s objective is the loss train() reports: its value at step 0 is record 0's."""
    config = explorer.TrainConfig(dataset="moons", model="mlp", loss="hinge", steps=3)
    problem = explorer.build(config)
    with torch.no_grad():
        start = float(problem.objective(problem.model))
    records = list(explorer.train(problem))
    np.testing.assert_allclose(records[0].loss, start, rtol=1e-6)
    assert problem.config == config.validate() and problem.spec is not None
    assert dataclass_is_frozen(problem)


def dataclass_is_frozen(obj) -> bool:
    try:
        obj.config = None
    except AttributeError:
        return True
    return False
