"""Re-run ShuffleNetV2's four validation experiments (Tables 1-4 of arXiv:1807.11164) here.

For every table the paper reports speeds for a GPU channel configuration and an ARM one (the ARM
configuration is smaller), each at three widths.  :func:`plan` builds the micro-benchmarks of
:mod:`costmodel.guidelines.benchmarks` for

* the ARM configurations at all three widths (the natural comparison for a CPU core), and
* the GPU configurations at the first width (``--full``: all three widths),

computes their FLOPs and MAC with :func:`costmodel.analyze` (checked against the paper's
equations), predicts their latency with a device profile and measures them on this CPU at each
requested thread count (batch 1).  :func:`run` returns an :class:`ExperimentResult` whose rows
hold, side by side, the paper's GPU and ARM figures for the same table row and width, our
analytic numbers, our predicted and our measured speed.  :func:`orderings` says, per column,
whether the paper's ordering holds on this machine.

Measurement protocol: variants of one column are measured round-robin (``rounds`` rounds, each
variant timed for ``min_time_s`` per round) so slow drift of a busy machine hits all variants
alike; the reported time is the median of the round medians, the spread the median of the
rounds' quartiles.  With a latency profile that has a drift reference, every round of a variant
runs in a fresh process alternating run by run with that reference and is corrected to the
machine's speed at calibration (:func:`costmodel.guidelines.timing.measure_interleaved`), the
way the profile's calibration networks were timed.
"""
from __future__ import annotations

import json
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import pandas as pd
import torch.nn as nn

from costmodel.analysis import analyze
from costmodel.guidelines import benchmarks as bm
from costmodel.guidelines import timing
from costmodel.latency.fresh import available as fresh_available
from costmodel.latency.quiet import CpuWatch

PAPER_TABLES_PATH = os.path.join(os.path.dirname(__file__), "paper_tables.json")
#: field of :func:`costmodel.guidelines.timing.measure_interleaved` -> row column (per thread
#: count, median over the rounds)
INTERLEAVED_COLUMNS = {"raw_median": "raw_ms", "drift": "drift", "ratio_spread_pct": "ratio_spread_pct"}
TABLES = ("G1", "G2", "G3", "G4")
#: G2 at ARM x1 with g=8: the paper's c=180 is not divisible by 8; 184 is the multiple of 8 whose
#: FLOPs (184^2/8 = 4232) are closest to the g=1 row (64^2 = 4096)
G2_ARM_G8_X1 = 184


def paper_tables() -> dict:
    """The published figures (``paper_tables.json``)."""
    with open(PAPER_TABLES_PATH, encoding="utf-8") as f:
        return json.load(f)


@dataclass
class Variant:
    """One micro-benchmark network of one table column."""

    table: str
    column: str  # e.g. "ARM x1"
    platform: str  # channel configuration: "arm" or "gpu"
    width_index: int  # 0, 1, 2: the table's x1/x2/x4 (or c=...) column
    row: int  # row of the paper's table
    label: str  # e.g. "1:2", "g=4", "2-fragment-series", "ReLU yes / short-cut no"
    channels: str  # e.g. "(22,44)"
    build: Callable[[], nn.Module]
    input_shape: tuple
    analytic: bm.Analytic
    paper_gpu: Optional[float]  # the paper's GPU figure for this row and width (batches/s)
    paper_arm: Optional[float]  # the paper's ARM figure for this row and width (images/s)
    note: str = ""
    net: str = ""  # the network's name (benchmarks.net_name), for timing in a fresh process


def _scale(c, k):
    return int(c * k)


