"""Emulated aarch64 instructions against x86 time, per op kind: one log-log scatter of the layers
of each kind (x: the layer's 1-thread x86 replay time, y: the aarch64 instructions it executes
under QEMU), from the files of ``reports/arm`` (``costmodel arm run``) and x86 timing files with
per-layer times (``costmodel bench``, or a validation run's ``timings.json``).

The layers are joined by :func:`costmodel.arm.compare.layer_frame` (model, input and layer
name; each distinct replay once).  Instructions are not ARM time: the panels show how the work
the aarch64 kernels issue tracks the time x86 takes, kind by kind, not ARM latency.
"""
from __future__ import annotations

import glob
import os
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import pandas as pd

from costmodel import fileio
from costmodel.plots.savefig import save_figures, write_csv


def default_files(arm_dir: str, latency_timings: Optional[str] = None):
    """``(arm files, x86 files)`` of a reports folder: ``arm_neoverse-n1_zoo*.json`` and
    ``x86_1thread_run*.json`` in ``arm_dir``, plus ``latency_timings`` when it has per-layer
    1-thread times."""
    arm = sorted(glob.glob(os.path.join(arm_dir, "arm_neoverse-n1_zoo*.json")))
    x86 = sorted(glob.glob(os.path.join(arm_dir, "x86_1thread_run*.json")))
    if latency_timings and os.path.isfile(latency_timings):
        doc = fileio.read_json(latency_timings)
        if any(l.get("measured_ms") for m in doc.get("models", []) if m.get("threads", 1) == 1
               for l in (m.get("layers") or [])):
            x86.append(latency_timings)
    return arm, x86


def arm_x86_layers(arm_paths: Sequence[str], x86_paths: Sequence[str]) -> pd.DataFrame:
    """The distinct layers with both an instruction count and an x86 time (both > 0): ``model,
    input, name, kind, op, madds, mac, instructions, x86_ms`` (median over the x86 files)."""
    from costmodel.arm.compare import distinct, layer_frame
    from costmodel.latency import timings

    df = layer_frame([timings.load(p) for p in arm_paths], [timings.load(p) for p in x86_paths])
    df = distinct(df)
    ok = (df["instructions"] > 0) & (df["x86_ms"] > 0)
    cols = ["model", "input", "name", "kind", "op", "madds", "mac", "instructions", "x86_ms"]
    return df.loc[ok, cols].reset_index(drop=True)


def kind_summary(data: pd.DataFrame) -> pd.DataFrame:
    """Per kind: layers, summed instructions and x86 ms, instructions per x86 ns (of the sums),
    and the Spearman rank correlation of the two over the kind's layers; by summed instructions."""
    rows = []
    for kind, g in data.groupby("kind"):
        rho = (float(g[["instructions", "x86_ms"]].corr(method="spearman").iloc[0, 1])
               if len(g) > 2 else np.nan)
        rows.append({"kind": kind, "layers": len(g), "instructions": float(g["instructions"].sum()),
                     "x86_ms": float(g["x86_ms"].sum()),
                     "instr_per_x86_ns": float(g["instructions"].sum() / (1e6 * g["x86_ms"].sum())),
                     "spearman": rho})
    out = pd.DataFrame(rows, columns=["kind", "layers", "instructions", "x86_ms",
                                      "instr_per_x86_ns", "spearman"])
    return out.sort_values("instructions", ascending=False).reset_index(drop=True)


def plot_arm_vs_x86(arm_paths: Sequence[str], x86_paths: Sequence[str],
                    out: Union[None, str, Sequence[str]] = None, data_csv: Optional[str] = None):
    """Draw (``out``) and write (``data_csv``: the joined layers) the per-kind scatter.
    Returns ``(data, summary, caption, paths)``."""
    if not arm_paths:
        raise ValueError("no emulated aarch64 timing file given")
    if not x86_paths:
        raise ValueError("no x86 timing file with per-layer times given")
    data = arm_x86_layers(arm_paths, x86_paths)
    if data.empty:
        raise ValueError("no layer has both an aarch64 instruction count and an x86 time")
    summary = kind_summary(data)
    names = lambda ps: ", ".join(os.path.normpath(p) for p in ps)  # noqa: E731
    caption = (f"aarch64 instructions: {names(arm_paths)} (QEMU user mode, instructions of each "
               f"op replayed alone, 1 thread; not ARM time). x86 time: per-layer 1-thread replay "
               f"medians in {names(x86_paths)} (the median over the files that have the layer). "
               f"{len(data)} distinct layers of {data['model'].nunique()} zoo models. Each panel: "
               f"one op kind, dashed line: its instructions per x86 ns (ratio of sums); rho: "
               f"Spearman rank correlation over its layers.")
    paths: List[str] = [write_csv(data_csv, data)] if data_csv else []
    if out is not None:
        paths += save_figures(_draw(data, summary, caption), out)
    return data, summary, caption, paths


def _draw(data: pd.DataFrame, summary: pd.DataFrame, caption: str):
    from costmodel.plots.axes import log_limits
    from costmodel.plots.savefig import add_caption, new_figure
    from costmodel.plots.styles import kind_colors

    kinds = list(summary["kind"])
    colors: Dict[str, str] = kind_colors(kinds)
    ncols = 4
    nrows = -(-len(kinds) // ncols)
    fig = new_figure((16, 3.6 * nrows + 1.0), dpi=110)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    xlim = log_limits(data["x86_ms"], pad=(0.04, 0.04))
    ylim = log_limits(data["instructions"], pad=(0.04, 0.04))
    for k, ax in enumerate(axes.ravel()):
        if k >= len(kinds):
            ax.set_visible(False)
            continue
        kind = kinds[k]
        g = data[data["kind"] == kind]
        s = summary.iloc[k]
        ax.scatter(data["x86_ms"], data["instructions"], s=3, color="0.88", zorder=1,
                   edgecolors="none")  # every layer, for reference
        ax.scatter(g["x86_ms"], g["instructions"], s=10, color=colors[kind], zorder=3,
                   edgecolors="0.25", linewidths=0.2)
        xs = np.array(xlim)
        ax.plot(xs, xs * 1e6 * s["instr_per_x86_ns"], ls="--", lw=0.8, color="0.3", zorder=2)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        ax.grid(True, which="major", alpha=0.3)
        rho = "-" if pd.isna(s["spearman"]) else f"{s['spearman']:.2f}"
        ax.set_title(f"{kind}: {int(s['layers'])} layers, rho {rho}, "
                     f"{s['instr_per_x86_ns']:.1f} instr/ns", fontsize=9)
        ax.tick_params(labelsize=7)
        if k % ncols == 0:
            ax.set_ylabel("aarch64 instructions (log)", fontsize=8)
        if k >= len(kinds) - ncols:
            ax.set_xlabel("x86 time, 1 thread (ms, log)", fontsize=8)
            ax.xaxis.set_tick_params(labelbottom=True)
    fig.suptitle("Emulated aarch64 instructions versus x86 time, per op kind (one point per "
                 "distinct layer)", fontsize=12, y=1 - 0.25 / (3.6 * nrows + 1.0))
    fig.subplots_adjust(left=0.06, right=0.99, top=1 - 0.9 / (3.6 * nrows + 1.0),
                        bottom=0.9 / (3.6 * nrows + 1.0) + 0.03, hspace=0.35, wspace=0.08)
    add_caption(fig, caption, 0.06, 0.006, 7.5)
    return fig
