"""In-network op times: every traced op of a real forward pass timed where it runs.

An op replayed alone (:mod:`costmodel.latency.replay`) runs with warm caches, no Python glue
around it and the same buffers every call; inside a network its inputs come from the op before,
its output is fresh memory and the next op evicts what it read.  On the networks of
``reports/latency`` the isolated replays summed to 1.0-1.1x the end-to-end time of dense
networks and 0.5-0.8x of MobileNet-like ones, so a factor learned on one family did not transfer
to the other.  This module measures what the predictor should learn instead: the time each op
takes *in the network*.

:class:`OpTimer` runs the model's real forward with the tracer's view of it (the same leaf
rule, the same functional calls, in the same order, so op ``i`` here is op ``i`` of
:func:`costmodel.tracer.trace`) and stamps ``time.perf_counter_ns`` right before and right after
every op: a leaf module from the end of its forward pre-hook to the start of its forward hook,
a functional call around the call itself.  What the timer itself costs inside an interval (the
dispatch of the calls a leaf module makes through the timing mode) is measured on this machine
(:func:`dispatch_overhead_ns`) and subtracted.  :func:`time_in_network` repeats the forward,
keeps the per-op median over the runs, and compares the sum with the plain end-to-end time of the
same model: the rest is *glue* (Python between the ops, module calls), which the network model
fits from the number of ops and module calls.
"""
from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.modules.module as module_hooks
from torch.overrides import TorchFunctionMode

from costmodel.tracer import _DUNDER, _flatten_tensors, _qualified_name

_PERF = time.perf_counter_ns


class TimerMismatch(RuntimeError):
    """The real forward ran a different op sequence than the meta trace (data-dependent control
    flow): its times cannot be matched to the traced ops."""


def _recorded(func, out, args) -> bool:
    """The tracer's rule for which functional calls become ops (see ``_Recorder``)."""
    short = _DUNDER.get(_qualified_name(func)[1], _qualified_name(func)[1])
    outs = _flatten_tensors(out)
    if short == "setitem":
        return True
    return bool(outs) and short != "__set__"


class OpTimer(TorchFunctionMode):
    """Stamp every traced op of one forward pass (see the module docstring)."""

    def __init__(self, model: nn.Module, is_leaf: Callable[[nn.Module], bool]):
        super().__init__()
        named = list(model.named_modules(remove_duplicate=False))
        self.ids = {id(m) for _, m in named}
        self.leaves = {id(m) for _, m in named if is_leaf(m)}
        self.depth = 0  # leaf nesting
        self.start = 0
        self.inner = 0  # calls dispatched through the mode inside the current leaf
        self.times: List[int] = []  # ns per op
        self.inner_calls: List[int] = []
        self.modules_called = 0
        self.handles = []

    def __enter__(self):
        self.handles = [module_hooks.register_module_forward_pre_hook(self._pre),
                        module_hooks.register_module_forward_hook(self._post)]
        return super().__enter__()

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()
        return super().__exit__(*exc)

    def _pre(self, module, args):
        if id(module) not in self.ids:
            return None
        self.modules_called += 1
        if self.depth or id(module) in self.leaves:
            self.depth += 1
            if self.depth == 1:
                self.inner = 0
                self.start = _PERF()
        return None

    def _post(self, module, args, output):
        if self.depth and id(module) in self.ids:
            end = _PERF()
            self.depth -= 1
            if self.depth == 0:
                self.times.append(end - self.start)
                self.inner_calls.append(self.inner)
        return None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.depth:
            self.inner += 1
            return func(*args, **kwargs)
        t0 = _PERF()
        out = func(*args, **kwargs)
        t1 = _PERF()
        if _recorded(func, out, args):
            self.times.append(t1 - t0)
            self.inner_calls.append(0)
        return out


def dispatch_overhead_ns(repeats: int = 2000) -> float:
    """Median extra time (ns) one call costs when it is dispatched through an :class:`OpTimer`
    inside a leaf module (what the leaf's interval must not be charged for)."""
    x = torch.zeros(8)
    timer = OpTimer(nn.Identity(), lambda m: False)
    timer.depth = 1  # as inside a leaf: calls are counted and passed through

    def run(n):
        t0 = _PERF()
        for _ in range(n):
            torch.add(x, x)
        return (_PERF() - t0) / n

    with torch.inference_mode():
        plain = []
        timed = []
        for _ in range(7):
            plain.append(run(repeats))
            with timer:
                timed.append(run(repeats))
    return max(0.0, float(np.median(timed) - np.median(plain)))


@dataclass
class InNetworkTimes:
    """``op_ms``: per traced op, the median in-network time over the runs (dispatch overhead
    subtracted); ``e2e_ms``: the plain forward's median (no timer); ``glue_ms``:
    ``e2e_ms - sum(op_ms)``; ``runs``; ``modules_called``: module calls per forward; ``spread``:
    per-op interquartile range / median (median over ops)."""

    op_ms: np.ndarray
    e2e_ms: float
    glue_ms: float
    runs: int
    modules_called: int
    op_spread: float
    extra: Dict[str, float] = field(default_factory=dict)


def time_in_network(model: nn.Module, inputs: Sequence[torch.Tensor], n_ops: int,
                    is_leaf: Callable[[nn.Module], bool], min_time_s: float = 0.5,
                    min_runs: int = 5, max_runs: int = 200, overhead_ns: Optional[float] = None,
                    e2e: Optional[float] = None) -> InNetworkTimes:
    """Time ``model`` on ``inputs`` (call inside :func:`~costmodel.latency.replay.threads_pinned`
    and inference mode): timed forwards until ``min_time_s``; raises :class:`TimerMismatch` when
    a forward does not run exactly ``n_ops`` traced ops.  ``e2e``: the plain end-to-end median
    (ms) measured elsewhere (in a fresh process); else measured here, alternating with the timed
    runs."""
    overhead = dispatch_overhead_ns() if overhead_ns is None else float(overhead_ns)
    perf = _PERF
    model(*inputs)  # warm-up
    t0 = perf()
    model(*inputs)
    one = max((perf() - t0) * 1e-9, 1e-6)
    runs = int(max(min_runs, min(max_runs, min_time_s / one)))
    rows = np.zeros((runs, n_ops))
    plain = []
    modules = 0
    gc_was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for r in range(runs):
            timer = OpTimer(model, is_leaf)
            with timer:
                model(*inputs)
            if len(timer.times) != n_ops:
                raise TimerMismatch(f"the forward ran {len(timer.times)} traced ops, the trace has "
                                    f"{n_ops}")
            rows[r] = (np.asarray(timer.times, float) - overhead * np.asarray(timer.inner_calls)) * 1e-6
            modules = timer.modules_called
            if e2e is None:
                t0 = perf()
                model(*inputs)
                plain.append((perf() - t0) * 1e-6)
    finally:
        if gc_was:
            gc.enable()
    op_ms = np.maximum(np.median(rows, axis=0), 0.0)
    q75, q25 = np.percentile(rows, [75, 25], axis=0)
    spread = float(np.median((q75 - q25) / np.maximum(op_ms, 1e-9))) if n_ops else 0.0
    e2e_ms = float(np.median(plain)) if e2e is None else float(e2e)
    return InNetworkTimes(op_ms, e2e_ms, e2e_ms - float(op_ms.sum()), runs, modules, spread,
                          {"overhead_ns": overhead})
