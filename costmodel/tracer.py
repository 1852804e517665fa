"""Graph tracer: run a module's forward on meta tensors and record every op with data-flow edges.

The tracer knows nothing about costs.  It runs the model eagerly (so Python loops, ``torch.split``
results, shape arithmetic and any control flow that does not read tensor *values* just work, where
``torch.fx.symbolic_trace`` fails), but on the ``meta`` device: parameters, buffers and
activations have shapes, dtypes and strides and no storage, so no real computation runs and no
activation memory is allocated, whatever the input size.

Two hooks see the ops:

* **leaf modules** (chosen by the caller's ``is_leaf`` predicate, e.g. every module with a cost
  formula) are recorded once per call by forward pre/post hooks; what runs inside them is not
  recorded separately;
* every other tensor-producing call (``torch.cat``, ``x + y``, ``F.relu``, ``x.view``,
  ``torch.split`` ...) made by a non-leaf module's ``forward`` is recorded by a
  :class:`~torch.overrides.TorchFunctionMode`.

Each :class:`OpRecord` holds a stable name, the op, input/output tensor descriptions, the leaf
module's hyper-parameters (or the call's non-tensor arguments) and ``parents``: the indices of the
records that produced its inputs (``-1`` for a model input), which expose branches, concatenations
and residuals.
"""
from __future__ import annotations

import contextlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch.func import functional_call
from torch.overrides import TorchFunctionMode

MODEL_INPUT = -1  # parent index of a model input


class TraceError(RuntimeError):
    """The model could not be traced; the message names the layer and the shapes."""


@dataclass(frozen=True)
class TensorInfo:
    """Shape, dtype and layout of one tensor seen by the tracer."""

    shape: Tuple[int, ...]
    dtype: torch.dtype
    contiguous: bool = True
    aliases_input: bool = False  # shares storage with an input of the op that produced it (a view)
    stride: Tuple[int, ...] = ()  # element strides (layout), for replaying the op on real tensors

    @property
    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= int(s)
        return n

    @property
    def itemsize(self) -> int:
        return torch.empty((), dtype=self.dtype, device="meta").element_size()

    @classmethod
    def of(cls, t: torch.Tensor, inputs: Sequence[torch.Tensor] = ()) -> "TensorInfo":
        storage = _storage_key(t)
        aliases = any(_storage_key(i) == storage for i in inputs)
        return cls(tuple(t.shape), t.dtype, t.is_contiguous(), aliases, tuple(t.stride()))


@dataclass
class OpRecord:
    """One executed op.

    ``op`` is the module class name for a leaf module (``"Conv2d"``) and the qualified function
    for a functional call (``"torch.cat"``, ``"Tensor.add"``, ``"F.relu"``).  ``target`` is the
    module object or the function itself.  ``hparams`` holds a leaf module's hyper-parameters
    (``kernel_size``, ``stride``, ``groups`` ...); ``args``/``kwargs`` hold a functional call's
    arguments with every tensor replaced by its :class:`TensorInfo`.  ``params`` maps each
    parameter this op uses to its shape; ``new_params`` is the number of parameter elements this
    op is the first to use (shared weights count once).
    """

    index: int
    name: str
    op: str
    scope: str  # path of the module whose forward ran this op ('' = the root module)
    target: Any
    inputs: List[TensorInfo]
    outputs: List[TensorInfo]
    parents: List[int]
    is_module: bool
    hparams: Dict[str, Any] = field(default_factory=dict)
    args: Tuple[Any, ...] = ()
    kwargs: Dict[str, Any] = field(default_factory=dict)
    params: Dict[str, Tuple[int, ...]] = field(default_factory=dict)
    new_params: int = 0
    inplace: bool = False

    @property
    def input(self) -> TensorInfo:
        return self.inputs[0]

    @property
    def output(self) -> TensorInfo:
        return self.outputs[0]

    def arg(self, position: int, name: str, default: Any = None) -> Any:
        """A functional call's argument by position or keyword."""
        if name in self.kwargs:
            return self.kwargs[name]
        if position < len(self.args):
            return self.args[position]
        return default


