"""Per-layer share bars of a model (inline SVG, for the HTML report and ``costmodel plot
layers``): what share of the model's multiply-adds, MAC and predicted time each layer takes.
Standard library and pandas only (no matplotlib)."""
from __future__ import annotations

import html
from typing import List, Optional, Sequence

import pandas as pd

from costmodel.numfmt import human

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
                   ridge: Optional[float] = None, max_label: int = 44,
                   only: Optional[Sequence[int]] = None) -> str:
    """Inline SVG: what share of the model's madds, MAC (and predicted time) each layer takes.

    Top: three 100%-stacked bars (madds, MAC, time) split by op kind.  Below: one row per layer
    that has any cost, with side-by-side bars of its madds share, MAC share and (``time_col``)
    time share on one common scale.  A layer is flagged memory-bound (orange name, ``M``) when its
    arithmetic intensity is below ``ridge`` (flops/byte of the device) or, without a ridge, when
    its share of MAC exceeds its share of madds.  Hover a row for exact figures.  ``only``: rows
    for just these layers (positions in ``layers``, in this order); the shares stay shares of
    the whole model.
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
    n_costed = len(rows)
    if only is not None:
        rows = [i for i in only if cost[i]]

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
    which = (f"{len(rows)} layers with a cost" if only is None
             else f"{len(rows)} of the {n_costed} layers with a cost")
    out.append(f'<text x="0" y="{y}" font-weight="bold">Per layer ({which}; '
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
                       ridge: Optional[float] = None, only: Optional[Sequence[int]] = None) -> str:
    """The HTML report's "Per-layer shares" section: heading, one line of help, the SVG.

    ``time_col="auto"`` uses the first of :data:`TIME_COLUMNS` present in ``layers``; ``only``:
    see :func:`layer_bars_svg`.
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
            + layer_bars_svg(layers, time_col, ridge, only=only))
