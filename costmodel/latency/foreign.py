"""Latency validation on networks nobody on this project wrote.

The **foreign set** (``costmodel/latency/foreign_set.json``, frozen before any tuning for it):
every torchvision CNN classifier up to 20 G multiply-adds and 53 timm CNNs of 24 families not in
the calibration space.  :func:`measure` times them (and the zoo, and held-out networks of the
calibration families as the secondary, in-space set) end to end, each in a fresh process
(:mod:`costmodel.latency.fresh`), at 1 and 2 threads, alternating run by run with the **drift
reference** (``families:reference``, the same network the profile timed during calibration) in
that process for :data:`INTERLEAVED_WINDOW_S` seconds: the reference's median over the same
seconds, over its calibration-time median, is the machine's speed for that model, and the report
gives every figure raw and corrected by it.  (``interleave=False``: the reference in its own
process before every :data:`REFERENCE_EVERY` models, one factor for the run, as before 12-03.)  :func:`report` writes ``reports/latency``: the foreign
set first (within +-5% / +-10%, MAPE, RMSE per thread count, per family and per model, against
the FLOPs-proportional and linear FLOPs+MAC baselines fitted on the same calibration networks),
the calibration's leave-one-family-out figures, the in-space networks and the zoo after.
"""
from __future__ import annotations

import json
import math
import os
import time
import warnings
from typing import Dict, List, Optional, Sequence

import numpy as np
import pandas as pd

from costmodel.latency import drift as drift_mod, files
from costmodel.latency.profile import REFERENCE_NAME, DeviceProfile

SET_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "foreign_set.json")
REFERENCE_EVERY = 10
#: seconds each model is timed for, alternating run by run with the drift reference in the same
#: process (:func:`costmodel.latency.measure.time_interleaved`; ``reports/latency/noise.md``: over
#: 2 s the interleaved ratio agreed with itself within +-10% on 92% / 87% of pairs at 1 / 2
#: threads, the plain median over 0.5 s on 59% / 53%)
INTERLEAVED_WINDOW_S = 2.0
#: a drift factor further than this from 1 (percent) is flagged
DRIFT_FLAG_PCT = 5.0


def foreign_set(path: str = SET_PATH) -> dict:
    """The frozen foreign validation set (``models``: spec, family, input, gmadds)."""
    class _Err(ValueError):
        pass
    doc = files.read_json(path, _Err)
    if doc.get("format") != "costmodel-foreign-validation-set":
        raise ValueError(f"{path} is not a foreign validation set")
    return doc


def model_names(n_in_space: int = 30, zoo: bool = True) -> Dict[str, str]:
    """name -> set ("foreign", "zoo", "in-space") of every model the report measures."""
    from costmodel import zoo as zoo_mod
    names = {m["spec"]: "foreign" for m in foreign_set()["models"]}
    if zoo:
        names.update({n: "zoo" for n in zoo_mod.names()})
    names.update({f"families:validation:{i}": "in-space" for i in range(n_in_space)})
    return names


def family_of(name: str) -> str:
    for m in foreign_set()["models"]:
        if m["spec"] == name:
            return m["family"]
    if name.startswith("families:"):
        from costmodel.latency import families
        return families.resolve(name).family
    try:
        from costmodel import zoo
        return zoo.entry(name).family
    except Exception:
        return "?"


def measure(names: Sequence[str], threads: Sequence[int] = (1, 2),
            e2e_time_s: float = INTERLEAVED_WINDOW_S, progress: bool = True, clock: str = "wall",
            reference_every: int = REFERENCE_EVERY, interleave: bool = True):
    """(timing entries, reference rows): each named model end to end in a fresh process at each
    thread count.  ``interleave``: the drift reference runs between the model's runs in the same
    process (its median is the entry's ``total_ms_spread["reference_ms"]`` and one reference
    row); otherwise the reference is timed in its own process before every ``reference_every``
    models and at the end."""
    from costmodel.latency import machine as machine_mod
    from costmodel.latency.calibrate import _time_reference
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(names) * len(threads), desc="measure", unit="run", mininterval=1.0)
    entries, refs = [], []
    mach = machine_mod.describe()

    def reference(i):
        for t in threads:
            refs.append({"index": i, "threads": int(t), "ms": _time_reference(t, clock, e2e_time_s)})

    for i, name in enumerate(names):
        if i % reference_every == 0 and not interleave:
            reference(i)
        for t in threads:
            e = _time_one(name, t, e2e_time_s, clock, mach, interleave)
            if e is None:
                continue
            entries.append(e)
            if interleave:
                refs.append({"index": i, "threads": int(t),
                             "ms": float(e["total_ms_spread"]["reference_ms"]), "model": name})
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(name[:40])
    if not interleave:
        reference(len(names))
    if bar is not None:
        bar.close()
    return entries, refs


