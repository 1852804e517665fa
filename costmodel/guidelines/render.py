"""``reports/guidelines.md`` and its plots from an
:class:`~costmodel.guidelines.experiments.ExperimentResult`."""
from __future__ import annotations

import datetime
import math
import os
from typing import Dict, List, Optional, Sequence

import numpy as np
import pandas as pd

from costmodel import fileio
from costmodel.guidelines import experiments as ex
from costmodel.latency.quiet import describe as describe_quiet, is_busy

TITLES = {
    "G1": "G1: equal channel width minimizes memory access cost",
    "G2": "G2: excessive group convolution increases MAC",
    "G3": "G3: network fragmentation reduces degree of parallelism",
    "G4": "G4: element-wise operations are non-negligible",
}

ASSUMPTIONS = {
    "G1": "Blocks are two bias-free 1x1 convolutions (c1->c2, c2->c1), 10 blocks, 56x56, no BN or "
          "ReLU (the paper names none). The paper's row FLOPs are only approximately equal "
          "(ARM x1: 1024, 968, 1014, 972 c1*c2), which we keep.",
    "G2": "10 bias-free 1x1 group convolutions c->c, 56x56. ARM x1 g=8: the paper's c=180 is not "
          f"divisible by 8, we use c={ex.G2_ARM_G8_X1} (closest FLOPs).",
    "G3": "1-fragment: one 1x1 conv c->c; k-fragment-series: k 1x1 convs c'->c', c'=round(c/sqrt(k)); "
          "k-fragment-parallel: k 1x1 convs c->c/k on the same input, concatenated (equal FLOPs, "
          "c unchanged). The join of the parallel blocks is our reading: Appendix Fig. 1 is an "
          "image we could not retrieve as text.",
    "G4": "Bottleneck c->c/4 (1x1) -> c/4 (3x3) -> c (1x1), ReLU after the first two convs and "
          "after the add, no BN; 10 units at 56x56. The paper states neither resolution nor "
          "bottleneck width; this reading fits its ARM throughput (2-3 GMAC/s, like Tables 1-3), "
          "a 4c expansion would need ~31 GMAC/s from one Cortex-A57.",
}


#: a prediction whose time misses the measured time by more than this share is marked
MISS = 0.10
#: the mark of such a prediction (legend in the report's header)
MISS_MARK = "\u2020"
_X86 = ("x86_64", "amd64", "i386", "i686", "x86")


def cpu_label(result: ex.ExperimentResult) -> str:
    """What measured (and was calibrated for) the "ours" figures: ``"x86 CPU"``, or the
    machine's architecture followed by "CPU"."""
    arch = str((result.machine or {}).get("arch") or "")
    if arch.lower() in _X86:
        return "x86 CPU"
    return f"{arch} CPU" if arch else "this machine's CPU"


def column_label(col: str, platform: str, cpu: Optional[str] = None) -> str:
    """A column's name that says which paper configuration it is and, with ``cpu``, what ran it.

    The columns are named after the paper's platform whose channel counts they use (``"GPU
    x1"``), but every one is measured on this machine's CPU: ``column_label("GPU x1", "gpu")`` is
    ``"paper's GPU channel counts, x1"``, with ``cpu="x86 CPU"`` ``"x86 CPU at the paper's GPU
    channel counts (x1)"``.  Table 4's columns (one configuration for both platforms) keep their
    name (``"c=32"``)."""
    plat = str(platform).upper()
    if plat in ("ARM", "GPU") and col.startswith(plat + " "):
        rest = col[len(plat) + 1:]
        return (f"{cpu} at the paper's {plat} channel counts ({rest})" if cpu
                else f"paper's {plat} channel counts, {rest}")
    return f"{cpu}, {col} (the paper's GPU and ARM configuration)" if cpu else col


def _platforms(result: ex.ExperimentResult) -> Dict[tuple, str]:
    rows = result.rows
    return dict(zip(zip(rows["table"], rows["column"]), rows["platform"]))


