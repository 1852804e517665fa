"""``calibrate``: micro-benchmark this CPU and fit a :class:`DeviceProfile`.

Two kinds of samples, both measured at every requested thread count:

1. **Calibration networks** from the ShuffleNetV2/MobileNetV2-like design space
   (:func:`costmodel.latency.space.calibration_specs`, a seed disjoint from the validation
   networks): end-to-end time (in a fresh process, :mod:`costmodel.latency.fresh`, median over
   3 memory layouts), and every distinct op replayed in isolation.  Their ops are
   realistic per-kind samples, and their end-to-end times fit the network model (isolated op
   time -> in-network time, per-network constant) and the two baselines (latency proportional to
   FLOPs; linear in FLOPs and MAC).
2. **Op micro-benchmarks** (:func:`costmodel.latency.space.sample_op_configs`): standard /
   group / depthwise / pointwise / dilated convolution, linear, norm, activations, pooling,
   element-wise, concat, split, shuffle, views and shifts over sampled channels, resolutions,
   kernels, strides and groups, interleaved by kind so a budget cut keeps every kind covered.

Then per thread count and per kind (and per ``kind:op`` where enough samples exist) a roofline,
a non-negative linear model and a boosted-tree-corrected linear model are fitted on relative
error and the best one under cross-validation is kept (:func:`costmodel.latency.fit.select_model`).

The whole run respects ``budget_s`` (default :data:`DEFAULT_BUDGET_S`, 12 minutes, fitting
included) and shows a progress bar.
"""
from __future__ import annotations

import datetime
import os
import time
import warnings
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np
import pandas as pd
import torch

from costmodel.latency import checks, files, fit, machine as machine_mod, space
from costmodel.latency.features import FEATURE_COLUMNS, op_table
from costmodel.latency.measure import measure_layers, time_end_to_end
from costmodel.latency.profile import REFERENCE_NAME, DeviceProfile, compute_mask, keys_for
from costmodel.latency.quiet import CpuWatch
from costmodel.latency.replay import replay_signature, threads_pinned

DEFAULT_BUDGET_S = 1080.0  # 18 minutes, fitting included: the default stays under 20 minutes
QUICK_BUDGET_S = 180.0  # ``--quick``: a first look
DEFAULT_THREADS = (1, 2)
FIT_RESERVE = 0.06  # share of the budget kept for fitting
MIN_KEY_SAMPLES = 12


@dataclass
class CalibrationData:
    """Raw calibration samples: ``ops`` (one row per distinct op and thread count, with features
    and ``measured_ms``) and ``networks`` (one row per calibration network and thread count)."""

    ops: pd.DataFrame
    networks: pd.DataFrame


DEFAULT_WEIGHT_CAP = 1 << 20  # bytes, when the L2 size is unknown


def weight_cap(machine: Optional[dict] = None) -> int:
    """Weights up to this size stay cached in a replay loop but come cold inside a network."""
    l2 = (machine or {}).get("l2_cache_bytes") if machine else machine_mod.cache_bytes(2)
    return int(l2) if l2 else DEFAULT_WEIGHT_CAP


def _network_row(name, threads, table, e2e, index=-1, cap=DEFAULT_WEIGHT_CAP) -> dict:
    return {"name": name, "index": index, "threads": threads, "e2e_ms": e2e["median"], "e2e_min_ms": e2e["min"],
            "iso_min": float(table["measured_min_ms"].sum()),
            "repeat_spread_pct": e2e["repeat_spread_pct"],
            "iso": float(table["measured_ms"].sum()),
            "iso_compute": float(table["measured_ms"][compute_mask(table)].sum()),
            "iso_memory": float(table["measured_ms"][~compute_mask(table)].sum()),
            "alloc_bytes": float(table["alloc_bytes"].sum()),
            "weight_bytes": float(np.minimum(table["weight_bytes"].to_numpy(float), cap).sum()),
            "weight_bytes_uncapped": float(table["weight_bytes"].sum()), "one": float(len(table)),
            "const": 1.0, "flops": float(table["flops"].sum()), "mac": float(table["mac"].sum()),
            "madds": float(table["madds"].sum())}


def _new_rows(graph, table, sigs_seen: set, source: str, threads: int) -> pd.DataFrame:
    keep = []
    for i, rec in enumerate(graph.ops):
        s = replay_signature(rec)
        if s not in sigs_seen:
            sigs_seen.add(s)
            keep.append(i)
    rows = table.iloc[keep].copy()
    rows["threads"] = threads
    rows["source"] = source
    return rows


#: The isolated replays of a network's ops summing to more than this multiple of its end-to-end
#: time means the replays were disturbed (on a quiet machine the sum is 0.6-0.8 of end to end,
#: at most 1.02 over the whole zoo: replays run with warm caches and no Python glue).
MAX_ISO_TO_E2E = 1.1


def _recheck_replays(graph, table, measured, e2e, layer_time_s, cache, clock, pause_s=1.0):
    """Re-measure a network's op replays once (after ``pause_s``) if their sum is implausibly
    above the end-to-end time; returns (measured table, True if still implausible)."""
    if measured["measured_ms"].sum() <= MAX_ISO_TO_E2E * e2e["median"]:
        return measured, False
    for rec in graph.ops:
        cache.pop(replay_signature(rec), None)
    time.sleep(pause_s)
    measured = measure_layers(graph, table, layer_time_s, cache=cache, clock=clock)
    if measured["measured_ms"].sum() <= MAX_ISO_TO_E2E * e2e["median"]:
        return measured, False
    for rec in graph.ops:  # later networks must not reuse these replays
        cache.pop(replay_signature(rec), None)
    return measured, True


