"""Check costmodel's counts on any model against independent truths, and that analysis left the
model exactly as it was.

* parameters: the model's own unique parameter count (``sum(p.numel())`` over
  ``model.parameters()``);
* multiply-adds of the ops torch's ``torch.utils.flop_counter.FlopCounterMode`` counts
  (convolutions, ``mm``/``addmm``/``bmm``/``baddbmm``, scaled dot-product attention): its total
  divided by two, on meta tensors, against costmodel's madds of the same kinds
  (:data:`COUNTED_KINDS`);
* no op left ``unsupported``;
* the model unchanged: :func:`fingerprint` before and after (every parameter, buffer and tensor
  attribute by identity, device, dtype, shape, storage and in-place version counter; every
  module's attributes, training flag and hooks).

``python benchmarks/coverage.py`` runs :func:`check` over all of timm, torchvision and pytorchcv.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn

from costmodel.analysis import analyze, input_tensors
from costmodel.tracer import TraceError, _ModelState

#: op kinds whose multiply-adds FlopCounterMode also counts
COUNTED_KINDS = ("conv", "group_conv", "depthwise_conv", "pointwise_conv", "dilated_conv",
                 "transposed_conv", "linear", "matmul", "attention", "rnn")
#: relative tolerance of the multiply-add comparison
MADDS_TOLERANCE = 1e-3


def fingerprint(model: nn.Module) -> Dict[str, tuple]:
    """Everything :func:`costmodel.analyze` could change in a model, cheaply comparable."""
    out: Dict[str, tuple] = {}
    for path, m in model.named_modules(remove_duplicate=False):
        keys = tuple(sorted((k, id(v)) for k, v in vars(m).items()))
        hooks = tuple(len(getattr(m, h, {})) for h in (
            "_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks",
            "_forward_hooks_with_kwargs", "_forward_pre_hooks_with_kwargs",
            "_state_dict_hooks", "_load_state_dict_pre_hooks"))
        out[f"module {path or '(model)'}"] = (id(m), m.training, keys, hooks)
        tensors = list(m._parameters.items()) + list(m._buffers.items()) + [
            (k, v) for k, v in vars(m).items() if isinstance(v, torch.Tensor)]
        for name, t in tensors:
            if t is None:
                out[f"tensor {path}.{name}"] = (None,)
                continue
            ptr = 0 if t.device.type == "meta" else t.untyped_storage().data_ptr()
            out[f"tensor {path}.{name}"] = (id(t), t.device, t.dtype, tuple(t.shape), t.stride(),
                                            t.requires_grad, ptr, t._version)
    return out


def fingerprint_changes(before: Dict[str, tuple], after: Dict[str, tuple]) -> List[str]:
    """Human-readable differences between two fingerprints (empty when identical)."""
    changes = [f"{k} added" for k in after if k not in before]
    changes += [f"{k} removed" for k in before if k not in after]
    changes += [f"{k} changed" for k in before if k in after and before[k] != after[k]]
    return changes


def reference_madds(model: nn.Module, inputs: Sequence[torch.Tensor]) -> int:
    """FlopCounterMode's total / 2 for one forward of ``model`` on meta tensors (the model's state
    is swapped for meta stand-ins and put back)."""
    from torch.utils.flop_counter import FlopCounterMode
    meta = [torch.empty(t.shape, dtype=t.dtype, device="meta") for t in inputs]
    was = {m: m.training for m in model.modules()}
    with _ModelState(model, requires_grad=False), torch.no_grad():
        for m in was:
            m.training = False
        counter = FlopCounterMode(display=False)
        with counter:
            model(*meta)
    return counter.get_total_flops() // 2


@dataclass
class Check:
    """The outcome of :func:`check` for one model."""

    name: str
    shape: tuple
    params: int = 0
    true_params: int = 0
    madds: int = 0  # costmodel's multiply-adds of COUNTED_KINDS
    ref_madds: int = 0  # FlopCounterMode / 2
    all_madds: int = 0  # costmodel's multiply-adds of every op
    unsupported: List[str] = field(default_factory=list)
    changes: List[str] = field(default_factory=list)
    seconds: float = 0.0  # costmodel.analyze's wall time
    error: Optional[str] = None  # analysis failed: why
    ref_error: Optional[str] = None  # the reference count failed: why

    @property
    def madds_error(self) -> float:
        if self.ref_madds == 0:
            return 0.0 if self.madds == 0 else float("inf")
        return (self.madds - self.ref_madds) / self.ref_madds

    @property
    def exact(self) -> bool:
        return (self.error is None and self.ref_error is None and self.params == self.true_params
                and abs(self.madds_error) <= MADDS_TOLERANCE)

    @property
    def ok(self) -> bool:
        return self.exact and not self.unsupported and not self.changes

    def problems(self) -> List[str]:
        """Why the check failed, one short phrase each."""
        if self.error:
            return [f"analysis failed: {self.error}"]
        out = []
        if self.ref_error:
            out.append(f"reference count failed: {self.ref_error}")
        if self.params != self.true_params:
            out.append(f"params {self.params} vs {self.true_params}")
        if self.ref_error is None and abs(self.madds_error) > MADDS_TOLERANCE:
            out.append(f"madds {self.madds_error:+.2%} vs FlopCounterMode")
        if self.unsupported:
            out.append("unsupported: " + ", ".join(self.unsupported))
        if self.changes:
            out.append(f"model changed ({len(self.changes)}: {self.changes[0]})")
        return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"[:300]


def check(model: nn.Module, input_shape, name: str = "", input_dtype=None,
          reference: bool = True) -> Check:
    """Analyze ``model`` and compare with the independent truths (module docstring)."""
    inputs = input_tensors(input_shape, torch.float32, input_dtype)
    result = Check(name or type(model).__name__, tuple(tuple(t.shape) for t in inputs))
    seen = {id(p): p.numel() for p in model.parameters()}
    result.true_params = sum(seen.values())
    before = fingerprint(model)
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rep = analyze(model, input_shape, input_dtype=input_dtype, warn=False)
    except (TraceError, ValueError, TypeError) as exc:
        result.error = _first_line(exc)
        result.changes = fingerprint_changes(before, fingerprint(model))
        return result
    result.seconds = time.perf_counter() - t0
    result.changes = fingerprint_changes(before, fingerprint(model))
    df = rep.layers
    result.params = int(rep.total["params"])
    result.madds = int(df.loc[df["kind"].isin(COUNTED_KINDS), "madds"].sum())
    result.all_madds = int(rep.total["madds"])
    result.unsupported = list(rep.unsupported)
    if reference:
        try:
            result.ref_madds = int(reference_madds(model, inputs))
        except Exception as exc:  # torch's counter has its own gaps: report, do not hide
            result.ref_error = _first_line(exc)
    return result
