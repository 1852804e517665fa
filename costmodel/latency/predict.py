"""``predict_latency``: predicted end-to-end and per-op latency of a model from a device profile.

Nothing runs on the CPU: the model is traced on meta tensors (as :func:`costmodel.analyze` does),
every op gets its formula features, the profile's per-kind model predicts the op's isolated time
(``pred_isolated_ms``) and its network model the op's share of the end-to-end time (``pred_ms``).
``total_ms = sum(pred_ms) + network_const_ms``.

:func:`predict_latency` and :func:`add_predicted_columns` warn (:class:`OtherMachineWarning`)
when the profile was calibrated on another machine or torch build, as ``costmodel validate``
does for a timing file.
"""
from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Union

import numpy as np
import pandas as pd
import torch.nn as nn

from costmodel.analysis import _input_shapes, analyze
from costmodel.latency import fit, machine as machine_mod
from costmodel.latency.features import op_columns, op_table
from costmodel.latency.profile import DeviceProfile, ProfileError, keys_for
from costmodel.report import CostReport

ProfileLike = Union[str, os.PathLike, DeviceProfile]


def as_profile(profile: ProfileLike) -> DeviceProfile:
    if isinstance(profile, DeviceProfile):
        return profile
    if profile is None:
        raise ValueError("a device profile is needed: run `costmodel calibrate --out profile.json` "
                         "and pass profile='profile.json'")
    return DeviceProfile.load(profile)


@dataclass
class LatencyPrediction:
    """``total_ms``; ``layers`` (DataFrame: ``name``, ``op``, ``kind``, ``key``, formula counts,
    ``pred_isolated_ms``, ``pred_ms``); ``network_const_ms``; ``baselines`` (end-to-end ms of the
    FLOPs-proportional and FLOPs+MAC linear baselines fitted on the same calibration data)."""

    model_name: str
    input_shape: List[int]
    threads: int
    total_ms: float
    layers: pd.DataFrame
    network_const_ms: float
    baselines: Dict[str, float] = field(default_factory=dict)
    machine: Dict[str, object] = field(default_factory=dict)

    def __repr__(self):
        return (f"<LatencyPrediction {self.model_name} {self.threads} thread(s): "
                f"{self.total_ms:.3f} ms on {self.machine.get('cpu_model', '?')}>")

    def rescaled(self, factor: float) -> "LatencyPrediction":
        """The prediction for the machine running ``factor`` times slower (drift correction)."""
        layers = self.layers.copy()
        for c in ("pred_isolated_ms", "pred_ms"):
            layers[c] = layers[c] * factor
        return LatencyPrediction(self.model_name, self.input_shape, self.threads,
                                 self.total_ms * factor, layers, self.network_const_ms * factor,
                                 {k: v * factor for k, v in self.baselines.items()}, self.machine)

    def to_dict(self) -> dict:
        return {"name": self.model_name, "input_shape": self.input_shape, "threads": self.threads,
                "total_ms": self.total_ms, "network_const_ms": self.network_const_ms,
                "baselines": self.baselines,
                "layers": [{"name": r.name, "kind": r.kind, "pred_ms": float(r.pred_ms),
                            "pred_isolated_ms": float(r.pred_isolated_ms)}
                           for r in self.layers.itertuples(index=False)]}


def predict_table(table: pd.DataFrame, profile: DeviceProfile, threads: Optional[int] = None):
    """(table with ``key``, ``pred_isolated_ms``, ``pred_ms``; total ms; network constant ms).

    A prediction that is negative, NaN or infinite (an overflow: a valid profile cannot produce
    a negative one) raises :class:`ProfileError` instead of being returned."""
    table = table.reset_index(drop=True)
    keys, iso, per_op, total, const = _predict_columns(fit.Columns.of(table), profile, threads)
    out = table.assign(key=keys, pred_isolated_ms=iso, pred_ms=per_op)
    out.attrs = dict(table.attrs)
    _check_prediction(out, total, const, profile.resolve_threads(threads))
    return out, total, const


def _predict_columns(columns: "fit.Columns", profile: DeviceProfile, threads: Optional[int]):
    """(keys, isolated ms, in-network ms per op, total ms, network constant ms) from an op
    table's columns (numpy arrays: no DataFrame work per op kind)."""
    threads = profile.resolve_threads(threads)
    keys = keys_for(columns)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused by the caller
        iso = profile.predict_isolated(columns, threads, keys=keys)
        per_op, const = profile.network_terms(columns, iso, threads)
    return keys, iso, per_op, float(per_op.sum() + const), const


