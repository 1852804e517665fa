"""Where latency plugs in: one measuring function and one predicting function.

:func:`measure` times a model end to end on this CPU.  It uses
:func:`costmodel.latency.measure_latency` (``per_layer=False``) when that module is importable and
falls back to :func:`time_model`, a careful timer of its own (warm-up, thread count pinned,
``torch.inference_mode``, many runs, median and quartiles).  :func:`measure_interleaved` times a
micro-benchmark by name in a fresh process, run by run alternating with the latency profile's
drift reference, and gives its time corrected to the machine's speed at calibration (the way
calibration and the foreign-network validation time every network).

:func:`predict` predicts the latency of a model from a device profile.  With a
:class:`costmodel.latency` profile it calls ``costmodel.latency.predict_latency``; otherwise it
uses :class:`RooflineProfile`, a documented fallback calibrated here in a second: per op
``t = overhead + max(flops / peak_flops, mac_bytes / bandwidth)`` (views cost nothing).  Either
way the result is ``(total_ms, per_op_ms)`` with ``per_op_ms`` aligned with
``analyze(model).layers`` rows (or ``None`` when the predictor gives no per-op split).
"""
from __future__ import annotations

import contextlib
import gc
import importlib
import json
import time
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from costmodel.analysis import analyze

#: kinds that launch no kernel (zero cost in the roofline fallback)
FREE_KINDS = {"view", "split", "identity", "unused"}


@contextlib.contextmanager
def pinned_threads(threads: int):
    """``torch.set_num_threads(threads)`` for the duration, restored afterwards."""
    old = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _latency_module():
    try:
        return importlib.import_module("costmodel.latency")
    except Exception:  # not there yet, or broken while someone edits it
        return None


def _latency_attr(name: str):
    mod = _latency_module()
    if mod is None:
        return None
    obj = getattr(mod, name, None)
    if obj is not None:
        return obj
    for sub in ("measure", "predict", "profile"):
        try:
            obj = getattr(importlib.import_module(f"costmodel.latency.{sub}"), name, None)
        except Exception:
            obj = None
        if obj is not None:
            return obj
    return None


