"""Per-layer share bars of a model (inline SVG, for the HTML report and ``costmodel plot
layers``): what share of the model's multiply-adds, MAC and predicted time each layer takes.
Standard library and pandas only (no matplotlib)."""
from __future__ import annotations

import html
from typing import Optional, Sequence

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
    It is as wide as the page (or window) it is in; text is 13 px.

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
    # horizontal positions are percentages of the drawing's width (it fills the page), vertical
    # ones and fonts are pixels: the bars stretch with the page, the text stays readable
    name_end, bars_start = 33.0, 35.0
    span = (99.0 - bars_start) / len(metrics)  # one column per metric
    bar_max = span - 7.0                        # the rest of the column: the percentage

    def col(c: int) -> float:
        return bars_start + c * span

    row_h, out = 20, []
    y = 18
    out.append(f'<text x="0" y="{y}" font-weight="bold">Share of the model by op kind</text>')
    y += 8
    # ---- stacked bars by kind
    kinds = df.loc[cost, "kind"].astype(str)
    kind_order = list(dict.fromkeys(
        df.loc[cost].groupby("kind", sort=False)["mac"].sum().sort_values(ascending=False).index))
    for key, title, share in metrics:
        x = bars_start
        out.append(f'<text x="{name_end}%" y="{y + 13}" text-anchor="end">{e(title)}</text>')
        for kind in kind_order:
            s = float(share[cost][kinds == kind].sum())
            if s <= 0:
                continue
            w = s * (99.0 - bars_start)
            out.append(f'<rect x="{x:.2f}%" y="{y}" width="{w:.2f}%" height="18" '
                       f'fill="{_kind_color(kind)}" stroke="#fff" stroke-width="0.5">'
                       f'<title>{e(kind)}: {100 * s:.1f}% of {e(title.split(" share")[0])}</title></rect>')
            # the label, clipped to its segment (a nested svg hides what does not fit)
            out.append(f'<svg x="{x:.2f}%" y="{y}" width="{w:.2f}%" height="18">'
                       f'<text x="4" y="13" fill="#fff">{e(kind)} {100 * s:.0f}%</text></svg>')
            x += w
        y += 22
    # legend of kinds, in columns
    per_row = 5
    for k, kind in enumerate(kind_order):
        x = bars_start + (k % per_row) * (99.0 - bars_start) / per_row
        if k and k % per_row == 0:
            y += 18
        out.append(f'<svg x="{x:.2f}%" y="{y}" width="{(99.0 - bars_start) / per_row:.2f}%" '
                   f'height="18"><rect x="0" y="3" width="12" height="12" '
                   f'fill="{_kind_color(kind)}"/><text x="16" y="14">{e(kind)}</text></svg>')
    y += 40
    # ---- per-layer rows
    scale = max([float(s[rows].max()) for _, _, s in metrics if len(rows)] + [1e-12])
    which = (f"{len(rows)} layers with a cost" if only is None
             else f"{len(rows)} of the {n_costed} layers with a cost")
    out.append(f'<text x="0" y="{y}" font-weight="bold">Per layer ({which}; '
               f'bars on one scale, full column = {100 * scale:.1f}%)</text>')
    y += 8
    for c, (key, title, _) in enumerate(metrics):
        out.append(f'<text x="{col(c):.2f}%" y="{y + 14}" font-weight="bold" '
                   f'fill="{_BAR_COLORS[key]}">{e(title)}</text>')
    y += 22
    intensity = pd.to_numeric(df.get("intensity"), errors="coerce") if "intensity" in df else None
    for n, i in enumerate(rows):
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
        if n % 2 == 0:
            out.append(f'<rect x="0" y="{y}" width="100%" height="{row_h}" fill="#f4f4f4"/>')
        color = "#c25400" if mem else "#222"
        out.append(f'<svg x="0" y="{y}" width="{name_end}%" height="{row_h}">'
                   f'<rect x="2" y="5" width="9" height="9" fill="{_kind_color(str(r["kind"]))}"/>'
                   f'<text x="16" y="14" fill="{color}">{"M " if mem else ""}{e(short)}</text></svg>')
        for c, (key, _, share) in enumerate(metrics):
            s = float(share[i])
            w = bar_max * s / scale if scale > 0 else 0
            out.append(f'<rect x="{col(c):.2f}%" y="{y + 5}" width="{max(w, 0):.3f}%" '
                       f'height="10" fill="{_BAR_COLORS[key]}"/>')
            out.append(f'<text x="{col(c) + span - 1.5:.2f}%" y="{y + 14}" text-anchor="end">'
                       f'{100 * s:.1f}%</text>')
        out.append("</g>")
        y += row_h
    height = y + 6
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="cm-layer-bars" width="100%" '
            f'height="{height}" font-family="sans-serif" font-size="13">'
            + "".join(out) + "</svg>")


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