def _time_one(name: str, t: int, e2e_time_s: float, clock: str, mach: dict,
              interleave: bool = True) -> Optional[dict]:
    """One timing entry: ``name`` end to end in a fresh process at ``t`` threads, interleaved
    run by run with the drift reference or alone (None, with a warning, when it fails)."""
    from costmodel.latency import fresh
    try:
        if interleave:
            e = fresh.time_interleaved_named(name, t, REFERENCE_NAME, min_time_s=e2e_time_s,
                                             clock=clock, min_runs=6)
        else:
            e = fresh.time_named(name, t, min_time_s=e2e_time_s, repeats=3, clock=clock, min_runs=6)
    except RuntimeError as exc:
        warnings.warn(f"{name}: {exc}")
        return None
    total = e.pop("median")
    shape = e.pop("input_shape", [])
    return {"name": name, "threads": int(t), "total_ms": float(total), "input_shape": shape,
            "total_ms_spread": e, "machine": dict(mach, threads=int(t))}


#: every RETEST_EVERY-th measured model is measured a second time at the end of the run
RETEST_EVERY = 8
#: the second measurements, in the report's folder
RETEST_FILE = "retest.csv"


def retest(entries: Sequence[dict], e2e_time_s: float = INTERLEAVED_WINDOW_S, clock: str = "wall",
           every: int = RETEST_EVERY, progress: bool = True, interleave: bool = True
           ) -> pd.DataFrame:
    """Measure every ``every``-th of ``entries`` of each thread count again, the same way,
    minutes later: one row per (model, threads) with ``first_ms``, ``second_ms`` and
    ``diff_pct`` (second / first - 1).  How often two measurements of one model agree within
    +-10% bounds what any predictor can be shown to reach with this harness on this machine.
    (Counted per thread count: entries alternate threads, so every 8th of all would be one
    thread count only.)  Interleaved entries also give ``first_ratio`` / ``second_ratio`` (model /
    reference, the drift-corrected measurement) and ``diff_corrected_pct``."""
    from costmodel.latency import machine as machine_mod
    mach = machine_mod.describe()
    step = max(1, int(every))
    by_threads: Dict[int, List[dict]] = {}
    for e in entries:
        by_threads.setdefault(int(e["threads"]), []).append(e)
    chosen = [e for t in sorted(by_threads) for e in by_threads[t][::step]]
    it = chosen
    if progress:
        from tqdm import tqdm
        it = tqdm(chosen, desc="retest", unit="run", mininterval=1.0)
    rows = []
    for e in it:
        again = _time_one(e["name"], int(e["threads"]), e2e_time_s, clock, mach, interleave)
        if again is None:
            continue
        rows.append({"name": e["name"], "threads": int(e["threads"]), "first_ms": float(e["total_ms"]),
                     "second_ms": again["total_ms"],
                     "first_ratio": (e.get("total_ms_spread") or {}).get("ratio", float("nan")),
                     "second_ratio": again["total_ms_spread"].get("ratio", float("nan"))})
    df = pd.DataFrame(rows, columns=["name", "threads", "first_ms", "second_ms", "first_ratio",
                                     "second_ratio"]).astype({"first_ratio": float, "second_ratio": float})
    df["diff_pct"] = 100 * (df["second_ms"] / df["first_ms"] - 1)
    df["diff_corrected_pct"] = 100 * (df["second_ratio"] / df["first_ratio"] - 1)
    return df


def retest_stats(df: pd.DataFrame, column: str = "diff_pct") -> pd.DataFrame:
    """Per thread count: n, percent of models whose two measurements agree within +-5% and
    +-10%, median and 90th percentile of the absolute difference (percent; ``column``:
    ``diff_pct`` raw, ``diff_corrected_pct`` drift-corrected; rows without it are left out)."""
    rows = []
    if column not in df:
        df = df.iloc[0:0].assign(**{column: []})
    for t, g in df.dropna(subset=[column]).groupby("threads"):
        a = g[column].abs().to_numpy(float)
        rows.append({"threads": int(t), "n": int(len(a)), "within5": 100 * float(np.mean(a <= 5)),
                     "within10": 100 * float(np.mean(a <= 10)), "median_abs": float(np.median(a)),
                     "p90_abs": float(np.percentile(a, 90))})
    return pd.DataFrame(rows, columns=["threads", "n", "within5", "within10", "median_abs", "p90_abs"])


def row_drift_factor(spread: dict, drift: Dict[int, dict], threads: int):
    """(factor, source) for one measurement at ``threads``: its interleaved reference time
    (``spread["reference_ms"]``) over the reference's calibration time ("interleaved"), else the
    run's factor ("run"), else 1 ("none")."""
    d = drift.get(int(threads)) or {}
    if spread.get("reference_ms") and d.get("calibration_ms"):
        return float(spread["reference_ms"]) / float(d["calibration_ms"]), "interleaved"
    if "factor" in d:
        return float(d["factor"]), "run"
    return 1.0, "none"


