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

import os
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from costmodel.analysis import analyze
from costmodel.plots.axes import log_limits
from costmodel.plots.labels import place_labels
from costmodel.plots.savefig import add_caption, new_figure, save_figures, write_csv
from costmodel.plots.styles import family_styles
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
    threads: Optional[int] = None  # latency metrics: the thread count


METRICS: Dict[str, Metric] = {
    "madds": Metric("madds", "multiply-adds of all ops: conv, linear, norm, pooling, ... "
                             "(millions, log scale; papers count conv+fc only)",
                    "costmodel's multiply-adds of all ops (conv, linear, norm, pooling, ...; the "
                    "papers' figures count conv and fc layers only: zoo.csv has both)",
                    1e-6, "M"),
    "params": Metric("params", "parameters (millions, log scale)",
                     "costmodel's parameter count", 1e-6, "M"),
    "mac": Metric("mac", "memory access cost, MAC (million elements, log scale)",
                  "costmodel's memory access cost (elements read + written, ShuffleNetV2's MAC)",
                  1e-6, "M"),
}
for _t in (1, 2):
    _sfx = "" if _t == 1 else f"_{_t}t"
    METRICS["latency_predicted" + _sfx] = Metric(
        "latency_predicted" + _sfx, f"predicted latency, {_t} thread{'s' if _t > 1 else ''} "
                                    f"(ms, log scale)",
        f"latency at {_t} thread{'s' if _t > 1 else ''} predicted by a costmodel.latency device "
        f"profile", 1.0, "ms", _t)
    METRICS["latency_measured" + _sfx] = Metric(
        "latency_measured" + _sfx, f"measured latency, {_t} thread{'s' if _t > 1 else ''} "
                                   f"(ms, log scale)",
        f"median latency measured at {_t} thread{'s' if _t > 1 else ''}", 1.0, "ms", _t)
LATENCY_METRICS = ("latency_predicted", "latency_measured", "latency_predicted_2t",
                   "latency_measured_2t")


def metric(key: str) -> Metric:
    """The metric named ``key`` (``madds``, ``params``, ``mac``, ``latency-predicted[-2t]``,
    ``latency-measured[-2t]``; ``predicted`` / ``measured`` for short)."""
    key = key.replace("-", "_")
    if key.startswith(("predicted", "measured")):
        key = "latency_" + key
    if key == "latency":
        key = "latency_predicted"
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


def zoo_families() -> List[str]:
    """Every family of the zoo, sorted: the universe of :func:`costmodel.plots.styles.family_styles`
    in every plot of zoo models, so a family looks the same in all of them."""
    return sorted({registry.entry(n).family for n in registry.names()})


def _family_styles(families: Sequence[str]):
    return family_styles(families, zoo_families())


def _point_label(row) -> str:
    label = str(row["name"])
    res = row.get("resolution")
    if res is not None and not pd.isna(res) and int(res) != 224:
        label += f" ({int(res)}px)"
    return label


def _caption(m: Metric, data: pd.DataFrame, skipped: List[Tuple[str, str]],
             x_note: Optional[str] = None) -> str:
    n_zoo = int((data["origin"] == "zoo").sum())
    text = (f"x: {m.short}" + (" at each model's published input resolution" if m.key in
                               ("madds", "mac") else " at batch 1, published resolution"
                               if m.key in LATENCY_METRICS else "")
            + (f" ({x_note})" if x_note else "") +
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
                  data_csv: Optional[str] = None, x_note: Optional[str] = None) -> PlotResult:
    """Published top-1 against a cost ``metric`` (log x) for the zoo (+ ``extra`` user points).

    ``metric_key``: ``madds`` | ``params`` | ``mac`` | ``latency_predicted[_2t]`` |
    ``latency_measured[_2t]`` (latency needs ``x_values``).  ``out``: one path or several
    (``.png``, ``.svg``, ``.pdf``; the format follows the suffix).  ``data_csv``: also write the
    points.  ``x_note``: where the x values come from (machine, date, file), for the caption.
    Returns a :class:`PlotResult` (``.data`` holds the points).
    """
    m = metric(metric_key)
    data, skipped = accuracy_points(m.key, names, extra, x_values)
    caption = _caption(m, data, skipped, x_note)
    result = PlotResult(m.key, data, skipped, caption)
    if data_csv:
        result.paths.append(write_csv(data_csv, data, "%.10g"))
    if out is None:
        return result
    if data.empty:
        raise ValueError(f"no points to plot for {m.key}: " + caption)
    fig = _draw_accuracy(m, data, caption, title)
    result.paths += save_figures(fig, out)
    result.figure = fig
    return result


