"""Per-model milliseconds for the latency axes of the accuracy plots (and the reports folder).

Latency plots need per-model milliseconds: pass them (``x_values={name: ms}``, or a file through
the CLI's ``--timings``, read by :func:`read_timings`), or let :func:`zoo_latency` ask
:mod:`costmodel.latency`: predicted with a device profile, or measured on this machine.  Anything
that cannot give figures here raises :class:`LatencyUnavailable` with the reason.
"""
from __future__ import annotations

import json
import os
from typing import Callable, Dict, Iterable, Mapping, Optional

import numpy as np
import pandas as pd

from costmodel import fileio
from costmodel.report import CostReport
from costmodel.zoo import registry
from costmodel.zoo.table import zoo_report


class LatencyUnavailable(RuntimeError):
    """Latency figures cannot be produced here (package missing, no profile, ...)."""


def _latency_module():
    try:
        import costmodel.latency as lat  # noqa: WPS433
    except ImportError as exc:
        raise LatencyUnavailable(f"costmodel.latency is not available ({exc})") from None
    return lat


def _as_ms(result) -> float:
    """A latency result (number of ms, or an object/dict carrying one) -> float ms."""
    if isinstance(result, (int, float, np.floating)):
        return float(result)
    for key in ("total_ms", "median_ms", "ms", "latency_ms", "predicted_ms", "mean_ms"):
        v = result.get(key) if isinstance(result, Mapping) else getattr(result, key, None)
        if v is not None:
            return float(v)
    raise LatencyUnavailable(f"cannot read milliseconds from {type(result).__name__}")


