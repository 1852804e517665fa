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

from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.modules.module as module_hooks
from torch.overrides import TorchFunctionMode

from costmodel import shape_rules

MODEL_INPUT = -1  # parent index of a model input
MODEL_STATE = -2  # parent index of a parameter, buffer or tensor attribute of the model


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
    state: bool = False  # a parameter / buffer of the model, or computed from them alone

    @property
    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= int(s)
        return n

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @classmethod
    def of(cls, t: torch.Tensor, inputs: Sequence[torch.Tensor] = (), state: bool = False) -> "TensorInfo":
        aliases = False
        if inputs:
            storage = _storage_key(t)
            aliases = any(_storage_key(i) == storage for i in inputs)
        return cls(tuple(t.shape), t.dtype, t.is_contiguous(), aliases, tuple(t.stride()), state)


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
    _hparams: Optional[Dict[str, Any]] = field(default=None, repr=False)
    args: Tuple[Any, ...] = ()
    kwargs: Dict[str, Any] = field(default_factory=dict)
    params: Dict[str, Tuple[int, ...]] = field(default_factory=dict)
    new_params: int = 0
    inplace: bool = False

    @property
    def hparams(self) -> Dict[str, Any]:
        """A leaf module's plain-valued attributes (read when first asked for)."""
        if self._hparams is None:
            self._hparams = module_hparams(self.target) if self.is_module else {}
        return self._hparams

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
    module_calls: int = 0  # forward calls of the model's modules (containers included)

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

    def __init__(self, named: List[Tuple[str, nn.Module]], leaves: set, state: Dict[int, str]):
        super().__init__()
        self.ops: List[OpRecord] = []
        self.producer: Dict[int, int] = {}  # id(tensor) -> index of the op that produced it
        self.keep_alive: List[torch.Tensor] = []  # so ids are not reused during the trace
        self.param_names = state  # id(meta parameter) -> canonical qualified name
        self.param_used: set = set()
        self.state_ids: set = set()  # ids of the model's meta state and of tensors made from it alone
        self.module_path: Dict[int, str] = {}
        self.leaves = leaves  # ids of the modules recorded as one op
        self.stack: List[nn.Module] = []  # modules whose forward is running (innermost last)
        self.leaf_depth = 0
        self.module_calls = 0
        self.name_counts: Dict[str, int] = defaultdict(int)
        for path, mod in named:
            self.module_path.setdefault(id(mod), path)
        # process-wide module hooks (two registrations, not two per module), filtered to this model
        self.handles = [module_hooks.register_module_forward_pre_hook(self._pre_hook),
                        module_hooks.register_module_forward_hook(self._post_hook, with_kwargs=True)]

    # ------------------------------------------------------------------ helpers
    def _unique_name(self, base: str) -> str:
        self.name_counts[base] += 1
        n = self.name_counts[base]
        return base if n == 1 else f"{base}:{n}"

    def _parents(self, tensors: Sequence[torch.Tensor]) -> List[int]:
        producer, state = self.producer, self.state_ids
        return [producer.get(id(t), MODEL_STATE if id(t) in state else MODEL_INPUT) for t in tensors]

    def _infos(self, tensors: Sequence[torch.Tensor]) -> List[TensorInfo]:
        state = self.state_ids
        return [TensorInfo.of(t, state=id(t) in state) for t in tensors]

    def _record(self, rec: "OpRecord", inputs: Sequence[torch.Tensor], outs: Sequence[torch.Tensor]):
        """Append ``rec``; its outputs are model state when every input is (a weight's view ...)."""
        self.ops.append(rec)
        from_state = bool(inputs) and all(id(t) in self.state_ids for t in inputs)
        for t in outs:
            self.producer[id(t)] = rec.index
            self.keep_alive.append(t)
            if from_state:
                self.state_ids.add(id(t))
            else:
                self.state_ids.discard(id(t))

    def _use_params(self, named) -> Tuple[Dict[str, Tuple[int, ...]], int]:
        """Shapes of the parameters an op reads, and how many elements it is the first to read."""
        params, new = {}, 0
        for full, p in named:
            params[full] = tuple(p.shape)
            key = self.param_names.get(id(p), full)
            if key not in self.param_used:
                self.param_used.add(key)
                new += p.numel()
        return params, new

    def _scope(self) -> str:
        return self.module_path.get(id(self.stack[-1]), "") if self.stack else ""

    # ------------------------------------------------------------------ module hooks
    def _pre_hook(self, module, args):
        if id(module) not in self.module_path:  # another model's module (another thread)
            return None
        self.module_calls += 1
        self.stack.append(module)
        if self.leaf_depth or id(module) in self.leaves:
            self.leaf_depth += 1
        return None

    def _post_hook(self, module, args, kwargs, output):
        if id(module) not in self.module_path:
            return None
        with torch._C.DisableTorchFunction():  # our own tensor queries are not the model's ops
            return self._exit(module, args, kwargs, output)

    def _exit(self, module, args, kwargs, output):
        self.stack.pop()
        if not self.leaf_depth:
            return None
        self.leaf_depth -= 1
        if self.leaf_depth:
            return None
        inputs = _flatten_tensors((args, kwargs))
        outs = _flatten_tensors(output)
        path = self.module_path.get(id(module), type(module).__name__)
        named = (module._parameters.items() if not module._modules
                 else module.named_parameters())  # a leaf's own parameters, or its children's too
        params, new = self._use_params(
            (f"{path}.{n}" if path else n, p) for n, p in named if p is not None)
        rec = OpRecord(
            index=len(self.ops), name=self._unique_name(path or type(module).__name__),
            op=type(module).__name__, scope=path, target=module,
            inputs=self._infos(inputs),
            outputs=[TensorInfo.of(t, inputs) for t in outs],
            parents=self._parents(inputs), is_module=True,
            params=params, new_params=new,
            inplace=any(o is i for o in outs for i in inputs))
        self._record(rec, inputs, outs)
        return None

    # ------------------------------------------------------------------ functional calls
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = _META_CACHE.call(func, args, kwargs)
        if self.leaf_depth:
            return out
        qual, short = _qualified_name(func)
        short = _DUNDER.get(short, short)
        outs = _flatten_tensors(out)
        if short == "setitem":  # in-place write into args[0], returns None
            outs = [args[0]]
        if not outs or short == "__set__":
            return out  # shape queries, dtype lookups...
        if short == "__get__":  # a tensor-valued property: x.T, x.mT, x.data ...
            short = getattr(getattr(func, "__self__", None), "__name__", "property")
            qual = "Tensor." + short
        inputs = _flatten_tensors((args, kwargs))
        names = self.param_names
        params, new = self._use_params((names[id(t)], t) for t in inputs if id(t) in names)
        scope = self._scope()
        base = f"{scope}.{short}" if scope else short
        rec = OpRecord(
            index=len(self.ops), name=self._unique_name(base), op=qual, scope=scope, target=func,
            inputs=self._infos(inputs),
            outputs=[TensorInfo.of(t, inputs) for t in outs],
            parents=self._parents(inputs), is_module=False,
            args=tuple(_describe(a) for a in args), kwargs=_describe(kwargs),
            params=params, new_params=new,
            inplace=short.endswith("_") or short == "setitem" or any(o is i for o in outs for i in inputs))
        self._record(rec, inputs, outs)
        return out

    def remove(self):
        for h in self.handles:
            h.remove()