def evaluate(entries: Sequence[dict], profile: DeviceProfile, sets: Dict[str, str],
             drift: Dict[int, dict], sampler: Optional[int] = None) -> pd.DataFrame:
    """One row per (model, threads): measured, predicted raw and drift-corrected, baselines.
    The drift factor of a row (``drift_factor``) is its own interleaved reference time over the
    reference's calibration time when the entry has one (``drift_source`` "interleaved"), else
    the run's factor ``drift[threads]`` ("run").  ``families:`` networks are rebuilt as sampler
    version ``sampler`` built them (default: the current one; see
    :func:`costmodel.latency.families.sampler_of`)."""
    from costmodel.latency.features import op_table
    from costmodel.latency.named import resolve_model
    from costmodel.latency.predict import predict_table
    rows = []
    tables = {}
    for e in entries:
        name, t = e["name"], int(e["threads"])
        if t not in profile.threads:
            continue
        if name not in tables:
            model, shape = resolve_model(name, sampler=sampler)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tables[name] = op_table(model, shape)[0]
        table = tables[name]
        t0 = time.perf_counter()
        _, pred, _ = predict_table(table, profile, t)
        dt = time.perf_counter() - t0
        flops, mac = float(table["flops"].sum()), float(table["mac"].sum())
        spread = e.get("total_ms_spread") or {}
        f, source = row_drift_factor(spread, drift, t)
        rows.append({"name": name, "set": sets.get(name, "other"), "family": family_of(name),
                     "threads": t, "measured_ms": float(e["total_ms"]), "pred_ms": pred,
                     "pred_corrected_ms": pred * f,
                     "flops_ms": profile.baseline("flops", flops, mac, t),
                     "flops_mac_ms": profile.baseline("flops_mac", flops, mac, t),
                     "flops_corrected_ms": profile.baseline("flops", flops, mac, t) * f,
                     "flops_mac_corrected_ms": profile.baseline("flops_mac", flops, mac, t) * f,
                     "madds": float(table["madds"].sum()), "mac": mac,
                     "layout_spread_pct": spread.get("layout_spread_pct"),
                     "repeat_spread_pct": spread.get("repeat_spread_pct"),
                     "drift_factor": f, "drift_source": source, "predict_s": dt})
    df = pd.DataFrame(rows)
    if len(df):
        df["error_pct"] = 100 * (df["pred_ms"] / df["measured_ms"] - 1)
        df["error_corrected_pct"] = 100 * (df["pred_corrected_ms"] / df["measured_ms"] - 1)
    return df


PREDICTORS = (("pred_corrected_ms", "costmodel (drift-corrected)"), ("pred_ms", "costmodel (raw)"),
              ("flops_corrected_ms", "FLOPs-proportional"),
              ("flops_mac_corrected_ms", "linear FLOPs+MAC"))


def stats(models: pd.DataFrame, by: Sequence[str] = ("set", "threads")) -> pd.DataFrame:
    from costmodel.latency.validate import error_stats
    out = []
    for key, g in models.groupby(list(by)):
        key = key if isinstance(key, tuple) else (key,)
        for col, label in PREDICTORS:
            out.append({**dict(zip(by, key)), "predictor": label, **error_stats(g[col], g["measured_ms"])})
    return pd.DataFrame(out)


def _f(v, nd=1):
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{nd}f}"


def _short(name: str) -> str:
    return name.split(":", 1)[-1]


