"""``analyze(model, input_shape)``: trace, apply the formulas, build a :class:`CostReport`."""
from __future__ import annotations

import re
import warnings
from typing import List, Sequence, Tuple, Union

import torch
import torch.nn as nn

from costmodel import handles
from costmodel.report import CostReport, layer_rows
from costmodel.tracer import Graph, trace

ShapeLike = Union[str, Sequence[int]]


class ShapeError(ValueError):
    """A malformed input shape."""


class UnsupportedOpWarning(UserWarning):
    """An op without a cost formula: reported as ``unsupported`` with zero counts."""


def parse_shape(shape: ShapeLike) -> Tuple[int, ...]:
    """``"1x3x224x224"`` / ``"1,3,224,224"`` / ``(1, 3, 224, 224)`` -> ``(1, 3, 224, 224)``."""
    if isinstance(shape, str):
        parts = [p for p in re.split(r"[x,\s]+", shape.strip().lower()) if p]
        if not parts or not all(p.isdecimal() and p.isascii() for p in parts):
            raise ShapeError(f"bad input shape {shape!r}: expected positive integers separated by "
                             f"'x', e.g. 1x3x224x224")
        dims = tuple(int(p) for p in parts)
    else:
        try:
            dims = tuple(int(d) for d in shape)
        except (TypeError, ValueError):
            raise ShapeError(f"bad input shape {shape!r}: expected a sequence of integers") from None
        if any(isinstance(d, bool) or int(d) != d for d in shape):
            raise ShapeError(f"bad input shape {shape!r}: expected integers")
    if not dims or any(d <= 0 for d in dims):
        raise ShapeError(f"bad input shape {shape!r}: every dimension must be a positive integer")
    return dims


def _input_shapes(input_shape) -> List[Tuple[int, ...]]:
    """One shape, or a list of shapes for a model with several inputs."""
    if isinstance(input_shape, (list, tuple)) and input_shape and all(
            isinstance(s, (list, tuple, str)) for s in input_shape):
        return [parse_shape(s) for s in input_shape]
    return [parse_shape(input_shape)]


def trace_model(model: nn.Module, input_shape: ShapeLike, dtype: torch.dtype = torch.float32) -> Graph:
    """Trace with the formula registry's leaf rule (modules that have a formula are one op)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"costmodel.analyze expects a torch.nn.Module, got {type(model).__name__}")
    inputs = [torch.empty(s, dtype=dtype, device="meta") for s in _input_shapes(input_shape)]
    return trace(model, inputs, is_leaf=handles.has_module_handle, dtype=dtype)


def analyze(model: nn.Module, input_shape: ShapeLike = (1, 3, 224, 224),
            dtype: torch.dtype = torch.float32, warn: bool = True) -> CostReport:
    """Per-layer params, multiply-adds, flops and memory access cost of ``model``.

    ``input_shape`` is ``(N, C, H, W)`` (or a string such as ``"1x3x224x224"``, or a list of shapes
    for several inputs).  Nothing is computed: the model is traced on meta tensors.
    """
    graph = trace_model(model, input_shape, dtype)
    costs = [handles.cost_of(rec) for rec in graph.ops]
    missing = sorted({rec.op for rec, (_, ok) in zip(graph.ops, costs) if not ok})
    if missing and warn:
        for op in missing:
            names = [r.name for r, (_, ok) in zip(graph.ops, costs) if not ok and r.op == op]
            warnings.warn(
                f"costmodel: no cost formula for {op} ({len(names)} call(s), first: {names[0]}); "
                f"reported as 'unsupported' with zero cost", UnsupportedOpWarning, stacklevel=2)
    rows = layer_rows(graph, [c for c, _ in costs])
    return CostReport(rows, graph, model_name=type(model).__name__, unsupported=missing)
