"""autograd_dot: the DOT text of a loss's graph names the nodes autograd really built."""

import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from explorer.functions import Sin2
from explorer.graph import autograd_dot, escape, unreached_params

NODE = re.compile(r'^\s*(\w+) \[label="((?:[^"\\]|\\.)*)"', re.M)
EDGE = re.compile(r"^\s*(\w+) -> (\w+)", re.M)


def parse(dot: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """node id -> label, and the edges, from our DOT text."""
    return dict(NODE.findall(dot)), EDGE.findall(dot)


@pytest.fixture
def linear():
    torch.manual_seed(0)
    return nn.Linear(3, 1), torch.randn(8, 3), torch.randn(8, 1)


def test_mse_of_linear_has_the_expected_nodes_and_edges(linear):
    model, x, y = linear
    loss = F.mse_loss(model(x), y)
    dot = autograd_dot(loss, params=dict(model.named_parameters()))
    nodes, edges = parse(dot)
    labels = " | ".join(nodes.values())
    for name in ("MseLossBackward0", "AddmmBackward0", "TBackward0", "AccumulateGrad"):
        assert name in labels
    assert any(lbl.startswith("weight\\n(1, 3)") for lbl in nodes.values())
    assert any(lbl.startswith("bias\\n(1,)") for lbl in nodes.values())
    assert f"loss = {loss.item():.4g}" in nodes["root"]
    # Mse <- Addmm <- {bias, T <- weight}, and Mse -> root: 5 nodes + root, 5 edges
    assert len(nodes) == 6 and len(edges) == 5
    assert dot.count("{") == dot.count("}") == 1
    assert "not reached" not in dot


def test_edges_point_from_inputs_to_the_loss(linear):
    model, x, y = linear
    dot = autograd_dot(F.mse_loss(model(x), y), params=dict(model.named_parameters()))
    nodes, edges = parse(dot)
    by_label = {lbl.split("\\n")[0]: n for n, lbl in nodes.items()}
    assert (by_label["weight"], by_label["TBackward0"]) in edges
    assert (by_label["MseLossBackward0"], "root") in edges


def test_detached_branch_marks_the_parameter_unreached(linear):
    model, x, y = linear
    pred = x @ model.weight.detach().T + model.bias
    loss = F.mse_loss(pred, y)
    params = dict(model.named_parameters())
    dot = autograd_dot(loss, params=params)
    nodes, _ = parse(dot)
    unreached = [lbl for lbl in nodes.values() if "not reached" in lbl]
    assert len(unreached) == 1 and unreached[0].startswith("weight (1, 3)")
    assert "color=red" in dot and "dashed" in dot
    assert unreached_params(loss, params) == ["weight"]


def test_no_grad_gives_a_graph_without_nodes_and_every_param_unreached(linear):
    model, x, y = linear
    with torch.no_grad():
        loss = F.mse_loss(model(x), y)
    dot = autograd_dot(loss, params=dict(model.named_parameters()))
    assert "nothing here requires grad" in dot
    assert dot.count("not reached") == 2


def test_custom_function_node_is_marked():
    x = torch.randn(4, requires_grad=True)
    dot = autograd_dot(Sin2.apply(x).sum(), params={"x": x})
    nodes, _ = parse(dot)
    assert any(lbl.startswith("Sin2Backward\\ncustom") for lbl in nodes.values())


def test_frozen_param_is_gray_not_red(linear):
    model, x, y = linear
    model.bias.requires_grad_(False)
    dot = autograd_dot(F.mse_loss(model(x), y), params=dict(model.named_parameters()))
    assert "requires_grad=False" in dot and "not reached" not in dot


def test_node_cap_and_escaping():
    x = torch.randn(2, requires_grad=True)
    y = x
    for _ in range(50):
        y = y * 1.01
    dot = autograd_dot(y.sum(), params={'x "q"\\': x}, max_nodes=10)
    nodes, _ = parse(dot)
    assert len([n for n in nodes if n.startswith("n")]) == 10
    assert "more nodes not drawn" in dot
    assert "not reached" not in dot  # x is reached, just beyond the drawn part
    assert escape('a"b\\c\nd') == 'a\\"b\\\\c\\nd'


def test_odd_parameter_names_are_escaped():
    w, v = torch.randn(2, requires_grad=True), torch.randn(2, requires_grad=True)
    dot = autograd_dot((w * 2).sum(), params={"w": w, 'v "q"\\': v})
    assert 'v \\"q\\"\\\\ (2,)' in dot
    assert re.sub(r"\\.", "", dot).count('"') % 2 == 0  # quotes balanced once escapes are gone