class _MetaCache:
    """Output metadata of meta-kernel calls, by call signature.

    On the meta device an op's outputs (shapes, strides, dtypes) are a function of its inputs'
    metadata and its other arguments alone, and many of torch's meta kernels are slow Python
    decompositions (``layer_norm`` ~0.7 ms, attention ~1 ms a call).  Networks repeat the same
    calls on the same shapes (every block of a stage, every layer of a transformer), so the first
    call of a signature runs the real kernel and later ones get fresh tensors of the recorded
    metadata.  Calls are never replayed from the cache when an output is on another device, is
    one of the inputs or shares storage with one (views, in-place ops, ``contiguous`` of a
    contiguous tensor): a function that ever returned such an output always runs.
    """

    LIMIT = 100_000

    def __init__(self):
        self.table: Dict[tuple, Any] = {}
        self.always_run: set = set()  # functions that returned an input, a view or no tensor

    def clear(self):
        self.table.clear()
        self.always_run.clear()

    def call(self, func, args, kwargs):
        rule = shape_rules.RULES.get(func)
        if rule is not None:
            try:
                out = rule(*args, **kwargs)
            except TypeError:  # arguments the rule does not know: the real kernel decides
                out = shape_rules.NO_RULE
            if out is not shape_rules.NO_RULE:
                return out
        if func in self.always_run:
            return func(*args, **kwargs)
        try:
            key = (func, _signature(args), _signature(kwargs))
            hash(key)
        except TypeError:  # an unhashable argument (a slice before Python 3.12 ...)
            return func(*args, **kwargs)
        template = self.table.get(key)
        if template is not None:
            return _rebuild(template)
        out = func(*args, **kwargs)
        template = _template(out)
        if template is None or _aliases(out, args, kwargs):
            self.always_run.add(func)
        else:
            if len(self.table) >= self.LIMIT:
                self.table.clear()
            self.table[key] = template
        return out


