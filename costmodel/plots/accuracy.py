"""Accuracy-versus-cost plots of the zoo: published ImageNet top-1 against costmodel's
multiply-adds, params, MAC or latency (log x), with the Pareto frontier.

Every plot function returns a :class:`PlotResult` whose ``data`` DataFrame holds the points behind
the picture (``name, family, x, y, on_pareto, resolution, origin``), so tests and users check the
numbers, not the pixels.  The x values are costmodel's own analysis of each zoo model at its
published resolution (:func:`costmodel.zoo.table.zoo_report`, cached per process); y is the
paper's ImageNet top-1 (``zoo.entry(name).published.top1``).  Models without a published top-1
are skipped and named in the plot's caption.  Latency x values come from
:mod:`costmodel.plots.latency`.  matplotlib is imported only to draw.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from costmodel import fileio
from costmodel.analysis import analyze
from costmodel.plots.savefig import mkdir_for, save_figure
from costmodel.report import CostReport
from costmodel.zoo import registry
from costmodel.zoo.table import zoo_report


@dataclass(frozen=True)
class Metric:
    key: str
    label: str          # axis label
    short: str          # caption / table wording
    scale: float = 1.0  # raw value * scale = plotted value
    unit: str = ""


METRICS: Dict[str, Metric] = {
    "madds": Metric("madds", "multiply-adds (millions, log scale)",
                    "costmodel's multiply-adds of all ops (conv, linear, norm, pooling, ...)",
                    1e-6, "M"),
    "params": Metric("params", "parameters (millions, log scale)",
                     "costmodel's parameter count", 1e-6, "M"),
    "mac": Metric("mac", "memory access cost, MAC (million elements, log scale)",
                  "costmodel's memory access cost (elements read + written, ShuffleNetV2's MAC)",
                  1e-6, "M"),
    "latency_predicted": Metric("latency_predicted", "predicted latency (ms, log scale)",
                                "latency predicted by costmodel.latency's profile of this "
                                "machine", 1.0, "ms"),
    "latency_measured": Metric("latency_measured", "measured latency (ms, log scale)",
                               "median latency measured on this machine (1 thread)", 1.0, "ms"),
}
LATENCY_METRICS = ("latency_predicted", "latency_measured")


def metric(key: str) -> Metric:
    key = key.replace("-", "_")
    if key in ("predicted", "latency"):
        key = "latency_predicted"
    if key == "measured":
        key = "latency_measured"
    if key not in METRICS:
        raise ValueError(f"unknown metric {key!r}; choose one of {', '.join(METRICS)}")
    return METRICS[key]


# ---------------------------------------------------------------------------------------------
# points and Pareto frontier
# ---------------------------------------------------------------------------------------------
@dataclass
class UserPoint:
    """A model of the user's own added to an accuracy plot (family ``"your model"``).

    ``report`` gives the cost metrics; ``x`` overrides any metric (e.g. ``{"latency_measured":
    4.2}``); ``model``/``input_shape`` let latency hooks time it.
    """

    name: str
    top1: float
    report: Optional[CostReport] = None
    x: Dict[str, float] = field(default_factory=dict)
    model: object = None
    input_shape: Tuple[int, ...] = (1, 3, 224, 224)

    @classmethod
    def from_model(cls, model, top1: float, input_shape=(1, 3, 224, 224), name: Optional[str] = None):
        rep = analyze(model, input_shape)
        nm = name or type(model).__name__
        rep.model_name = nm
        return cls(nm, float(top1), rep, {}, model, tuple(rep.input_shapes[0]))

    def value(self, key: str) -> Optional[float]:
        if key in self.x:
            return float(self.x[key])
        if key in LATENCY_METRICS or self.report is None:
            return None
        return float(self.report.total[key])


def pareto_mask(x: Sequence[float], y: Sequence[float]) -> np.ndarray:
    """True for the points on the Pareto frontier "best y for at most this x": a point is on it
    when every point with a smaller-or-equal x has a strictly lower y (ties at the same x: only the
    highest y; NaNs never)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    mask = np.zeros(len(x), dtype=bool)
    ok = ~(np.isnan(x) | np.isnan(y))
    idx = np.flatnonzero(ok)
    best = -np.inf
    for i in idx[np.lexsort((-y[idx], x[idx]))]:
        if y[i] > best:
            mask[i] = True
            best = y[i]
    return mask


