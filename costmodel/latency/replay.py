"""Replay one traced op in isolation on real CPU tensors of its recorded shapes, and time it.

The tracer records every op with its inputs as :class:`~costmodel.tracer.TensorInfo` (shape,
dtype, stride).  :func:`build_replay` turns an :class:`~costmodel.tracer.OpRecord` back into a
zero-argument callable:

* a **module op** calls the module object itself (the user's real module with its real
  parameters) on random tensors with the recorded input shapes and strides;
* a **functional op** calls ``rec.target`` (``torch.cat``, ``Tensor.add``, ``Tensor.contiguous``
  ...) with its recorded non-tensor arguments and every tensor argument (activations *and*
  parameters) rebuilt as a random tensor of the same shape, dtype and stride
  (``torch.empty_strided(...).normal_()``), so views of views and transposed inputs keep their
  real memory layout.

:func:`time_callable` times such a callable the way kernel-level latency predictors do: warm-up,
then batches of back-to-back calls timed with ``time.perf_counter_ns`` (a batch lasts at least
``batch_s`` so the timer resolution does not matter for a 10 microsecond op), many batches, the
median per-call time and its spread.
"""
from __future__ import annotations

import gc
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch

from costmodel.tracer import OpRecord, TensorInfo


class ReplayError(RuntimeError):
    """An op could not be rebuilt or run on real tensors."""