def _signature(obj):
    """A hashable description of call arguments: tensors by metadata, scalars with their type."""
    if isinstance(obj, torch.Tensor):
        return (obj.shape, obj.stride(), obj.dtype, obj.device.type)
    if isinstance(obj, (list, tuple)):
        return (type(obj), tuple(_signature(o) for o in obj))
    if isinstance(obj, dict):
        return tuple((k, _signature(v)) for k, v in obj.items())
    return (type(obj), obj)


def _template(out):
    """Metadata from which :func:`_rebuild` makes an equivalent output, or None."""
    if isinstance(out, torch.Tensor):
        if type(out) is not torch.Tensor or out.device.type != "meta" or out.requires_grad:
            return None
        return ("T", tuple(out.shape), out.stride(), out.dtype)
    if out is None:
        return ("N",)
    if isinstance(out, (tuple, list)) and out:
        items = [_template(o) for o in out]
        if any(i is None for i in items):
            return None
        return ("S", type(out), tuple(items))
    return None


def _rebuild(template):
    kind = template[0]
    if kind == "T":
        return torch.empty_strided(template[1], template[2], dtype=template[3], device="meta")
    if kind == "N":
        return None
    seq_type, items = template[1], [_rebuild(t) for t in template[2]]
    if hasattr(seq_type, "_fields"):  # a namedtuple
        return seq_type(*items)
    return seq_type(items)


def _aliases(out, args, kwargs) -> bool:
    """An output is an input, or shares storage with one."""
    outs = _flatten_tensors(out)
    ins = _flatten_tensors((args, kwargs))
    if any(o is i for o in outs for i in ins):
        return True
    storages = {_storage_key(i) for i in ins}
    return any(_storage_key(o) in storages for o in outs)


_META_CACHE = _MetaCache()


def clear_cache() -> None:
    """Forget every cached meta-kernel result (see :class:`_MetaCache`): the next trace runs
    every kernel once again (what the analysis-speed benchmark times as a first analysis)."""
    _META_CACHE.clear()


#: nn.Module's hook registries (the trace uses process-wide hooks and leaves these alone; their
#: identity is still restored with the other attributes)
_HOOK_DICTS = frozenset({"_backward_pre_hooks", "_backward_hooks", "_forward_hooks",
                         "_forward_hooks_with_kwargs", "_forward_hooks_always_called",
                         "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs",
                         "_state_dict_hooks", "_state_dict_pre_hooks",
                         "_load_state_dict_pre_hooks", "_load_state_dict_post_hooks"})


class _ModelState:
    """Swap every parameter, buffer and tensor attribute of a model for a meta stand-in, and put
    the model back *exactly* as it was afterwards, also when the forward fails half way.

    Each module's attribute dictionary is saved shallowly (plus the contents of the dicts and
    lists it holds: parameters, buffers, submodules, caches a forward may fill) and
    restored on exit, so attributes a forward sets or replaces (a cached mask, a lazily built
    buffer) are undone too.  Shared submodules and tied weights map to one stand-in.
    ``names`` maps each stand-in parameter to its canonical (first) qualified name.
    """

    def __init__(self, model: nn.Module, dtype: Optional[torch.dtype] = None,
                 requires_grad: bool = True, named: Optional[list] = None):
        self.named = named if named is not None else list(model.named_modules(remove_duplicate=False))
        self.modules = list({id(m): m for _, m in self.named}.values())
        self.dtype = dtype
        self.requires_grad = requires_grad  # False: stand-in parameters never require grad
        self.saved = []
        self.meta: Dict[int, torch.Tensor] = {}  # id(original) -> stand-in
        self.names: Dict[int, str] = {}  # id(stand-in parameter) -> canonical name
        self.originals: Dict[str, nn.Parameter] = {}  # canonical name -> the model's parameter

    def _stand_in(self, t: torch.Tensor, parameter: bool) -> torch.Tensor:
        m = self.meta.get(id(t))
        if m is None:
            dt = self.dtype if self.dtype is not None and t.is_floating_point() else t.dtype
            m = torch.empty_strided(t.shape, t.stride(), dtype=dt, device="meta")
            if parameter:
                m = nn.Parameter(m, requires_grad=t.requires_grad and self.requires_grad)
            self.meta[id(t)] = m
        return m

    def __enter__(self):
        tensor_attrs = []
        for m in self.modules:
            attrs = m.__dict__.copy()
            contents = []
            for k, v in attrs.items():
                if k in _HOOK_DICTS:  # torch's hook registries: the trace registers none
                    continue
                t = type(v)
                if t is dict or t is OrderedDict:
                    contents.append((v, v.copy() if v else None))
                elif t is list:
                    contents.append((v, v[:] if v else None))
                elif isinstance(v, torch.Tensor) and not isinstance(v, nn.Parameter):
                    tensor_attrs.append((m, k, v))
            self.saved.append((m, attrs, contents))
        first = {}
        for path, m in self.named:
            for name, p in m._parameters.items():
                if p is not None and id(p) not in first:
                    first[id(p)] = f"{path}.{name}" if path else name
                    self.originals[first[id(p)]] = p
        try:
            for m in self.modules:
                params = m._parameters
                for name, p in params.items():
                    if p is not None:
                        params[name] = stand_in = self._stand_in(p, True)
                        self.names[id(stand_in)] = first[id(p)]
                buffers = m._buffers
                for name, b in buffers.items():
                    if b is not None:
                        buffers[name] = self._stand_in(b, False)
            for m, k, v in tensor_attrs:
                m.__dict__[k] = self._stand_in(v, False)
        except BaseException:
            self.restore()
            raise
        return self

    def restore(self):
        for m, attrs, contents in self.saved:
            d = m.__dict__
            if len(d) != len(attrs):
                for k in d.keys() - attrs.keys():
                    del d[k]
            for k, v in attrs.items():
                if d.get(k, _MISSING) is not v:
                    d[k] = v
            for v, c in contents:
                if c is None:
                    if v:
                        v.clear()
                elif type(v) is list:
                    if len(v) != len(c) or any(a is not b for a, b in zip(v, c)):
                        v[:] = c
                elif len(v) != len(c) or any(v.get(k, _MISSING) is not x for k, x in c.items()):
                    v.clear()
                    v.update(c)

    def __exit__(self, *exc):
        self.restore()
        return False