def frontier_line(ax, front: pd.DataFrame, color: str = "0.35", label: Optional[str] = None):
    """Draw the staircase of a Pareto frontier (``front``: its points, ``x`` ascending) to the
    right edge; returns its corners ``(xs, ys)`` (for :func:`~costmodel.plots.labels.place_labels`)."""
    fx = list(front["x"]) + [ax.get_xlim()[1]]
    fy = list(front["y"]) + [front["y"].iloc[-1]]
    ax.plot(fx, fy, drawstyle="steps-post", ls="--", lw=1.0, color=color, zorder=2, label=label)
    sx, sy = [fx[0]], [fy[0]]
    for k in range(1, len(fx)):
        sx += [fx[k], fx[k]]
        sy += [fy[k - 1], fy[k]]
    return np.array(sx), np.array(sy)


def _draw_accuracy(m: Metric, data: pd.DataFrame, caption: str, title: Optional[str]):
    from matplotlib.lines import Line2D

    fig = new_figure()
    ax = fig.add_subplot()
    styles = _family_styles(data["family"].unique())
    fams = sorted(data["family"].unique(), key=lambda f: (f == "your model", f))
    for fam in fams:
        d = data[data["family"] == fam]
        color, marker = styles[fam]
        big = fam == "your model"
        # frontier points edged black; the others edged white, so overlapping markers stay apart
        ax.scatter(d["x"], d["y"], s=90 if big else 34, marker=marker, color=color,
                   edgecolors=np.where(d["on_pareto"] | big, "black", "white"),
                   linewidths=np.where(d["on_pareto"] | big, 0.9, 0.5), label=fam,
                   zorder=4 if big else 3)
    ax.set_xscale("log")
    ax.set_xlim(*log_limits(data["x"]))
    ymin, ymax = data["y"].min(), data["y"].max()
    ax.set_ylim(ymin - 0.05 * (ymax - ymin) - 0.5, ymax + 0.05 * (ymax - ymin) + 0.5)
    front = data[data["on_pareto"]].sort_values("x")
    lines = [frontier_line(ax, front)] if len(front) else []
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    ax.set_xlabel(m.label)
    ax.set_ylabel("ImageNet top-1 accuracy (%), published")
    ax.set_title(title or f"Accuracy versus {m.label.split(' (')[0].split(':')[0]}", fontsize=12)
    handles = [Line2D([], [], ls="none", marker=styles[f][1], color=styles[f][0],
                      markersize=10 if f == "your model" else 6, label=f) for f in fams]
    handles += [Line2D([], [], ls="none", marker="o", markerfacecolor="white",
                       markeredgecolor="black", markersize=6, label="on the frontier"),
                Line2D([], [], ls="--", lw=1.0, color="0.35", label="Pareto frontier")]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7.5,
              frameon=False, title="family", title_fontsize=8)
    fig.subplots_adjust(left=0.06, right=0.84, top=0.94, bottom=0.14)
    add_caption(fig, caption, 0.06, 0.015)
    # frontier and user points first (their labels matter most), then left to right
    order = sorted(range(len(data)), key=lambda i: (not data["on_pareto"].iat[i],
                                                     data["origin"].iat[i] != "user",
                                                     data["x"].iat[i]))
    place_labels(ax, data["x"].to_numpy(), data["y"].to_numpy(),
                 [_point_label(data.iloc[i]) for i in range(len(data))], order, lines=lines)
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