def prediction_errors(result: ex.ExperimentResult, threads: Optional[int] = None) -> pd.Series:
    """Signed error of the predicted time per row: predicted / measured time - 1 (NaN where
    either is missing), at ``threads`` (default: the first thread count)."""
    th = threads or result.threads[0]
    rows = result.rows
    if f"pred_ms_{th}t" not in rows or f"ms_{th}t" not in rows:
        return pd.Series(np.nan, index=rows.index)
    return rows[f"pred_ms_{th}t"] / rows[f"ms_{th}t"] - 1.0


def _misses(err: pd.Series) -> int:
    return int((err.abs() > MISS).sum())


def _share_within(err: pd.Series) -> str:
    e = err.dropna()
    if not len(e):
        return "-"
    k = len(e) - _misses(e)
    return f"{k} of {len(e)} ({100.0 * k / len(e):.0f}%)"


def _effect(r, pred_err: Optional[pd.Series] = None) -> str:
    """A verdict with its effect size: Kendall tau, our slowest/fastest spread against the
    paper's, the pairs within noise (and whether the verdict rests mostly on them); for a
    prediction, how many of its rows miss the measured time by more than :data:`MISS`."""
    n = r.agree + r.tie + r.reversed
    s = f"{r.verdict} (tau {r.tau:+.2f}; spread {r.our_spread:.2f}x vs paper {r.paper_spread:.2f}x"
    if r.tie:
        s += f"; {r.tie} of {n} pairs within noise"
    s += ")"
    if r.verdict in ("holds", "partly") and 2 * r.tie > n:
        s += ", resting mostly on pairs within noise"
    if pred_err is not None and _misses(pred_err):
        s += (f" {MISS_MARK} {_misses(pred_err)} of {len(pred_err.dropna())} rows' predictions "
              f"miss by >{MISS * 100:.0f}%")
    return s


def _fmt(v, digits=1):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, (int, np.integer)) or float(v).is_integer() and abs(v) >= 100:
        return f"{int(v)}"
    return f"{v:.{digits}f}"


def _md(rows: List[List[str]]) -> str:
    esc = [[str(c).replace("|", "\\|") for c in r] for r in rows]
    out = ["| " + " | ".join(esc[0]) + " |", "|" + "|".join("---" for _ in esc[0]) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in esc[1:]]
    return "\n".join(out)


def _ips(ms):
    return 1000.0 / ms if ms and not math.isnan(ms) else float("nan")


def column_table(g: pd.DataFrame, threads: Sequence[int]) -> List[List[str]]:
    g = g.sort_values("row")
    head = ["variant", "our channels", "FLOPs (M)", "MAC (M elem.)", "paper GPU (batches/s)",
            "paper ARM (images/s)"]
    if g["mac_bound"].notna().any():
        head.insert(4, "MAC / G1 bound")
    for th in threads:
        head.append(f"predicted {th}T (images/s)")
    for th in threads:
        if f"ms_{th}t" in g and g[f"ms_{th}t"].notna().any():
            head.append(f"measured {th}T (images/s) [IQR]")
    for th in threads:
        if f"measured {th}T (images/s) [IQR]" in head and f"pred_ms_{th}t" in g:
            head.append(f"prediction error {th}T (time)")
    gpu = "gpu_ms" in g and g["gpu_ms"].notna().all()
    if gpu:
        head.append("measured GPU (batches/s) [IQR]")
    head += ["relative: paper GPU / paper ARM / ours 1T" + (" / ours GPU" if gpu else "")]
    rows = [head]
    base = g.iloc[0]
    for r in g.itertuples(index=False):
        d = r._asdict()
        row = [d["variant"], d["channels"], f"{d['madds'] / 1e6:.1f}", f"{d['mac'] / 1e6:.2f}"]
        if "MAC / G1 bound" in head:
            row.append(f"{d['mac'] / d['mac_bound']:.3f}" if d["mac_bound"] == d["mac_bound"] else "-")
        row += [_fmt(d["paper_gpu"], 0), _fmt(d["paper_arm"], 1)]
        errs = {th: (d[f"pred_ms_{th}t"] / d[f"ms_{th}t"] - 1.0
                     if f"prediction error {th}T (time)" in head else float("nan"))
                for th in threads}
        for th in threads:
            miss = MISS_MARK if abs(errs[th]) > MISS else ""
            row.append(_fmt(_ips(d.get(f"pred_ms_{th}t", float("nan")))) + miss)
        for th in threads:
            if f"measured {th}T (images/s) [IQR]" in head:
                ms, lo, hi = d[f"ms_{th}t"], d.get(f"p75_{th}t"), d.get(f"p25_{th}t")
                row.append(f"{_fmt(_ips(ms))} [{_fmt(_ips(lo))}-{_fmt(_ips(hi))}]")
        for th in threads:
            if f"prediction error {th}T (time)" in head:
                e = errs[th]
                row.append("-" if e != e else
                           f"{100 * e:+.0f}%" + (MISS_MARK if abs(e) > MISS else ""))
        if gpu:
            row.append(f"{_fmt(_ips(d['gpu_ms']), 0)} [{_fmt(_ips(d['gpu_p75']), 0)}-"
                       f"{_fmt(_ips(d['gpu_p25']), 0)}]")
        t1 = threads[0]
        rel = [d["paper_gpu"] / base["paper_gpu"], d["paper_arm"] / base["paper_arm"]]
        rel.append(base[f"ms_{t1}t"] / d[f"ms_{t1}t"] if f"ms_{t1}t" in d else float("nan"))
        if gpu:
            rel.append(base["gpu_ms"] / d["gpu_ms"])
        row.append(" / ".join("-" if v != v else f"{v:.2f}" for v in rel))
        rows.append(row)
    return rows