@dataclass
class Graph:
    """The traced ops in execution order, plus the model's inputs and outputs."""

    ops: List[OpRecord]
    inputs: List[TensorInfo]
    outputs: List[TensorInfo]
    output_parents: List[int]
    total_params: int  # unique parameter elements of the model
    unused_params: Dict[str, int]  # parameters no traced op read (e.g. heads not run in forward)

    def children(self) -> Dict[int, List[int]]:
        """Consumers of each op (inverse of ``parents``)."""
        out: Dict[int, List[int]] = defaultdict(list)
        for rec in self.ops:
            for p in rec.parents:
                out[p].append(rec.index)
        return dict(out)


def _storage_key(t: torch.Tensor):
    try:
        return t.untyped_storage()._cdata
    except Exception:  # tensors without storage (some subclasses)
        return id(t)


def _qualified_name(func) -> Tuple[str, str]:
    """(qualified op name, short name) of a function seen by the mode."""
    name = getattr(func, "__name__", None) or repr(func)
    qual = getattr(func, "__qualname__", "") or ""
    module = getattr(func, "__module__", None) or ""
    if qual.startswith(("TensorBase.", "Tensor.")):
        return "Tensor." + name, name
    if module == "torch.nn.functional":
        return "F." + name, name
    if module.startswith("torch"):
        return "torch." + name, name
    return f"{module}.{name}" if module else name, name


_DUNDER = {"__add__": "add", "__radd__": "add", "__iadd__": "add_", "__sub__": "sub",
           "__rsub__": "sub", "__isub__": "sub_", "__mul__": "mul", "__rmul__": "mul",
           "__imul__": "mul_", "__truediv__": "div", "__rtruediv__": "div", "__itruediv__": "div_",
           "__getitem__": "getitem", "__setitem__": "setitem", "__matmul__": "matmul",
           "__neg__": "neg"}


def _flatten_tensors(obj) -> List[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in _flatten_tensors(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _flatten_tensors(o)]
    return []


def _describe(obj):
    """Replace tensors by TensorInfo, recursively, for storing a call's arguments."""
    if isinstance(obj, torch.Tensor):
        return TensorInfo.of(obj)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_describe(o) for o in obj) if not hasattr(obj, "_fields") else obj
    if isinstance(obj, dict):
        return {k: _describe(v) for k, v in obj.items()}
    return obj


_HPARAM_TYPES = (int, float, bool, str, tuple, type(None))


def module_hparams(module: nn.Module) -> Dict[str, Any]:
    """Public hyper-parameters of a module: its plain-valued attributes (kernel_size, stride ...)."""
    return {k: v for k, v in vars(module).items()
            if not k.startswith("_") and k != "training" and isinstance(v, _HPARAM_TYPES)
            and (not isinstance(v, tuple) or all(isinstance(e, (int, float, bool, str)) for e in v))}