def plan(full: bool = False, quick: bool = False, tables: Sequence[str] = TABLES) -> List[Variant]:
    """The variants to run.  ``quick``: ARM configurations at the first width only.  Default: ARM
    configurations at all widths and GPU configurations at the first width.  ``full``: both
    configurations at all widths."""
    paper = paper_tables()["tables"]
    out: List[Variant] = []
    arm_widths = [0] if quick else [0, 1, 2]
    gpu_widths = [] if quick else ([0, 1, 2] if full else [0])
    hw = bm.RESOLUTION

    for platform, widths in (("arm", arm_widths), ("gpu", gpu_widths)):
        plat = platform.upper()
        if "G1" in tables:
            t = paper["G1"]
            for wi in widths:
                k = t["widths"][wi]
                for ri, r in enumerate(t["rows"]):
                    c1, c2 = (_scale(c, k) for c in r[f"{platform}_c"])
                    out.append(Variant(
                        "G1", f"{plat} x{k}", platform, wi, ri, r["ratio"], f"({c1},{c2})",
                        (lambda c1=c1, c2=c2: bm.G1Net(c1, c2)), (1, c1, hw, hw),
                        bm.g1_analytic(c1, c2), r["gpu"][wi], r["arm"][wi],
                        net=bm.net_name("G1", c1, c2)))
        if "G2" in tables:
            t = paper["G2"]
            for wi in widths:
                k = t["widths"][wi]
                for ri, r in enumerate(t["rows"]):
                    g, c = r["g"], _scale(r[f"{platform}_c"], k)
                    note = ""
                    if c % g:
                        note = (f"paper's c={c} is not divisible by g={g}; c={G2_ARM_G8_X1} "
                                "(closest FLOPs) used")
                        c = G2_ARM_G8_X1
                    out.append(Variant(
                        "G2", f"{plat} x{k}", platform, wi, ri, f"g={g}", f"c={c}",
                        (lambda c=c, g=g: bm.G2Net(c, g)), (1, c, hw, hw), bm.g2_analytic(c, g),
                        r["gpu"][wi], r["arm"][wi], note, net=bm.net_name("G2", c, g)))
        if "G3" in tables:
            t = paper["G3"]
            for wi in widths:
                c = t[f"{platform}_widths"][wi]
                for ri, r in enumerate(t["rows"]):
                    s = r["structure"]
                    width = bm.fragment_width(s, c)
                    ch = f"c={c}" if width == c else f"c'={width}"
                    if s.endswith("parallel"):
                        k_ = int(s[0])
                        ch = f"c={c}, {k_}x c/{k_}"
                    out.append(Variant(
                        "G3", f"{plat} c={c}", platform, wi, ri, s, ch,
                        (lambda s=s, c=c: bm.G3Net(s, c)), (1, width, hw, hw), bm.g3_analytic(s, c),
                        r["gpu"][wi], r["arm"][wi], net=bm.net_name("G3", s, c)))
        if "G4" in tables and platform == "arm":  # Table 4 uses the same c on both platforms
            t = paper["G4"]
            g4_widths = [0, 1, 2] if not quick else [0]
            for wi in g4_widths:
                c = t["widths"][wi]
                for ri, r in enumerate(t["rows"]):
                    yes = {True: "yes", False: "no"}
                    label = f"ReLU {yes[r['relu']]} / short-cut {yes[r['shortcut']]}"
                    out.append(Variant(
                        "G4", f"c={c}", "both", wi, ri, label, f"c={c}, bottleneck {c // 4}",
                        (lambda c=c, a=r["relu"], b=r["shortcut"]: bm.G4Net(c, a, b)),
                        (1, c, hw, hw), bm.g4_analytic(c, r["relu"], r["shortcut"]),
                        r["gpu"][wi], r["arm"][wi],
                        net=bm.net_name("G4", c, r["relu"], r["shortcut"])))
    return out


@dataclass
class ExperimentResult:
    """Rows (one per variant; measured/predicted columns per thread count), the plan's mode and
    the machine / profile descriptions."""

    rows: pd.DataFrame
    mode: str
    threads: List[int]
    machine: Dict[str, object] = field(default_factory=dict)
    profiles: Dict[int, str] = field(default_factory=dict)
    wall_s: float = 0.0
    backend: str = ""
    extra: Dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"mode": self.mode, "threads": self.threads, "machine": self.machine,
                "profiles": {str(k): v for k, v in self.profiles.items()},
                "wall_s": self.wall_s, "backend": self.backend, "extra": self.extra,
                "rows": json.loads(self.rows.to_json(orient="records"))}

    @classmethod
    def from_dict(cls, d: dict) -> "ExperimentResult":
        return cls(pd.DataFrame(d["rows"]), d["mode"], list(d["threads"]), d.get("machine", {}),
                   {int(k): v for k, v in d.get("profiles", {}).items()}, d.get("wall_s", 0.0),
                   d.get("backend", ""), d.get("extra", {}))


def _machine() -> Dict[str, object]:
    try:
        from costmodel.latency import machine
        return machine.describe()
    except Exception:
        import platform
        import torch
        return {"cpu": platform.processor() or platform.machine(), "torch": torch.__version__}