def scatter(models: pd.DataFrame, path: str):
    """Predicted (drift-corrected) vs measured, one log-log panel per thread count: one colour
    per set (foreign, zoo, in-space), one marker per predictor (costmodel filled, the two
    baselines hollow), every model whose costmodel error is beyond +-10% labelled, both axes
    spanning every point drawn (baselines included).  Returns the figure."""
    from matplotlib.lines import Line2D

    from costmodel.plots.axes import log_limits
    from costmodel.plots.labels import place_labels
    from costmodel.plots.savefig import new_figure, save_figure
    from costmodel.plots.styles import set_color

    predictors = (("pred_corrected_ms", "costmodel (drift-corrected)", "o", True),
                  ("flops_corrected_ms", "FLOPs-proportional", "^", False),
                  ("flops_mac_corrected_ms", "linear FLOPs+MAC", "s", False))
    threads = sorted(models["threads"].unique())
    sets = [s for s in ("foreign", "zoo", "in-space") if (models["set"] == s).any()]
    sets += sorted(set(models["set"]) - set(sets))
    fig = new_figure((10.5 * len(threads), 10.5), dpi=100)
    axes = fig.subplots(1, len(threads), squeeze=False)[0]
    for ax, t in zip(axes, threads):
        g = models[models["threads"] == t].reset_index(drop=True)
        lo, hi = log_limits(*(g[c] for c in ("measured_ms",) + tuple(p[0] for p in predictors)),
                            pad=(0.04, 0.04))
        xs = np.geomspace(lo, hi, 50)
        ax.fill_between(xs, xs * 0.9, xs * 1.1, color="0.88", zorder=0)
        ax.plot(xs, xs, "k-", lw=0.8, zorder=1)
        for col, _, mk, filled in predictors[::-1]:
            for st in sets:
                gg = g[(g["set"] == st) & (g[col] > 0)]
                c = set_color(st)
                ax.scatter(gg["measured_ms"], gg[col], marker=mk, s=28 if filled else 16,
                           facecolors=c if filled else "none", edgecolors="white" if filled else c,
                           linewidths=0.4 if filled else 0.7, alpha=1.0 if filled else 0.5,
                           zorder=3 if filled else 2)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal")
        ax.grid(True, which="major", alpha=0.3)
        ax.set_xlabel("measured end-to-end latency (ms, median, fresh process, batch 1, log)")
        ax.set_ylabel("predicted latency (ms, drift-corrected, log)")
        err = 100 * (g["pred_corrected_ms"] / g["measured_ms"] - 1)
        out = g[err.abs() > 10]
        ax.set_title(f"{t} thread{'s' if t > 1 else ''}: {len(g)} models; labelled: the "
                     f"{len(out)} beyond +-10% (grey band)", fontsize=11)
        rest = g[err.abs() <= 10]
        place_labels(ax, out["measured_ms"].to_numpy(), out["pred_corrected_ms"].to_numpy(),
                     [f"{_short(n)} ({e:+.0f}%)" for n, e in zip(out["name"], err[out.index])],
                     fontsize=6, others=(rest["measured_ms"].to_numpy(),
                                         rest["pred_corrected_ms"].to_numpy()))
        handles = [Line2D([], [], ls="none", marker="o", color=set_color(st), markersize=7,
                          label=f"{st} ({int((g['set'] == st).sum())})") for st in sets]
        handles += [Line2D([], [], ls="none", marker=mk, markersize=7,
                           markerfacecolor="0.3" if filled else "none", markeredgecolor="0.3",
                           label=label) for _, label, mk, filled in predictors]
        ax.legend(handles=handles, fontsize=8, loc="upper left", title="colour: set; marker: "
                  "predictor", title_fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
    return fig


def error_plot(models: pd.DataFrame, path: str):
    """Signed error (drift-corrected) of every model, one panel per thread count: the sets side
    by side (foreign, zoo, in-space, each sorted by error, one colour per set), the +-10% band
    grey, bars beyond it edged black and their error printed, the y range covering every bar.
    Returns the figure."""
    from costmodel.plots.savefig import new_figure, save_figure
    from costmodel.plots.styles import set_color

    threads = sorted(models["threads"].unique())
    sets = [s for s in ("foreign", "zoo", "in-space") if (models["set"] == s).any()]
    sets += sorted(set(models["set"]) - set(sets))
    n_max = max(int((models["threads"] == t).sum()) for t in threads)
    fig = new_figure((max(10.0, 0.13 * n_max + 2), 6.0 * len(threads)), dpi=100)
    axes = fig.subplots(len(threads), 1, squeeze=False)[:, 0]
    for ax, t in zip(axes, threads):
        pos, names, vals, cols, starts = [], [], [], [], []
        x = 0
        for st in sets:
            g = models[(models["threads"] == t) & (models["set"] == st)]
            g = g.sort_values("error_corrected_pct")
            if not len(g):
                continue
            within = float((g["error_corrected_pct"].abs() <= 10).mean() * 100)
            starts.append((x, x + len(g) - 1, st, within))
            for r in g.itertuples():
                pos.append(x)
                names.append(_short(r.name))
                vals.append(float(r.error_corrected_pct))
                cols.append(set_color(st))
                x += 1
            x += 2  # a gap between sets
        vals_a = np.array(vals)
        beyond = np.abs(vals_a) > 10
        ax.axhspan(-10, 10, color="0.9", zorder=0)
        ax.axhline(0, color="0.3", lw=0.6)
        ax.bar(pos, vals_a, width=0.8, color=cols, edgecolor=np.where(beyond, "black", "none"),
               linewidth=0.6, zorder=2)
        lo, hi = float(min(vals_a.min(), -10)), float(max(vals_a.max(), 10))
        pad = 0.12 * (hi - lo)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_xlim(-1, x - 1)
        for p, v in zip(np.array(pos)[beyond], vals_a[beyond]):
            ax.annotate(f"{v:+.0f}", (p, v), xytext=(0, 2 if v > 0 else -2),
                        textcoords="offset points", ha="center", va="bottom" if v > 0 else "top",
                        fontsize=5.5, rotation=90)
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(color=set_color(st), label=f"{st}: {b - a + 1} models, "
                                 f"{within:.0f}% within +-10%") for a, b, st, within in starts],
                  loc="upper left", fontsize=8, ncol=len(starts))
        ax.set_xticks(pos)
        ax.set_xticklabels(names, rotation=90, fontsize=5.5)
        ax.set_ylabel("prediction error (%), drift-corrected")
        ax.set_title(f"{t} thread{'s' if t > 1 else ''}: signed error per model (grey band: "
                     f"+-10%; black edge and figure: beyond it)", fontsize=11)
    fig.tight_layout()
    save_figure(fig, path)
    return fig