def accuracy_points(metric_key: str = "madds", names: Optional[Iterable[str]] = None,
                    extra: Sequence[UserPoint] = (),
                    x_values: Optional[Mapping[str, float]] = None
                    ) -> Tuple[pd.DataFrame, List[Tuple[str, str]]]:
    """The points of an accuracy-versus-``metric`` plot and the models skipped, with why.

    Returns ``(data, skipped)``: ``data`` has ``name, family, x, y, on_pareto, resolution,
    origin`` (``zoo`` or ``user``), x in plotted units (millions, or ms); ``skipped`` is a list of
    ``(name, reason)``.  For latency metrics ``x_values`` (``{name: ms}``) gives the x of zoo
    models; user points carry theirs in :attr:`UserPoint.x`.
    """
    m = metric(metric_key)
    names = list(registry.names() if names is None else names)
    rows, skipped = [], []
    for name in names:
        e = registry.entry(name)
        if e.published.top1 is None:
            skipped.append((name, "no published top-1"))
            continue
        if m.key in LATENCY_METRICS:
            if not x_values or name not in x_values or x_values[name] is None:
                skipped.append((name, f"no {m.key.replace('_', ' ')}"))
                continue
            xv = float(x_values[name])
        else:
            xv = float(zoo_report(name).total[m.key])
        rows.append({"name": name, "family": e.family, "x": xv * m.scale,
                     "y": float(e.published.top1), "resolution": e.published.resolution,
                     "origin": "zoo"})
    for up in extra:
        xv = up.value(m.key)
        if xv is None:
            skipped.append((up.name, f"no {m.key.replace('_', ' ')}"))
            continue
        res = up.input_shape[-1] if up.input_shape else None
        rows.append({"name": up.name, "family": "your model", "x": xv * m.scale,
                     "y": float(up.top1), "resolution": res, "origin": "user"})
    df = pd.DataFrame(rows, columns=["name", "family", "x", "y", "resolution", "origin"])
    df.insert(4, "on_pareto", pareto_mask(df["x"], df["y"]) if len(df) else np.zeros(0, bool))
    return df, skipped


# ---------------------------------------------------------------------------------------------
# the accuracy plot
# ---------------------------------------------------------------------------------------------
@dataclass
class PlotResult:
    """What a plot function made: the points behind it, who was skipped and the files written."""

    metric: str
    data: pd.DataFrame
    skipped: List[Tuple[str, str]]
    caption: str
    paths: List[str] = field(default_factory=list)
    figure: object = None  # the matplotlib Figure, when one was drawn

    @property
    def frontier(self) -> List[str]:
        d = self.data[self.data["on_pareto"]].sort_values("x")
        return list(d["name"])


_DARK = ["#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#17becf", "#31a354", "#e6550d",
         "#756bb1", "#636363"]
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "h", "<", ">", "p", "*", "d", "H"]


def _family_styles(families: Sequence[str]):
    import matplotlib

    colors = list(matplotlib.colormaps["tab10"].colors) + _DARK
    styles = {}
    for i, fam in enumerate(sorted(f for f in families if f != "your model")):
        styles[fam] = (colors[i % len(colors)], _MARKERS[i % len(_MARKERS)])
    styles["your model"] = ("#d62728", "*")
    return styles


