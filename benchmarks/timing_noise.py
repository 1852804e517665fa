"""How repeatable a latency measurement can be on this machine, and with which statistic.

Each model runs forward back to back for ``--seconds`` in one process, alternating run by run
with the drift reference of the latency profile (``families:reference``: model, reference,
model, reference, ...), every run's start time and duration recorded.  From that trace, windows
of W seconds at random starts stand for independent measurements of W seconds each; for each
statistic (median, 10th percentile, minimum of the window's runs, and the model / reference
ratio of the window's medians: the interleaved drift correction), the table gives how often two
such measurements agree within +-10% and +-5% (random pairs of windows) and their coefficient of
variation.  The 2-second medians show how the machine's speed moves with time.

    python benchmarks/timing_noise.py [--seconds 60] [--threads 1 2] [--out reports/latency/noise.md]

Run it on an otherwise idle machine: the output states the CPU other processes used.  A
predictor cannot be *shown* to be within +-10% of a measurement more often than two measurements
agree with each other.
"""
from __future__ import annotations

import argparse
import datetime
import io
import os
import sys
import time
import warnings
from typing import Callable, Dict, List

import numpy as np
import torch

from costmodel import fileio
from costmodel.latency import machine
from costmodel.latency.named import resolve_model
from costmodel.latency.quiet import CpuWatch, describe
from costmodel.latency.replay import threads_pinned

REFERENCE = "families:reference"
MODELS = ("torchvision:resnet18", "torchvision:mobilenet_v2", "torchvision:shufflenet_v2_x1_0",
          "torchvision:regnet_x_400mf")
WINDOWS_S = (0.5, 1.0, 2.0, 4.0, 8.0)
PAIRS = 4000  # random window pairs per statistic
STARTS = 400  # random window starts per window length

STATS: Dict[str, Callable[[np.ndarray], float]] = {
    "median": np.median,
    "p10": lambda v: float(np.percentile(v, 10)),
    "min": np.min,
}
COLUMNS = tuple(STATS) + ("ratio",)  # the statistics of the tables, the drift-corrected ratio last


def trace(name: str, threads: int, seconds: float) -> Dict[str, np.ndarray]:
    """Alternate forwards of ``name`` and the reference for ``seconds``: start times (s since the
    first run) and durations (ms) of each."""
    model, shape = resolve_model(name)
    ref, ref_shape = resolve_model(REFERENCE)
    model.eval()
    ref.eval()
    g = torch.Generator().manual_seed(0)
    x, xr = torch.randn(shape, generator=g), torch.randn(ref_shape, generator=g)
    out = {"t": [], "ms": [], "ref_t": [], "ref_ms": []}
    perf = time.perf_counter
    with threads_pinned(threads), torch.inference_mode():
        for _ in range(3):  # warm-up: oneDNN primitives, allocator
            model(x)
            ref(xr)
        t0 = perf()
        while perf() - t0 < seconds:
            a = perf()
            model(x)
            b = perf()
            ref(xr)
            c = perf()
            out["t"].append(a - t0)
            out["ms"].append((b - a) * 1e3)
            out["ref_t"].append(b - t0)
            out["ref_ms"].append((c - b) * 1e3)
    return {k: np.asarray(v) for k, v in out.items()}


def window_values(tr: Dict[str, np.ndarray], width: float, rng: np.random.Generator
                  ) -> Dict[str, np.ndarray]:
    """Each statistic over ``STARTS`` random windows of ``width`` seconds (windows with fewer than
    three runs are skipped)."""
    span = float(tr["t"][-1])
    vals: Dict[str, List[float]] = {k: [] for k in COLUMNS}
    if span <= width:
        return {k: np.array([]) for k in vals}
    for s in rng.uniform(0.0, span - width, STARTS):
        sel = (tr["t"] >= s) & (tr["t"] < s + width)
        if sel.sum() < 3:
            continue
        v = tr["ms"][sel]
        for k, f in STATS.items():
            vals[k].append(float(f(v)))
        vals["ratio"].append(float(np.median(v) / np.median(tr["ref_ms"][sel])))
    return {k: np.asarray(v) for k, v in vals.items()}


def agreement(vals: np.ndarray, rng: np.random.Generator) -> Dict[str, float]:
    """Share of random pairs of measurements within +-10% / +-5% of each other, and the CV."""
    if len(vals) < 2:
        return {"agree10": float("nan"), "agree5": float("nan"), "cv": float("nan")}
    i, j = rng.integers(0, len(vals), PAIRS), rng.integers(0, len(vals), PAIRS)
    keep = i != j
    d = np.abs(vals[i[keep]] / vals[j[keep]] - 1.0)
    return {"agree10": 100.0 * float(np.mean(d <= 0.10)), "agree5": 100.0 * float(np.mean(d <= 0.05)),
            "cv": 100.0 * float(np.std(vals) / np.mean(vals))}


