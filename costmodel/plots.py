"""Accuracy-versus-cost plots of the zoo, the zoo summary table and per-layer SVG bars.

Every plot function returns a :class:`PlotResult` whose ``data`` DataFrame holds the points behind
the picture (``name, family, x, y, on_pareto, resolution, origin``), so tests and users check the
numbers, not the pixels.  The x values are costmodel's own analysis of each zoo model at its
published resolution (cached per process); y is the paper's ImageNet top-1
(``zoo.entry(name).published.top1``).  Models without a published top-1 are skipped and named in
the plot's caption.

Latency plots need per-model milliseconds: pass them (``x_values={name: ms}``, or a CSV through the
CLI's ``--timings``), or let :func:`zoo_latency` ask :mod:`costmodel.latency` when it is installed.

matplotlib is imported lazily: :func:`layer_bars_svg` (used by the HTML report) needs only the
standard library.
"""
from __future__ import annotations

import functools
import html
import math
import os
import warnings
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from costmodel.analysis import UnsupportedOpWarning, analyze
from costmodel.report import CostReport, human
from costmodel.zoo import registry

#: op kinds whose multiply-adds the papers count ("FLOPs" of conv and fully-connected layers)
CONV_LINEAR_KINDS = frozenset({"conv", "pointwise_conv", "depthwise_conv", "group_conv",
                               "dilated_conv", "transposed_conv", "linear"})


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
# zoo costs (cached per process)
# ---------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def zoo_report(name: str) -> CostReport:
    """costmodel's analysis of zoo model ``name`` at its published resolution (cached)."""
    e = registry.entry(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnsupportedOpWarning)
        rep = analyze(registry.create(name), e.input_shape, warn=False)
    rep.model_name = name
    return rep


def conv_linear_madds(report: CostReport) -> int:
    """Multiply-adds of conv and linear layers only (what the papers' tables count)."""
    df = report.layers
    return int(df.loc[df["kind"].isin(CONV_LINEAR_KINDS), "madds"].sum())