_MISSING = object()


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
    children); it is asked once per module, before the forward runs.  The model runs in eval
    mode (inference structure: BN uses running statistics, dropout is identity).  The model is
    left exactly as it was: its parameters, buffers, their devices and dtypes, its training
    flags, hooks and attributes, also when the forward fails.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    is_leaf = is_leaf or (lambda m: next(iter(m.children()), None) is None)
    meta_inputs = _as_meta_inputs(inputs)
    named = list(model.named_modules(remove_duplicate=False))
    state = _ModelState(model, dtype, named=named)
    leaves = {id(m) for m in state.modules if is_leaf(m)}
    rec = None
    try:
        with state:
            for m in state.modules:
                m.training = False  # per module: eval() would recurse into every child again
            rec = _Recorder(named, leaves, state.names)
            rec.state_ids = {id(t) for t in state.meta.values()}
            try:
                with torch.no_grad(), rec:
                    rec.keep_alive.extend(meta_inputs)
                    output = model(*meta_inputs)
            finally:
                rec.remove()
    except TraceError:
        raise
    except Exception as exc:  # name the innermost module that was running
        failing = rec.stack[-1] if rec is not None and rec.stack else model
        path = (rec.module_path.get(id(failing), "") if rec is not None else "") or "<root>"
        shapes = " x ".join(str(tuple(t.shape)) for t in meta_inputs)
        raise TraceError(
            f"forward failed in layer '{path}' ({type(failing).__name__}) for input shape "
            f"{shapes}: {type(exc).__name__}: {_first_line(exc)}{_value_hint(exc)}") from exc
    outs = _flatten_tensors(output)
    if not outs:
        raise TraceError(
            f"the model's forward returned {type(output).__name__}, not a tensor (or a tuple, "
            f"list or dict of tensors); costmodel needs tensor outputs to follow the data flow")
    total = sum(p.numel() for p in state.originals.values())
    unused = {name: p.numel() for name, p in state.originals.items() if name not in rec.param_used}
    return Graph(ops=rec.ops, inputs=[TensorInfo.of(t) for t in meta_inputs],
                 outputs=[TensorInfo.of(t) for t in outs],
                 output_parents=[rec.producer.get(id(t), MODEL_INPUT) for t in outs],
                 total_params=total, unused_params=unused, module_calls=rec.module_calls)


#: what torch says when a meta-tensor forward needs tensor values
_VALUE_READS = ("Cannot copy out of meta tensor", "cannot be called on meta tensors", "nonzero",
                "data-dependent", "Tensor.item()", "data_ptr")


def _value_hint(exc: BaseException) -> str:
    if any(s in str(exc) for s in _VALUE_READS):
        return (" (the forward reads tensor values - .item(), .cpu()/.numpy(), nonzero, a boolean "
                "mask as an index - which a meta-tensor trace cannot do)")
    return ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