def _verdict_line(o: pd.DataFrame, pred_err: Optional[pd.Series] = None) -> List[str]:
    """One line per series of a column; ``pred_err``: the column's prediction errors, which
    mark the predicted verdicts resting on rows that miss."""
    lines = []
    for r in o.itertuples(index=False):
        line = (f"- {r.series} vs paper {r.reference}: paper `{r.paper_order}`, ours "
                f"`{r.our_order}`: **{r.verdict}** ({r.agree} pairs agree, {r.tie} within "
                f"noise, {r.reversed} reversed; Kendall tau {r.tau:+.2f}; slowest/fastest "
                f"paper {r.paper_spread:.2f}x, ours {r.our_spread:.2f}x)")
        if r.verdict in ("holds", "partly") and 2 * r.tie > r.agree + r.tie + r.reversed:
            line += ": rests mostly on pairs within noise"
        if r.series.startswith("predicted") and pred_err is not None and _misses(pred_err):
            line += (f" {MISS_MARK} the predictions of {_misses(pred_err)} of "
                     f"{len(pred_err.dropna())} rows miss by >{MISS * 100:.0f}%")
        lines.append(line)
    return lines


def plain_findings(result: ex.ExperimentResult, order: pd.DataFrame) -> List[str]:
    """One plain sentence per table: in how many columns the paper's ordering holds here, and
    where it does not."""
    t1 = result.threads[0]
    plat = _platforms(result)
    out = []
    for table in ex.TABLES:
        o = order[(order["table"] == table) & (order["series"] == f"measured {t1}T")]
        if not len(o):
            continue
        o = o.drop_duplicates("column")  # G4: one reference (ARM) per column is enough
        counts = o["verdict"].value_counts()
        parts = [f"{n} {v}" for v, n in counts.items()]
        s = (f"**{table}** ({TITLES[table].split(': ', 1)[1]}), measured at {t1} thread(s): the "
             f"paper's ordering {', '.join(parts)} of {len(o)} column(s).")
        bad = o[o["verdict"].isin(["does not hold", "partly"])]
        if len(bad):
            s += " Not as in the paper: " + "; ".join(
                f"{column_label(r.column, plat[(table, r.column)])}: ours `{r.our_order}` "
                f"(paper `{r.paper_order}`)"
                for r in bad.itertuples()) + "."
        pf = order[(order["table"] == table)
                   & (order["series"] == f"measured {t1}T, per FLOP")].drop_duplicates("column")
        if len(pf):
            parts = [f"{n} {v}" for v, n in pf["verdict"].value_counts().items()]
            s += (f" Normalized per FLOP (multiply-adds per second, removing the variants' "
                  f"unequal FLOPs) the ordering {', '.join(parts)} of {len(pf)} column(s) where "
                  "FLOPs differ.")
        df = result.rows[(result.rows["table"] == table)]
        ratios = []
        for col, g in df.groupby("column", sort=False):
            g = g.sort_values("row")
            if f"ms_{t1}t" in g and g[f"ms_{t1}t"].notna().all():
                ratios.append(f"{column_label(col, plat[(table, col)])} "
                              f"{g[f'ms_{t1}t'].iloc[0] / g[f'ms_{t1}t'].iloc[-1]:.2f}x "
                              f"(paper ARM {g['paper_arm'].iloc[-1] / g['paper_arm'].iloc[0]:.2f}x, "
                              f"GPU {g['paper_gpu'].iloc[-1] / g['paper_gpu'].iloc[0]:.2f}x)")
        if ratios:
            first, last = df.sort_values("row")["variant"].iloc[0], df.sort_values("row")["variant"].iloc[-1]
            s += f" Speed of `{last}` relative to `{first}` here: " + ", ".join(ratios) + "."
        err = prediction_errors(result).loc[df.index].dropna()
        if len(err):
            s += (f" Predicted {t1}T time within +-{MISS * 100:.0f}% of the measured one on "
                  f"{_share_within(err)} rows (signed errors {100 * err.min():+.0f}% to "
                  f"{100 * err.max():+.0f}%).")
        out.append("- " + s)
    return out


