"""Plots of the few-shot evaluation: leave-one-out predicted against published time, one figure
per device, one panel per evaluation set of one input size."""
from __future__ import annotations

import math
from typing import Dict, List

import numpy as np

from costmodel.arm.published.evaluation import SHORT, Evaluation
from costmodel.plots.savefig import save_figure

STYLE = {"fewshot": ("D", "#d62728"), "flops": ("o", "#7f7f7f"), "flops_mac": ("s", "#1f77b4")}


def plot_k(ev: Evaluation, key: str, want: int = 5) -> int:
    """The k a set's plot shows: ``want`` if the set has it, else the largest k below."""
    ks = sorted(k for (s, k) in ev.results if s == key and 0 < k <= want)
    return ks[-1] if ks else 0


def _short(name: str) -> str:
    return (name.replace("shufflenet_", "sn").replace("mobilenet_", "mn").replace("_x", " ")
            .replace("_g3", "g3"))


def plot_device(ev: Evaluation, device: str, path: str, want_k: int = 5) -> List[str]:
    """One PNG for ``device``; returns the set keys drawn."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    sets = [es for es in ev.sets if es.device == device and es.res is not None
            and len(es.rows) >= 2]
    cols = min(3, len(sets))
    rows = math.ceil(len(sets) / cols)
    fig = Figure(figsize=(5.6 * cols, 5.0 * rows + 0.6))
    FigureCanvasAgg(fig)
    for n, es in enumerate(sets):
        ax = fig.add_subplot(rows, cols, n + 1)
        k = plot_k(ev, es.key, want_k)
        res = ev.results[(es.key, k)]
        t = es.rows["ms"].to_numpy(float)
        lo, hi = t.min(), t.max()
        for p, (marker, color) in STYLE.items():
            pr = res.pred[p]
            if not np.isfinite(pr).any():
                continue
            med = np.nanmedian(pr, axis=0)
            q1, q3 = np.nanquantile(pr, 0.25, axis=0), np.nanquantile(pr, 0.75, axis=0)
            mape = float(np.mean(np.abs(med - t) / t) * 100)
            ax.errorbar(t, med, yerr=[med - q1, q3 - med], fmt=marker, color=color, ms=5,
                        alpha=0.85, capsize=2, lw=0.8,
                        label=f"{SHORT[p]} (MAPE of the median predictions {mape:.0f}%)")
            lo, hi = min(lo, np.nanmin(q1)), max(hi, np.nanmax(q3))
        lo, hi = lo / 1.25, hi * 1.25
        if len(es.rows) <= 16:
            med = np.nanmedian(res.pred["fewshot"], axis=0)
            for x, y, z in zip(t, med, es.rows["zoo"]):
                # labels of points in the right third go to their left, inside the axes
                right = math.log(x / lo) > 0.66 * math.log(hi / lo)
                ax.annotate(_short(z), (x, y), textcoords="offset points",
                            xytext=(-4, -3) if right else (4, -3), ha="right" if right else "left",
                            fontsize=6.5, color="#8c1a1a")
        # a narrow range (e.g. 75-143 ms) needs more ticks than 1-2-5 per decade
        subs = (1.0, 2.0, 5.0) if hi / lo > 4 else tuple(float(i) for i in range(1, 10))
        xs = np.array([lo, hi])
        ax.plot(xs, xs, "k-", lw=0.8)
        ax.fill_between(xs, xs / 1.1, xs * 1.1, color="#cccccc", alpha=0.4, lw=0,
                        label="+-10%")
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(LogLocator(base=10, subs=subs))
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            axis.set_minor_formatter(NullFormatter())
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_xlabel("published time, ms")
        ax.set_ylabel(f"predicted time, ms (leave-one-out, k={k} timings)")
        ax.set_title(f"{es.title}\n(n={len(es.rows)}, {len(res.pred['fewshot'])} draws; "
                     "bars: 25-75% over draws)", fontsize=8.5)
        ax.legend(fontsize=7, loc="upper left")
        ax.grid(True, which="both", alpha=0.25)
    fig.suptitle(f"{device}: published vs leave-one-out predicted time (few-shot profile and "
                 "baselines fitted on the same k timings of the other networks)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    save_figure(fig, path)
    return [es.key for es in sets]


def plot_all(ev: Evaluation, path_of) -> Dict[str, str]:
    """One PNG per device (``path_of(device)``); {device: path}."""
    out = {}
    for dev in dict.fromkeys(es.device for es in ev.sets):
        if any(es.device == dev and es.res is not None and len(es.rows) >= 2 for es in ev.sets):
            plot_device(ev, dev, path_of(dev))
            out[dev] = path_of(dev)
    return out