def make_tensor(info: TensorInfo, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """A CPU tensor with ``info``'s shape, dtype and stride, filled with N(0, 1) (floats),
    zeros (integers: valid indices) or random booleans."""
    shape, stride = tuple(info.shape), tuple(info.stride) or None
    if stride is not None and len(stride) != len(shape):
        stride = None
    if stride is None:
        t = torch.empty(shape, dtype=info.dtype)
    else:
        t = torch.empty_strided(shape, stride, dtype=info.dtype)
    if t.numel() == 0:
        return t
    if t.is_floating_point() or t.is_complex():
        t.normal_(generator=generator)
    elif t.dtype == torch.bool:
        t.bernoulli_(0.5, generator=generator)
    else:
        t.zero_()
    return t


def _rebuild(obj, make):
    if isinstance(obj, TensorInfo):
        return make(obj)
    if isinstance(obj, list):
        return [_rebuild(o, make) for o in obj]
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        items = [_rebuild(o, make) for o in obj]
        try:
            return type(obj)(items)
        except TypeError:
            return tuple(items)
    if isinstance(obj, dict):
        return {k: _rebuild(v, make) for k, v in obj.items()}
    return obj


@dataclass
class Replay:
    """A traced op bound to real input tensors: ``fn()`` runs it once."""

    rec: OpRecord
    fn: Callable[[], Any]
    inputs: List[torch.Tensor]

    def run(self):
        return self.fn()


def build_replay(rec: OpRecord, seed: int = 0) -> Replay:
    """Rebuild ``rec`` on random CPU tensors (see the module docstring)."""
    gen = torch.Generator().manual_seed(seed)

    def make(info):
        return make_tensor(info, gen)

    if rec.is_module:
        module = rec.target
        inputs = [make(t) for t in rec.inputs]
        try:
            dev = next(iter(module.parameters()), None)
        except Exception:
            dev = None
        if dev is not None and dev.device.type not in ("cpu",):
            raise ReplayError(f"{rec.name}: module parameters are on {dev.device}, replay needs CPU")

        def fn(module=module, inputs=inputs):
            return module(*inputs)

        return Replay(rec, fn, inputs)
    args = _rebuild(tuple(rec.args), make)
    kwargs = _rebuild(dict(rec.kwargs), make)
    target = rec.target
    tensors = [a for a in _flatten(args) + _flatten(kwargs)]

    def fn(target=target, args=args, kwargs=kwargs):
        return target(*args, **kwargs)

    return Replay(rec, fn, tensors)


def _flatten(obj) -> List[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in _flatten(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _flatten(o)]
    return []


def output_tensors(out) -> List[torch.Tensor]:
    return _flatten(out)


def replay_signature(rec: OpRecord) -> str:
    """Two ops with the same signature run the same kernel on the same shapes (timed once)."""
    if rec.is_module:
        m = rec.target
        head = (type(m).__module__, type(m).__qualname__, sorted((k, repr(v)) for k, v in
                                                                 rec.hparams.items()),
                sorted((k.rsplit(".", 1)[-1], v) for k, v in rec.params.items()))
        body = [(t.shape, str(t.dtype), t.stride) for t in rec.inputs]
        return repr((head, body))
    return repr((rec.op, getattr(rec.target, "__qualname__", repr(rec.target)),
                 _sig(rec.args), _sig(rec.kwargs)))


def _sig(obj):
    if isinstance(obj, TensorInfo):
        return ("T", tuple(obj.shape), str(obj.dtype), tuple(obj.stride))
    if isinstance(obj, (list, tuple)):
        return tuple(_sig(o) for o in obj)
    if isinstance(obj, dict):
        return tuple(sorted((k, _sig(v)) for k, v in obj.items()))
    return repr(obj)


# ---------------------------------------------------------------------------------------------
# timing
# ---------------------------------------------------------------------------------------------
#: ``wall``: elapsed time (``time.perf_counter_ns``), the latency a user sees: use it on a quiet
#: machine.  ``cpu``: CPU time of the calling thread (``time.thread_time_ns``, page faults
#: included): robust to other processes preempting the benchmark, exact only at 1 thread (intra-op
#: work then runs on the calling thread); for busy machines.
CLOCKS = {"wall": time.perf_counter_ns, "cpu": time.thread_time_ns}


def clock_fn(clock: str, threads: int = 1):
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {sorted(CLOCKS)}, got {clock!r}")
    if clock == "cpu" and int(threads) != 1:
        raise ValueError("clock='cpu' measures the calling thread only: use it with threads=1")
    return CLOCKS[clock]

@dataclass
class Timing:
    """Per-call time of a callable, milliseconds: median over batches and its spread."""

    median_ms: float
    p25_ms: float
    p75_ms: float
    min_ms: float
    calls_per_batch: int
    batches: int

    @property
    def rel_iqr(self) -> float:
        return (self.p75_ms - self.p25_ms) / self.median_ms if self.median_ms > 0 else 0.0


def time_callable(fn: Callable[[], Any], min_time_s: float = 0.02, batch_s: float = 0.002,
                  min_batches: int = 5, max_batches: int = 50, warmup: int = 2,
                  max_time_s: Optional[float] = None, clock: str = "wall") -> Timing:
    """Median per-call time of ``fn()``: ``warmup`` calls, then ``min_batches``..``max_batches``
    batches of ``calls_per_batch`` back-to-back calls (chosen so a batch lasts ``batch_s``),
    stopping once ``min_time_s`` has been spent.  The garbage collector is paused meanwhile."""
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for _ in range(max(1, warmup)):
            fn()
        t0 = time.perf_counter_ns()
        fn()
        one = max(time.perf_counter_ns() - t0, 200) * 1e-9
        if one < batch_s / 4:  # a better estimate for tiny ops
            n = 10
            t0 = time.perf_counter_ns()
            for _ in range(n):
                fn()
            one = max((time.perf_counter_ns() - t0) * 1e-9 / n, 1e-7)
        inner = int(max(1, min(10000, round(batch_s / one))))
        batches = int(max(min_batches, min(max_batches, math.ceil(min_time_s / (inner * one)))))
        if max_time_s is not None:
            batches = int(max(min(3, min_batches), min(batches, max_time_s / (inner * one))))
        times = []
        perf = CLOCKS[clock]
        rng = range(inner)
        for _ in range(batches):
            t0 = perf()
            for _ in rng:
                fn()
            times.append((perf() - t0) / inner)
    finally:
        if gc_was:
            gc.enable()
    return _summary(times, inner)


def _summary(times_ns: Sequence[float], inner: int) -> Timing:
    q = torch.tensor(sorted(times_ns), dtype=torch.float64) * 1e-6
    quant = torch.quantile(q, torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64)).tolist()
    return Timing(median_ms=quant[1], p25_ms=quant[0], p75_ms=quant[2], min_ms=float(q[0]),
                  calls_per_batch=inner, batches=len(times_ns))


class threads_pinned:
    """Context manager: ``torch.set_num_threads(n)``, flush denormals (in-place ops replayed many
    times must not drift into slow denormal arithmetic), restore both afterwards."""

    def __init__(self, threads: int):
        self.threads = int(threads)

    def __enter__(self):
        self.old = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        self.denormal = torch.set_flush_denormal(True)
        return self

    def __exit__(self, *exc):
        torch.set_num_threads(self.old)
        if self.denormal:
            torch.set_flush_denormal(False)
        return False


def replay_outputs(rec: OpRecord, seed: int = 0) -> Dict[str, list]:
    """Run ``rec`` once on replay tensors: the shapes of its inputs and outputs (for checks)."""
    r = build_replay(rec, seed)
    with torch.inference_mode():
        out = r.run()
    outs = output_tensors(out)
    if rec.inplace and not outs and r.inputs:
        outs = [r.inputs[0]]
    return {"inputs": [tuple(t.shape) for t in r.inputs], "outputs": [tuple(t.shape) for t in outs]}