def _check_prediction(layers: pd.DataFrame, total: float, const: float, threads: int) -> None:
    for col in ("pred_isolated_ms", "pred_ms"):
        v = layers[col].to_numpy(dtype=float)
        bad = ~(np.isfinite(v) & (v >= 0))
        if bad.any():
            i = int(np.argmax(bad))
            r = layers.iloc[i]
            raise ProfileError(f"the profile predicts {v[i]} ms ({col}) for op {r['name']!r} "
                               f"({r['key']}) at {threads} thread(s): its model for that op "
                               f"cannot be right; recalibrate")
    for what, v in (("network constant", const), ("end-to-end time", total)):
        if not (math.isfinite(v) and v >= 0):
            raise ProfileError(f"the profile predicts {v} ms as the {what} at {threads} thread(s): "
                               f"it cannot be right; recalibrate")


class OtherMachineWarning(UserWarning):
    """The profile was calibrated on another machine or torch build than this one."""


def warn_if_other_machine(profile: DeviceProfile, stacklevel: int = 3) -> List[str]:
    """Warn (:class:`OtherMachineWarning`) when ``profile`` was calibrated on a machine or torch
    build other than this one, comparing what ``costmodel validate`` compares
    (:func:`costmodel.latency.machine.same_machine`: CPU model, arch, torch, ISA flags); returns
    the differing fields.  Profiles built from specifications (:mod:`costmodel.arm.spec_profiles`)
    describe another device on purpose and are not compared."""
    if profile.machine.get("spec_profile"):
        return []
    here = machine_mod.identity()
    diff = machine_mod.same_machine(here, profile.machine)
    if diff:
        warnings.warn(f"the profile was calibrated on another machine/build (differs in "
                      f"{', '.join(diff)}): profile {profile.machine.get('cpu_model')} torch "
                      f"{profile.machine.get('torch')}, this machine {here['cpu_model']} torch "
                      f"{here['torch']}; the prediction is for the profile's machine",
                      OtherMachineWarning, stacklevel=stacklevel)
    return diff


def predict_latency(model: nn.Module, input_shape=(1, 3, 224, 224), profile: ProfileLike = None,
                    threads: Optional[int] = None, model_name: Optional[str] = None
                    ) -> LatencyPrediction:
    """Predict the latency of ``model`` at ``input_shape`` on the machine ``profile`` describes
    (a :class:`DeviceProfile` or the path of its JSON), at ``threads`` threads (default: the
    profile's smallest calibrated thread count)."""
    prof = as_profile(profile)
    threads = prof.resolve_threads(threads)
    warn_if_other_machine(prof)
    shapes = _input_shapes(input_shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = analyze(model, shapes if len(shapes) > 1 else shapes[0], warn=False)
    data = op_columns(report)  # the op table's columns; its DataFrame is built once, below
    columns = fit.Columns.of(data, attrs={"module_calls": int(report.graph.module_calls)})
    keys, iso, per_op, total, const = _predict_columns(columns, prof, threads)
    layers = pd.DataFrame({**data, "key": keys, "pred_isolated_ms": iso, "pred_ms": per_op})
    layers.attrs.update(columns.attrs)
    _check_prediction(layers, total, const, threads)
    flops, mac = float(columns["flops"].sum()), float(columns["mac"].sum())
    baselines = {"flops_ms": prof.baseline("flops", flops, mac, threads),
                 "flops_mac_ms": prof.baseline("flops_mac", flops, mac, threads)}
    return LatencyPrediction(model_name or type(model).__name__,
                             list(shapes[0]) if len(shapes) == 1 else [list(s) for s in shapes],
                             threads, total, layers, const, baselines, prof.machine)


def add_predicted_columns(report: CostReport, profile: ProfileLike, threads: Optional[int] = None
                          ) -> CostReport:
    """Add ``pred_isolated_ms`` and ``pred_ms`` columns to ``report.layers`` (and
    ``report.total['pred_ms']``, the predicted end-to-end time) in place; returns the report."""
    prof = as_profile(profile)
    warn_if_other_machine(prof)
    table, _ = op_table(None, None, report=report)
    layers, total, _ = predict_table(table, prof, threads)
    n = len(layers)
    for col in ("pred_isolated_ms", "pred_ms"):
        values = np.full(len(report.layers), np.nan)
        values[:n] = layers[col].to_numpy()
        report.layers[col] = values
    report.total["pred_ms"] = total
    return report
