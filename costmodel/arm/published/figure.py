"""The figure of the published-ARM comparison: published against predicted times per table,
the guideline ratios and the ordering agreement per set."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from costmodel.plots.savefig import save_figure
from costmodel.arm.published.comparison import PREDICTORS, SHORT, Comparison, baseline_rows, \
    summary_value

def plot(cmp: Comparison, path: str, predictors: Sequence[str] = ("flops", "emu", "emu_call")):
    """Published vs predicted (after each set's scale fit), log-log, one panel per table."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = [("ShuffleNetV2 Table 8 (SD810)", ["snv2_table8"]),
              ("ShuffleNetV2 App. Table 1 (SD810)",
               [cs.key for cs in cmp.sets if cs.key.startswith("snv2_appendix_")
                and not cs.key.endswith("_all")]),
              ("ShuffleNetV1 Table 8 (SD820)",
               [cs.key for cs in cmp.sets if cs.key.startswith("snv1_table8_")
                and not cs.key.endswith("_all")]),
              ("MobileNetV2 Table 4 (Pixel 1)", ["mnv2_table4"])]
    style = {"flops": ("o", "#888888"), "roofline": ("s", "#1f77b4"), "emu": ("^", "#2ca02c"),
             "emu_call": ("D", "#d62728")}
    fig = Figure(figsize=(16, 9.5))
    FigureCanvasAgg(fig)
    by_key = {cs.key: cs for cs in cmp.sets}
    s = cmp.summary
    for k, (title, keys) in enumerate(panels):
        ax = fig.add_subplot(2, 3, k + 1)
        lo, hi = math.inf, 0.0
        for p in predictors:
            xs, ys = [], []
            for key in keys:
                cs = by_key.get(key)
                if cs is None:
                    continue
                sc = summary_value(s, key, p, "scale")
                xs += list(cs.rows["ms"])
                ys += list(cs.rows[f"pred_{p}"] * sc)
            if not xs:
                continue
            accs = [summary_value(s, key, p, "pair_acc") for key in keys if key in by_key]
            acc = np.nanmean(accs) if accs else float("nan")
            m, c = style[p]
            ax.scatter(xs, ys, marker=m, s=28, facecolors="none" if p == "flops" else c,
                       edgecolors=c, label=f"{SHORT[p]} (pair acc {acc:.2f})")
            lo, hi = min(lo, *xs, *ys), max(hi, *xs, *ys)
        if hi > 0:
            ax.plot([lo * 0.8, hi * 1.25], [lo * 0.8, hi * 1.25], color="k", lw=0.8, ls="--")
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("published ms")
        ax.set_ylabel("predicted ms (scaled per set)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="upper left")
        ax.grid(True, which="both", alpha=0.25)
    # guideline tables: time relative to the first row of the same width column (scale-free)
    ax = fig.add_subplot(2, 3, 5)
    lo, hi = math.inf, 0.0
    for p in predictors:
        xs, ys = [], []
        for cs in cmp.sets:
            if not cs.key.startswith("snv2_G"):
                continue
            rows = cs.rows.reset_index(drop=True)
            for i, b in enumerate(baseline_rows(cs)):
                if i != b:
                    xs.append(rows.loc[i, "ms"] / rows.loc[b, "ms"])
                    ys.append(rows.loc[i, f"pred_{p}"] / rows.loc[b, f"pred_{p}"])
        if xs:
            m, c = style[p]
            ax.scatter(xs, ys, marker=m, s=28, facecolors="none" if p == "flops" else c,
                       edgecolors=c, label=SHORT[p])
            lo, hi = min(lo, *xs, *ys), max(hi, *xs, *ys)
    if hi > 0:
        ax.plot([lo * 0.97, hi * 1.03], [lo * 0.97, hi * 1.03], color="k", lw=0.8, ls="--")
        ax.axhline(1.0, color="k", lw=0.5, ls=":")
        ax.axvline(1.0, color="k", lw=0.5, ls=":")
    ax.set_title("ShuffleNetV2 Tables 1-4 (SD810): time / column's first row", fontsize=10)
    ax.set_xlabel("published ratio")
    ax.set_ylabel("predicted ratio")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper left")
    ax.grid(True, alpha=0.25)

    ax = fig.add_subplot(2, 3, 6)
    sets = [cs.key for cs in cmp.sets if not cs.key.endswith("_all")]
    x = np.arange(len(sets))
    width = 0.8 / len(PREDICTORS)
    for i, p in enumerate(PREDICTORS):
        vals = [summary_value(s, key, p, "pair_acc") for key in sets]
        ax.bar(x + i * width, vals, width, color=style[p][1], label=SHORT[p])
    ax.axhline(0.5, color="k", lw=0.8, ls=":")
    ax.set_xticks(x + 0.4 - width / 2)
    ax.set_xticklabels([k.replace("snv2_", "v2 ").replace("snv1_table8_", "v1 ")
                        .replace("appendix_", "A1 ").replace("mnv2_table4", "MNv2 T4")
                        .replace("table8", "T8") for k in sets], rotation=60, fontsize=7,
                       ha="right")
    ax.set_ylim(0, 1.2)
    ax.set_ylabel("pairwise-order accuracy")
    ax.set_title("ordering agreement per set", fontsize=10)
    ax.legend(fontsize=7, ncol=4, loc="upper center", framealpha=0.9)
    fig.suptitle("Published ARM speeds vs FLOPs-only and costmodel spec-profile predictions "
                 "(each predictor scaled by one factor per set)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    save_figure(fig, path, dpi=110)
    return path