def two_second_medians(tr: Dict[str, np.ndarray]) -> np.ndarray:
    b = (tr["t"] // 2.0).astype(int)
    return np.array([np.median(tr["ms"][b == k]) for k in range(int(b.max()) + 1) if (b == k).any()])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--seconds", type=float, default=60.0, help="trace length per model and thread count")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="write the Markdown report here")
    args = ap.parse_args(argv)
    if args.out:
        fileio.check_writable(args.out)
    if args.seconds <= max(WINDOWS_S):
        ap.error(f"--seconds must exceed the longest window ({max(WINDOWS_S):g} s)")
    warnings.filterwarnings("ignore")
    rng = np.random.default_rng(args.seed)
    mach = machine.describe()
    watch = CpuWatch().start()
    started = datetime.datetime.now(datetime.timezone.utc)
    rows, drift = [], []
    for name in args.models:
        for t in args.threads:
            print(f"tracing {name} at {t} thread(s) for {args.seconds:g} s", file=sys.stderr, flush=True)
            tr = trace(name, t, args.seconds)
            med2 = two_second_medians(tr)
            drift.append((name, t, len(tr["ms"]), float(np.median(tr["ms"])), med2))
            for w in WINDOWS_S:
                vals = window_values(tr, w, rng)
                for stat, v in vals.items():
                    rows.append(dict(model=name, threads=t, window_s=w, stat=stat, **agreement(v, rng)))
    quiet = watch.stop()
    text = render(rows, drift, args, mach, quiet, started)
    if args.out:
        fileio.write_text(args.out, text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def render(rows, drift, args, mach, quiet, started) -> str:
    out = io.StringIO()
    w = out.write
    w("# Timing noise: how repeatable a measurement is on this machine\n\n")
    w(f"`python benchmarks/timing_noise.py --seconds {args.seconds:g}`, started "
      f"{started:%Y-%m-%d %H:%M} UTC; {mach.get('cpu_model')} "
      f"({os.cpu_count()} logical CPUs), torch {torch.__version__}; batch 1, float32, inference "
      f"mode.  Machine load: {describe(quiet)}.\n\n")
    w("Each model ran forward back to back for the trace length, alternating run by run with the "
      f"drift reference (`{REFERENCE}`).  Windows of W seconds at random starts stand for "
      "measurements of W seconds; 'agree' = share of random pairs of such measurements within "
      "+-10% (+-5%) of each other; CV = coefficient of variation across windows.  `ratio` is the "
      "window's model median over its reference median (the interleaved drift correction).  The "
      "foreign-set harness (`reports/latency`) measures each model for about 0.5 s (median of the "
      "runs of 3 copies).\n\n")
    w("## Speed over time (medians of 2-second blocks)\n\n| model | threads | runs | median ms | "
      "2-s medians: min | max | max / min |\n|---|---|---|---|---|---|---|\n")
    for name, t, n, med, med2 in drift:
        w(f"| {name} | {t} | {n} | {med:.2f} | {med2.min():.2f} | {med2.max():.2f} | "
          f"{med2.max() / med2.min():.2f} |\n")
    w("\n## Agreement of two measurements, by statistic and window\n\n")
    w("| model | threads | window s | " + " | ".join(f"{s} agree10 %" for s in COLUMNS)
      + " | " + " | ".join(f"{s} CV %" for s in COLUMNS) + " |\n")
    w("|---" * (3 + 2 * len(COLUMNS)) + "|\n")
    key = {(r["model"], r["threads"], r["window_s"], r["stat"]): r for r in rows}
    for name, t, *_ in drift:
        for win in WINDOWS_S:
            rs = [key[(name, t, win, s)] for s in COLUMNS]
            w(f"| {name} | {t} | {win:g} | " + " | ".join(f"{r['agree10']:.0f}" for r in rs) + " | "
              + " | ".join(f"{r['cv']:.1f}" for r in rs) + " |\n")
    w("\n## Summary (mean over models)\n\n| threads | window s | " +
      " | ".join(f"{s} agree10 %" for s in COLUMNS) + " | "
      + " | ".join(f"{s} agree5 %" for s in COLUMNS) + " |\n")
    w("|---" * (2 + 2 * len(COLUMNS)) + "|\n")
    for t in args.threads:
        for win in WINDOWS_S:
            cells10, cells5 = [], []
            for s in COLUMNS:
                rs = [key[(name, t, win, s)] for name, tt, *_ in drift if tt == t]
                cells10.append(f"{np.nanmean([r['agree10'] for r in rs]):.0f}")
                cells5.append(f"{np.nanmean([r['agree5'] for r in rs]):.0f}")
            w(f"| {t} | {win:g} | " + " | ".join(cells10) + " | " + " | ".join(cells5) + " |\n")
    return out.getvalue()


if __name__ == "__main__":
    main()