class _Recorder(TorchFunctionMode):
    """Collects OpRecords from module hooks and from torch function calls."""

    def __init__(self, model: nn.Module, is_leaf: Callable[[nn.Module], bool]):
        super().__init__()
        self.ops: List[OpRecord] = []
        self.producer: Dict[int, int] = {}  # id(tensor) -> index of the op that produced it
        self.keep_alive: List[torch.Tensor] = []  # so ids are not reused during the trace
        self.param_names: Dict[int, str] = {}  # id(meta parameter) -> qualified name
        self.param_used: set = set()
        self.state_ids: set = set()  # ids of the meta parameters and buffers
        self.module_path: Dict[int, str] = {}
        self.is_leaf = is_leaf
        self.stack: List[nn.Module] = []  # modules whose forward is running (innermost last)
        self.leaf_depth = 0
        self.name_counts: Dict[str, int] = defaultdict(int)
        self.module_params: Dict[int, List[Tuple[str, nn.Parameter]]] = {}
        for path, mod in model.named_modules():
            self.module_path.setdefault(id(mod), path)
        self.handles = []
        for mod in {id(m): m for m in model.modules()}.values():
            self.handles.append(mod.register_forward_pre_hook(self._pre_hook, with_kwargs=True))
            self.handles.append(mod.register_forward_hook(self._post_hook, with_kwargs=True))

    # ------------------------------------------------------------------ helpers
    def _unique_name(self, base: str) -> str:
        self.name_counts[base] += 1
        n = self.name_counts[base]
        return base if n == 1 else f"{base}:{n}"

    def _parents(self, tensors: Sequence[torch.Tensor]) -> List[int]:
        return [self.producer.get(id(t), MODEL_INPUT) for t in tensors]

    def _activations(self, tensors: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        """The tensors that are data, not the model's own parameters or buffers."""
        return [t for t in tensors if id(t) not in self.state_ids]

    def _mark_outputs(self, tensors: Sequence[torch.Tensor], index: int):
        for t in tensors:
            self.producer[id(t)] = index
            self.keep_alive.append(t)

    def _scope(self) -> str:
        return self.module_path.get(id(self.stack[-1]), "") if self.stack else ""

    # ------------------------------------------------------------------ module hooks
    def _pre_hook(self, module, args, kwargs):
        self.stack.append(module)
        if self.leaf_depth or self.is_leaf(module):
            if self.leaf_depth == 0:
                self._leaf_inputs = self._activations(_flatten_tensors((args, kwargs)))
            self.leaf_depth += 1
        return None

    def _post_hook(self, module, args, kwargs, output):
        self.stack.pop()
        if not self.leaf_depth:
            return None
        self.leaf_depth -= 1
        if self.leaf_depth:
            return None
        inputs = self._leaf_inputs
        outs = _flatten_tensors(output)
        path = self.module_path.get(id(module), type(module).__name__)
        params = {}
        new = 0
        for pname, p in module.named_parameters():
            full = f"{path}.{pname}" if path else pname
            params[full] = tuple(p.shape)
            key = self.param_names.get(id(p), full)
            if key not in self.param_used:
                self.param_used.add(key)
                new += p.numel()
        rec = OpRecord(
            index=len(self.ops), name=self._unique_name(path or type(module).__name__),
            op=type(module).__name__, scope=path, target=module,
            inputs=[TensorInfo.of(t) for t in inputs],
            outputs=[TensorInfo.of(t, inputs) for t in outs],
            parents=self._parents(inputs), is_module=True, hparams=module_hparams(module),
            params=params, new_params=new,
            inplace=any(o is i for o in outs for i in inputs))
        self.ops.append(rec)
        self._mark_outputs(outs, rec.index)
        return None

    # ------------------------------------------------------------------ functional calls
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.leaf_depth:
            return out
        qual, short = _qualified_name(func)
        short = _DUNDER.get(short, short)
        outs = _flatten_tensors(out)
        if short == "setitem":  # in-place write into args[0], returns None
            outs = [args[0]]
        if not outs or short == "__set__":
            return out  # shape queries, dtype lookups...
        if short == "__get__":  # a tensor-valued property: x.T, x.mT, x.real ...
            short = getattr(getattr(func, "__self__", None), "__name__", "property")
            qual = "Tensor." + short
        tensors = _flatten_tensors((args, kwargs))
        inputs = self._activations(tensors)
        params = {}
        new = 0
        for t in tensors:
            pname = self.param_names.get(id(t))
            if pname is not None:
                params[pname] = tuple(t.shape)
                if pname not in self.param_used:
                    self.param_used.add(pname)
                    new += t.numel()
        scope = self._scope()
        base = f"{scope}.{short}" if scope else short
        rec = OpRecord(
            index=len(self.ops), name=self._unique_name(base), op=qual, scope=scope, target=func,
            inputs=[TensorInfo.of(t) for t in inputs],
            outputs=[TensorInfo.of(t, inputs) for t in outs],
            parents=self._parents(inputs), is_module=False,
            args=tuple(_describe(a) for a in args), kwargs=_describe(kwargs),
            params=params, new_params=new,
            inplace=short.endswith("_") or short == "setitem" or any(o is i for o in outs for i in inputs))
        self.ops.append(rec)
        self._mark_outputs(outs, rec.index)
        return out

    def remove(self):
        for h in self.handles:
            h.remove()


#: leaf modules whose output has the input's shape, dtype and layout, and whose meta kernels are
#: slow Python decompositions: while tracing, their forward becomes ``empty_like`` (or returns the
#: input itself for ``inplace=True``, so in-place data flow is kept).
_SHAPE_PRESERVING = (nn.modules.batchnorm._BatchNorm, nn.ReLU, nn.ReLU6, nn.Hardtanh, nn.LeakyReLU,
                     nn.ELU, nn.Sigmoid, nn.Tanh, nn.Hardsigmoid, nn.SiLU, nn.Hardswish, nn.Mish,
                     nn.GELU, nn.PReLU)


def _fast_forward(module: nn.Module):
    if getattr(module, "inplace", False):
        return lambda x, *args, **kwargs: x
    return lambda x, *args, **kwargs: torch.empty_like(x)


@contextlib.contextmanager
def _fast_shape_rules(model: nn.Module, is_leaf: Callable[[nn.Module], bool]):
    patched = [m for m in model.modules() if isinstance(m, _SHAPE_PRESERVING) and is_leaf(m)
               and "forward" not in vars(m)]
    for m in patched:
        m.forward = _fast_forward(m)
    try:
        yield
    finally:
        for m in patched:
            del m.forward


def _meta_state(model: nn.Module, dtype: Optional[torch.dtype] = None) -> Dict[str, torch.Tensor]:
    """Meta-device stand-ins for every parameter and buffer (tied weights map to one tensor),
    floating-point ones cast to ``dtype`` when given (as ``model.to(dtype)`` would)."""
    state: Dict[str, torch.Tensor] = {}
    by_id: Dict[int, torch.Tensor] = {}
    for name, t in list(model.named_parameters(remove_duplicate=False)) + list(
            model.named_buffers(remove_duplicate=False)):
        if id(t) not in by_id:
            dt = dtype if dtype is not None and t.is_floating_point() else t.dtype
            by_id[id(t)] = torch.empty_strided(t.shape, t.stride(), dtype=dt, device="meta")
        state[name] = by_id[id(t)]
    return state


def _as_meta_inputs(inputs) -> Tuple[torch.Tensor, ...]:
    if isinstance(inputs, torch.Tensor):
        inputs = (inputs,)
    out = []
    for t in inputs:
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"model inputs must be tensors, got {type(t).__name__}")
        out.append(t if t.device.type == "meta" else torch.empty(t.shape, dtype=t.dtype, device="meta"))
    return tuple(out)


