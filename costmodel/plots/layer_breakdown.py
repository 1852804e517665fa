"""Per-layer breakdown of one model as a picture (PNG / SVG / PDF through matplotlib; the HTML
report's inline bars are :mod:`costmodel.plots.layer_bars`).

Top: the model's multiply-adds, MAC (and, with a per-layer time column, predicted time) split
by op kind, as 100% bars.  Below: one panel per metric with a bar per layer in execution
order, coloured by op kind (one distinct colour per kind, :func:`costmodel.plots.styles.kind_colors`),
the largest layers named.  ``costmodel plot layers MODEL --out x.png``.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from costmodel.plots.styles import kind_colors

#: (column, panel title, scale, unit) of the per-layer panels
_METRICS = [("madds", "multiply-adds", 1e-6, "M"), ("mac", "MAC", 1e-6, "M elements")]


def breakdown_data(layers: pd.DataFrame, time_col: Optional[str] = None) -> pd.DataFrame:
    """The layers with any cost (madds, MAC or time), in execution order, with their ``pos``
    (0..n-1) and each metric's share of the model (``<metric>_share``)."""
    df = layers.reset_index(drop=True)
    cols = ["madds", "mac"] + ([time_col] if time_col else [])
    for c in cols:
        df[c] = pd.to_numeric(df[c], errors="coerce").fillna(0.0)
    keep = (df[cols] > 0).any(axis=1)
    out = df.loc[keep, ["name", "kind"] + cols].reset_index(drop=True)
    out.insert(0, "pos", np.arange(len(out)))
    for c in cols:
        tot = float(out[c].sum())
        out[f"{c}_share"] = out[c] / tot if tot > 0 else 0.0
    return out


def kind_shares(data: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    """Per op kind: each metric's share of the model, kinds by descending share of the first."""
    g = data.groupby("kind")[list(cols)].sum()
    g = g / g.sum().replace(0, np.nan)
    return g.sort_values(cols[0], ascending=False)


def draw_layer_breakdown(layers: pd.DataFrame, title: str, time_col: Optional[str] = None,
                         time_label: str = "predicted time", n_named: int = 4):
    """The figure (see the module docstring); ``time_col``: a per-layer ms column, if any."""
    from costmodel.plots.savefig import new_figure

    data = breakdown_data(layers, time_col)
    metrics = list(_METRICS) + ([(time_col, time_label, 1.0, "ms")] if time_col else [])
    cols = [m[0] for m in metrics]
    shares = kind_shares(data, cols)
    colors = kind_colors(list(shares.index))
    n = len(metrics)
    fig = new_figure((15, 3.0 + 2.6 * n), dpi=130)
    gs = fig.add_gridspec(n + 1, 1, height_ratios=[0.35 * n + 0.4] + [1.0] * n, hspace=0.55,
                          left=0.09, right=0.83, top=0.93, bottom=0.06)
    # ---- share by kind
    ax0 = fig.add_subplot(gs[0])
    for row, (col, label, _, _) in enumerate(metrics):
        left = 0.0
        for kind, s in shares[col].items():
            if not s > 0:
                continue
            ax0.barh(row, s * 100, left=left, color=colors[kind], edgecolor="white", lw=0.5)
            if s >= 0.05:
                ax0.text(left + s * 50, row, f"{100 * s:.0f}%", ha="center", va="center",
                         fontsize=7, color="white" if _dark(colors[kind]) else "black")
            left += s * 100
    ax0.set_yticks(range(n))
    ax0.set_yticklabels([f"{label.split(',')[0]} share" for _, label, _, _ in metrics], fontsize=8)
    ax0.invert_yaxis()
    ax0.set_xlim(0, 100)
    ax0.set_xlabel("share of the model (%), by op kind", fontsize=8)
    ax0.tick_params(axis="x", labelsize=7)
    # ---- per layer
    x = data["pos"].to_numpy()
    bar_colors = [colors[k] for k in data["kind"]]
    ax = None
    for k, (col, label, scale, unit) in enumerate(metrics):
        ax = fig.add_subplot(gs[k + 1], sharex=ax)
        v = data[col].to_numpy() * scale
        ax.bar(x, v, width=1.0, color=bar_colors, edgecolor="none")
        ax.set_ylabel(f"{label}\n({unit})", fontsize=8)
        ax.set_ylim(0, max(float(v.max()), 1e-12) * 1.25)
        ax.tick_params(labelsize=7)
        ax.grid(True, axis="y", alpha=0.3)
        named: List[int] = []
        for i in np.argsort(-v, kind="stable"):  # the largest layers, named, apart from each other
            if len(named) == n_named or not v[i] > 0:
                break
            if any(abs(x[i] - x[j]) < 0.06 * len(x) for j in named):
                continue
            named.append(i)
            ax.annotate(f"{data['name'].iat[i]} ({100 * data[col + '_share'].iat[i]:.1f}%)",
                        (x[i], v[i]), xytext=(0, 2), textcoords="offset points",
                        ha="left" if x[i] < 0.1 * len(x) else "right" if x[i] > 0.9 * len(x)
                        else "center", va="bottom", fontsize=6, color="0.15")
    ax.set_xlim(-1, len(x))
    ax.set_xlabel(f"layer, in execution order ({len(x)} layers with a cost)", fontsize=8)
    from matplotlib.patches import Patch

    handles = [Patch(color=colors[k], label=k) for k in shares.index]
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.84, 0.93), fontsize=8,
               frameon=False, title="op kind", title_fontsize=9)
    fig.suptitle(title, fontsize=11)
    return fig, data


def _dark(color: str) -> bool:
    from matplotlib.colors import to_rgb

    r, g, b = to_rgb(color)
    return 0.299 * r + 0.587 * g + 0.114 * b < 0.5


def save_layer_breakdown(layers: pd.DataFrame, out: Union[str, Sequence[str]], title: str,
                         time_col: Optional[str] = None, time_label: str = "predicted time",
                         data_csv: Optional[str] = None) -> Tuple[List[str], pd.DataFrame]:
    """Draw and write the breakdown (``out``: one path or several; ``data_csv``: the per-layer
    rows behind it).  Returns ``(paths written, data)``."""
    from costmodel.plots.savefig import save_figures, write_csv

    fig, data = draw_layer_breakdown(layers, title, time_col, time_label)
    paths = save_figures(fig, out)
    if data_csv:
        paths.append(write_csv(data_csv, data))
    return paths, data