def plot_table(result: ex.ExperimentResult, table: str, path: str) -> Optional[str]:
    """Grouped bars of speed relative to the table's first row, one panel per column, with the
    measured rows' IQR as error bars; below each, 1/MAC relative to the first row on its own axis
    (MAC ratios reach 3x and would squash the speed bars)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from costmodel.plots.savefig import save_figure

    df = result.rows[result.rows["table"] == table]
    cols = list(dict.fromkeys(df["column"]))
    if not cols:
        return None
    cpu = cpu_label(result)
    fig = Figure(figsize=(3.6 * len(cols) + 1, 5.2))  # no pyplot: no global state, any backend
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, len(cols), squeeze=False, gridspec_kw={"height_ratios": [3, 1]})
    # (legend label, column of values, "inv" for times, the IQR columns of a measurement)
    series = [("paper GPU (GTX 1080Ti)", "paper_gpu", None, None),
              ("paper ARM (Snapdragon 810)", "paper_arm", None, None)]
    for th in result.threads:
        series.append((f"predicted {th}T ({cpu} profile)", f"pred_ms_{th}t", "inv", None))
    for th in result.threads:
        series.append((f"measured {th}T ({cpu}), IQR bars", f"ms_{th}t", "inv",
                       (f"p25_{th}t", f"p75_{th}t")))
    if "gpu_ms" in df:
        series.append(("measured GPU, IQR bars", "gpu_ms", "inv", ("gpu_p25", "gpu_p75")))
    colors = ["#4c72b0", "#55a868", "#dd8452", "#c44e52", "#8172b3", "#937860"]
    for j, col in enumerate(cols):
        ax, axm = axes[0][j], axes[1][j]
        g = df[df["column"] == col].sort_values("row")
        x = np.arange(len(g))
        width = 0.8 / len(series)
        for k, (name, c, how, iqr) in enumerate(series):
            if c not in g:
                continue
            v = g[c].to_numpy(float)
            rel = v / v[0] if how is None else v[0] / v
            yerr = None
            if iqr and all(q in g for q in iqr) and g[list(iqr)].notna().all().all():
                # speed quartiles relative to the first row's median: the slow quartile (p75 of
                # the time) is the lower end
                lo, hi = v[0] / g[iqr[1]].to_numpy(float), v[0] / g[iqr[0]].to_numpy(float)
                yerr = np.vstack([rel - lo, hi - rel]).clip(min=0)
            ax.bar(x + (k - len(series) / 2 + 0.5) * width, rel, width, label=name,
                   color=colors[k % len(colors)], yerr=yerr, capsize=1.5 if yerr is not None
                   else 0, error_kw={"elinewidth": 0.8, "ecolor": "k"})
        ax.axhline(1.0, color="k", lw=0.6)
        ax.set_xticks(x)
        ax.tick_params(labelbottom=False)
        ax.set_title(column_label(col, g["platform"].iloc[0]), fontsize=9)
        ax.set_ylabel("speed relative to first row", fontsize=8)
        mac = g["mac"].to_numpy(float)
        axm.bar(x, mac[0] / mac, 0.5, color="#999999", label="1/MAC (lower panels)")
        axm.axhline(1.0, color="k", lw=0.6)
        axm.set_ylabel("1/MAC relative\nto first row", fontsize=8)
        axm.set_xticks(x)
        axm.set_xticklabels([str(v).replace(" / ", "\n") for v in g["variant"]], fontsize=7,
                            rotation=0 if table != "G3" else 20)
    handles, labels = axes[0][0].get_legend_handles_labels()
    h2, l2 = axes[1][0].get_legend_handles_labels()
    fig.legend(handles + h2, labels + l2, loc="lower center", ncol=min(len(labels) + 1, 6),
               fontsize=8, frameon=False)
    machine = (result.machine or {}).get("cpu_model") or cpu
    threads = ", ".join(f"{t} thread{'s' if t > 1 else ''}" for t in result.threads)
    fig.suptitle(f"{TITLES[table]} (arXiv:1807.11164 Table {table[1]})\n"
                 f"ours measured on {machine} ({cpu}), {threads}, batch 1; panels name the "
                 "paper's configuration, not a platform", fontsize=9)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    save_figure(fig, path, dpi=110)
    return path


def _key_numbers(result: ex.ExperimentResult, table: str) -> List[str]:
    """Worst/best speed ratios: paper GPU, paper ARM, ours, per column."""
    df = result.rows[result.rows["table"] == table]
    out = []
    for col, g in df.groupby("column", sort=False):
        g = g.sort_values("row")
        base = g.iloc[0]
        last = g.iloc[-1]
        parts = []
        for name, c in (("paper GPU", "paper_gpu"), ("paper ARM", "paper_arm")):
            parts.append(f"{name} {last[c] / base[c]:.2f}x")
        for th in result.threads:
            if f"ms_{th}t" in g:
                parts.append(f"ours {th}T {base[f'ms_{th}t'] / last[f'ms_{th}t']:.2f}x")
        parts.append(f"MAC {last['mac'] / base['mac']:.2f}x")
        out.append(f"{column_label(col, base['platform'])}: last row ({last['variant']}) vs "
                   f"first ({base['variant']}): "
                   + ", ".join(parts) + " (speed ratio; MAC ratio)")
    return out


def _interleave_note(result) -> str:
    """How an interleaved measurement was corrected for the machine's drift (empty otherwise)."""
    if not result.extra.get("interleaved"):
        return ""
    parts = []
    for t in result.threads:
        col = f"drift_{t}t"
        if col in result.rows:
            d = result.rows[col].dropna()
            parts.append(f"{t}T {d.min():.2f}-{d.max():.2f} (median {d.median():.2f})")
    return (" Each round ran in a fresh process, alternating run by run with the latency "
            "profile's drift reference (`families:reference`); its times are scaled by the "
            "reference's time at calibration over its median in that round, so every row is "
            "given at the machine's speed when the profile was calibrated (the way its "
            "calibration networks were timed). Drift factors (reference now / at calibration): "
            + ("; ".join(parts) or "n/a") + ".")