def zoo_costs(names: Optional[Iterable[str]] = None, progress: bool = False) -> pd.DataFrame:
    """One row per zoo model: costmodel's counts beside the published figures.

    Columns: ``name, family, resolution, params, madds, madds_conv_linear, flops, mac, mac_bytes,
    pub_params_m, pub_madds_m, top1, source``.
    """
    names = list(registry.names() if names is None else names)
    it = names
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(names, desc="analyzing zoo", unit="model", leave=False)
    rows = []
    for name in it:
        e = registry.entry(name)
        rep = zoo_report(name)
        p = e.published
        rows.append({"name": name, "family": e.family, "resolution": p.resolution,
                     **{k: rep.total[k] for k in ("params", "madds")},
                     "madds_conv_linear": conv_linear_madds(rep),
                     **{k: rep.total[k] for k in ("flops", "mac", "mac_bytes")},
                     "pub_params_m": p.params_m, "pub_madds_m": p.madds_m, "top1": p.top1,
                     "source": p.source})
    df = pd.DataFrame(rows)
    for c in ("pub_params_m", "pub_madds_m", "top1"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    return df


def zoo_table(names: Optional[Iterable[str]] = None, progress: bool = False) -> pd.DataFrame:
    """:func:`zoo_costs` plus the gaps to the published figures, in percent.

    ``params_gap_pct`` = costmodel params vs published params; ``madds_gap_pct`` = costmodel's
    conv+linear multiply-adds vs the published multiply-adds (papers count conv + linear only).
    NaN where the paper gives no figure.
    """
    df = zoo_costs(names, progress)
    df.insert(df.columns.get_loc("source"), "params_gap_pct",
              100.0 * (df["params"] / 1e6 - df["pub_params_m"]) / df["pub_params_m"])
    df.insert(df.columns.get_loc("source"), "madds_gap_pct",
              100.0 * (df["madds_conv_linear"] / 1e6 - df["pub_madds_m"]) / df["pub_madds_m"])
    return df


def _fmt(v, fmt: str, suffix: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return format(v, fmt) + suffix


def zoo_table_markdown(table: Optional[pd.DataFrame] = None, source: bool = True) -> str:
    """The zoo summary table as GitHub Markdown (what the README's zoo table quotes)."""
    df = zoo_table() if table is None else table
    head = ["model", "family", "res", "params (M)", "madds all (M)", "madds conv+fc (M)",
            "MAC (M el.)", "paper params (M)", "paper madds (M)", "top-1 (%)", "params gap",
            "madds gap"] + (["source"] if source else [])
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join(["---", "---"] + ["---:"] * (len(head) - 2 - source)
                            + (["---"] if source else [])) + "|"]
    for r in df.itertuples(index=False):
        cells = [f"`{r.name}`", r.family, str(r.resolution), _fmt(r.params / 1e6, ".2f"),
                 _fmt(r.madds / 1e6, ".1f"), _fmt(r.madds_conv_linear / 1e6, ".1f"),
                 _fmt(r.mac / 1e6, ".1f"), _fmt(r.pub_params_m, "g"), _fmt(r.pub_madds_m, "g"),
                 _fmt(r.top1, "g"), _fmt(r.params_gap_pct, "+.1f", "%"),
                 _fmt(r.madds_gap_pct, "+.1f", "%")]
        if source:
            cells.append(str(r.source or "-"))
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# latency hook (optional: costmodel.latency is built separately)
# ---------------------------------------------------------------------------------------------
class LatencyUnavailable(RuntimeError):
    """Latency figures cannot be produced here (package missing, no profile, ...)."""


def _latency_module():
    try:
        import costmodel.latency as lat  # noqa: WPS433
    except ImportError as exc:
        raise LatencyUnavailable(f"costmodel.latency is not available ({exc})") from None
    return lat


def _as_ms(result) -> float:
    """A latency result (number of ms, or an object/dict carrying one) -> float ms."""
    if isinstance(result, (int, float, np.floating)):
        return float(result)
    for key in ("total_ms", "median_ms", "ms", "latency_ms", "predicted_ms", "mean_ms"):
        v = result.get(key) if isinstance(result, Mapping) else getattr(result, key, None)
        if v is not None:
            return float(v)
    raise LatencyUnavailable(f"cannot read milliseconds from {type(result).__name__}")


def _call(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` keeping only the keywords ``fn`` accepts (the latency API is young)."""
    import inspect

    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return fn(*args, **kwargs)
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        kwargs = {k: v for k, v in kwargs.items() if k in params}
    return fn(*args, **kwargs)


def _latency_attr(name: str):
    lat = _latency_module()
    obj = getattr(lat, name, None)
    if obj is None:
        import importlib

        for sub in ("measure", "predict", "profile"):
            try:
                obj = getattr(importlib.import_module(f"costmodel.latency.{sub}"), name, None)
            except ImportError:
                obj = None
            if obj is not None:
                break
    return obj


def load_profile(path: str):
    """``costmodel.latency.DeviceProfile.load(path)`` (a profile from ``costmodel calibrate``)."""
    prof_cls = _latency_attr("DeviceProfile")
    if prof_cls is None or not hasattr(prof_cls, "load"):
        raise LatencyUnavailable("costmodel.latency has no DeviceProfile.load")
    if not os.path.isfile(path):
        raise LatencyUnavailable(f"device profile not found: {path}")
    return prof_cls.load(path)


def default_profile(quick: bool = False, path: Optional[str] = None):
    """The device profile at ``path``; without one, the latency package's default profile if it
    offers one, else :class:`LatencyUnavailable` saying how to make one (a calibration takes
    minutes, so it is never started behind the user's back)."""
    if path is not None:
        return load_profile(path)
    fn = _latency_attr("default_profile")
    if callable(fn):
        prof = fn()
        if prof is not None:
            return prof
    raise LatencyUnavailable("no device profile: run `costmodel calibrate --out profile.json` "
                             "and pass --profile profile.json")


def calibrate_profile(out: Optional[str] = None, quick: bool = False, threads=(1, 2)):
    """Calibrate this machine (``costmodel.latency.calibrate``; ``quick``: a 45-second budget,
    else the package's default) and save the profile to ``out``."""
    fn = _latency_attr("calibrate")
    if fn is None:
        raise LatencyUnavailable("costmodel.latency has no calibrate")
    kw = dict(budget_s=45.0) if quick else {}
    return _call(fn, out=out, threads=tuple(threads), progress=False, **kw)


def predict_result(model, input_shape, profile, report: Optional[CostReport] = None):
    """``costmodel.latency.predict_latency`` of one model (the raw result)."""
    fn = _latency_attr("predict_latency")
    if fn is None:
        raise LatencyUnavailable("costmodel.latency has no predict_latency yet")
    import inspect

    first = next(iter(inspect.signature(fn).parameters), "")
    if first == "report" and report is not None:
        return _call(fn, report, profile)
    return _call(fn, model, input_shape, profile, report=report)


def predicted_ms(model, input_shape, profile, report: Optional[CostReport] = None) -> float:
    """Predicted milliseconds of one model with ``profile`` (``predict_latency``)."""
    return _as_ms(predict_result(model, input_shape, profile, report))


def measured_ms(model, input_shape, quick: bool = False) -> float:
    """Median end-to-end milliseconds of one model on this machine (``measure_latency``, batch 1,
    1 thread, no per-layer replay; ``quick``: tiny budget)."""
    fn = _latency_attr("measure_latency")
    if fn is None:
        raise LatencyUnavailable("costmodel.latency has no measure_latency yet")
    budget = dict(min_time_s=0.05, repeats=2) if quick else dict(min_time_s=0.5, repeats=3)
    return _as_ms(_call(fn, model, input_shape, per_layer=False, **budget))


def zoo_latency(kind: str, names: Optional[Iterable[str]] = None, quick: bool = False,
                profile=None, on_model: Optional[Callable[[str], None]] = None) -> Dict[str, float]:
    """``{name: ms}`` for the zoo: ``kind`` is ``"predicted"`` or ``"measured"``.

    Raises :class:`LatencyUnavailable` (with the reason) when costmodel.latency is missing or
    cannot give figures here.  ``on_model(name)`` is called after each model (progress bars).
    """
    kind = kind.replace("latency_", "")
    if kind not in ("predicted", "measured"):
        raise ValueError(f"kind must be 'predicted' or 'measured', got {kind!r}")
    names = list(registry.names() if names is None else names)
    if kind == "predicted" and profile is None:
        profile = default_profile(quick)
    out = {}
    for name in names:
        model = registry.create(name).eval()
        shape = registry.entry(name).input_shape
        if kind == "predicted":
            out[name] = predicted_ms(model, shape, profile, zoo_report(name))
        else:
            out[name] = measured_ms(model, shape, quick)
        if on_model:
            on_model(name)
    return out


def read_timings(path: str, threads: Optional[int] = None) -> Dict[str, Dict[str, float]]:
    """Per-model milliseconds from a file -> ``{"latency_measured": {name: ms}, ...}``.

    A CSV needs ``name`` and ``measured_ms`` and/or ``predicted_ms`` columns; a JSON timing file
    of ``costmodel bench`` / ``validate-report`` (format ``costmodel-timings``) gives measured ms
    at ``threads`` threads (default: the smallest thread count in the file).
    """
    if str(path).lower().endswith(".json"):
        import json

        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        if not isinstance(doc, dict) or doc.get("format") != "costmodel-timings":
            raise ValueError(f"{path}: not a costmodel-timings JSON file")
        models = [m for m in doc.get("models", []) if isinstance(m, dict)]
        counts = sorted({int(m.get("threads", 1)) for m in models})
        th = threads if threads is not None else (counts[0] if counts else 1)
        out = {str(m["name"]): float(m["total_ms"]) for m in models
               if int(m.get("threads", 1)) == th and m.get("total_ms")}
        if not out:
            raise ValueError(f"{path}: no model timed at {th} thread(s)")
        return {"latency_measured": out}
    df = pd.read_csv(path)
    if "name" not in df.columns:
        raise ValueError(f"{path}: timings CSV needs a 'name' column")
    out = {}
    for col, key in (("measured_ms", "latency_measured"), ("predicted_ms", "latency_predicted")):
        if col in df.columns:
            sub = df[["name", col]].dropna()
            out[key] = {str(n): float(v) for n, v in zip(sub["name"], sub[col])}
    if not out:
        raise ValueError(f"{path}: timings CSV needs a measured_ms or predicted_ms column")
    return out


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
        _mkdir_for(data_csv)
        data.to_csv(data_csv, index=False, float_format="%.10g")
        result.paths.append(str(data_csv))
    if out is None:
        return result
    outs = [out] if isinstance(out, (str, os.PathLike)) else list(out)
    if data.empty:
        raise ValueError(f"no points to plot for {m.key}: " + caption)
    fig = _draw_accuracy(m, data, caption, title)
    for path in outs:
        _save(fig, str(path))
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


def _mkdir_for(path: str):
    d = os.path.dirname(os.path.abspath(str(path)))
    os.makedirs(d, exist_ok=True)


def _save(fig, path: str):
    import matplotlib

    _mkdir_for(path)
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in ("png", "svg", "pdf", "jpg", "jpeg"):
        raise ValueError(f"cannot tell the image format of {path!r}: use .png, .svg or .pdf")
    meta = {"svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None},
            "png": {"Software": None}}.get(ext)
    with matplotlib.rc_context({"svg.hashsalt": "costmodel", "svg.fonttype": "path"}):
        fig.savefig(path, metadata=meta)


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


# ---------------------------------------------------------------------------------------------
# per-layer bars for the HTML report (inline SVG, standard library only)
# ---------------------------------------------------------------------------------------------
#: columns :func:`layer_bars_section` takes as per-layer time when present (first match wins)
TIME_COLUMNS = ("pred_ms", "predicted_ms", "time_ms", "latency_ms")
_KIND_COLORS = {"conv": "#1f77b4", "pointwise_conv": "#4e79a7", "depthwise_conv": "#59a14f",
                "group_conv": "#76b7b2", "dilated_conv": "#9c755f", "transposed_conv": "#b07aa1",
                "linear": "#edc948", "matmul": "#e6b800", "norm": "#f28e2b", "act": "#e15759",
                "pool": "#bab0ac", "concat": "#ff9da7", "shuffle": "#d37295", "elementwise": "#8cd17d",
                "shift": "#499894", "copy": "#fabfd2", "resample": "#86bcb6", "upsample": "#86bcb6",
                "reduction": "#b6992d"}
_BAR_COLORS = {"madds": "#4e79a7", "mac": "#e15759", "time": "#59a14f"}


def _kind_color(kind: str) -> str:
    return _KIND_COLORS.get(kind, "#999999")


def layer_bars_svg(layers: pd.DataFrame, time_col: Optional[str] = None,
                   ridge: Optional[float] = None, max_label: int = 44) -> str:
    """Inline SVG: what share of the model's madds, MAC (and predicted time) each layer takes.

    Top: three 100%-stacked bars (madds, MAC, time) split by op kind.  Below: one row per layer
    that has any cost, with side-by-side bars of its madds share, MAC share and (``time_col``)
    time share on one common scale.  A layer is flagged memory-bound (orange name, ``M``) when its
    arithmetic intensity is below ``ridge`` (flops/byte of the device) or, without a ridge, when
    its share of MAC exceeds its share of madds.  Hover a row for exact figures.
    """
    df = layers.reset_index(drop=True)
    has_time = bool(time_col) and time_col in df.columns
    t = pd.to_numeric(df[time_col], errors="coerce").fillna(0.0) if has_time else None
    cost = (df["madds"] > 0) | (df["mac"] > 0)
    if has_time:
        cost |= t > 0
    tot_madds = max(float(df["madds"].sum()), 1.0)
    tot_mac = max(float(df["mac"].sum()), 1.0)
    tot_t = max(float(t.sum()), 1e-30) if has_time else 1.0
    metrics = [("madds", "madds share", df["madds"] / tot_madds),
               ("mac", "MAC share", df["mac"] / tot_mac)]
    if has_time:
        metrics.append(("time", "predicted time share", t / tot_t))
    rows = df.index[cost].tolist()

    e = html.escape
    label_w, col_w, pct_w, row_h, gap = 330, 150, 44, 14, 10
    width = label_w + len(metrics) * (col_w + pct_w + gap) + 10
    out: List[str] = []
    y = 18
    out.append(f'<text x="0" y="{y}" font-weight="bold">Share of the model by op kind</text>')
    y += 8
    # ---- stacked bars by kind
    kinds = df.loc[cost, "kind"].astype(str)
    kind_order = list(dict.fromkeys(
        df.loc[cost].groupby("kind", sort=False)["mac"].sum().sort_values(ascending=False).index))
    stack_w = width - label_w - 10
    for key, title, share in metrics:
        x = label_w
        out.append(f'<text x="{label_w - 8}" y="{y + 11}" text-anchor="end">{e(title)}</text>')
        for kind in kind_order:
            s = float(share[cost][kinds == kind].sum())
            if s <= 0:
                continue
            w = s * stack_w
            out.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="14" '
                       f'fill="{_kind_color(kind)}" stroke="#fff" stroke-width="0.5">'
                       f'<title>{e(kind)}: {100 * s:.1f}% of {e(title.split(" share")[0])}</title></rect>')
            text = f"{kind} {100 * s:.0f}%"
            if w > 6.2 * len(text) + 6:  # only where the label fits its segment
                out.append(f'<text x="{x + 3:.1f}" y="{y + 11}" fill="#fff" font-size="10">'
                           f'{e(text)}</text>')
            x += w
        y += 18
    # legend of kinds
    x = label_w
    for kind in kind_order:
        lw = 14 + 6.5 * len(kind) + 10
        if x + lw > width:
            x = label_w
            y += 14
        out.append(f'<rect x="{x}" y="{y + 2}" width="10" height="10" fill="{_kind_color(kind)}"/>'
                   f'<text x="{x + 13}" y="{y + 11}" font-size="10">{e(kind)}</text>')
        x += lw
    y += 30
    # ---- per-layer rows
    scale = max([float(s[rows].max()) for _, _, s in metrics if len(rows)] + [1e-12])
    out.append(f'<text x="0" y="{y}" font-weight="bold">Per layer ({len(rows)} layers with a cost; '
               f'bars on one scale, full column = {100 * scale:.1f}%)</text>')
    y += 8
    for c, (key, title, _) in enumerate(metrics):
        x0 = label_w + c * (col_w + pct_w + gap)
        out.append(f'<text x="{x0}" y="{y + 10}" font-weight="bold" fill="{_BAR_COLORS[key]}">'
                   f'{e(title)}</text>')
    y += 16
    intensity = pd.to_numeric(df.get("intensity"), errors="coerce") if "intensity" in df else None
    for i in rows:
        r = df.loc[i]
        ms, cs = float(metrics[0][2][i]), float(metrics[1][2][i])
        if ridge is not None and intensity is not None and not pd.isna(intensity[i]):
            mem = float(intensity[i]) < ridge
        else:
            mem = cs > ms
        name = str(r["name"])
        short = name if len(name) <= max_label else "..." + name[-(max_label - 3):]
        tip = (f"{name} [{r['kind']}] out {r.get('out_shape', '')}: madds {human(r['madds'])} "
               f"({100 * ms:.2f}%), MAC {human(r['mac'])} elements ({100 * cs:.2f}%)")
        if intensity is not None and not pd.isna(intensity[i]):
            tip += f", intensity {float(intensity[i]):.2f} flop/B"
        if has_time:
            tip += f", predicted {float(t[i]):.4g} ms ({100 * float(metrics[2][2][i]):.2f}%)"
        if mem:
            tip += " - memory-bound"
        cls = "cm-mem" if mem else "cm-cmp"
        out.append(f'<g class="cm-layer {cls}"><title>{e(tip)}</title>')
        if (rows.index(i) % 2) == 0:
            out.append(f'<rect x="0" y="{y}" width="{width}" height="{row_h}" fill="#f4f4f4"/>')
        out.append(f'<rect x="2" y="{y + 3}" width="8" height="8" fill="{_kind_color(str(r["kind"]))}"/>')
        color = "#c25400" if mem else "#222"
        out.append(f'<text x="14" y="{y + 11}" fill="{color}">{"M " if mem else ""}{e(short)}</text>')
        for c, (key, _, share) in enumerate(metrics):
            s = float(share[i])
            x0 = label_w + c * (col_w + pct_w + gap)
            w = col_w * s / scale if scale > 0 else 0
            out.append(f'<rect x="{x0}" y="{y + 2}" width="{max(w, 0):.2f}" height="{row_h - 4}" '
                       f'fill="{_BAR_COLORS[key]}"/>')
            out.append(f'<text x="{x0 + col_w + pct_w - 4}" y="{y + 11}" text-anchor="end" '
                       f'font-size="10">{100 * s:.1f}%</text>')
        out.append("</g>")
        y += row_h
    height = y + 6
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="cm-layer-bars" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" '
            f'font-size="11">' + "".join(out) + "</svg>")


def layer_bars_section(layers: pd.DataFrame, time_col: Optional[str] = "auto",
                       ridge: Optional[float] = None) -> str:
    """The HTML report's "Per-layer shares" section: heading, one line of help, the SVG.

    ``time_col="auto"`` uses the first of :data:`TIME_COLUMNS` present in ``layers``.
    """
    if time_col == "auto":
        time_col = next((c for c in TIME_COLUMNS if c in layers.columns), None)
    rule = (f"arithmetic intensity below {ridge:g} flop/byte" if ridge is not None
            else "its share of MAC exceeds its share of madds")
    note = (f"Bars: each layer's share of the model's multiply-adds, memory access cost"
            f"{' and predicted time' if time_col else ''}. Names marked M in orange are "
            f"memory-bound ({rule}). Hover a row for the figures.")
    if not time_col:
        note += " No per-layer predicted time in this report."
    return (f'<h2 id="layer-bars">Per-layer shares</h2><p>{html.escape(note)}</p>'
            + layer_bars_svg(layers, time_col, ridge))