def collect(budget_s: float = DEFAULT_BUDGET_S, threads: Sequence[int] = DEFAULT_THREADS,
            seed: int = space.CALIBRATION_SEED, n_networks: int = 80, network_share: float = 0.6,
            layer_time_s: float = 0.015, e2e_time_s: float = 0.4, progress: bool = True,
            max_ops: int = 100000, clock: str = "wall", bar=None, fresh_process: bool = True
            ) -> CalibrationData:
    """Measure calibration networks (up to ``network_share`` of the budget) then op
    micro-benchmarks until the budget (minus the fitting reserve) is spent.  With
    ``fresh_process`` each network's end-to-end time is taken in a fresh process
    (:mod:`costmodel.latency.fresh`), as the validation does."""
    from costmodel.latency import fresh
    fresh_process = fresh_process and seed == space.CALIBRATION_SEED and fresh.available()
    start = time.perf_counter()
    stop_all = start + budget_s - max(FIT_RESERVE * budget_s, min(10.0, 0.25 * budget_s))
    stop_nets = start + budget_s * network_share
    threads = [int(t) for t in threads]
    caches: Dict[int, dict] = {t: {} for t in threads}
    seen: Dict[int, set] = {t: set() for t in threads}
    op_rows: List[pd.DataFrame] = []
    net_rows: List[dict] = []
    cap = weight_cap()
    own_bar = bar is None and progress
    if own_bar:
        bar = progress_bar(budget_s)
    last = [start]
    n_ops = [0]

    def tick(phase):
        if bar is not None:
            now = time.perf_counter()
            bar.update(min(now - last[0], max(0.0, bar.total - bar.n)))
            last[0] = now
            bar.set_postfix_str(f"{phase}, {len(net_rows)} network runs, {n_ops[0]} op samples")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = 2.5 * len(threads)  # seconds per calibration network, updated as they run
        for index, spec in enumerate(space.sample_specs(n_networks, seed)):
            t_net = time.perf_counter()
            if t_net + est > stop_nets:
                break
            model = space.build(spec)
            table, report = op_table(model, spec.input_shape)
            x = torch.randn(spec.input_shape, generator=torch.Generator().manual_seed(0))
            for t in threads:
                if fresh_process:
                    e2e = fresh.time_named(f"space:calibration:{index}", t, min_time_s=e2e_time_s,
                                           repeats=3, warmup_s=0.1, clock=clock)
                with threads_pinned(t), torch.inference_mode():
                    if not fresh_process:
                        e2e = time_end_to_end(model, [x], min_time_s=e2e_time_s, repeats=3,
                                              warmup_s=0.1, clock=clock)
                    measured = measure_layers(report.graph, table, layer_time_s, cache=caches[t],
                                              clock=clock)
                    measured, disturbed = _recheck_replays(report.graph, table, measured, e2e,
                                                           layer_time_s, caches[t], clock)
                row = _network_row(spec.name, t, measured, e2e, index, cap)
                row["replays_disturbed"] = disturbed
                net_rows.append(row)
                if disturbed:  # its op replays are not trusted either
                    tick("networks")
                    continue
                op_rows.append(_new_rows(report.graph, measured, seen[t], "network", t))
                n_ops[0] += len(op_rows[-1])
                tick("networks")
            est = max(est, time.perf_counter() - t_net) if len(net_rows) <= len(threads) else \
                0.5 * est + 0.5 * (time.perf_counter() - t_net)
        configs = space.iter_op_configs(seed=seed + 1)
        while time.perf_counter() < stop_all and n_ops[0] < max_ops:
            cfg = next(configs)
            try:
                table, report = op_table(cfg.module, cfg.input_shape)
            except Exception:
                continue
            for t in threads:
                with threads_pinned(t), torch.inference_mode():
                    measured = measure_layers(report.graph, table, layer_time_s, cache=caches[t],
                                              clock=clock)
                op_rows.append(_new_rows(report.graph, measured, seen[t], "op", t))
                n_ops[0] += len(op_rows[-1])
            tick("op benchmarks")
            if time.perf_counter() > stop_all:
                break
    if bar is not None:
        tick("fitting")
    ops = pd.concat(op_rows, ignore_index=True) if op_rows else pd.DataFrame()
    if len(ops):
        ops = ops[ops["replay_ok"] & np.isfinite(ops["measured_ms"]) & (ops["measured_ms"] > 0)]
        ops = ops.reset_index(drop=True)
        ops["key"] = keys_for(ops)
    if own_bar:
        bar.close()
    return CalibrationData(ops, pd.DataFrame(net_rows))


#: calibration methods: ``in-network`` (every op of the calibration networks timed inside the
#: real forward pass, :mod:`costmodel.latency.innet`; networks of fifteen families,
#: :mod:`costmodel.latency.families`) and ``replay`` (ops replayed alone, networks of the first
#: two-family space plus op micro-benchmarks: the method of the first validation report)
METHODS = ("in-network", "replay")
#: the drift reference is timed before every this many calibration networks (and at the end)
REFERENCE_EVERY = 8