def _table(df: pd.DataFrame, cols, headers, nds) -> List[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for r in df.itertuples(index=False):
        cells = []
        for c, nd in zip(cols, nds):
            v = getattr(r, c)
            cells.append(_f(float(v), nd) if isinstance(v, (int, float, np.floating, np.integer))
                         and not isinstance(v, bool) and nd is not None else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _reading(st: pd.DataFrame) -> List[str]:
    """How to read the headline: the foreign figure next to the in-space one of the same run
    (networks of the calibration families themselves) and next to the best baseline."""
    out = []
    main = "costmodel (drift-corrected)"
    for t in sorted(st["threads"].unique()):
        g = st[(st["threads"] == t)]
        pick = lambda s, p: g[(g["set"] == s) & (g["predictor"] == p)]  # noqa: E731
        fo, ins = pick("foreign", main), pick("in-space", main)
        if fo.empty:
            continue
        base = g[(g["set"] == "foreign") & g["predictor"].isin(["FLOPs-proportional", "linear FLOPs+MAC"])]
        best = base.sort_values("rmse_ms").iloc[0] if len(base) else None
        line = (f"- {t} thread(s): foreign set {fo.iloc[0]['within10']:.1f}% within +-10% "
                f"(MAPE {fo.iloc[0]['mape']:.1f}%)")
        if not ins.empty:
            line += (f"; in the same run the in-space held-out networks, drawn from the calibration "
                     f"families' own generator, {ins.iloc[0]['within10']:.1f}% (MAPE "
                     f"{ins.iloc[0]['mape']:.1f}%)")
        if best is not None:
            beat = fo.iloc[0]["rmse_ms"] < best["rmse_ms"]
            line += (f"; RMSE {fo.iloc[0]['rmse_ms']:.1f} ms against {best['rmse_ms']:.1f} ms for the "
                     f"better baseline ({best['predictor']}): "
                     + ("costmodel better" if beat else "**the baseline is better**"))
        out.append(line + ".")
    if out:
        out.append("- Where the in-space figure is as low as the foreign one, the error comes from the "
                   "machine (speed changes between calibration and measurement, noise), not from the "
                   "networks being foreign: compare the drift section above.")
    return out


def write(out_dir: str, models: pd.DataFrame, profile: DeviceProfile, drift: Dict[int, dict],
          refs: pd.DataFrame, run: dict, again: Optional[pd.DataFrame] = None) -> str:
    """The report's files and README text (``again``: the :func:`retest` measurements)."""
    from costmodel.latency.quiet import describe as describe_quiet
    files.write_csv(os.path.join(out_dir, "models.csv"), models)
    st = stats(models)
    fam = stats(models[models["set"] == "foreign"], by=("family", "threads"))
    files.write_csv(os.path.join(out_dir, "error_stats.csv"), st)
    files.write_csv(os.path.join(out_dir, "family_stats.csv"), fam)
    if refs is not None and len(refs):
        files.write_csv(os.path.join(out_dir, "reference.csv"), refs)
    scatter(models, os.path.join(out_dir, "scatter.png"))
    error_plot(models, os.path.join(out_dir, "errors.png"))
    cal = profile.calibration
    fs = foreign_set()
    m = profile.machine
    L = ["# Latency prediction: validation on networks nobody here wrote", ""]
    if run.get("command"):
        L += ["Regenerate with:", "", f"    {run['command']}", ""]
    L += [f"Machine: {m.get('cpu_model')} ({m.get('logical_cpus')} logical CPUs), torch "
          f"{m.get('torch')}. Batch 1, float32, `torch.inference_mode()`, threads pinned. Every "
          f"end-to-end time is the median over 3 copies of the model at fresh addresses, each "
          f"model timed in a fresh process"
          + (f", alternating run by run with the drift reference for at least "
             f"{_f(run.get('e2e_time_s', INTERLEAVED_WINDOW_S))} s." if run.get("interleaved") else "."), "",
          f"Profile: method `{cal.get('method', 'replay')}`, calibrated {cal.get('created')} in "
          f"{_f(cal.get('wall_s', float('nan')) / 60, 1)} min (budget {_f(cal.get('budget_s', 0) / 60, 1)} "
          f"min), {cal.get('network_runs')} calibration-network runs of "
          f"{len((profile.threads[profile.thread_counts[0]].get('stats') or {}).get('families') or {})} "
          f"families ({cal.get('op_samples')} in-network op samples). No foreign model, and no "
          f"model of a foreign model's code, is among the calibration networks.", "",
          f"Foreign set: `costmodel/latency/foreign_set.json`, {len(fs['models'])} models, frozen "
          f"{fs['frozen']} at commit {fs['frozen_at_commit'][:10]} before any tuning for it. "
          f"Evaluations of the frozen set while the method was developed, this run included: "
          f"{run.get('foreign_evaluations', '?')}.", ""]
    if run.get("durations_s"):
        L += ["Durations: " + ", ".join(f"{k} {v / 60:.1f} min" for k, v in run["durations_s"].items()), ""]
    if run.get("note"):
        L += [f"Note: {run['note']}.", ""]
    if run.get("machine_diff"):
        L += ["**The models were measured on a machine that differs from the profile's** in "
              + ", ".join(f"{k} ({v})" for k, v in run["machine_diff"].items())
              + ": predictions are for the profile's machine.", ""]
    for k, w in (run.get("quiet") or {}).items():
        L += [f"Machine load during {k}: {describe_quiet(w)}.", ""]
    # drift
    L += ["## Machine drift", ""]
    per_model = "drift_source" in models and bool((models["drift_source"] == "interleaved").any())
    if drift:
        if per_model:
            L += ["Every model was timed alternating run by run with the drift reference in the same "
                  "process (model, reference, model, ...), for at least "
                  f"{_f(run.get('e2e_time_s', INTERLEAVED_WINDOW_S))} s: the reference's median over "
                  "the same seconds, over its calibration time, is that model's own drift factor "
                  "(`drift_factor` in models.csv), and its corrected prediction is the raw one times "
                  "that factor (the same as comparing the raw prediction with the model/reference "
                  "ratio times the reference's calibration time). The factors below summarise them.", ""]
        for t, d in sorted(drift.items()):
            flag = " **(beyond +-5%: the machine's speed changed)**" if abs(d["factor"] - 1) * 100 > DRIFT_FLAG_PCT else ""
            L.append(f"- {t} thread(s): the drift reference (`{REFERENCE_NAME}`, {_f(d['calibration_ms'], 2)} ms "
                     f"at calibration, spread {_f(d['calibration_spread_pct'])}% over its calibration timings) "
                     f"now takes {d['factor']:.3f}x as long (median of {d['n']} timings interleaved with "
                     f"the measured models; interquartile range of the ratios {_f(d['spread_pct'])} "
                     f"percentage points){flag}." + ("" if per_model else " Corrected figures multiply every prediction by this factor."))
        L.append("")
    else:
        L += ["No drift reference in the profile: raw figures only.", ""]
    # headline
    L += ["## Foreign set (headline)", ""]
    fst = st[st["set"] == "foreign"].copy()
    L += _table(fst, ["threads", "predictor", "n", "within5", "within10", "mape", "rmse_ms"],
                ["threads", "predictor", "n", "within +-5 %", "within +-10 %", "MAPE %", "RMSE ms"],
                [0, None, 0, 1, 1, 1, 3]) + [""]
    L += _reading(st) + [""]
    L += _repeatability(again, run.get("retest_every", RETEST_EVERY)) + [""]
    lofo = {t: (profile.threads[t].get("stats") or {}).get("leave_one_family_out") for t in profile.thread_counts}
    if any(lofo.values()):
        L += ["## Leave one family out (calibration networks)", "",
              "Each family's calibration networks predicted by a profile fitted without that family "
              "(same model types, refitted): how the predictor does on a family it never saw.", ""]
        rows = []
        for t, res in lofo.items():
            for fam_name, r in sorted((res or {}).items()):
                rows.append({"threads": t, "family": fam_name, **r})
        if rows:
            L += _table(pd.DataFrame(rows), ["threads", "family", "n", "within10", "mape", "median_error_pct"],
                        ["threads", "left-out family", "networks", "within +-10 %", "MAPE %", "median error %"],
                        [0, None, 0, 1, 1, 1]) + [""]
    L += ["## Foreign set per family", ""]
    ff = fam[fam["predictor"] == "costmodel (drift-corrected)"]
    L += _table(ff, ["family", "threads", "n", "within10", "mape", "rmse_ms"],
                ["family", "threads", "n", "within +-10 %", "MAPE %", "RMSE ms"],
                [None, 0, 0, 1, 1, 3]) + [""]
    L += ["## Other sets", "",
          "The zoo (this project's own models) and held-out networks of the calibration families "
          "(another seed: the in-space check).", ""]
    ost = st[st["set"] != "foreign"]
    L += _table(ost, ["set", "threads", "predictor", "n", "within10", "mape", "rmse_ms"],
                ["set", "threads", "predictor", "n", "within +-10 %", "MAPE %", "RMSE ms"],
                [None, 0, None, 0, 1, 1, 3]) + [""]
    L += ["## Every model", "", "Errors in percent, drift-corrected and raw.", ""]
    mm = models.sort_values(["set", "family", "name", "threads"])
    L += _table(mm, ["set", "family", "name", "threads", "measured_ms", "pred_corrected_ms",
                     "error_corrected_pct", "error_pct", "flops_corrected_ms", "flops_mac_corrected_ms",
                     "layout_spread_pct"],
                ["set", "family", "model", "threads", "measured ms", "predicted ms", "error %",
                 "raw error %", "FLOPs-prop. ms", "FLOPs+MAC ms", "layout spread %"],
                [None, None, None, 0, 3, 3, 1, 1, 3, 3, 1]) + [""]
    pred_s = models["predict_s"].median() if len(models) else float("nan")
    L += [f"Prediction time: median {1e3 * pred_s:.2f} ms per model for `predict_table` (the "
          f"prediction from the traced op table).", "",
          "Files: `models.csv` (every row above), `error_stats.csv`, `family_stats.csv`, "
          "`reference.csv` (drift reference timings), `retest.csv` (models measured twice), "
          "`timings.json` (the measurements), "
          "`profile.json`, `scatter.png`, `errors.png`.", ""]
    text = "\n".join(L)
    files.write_text(os.path.join(out_dir, "README.md"), text)
    return text


def _repeatability(again: Optional[pd.DataFrame], every: int = RETEST_EVERY) -> List[str]:
    L = ["## Measurement repeatability", ""]
    if again is None or not len(again):
        return L + ["No model was measured twice in this run: the report cannot say how often two "
                    "measurements of one model agree."]
    L += [f"Every {every}th measured model of each thread count measured again, the same way, at "
          f"the end of the run (minutes later): how often the harness agrees with itself. Two "
          f"measurements carry two noises and a prediction is compared with one, so this is a "
          f"pessimistic bound, but a predictor cannot be *shown* to be within +-10% much more "
          f"often than this on this machine.", ""]
    both = [("raw", retest_stats(again, "diff_pct")),
            ("drift-corrected", retest_stats(again, "diff_corrected_pct"))]
    tab = pd.concat([st.assign(measurement=k) for k, st in both if len(st)], ignore_index=True)
    L += _table(tab, ["threads", "measurement", "n", "within5", "within10", "median_abs", "p90_abs"],
                ["threads", "measurement", "models measured twice", "agree within +-5 %",
                 "agree within +-10 %", "median abs. difference %", "90th percentile %"],
                [0, None, 0, 1, 1, 1, 1])
    if len(both[1][1]):
        L += ["", "Drift-corrected: the model/reference ratio of each measurement (reference run "
                  "between the model's runs), which is what the corrected predictions are compared with."]
    return L


def render(out_dir: str = "reports/latency") -> str:
    """Rewrite ``out_dir``'s README, tables and plots from its ``timings.json``,
    ``reference.csv`` and ``profile.json``, timing nothing."""
    from costmodel.latency import timings
    paths = {k: os.path.join(out_dir, f) for k, f in (("timings", "timings.json"),
                                                     ("profile", "profile.json"),
                                                     ("reference", "reference.csv"),
                                                     ("run", "run.json"))}
    for k in ("timings", "profile"):
        if not os.path.isfile(paths[k]):
            raise FileNotFoundError(f"{paths[k]} is missing: nothing to render")
    doc = timings.load(paths["timings"])
    prof = DeviceProfile.load(paths["profile"])
    refs = pd.read_csv(paths["reference"]) if os.path.exists(paths["reference"]) else pd.DataFrame()
    run_info = files.read_json(paths["run"], ValueError) if os.path.exists(paths["run"]) else {}
    entries = [{"name": e["name"], "threads": e["threads"], "total_ms": e["total_ms"],
                "total_ms_spread": e.get("total_ms_spread") or {}} for e in doc["models"]]
    sets = model_names(int(run_info.get("n_in_space", 30)))
    run_info["machine_diff"] = machine_diff(doc.get("machine") or {}, prof.machine)
    drift = drift_mod.factors(prof, refs)
    rt = os.path.join(out_dir, RETEST_FILE)
    again = files.read_csv(rt, ValueError) if os.path.exists(rt) else None
    from costmodel.latency import families
    return write(out_dir, evaluate(entries, prof, sets, drift, sampler=families.sampler_of(doc)),
                 prof, drift, refs, run_info, again)


def machine_diff(measured: dict, profile_machine: dict) -> Dict[str, str]:
    """The fields in which the measuring machine differs from the profile's, each with what
    differs (for the ISA flags: the ones only one of them has)."""
    from costmodel.latency.machine import same_machine
    out = {}
    for k in same_machine(measured, profile_machine):
        a, b = measured.get(k), profile_machine.get(k)
        if k == "isa" and isinstance(a, list) and isinstance(b, list):
            only_p, only_m = sorted(set(b) - set(a)), sorted(set(a) - set(b))
            out[k] = "; ".join(x for x in (f"only the profile's has {' '.join(only_p)}" if only_p else "",
                                           f"only the measuring one has {' '.join(only_m)}" if only_m else "") if x)
        else:
            out[k] = f"profile {b}, measured on {a}"
    return out


EVALUATIONS_LOG = "foreign_evaluations.csv"


EVALUATION_COLUMNS = ("date", "commit", "profile_created", "note")
_STARTED, _COMPLETE = "started (no figures unless marked complete)", "complete (this report)"


def _log_evaluation(out_dir: str, profile: DeviceProfile) -> int:
    """Append this run to ``out_dir``'s log of evaluations of the frozen set (before measuring,
    so that a run cut off still counts); their number.  :func:`_mark_complete` updates its note."""
    import datetime
    import subprocess
    path = os.path.join(out_dir, EVALUATIONS_LOG)
    rows = pd.read_csv(path, dtype=str, keep_default_na=False) if os.path.exists(path) else \
        pd.DataFrame(columns=list(EVALUATION_COLUMNS))
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=os.path.dirname(SET_PATH)).stdout.strip()
    except OSError:
        commit = ""
    row = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "commit": commit,
           "profile_created": profile.calibration.get("created", ""), "note": _STARTED}
    rows = pd.concat([rows, pd.DataFrame([row])], ignore_index=True).fillna("")
    files.write_csv(path, rows)
    return len(rows)