def _loadavg() -> Optional[float]:
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def run(mode: str = "default", threads: Sequence[int] = (1,), tables: Sequence[str] = TABLES,
        rounds: Optional[int] = None, min_time_s: Optional[float] = None, profile=None,
        measure_fn=None, progress: Optional[Callable[[str], None]] = None,
        clock: str = "wall", interleave: Optional[bool] = None) -> ExperimentResult:
    """Run the experiments.  ``mode``: ``quick``, ``default`` or ``full`` (see :func:`plan`).

    ``profile``: a device profile (``{threads: profile}`` or one profile used for every thread
    count); default :func:`costmodel.guidelines.timing.load_profile` per thread count.
    ``measure_fn(model, input_shape, threads, min_time_s)``: replaces
    :func:`costmodel.guidelines.timing.measure` (tests pass a fake).  ``clock``: ``wall`` or
    ``cpu`` (thread CPU time; 1 thread only; for a machine busy with other processes).

    ``interleave`` (default: when no ``measure_fn`` is given, fresh processes exist and every
    profile has a drift reference): each round times a variant with
    :func:`costmodel.guidelines.timing.measure_interleaved`, in a fresh process alternating run
    by run with the profile's drift reference, its time corrected to the machine's speed at
    calibration; rounds are then ``min_time_s`` (default 1 s, quick 0.3 s) long.  Without it a
    variant is timed in this process (``min_time_s`` default 0.15 s, quick 0.05 s)."""
    t0 = time.time()
    load_start = _loadavg()
    watch = CpuWatch().start()
    if mode not in ("quick", "default", "full"):
        raise ValueError(f"mode must be quick, default or full, got {mode!r}")
    variants = plan(full=mode == "full", quick=mode == "quick", tables=tables)
    rounds = rounds or (2 if mode == "quick" else 3)
    if clock == "cpu" and any(th != 1 for th in threads):
        raise ValueError("clock='cpu' measures one thread: use threads=[1]")
    say = progress or (lambda msg: None)
    profiles = {}
    for th in threads:
        if isinstance(profile, dict):
            profiles[th] = profile.get(th)
        elif profile is not None:
            profiles[th] = profile
        else:
            profiles[th] = timing.load_profile(threads=th)
    no_ref = [th for th in threads if timing.reference_ms(profiles[th], th) is None]
    if interleave is None:
        interleave = measure_fn is None and fresh_available() and not no_ref
    elif interleave and (measure_fn is not None or no_ref):
        raise ValueError("interleave=True needs no measure_fn and a profile with a drift "
                         f"reference at every thread count (missing at {no_ref})")
    if interleave:
        min_time_s = min_time_s if min_time_s is not None else (0.3 if mode == "quick" else 1.0)
    else:
        min_time_s = min_time_s if min_time_s is not None else (0.05 if mode == "quick" else 0.15)
    fn = measure_fn or (lambda m, s, th, mt: timing.measure(m, s, th, mt, clock=clock))

    def measure_one(i: int, th: int) -> dict:
        if interleave:
            return timing.measure_interleaved(variants[i].net, th, profiles[th], min_time_s, clock)
        return fn(models[i], variants[i].input_shape, th, min_time_s)

    rows = []
    models: Dict[int, nn.Module] = {}
    for i, v in enumerate(variants):
        m = v.build().eval()
        models[i] = m
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rep = analyze(m, v.input_shape, warn=False)
        row = {"table": v.table, "column": v.column, "platform": v.platform,
               "width_index": v.width_index, "row": v.row, "variant": v.label,
               "channels": v.channels, "input_shape": "x".join(map(str, v.input_shape)),
               "madds": int(rep.total["madds"]), "flops": int(rep.total["flops"]),
               "mac": int(rep.total["mac"]), "mac_bytes": int(rep.total["mac_bytes"]),
               "paper_flops": v.analytic.flops, "paper_mac": v.analytic.mac,
               "mac_bound": v.analytic.mac_bound, "paper_gpu": v.paper_gpu,
               "paper_arm": v.paper_arm, "note": v.note}
        for th in threads:
            prof = profiles[th]
            try:
                pred, _ = timing.predict(m, v.input_shape, prof, report=rep, threads=th)
            except Exception as exc:  # a predictor that cannot handle the op
                pred = float("nan")
                row["note"] = (row["note"] + "; " if row["note"] else "") + f"prediction failed: {exc}"
            row[f"pred_ms_{th}t"] = pred
        rows.append(row)

    backend = ""
    columns: Dict[tuple, List[int]] = {}
    for i, v in enumerate(variants):
        columns.setdefault((v.table, v.column), []).append(i)
    for th in threads:
        for (table, col), idx in columns.items():
            say(f"{table} {col}: {len(idx)} variants, {th} thread(s)")
            samples: Dict[int, List[dict]] = {i: [] for i in idx}
            for r in range(rounds):
                order = idx if r % 2 == 0 else list(reversed(idx))
                for i in order:
                    res = measure_one(i, th)
                    backend = res.get("backend", backend)
                    samples[i].append(res)
            for i in idx:
                s = samples[i]
                rows[i][f"ms_{th}t"] = float(np.median([x["median"] for x in s]))
                rows[i][f"p25_{th}t"] = float(np.median([x.get("p25", np.nan) for x in s]))
                rows[i][f"p75_{th}t"] = float(np.median([x.get("p75", np.nan) for x in s]))
                rows[i][f"rounds_min_{th}t"] = float(min(x["median"] for x in s))
                rows[i][f"rounds_max_{th}t"] = float(max(x["median"] for x in s))
                rows[i][f"runs_{th}t"] = int(sum(x.get("runs", 0) for x in s))
                for key, col in INTERLEAVED_COLUMNS.items():  # interleaved measurements only
                    if all(key in x for x in s):
                        rows[i][f"{col}_{th}t"] = float(np.median([x[key] for x in s]))
    df = pd.DataFrame(rows)
    return ExperimentResult(df, mode, list(threads), _machine(),
                            {th: timing.profile_name(p) for th, p in profiles.items()},
                            time.time() - t0, backend,
                            {"rounds": rounds, "min_time_s_per_round": min_time_s, "clock": clock,
                             "interleaved": bool(interleave),
                             "loadavg_start": load_start, "loadavg_end": _loadavg(),
                             "quiet": watch.stop(), "cpu_count": os.cpu_count(),
                             "date": time.strftime("%Y-%m-%d", time.gmtime(t0))})