def _place_labels(ax, data: pd.DataFrame, fontsize: float = 5.5, lines=()):
    """Label every point, trying candidate offsets and keeping the first whose text box overlaps
    no earlier label, no marker and stays inside the axes (else the least-overlapping one, with a
    thin leader line)."""
    from matplotlib.text import Text

    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    pts = ax.transData.transform(np.c_[data["x"].to_numpy(), data["y"].to_numpy()])
    r = 3.5 * fig.dpi / 72.0
    marker_boxes = [(px - r, py - r, px + r, py + r) for px, py in pts]
    for lx, ly in lines:  # sample the drawn lines (frontier) as small obstacles
        lp = ax.transData.transform(np.c_[lx, ly])
        for (x0, y0), (x1, y1) in zip(lp[:-1], lp[1:]):
            n = int(max(abs(x1 - x0), abs(y1 - y0)) // 3) + 1
            for f in np.linspace(0, 1, n + 1):
                px, py = x0 + f * (x1 - x0), y0 + f * (y1 - y0)
                marker_boxes.append((px - 0.5, py - 0.5, px + 0.5, py + 0.5))
    axbox = ax.get_window_extent(renderer)
    near = [(4, 2, "left", "bottom"), (4, -2, "left", "top"), (-4, 2, "right", "bottom"),
            (-4, -2, "right", "top"), (0, 5, "center", "bottom"), (0, -5, "center", "top"),
            (6, 0, "left", "center"), (-6, 0, "right", "center")]
    far = []
    for radius in (14, 24, 36):
        for ang in range(0, 360, 30):
            dx, dy = radius * math.cos(math.radians(ang)), 0.6 * radius * math.sin(math.radians(ang))
            far.append((round(dx, 1), round(dy, 1), "left" if dx > 1 else "right" if dx < -1
                        else "center", "bottom" if dy > 1 else "top" if dy < -1 else "center"))
    placed: List[Tuple[float, float, float, float]] = []

    def overlap(a, b):
        w = min(a[2], b[2]) - max(a[0], b[0])
        h = min(a[3], b[3]) - max(a[1], b[1])
        return w * h if w > 0 and h > 0 else 0.0

    # frontier and user points first (their labels matter most), then left to right
    order = sorted(range(len(data)), key=lambda i: (not data["on_pareto"].iat[i],
                                                     data["origin"].iat[i] != "user",
                                                     data["x"].iat[i]))
    for i in order:
        label = _point_label(data.iloc[i])
        best = None
        for j, (dx, dy, ha, va) in enumerate(near + far):
            kw = {}
            if j >= len(near):
                kw["arrowprops"] = dict(arrowstyle="-", lw=0.4, color="0.5", shrinkA=0, shrinkB=2)
            t = ax.annotate(label, (data["x"].iat[i], data["y"].iat[i]), xytext=(dx, dy),
                            textcoords="offset points", ha=ha, va=va, fontsize=fontsize,
                            color="0.15", zorder=5, **kw)
            t.update_positions(renderer)
            bb = Text.get_window_extent(t, renderer)  # the text alone, not its leader line
            box = (bb.x0 - 1, bb.y0 - 1, bb.x1 + 1, bb.y1 + 1)
            score = sum(overlap(box, p) for p in placed)
            score += sum(overlap(box, mb) for k, mb in enumerate(marker_boxes) if k != i)
            inside = (box[0] >= axbox.x0 and box[2] <= axbox.x1 and box[1] >= axbox.y0
                      and box[3] <= axbox.y1)
            score += 0 if inside else 1e6
            score += j * 1e-3  # prefer near offsets
            if best is None or score < best[0]:
                if best is not None:
                    best[1].remove()
                best = (score, t, box)
            else:
                t.remove()
            if score < 1:
                break
        placed.append(best[2])


def _point_label(row) -> str:
    label = str(row["name"])
    res = row.get("resolution")
    if res is not None and not pd.isna(res) and int(res) != 224:
        label += f" ({int(res)}px)"
    return label


def _caption(m: Metric, data: pd.DataFrame, skipped: List[Tuple[str, str]]) -> str:
    n_zoo = int((data["origin"] == "zoo").sum())
    text = (f"x: {m.short}" + (" at each model's published input resolution" if m.key in
                               ("madds", "mac") else " at batch 1, published resolution"
                               if m.key in LATENCY_METRICS else "") +
            f". y: published ImageNet top-1 (single crop). {n_zoo} zoo models"
            + (f" + {int((data['origin'] == 'user').sum())} of yours" if (data["origin"] == "user").any()
               else "") + ". Dashed: Pareto frontier (best top-1 at <= cost).")
    if skipped:
        by_reason: Dict[str, List[str]] = {}
        for n, why in skipped:
            by_reason.setdefault(why, []).append(n)
        text += " Skipped: " + "; ".join(f"{why}: {', '.join(ns)}" for why, ns in by_reason.items()) + "."
    return text


def plot_accuracy(metric_key: str = "madds", out: Union[None, str, Sequence[str]] = None,
                  names: Optional[Iterable[str]] = None, extra: Sequence[UserPoint] = (),
                  x_values: Optional[Mapping[str, float]] = None, title: Optional[str] = None,
                  data_csv: Optional[str] = None) -> PlotResult:
    """Published top-1 against a cost ``metric`` (log x) for the zoo (+ ``extra`` user points).

    ``metric_key``: ``madds`` | ``params`` | ``mac`` | ``latency_predicted`` | ``latency_measured``
    (latency needs ``x_values``).  ``out``: one path or several (``.png``, ``.svg``, ``.pdf``; the
    format follows the suffix).  ``data_csv``: also write the points.  Returns a
    :class:`PlotResult` (``.data`` holds the points).
    """
    m = metric(metric_key)
    data, skipped = accuracy_points(m.key, names, extra, x_values)
    caption = _caption(m, data, skipped)
    result = PlotResult(m.key, data, skipped, caption)
    if data_csv:
        mkdir_for(data_csv)
        fileio.write_text(data_csv, data.to_csv(index=False, float_format="%.10g"))
        result.paths.append(str(data_csv))
    if out is None:
        return result
    outs = [out] if isinstance(out, (str, os.PathLike)) else list(out)
    if data.empty:
        raise ValueError(f"no points to plot for {m.key}: " + caption)
    fig = _draw_accuracy(m, data, caption, title)
    for path in outs:
        save_figure(fig, str(path))
        result.paths.append(str(path))
    result.figure = fig
    return result


def _draw_accuracy(m: Metric, data: pd.DataFrame, caption: str, title: Optional[str]):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 7.5), dpi=150)  # no pyplot: no global state, any backend
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    styles = _family_styles(data["family"].unique())
    for fam in sorted(data["family"].unique(), key=lambda f: (f == "your model", f)):
        d = data[data["family"] == fam]
        color, marker = styles[fam]
        big = fam == "your model"
        ax.scatter(d["x"], d["y"], s=90 if big else 34, marker=marker, color=color,
                   edgecolors=np.where(d["on_pareto"], "black", "none"),
                   linewidths=0.9, label=fam, zorder=4 if big else 3)
    ax.set_xscale("log")
    xmin, xmax = data["x"].min(), data["x"].max()
    ymin, ymax = data["y"].min(), data["y"].max()
    span = math.log10(xmax / xmin) if xmax > xmin else 1.0
    ax.set_xlim(xmin / 10 ** (0.06 * span + 0.02), xmax * 10 ** (0.12 * span + 0.02))
    ax.set_ylim(ymin - 0.05 * (ymax - ymin) - 0.5, ymax + 0.05 * (ymax - ymin) + 0.5)
    front = data[data["on_pareto"]].sort_values("x")
    lines = []
    if len(front):
        fx = list(front["x"]) + [ax.get_xlim()[1]]
        fy = list(front["y"]) + [front["y"].iloc[-1]]
        ax.plot(fx, fy, drawstyle="steps-post", ls="--", lw=1.0, color="0.35", zorder=2)
        sx, sy = [fx[0]], [fy[0]]  # the staircase's corners
        for k in range(1, len(fx)):
            sx += [fx[k], fx[k]]
            sy += [fy[k - 1], fy[k]]
        lines.append((np.array(sx), np.array(sy)))
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    ax.set_xlabel(m.label)
    ax.set_ylabel("ImageNet top-1 accuracy (%), published")
    ax.set_title(title or f"Accuracy versus {m.label.split(' (')[0]}", fontsize=12)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], ls="none", marker=styles[f][1], color=styles[f][0],
                      markersize=10 if f == "your model" else 6, label=f)
               for f in sorted(data["family"].unique(), key=lambda f: (f == "your model", f))]
    handles += [Line2D([], [], ls="none", marker="o", markerfacecolor="white",
                       markeredgecolor="black", markersize=6, label="on the frontier"),
                Line2D([], [], ls="--", lw=1.0, color="0.35", label="Pareto frontier")]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7.5,
              frameon=False, title="family", title_fontsize=8)
    fig.subplots_adjust(left=0.06, right=0.84, top=0.94, bottom=0.14)
    fig.text(0.06, 0.015, caption, fontsize=7, wrap=True, va="bottom", ha="left", color="0.2")
    _place_labels(ax, data, lines=lines)
    return fig


def plot_all_accuracy(out_dir: str, extra: Sequence[UserPoint] = (),
                      latency: Optional[Mapping[str, Mapping[str, float]]] = None,
                      formats: Sequence[str] = ("png", "svg"),
                      names: Optional[Iterable[str]] = None) -> Dict[str, PlotResult]:
    """``accuracy_vs_<metric>.{png,svg,csv}`` in ``out_dir`` for madds, params, MAC and each
    latency metric present in ``latency`` (``{"latency_measured": {name: ms}, ...}``)."""
    results = {}
    keys = ["madds", "params", "mac"] + [k for k in LATENCY_METRICS if latency and latency.get(k)]
    for key in keys:
        stem = os.path.join(out_dir, f"accuracy_vs_{key}")
        results[key] = plot_accuracy(key, [f"{stem}.{f}" for f in formats], names, extra,
                                     (latency or {}).get(key), data_csv=f"{stem}.csv")
    return results