def _call(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` keeping only the keywords ``fn`` accepts (the latency API is young)."""
    import inspect

    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return fn(*args, **kwargs)
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        kwargs = {k: v for k, v in kwargs.items() if k in params}
    return fn(*args, **kwargs)


def _latency_attr(name: str):
    lat = _latency_module()
    obj = getattr(lat, name, None)
    if obj is None:
        import importlib

        for sub in ("measure", "predict", "profile"):
            try:
                obj = getattr(importlib.import_module(f"costmodel.latency.{sub}"), name, None)
            except ImportError:
                obj = None
            if obj is not None:
                break
    return obj


def load_profile(path: str):
    """``costmodel.latency.DeviceProfile.load(path)`` (a profile from ``costmodel calibrate``)."""
    prof_cls = _latency_attr("DeviceProfile")
    if prof_cls is None or not hasattr(prof_cls, "load"):
        raise LatencyUnavailable("costmodel.latency has no DeviceProfile.load")
    if not os.path.isfile(path):
        raise LatencyUnavailable(f"device profile not found: {path}")
    return prof_cls.load(path)


def default_profile(quick: bool = False, path: Optional[str] = None):
    """The device profile at ``path``; without one, the latency package's default profile if it
    offers one, else :class:`LatencyUnavailable` saying how to make one (a calibration takes
    minutes, so it is never started behind the user's back)."""
    if path is not None:
        return load_profile(path)
    fn = _latency_attr("default_profile")
    if callable(fn):
        prof = fn()
        if prof is not None:
            return prof
    raise LatencyUnavailable("no device profile: run `costmodel calibrate --out profile.json` "
                             "and pass --profile profile.json")


def calibrate_profile(out: Optional[str] = None, quick: bool = False, threads=(1, 2)):
    """Calibrate this machine (``costmodel.latency.calibrate``; ``quick``: a 45-second budget,
    else the package's default) and save the profile to ``out``."""
    fn = _latency_attr("calibrate")
    if fn is None:
        raise LatencyUnavailable("costmodel.latency has no calibrate")
    kw = dict(budget_s=45.0) if quick else {}
    prof = _call(fn, threads=tuple(threads), progress=False, **kw)
    if out is not None:  # written whole or not at all
        fileio.write_text(out, json.dumps(prof.to_dict(), indent=1, allow_nan=False) + "\n")
    return prof


def predict_result(model, input_shape, profile, report: Optional[CostReport] = None,
                   threads: Optional[int] = None):
    """``costmodel.latency.predict_latency`` of one model (the raw result) at ``threads`` threads
    (default: the profile's smallest thread count)."""
    fn = _latency_attr("predict_latency")
    if fn is None:
        raise LatencyUnavailable("costmodel.latency has no predict_latency yet")
    import inspect

    first = next(iter(inspect.signature(fn).parameters), "")
    if first == "report" and report is not None:
        return _call(fn, report, profile, threads=threads)
    return _call(fn, model, input_shape, profile, report=report, threads=threads)


def predicted_ms(model, input_shape, profile, report: Optional[CostReport] = None,
                 threads: Optional[int] = None) -> float:
    """Predicted milliseconds of one model with ``profile`` at ``threads`` (``predict_latency``)."""
    return _as_ms(predict_result(model, input_shape, profile, report, threads))


def measured_ms(model, input_shape, quick: bool = False, threads: int = 1) -> float:
    """Median end-to-end milliseconds of one model on this machine (``measure_latency``, batch 1,
    ``threads`` threads, no per-layer replay; ``quick``: tiny budget)."""
    fn = _latency_attr("measure_latency")
    if fn is None:
        raise LatencyUnavailable("costmodel.latency has no measure_latency yet")
    budget = dict(min_time_s=0.05, repeats=2) if quick else dict(min_time_s=0.5, repeats=3)
    return _as_ms(_call(fn, model, input_shape, per_layer=False, threads=threads, **budget))


def zoo_latency(kind: str, names: Optional[Iterable[str]] = None, quick: bool = False,
                profile=None, on_model: Optional[Callable[[str], None]] = None,
                threads: int = 1) -> Dict[str, float]:
    """``{name: ms}`` for the zoo at ``threads`` threads: ``kind`` is ``"predicted"`` or
    ``"measured"`` (a metric key such as ``latency_predicted_2t`` also names the thread count).

    Raises :class:`LatencyUnavailable` (with the reason) when costmodel.latency is missing or
    cannot give figures here.  ``on_model(name)`` is called after each model (progress bars).
    """
    kind = kind.replace("latency_", "")
    if kind.endswith("t") and "_" in kind:  # predicted_2t
        kind, suffix = kind.rsplit("_", 1)
        threads = int(suffix[:-1])
    if kind not in ("predicted", "measured"):
        raise ValueError(f"kind must be 'predicted' or 'measured', got {kind!r}")
    names = list(registry.names() if names is None else names)
    if kind == "predicted" and profile is None:
        profile = default_profile(quick)
    out = {}
    for name in names:
        model = registry.create(name).eval()
        shape = registry.entry(name).input_shape
        if kind == "predicted":
            out[name] = predicted_ms(model, shape, profile, zoo_report(name), threads)
        else:
            out[name] = measured_ms(model, shape, quick, threads)
        if on_model:
            on_model(name)
    return out


def read_timings(path: str, threads: Optional[int] = None) -> Dict[str, Dict[str, float]]:
    """Per-model milliseconds from a file -> ``{"latency_measured": {name: ms}, ...}``.

    A CSV needs ``name`` and ``measured_ms`` and/or ``predicted_ms`` columns (1 thread;
    ``measured_ms_2t`` / ``predicted_ms_2t``: 2 threads, keys ``latency_measured_2t`` ...); a
    JSON timing file of ``costmodel bench`` / ``validate-report`` (format ``costmodel-timings``)
    gives measured ms at ``threads`` threads (default: the smallest thread count in the file).
    """
    if str(path).lower().endswith(".json"):
        doc = fileio.read_json(path)
        if not isinstance(doc, dict) or doc.get("format") != "costmodel-timings":
            raise ValueError(f"{path}: not a costmodel-timings JSON file")
        models = [m for m in doc.get("models", []) if isinstance(m, dict)]
        counts = sorted({int(m.get("threads", 1)) for m in models})
        th = threads if threads is not None else (counts[0] if counts else 1)
        out = {str(m["name"]): float(m["total_ms"]) for m in models
               if int(m.get("threads", 1)) == th and m.get("total_ms")}
        if not out:
            raise ValueError(f"{path}: no model timed at {th} thread(s)")
        return {"latency_measured": out}
    df = pd.read_csv(path)
    if "name" not in df.columns:
        raise ValueError(f"{path}: timings CSV needs a 'name' column")
    out = {}
    for col, key in (("measured_ms", "latency_measured"), ("predicted_ms", "latency_predicted"),
                     ("measured_ms_2t", "latency_measured_2t"),
                     ("predicted_ms_2t", "latency_predicted_2t")):
        if col in df.columns:
            sub = df[["name", col]].dropna()
            out[key] = {str(n): float(v) for n, v in zip(sub["name"], sub[col])}
    if not out:
        raise ValueError(f"{path}: timings CSV needs a measured_ms or predicted_ms column")
    return out


def timings_note(path: str, threads: Optional[int] = None) -> str:
    """Where the measured times of a ``costmodel-timings`` JSON come from, for a caption: the
    file, its CPU and torch, its date (``created``; else ``date not recorded``) and the thread
    count."""
    doc = fileio.read_json(path)
    m = doc.get("machine") or {}
    when = str(doc["created"])[:10] if doc.get("created") else "date not recorded"
    th = f", {threads} thread{'s' if threads != 1 else ''}" if threads else ""
    return (f"{os.path.normpath(str(path))}: {m.get('cpu_model', 'unknown CPU')}, "
            f"torch {m.get('torch', '?')}, {when}{th}")


def profile_note(profile, path: Optional[str] = None, threads: Optional[int] = None) -> str:
    """What a device profile was calibrated on, for a caption: its file, CPU, torch and
    calibration date, and the thread count predicted for."""
    m = getattr(profile, "machine", None) or {}
    cal = getattr(profile, "calibration", None) or {}
    when = str(cal["created"])[:10] if cal.get("created") else "date not recorded"
    th = f", predicted for {threads} thread{'s' if threads != 1 else ''}" if threads else ""
    where = f"profile {os.path.normpath(str(path))}" if path else "device profile"
    return (f"{where} calibrated on {m.get('cpu_model', 'unknown CPU')}, torch "
            f"{m.get('torch', '?')}, {when}{th}")
