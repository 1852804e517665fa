"""The figure of a design-space sweep: every candidate, and its Pareto front.

Left: the front's axes (x: the first minimized column, y: the maximized one), every candidate a
grey dot, the front in red.  Right: the same x against MAC (or against multiply-adds when x is
MAC), coloured by input resolution: what else moves with the front's x.  matplotlib is imported
only to draw; no pyplot (no global state).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from costmodel.plots.savefig import save_figure

#: how columns are named on an axis
LABELS = {"madds": "multiply-adds (M)", "mac": "MAC (M elements)", "params": "params (M)",
          "flops": "flops (M)", "mac_bytes": "MAC (MB)"}
_MILLIONS = ("madds", "mac", "params", "flops", "mac_bytes")


def axis_label(col: str) -> str:
    if col.startswith("pred_ms_"):
        return f"predicted latency, {col[len('pred_ms_'):-1]} thread(s) (ms)"
    return LABELS.get(col, col)


def _values(df: pd.DataFrame, col: str) -> np.ndarray:
    v = df[col].to_numpy(dtype=float)
    return v / 1e6 if col in _MILLIONS else v


def sweep_figure(df: pd.DataFrame, front: pd.DataFrame, x: str, y: str, title: str = "",
                 note: str = ""):
    """The figure (a matplotlib ``Figure``); ``x``/``y``: the front's axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 5.6), dpi=130)
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    left.scatter(_values(df, x), _values(df, y), s=2, c="0.6", alpha=0.35, linewidths=0,
                 rasterized=True, label=f"candidates ({len(df):,})")
    fx, fy = _values(front, x), _values(front, y)
    order = np.argsort(fx, kind="stable")
    left.plot(fx[order], fy[order], "-o", color="tab:red", ms=3.5, lw=1.2,
              label=f"Pareto front ({len(front):,})")
    left.set_xlabel(axis_label(x))
    left.set_ylabel(axis_label(y))
    left.legend(loc="lower right", frameon=False, markerscale=4)
    left.grid(alpha=0.3)
    left.set_title("candidates and their Pareto front", fontsize=11)

    ry = "madds" if x == "mac" else "mac"
    res = df["resolution"].to_numpy(dtype=float)
    points = right.scatter(_values(df, x), _values(df, ry), s=2, c=res, cmap="viridis",
                           alpha=0.5, linewidths=0, rasterized=True)
    cbar = fig.colorbar(points, ax=right, pad=0.01)
    cbar.set_label("input resolution (pixels)")
    right.set_xlabel(axis_label(x))
    right.set_ylabel(axis_label(ry))
    right.grid(alpha=0.3)
    right.set_title(f"the same candidates: {LABELS[ry].split(' (')[0]}", fontsize=11)
    if title:
        fig.suptitle(title, fontsize=12)
    if note:
        fig.text(0.01, 0.01, note, fontsize=8, color="0.3", ha="left", va="bottom")
    fig.subplots_adjust(left=0.06, right=0.97, top=0.88, bottom=0.16, wspace=0.18)
    return fig


def save_sweep_figure(path: str, df: pd.DataFrame, front: pd.DataFrame, minimize: Sequence[str],
                      maximize: Sequence[str], title: str = "", note: str = "") -> None:
    """Draw :func:`sweep_figure` with the front's first minimized column on x and its first
    maximized one on y (the second minimized one, else madds, when nothing is maximized) and
    save it to ``path``."""
    x = minimize[0] if minimize else maximize[0]
    y = maximize[0] if maximize and minimize else (minimize[1] if len(minimize) > 1
                                                   else "madds")
    save_figure(sweep_figure(df, front, x, y, title, note), path)
