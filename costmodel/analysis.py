"""``analyze(model, input_shape)``: trace, apply the formulas, build a :class:`CostReport`."""
from __future__ import annotations

import math
import re
import warnings
from typing import List, Sequence, Tuple, Union

import torch
import torch.nn as nn

from costmodel import handles
from costmodel.report import CostReport, cost_totals, layer_rows
from costmodel.tracer import Graph, TraceError, trace

ShapeLike = Union[str, Sequence[int]]


class ShapeError(ValueError):
    """A malformed input shape."""


class UnsupportedOpWarning(UserWarning):
    """An op without a cost formula: reported as ``unsupported`` with zero counts."""


def _short(obj, limit: int = 60) -> str:
    text = repr(obj)
    return text if len(text) <= limit else text[:limit] + "..."


def parse_shape(shape: ShapeLike) -> Tuple[int, ...]:
    """``"1x3x224x224"`` / ``"1,3,224,224"`` / ``(1, 3, 224, 224)`` -> ``(1, 3, 224, 224)``."""
    if isinstance(shape, str):
        parts = [p for p in re.split(r"[x,\s]+", shape.strip().lower()) if p]
        if not parts or not all(p.isdecimal() and p.isascii() for p in parts):
            raise ShapeError(f"bad input shape {_short(shape)}: expected positive integers separated by "
                             f"'x', e.g. 1x3x224x224")
        dims = tuple(int(p) for p in parts)
    else:
        try:
            dims = tuple(int(d) for d in shape)
        except (TypeError, ValueError):
            raise ShapeError(f"bad input shape {_short(shape)}: expected a sequence of integers") from None
        if any(isinstance(d, bool) or int(d) != d for d in shape):
            raise ShapeError(f"bad input shape {_short(shape)}: expected integers")
    if not dims or any(d <= 0 for d in dims):
        raise ShapeError(f"bad input shape {_short(shape)}: every dimension must be a positive integer")
    return dims


#: the largest input accepted, in elements (a shape beyond it is a typo, and its storage size
#: would overflow torch's 64-bit byte count)
MAX_INPUT_ELEMENTS = 2 ** 48


def _input_shapes(input_shape) -> List[Tuple[int, ...]]:
    """One shape, or a list of shapes for a model with several inputs."""
    if isinstance(input_shape, (list, tuple)) and input_shape and all(
            isinstance(s, (list, tuple, str, torch.Size)) for s in input_shape):
        return [parse_shape(s) for s in input_shape]
    return [parse_shape(input_shape)]


def _dtypes(input_dtype, dtype: torch.dtype, n: int) -> List[torch.dtype]:
    if input_dtype is None:
        return [dtype] * n
    if isinstance(input_dtype, torch.dtype):
        return [input_dtype] * n
    dts = list(input_dtype)
    if len(dts) != n or not all(isinstance(d, torch.dtype) for d in dts):
        raise ShapeError(f"input_dtype: give one torch.dtype, or one per input ({n}), got "
                         f"{input_dtype!r}")
    return dts


def input_tensors(input_shape, dtype: torch.dtype = torch.float32,
                  input_dtype=None) -> List[torch.Tensor]:
    """Meta tensors for the model's inputs.

    ``input_shape`` is a shape (``(1, 3, 224, 224)``, ``"1x3x224x224"``), a list of shapes, or
    example tensors (real or meta: only their shapes and dtypes are used).  ``input_dtype`` is
    one dtype or one per input (``torch.long`` for token ids); by default ``dtype``.
    """
    if isinstance(input_shape, torch.Tensor) or (
            isinstance(input_shape, (list, tuple)) and input_shape
            and all(isinstance(t, torch.Tensor) for t in input_shape)):
        tensors = [input_shape] if isinstance(input_shape, torch.Tensor) else list(input_shape)
        dts = [t.dtype for t in tensors] if input_dtype is None else _dtypes(input_dtype, dtype,
                                                                              len(tensors))
        shapes = [tuple(t.shape) for t in tensors]
    else:
        shapes = _input_shapes(input_shape)
        dts = _dtypes(input_dtype, dtype, len(shapes))
    for s in shapes:
        if math.prod(s) > MAX_INPUT_ELEMENTS:
            raise ShapeError(f"input shape {'x'.join(map(str, s))} has {math.prod(s):.3g} elements, "
                             f"more than the {MAX_INPUT_ELEMENTS:.3g} costmodel accepts")
    return [torch.empty(s, dtype=d, device="meta") for s, d in zip(shapes, dts)]


def _hint(shapes: List[Tuple[int, ...]]) -> str:
    """A likely cause of a failed forward that the shape itself shows."""
    if len(shapes) == 1 and len(shapes[0]) == 3 and shapes[0][0] in (1, 3, 4):
        s = shapes[0]
        return (f" (input shape {'x'.join(map(str, s))} has no batch dimension: did you mean "
                f"1x{'x'.join(map(str, s))}?)")
    return ""


def trace_model(model: nn.Module, input_shape: ShapeLike, dtype: torch.dtype = torch.float32,
                input_dtype=None) -> Graph:
    """Trace with the formula registry's leaf rule (modules that have a formula are one op)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"costmodel.analyze expects a torch.nn.Module, got {type(model).__name__}")
    inputs = input_tensors(input_shape, dtype, input_dtype)
    try:
        return trace(model, inputs, is_leaf=handles.has_module_handle, dtype=dtype)
    except TraceError as exc:
        hint = _hint([tuple(t.shape) for t in inputs])
        if hint:
            raise TraceError(str(exc) + hint) from exc.__cause__
        raise


def analyze(model: nn.Module, input_shape: ShapeLike = (1, 3, 224, 224),
            dtype: torch.dtype = torch.float32, warn: bool = True,
            input_dtype=None) -> CostReport:
    """Per-layer params, multiply-adds, flops and memory access cost of ``model``.

    ``input_shape`` is ``(N, C, H, W)`` (or a string such as ``"1x3x224x224"``, a list of shapes
    for several inputs, or example tensors, whose shapes and dtypes are used).  ``dtype`` is the
    precision of the floating-point parameters (and of the inputs unless ``input_dtype`` is
    given: one dtype, or one per input, e.g. ``torch.long`` for token ids).  Nothing is
    computed: the model is traced on meta tensors, and left exactly as it was.
    """
    graph = trace_model(model, input_shape, dtype, input_dtype)
    costs = [handles.cost_of(rec) for rec in graph.ops]
    missing = sorted({rec.op for rec, (_, why) in zip(graph.ops, costs) if why})
    if missing and warn:
        for op in missing:
            bad = [(r.name, why) for r, (_, why) in zip(graph.ops, costs) if why and r.op == op]
            warnings.warn(
                f"costmodel: {bad[0][1]} for {op} ({len(bad)} call(s), first: {bad[0][0]}); "
                f"reported as 'unsupported' with zero cost", UnsupportedOpWarning, stacklevel=2)
    op_costs = [c for c, _ in costs]
    return CostReport(lambda: layer_rows(graph, op_costs), graph, model_name=type(model).__name__,
                      unsupported=missing, total=cost_totals(graph, op_costs))
