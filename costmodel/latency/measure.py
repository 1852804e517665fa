"""``measure_latency``: end-to-end and per-layer latency of a model on this CPU.

End-to-end: the model runs in eval mode under ``torch.inference_mode()`` with the thread count
pinned (``torch.set_num_threads``); after a warm-up, ``repeats`` blocks of runs are timed one run
at a time with ``time.perf_counter_ns``; the result is the median of all runs with its spread
(quartiles, 10th/90th percentiles, min/max) and the repeat-to-repeat spread of the block medians
(how reproducible the number is).  The runs are spread over ``layouts`` copies of the model and
its inputs (fresh weight and activation addresses): on a 2-core x86 machine the same network
differed by up to 8% between copies, an effect that repeats within one copy never show.  Before
anything is timed the C allocator is pinned (:mod:`costmodel.latency.allocator`), so a forward pass
does not page-fault depending on what the process allocated before.

Per layer: every traced op is replayed in isolation on random tensors of its recorded input
shapes and strides (module ops run the model's own module object; functional ops call the traced
function), in batches of back-to-back calls, many batches, median (see
:mod:`costmodel.latency.replay`).  Ops with identical replay signatures (same kernel, same shapes,
e.g. the repeated units of a stage) are timed once.  The per-layer sum is reconciled with the
end-to-end time: ``gap_ms = total_ms - layer_sum_ms`` (Python glue between ops, cold caches and
allocator effects the isolated replays do not see).
"""
from __future__ import annotations

import copy
import gc
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from costmodel.analysis import _input_shapes
from costmodel.latency import allocator, machine as machine_mod
from costmodel.latency.features import op_table
from costmodel.latency.replay import build_replay, clock_fn, replay_signature, \
    threads_pinned, time_callable


@dataclass
class LatencyResult:
    """Measured latency of one model at one thread count.

    ``total_ms``: median end-to-end time.  ``total_spread``: dict with ``p10``/``p25``/``p75``/
    ``p90``/``min``/``max`` (ms), ``runs``, ``repeat_medians`` (ms, one per repeat block) and
    ``repeat_spread_pct`` ((max - min) / median of the block medians, percent).  ``layers``:
    DataFrame with ``name``, ``op``, ``kind``, the formula counts and ``measured_ms`` (median
    per-call replay time) and ``measured_iqr_ms``.  ``layer_sum_ms`` and ``gap_ms`` /
    ``gap_pct`` reconcile the two.  ``machine``: :func:`costmodel.latency.machine.describe`.
    """

    model_name: str
    input_shape: List[int]
    threads: int
    total_ms: float
    total_spread: Dict[str, object]
    layers: pd.DataFrame
    machine: Dict[str, object]
    wall_s: float = 0.0
    extra: Dict[str, object] = field(default_factory=dict)

    @property
    def layer_sum_ms(self) -> float:
        if "measured_ms" not in self.layers:
            return float("nan")
        return float(self.layers["measured_ms"].sum())

    @property
    def gap_ms(self) -> float:
        return self.total_ms - self.layer_sum_ms

    @property
    def gap_pct(self) -> float:
        return 100.0 * self.gap_ms / self.total_ms if self.total_ms else float("nan")

    def to_dict(self) -> dict:
        """The ``models[]`` entry of a timing file (see :mod:`costmodel.latency.timings`)."""
        layers = []
        if "measured_ms" in self.layers:
            for r in self.layers.itertuples(index=False):
                layers.append({"name": r.name, "kind": r.kind, "measured_ms": float(r.measured_ms)})
        return {"name": self.model_name, "input_shape": list(self.input_shape),
                "threads": int(self.threads), "clock": str(self.extra.get("clock", "wall")),
                "total_ms": float(self.total_ms),
                "total_ms_spread": {k: v for k, v in self.total_spread.items()},
                "layer_sum_ms": None if np.isnan(self.layer_sum_ms) else float(self.layer_sum_ms),
                "layers": layers}

    def __repr__(self):
        s = (f"<LatencyResult {self.model_name} {self.threads} thread(s): {self.total_ms:.3f} ms "
             f"(repeat spread {self.total_spread.get('repeat_spread_pct', float('nan')):.1f}%)")
        if "measured_ms" in self.layers:
            s += f", layer sum {self.layer_sum_ms:.3f} ms, gap {self.gap_pct:+.1f}%"
        return s + ">"