# ---------------------------------------------------------------------------------------------
# measurement
# ---------------------------------------------------------------------------------------------
def time_model(model: nn.Module, input_shape: Sequence[int], threads: int = 1,
               min_time_s: float = 0.3, min_runs: int = 5, max_runs: int = 500,
               warmup_runs: int = 3, device: str = "cpu", clock: str = "wall") -> Dict[str, float]:
    """Own timer: ``warmup_runs`` untimed runs, then one-run timings until ``min_time_s`` has
    passed (at least ``min_runs``, at most ``max_runs``).  Returns ms: ``median``, ``p25``,
    ``p75``, ``min``, ``max`` and ``runs``.  On CUDA every run is bracketed by synchronizes.
    ``clock='cpu'`` times with the calling thread's CPU time (1 thread only: with one intra-op
    thread PyTorch runs every kernel in the calling thread), which other processes on the machine
    do not inflate."""
    if clock not in ("wall", "cpu"):
        raise ValueError(f"clock must be 'wall' or 'cpu', got {clock!r}")
    if clock == "cpu" and (threads != 1 or device != "cpu"):
        raise ValueError("clock='cpu' needs threads=1 on the CPU")
    tick = time.thread_time_ns if clock == "cpu" else time.perf_counter_ns
    model = model.eval().to(device)
    x = torch.randn(*input_shape, device=device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    gc_was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        with pinned_threads(threads), torch.inference_mode():
            for _ in range(warmup_runs):
                model(x)
            sync()
            times: List[float] = []
            start = time.perf_counter()
            while len(times) < max_runs and (len(times) < min_runs
                                              or time.perf_counter() - start < min_time_s):
                t0 = tick()
                model(x)
                sync()
                times.append((tick() - t0) * 1e-6)
    finally:
        if gc_was:
            gc.enable()
    a = np.asarray(times)
    q25, q50, q75 = np.percentile(a, [25, 50, 75])
    return {"median": float(q50), "p25": float(q25), "p75": float(q75), "min": float(a.min()),
            "max": float(a.max()), "runs": int(a.size)}


def measure(model: nn.Module, input_shape: Sequence[int], threads: int = 1,
            min_time_s: float = 0.3, device: str = "cpu", clock: str = "wall") -> Dict[str, float]:
    """End-to-end latency in ms (``median``, ``p25``, ``p75``, ``min``, ``max``, ``runs``,
    ``backend``): :func:`costmodel.latency.measure_latency` if available, else :func:`time_model`.
    ``clock``: ``wall`` (elapsed time) or ``cpu`` (thread CPU time, 1 thread, robust to other
    processes)."""
    fn = _latency_attr("measure_latency") if device == "cpu" else None
    if fn is not None:
        try:
            kw = {"clock": clock} if clock != "wall" else {}
            res = fn(model, tuple(input_shape), threads=threads, per_layer=False,
                     min_time_s=min_time_s, repeats=3, **kw)
            sp = getattr(res, "total_spread", {}) or {}
            return {"median": float(res.total_ms), "p25": float(sp.get("p25", np.nan)),
                    "p75": float(sp.get("p75", np.nan)), "min": float(sp.get("min", np.nan)),
                    "max": float(sp.get("max", np.nan)), "runs": int(sp.get("runs", 0)),
                    "backend": "costmodel.latency.measure_latency"}
        except TypeError:  # API changed: fall back to the own timer
            pass
    out = time_model(model, input_shape, threads, min_time_s, device=device, clock=clock)
    out["backend"] = "costmodel.guidelines.timing.time_model"
    return out


def reference_ms(profile, threads: int) -> Optional[float]:
    """The drift reference's median time (ms) at calibration in a ``costmodel.latency`` profile
    at ``threads`` threads, or None when the profile has none."""
    if not callable(getattr(profile, "reference", None)):  # a RooflineProfile has no reference
        return None
    ref = profile.reference(int(threads))
    return float(ref["ms"]) if ref else None


def measure_interleaved(net: str, threads: int, profile, min_time_s: float = 1.0,
                        clock: str = "wall") -> Dict[str, float]:
    """The network called ``net`` (:func:`costmodel.guidelines.benchmarks.net_name`) timed in a
    fresh process for at least ``min_time_s``, alternating run by run with the drift reference
    (:func:`costmodel.latency.fresh.time_interleaved_named`).  The machine's speed moves within
    seconds on a shared VM (``reports/latency/noise.md``), so the ratio model / reference times
    the reference's calibration time is the measurement: ``median``, ``p25``, ``p75``, ``min``,
    ``max`` are the model's runs scaled by ``drift`` (the reference's median now over its median
    at calibration, reported as ``drift``); ``raw_median`` is the unscaled median,
    ``ratio_spread_pct`` the interquartile range of the per-pair ratios.  ValueError when the
    profile has no drift reference at ``threads``."""
    from costmodel.latency import fresh
    from costmodel.latency.profile import REFERENCE_NAME

    cal = reference_ms(profile, threads)
    if cal is None:
        raise ValueError(f"the profile has no drift reference at {threads} thread(s): calibrate "
                         f"it with `costmodel calibrate` to measure interleaved")
    e = fresh.time_interleaved_named(net, threads, REFERENCE_NAME, min_time_s=min_time_s,
                                     clock=clock, min_runs=6)
    drift = float(e["reference_ms"]) / cal
    out = {k: float(e[k]) / drift for k in ("median", "p25", "p75", "min", "max")}
    out.update(raw_median=float(e["median"]), reference_ms=float(e["reference_ms"]), drift=drift,
               ratio_spread_pct=float(e["ratio_spread_pct"]), runs=int(e["runs"]),
               backend="costmodel.latency.fresh.time_interleaved_named (drift-corrected)")
    return out


# ---------------------------------------------------------------------------------------------
# prediction
# ---------------------------------------------------------------------------------------------
@dataclass
class RooflineProfile:
    """Fallback device profile: ``t_op = overhead_us + max(flops / peak, bytes / bandwidth)``.

    ``peak_gflops`` comes from a dense 1x1 convolution (128 -> 128 channels on 56 x 56),
    ``depthwise_gflops`` from a 3x3 depthwise convolution, ``bandwidth_gbs`` from an out-of-place
    add of three 1M-element float tensors, ``overhead_us`` from a ReLU on a one-element tensor;
    each the fastest of many calls (robust to other processes on the machine).
    """

    threads: int
    peak_gflops: float
    depthwise_gflops: float
    bandwidth_gbs: float
    overhead_us: float
    name: str = "roofline fallback (costmodel.guidelines.timing.RooflineProfile)"

    def op_ms(self, kind: str, flops: float, mac_bytes: float) -> float:
        if kind in FREE_KINDS or (flops == 0 and mac_bytes == 0):
            return 0.0
        peak = self.depthwise_gflops if kind == "depthwise_conv" else self.peak_gflops
        compute = flops / (peak * 1e9)
        memory = mac_bytes / (self.bandwidth_gbs * 1e9)
        return 1e3 * (self.overhead_us * 1e-6 + max(compute, memory))

    def to_dict(self) -> dict:
        return asdict(self)


def _best_time(fn, runs: int = 30, warmup: int = 3) -> float:
    """Fastest of ``runs`` timed calls, s (the least disturbed by other processes)."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        fn()
        ts.append(time.perf_counter_ns() - t0)
    return float(np.min(ts)) * 1e-9


_PROFILE_CACHE: Dict[int, RooflineProfile] = {}


def calibrate_roofline(threads: int = 1) -> RooflineProfile:
    """Calibrate :class:`RooflineProfile` on this CPU (about a second; cached per thread count)."""
    if threads in _PROFILE_CACHE:
        return _PROFILE_CACHE[threads]
    with pinned_threads(threads), torch.inference_mode():
        conv = nn.Conv2d(128, 128, 1, bias=False).eval()
        x = torch.randn(1, 128, 56, 56)
        t = _best_time(lambda: conv(x), runs=15)
        peak = 2 * 56 * 56 * 128 * 128 / t / 1e9
        dw = nn.Conv2d(128, 128, 3, padding=1, groups=128, bias=False).eval()
        t = _best_time(lambda: dw(x), runs=15)
        dw_peak = 2 * 56 * 56 * 128 * 9 / t / 1e9
        a, b, c = torch.randn(1 << 20), torch.randn(1 << 20), torch.empty(1 << 20)
        t = _best_time(lambda: torch.add(a, b, out=c), runs=30)
        bw = 3 * 4 * (1 << 20) / t / 1e9
        tiny = torch.randn(1)
        t = _best_time(lambda: torch.relu(tiny), runs=200)
    prof = RooflineProfile(threads=threads, peak_gflops=round(peak, 2),
                           depthwise_gflops=round(dw_peak, 2), bandwidth_gbs=round(bw, 2),
                           overhead_us=round(t * 1e6, 2))
    _PROFILE_CACHE[threads] = prof
    return prof


def load_profile(path: Optional[str] = None, threads: int = 1):
    """A device profile: ``path`` loaded by ``costmodel.latency`` (``DeviceProfile.load``) or a
    saved :class:`RooflineProfile` JSON; without ``path`` the latency package's default profile
    for this machine if it offers one, else a freshly calibrated :class:`RooflineProfile`."""
    DeviceProfile = _latency_attr("DeviceProfile")
    if path is not None:
        if DeviceProfile is not None:
            for loader in ("load", "from_json", "read"):
                fn = getattr(DeviceProfile, loader, None)
                if fn is not None:
                    try:
                        return fn(path)
                    except Exception:
                        break
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return RooflineProfile(**{k: v for k, v in data.items()
                                  if k in RooflineProfile.__dataclass_fields__})
    for name in ("default_profile", "load_default_profile", "builtin_profile"):
        fn = _latency_attr(name)
        if fn is not None:
            try:
                prof = fn(threads=threads)
            except TypeError:
                try:
                    prof = fn()
                except Exception:
                    prof = None
            except Exception:
                prof = None
            if prof is not None:
                return prof
    return calibrate_roofline(threads)


def profile_name(profile) -> str:
    if isinstance(profile, RooflineProfile):
        return (f"{profile.name}: peak {profile.peak_gflops} GFLOP/s (dense 1x1), depthwise "
                f"{profile.depthwise_gflops} GFLOP/s, {profile.bandwidth_gbs} GB/s, "
                f"{profile.overhead_us} us/op, {profile.threads} thread(s)")
    machine, cal = getattr(profile, "machine", None), getattr(profile, "calibration", None)
    if isinstance(machine, dict) and isinstance(cal, dict):
        return (f"costmodel.latency {type(profile).__name__} for {machine.get('cpu_model', '?')} "
                f"(threads {getattr(profile, 'thread_counts', '?')}, calibrated "
                f"{cal.get('created', '?')}, {cal.get('op_samples', '?')} op samples, "
                f"{cal.get('network_runs', '?')} networks, {cal.get('clock', 'wall')} clock)")
    for attr in ("describe", "summary", "name"):
        v = getattr(profile, attr, None)
        if callable(v):
            try:
                return str(v())
            except Exception:
                continue
        if v:
            return str(v)
    return type(profile).__name__


def predict(model: nn.Module, input_shape, profile, report=None,
            threads: Optional[int] = None) -> Tuple[float, Optional[List[float]]]:
    """``(total_ms, per_op_ms)`` predicted for ``model`` with ``profile`` (see module doc);
    ``threads`` selects the thread count of a multi-thread :mod:`costmodel.latency` profile."""
    if not isinstance(profile, RooflineProfile):
        fn = _latency_attr("predict_latency")
        if fn is None:
            raise RuntimeError("this profile needs costmodel.latency.predict_latency, which is "
                               "not available")
        shape = tuple(input_shape) if not isinstance(input_shape, str) else input_shape
        try:
            res = fn(model, shape, profile, threads=threads)
        except TypeError:  # an older predict_latency without ``threads``
            res = fn(model, shape, profile)
        per_op = None
        layers = getattr(res, "layers", None)
        if layers is not None and "pred_ms" in getattr(layers, "columns", ()):
            per_op = [float(v) for v in layers["pred_ms"].fillna(0.0)]
        return float(res.total_ms), per_op
    if report is None:
        report = analyze(model, input_shape, warn=False)
    rows = report.layers.iloc[:len(report.graph.ops)]
    per_op = [profile.op_ms(k, float(f), float(b))
              for k, f, b in zip(rows["kind"], rows["flops"], rows["mac_bytes"])]
    return float(sum(per_op)), per_op
