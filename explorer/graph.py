"""The autograd graph behind a tensor, walked through `grad_fn.next_functions`, as Graphviz DOT.

Edges point the way data flowed in the forward pass (inputs → outputs → loss). Leaves are the
`AccumulateGrad` nodes of tensors that require grad; a parameter that requires grad but is not
reachable from the root (cut by `.detach()` or `torch.no_grad()`) is drawn red and dashed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import Tensor
from torch.autograd.graph import Node

MAX_NODES = 200

STYLE = {
    "root": 'shape=box, style="filled,bold", fillcolor="#fde2c8"',
    "op": 'shape=box, style=filled, fillcolor="#eeeeee"',
    "custom": 'shape=box, style=filled, fillcolor="#d9c8f5"',
    "leaf": 'shape=ellipse, style=filled, fillcolor="#cde8c8"',
    "unreached": 'shape=ellipse, style="dashed,filled", color=red, fontcolor=red, fillcolor="#fff0f0"',
    "frozen": 'shape=ellipse, style="dashed", color=gray, fontcolor=gray',
    "more": "shape=plaintext",
}


def escape(text: str) -> str:
    """A label made safe inside DOT double quotes (backslashes, quotes, newlines)."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def shape_text(t: Tensor) -> str:
    """(3, 1) style shape text; () for a scalar."""
    return "(" + ", ".join(str(s) for s in t.shape) + ("," if t.dim() == 1 else "") + ")"


def is_custom(fn: Node) -> bool:
    """True for the backward node of a user-written torch.autograd.Function."""
    return isinstance(fn, torch.autograd.function.BackwardCFunction)


def node_label(fn: Node, names: Mapping[int, str]) -> tuple[str, str]:
    """(label, style key) of one grad_fn node."""
    kind = type(fn).__name__
    if kind == "AccumulateGrad":
        var = fn.variable  # type: ignore[attr-defined]  # torch's Node stub lacks it
        name = names.get(id(var), "leaf tensor")
        return f"{name}\n{shape_text(var)}\nAccumulateGrad", "leaf"
    if is_custom(fn):
        return f"{kind}\ncustom autograd.Function", "custom"
    return kind, "op"


def value_text(t: Tensor) -> str:
    """The loss value for the root label: a number for a scalar, else its shape."""
    if t.numel() == 1:
        return f"loss = {t.detach().item():.4g}\nshape {shape_text(t)}"
    return f"non-scalar output\nshape {shape_text(t)}"


def walk(root_fn: Node, max_nodes: int) -> tuple[list[Node], set[tuple[int, int]], int]:
    """Breadth-first walk of grad_fn nodes: (nodes in order, edges (src, dst) as indices, left out)."""
    nodes, index, dropped = [root_fn], {id(root_fn): 0}, 0
    edges: set[tuple[int, int]] = set()
    for fn in nodes:  # grows while walking: breadth first
        for nxt, _ in getattr(fn, "next_functions", ()):
            if nxt is None:
                continue
            if id(nxt) not in index:
                if len(nodes) >= max_nodes:
                    dropped += 1
                    continue
                index[id(nxt)] = len(nodes)
                nodes.append(nxt)
            edges.add((index[id(nxt)], index[id(fn)]))
    return nodes, edges, dropped


def reached_leaves(nodes: Iterable[Node]) -> set[int]:
    """ids of the leaf tensors whose AccumulateGrad node was reached."""
    leaves = (fn for fn in nodes if type(fn).__name__ == "AccumulateGrad")
    return {id(fn.variable) for fn in leaves}  # type: ignore[attr-defined]  # as in node_label


def autograd_dot(
    tensor: Tensor, *, params: Mapping[str, Tensor] | None = None, max_nodes: int = MAX_NODES
) -> str:
    """Graphviz DOT source of the autograd graph that ends in `tensor` (usually the loss)."""
    params = dict(params or {})
    names = {id(p): name for name, p in params.items()}
    lines = ["digraph autograd {", '  rankdir=TB; node [fontname="Helvetica", fontsize=10];']
    lines.append(f'  root [label="{escape(value_text(tensor))}", {STYLE["root"]}];')
    nodes: list[Node] = []
    edges: set[tuple[int, int]] = set()
    dropped = 0
    if tensor.grad_fn is not None:
        nodes, edges, dropped = walk(tensor.grad_fn, max_nodes)
        lines.append("  n0 -> root;")
    elif tensor.requires_grad:
        names.setdefault(id(tensor), "leaf tensor")
    else:
        lines.append(
            '  root_note [label="no grad_fn: nothing here requires grad", shape=plaintext];'
        )
        lines.append("  root_note -> root [style=dotted, arrowhead=none];")
    for i, fn in enumerate(nodes):
        label, style = node_label(fn, names)
        lines.append(f'  n{i} [label="{escape(label)}", {STYLE[style]}];')
    lines += [f"  n{src} -> n{dst};" for src, dst in sorted(edges)]
    if dropped:
        lines.append(f'  more [label="… {dropped} more nodes not drawn", {STYLE["more"]}];')
    full = nodes
    if dropped and tensor.grad_fn is not None:  # reachability beyond the cap
        full = walk(tensor.grad_fn, 10**6)[0]
    lines += unreached_lines(params, reached_leaves(full) | {id(tensor)})
    lines.append("}")
    return "\n".join(lines)


def unreached_lines(params: Mapping[str, Tensor], reached: set[int]) -> list[str]:
    """DOT nodes for parameters the walk never reached: red if they require grad, gray if frozen."""
    out = []
    for i, (name, p) in enumerate(params.items()):
        if id(p) in reached:
            continue
        if p.requires_grad:
            label, style = f"{name} {shape_text(p)}\nnot reached (detached / no_grad?)", "unreached"
        else:
            label, style = f"{name} {shape_text(p)}\nrequires_grad=False", "frozen"
        out.append(f'  p{i} [label="{escape(label)}", {STYLE[style]}];')
    return out


def unreached_params(tensor: Tensor, params: Mapping[str, Tensor]) -> list[str]:
    """Names of parameters that require grad but get no gradient from `tensor`."""
    nodes = walk(tensor.grad_fn, 10**6)[0] if tensor.grad_fn is not None else []
    reached = reached_leaves(nodes) | {id(tensor)}
    return [n for n, p in params.items() if p.requires_grad and id(p) not in reached]
