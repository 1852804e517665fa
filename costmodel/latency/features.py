"""Per-op features for the latency predictor, from the cost formulas and the traced shapes.

:func:`op_table` analyses a model once and returns one row per traced op with its kind (from
:mod:`costmodel.handles`), the formula counts (``madds``, ``flops``, ``mac``, ``mac_bytes``) and
shape features (``params_total``: every weight element the op reads, shared or not, and
``weight_bytes``; ``in_numel``/``out_numel``; ``alloc_bytes``: bytes of fresh output memory, 0 for
views and in-place ops; ``cin``/``cout``; ``hw_out``; ``kernel_area``; ``stride``;
``groups``; ``n_inputs``).  Measurement, calibration and prediction all use this table, so a
feature always means the same thing.
"""
from __future__ import annotations

import warnings
from typing import Dict, Optional, Tuple

import numpy as np
import pandas as pd
import torch.nn as nn

from costmodel.analysis import analyze
from costmodel.report import CostReport

FEATURE_COLUMNS = ["madds", "flops", "mac", "mac_bytes", "params_total", "weight_bytes", "in_numel",
                   "out_numel", "alloc_bytes", "cin", "cout", "hw_out", "kernel_area", "stride",
                   "groups", "n_inputs"]
#: features of an op's place in the network rather than of its shapes.  ``prev_same``: 1 when the
#: last op before it that is not light (:data:`LIGHT_KINDS`) is of its own kind, as in a stack of
#: 1x1 convolutions, 0 otherwise.  Measured on this project's x86 VMs: a 1x1 convolution right
#: after another (or after only a norm or activation) runs ~1.4x faster than after a oneDNN
#: depthwise or 3x3 convolution and ~2x faster than after a pooling.  Sample files written
#: before it existed lack the column (:func:`costmodel.latency.calibrate.refit` fills it in).
CONTEXT_COLUMNS = ["prev_same"]
#: kinds that do not count as the op "before" for ``prev_same`` (cheap element-wise work between
#: two kernels)
LIGHT_KINDS = ("norm", "act", "elementwise", "identity", "dropout", "view", "split", "copy")


def _channels(kind: str, inp, out):
    """(("cin", .), ("cout", .), ("hw_out", .)): channels are dim 1 and positions the dims after
    it, except for ``linear``, whose channels are the last dim and whose ``hw_out`` counts the rows
    it multiplies (1 for a classifier head, H*W for ConvNeXt's channels-last pointwise MLP)."""
    if kind == "linear" and inp is not None and out is not None and len(out.shape):
        cout = int(out.shape[-1])
        return (("cin", int(inp.shape[-1]) if len(inp.shape) else 1), ("cout", cout),
                ("hw_out", _prod(out.shape[:-1])))
    return (("cin", int(inp.shape[1]) if inp is not None and len(inp.shape) > 1 else 1),
            ("cout", int(out.shape[1]) if out is not None and len(out.shape) > 1 else 1),
            ("hw_out", _prod(out.shape[2:]) if out is not None and len(out.shape) > 2 else 1))


def _prod(xs) -> int:
    p = 1
    for x in xs:
        p *= int(x)
    return p


def _geo_prod(s) -> int:
    if s is None or (isinstance(s, float) and np.isnan(s)) or s == "":
        return 1
    return _prod(int(v) for v in str(s).split("x"))


def op_table(model: nn.Module, input_shape, report: CostReport = None) -> Tuple[pd.DataFrame, CostReport]:
    """(one row per traced op with kind, counts and shape features, the CostReport)."""
    if report is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = analyze(model, input_shape, warn=False)
    df = pd.DataFrame(op_columns(report), columns=["name", "op", "kind"] + FEATURE_COLUMNS
                      + CONTEXT_COLUMNS)
    df.attrs["module_calls"] = int(report.graph.module_calls)  # the network model's ``modules`` term
    return df, report


def op_columns(report: CostReport) -> Dict[str, np.ndarray]:
    """:func:`op_table`'s columns as arrays (``name``, ``op``, ``kind`` as objects, the features
    as int64), without building the DataFrame."""
    graph = report.graph
    layers = report.layers.iloc[:len(graph.ops)].reset_index(drop=True)
    # plain lists: row-by-row access to the (Arrow-backed) frame costs more than the rest
    cols = {c: layers[c].tolist() for c in ("kind", "madds", "flops", "mac", "mac_bytes", "kernel",
                                            "stride", "groups")}
    feats: dict = {c: [] for c in FEATURE_COLUMNS}
    names, ops = [], []
    for i, rec in enumerate(graph.ops):
        inp = rec.inputs[0] if rec.inputs else None
        out = rec.outputs[0] if rec.outputs else None
        itemsize = out.itemsize if out is not None else 4
        params_total = int(sum(_prod(s) for s in rec.params.values()))
        fresh = [] if rec.inplace else [t for t in rec.outputs if not t.aliases_input]
        groups = cols["groups"][i]
        names.append(rec.name)
        ops.append(rec.op)
        for c, v in (
                ("madds", cols["madds"][i]), ("flops", cols["flops"][i]), ("mac", cols["mac"][i]),
                ("mac_bytes", cols["mac_bytes"][i]),
                ("params_total", params_total),
                ("weight_bytes", params_total * itemsize),
                ("in_numel", sum(t.numel for t in rec.inputs)),
                ("out_numel", sum(t.numel for t in rec.outputs)),
                ("alloc_bytes", sum(t.numel * t.itemsize for t in fresh)),
                *_channels(cols["kind"][i], inp, out),
                ("kernel_area", _geo_prod(cols["kernel"][i])),
                ("stride", _geo_prod(cols["stride"][i])),
                ("groups", int(groups) if not pd.isna(groups) else 1),
                ("n_inputs", len(rec.inputs))):
            feats[c].append(int(v))
    data = {"name": np.array(names, dtype=object), "op": np.array(ops, dtype=object),
            "kind": np.array(cols["kind"], dtype=object)}
    data.update({c: np.array(v, dtype=np.int64) for c, v in feats.items()})
    data["prev_same"] = prev_same(cols["kind"])
    return data


def prev_same(kinds, entering: Optional[str] = None) -> np.ndarray:
    """Per op: 1 if the last earlier op whose kind is not in :data:`LIGHT_KINDS` has its kind
    (see :data:`CONTEXT_COLUMNS`), else 0.  ``entering``: that last kind before the first op (a
    network piece's context, :func:`last_heavy` of the ops before it), None at a network's
    start."""
    out = np.zeros(len(kinds), dtype=np.int64)
    last = entering
    for i, k in enumerate(kinds):
        out[i] = int(last is not None and k == last)
        if k not in LIGHT_KINDS:
            last = k
    return out


def last_heavy(kinds, entering: Optional[str] = None) -> Optional[str]:
    """The kind of the last op not in :data:`LIGHT_KINDS` (``entering`` when there is none): the
    context :func:`prev_same` carries past ``kinds`` into the ops that follow them."""
    for k in reversed(list(kinds)):
        if k not in LIGHT_KINDS:
            return k
    return entering