def trace(model: nn.Module, inputs, is_leaf: Optional[Callable[[nn.Module], bool]] = None,
          dtype: Optional[torch.dtype] = None) -> Graph:
    """Trace ``model`` on ``inputs`` (tensors, real or meta: only their shapes and dtypes are used).

    ``dtype``, when given, is the precision of the floating-point parameters and buffers for the
    trace (the model itself is not changed).

    ``is_leaf(module)`` decides which modules are recorded as one op (default: modules without
    children).  The model runs in eval mode (inference structure: BN uses running statistics,
    dropout is identity) and is restored to its previous mode afterwards; its parameters are not
    touched.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    is_leaf = is_leaf or (lambda m: next(iter(m.children()), None) is None)
    meta_inputs = _as_meta_inputs(inputs)
    state = _meta_state(model, dtype)
    modes = {m: m.training for m in model.modules()}
    model.eval()
    rec = _Recorder(model, is_leaf)
    original = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        original.setdefault(id(state[name]), name)
    rec.param_names = original  # leaf hooks see the swapped-in meta tensors: canonical names
    rec.state_ids = {id(t) for t in state.values()}
    try:
        with torch.no_grad(), _fast_shape_rules(model, is_leaf), rec:
            for t in meta_inputs:
                rec.keep_alive.append(t)
            output = functional_call(model, state, meta_inputs, tie_weights=True, strict=False)
    except TraceError:
        raise
    except Exception as exc:  # name the innermost module that was running
        failing = rec.stack[-1] if rec.stack else model
        path = rec.module_path.get(id(failing), "") or "<root>"
        shapes = " x ".join(str(tuple(t.shape)) for t in meta_inputs)
        raise TraceError(
            f"forward failed in layer '{path}' ({type(failing).__name__}) for input shape "
            f"{shapes}: {type(exc).__name__}: {exc}") from exc
    finally:
        rec.remove()
        for m, training in modes.items():
            m.training = training  # per module: train() would recurse into every child again
    outs = _flatten_tensors(output)
    if not outs:
        raise TraceError(
            f"the model's forward returned {type(output).__name__}, not a tensor (or a tuple, "
            f"list or dict of tensors); costmodel needs tensor outputs to follow the data flow")
    seen, total, unused = set(), 0, {}
    for name, p in model.named_parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        if name not in rec.param_used:
            unused[name] = p.numel()
    return Graph(ops=rec.ops, inputs=[TensorInfo.of(t) for t in meta_inputs],
                 outputs=[TensorInfo.of(t) for t in outs],
                 output_parents=[rec.producer.get(id(t), MODEL_INPUT) for t in outs],
                 total_params=total, unused_params=unused)