def render(result: ex.ExperimentResult, out_path: str = "reports/guidelines.md",
           lint_models: Sequence[str] = (), plots: bool = True,
           findings: Optional[Dict[str, List[str]]] = None, source: Optional[str] = None) -> str:
    """Write the Markdown report (and ``<stem>_g1.png`` ... next to it); returns the text.

    ``lint_models``: zoo models to lint in a summary section.  ``findings``: optional
    hand-written conclusions per table (shown under "Reading").  ``source``: the results JSON
    this is rendered again from (``guidelines render``); the report then says so, and gives the
    measurement's own date (``result.extra["date"]``), never today's.
    """
    paper = ex.paper_tables()
    order = ex.orderings(result)
    out_dir = os.path.dirname(out_path) or "."
    os.makedirs(out_dir, exist_ok=True)
    stem = os.path.splitext(os.path.basename(out_path))[0]
    m = result.machine or {}
    threads = result.threads
    flag = {"quick": " --quick", "full": " --full"}.get(result.mode, "")
    clock = ("thread CPU time (robust to other processes)" if result.extra.get("clock") == "cpu"
             else "wall-clock time")
    cpu = cpu_label(result)
    plat = _platforms(result)
    date = result.extra.get("date") or (
        "an unrecorded date" if source else datetime.date.today().isoformat())
    rendered = (f" This file was rendered again from `{source}` by `costmodel guidelines render "
                f"{source}`: nothing was re-measured." if source else "")
    lines = [
        "# ShuffleNetV2's guidelines, re-run on this machine",
        "",
        f"Measured by `costmodel guidelines run{flag}"
        f"{' --clock cpu' if result.extra.get('clock') == 'cpu' else ''}"
        f"{' --profile ' + result.extra['profile_path'] if result.extra.get('profile_path') else ''}"
        f"{' --threads ' + ' '.join(map(str, result.threads)) if result.threads != [1] else ''}` "
        f"on {date} in **{result.mode} mode** "
        f"({result.wall_s:.0f} s).{rendered} Paper: {paper['paper']}, Section 2, Tables 1-4 "
        "(figures in `costmodel/guidelines/paper_tables.json`, each with its table as source).",
        "",
        f"- Machine: {m.get('cpu_model') or m.get('cpu') or '?'}"
        + (f", {m.get('physical_cores')} physical cores" if m.get("physical_cores") else "")
        + (f", ISA {' '.join(m.get('isa_flags', []))}" if m.get("isa_flags") else "")
        + f"; torch {m.get('torch', '?')}; batch 1, float32, eager PyTorch, "
        + ", ".join(f"{t} thread{'s' if t > 1 else ''}" for t in threads) + ".",
        f"- Measurement: {result.backend or 'n/a'}, "
        f"{clock}; "
        "variants of a column measured round-robin "
        f"in {result.extra.get('rounds', '?')} rounds of >= "
        f"{result.extra.get('min_time_s_per_round', '?')} s each; median of round medians, "
        "[IQR] = median of the rounds' quartiles, shown as images/s." + _interleave_note(result),
        "- Prediction: " + "; ".join(f"{t}T: {p}" for t, p in result.profiles.items()) + ".",
    ]
    la, lb, ncpu = (result.extra.get("loadavg_start"), result.extra.get("loadavg_end"),
                    result.extra.get("cpu_count"))
    watch = result.extra.get("quiet")
    measured = isinstance(watch, dict) and watch.get("other_cpu_pct") is not None
    if measured or la is not None:
        # the CPU other processes used during the run; older results only have the load average,
        # which lags by a minute (it still counts a job that ended just before the run)
        busy = is_busy(watch) if measured else bool(ncpu and max(la, lb or 0) > 0.5 * ncpu)
        if not busy:
            note = "."
        elif result.extra.get("clock") == "cpu":
            note = (". The machine was busy with other processes; thread CPU time does not count "
                    "the time they take, but they still share caches and memory bandwidth.")
        else:
            note = (". **The machine was busy with other processes: absolute speeds are "
                    "pessimistic and noisy; rely on the round-robin relative numbers and the "
                    "verdicts, which account for the spread (or re-run with `--clock cpu`).**")
        lines.append(f"- Machine load: {describe_quiet(watch)}" + note if measured else
                     f"- Machine load (1-min load average) at start / end: {la} / {lb} on {ncpu} "
                     "CPUs" + note)
    if result.extra.get("gpu"):
        gi = result.extra["gpu"]
        lines.append(f"- GPU: the paper's GPU configurations measured on {gi.get('device')} "
                     f"(batch {gi.get('batch')}, cuDNN {gi.get('cudnn')} benchmarking on, torch "
                     f"{gi.get('torch')}), shown as batches/s.")
    lines += [
        "- Paper platforms: GPU = GTX 1080Ti, cuDNN 7.0 (batches/s); ARM = Snapdragon 810, one "
        "thread (images/s). Paper GPU and ARM rows use different channel counts (GPU: the "
        "table's larger configuration); the paper GPU column below is the same row and width of "
        "its table, at the GPU channel counts named in each section.",
        f"- Every \"ours\" figure (measured and predicted) is from this machine's {cpu}, also in "
        f"the sections at the paper's GPU channel counts: they are {cpu} measurements of the "
        "GPU configurations"
        + (", beside a measurement on a GPU (column \"measured GPU\")." if "gpu_ms" in
           result.rows else "; no GPU was used."),
        "- FLOPs = multiply-adds (the paper's convention), MAC = ShuffleNetV2's memory access cost "
        "in elements, both from `costmodel.analyze` and equal to the paper's Eq. 1/2 (tested).",
        "- Per FLOP: where a column's variants differ in FLOPs by more than 1% (the paper's "
        "Table 1 rows differ by up to 6%; our g=8 and 2-fragment-series widths by 1-3%), the "
        "ordering of multiply-adds per second is checked too, which removes that confound.",
        "- Verdicts: a pair of variants the paper separates by more than 2% *agrees* if ours is "
        "ordered the same way, is *within noise* if our difference is below the measurement "
        "spread (min 2%), else *reversed*. **holds**: nothing reversed and the paper's fastest "
        "is ours; **partly**: some pairs reversed; **does not hold**: the paper's fastest "
        "variant is beaten beyond noise; **inconclusive**: every pair within noise. Beside each "
        "verdict: Kendall tau, the *spread* (slowest / fastest speed of the column) ours vs the "
        "paper's, and how many pairs were within noise; a verdict *resting mostly on pairs "
        "within noise* has more than half its pairs there, so the paper's effect is barely "
        "visible here.",
    ]
    t1 = threads[0]
    err = prediction_errors(result)
    if err.notna().any():
        per_table = ", ".join(
            f"{t} {_share_within(err[result.rows['table'] == t])}" for t in ex.TABLES
            if (result.rows["table"] == t).any())
        lines.append(
            f"- Predictions: {MISS_MARK} marks a predicted {t1}T speed whose time misses the "
            f"measured time by more than {MISS * 100:.0f}% (column \"prediction error\" = predicted "
            f"/ measured time - 1). Rows within +-{MISS * 100:.0f}%: {_share_within(err)} "
            f"({per_table}). A predicted verdict marked {MISS_MARK} rests on such rows: it says "
            "what the profile predicts, not what this machine does.")
    lines += ["", "## Summary", ""]
    has_gpu = "gpu_ms" in result.rows
    summ = [["guideline", "paper's claim", f"column (all on the {cpu})", f"measured {t1}T",
             f"measured {t1}T per FLOP", f"predicted {t1}T"]
            + (["measured GPU vs paper GPU"] if has_gpu else [])]
    for table in ex.TABLES:
        o = order[(order["table"] == table)] if len(order) else order
        if not len(o):
            continue
        claim = paper["tables"][table]["claim"]
        for col in dict.fromkeys(o["column"]):
            oc = o[o["column"] == col]
            meas = oc[oc["series"] == f"measured {t1}T"]
            pred = oc[oc["series"] == f"predicted {t1}T"]
            ref = "ARM" if (meas["reference"] == "ARM").any() else "GPU"
            mv = meas[meas["reference"] == ref]
            pv = pred[pred["reference"] == ref]
            fv = oc[(oc["series"] == f"measured {t1}T, per FLOP") & (oc["reference"] == ref)]
            col_err = err[(result.rows["table"] == table) & (result.rows["column"] == col)]
            row = [table, claim if col == o["column"].iloc[0] else "",
                   f"{column_label(col, plat[(table, col)])} (vs paper {ref})",
                   _effect(next(mv.itertuples())) if len(mv) else "-",
                   _effect(next(fv.itertuples())) if len(fv) else "(equal FLOPs)",
                   _effect(next(pv.itertuples()), col_err) if len(pv) else "-"]
            if has_gpu:
                gv = oc[oc["series"] == "measured GPU"]
                row.append(f"{gv['verdict'].iloc[0]} (tau {gv['tau'].iloc[0]:+.2f})" if len(gv) else "-")
            summ.append(row)
    lines += [_md(summ), ""] + plain_findings(result, order) + [""]

    for table in ex.TABLES:
        df = result.rows[result.rows["table"] == table]
        if not len(df):
            continue
        pt = paper["tables"][table]
        lines += [f"## {TITLES[table]} ({pt['table']})", "",
                  f"Source: {pt['source']}. Caption: \"{pt['caption']}\" Setup: {pt['setup']}",
                  "", f"Our build: {ASSUMPTIONS[table]}", ""]
        if table in ("G1", "G2"):
            if table == "G1":
                gpu_cfg = ", ".join(f"{r['ratio']}: {tuple(r['gpu_c'])}" for r in pt["rows"])
            else:
                gpu_cfg = ", ".join(f"g={r['g']}: c={r['gpu_c']}" for r in pt["rows"])
            lines += [f"Paper GPU channel counts at x1: {gpu_cfg} (x2/x4 multiply them).", ""]
        elif table == "G3":
            lines += [f"Paper GPU 1-fragment widths: c = {pt['gpu_widths']}; ARM: c = "
                      f"{pt['arm_widths']}.", ""]
        for col, g in df.groupby("column", sort=False):
            lines += [f"### {column_label(col, g['platform'].iloc[0], cpu)}", "",
                      _md(column_table(g, threads)), ""]
            notes = [n for n in g["note"] if n]
            if notes:
                lines += [f"Note: {'; '.join(dict.fromkeys(notes))}.", ""]
            lines += _verdict_line(order[(order["table"] == table) & (order["column"] == col)],
                                   err.loc[g.index])
            lines.append("")
        lines += ["Key ratios:", ""] + [f"- {s}" for s in _key_numbers(result, table)] + [""]
        if findings and findings.get(table):
            lines += ["Reading:", ""] + [f"- {s}" for s in findings[table]] + [""]
        if plots:
            png = os.path.join(out_dir, f"{stem}_{table.lower()}.png")
            if plot_table(result, table, png):
                lines += [f"![{table}]({os.path.basename(png)})", "",
                          "Bars: speed relative to the column's first row; error bars on the "
                          "measured bars: each row's IQR relative to the first row's median; "
                          "lower panels: 1/MAC relative to the first row (what a purely "
                          "memory-bound machine would show), on their own axis.", ""]

    if lint_models:
        lines += lint_section(lint_models)
    text = "\n".join(lines) + "\n"
    fileio.write_text(out_path, text)
    return text


def lint_section(models: Sequence[str]) -> List[str]:
    """The linter's counts on some zoo models (``costmodel lint MODEL`` for the details)."""
    import warnings

    from costmodel import zoo
    from costmodel.guidelines import check

    rows = [["model", "G1 high/warn/info", "G2 high/warn/info", "G3 high/warn/info",
             "G4 (model)", "element-wise share of MAC"]]
    for name in models:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = check(zoo.create(name), zoo.entry(name).input_shape, model_name=name)
        c = r.counts()
        g4 = [f.severity for f in r.findings if f.guideline == "G4" and f.scope == "model"]
        rows.append([name] + [f"{c[g]['high']}/{c[g]['warn']}/{c[g]['info']}" for g in
                              ("G1", "G2", "G3")]
                    + [g4[0] if g4 else "-", f"{100 * r.summary['ew_mac_share']:.0f}%"])
    return ["## The linter on the zoo", "",
            "`costmodel lint MODEL` (or `costmodel.guidelines.check`) on the models the paper "
            "discusses; counts of findings per severity (thresholds in "
            "`costmodel/guidelines/lint.py`, `Thresholds`).", "", _md(rows), ""]
