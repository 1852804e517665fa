"""The zoo summary table: costmodel's counts of every zoo model beside its published figures
(``reports/zoo.md``, the README's zoo table).

:func:`zoo_report` analyzes a zoo model at its published resolution once per process; the
accuracy plots (:mod:`costmodel.plots.accuracy`) and the reports folder use the same cache.
"""
from __future__ import annotations

import functools
import math
import warnings
from typing import Iterable, Optional

import pandas as pd

from costmodel.analysis import UnsupportedOpWarning, analyze
from costmodel.report import CostReport
from costmodel.zoo import registry

#: op kinds whose multiply-adds the papers count ("FLOPs" of conv and fully-connected layers)
CONV_LINEAR_KINDS = frozenset({"conv", "pointwise_conv", "depthwise_conv", "group_conv",
                               "dilated_conv", "transposed_conv", "linear"})



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


#: the zoo tests' tolerances (tests/test_zoo.py): params within 2%, conv+fc multiply-adds within
#: 3% of the published figure, or within half a unit of its last printed digit
TOLERANCE = {"params": 0.02, "madds": 0.03}


def printed_half_unit(value: float) -> float:
    """Half a unit in the last printed digit of a published figure (0.5 -> 0.05, 569 -> 0.5)."""
    text = repr(float(value)).rstrip("0").rstrip(".")
    decimals = len(text.split(".")[1]) if "." in text else 0
    return 0.5 * 10 ** -decimals


def gaps(table: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """Every gap to a published figure larger than :data:`TOLERANCE`, one row each: ``name,
    what`` (params or madds), ``ours_m, published_m, gap_pct``, ``rounding`` (True when the
    figure's printed rounding covers the gap, as the tests allow) and ``reason`` (the model's
    ``Published.gap``, from its docstring; empty if none is recorded)."""
    df = zoo_table() if table is None else table
    rows = []
    for r in df.itertuples(index=False):
        e = registry.entry(r.name)
        for what, ours, pub, pct in (
                ("params", r.params / 1e6, r.pub_params_m, r.params_gap_pct),
                ("madds", r.madds_conv_linear / 1e6, r.pub_madds_m, r.madds_gap_pct)):
            if pub != pub or abs(ours - pub) <= TOLERANCE[what] * pub:
                continue
            rows.append({"name": r.name, "what": what, "ours_m": ours, "published_m": pub,
                         "gap_pct": pct, "rounding": abs(ours - pub) <= printed_half_unit(pub),
                         "reason": e.published.gap})
    return pd.DataFrame(rows, columns=["name", "what", "ours_m", "published_m", "gap_pct",
                                       "rounding", "reason"])


def gaps_markdown(table: Optional[pd.DataFrame] = None) -> str:
    """The "Gaps" list under the zoo table: every gap beyond the tests' tolerance with its
    reason, largest first."""
    g = gaps(table)
    g = g.reindex(g["gap_pct"].abs().sort_values(ascending=False).index)
    lines = ["## Gaps", "",
             f"Every gap larger than the zoo tests' tolerance (params "
             f"{TOLERANCE['params'] * 100:.0f}%, conv+fc madds {TOLERANCE['madds'] * 100:.0f}%), "
             "largest first, with its reason (from the model's docstring, "
             "`costmodel/zoo/<family>.py`). Gaps marked *rounding* are within half a unit of the "
             "figure's last printed digit, which the tests accept.", ""]
    for r in g.itertuples(index=False):
        what = "params" if r.what == "params" else "madds conv+fc"
        digits = 3 if r.published_m < 10 else 1
        why = []
        if r.rounding:
            h = printed_half_unit(r.published_m)
            why.append(f"*rounding*: the source prints {r.published_m:g}M, i.e. "
                       f"{r.published_m - h:g}-{r.published_m + h:g}M")
        if r.reason:
            why.append(r.reason)
        lines.append(f"- `{r.name}` {what} {r.gap_pct:+.1f}% ({r.ours_m:.{digits}f}M vs "
                     f"{r.published_m:g}M): " + ("; ".join(why) or "no reason recorded") + ".")
    return "\n".join(lines) + "\n"


#: what the columns of :func:`published_text` mean
PUBLISHED_LEGEND = ("params (M), madds (M): the paper's figures in millions (madds: multiply-adds "
                    "of conv and fc layers, what papers call FLOPs); top-1: the paper's ImageNet "
                    "top-1 in percent; res: input side in pixels; '-': the paper gives no figure. "
                    "`costmodel report NAME` for costmodel's own counts, reports/zoo.md for both.")


def published_text() -> str:
    """Every zoo model with its published figures, as a fixed-width table (``costmodel zoo``)."""
    from costmodel.tables import text_table, wrap_line

    rows = [["model", "family", "res", "params (M)", "madds (M)", "top-1 (%)"]]
    for name in registry.names():
        e = registry.entry(name)
        p = e.published
        rows.append([name, e.family, str(p.resolution), _fmt(p.params_m, ".2f"),
                     _fmt(p.madds_m, ".1f"), _fmt(p.top1, ".2f")])
    return text_table(rows, left=2) + "\n\n" + wrap_line(PUBLISHED_LEGEND) + "\n"