def _mark_complete(out_dir: str) -> None:
    """Mark the log's last evaluation as the complete one of this report (earlier 'this report'
    notes become 'an earlier report')."""
    path = os.path.join(out_dir, EVALUATIONS_LOG)
    rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    rows.loc[rows["note"] == _COMPLETE, "note"] = "complete (an earlier report)"
    rows.loc[rows.index[-1], "note"] = _COMPLETE
    files.write_csv(path, rows)


def run(out_dir: str = "reports/latency", profile=None, budget_s: Optional[float] = None,
        threads: Sequence[int] = (1, 2), n_in_space: int = 30, progress: bool = True,
        e2e_time_s: float = INTERLEAVED_WINDOW_S, command: str = "", clock: str = "wall",
        foreign_evaluations: Optional[int] = None, retest_every: int = RETEST_EVERY,
        interleave: bool = True) -> str:
    """Calibrate (unless ``profile``), measure every set, measure every ``retest_every``-th
    model again (:func:`retest`; 0: none), write the report; returns README."""
    from costmodel.latency import machine as machine_mod, timings
    from costmodel.latency.calibrate import DEFAULT_BUDGET_S, calibrate
    from costmodel.latency.predict import as_profile
    from costmodel.latency.quiet import CpuWatch

    os.makedirs(out_dir, exist_ok=True)
    t0 = time.perf_counter()
    durations = {}
    if profile is None:
        prof = calibrate(out=os.path.join(out_dir, "profile.json"), budget_s=budget_s or DEFAULT_BUDGET_S,
                         threads=threads, progress=progress, clock=clock,
                         samples_out=os.path.join(out_dir, "calibration_samples.csv"))
        durations["calibration"] = time.perf_counter() - t0
    else:
        prof = as_profile(profile)
        prof.save(os.path.join(out_dir, "profile.json"))
    sets = model_names(n_in_space)
    logged = foreign_evaluations is None
    if logged:
        foreign_evaluations = _log_evaluation(out_dir, prof)
    t1 = time.perf_counter()
    watch = CpuWatch().start()
    entries, refs = measure(list(sets), threads, e2e_time_s, progress, clock, interleave=interleave)
    again = retest(entries, e2e_time_s, clock, retest_every, progress, interleave) \
        if retest_every else None
    quiet_m = watch.stop()
    durations["measurement"] = time.perf_counter() - t1
    from costmodel.latency import families
    doc = {"format": timings.FORMAT, "version": timings.VERSION,
           "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "families_sampler": families.SAMPLER_VERSION,
           "machine": machine_mod.describe(),
           "quiet": quiet_m,
           "models": [{"name": e["name"], "input_shape": e["input_shape"], "threads": e["threads"],
                       "clock": clock,
                       "total_ms": e["total_ms"], "total_ms_spread": timings.nan_to_null(e["total_ms_spread"]),
                       "layer_sum_ms": None, "layers": []} for e in entries]}
    files.write_text(os.path.join(out_dir, "timings.json"), json.dumps(doc, indent=1) + "\n")
    if again is not None:
        files.write_csv(os.path.join(out_dir, RETEST_FILE), again)
    elif os.path.exists(os.path.join(out_dir, RETEST_FILE)):
        os.remove(os.path.join(out_dir, RETEST_FILE))
    refs_df = pd.DataFrame(refs)
    drift = drift_mod.factors(prof, refs_df)
    models = evaluate(entries, prof, sets, drift)
    durations["total"] = time.perf_counter() - t0
    quiet = {"calibration": prof.calibration.get("quiet"), "measurement": quiet_m}
    run_info = {"command": command, "durations_s": durations, "n_in_space": n_in_space,
                "machine_diff": machine_diff(doc["machine"], prof.machine),
                "quiet": {k: v for k, v in quiet.items() if v},
                "foreign_evaluations": foreign_evaluations, "retest_every": retest_every,
                "e2e_time_s": e2e_time_s, "interleaved": bool(interleave)}
    files.write_json(os.path.join(out_dir, "run.json"), run_info)
    text = write(out_dir, models, prof, drift, refs_df, run_info, again)
    if logged:
        _mark_complete(out_dir)
    return text
