"""Prefix caching for per-layer campaigns: when only some layers are faulted, every value the network
computes before them is the same in every trial. Compute those values once per test batch and run only
the part of the graph downstream of the faulted layers in each trial.

    split = PrefixSplit.trace(model)                  # None when torch.fx cannot trace the model
    suffix = split.suffix(["layer3.2.conv1"])
    cache = suffix.cache(x, batch_size=1000)          # clean boundary values, batch by batch
    logits = [suffix(*inputs) for inputs in cache]    # == model(x) batch by batch, bit for bit

The model is traced with ``torch.fx``; a node is *downstream* when it reads a faulted module (or its
weight) or any downstream node. The suffix graph takes the clean values that downstream nodes read
(the boundary: e.g. a residual block's input) as inputs. Submodules are shared with the model, so
in-place weight changes and forward hooks (read noise) apply. Works for any graph, not only sequential
stages; models torch.fx cannot trace fall back to full passes.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import torch
from torch import Tensor, fx, nn

_INPLACE_FUNCTIONS = {operator.iadd, operator.isub, operator.imul, operator.itruediv, operator.ior, operator.iand}


class PrefixSplit:
    """A traced model from which suffixes for any set of faulted layers are cut."""

    def __init__(self, model: nn.Module, graph_module: fx.GraphModule) -> None:
        self.model, self.gm = model, graph_module

    @classmethod
    def trace(cls, model: nn.Module) -> PrefixSplit | None:
        try:
            return cls(model, fx.symbolic_trace(model))
        except Exception:  # noqa: BLE001 - any tracing failure means: use full passes
            return None

    def suffix(self, layers: Sequence[str]) -> Suffix | None:
        """The part of the graph downstream of ``layers`` (module names), with its boundary inputs; None
        when an in-place op upstream writes into a value the suffix reads (the cache would be stale)."""
        faulted = set(layers)
        nodes = list(self.gm.graph.nodes)
        downstream: set[fx.Node] = set()
        overwritten: set[fx.Node] = set()  # clean values that a downstream op writes into in place
        for n in nodes:
            reads_fault = (n.op == "call_module" and n.target in faulted) or (
                n.op == "get_attr" and n.target.rpartition(".")[0] in faulted)
            inherits = n.op not in ("placeholder", "output") and any(
                a in downstream or a in overwritten for a in n.all_input_nodes)
            if reads_fault or inherits:
                downstream.add(n)
                if n.args and isinstance(n.args[0], fx.Node) and _mutates(self.gm, n, n.args[0]):
                    overwritten.add(n.args[0])
        output = nodes[-1]
        users = [n for n in nodes if n in downstream] + [output]
        boundary = list(dict.fromkeys(a for n in users for a in n.all_input_nodes if a not in downstream))
        if any(_mutates(self.gm, n, b) for b in boundary for n in b.users if n not in downstream):
            return None

        suffix_graph, env = fx.Graph(), {}
        for b in boundary:
            env[b] = suffix_graph.placeholder(f"cached_{b.name}")
        for n in nodes:
            if n in downstream:
                env[n] = suffix_graph.node_copy(n, lambda a: env[a])
        suffix_graph.output(fx.graph.map_arg(output.args[0], lambda a: env[a]))

        prefix_graph, penv = fx.Graph(), {}
        for n in nodes:
            if n.op != "output" and n not in downstream:
                penv[n] = prefix_graph.node_copy(n, lambda a: penv[a])
        prefix_graph.output(tuple(penv[b] for b in boundary))
        prefix = fx.GraphModule(self.gm, prefix_graph)
        prefix.graph.eliminate_dead_code()
        prefix.recompile()

        mutated = {i for i, b in enumerate(boundary) if b in overwritten}
        return Suffix(prefix, fx.GraphModule(self.gm, suffix_graph), mutated)


class Suffix:
    """Callable on the cached boundary values of one batch; returns that batch's logits."""

    def __init__(self, prefix: fx.GraphModule, suffix: fx.GraphModule, mutated: set[int]) -> None:
        self.prefix, self.graph_module, self.mutated = prefix, suffix, mutated

    @torch.no_grad()
    def cache(self, x: Tensor, batch_size: int) -> list[tuple[Tensor, ...]]:
        """The clean boundary values of every batch of ``x`` (same batching as the full evaluation)."""
        return [tuple(self.prefix(x[i : i + batch_size])) for i in range(0, len(x), batch_size)]

    def __call__(self, *inputs: Tensor) -> Tensor:
        if self.mutated:  # a downstream in-place op writes into a cached value: hand it a copy
            inputs = tuple(t.clone() if i in self.mutated else t for i, t in enumerate(inputs))
        return self.graph_module(*inputs)


def _mutates(gm: fx.GraphModule, node: fx.Node, value: fx.Node) -> bool:
    """Whether ``node`` may write into ``value`` in place (``x.add_()``, ``F.relu(x, inplace=True)``,
    ``nn.ReLU(inplace=True)``; fx records ``x += y`` on a traced value as an out-of-place add)."""
    first = node.args[0] if node.args else None
    if first is not value:
        return False
    if node.op == "call_function":
        return node.target in _INPLACE_FUNCTIONS or bool(node.kwargs.get("inplace"))
    if node.op == "call_method":
        return str(node.target).endswith("_")
    if node.op == "call_module":
        return bool(getattr(gm.get_submodule(node.target), "inplace", False))
    return False
