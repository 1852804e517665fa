"""Measured latency against multiply-adds and against MAC, side by side (ShuffleNetV2's point:
multiply-adds alone do not order networks by speed), from a committed timing file.

:func:`latency_cost_points` reads the measured end-to-end times of the zoo models in a
``costmodel-timings`` JSON (``reports/latency/timings.json``: ``costmodel validate-report``)
and sets costmodel's multiply-adds and MAC of each model beside them; :func:`plot_latency_vs_cost`
draws one row per thread count, multiply-adds left, MAC right, one y axis per row, with the
Spearman rank correlation of each panel in its title.  Nothing is timed here.
"""
from __future__ import annotations

from typing import Dict, Iterable, Optional, Sequence, Union

import numpy as np
import pandas as pd

from costmodel import fileio
from costmodel.plots.savefig import save_figures, write_csv
from costmodel.zoo import registry

PANELS = (("madds_M", "multiply-adds of all ops (millions, log scale)", "multiply-adds"),
          ("mac_M", "memory access cost, MAC (million elements, log scale)", "MAC"))


def latency_cost_points(timings_path: str, names: Optional[Iterable[str]] = None) -> pd.DataFrame:
    """One row per (zoo model, thread count) timed in ``timings_path``: ``name, family, threads,
    measured_ms, madds_M, mac_M`` (costmodel's counts at the model's published resolution)."""
    from costmodel.zoo.table import zoo_report

    doc = fileio.read_json(timings_path)
    if not isinstance(doc, dict) or doc.get("format") != "costmodel-timings":
        raise ValueError(f"{timings_path}: not a costmodel-timings JSON file")
    wanted = set(registry.names() if names is None else names)
    zoo = set(registry.names())
    rows = []
    for m in doc.get("models", []):
        name = str(m.get("name"))
        if name not in wanted or name not in zoo or not m.get("total_ms"):
            continue
        total = zoo_report(name).total
        rows.append({"name": name, "family": registry.entry(name).family,
                     "threads": int(m.get("threads", 1)), "measured_ms": float(m["total_ms"]),
                     "madds_M": float(total["madds"]) / 1e6, "mac_M": float(total["mac"]) / 1e6})
    df = pd.DataFrame(rows, columns=["name", "family", "threads", "measured_ms", "madds_M",
                                     "mac_M"])
    return df.sort_values(["threads", "name"]).reset_index(drop=True)


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (ties get their average rank)."""
    return float(pd.DataFrame({"x": x, "y": y}).corr(method="spearman").iloc[0, 1])


def correlations(data: pd.DataFrame) -> Dict[int, Dict[str, float]]:
    """``{threads: {"madds_M": rho, "mac_M": rho}}``: Spearman of measured ms with each cost."""
    return {int(t): {col: spearman(g[col], g["measured_ms"]) for col, _, _ in PANELS}
            for t, g in data.groupby("threads")}


#: families always labelled: the ShuffleNetV2 paper's comparison (its Figure 1 and Table 8)
LABELLED_FAMILIES = ("shufflenet_v2", "mobilenet_v2")
#: how many of the points furthest from the panel's log-log fit are labelled besides
N_OUTLIERS = 6


def labelled(g: pd.DataFrame, col: str) -> np.ndarray:
    """Which points of a panel get a name: :data:`LABELLED_FAMILIES` and the
    :data:`N_OUTLIERS` furthest (in log latency) from a least-squares line of log latency on log
    ``col``."""
    lx, ly = np.log(g[col].to_numpy(float)), np.log(g["measured_ms"].to_numpy(float))
    resid = np.abs(ly - np.polyval(np.polyfit(lx, ly, 1), lx)) if len(g) > 2 else np.ones(len(g))
    mask = g["family"].isin(LABELLED_FAMILIES).to_numpy().copy()
    mask[np.argsort(-resid)[:N_OUTLIERS]] = True
    return mask


def plot_latency_vs_cost(timings_path: str, out: Union[None, str, Sequence[str]] = None,
                         data_csv: Optional[str] = None, names: Optional[Iterable[str]] = None,
                         threads: Optional[Sequence[int]] = None):
    """Draw (``out``) and write (``data_csv``) measured latency against multiply-adds and MAC.
    Returns ``(data, correlations, caption, paths)``."""
    from costmodel.plots.latency import timings_note

    data = latency_cost_points(timings_path, names)
    if threads is not None:
        data = data[data["threads"].isin(list(threads))].reset_index(drop=True)
    if data.empty:
        raise ValueError(f"{timings_path}: no zoo model measured"
                         + (f" at {', '.join(map(str, threads))} thread(s)" if threads else ""))
    rho = correlations(data)
    counts = sorted(rho)
    caption = (f"Measured: median end-to-end latency, batch 1, from {timings_note(timings_path)}, "
               f"at {' and '.join(map(str, counts))} thread(s); {data['name'].nunique()} zoo "
               f"models. x: costmodel's counts at each model's published resolution. rho: "
               f"Spearman rank correlation of latency with the panel's cost (1 = the cost orders "
               f"the models exactly as their latency). Named: ShuffleNetV2 and MobileNetV2 (the "
               f"ShuffleNetV2 paper's comparison) and the {N_OUTLIERS} points of each panel "
               f"furthest from its log-log fit.")
    paths = [write_csv(data_csv, data)] if data_csv else []
    if out is not None:
        paths += save_figures(_draw(data, rho, caption), out)
    return data, rho, caption, paths


def _draw(data: pd.DataFrame, rho: Dict[int, Dict[str, float]], caption: str):
    from matplotlib.lines import Line2D

    from costmodel.plots.accuracy import zoo_families
    from costmodel.plots.axes import log_limits
    from costmodel.plots.labels import place_labels
    from costmodel.plots.savefig import add_caption, new_figure
    from costmodel.plots.styles import family_styles

    counts = sorted(rho)
    fig = new_figure((16, 7.2 * len(counts) + 0.8), dpi=120)
    styles = family_styles(data["family"].unique(), zoo_families())
    axes = fig.subplots(len(counts), 2, squeeze=False, sharey="row")
    for row, t in enumerate(counts):
        g = data[data["threads"] == t].reset_index(drop=True)
        for c, (col, xlabel, short) in enumerate(PANELS):
            ax = axes[row][c]
            for fam in sorted(g["family"].unique()):
                d = g[g["family"] == fam]
                color, marker = styles[fam]
                ax.scatter(d[col], d["measured_ms"], s=30, marker=marker, color=color,
                           edgecolors="white", linewidths=0.5, zorder=3)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlim(*log_limits(g[col], pad=(0.05, 0.05)))
            ax.set_ylim(*log_limits(g["measured_ms"], pad=(0.05, 0.05)))
            ax.grid(True, which="major", alpha=0.35)
            ax.grid(True, which="minor", alpha=0.12)
            ax.set_xlabel(xlabel)
            if c == 0:
                ax.set_ylabel(f"measured latency, {t} thread{'s' if t > 1 else ''} "
                              f"(ms, log scale)")
            ax.set_title(f"{t} thread{'s' if t > 1 else ''}: latency vs {short}, Spearman rho = "
                         f"{rho[t][col]:.3f}", fontsize=11)
            lab = labelled(g, col)
            place_labels(ax, g[col].to_numpy()[lab], g["measured_ms"].to_numpy()[lab],
                         list(g["name"][lab]), fontsize=5.5,
                         others=(g[col].to_numpy()[~lab], g["measured_ms"].to_numpy()[~lab]))
    handles = [Line2D([], [], ls="none", marker=styles[f][1], color=styles[f][0], markersize=6,
                      label=f) for f in sorted(data["family"].unique())]
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.885, 0.95), fontsize=8,
               frameon=False, title="family", title_fontsize=9)
    fig.subplots_adjust(left=0.05, right=0.88, top=0.95, bottom=0.12 / len(counts) + 0.03,
                        wspace=0.06, hspace=0.18)
    add_caption(fig, caption, 0.05, 0.008, 7.5)
    return fig