def _time_reference(t: int, clock: str, e2e_time_s: float) -> float:
    """The drift reference's end-to-end median (ms) at ``t`` threads, in a fresh process."""
    from costmodel.latency import fresh
    return float(fresh.time_named("families:reference", t, min_time_s=e2e_time_s, repeats=3,
                                  warmup_s=0.1, clock=clock)["median"])


def _dedupe_in_network(graph, measured: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct op signature and context (``prev_same``) of a network: the mean
    in-network time of its occurrences (a stage's repeated blocks would otherwise outweigh
    everything else)."""
    ctx = measured["prev_same"] if "prev_same" in measured else np.zeros(len(graph.ops), int)
    sigs = [(replay_signature(rec), int(c)) for rec, c in zip(graph.ops, ctx)]
    df = measured.assign(_sig=sigs)
    first = df.drop_duplicates("_sig", keep="first").set_index("_sig")
    first["measured_ms"] = df.groupby("_sig")["measured_ms"].mean()
    first["occurrences"] = df.groupby("_sig").size()
    return first.reset_index(drop=True)


def collect_in_network(budget_s: float = DEFAULT_BUDGET_S, threads: Sequence[int] = DEFAULT_THREADS,
                       n_networks: int = 400, e2e_time_s: float = 1.0, op_time_s: float = 0.4,
                       progress: bool = True, clock: str = "wall", bar=None,
                       fresh_process: bool = True) -> CalibrationData:
    """Calibration networks of every family in turn until the budget (minus the fitting
    reserve) is spent: per network and thread count the end-to-end time and every op's
    in-network time.  In fresh processes the end-to-end time alternates run by run with the
    drift reference (:func:`costmodel.latency.measure.time_interleaved`) and every network is
    then brought to the reference's median speed (:func:`normalize_to_reference`); in process,
    the drift reference is timed before every :data:`REFERENCE_EVERY` networks."""
    from costmodel import handles
    from costmodel.latency import families, fresh, innet
    fresh_process = fresh_process and fresh.available()
    start = time.perf_counter()
    stop = start + budget_s - max(FIT_RESERVE * budget_s, min(20.0, 0.25 * budget_s))
    threads = [int(t) for t in threads]
    op_rows: List[pd.DataFrame] = []
    net_rows: List[dict] = []
    ref_rows: List[dict] = []
    tables: Dict[int, pd.DataFrame] = {}
    cap = weight_cap()
    own_bar = bar is None and progress
    if own_bar:
        bar = progress_bar(budget_s)
    last = [start]

    def tick(phase):
        if bar is not None:
            now = time.perf_counter()
            bar.update(min(now - last[0], max(0.0, bar.total - bar.n)))
            last[0] = now
            bar.set_postfix_str(f"{phase}, {len(net_rows)} network runs, "
                                f"{sum(len(o) for o in op_rows)} op samples")

    def reference(index):
        if fresh_process:  # timed with every network instead
            return
        for t in threads:
            ref_rows.append({"index": index, "threads": t,
                             "ms": _time_reference(t, clock, e2e_time_s)})

    overhead = {}
    for t in threads:
        with threads_pinned(t), torch.inference_mode():
            overhead[t] = innet.dispatch_overhead_ns()
    est = 3.0 * len(threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for index, spec in enumerate(families.calibration_specs(n_networks)):
            t_net = time.perf_counter()
            if t_net + est > stop and net_rows:  # (the first network runs whatever the budget)
                break
            if index % REFERENCE_EVERY == 0:
                reference(index)
            name = f"families:calibration:{index}"
            model = families.build(spec)
            table, report = op_table(model, spec.input_shape)
            tables[index] = table
            x = torch.randn(spec.input_shape, generator=torch.Generator().manual_seed(0))
            n_params = fresh.param_count(model)
            for t in threads:
                if fresh_process:
                    e2e = fresh.time_interleaved_named(name, t, REFERENCE_NAME, min_time_s=e2e_time_s,
                                                       warmup_s=0.1, clock=clock,
                                                       expect_params=n_params)
                    try:
                        inn = fresh.time_ops_named(name, t, len(report.graph.ops), overhead[t],
                                                   op_time_s, expect_params=n_params)
                    except RuntimeError:  # data-dependent control flow: not a usable sample
                        break
                else:
                    with threads_pinned(t), torch.inference_mode():
                        e2e = time_end_to_end(model, [x], min_time_s=e2e_time_s, repeats=3,
                                              warmup_s=0.1, clock=clock)
                        r = innet.time_in_network(model, [x], len(report.graph.ops),
                                                  handles.has_module_handle, min_time_s=op_time_s,
                                                  overhead_ns=overhead[t])
                    inn = {"op_ms": r.op_ms, "e2e_ms": r.e2e_ms, "glue_ms": r.glue_ms,
                           "op_spread": r.op_spread}
                measured = table.assign(measured_ms=np.asarray(inn["op_ms"], float),
                                        measured_min_ms=np.asarray(inn["op_ms"], float),
                                        measured_iqr_ms=np.nan, replay_ok=True)
                row = _network_row(name, t, measured, e2e, index, cap)
                if "reference_ms" in e2e:
                    row["reference_ms"] = float(e2e["reference_ms"])
                    ref_rows.append({"index": index, "threads": t, "ms": row["reference_ms"]})
                row.update(family=spec.family, modules=float(report.graph.module_calls),
                           inner_e2e_ms=inn["e2e_ms"], glue_ms=inn["glue_ms"],
                           op_spread=inn["op_spread"], replays_disturbed=False)
                net_rows.append(row)
                ops = _dedupe_in_network(report.graph, measured)
                ops["threads"], ops["source"], ops["network"], ops["family"] = t, "network", index, spec.family
                op_rows.append(ops)
                tick("networks")
            est = max(est, time.perf_counter() - t_net) if len(net_rows) <= len(threads) else \
                0.5 * est + 0.5 * (time.perf_counter() - t_net)
        reference(-1)
    if bar is not None:
        tick("fitting")
    ops = pd.concat(op_rows, ignore_index=True) if op_rows else pd.DataFrame()
    if len(ops):
        ops = ops[np.isfinite(ops["measured_ms"]) & (ops["measured_ms"] > 0)].reset_index(drop=True)
        ops["key"] = keys_for(ops)
    if own_bar:
        bar.close()
    nets = pd.DataFrame(net_rows)
    if len(nets) and "reference_ms" in nets:
        nets, ops = normalize_to_reference(nets, ops)
    data = CalibrationData(ops, nets)
    data.references = pd.DataFrame(ref_rows)
    data.overhead_ns = overhead
    data.tables = tables
    return data


#: network-row columns in milliseconds measured in the end-to-end process / in the op process
_E2E_MS_COLUMNS = ("e2e_ms", "e2e_min_ms")
_OP_MS_COLUMNS = ("iso", "iso_min", "iso_compute", "iso_memory", "inner_e2e_ms", "glue_ms")


def normalize_to_reference(nets: pd.DataFrame, ops: pd.DataFrame):
    """Every calibration network's times at the machine's median speed over the calibration.

    A network's end-to-end process times the drift reference between its runs
    (``reference_ms``); with ``R`` the median of those over all networks at that thread count,
    its end-to-end times are multiplied by ``s = R / reference_ms`` (the model/reference ratio
    times ``R``), and its op times, measured in another process with plain forwards of their
    own (``inner_e2e_ms``), by ``s * e2e_ms / inner_e2e_ms`` (with e2e_ms before scaling): the
    ops keep their share of that process's forward and take the normalized end-to-end time.
    Adds ``drift_scale`` (s) and ``op_scale``; rows without a reference time are unchanged."""
    nets = nets.copy()
    ref = nets["reference_ms"].astype(float)
    med = nets.assign(_r=ref).groupby("threads")["_r"].transform("median")
    s = (med / ref).where(ref > 0, 1.0).fillna(1.0)
    inner = nets["inner_e2e_ms"].astype(float) if "inner_e2e_ms" in nets else pd.Series(np.nan, nets.index)
    op_s = (s * nets["e2e_ms"].astype(float) / inner).where(inner > 0, s).fillna(s)
    for c in _E2E_MS_COLUMNS:
        if c in nets:
            nets[c] = nets[c].astype(float) * s
    for c in _OP_MS_COLUMNS:
        if c in nets:
            nets[c] = nets[c].astype(float) * op_s
    nets["drift_scale"], nets["op_scale"] = s, op_s
    if len(ops) and {"network", "threads"} <= set(ops.columns):
        scale = dict(zip(zip(nets["index"].astype(int), nets["threads"].astype(int)), op_s))
        f = np.array([scale.get((int(n), int(t)), 1.0) for n, t in zip(ops["network"], ops["threads"])])
        ops = ops.copy()
        for c in ("measured_ms", "measured_min_ms"):
            if c in ops:
                ops[c] = ops[c].astype(float) * f
    return nets, ops


def progress_bar(budget_s: float):
    from tqdm import tqdm
    return tqdm(total=int(budget_s), unit="s", desc="calibrate", mininterval=1.0,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f}s {postfix}")


# ---------------------------------------------------------------------------------------------
# fitting
# ---------------------------------------------------------------------------------------------
NETWORK_CANDIDATES = [["iso"], ["iso", "const"], ["iso", "one", "const"],
                      ["iso", "one", "modules", "const"], ["iso", "modules", "const"],
                      ["iso_compute", "iso_memory", "one", "modules", "const"],
                      ["iso", "alloc_bytes", "const"],
                      ["iso", "alloc_bytes", "weight_bytes", "const"],
                      ["iso", "alloc_bytes", "weight_bytes", "one", "const"],
                      ["iso_compute", "iso_memory", "alloc_bytes", "weight_bytes", "const"],
                      ["iso_compute", "iso_memory", "alloc_bytes", "weight_bytes", "one", "const"]]


def fit_network(nets: pd.DataFrame, margin: float = 0.05, fixed: Optional[Sequence[str]] = None
                ) -> dict:
    """Choose and fit the network model (see :mod:`costmodel.latency.profile`) by leave-one-out
    cross-validation over the calibration networks (``fixed``: fit these features, no choice)."""
    y = nets["e2e_ms"].to_numpy(dtype=float) if len(nets) else np.zeros(0)
    if len(nets) < 3:
        return {"features": ["iso"], "coef": [1.0], "cv_mape": None, "n": int(len(nets))}
    if fixed is not None:
        coef = fit.fit_nnls_relative(nets[list(fixed)].to_numpy(dtype=float), y)
        return {"features": list(fixed), "coef": [float(c) for c in coef], "n": int(len(nets))}
    best = None
    scores = {}
    for feats in NETWORK_CANDIDATES:
        if len(nets) < len(feats) + 3 or not set(feats) <= set(nets.columns):
            continue
        X = nets[feats].to_numpy(dtype=float)
        errs = []
        for i in range(len(y)):
            m = np.arange(len(y)) != i
            c = fit.fit_nnls_relative(X[m], y[m])
            errs.append(abs(X[i] @ c - y[i]) / y[i])
        s = float(np.mean(errs))
        scores["+".join(feats)] = round(100 * s, 3)
        if best is None or s < best[0] * (1 - margin):
            best = (s, feats)
    s, feats = best
    coef = fit.fit_nnls_relative(nets[feats].to_numpy(dtype=float), y)
    return {"features": list(feats), "coef": [float(c) for c in coef], "cv_mape": round(100 * s, 3),
            "cv_scores": scores, "n": int(len(nets))}


def fit_baselines(nets: pd.DataFrame) -> dict:
    """Latency proportional to FLOPs, and linear in FLOPs and MAC (relative least squares)."""
    if len(nets) < 1:
        return {}
    y = nets["e2e_ms"].to_numpy(dtype=float)
    f = nets["flops"].to_numpy(dtype=float)
    w = 1.0 / y
    a = float(np.sum(w * w * f * y) / np.sum(w * w * f * f))
    out = {"flops": {"features": ["flops"], "coef": [a]}}
    if len(nets) >= 3:
        X = np.stack([np.ones_like(f), f, nets["mac"].to_numpy(dtype=float)], axis=1)
        scale = np.abs(X * w[:, None]).max(axis=0)
        c = np.linalg.lstsq(X * w[:, None] / scale, y * w, rcond=None)[0] / scale
        out["flops_mac"] = {"features": ["one", "flops", "mac"], "coef": [float(v) for v in c]}
    return out


def fit_ops(ops: pd.DataFrame, types: Optional[Dict[str, str]] = None, unbias: Optional[bool] = None):
    """Per-key, per-kind and default op-time models; returns (models, stats).  Model selection
    cross-validates with whole networks held out when the samples say which network they came
    from (``network`` column).  ``types`` (key -> model type) skips the selection and fits those
    types directly (the leave-one-family-out refits)."""
    models: Dict[str, dict] = {}
    stats: Dict[str, dict] = {}
    if unbias is None:  # in-network samples feed sums directly: make every model unbiased in sum
        unbias = "network" in ops

    def fit_one(key, g, candidates=("roofline", "linear", "boosted")):
        y = g["measured_ms"].to_numpy(dtype=float)
        if types is not None and key in types:
            t = types[key]
            if t == "constant":
                return {"type": "constant", "ms": float(np.median(y)), "n": int(len(y))}
            m = fit.FITTERS[t](g.reset_index(drop=True), y)
            m["n"] = int(len(y))
            return fit.unbias(m, g.reset_index(drop=True), y) if unbias else m
        groups = g["network"].to_numpy() if "network" in g else None
        m = fit.select_model(g, y, candidates=candidates, groups=groups)
        if unbias and m["type"] != "constant":
            m = fit.unbias(m, g.reset_index(drop=True), y)
        return m

    models["default"] = fit_one("default", ops, candidates=("roofline", "linear"))
    for kind, g in ops.groupby("kind"):
        if len(g) >= 4:
            models[kind] = fit_one(kind, g)
        for key, gk in g.groupby("key"):
            if key != kind and len(gk) >= MIN_KEY_SAMPLES:
                models[key] = fit_one(key, gk)
    for key, m in models.items():
        stats[key] = {"type": m["type"], "n": m.get("n"), "cv_mape": m.get("cv_mape"),
                      "cv_scores": m.get("cv_scores")}
    return models, stats


def with_predicted_iso(nets: pd.DataFrame, tables: Optional[Dict[int, pd.DataFrame]],
                       op_models: Dict[str, dict], threads: int) -> pd.DataFrame:
    """``nets`` with ``iso``, ``iso_compute`` and ``iso_memory`` replaced by the sums of the op
    models' predictions for each network's op table (the measured sums kept as
    ``iso_measured``), so that the network term is fitted on what it is given at prediction time.

    Fitted on the measured sums, the network term reached a 3.9% leave-one-out MAPE (12-03
    profile, 1 thread) while the whole prediction of the same calibration networks was +4.6%
    too slow (median): summed per network, the op models over-predict, and a term fitted on
    measured sums cannot see it.  Networks without a table keep their measured sums."""
    from costmodel.latency.predict import predict_table
    if not tables or not len(nets) or "index" not in nets:
        return nets
    prof = DeviceProfile({}, {int(threads): {"ops": op_models,
                                             "network": {"features": ["iso"], "coef": [1.0]}}})
    out = nets.copy()
    out["iso_measured"] = out["iso"] if "iso" in out else np.nan
    for i, idx in zip(out.index, out["index"]):
        table = tables.get(int(idx))
        if table is None:
            continue
        pred, _, _ = predict_table(table, prof, int(threads))
        iso = pred["pred_isolated_ms"].to_numpy(float)
        mask = compute_mask(pred)
        out.loc[i, ["iso", "iso_compute", "iso_memory"]] = [float(iso.sum()), float(iso[mask].sum()),
                                                           float(iso[~mask].sum())]
    return out


def leave_one_family_out(data: CalibrationData, models: Dict[int, Dict[str, dict]],
                         networks: Dict[int, dict]) -> Dict[int, dict]:
    """For every family of the calibration networks: refit the op models (the types the full fit
    chose) and the network model without that family, predict its networks end to end; returns
    per thread count {family: {n, mape, within10, median_error_pct}} (percent)."""
    from costmodel.latency.predict import predict_table
    out: Dict[int, dict] = {}
    if not len(data.networks) or "family" not in data.networks or "network" not in data.ops:
        return out
    for t, nets in data.networks.groupby("threads"):
        t = int(t)
        ops_t = data.ops[data.ops["threads"] == t]
        types = {k: m["type"] for k, m in models[t].items()}
        res = {}
        for fam in sorted(nets["family"].unique()):
            train_ops = ops_t[ops_t["family"] != fam].reset_index(drop=True)
            train_nets = nets[nets["family"] != fam].reset_index(drop=True)
            if not len(train_ops) or len(train_nets) < 5:
                continue
            op_models, _ = fit_ops(train_ops, types)
            train_nets = with_predicted_iso(train_nets, data.tables, op_models, t)
            net_model = dict(fit_network(train_nets, fixed=networks[t]["features"]),
                             weight_cap_bytes=networks[t].get("weight_cap_bytes"))
            prof = DeviceProfile({}, {t: {"ops": op_models, "network": net_model}})
            errs = []
            for _, row in nets[nets["family"] == fam].iterrows():
                table = data.tables.get(int(row["index"])) if getattr(data, "tables", None) else None
                if table is None:
                    continue
                _, total, _ = predict_table(table, prof, t)
                errs.append(100 * (total - row["e2e_ms"]) / row["e2e_ms"])
            if errs:
                e = np.abs(errs)
                res[fam] = {"n": len(errs), "mape": round(float(e.mean()), 2),
                            "within10": round(float(100 * np.mean(e <= 10)), 1),
                            "median_error_pct": round(float(np.median(errs)), 2)}
        out[t] = res
    return out


def fit_profile(data: CalibrationData, machine: Optional[dict] = None,
                calibration: Optional[dict] = None) -> DeviceProfile:
    if not len(data.ops):
        raise ValueError("calibration collected no op samples (budget too small?)")
    per_threads = {}
    for t, ops in data.ops.groupby("threads"):
        ops = ops.reset_index(drop=True)
        models, stats = fit_ops(ops)
        nets = data.networks[data.networks["threads"] == t] if len(data.networks) else pd.DataFrame()
        disturbed = int(nets["replays_disturbed"].sum()) if "replays_disturbed" in nets else 0
        if disturbed:
            nets = nets[~nets["replays_disturbed"].astype(bool)]
        nets = nets.reset_index(drop=True)
        nets = with_predicted_iso(nets, getattr(data, "tables", None), models, int(t))
        net = fit_network(nets) if len(nets) else {"features": ["iso"], "coef": [1.0], "n": 0}
        net["fitted_on"] = "predicted op sums" if "iso_measured" in nets else "measured op sums"
        net["weight_cap_bytes"] = weight_cap(machine)
        per_threads[int(t)] = {
            "ops": models, "network": net, "baselines": fit_baselines(nets) if len(nets) else {},
            "calibration_networks": [{"index": int(i), "e2e_ms": float(e)} for i, e in
                                     zip(nets["index"], nets["e2e_ms"])]
            if len(nets) and "index" in nets else [],
            "stats": {"op_samples": int(len(ops)), "network_samples": int(len(nets)),
                      "networks_dropped_disturbed": disturbed,
                      "by_key": stats,
                      "network_repeat_spread_pct_median": float(nets["repeat_spread_pct"].median())
                      if len(nets) else None}}
        refs = getattr(data, "references", None)
        if refs is not None and len(refs):
            r = refs[refs["threads"] == t]["ms"].to_numpy(dtype=float)
            if len(r):
                med = float(np.median(r))
                q75, q25 = np.percentile(r, [75, 25])
                per_threads[int(t)]["reference"] = {
                    "name": REFERENCE_NAME, "ms": med, "n": int(len(r)),
                    "spread_pct": float(100 * (q75 - q25) / med) if med > 0 else 0.0,
                    "samples_ms": [round(float(v), 4) for v in r]}
        if "family" in nets:
            per_threads[int(t)]["stats"]["families"] = {
                fam: int(n) for fam, n in nets["family"].value_counts().sort_index().items()}
    if getattr(data, "tables", None):
        lofo = leave_one_family_out(data, {t: v["ops"] for t, v in per_threads.items()},
                                    {t: v["network"] for t, v in per_threads.items()})
        for t, res in lofo.items():
            per_threads[t]["stats"]["leave_one_family_out"] = res
    return DeviceProfile(machine or machine_mod.describe(), per_threads, calibration or {})


def calibrate(out=None, budget_s: float = DEFAULT_BUDGET_S,
              threads: Sequence[int] = DEFAULT_THREADS, seed: int = space.CALIBRATION_SEED,
              n_networks: int = 80, progress: bool = True, samples_out=None,
              layer_time_s: float = 0.015, clock: str = "wall", method: str = "in-network"
              ) -> DeviceProfile:
    """Benchmark this machine within ``budget_s`` seconds and return (and, with ``out``, save)
    its :class:`DeviceProfile`; ``samples_out`` saves the raw op samples as CSV.  ``method``:
    see :data:`METHODS` (``seed`` and ``n_networks`` apply to ``replay``; ``in-network`` draws
    up to 400 networks of :mod:`costmodel.latency.families`)."""
    if budget_s <= 0:
        raise ValueError(f"budget must be positive, got {budget_s}")
    if method not in METHODS:
        raise ValueError(f"unknown calibration method {method!r}; choose from {', '.join(METHODS)}")
    t0 = time.perf_counter()
    from costmodel.latency.replay import clock_fn
    for t in threads:
        clock_fn(clock, t)
    bar = progress_bar(budget_s) if progress else None
    watch = CpuWatch().start()
    if method == "in-network":
        from costmodel.latency import families
        data = collect_in_network(budget_s, threads, progress=progress, clock=clock, bar=bar)
        seed = families.CALIBRATION_SEED
    else:
        data = collect(budget_s, threads, seed, n_networks, progress=progress,
                       layer_time_s=layer_time_s, clock=clock, bar=bar)
    cal = {"created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "method": method, "seed": seed, "budget_s": budget_s,
           "threads": [int(t) for t in threads], "clock": clock,
           "op_samples": int(len(data.ops)), "network_runs": int(len(data.networks)),
           "collect_s": round(time.perf_counter() - t0, 1), "quiet": watch.stop()}
    prof = fit_profile(data, machine_mod.describe(), cal)
    prof.calibration["wall_s"] = round(time.perf_counter() - t0, 1)
    if bar is not None:
        bar.update(max(0.0, bar.total - bar.n))
        bar.set_postfix_str(f"done, {len(data.networks)} network runs, {len(data.ops)} op samples")
        bar.close()
    if samples_out is not None:
        files.write_csv(samples_out, data.ops)
        if len(data.networks):
            files.write_csv(networks_path(samples_out), data.networks)
    if out is not None:
        prof.save(out)
    prof.data = data  # raw samples, for inspection (not saved in the profile)
    return prof


class SampleFileError(ValueError):
    """A calibration sample file (CSV) that is unreadable or holds impossible values."""


#: columns of an op sample file the fit needs (:func:`fit_ops`: linear and tree features)
OP_SAMPLE_COLUMNS = ("kind", "op", "threads", "measured_ms", "madds", "mac_bytes", "weight_bytes",
                     "in_numel", "out_numel", "cin", "cout", "hw_out", "kernel_area", "stride",
                     "groups", "n_inputs")
#: columns of a network sample file the fit needs (:func:`fit_network`, :func:`fit_baselines`)
NETWORK_SAMPLE_COLUMNS = ("threads", "e2e_ms", "iso", "flops", "mac", "repeat_spread_pct")


def _sample_table(path, needed, what: str) -> pd.DataFrame:
    df = files.read_csv(path, SampleFileError)
    missing = sorted(set(needed) - set(df.columns))
    if missing:
        raise SampleFileError(f"{path} is not a costmodel calibration {what} file (missing "
                              f"{missing})")
    checks.columns(df, ["threads"], path, SampleFileError, lo=1, hi=4096, integer=True)
    return df


_FLAGS = {"true": True, "false": False, "1": True, "0": False, "1.0": True, "0.0": False}


def read_op_samples(path) -> pd.DataFrame:
    """The op samples :func:`calibrate` saved (``--samples``), every number checked: times
    positive and at most :data:`~costmodel.latency.checks.MAX_MS`, features finite and
    non-negative."""
    ops = _sample_table(path, OP_SAMPLE_COLUMNS, "sample")
    for c in ("kind", "op"):
        if ops[c].isna().any():
            raise SampleFileError(f"{path}: row {int(ops[c].isna().argmax()) + 1}, column {c!r} "
                                  f"is empty")
    checks.columns(ops, ["measured_ms"], path, SampleFileError, hi=checks.MAX_MS, positive=True)
    checks.columns(ops, FEATURE_COLUMNS, path, SampleFileError)
    return ops


def read_network_samples(path) -> pd.DataFrame:
    """The network samples next to the op samples (``*_networks.csv``), every number checked."""
    nets = _sample_table(path, NETWORK_SAMPLE_COLUMNS, "network sample")
    checks.columns(nets, ["e2e_ms"], path, SampleFileError, hi=checks.MAX_MS, positive=True)
    checks.columns(nets, ["index"], path, SampleFileError, integer=True)
    numeric = {c for cand in NETWORK_CANDIDATES for c in cand} | {"flops", "mac", "madds",
                                                                 "repeat_spread_pct"}
    checks.columns(nets, sorted(numeric), path, SampleFileError)
    if "replays_disturbed" in nets and nets["replays_disturbed"].dtype != bool:
        raw = nets["replays_disturbed"]
        flags = raw.map(lambda v: _FLAGS.get(str(v).strip().lower()))
        bad = flags.isna()
        if bad.any():
            raise SampleFileError(f"{path}: row {int(bad.argmax()) + 1}, column "
                                  f"'replays_disturbed': expected True or False, got "
                                  f"{checks.show(str(raw[bad].iloc[0]))}")
        nets["replays_disturbed"] = flags.astype(bool)
    return nets


def networks_path(samples_path) -> str:
    """Where :func:`calibrate` writes the network samples next to ``samples_path``."""
    base = str(samples_path)
    return (base[:-4] if base.endswith(".csv") else base) + "_networks.csv"


def _tables_of(nets: pd.DataFrame) -> Dict[int, pd.DataFrame]:
    """index -> op table of every network in ``nets`` whose name can be built again (the
    calibration networks' names are ``families:calibration:N``) *as the network that was
    timed*: a name is the N-th network of one sampler version
    (:data:`costmodel.latency.families.SAMPLER_VERSION`), so each is rebuilt by the newest
    version whose multiply-adds and MAC equal the saved ones; a network none of them rebuilds is
    left out (its measured op sums are kept), with one warning naming how many."""
    from costmodel.latency import families
    from costmodel.latency.named import resolve_model
    tables: Dict[int, pd.DataFrame] = {}
    if not len(nets) or not {"name", "index"} <= set(nets.columns):
        return tables
    saved = nets.drop_duplicates("index").set_index("index")
    checks = [c for c in ("madds", "mac") if c in saved.columns]

    def same(table, idx):
        return all(np.isclose(float(table[c].sum()), float(saved.at[idx, c]), rtol=1e-9)
                   for c in checks)

    changed = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, idx in dict(zip(nets["name"], nets["index"])).items():
            name = str(name)
            versions = (range(families.SAMPLER_VERSION, 0, -1)
                        if name.startswith("families:") and checks else (None,))
            for v in versions:
                try:
                    model, shape = resolve_model(name, sampler=v)
                except Exception:  # noqa: BLE001 - a name from another version: measured sums kept
                    break
                table = op_table(model, shape)[0]
                if not checks or same(table, idx):
                    tables[int(idx)] = table
                    break
            else:
                changed += 1
    if changed:
        warnings.warn(f"{changed} calibration network(s) of these samples are not the networks "
                      f"any version of the sampler builds under their names (multiply-adds or MAC "
                      f"differ): fitted from their measured op sums only", stacklevel=3)
    return tables


def context_from_tables(ops: pd.DataFrame, tables: Dict[int, pd.DataFrame]) -> np.ndarray:
    """``prev_same`` for saved in-network samples that predate it: per sample (one per distinct
    shape of a network, named after its first occurrence) the majority value over the ops of the
    rebuilt network with the same kind, op and features; 0 where the network or op is not found
    (replay samples, networks that cannot be rebuilt)."""
    out = np.zeros(len(ops), dtype=np.int64)
    if "network" not in ops or "name" not in ops:
        return out
    cols = ["kind", "op"] + FEATURE_COLUMNS
    by_net: Dict[int, dict] = {}
    for i, (net, name, src) in enumerate(zip(ops["network"], ops["name"],
                                             ops["source"] if "source" in ops else ["network"] * len(ops))):
        if src != "network" or pd.isna(net) or int(net) not in tables:
            continue
        net = int(net)
        if net not in by_net:
            t = tables[net]
            sig = [tuple(r) for r in t[cols].itertuples(index=False)]
            groups: Dict[tuple, list] = {}
            for s_, ps in zip(sig, t["prev_same"]):
                groups.setdefault(s_, []).append(int(ps))
            by_net[net] = {n: groups[s_] for n, s_ in zip(t["name"], sig)}
        vals = by_net[net].get(name)
        if vals:
            out[i] = int(np.mean(vals) > 0.5)
    return out


def refit(samples_path, profile: DeviceProfile, out=None) -> DeviceProfile:
    """Fit a profile again from the raw samples an earlier :func:`calibrate` saved
    (``samples_path`` and its ``_networks.csv``), timing nothing: the machine description and
    calibration record come from ``profile``, the one those samples produced, and so do the
    drift reference's samples; the networks' op tables are rebuilt from their names (for
    :func:`with_predicted_iso` and leave-one-family-out).  For trying a newer costmodel's
    fitting on old measurements."""
    if not os.path.exists(samples_path):
        raise SampleFileError(f"no calibration samples at {samples_path}")
    ops = read_op_samples(samples_path)
    nets_path = networks_path(samples_path)
    nets = read_network_samples(nets_path) if os.path.exists(nets_path) else pd.DataFrame()
    ops["key"] = keys_for(ops)
    cal = dict(profile.calibration, refit_from=os.path.basename(str(samples_path)))
    tables = _tables_of(nets)
    if "prev_same" not in ops:
        ops["prev_same"] = context_from_tables(ops, tables)
    data = CalibrationData(ops, nets)
    data.tables = tables
    data.references = pd.DataFrame(
        [{"threads": int(t), "ms": float(v)} for t in profile.thread_counts
         for v in ((profile.reference(t) or {}).get("samples_ms") or [])],
        columns=["threads", "ms"])
    prof = fit_profile(data, profile.machine, cal)
    if out is not None:
        prof.save(out)
    return prof