def _random_inputs(shapes, dtype=torch.float32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=gen, dtype=dtype) for s in shapes]


def _layout_copy(model: nn.Module, inputs: Sequence[torch.Tensor]):
    """A copy of ``model`` and ``inputs`` at fresh addresses (the model itself if it cannot be
    deep-copied)."""
    try:
        model = copy.deepcopy(model)
    except Exception:  # noqa: BLE001 - an uncopyable model still gets fresh inputs
        pass
    return model, [t.clone() for t in inputs]


def time_end_to_end(model: nn.Module, inputs: Sequence[torch.Tensor], min_time_s: float = 1.0,
                    min_runs: int = 10, max_runs: int = 300, repeats: int = 3,
                    warmup_s: float = 0.2, clock: str = "wall", layouts: int = 3
                    ) -> Dict[str, object]:
    """Median end-to-end time (ms) and spread.  The runs are split into ``repeats`` blocks per
    layout; layout 0 is ``model`` itself, the others deep copies with cloned inputs (fresh
    addresses), each warmed up again.  ``layout_medians`` / ``layout_spread_pct`` show how much
    the memory layout alone moves the time; ``repeat_spread_pct`` covers all blocks."""
    allocator.pin()
    tick = clock_fn(clock, torch.get_num_threads())
    layouts = max(1, int(layouts))
    gc_was = gc.isenabled()
    perf = time.perf_counter_ns
    blocks: List[List[float]] = []
    layout_meds: List[float] = []
    per_block = None
    keep = None  # a small allocation between copies moves the heap's next free address
    try:
        for k in range(layouts):
            m, xs = (model, inputs) if k == 0 else _layout_copy(model, inputs)
            keep = torch.empty(4096 * (k + 1) + 64 * k)
            gc.collect()
            gc.disable()
            t_start = perf()
            n_warm = 0
            while n_warm < 2 or (perf() - t_start) * 1e-9 < warmup_s / layouts:
                m(*xs)
                n_warm += 1
                if n_warm >= 50:
                    break
            if per_block is None:
                one = (perf() - t_start) * 1e-9 / n_warm
                runs = int(max(min_runs, min(max_runs, min_time_s / max(one, 1e-6))))
                repeats = max(1, min(repeats, max(1, runs // layouts)))
                per_block = max(1, runs // (repeats * layouts))
            mine = []
            for _ in range(repeats):
                ts = []
                for _ in range(per_block):
                    t0 = tick()
                    m(*xs)
                    ts.append((tick() - t0) * 1e-6)
                blocks.append(ts)
                mine += ts
            layout_meds.append(float(np.median(mine)))
            gc.enable()
            del m, xs
    finally:
        del keep
        if gc_was:
            gc.enable()
        else:
            gc.disable()
    return _run_stats(blocks, layout_meds)


def _run_stats(blocks: List[List[float]], layout_meds: List[float]) -> Dict[str, object]:
    """Median, quantiles, min/max and run count of all runs (ms), the median of each block of
    runs and the block-to-block and layout-to-layout spreads (percent of the median)."""
    allt = np.array([t for b in blocks for t in b])
    meds = [float(np.median(b)) for b in blocks]
    med = float(np.median(allt))
    q = np.percentile(allt, [10, 25, 75, 90])
    spread = (lambda v: 100.0 * (max(v) - min(v)) / med if med > 0 else 0.0)  # noqa: E731
    return {"median": med, "p10": float(q[0]), "p25": float(q[1]), "p75": float(q[2]),
            "p90": float(q[3]), "min": float(allt.min()), "max": float(allt.max()),
            "runs": int(allt.size), "repeat_medians": meds, "repeat_spread_pct": spread(meds),
            "layout_medians": layout_meds, "layout_spread_pct": spread(layout_meds)}


#: untimed drift-reference forwards before each timed one in :func:`time_interleaved`.  Measured
#: on the 12-04 AMD EPYC (AVX-512) VM with benchmarks/reference_after_model.py (median over 10-12
#: rounds): right after torchvision's vgg16, vgg11 and alexnet (weights of 244-553 MB) the
#: reference ran 1.065x, 1.054x and 1.030x as long as right after itself at one thread (1.065x,
#: 1.056x, 1.058x at two); after one warm-up forward 1.005x-1.013x.  After mobilenet_v2
#: 1.00x either way.  Without the warm-up a large model's drift factor, and so its corrected
#: prediction, is inflated by those 3-7%.
REF_WARMUP = 1


def time_interleaved(model: nn.Module, inputs: Sequence[torch.Tensor], reference: nn.Module,
                     ref_inputs: Sequence[torch.Tensor], min_time_s: float = 2.0,
                     min_runs: int = 6, max_runs: int = 300, warmup_s: float = 0.2,
                     clock: str = "wall", layouts: int = 3,
                     ref_warmup: int = REF_WARMUP) -> Dict[str, object]:
    """End-to-end time of ``model`` with the drift reference run between its runs (model,
    reference, model, reference, ...), so both see the machine at the same moments.
    ``ref_warmup`` untimed reference forwards come before each timed one
    (:data:`REF_WARMUP`): the reference should measure the machine's speed, not the caches the
    model left behind.

    The host of a shared VM changes speed within seconds (``reports/latency/noise.md``: 2-s
    medians of one model 1.18-1.80x apart within 24 s), so a reference timed minutes away, or
    even in the previous process, cannot correct a measurement.  With run-by-run interleaving the
    ratio ``r = median(model runs) / median(reference runs)`` of one 2-s measurement agreed with
    another within +-10% on 92% / 87% of pairs (1 / 2 threads; 8 s: 99% / 98%) against 66% / 55%
    for the plain median.  Returns :func:`time_end_to_end`'s fields for the model (``median``,
    quantiles, ``layout_medians``, ...; one block per layout copy) plus ``reference_ms`` (the
    reference's median over the same window), ``ratio`` (r) and ``ratio_spread_pct`` (the
    interquartile range of the per-pair ratios over r, percent).  A drift-corrected time is
    ``r`` times the reference's time at calibration."""
    allocator.pin()
    tick = clock_fn(clock, torch.get_num_threads())
    layouts = max(1, int(layouts))
    gc_was = gc.isenabled()
    blocks: List[List[float]] = []
    ref_ts: List[float] = []
    per_layout = None

    def timed(m, xs):
        t0 = tick()
        m(*xs)
        return (tick() - t0) * 1e-6

    try:
        for k in range(layouts):
            m, xs = (model, inputs) if k == 0 else _layout_copy(model, inputs)
            gc.collect()
            gc.disable()
            t_start = time.perf_counter()
            n_warm = 0
            while n_warm < 2 or (time.perf_counter() - t_start < warmup_s / layouts and n_warm < 50):
                m(*xs)
                for _ in range(1 + ref_warmup):
                    reference(*ref_inputs)
                n_warm += 1
            if per_layout is None:
                one = (time.perf_counter() - t_start) / n_warm  # one model + reference pair, s
                runs = int(max(min_runs, min(max_runs, min_time_s / max(one, 1e-6))))
                per_layout = max(1, -(-runs // layouts))
            ts = []
            for _ in range(per_layout):
                ts.append(timed(m, xs))
                for _ in range(ref_warmup):
                    reference(*ref_inputs)
                ref_ts.append(timed(reference, ref_inputs))
            blocks.append(ts)
            gc.enable()
            del m, xs
    finally:
        if gc_was:
            gc.enable()
        else:
            gc.disable()
    out = _run_stats(blocks, [float(np.median(b)) for b in blocks])  # one block per layout
    reft = np.array(ref_ts)
    ref_med = float(np.median(reft))
    ratio = out["median"] / ref_med if ref_med > 0 else float("nan")
    pair = np.concatenate(blocks) / np.maximum(reft, 1e-12)
    p75, p25 = np.percentile(pair, [75, 25])
    out.update(reference_ms=ref_med, ratio=ratio, ref_warmup=int(ref_warmup),
               ratio_spread_pct=100.0 * float(p75 - p25) / ratio if ratio > 0 else float("nan"))
    return out


#: An op replay whose interquartile range exceeds this share of its median is measured again
#: (up to :data:`RETRIES` times, the lowest median kept): on a quiet machine 99% of replays stay
#: below 0.2.
RETRY_REL_IQR = 0.5
RETRIES = 2


def measure_layers(graph, table: pd.DataFrame, layer_time_s: float = 0.02, progress: bool = False,
                   cache: Optional[dict] = None, desc: str = "layers", clock: str = "wall"
                   ) -> pd.DataFrame:
    """Replay every op of ``graph`` (call inside :class:`threads_pinned` and inference mode);
    adds ``measured_ms`` (median), ``measured_iqr_ms``, ``measured_min_ms`` (fastest batch) and
    ``replay_ok`` to ``table``."""
    allocator.pin()
    cache = {} if cache is None else cache
    med, iqr, mins, ok = [], [], [], []
    it = graph.ops
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc=desc, leave=False, unit="op")
    for rec in it:
        sig = replay_signature(rec)
        if sig not in cache:
            try:
                rp = build_replay(rec)
                t = time_callable(rp.fn, min_time_s=layer_time_s, clock=clock)
                for _ in range(RETRIES):  # a preempted measurement shows as a wide spread
                    if t.rel_iqr <= RETRY_REL_IQR:
                        break
                    again = time_callable(rp.fn, min_time_s=layer_time_s, clock=clock)
                    t = again if again.median_ms < t.median_ms else t
                cache[sig] = (t.median_ms, t.p75_ms - t.p25_ms, t.min_ms, True)
                del rp
            except Exception:  # an op that cannot run alone is reported, not fatal
                cache[sig] = (float("nan"), float("nan"), float("nan"), False)
        m, s, lo, good = cache[sig]
        med.append(m)
        iqr.append(s)
        mins.append(lo)
        ok.append(good)
    out = table.copy()
    out["measured_ms"] = med
    out["measured_iqr_ms"] = iqr
    out["measured_min_ms"] = mins
    out["replay_ok"] = ok
    return out


def measure_latency(model: nn.Module, input_shape=(1, 3, 224, 224), threads: int = 1,
                    per_layer: bool = True, min_time_s: float = 1.0, repeats: int = 3,
                    layer_time_s: float = 0.02, model_name: Optional[str] = None,
                    progress: bool = False, seed: int = 0, clock: str = "wall",
                    warmup_s: float = 0.2) -> LatencyResult:
    """Measure ``model`` on this CPU at ``threads`` threads (batch and resolution from
    ``input_shape``): end-to-end median with spread, and (``per_layer``) every traced op replayed
    in isolation.  Returns a :class:`LatencyResult` (``.total_ms``, ``.layers`` with ``name`` and
    ``measured_ms``, ``.gap_ms`` / ``.gap_pct``, ``.machine``).  ``clock='cpu'`` (1 thread only)
    times CPU time instead of elapsed time, for machines busy with other work."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"measure_latency expects a torch.nn.Module, got {type(model).__name__}")
    if int(threads) < 1:
        raise ValueError(f"threads must be >= 1, got {threads!r}")
    clock_fn(clock, threads)
    t_wall = time.perf_counter()
    shapes = _input_shapes(input_shape)
    table, report = op_table(model, shapes if len(shapes) > 1 else shapes[0])
    was_training = model.training
    model.eval()
    inputs = _random_inputs(shapes, seed=seed)
    try:
        with threads_pinned(threads), torch.inference_mode():
            e2e = time_end_to_end(model, inputs, min_time_s=min_time_s, repeats=repeats, clock=clock,
                                  warmup_s=warmup_s)
            if per_layer:
                table = measure_layers(report.graph, table, layer_time_s, progress=progress,
                                       clock=clock)
    finally:
        model.train(was_training)
    total = e2e.pop("median")
    return LatencyResult(model_name=model_name or type(model).__name__,
                         input_shape=list(shapes[0]) if len(shapes) == 1 else [list(s) for s in shapes],
                         threads=int(threads), total_ms=total, total_spread=e2e, layers=table,
                         machine=dict(machine_mod.describe(threads), clock=clock),
                         wall_s=time.perf_counter() - t_wall, extra={"clock": clock})