# ---------------------------------------------------------------------------------------------
# a GPU, for the paper's GPU columns
# ---------------------------------------------------------------------------------------------
def run_device(device: str = "cuda", tables: Sequence[str] = TABLES, rounds: int = 3,
               min_time_s: float = 0.2, batch: int = 1, min_runs: int = 20,
               widths: Optional[Sequence[int]] = None,
               progress: Optional[Callable[[str], None]] = None) -> Dict[str, object]:
    """Measure the paper's GPU configurations (all widths, and Table 4) on ``device`` with
    cuDNN benchmarking on, as the paper did (its batch size is not stated; ``batch`` 1 here).
    ``widths``: only these width indices (0, 1, 2).  Returns ``{"device": name, "batch": batch,
    "rows": [...]}`` for :func:`merge_device`."""
    import torch

    torch.backends.cudnn.benchmark = True
    name = torch.cuda.get_device_name(0) if device.startswith("cuda") else device
    variants = [v for v in plan(full=True, tables=tables) if v.platform in ("gpu", "both")
                and (widths is None or v.width_index in widths)]
    say = progress or (lambda msg: None)
    columns: Dict[tuple, List[int]] = {}
    for i, v in enumerate(variants):
        columns.setdefault((v.table, v.column), []).append(i)
    rows = []
    for (table, col), idx in columns.items():
        say(f"{table} {col} on {name}")
        models = {i: variants[i].build().eval().to(device) for i in idx}
        samples: Dict[int, List[dict]] = {i: [] for i in idx}
        for r in range(rounds):
            for i in (idx if r % 2 == 0 else list(reversed(idx))):
                shape = (batch,) + tuple(variants[i].input_shape[1:])
                samples[i].append(timing.time_model(models[i], shape, 1, min_time_s,
                                                    min_runs=min_runs, max_runs=5000,
                                                    warmup_runs=max(2, min_runs // 2),
                                                    device=device))
        for i in idx:
            v, s = variants[i], samples[i]
            rows.append({"table": v.table, "column": v.column, "variant": v.label,
                         "ms": float(np.median([x["median"] for x in s])),
                         "p25": float(np.median([x["p25"] for x in s])),
                         "p75": float(np.median([x["p75"] for x in s])),
                         "rounds_min": float(min(x["median"] for x in s)),
                         "rounds_max": float(max(x["median"] for x in s)),
                         "runs": int(sum(x["runs"] for x in s))})
    return {"device": name, "batch": batch, "torch": torch.__version__,
            "cudnn": torch.backends.cudnn.version(), "rows": rows}


def merge_device(result: ExperimentResult, device: Dict[str, object]) -> ExperimentResult:
    """Add a :func:`run_device` measurement to ``result``: columns ``gpu_ms``, ``gpu_p25``,
    ``gpu_p75``, ``gpu_rounds_min/max`` (GPU rows the CPU run did not have are appended)."""
    df = result.rows.copy()
    key = ["table", "column", "variant"]
    dev = pd.DataFrame(device["rows"]).rename(columns={
        "ms": "gpu_ms", "p25": "gpu_p25", "p75": "gpu_p75", "rounds_min": "gpu_rounds_min",
        "rounds_max": "gpu_rounds_max", "runs": "gpu_runs"})
    df = df.drop(columns=[c for c in dev.columns if c not in key and c in df], errors="ignore")
    missing = dev.merge(df[key], on=key, how="left", indicator=True)
    missing = missing[missing["_merge"] == "left_only"][key]
    if len(missing):  # GPU-only columns (x2, x4): add their static columns from the plan
        extra = []
        want = {tuple(r) for r in missing.itertuples(index=False)}
        for v in plan(full=True):
            if (v.table, v.column, v.label) in want:
                extra.append({"table": v.table, "column": v.column, "platform": v.platform,
                              "width_index": v.width_index, "row": v.row, "variant": v.label,
                              "channels": v.channels,
                              "input_shape": "x".join(map(str, v.input_shape)),
                              "madds": v.analytic.flops, "mac": v.analytic.mac,
                              "paper_flops": v.analytic.flops, "paper_mac": v.analytic.mac,
                              "mac_bound": v.analytic.mac_bound, "paper_gpu": v.paper_gpu,
                              "paper_arm": v.paper_arm, "note": v.note})
        df = pd.concat([df, pd.DataFrame(extra)], ignore_index=True)
    df = df.merge(dev, on=key, how="left")
    extra = dict(result.extra)
    extra["gpu"] = {k: v for k, v in device.items() if k != "rows"}
    return ExperimentResult(df, result.mode, result.threads, result.machine, result.profiles,
                            result.wall_s, result.backend, extra)


# ---------------------------------------------------------------------------------------------
# orderings
# ---------------------------------------------------------------------------------------------
def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-a between two equally long sequences (NaN if fewer than 2 pairs)."""
    n = len(a)
    s, pairs = 0, 0
    for i in range(n):
        for j in range(i + 1, n):
            x, y = a[i] - a[j], b[i] - b[j]
            if any(map(math.isnan, (x, y))):
                continue
            pairs += 1
            s += int(np.sign(x) * np.sign(y))
    return s / pairs if pairs else float("nan")


def compare_order(paper: Sequence[float], ours: Sequence[float], noise: Sequence[float],
                  paper_tie: float = 0.02, min_tie: float = 0.02) -> Dict[str, object]:
    """Pairwise comparison of two speed lists (higher = faster).

    A pair the paper separates by more than ``paper_tie`` (relative) *agrees* when ours orders it
    the same way, is a *tie* when our difference is within the noise (the larger relative
    quartile spread of the two, at least ``min_tie``), else it is *reversed*.  ``verdict``:
    ``holds`` (nothing reversed, at least one pair agrees), ``partly`` (some reversed, but the
    paper's fastest variant is also ours, within noise), ``does not hold`` (the paper's fastest
    is beaten beyond noise), ``inconclusive`` (every pair within our noise).
    """
    agree = tie = rev = 0
    reversed_pairs = []
    n = len(paper)
    for i in range(n):
        for j in range(i + 1, n):
            p_i, p_j, o_i, o_j = paper[i], paper[j], ours[i], ours[j]
            if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (p_i, p_j, o_i, o_j)):
                continue
            if abs(p_i - p_j) <= paper_tie * max(p_i, p_j):
                continue
            tol = max(min_tie, noise[i], noise[j])
            d = (o_i - o_j) / max(o_i, o_j)
            if abs(d) <= tol:
                tie += 1
            elif (d > 0) == (p_i > p_j):
                agree += 1
            else:
                rev += 1
                reversed_pairs.append((i, j))
    best_p = int(np.nanargmax(paper))
    best_o = int(np.nanargmax(ours))
    best_ok = best_p == best_o or abs(ours[best_p] - ours[best_o]) <= max(
        min_tie, noise[best_p], noise[best_o]) * ours[best_o]
    if agree + rev == 0:
        verdict = "inconclusive" if tie else "no ordering claimed"
    elif not best_ok:
        verdict = "does not hold"
    else:
        verdict = "holds" if rev == 0 else "partly"
    return {"agree": agree, "tie": tie, "reversed": rev, "reversed_pairs": reversed_pairs,
            "paper_best": best_p, "our_best": best_o, "tau": kendall_tau(paper, ours),
            "verdict": verdict}


def speed_columns(result: ExperimentResult) -> Dict[str, str]:
    """Our speed series available in ``result``: name -> column of ms."""
    out = {}
    for th in result.threads:
        out[f"measured {th}T"] = f"ms_{th}t"
        out[f"predicted {th}T"] = f"pred_ms_{th}t"
    if "gpu_ms" in result.rows:
        out["measured GPU"] = "gpu_ms"
    return out


def _desc(values: Sequence[float]) -> List[int]:
    """Indices by decreasing value, ties in table order."""
    return sorted(range(len(values)), key=lambda i: -values[i])


def orderings(result: ExperimentResult) -> pd.DataFrame:
    """One row per (table, column, our series): the paper's ordering (ARM figures for ARM and
    both-platform columns, GPU figures for GPU columns) against ours.  Where the paper's variants
    of a column differ in FLOPs by more than 1% (Table 1's rows do by up to 6%), a
    ``measured ..., per FLOP`` series (multiply-adds per second) is compared as well."""
    df = result.rows
    out = []
    for (table, col), g in df.groupby(["table", "column"], sort=False):
        g = g.sort_values("row")
        platform = g["platform"].iloc[0]
        refs = [("ARM", "paper_arm")] if platform == "arm" else (
            [("GPU", "paper_gpu")] if platform == "gpu" else [("ARM", "paper_arm"), ("GPU", "paper_gpu")])
        flops = g["madds"].to_numpy(float)
        unequal = flops.max() / flops.min() > 1.01
        todo = []
        for series, ms_col in speed_columns(result).items():
            todo.append((series, ms_col, False))
            if unequal and series.startswith("measured"):
                todo.append((series + ", per FLOP", ms_col, True))
        for series, ms_col, per_flop in todo:
            if ms_col not in g or g[ms_col].isna().any():
                continue
            ms = g[ms_col].to_numpy(float)
            ours = list(flops / ms if per_flop else 1000.0 / ms)
            if ms_col == "gpu_ms":
                p25, p75, rmin, rmax = "gpu_p25", "gpu_p75", "gpu_rounds_min", "gpu_rounds_max"
            else:
                th = ms_col.split("_")[-1]
                p25, p75, rmin, rmax = f"p25_{th}", f"p75_{th}", f"rounds_min_{th}", f"rounds_max_{th}"
            if series.startswith("measured") and p25 in g:
                noise = list(((g[p75] - g[p25]) / g[ms_col]).fillna(0).to_numpy() / 2)
                noise = [max(n, abs(a - b) / m / 2) for n, a, b, m in zip(
                    noise, g[rmax], g[rmin], g[ms_col])]
            else:
                noise = [0.0] * len(ours)
            series_refs = [("GPU", "paper_gpu")] if ms_col == "gpu_ms" else refs
            for ref_name, ref_col in series_refs:
                paper = list(g[ref_col].astype(float))
                c = compare_order(paper, ours, noise)
                labels = list(g["variant"])
                out.append({
                    "table": table, "column": col, "series": series, "reference": ref_name,
                    "paper_order": " > ".join(labels[i] for i in _desc(paper)),
                    "our_order": " > ".join(labels[i] for i in _desc(ours)),
                    "agree": c["agree"], "tie": c["tie"], "reversed": c["reversed"],
                    "tau": c["tau"], "verdict": c["verdict"],
                    "paper_best": labels[c["paper_best"]], "our_best": labels[c["our_best"]],
                    "paper_spread": max(paper) / min(paper), "our_spread": max(ours) / min(ours),
                })
    return pd.DataFrame(out)
