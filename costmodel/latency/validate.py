"""Compare predicted with measured latency: ``costmodel validate`` and the validation report.

:func:`evaluate` takes a timing document (:mod:`costmodel.latency.timings`) and a profile and
returns per-model and per-layer comparison tables; :func:`error_stats` gives RMSE, mean absolute
percentage error and the shares within +-5% / +-10%.  Two baselines ride along, both fitted on the
calibration networks: latency proportional to FLOPs, and a linear model on FLOPs and MAC.

:func:`validation_report` is the one command behind ``reports/latency``: it calibrates (unless a
profile is given), measures every zoo model and ``n_networks`` held-out ShuffleNet/MobileNet-like
networks at each thread count (batch 1), writes the measurements as a portable timing file, and
writes ``README.md`` (tables, noise, floors), CSVs and scatter plots.
"""
from __future__ import annotations

import math
import os
import time
import warnings
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
import torch

from costmodel.latency import checks, files, machine as machine_mod, space, timings
from costmodel.latency.features import op_table
from costmodel.latency.measure import LatencyResult, measure_layers, time_end_to_end
from costmodel.latency.named import resolve_model
from costmodel.latency.predict import as_profile, predict_table
from costmodel.latency.profile import DeviceProfile
from costmodel.latency.quiet import CpuWatch, describe as describe_quiet, is_busy
from costmodel.latency.replay import threads_pinned


# ---------------------------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------------------------
def error_stats(pred: Iterable[float], meas: Iterable[float]) -> Dict[str, float]:
    """RMSE (ms), RMSPE and MAPE (percent), share within +-5% and +-10% (percent), n."""
    p = np.asarray(list(pred), dtype=float)
    m = np.asarray(list(meas), dtype=float)
    ok = np.isfinite(p) & np.isfinite(m) & (m > 0)
    p, m = p[ok], m[ok]
    if not len(m):
        return {"n": 0, "rmse_ms": float("nan"), "rmspe": float("nan"), "mape": float("nan"),
                "within5": float("nan"), "within10": float("nan")}
    rel = (p - m) / m
    return {"n": int(len(m)), "rmse_ms": float(np.sqrt(np.mean((p - m) ** 2))),
            "rmspe": float(100 * np.sqrt(np.mean(rel ** 2))),
            "mape": float(100 * np.mean(np.abs(rel))),
            "within5": float(100 * np.mean(np.abs(rel) <= 0.05)),
            "within10": float(100 * np.mean(np.abs(rel) <= 0.10))}


# ---------------------------------------------------------------------------------------------
# evaluation of a timing document
# ---------------------------------------------------------------------------------------------
def evaluate(doc: dict, profile, strict: bool = False, progress: bool = False):
    """(models DataFrame, layers DataFrame, skipped list) comparing ``doc`` with ``profile``.

    models: ``name``, ``group`` (zoo / sampled / other), ``threads``, ``measured_ms``,
    ``pred_ms``, ``flops_ms``, ``flops_mac_ms``, ``layer_sum_ms``, ``repeat_spread_pct``,
    ``rerun_diff_pct``.  layers: ``model``, ``threads``, ``name``, ``kind``, ``measured_ms``,
    ``pred_isolated_ms``, ``pred_ms``.  A model that cannot be resolved by name, or a thread count
    the profile lacks, is skipped (listed in ``skipped``) unless ``strict``; when every model is
    skipped :class:`NoModelsError` is raised (there is nothing to report)."""
    prof = as_profile(profile)
    rows, layer_frames, skipped = [], [], []
    tables: Dict[Tuple[str, tuple], pd.DataFrame] = {}
    entries = timings.entries(doc)
    it = entries
    if progress:
        from tqdm import tqdm
        it = tqdm(entries, desc="predict", unit="model", leave=False)
    for e in it:
        name, threads = e["name"], int(e["threads"])
        if threads not in prof.threads:
            msg = f"{name}: profile has no {threads}-thread model (has {prof.thread_counts})"
            if strict:
                raise ValueError(msg)
            skipped.append(msg)
            continue
        key = (name, tuple(e["input_shape"]))
        if key not in tables:
            try:
                model, _ = resolve_model(name)
            except KeyError as exc:
                if strict:
                    raise
                skipped.append(f"{name}: {exc}")
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tables[key], _ = op_table(model, tuple(e["input_shape"]))
        table = tables[key]
        layers, total, _ = predict_table(table, prof, threads)
        flops, mac = float(table["flops"].sum()), float(table["mac"].sum())
        spread = e.get("total_ms_spread") or {}
        rows.append({"name": name, "group": _group(name), "threads": threads,
                     "measured_ms": float(e["total_ms"]), "pred_ms": total,
                     "flops_ms": prof.baseline("flops", flops, mac, threads),
                     "flops_mac_ms": prof.baseline("flops_mac", flops, mac, threads),
                     "layer_sum_ms": e.get("layer_sum_ms"),
                     "repeat_spread_pct": spread.get("repeat_spread_pct"),
                     "rerun_diff_pct": spread.get("rerun_diff_pct"),
                     "layout_spread_pct": spread.get("layout_spread_pct")})
        if e["layers"]:
            meas = pd.DataFrame(e["layers"])
            if len(meas) == len(layers) and list(meas["name"]) == list(layers["name"]):
                merged = layers[["name", "kind", "key", "pred_isolated_ms", "pred_ms"]].copy()
                merged["measured_ms"] = meas["measured_ms"].astype(float).to_numpy()
            else:  # match by name (another costmodel version may trace slightly differently)
                merged = layers[["name", "kind", "key", "pred_isolated_ms", "pred_ms"]].merge(
                    meas[["name", "measured_ms"]], on="name", how="inner")
            merged.insert(0, "threads", threads)
            merged.insert(0, "model", name)
            layer_frames.append(merged)
    if not rows:
        shown = "; ".join(skipped[:3]) + (f"; and {len(skipped) - 3} more" if len(skipped) > 3 else "")
        raise NoModelsError(f"no model of the timing file could be compared with the profile "
                            f"(all {len(skipped)} skipped: {shown})")
    models = pd.DataFrame(rows)
    layers_df = pd.concat(layer_frames, ignore_index=True) if layer_frames else pd.DataFrame(
        columns=["model", "threads", "name", "kind", "key", "pred_isolated_ms", "pred_ms", "measured_ms"])
    return models, layers_df, skipped


class NoModelsError(ValueError):
    """Every model of a timing file was skipped: nothing could be compared."""


class ReportFileError(ValueError):
    """A file of a validation report folder (``run.json``, ``drift.csv``) is malformed."""


def _group(name: str) -> str:
    if name.startswith("space:validation:"):
        return "sampled"
    if name.startswith("space:"):
        return "calibration"
    try:
        from costmodel import zoo
        zoo.entry(name)
        return "zoo"
    except Exception:
        return "other"


def model_stats(models: pd.DataFrame) -> pd.DataFrame:
    """One row per (group, threads, predictor) with :func:`error_stats`."""
    out = []
    if not len(models):
        return pd.DataFrame()
    groups = [("all", models)] + list(models.groupby("group"))
    for gname, g in groups:
        for t, gt in g.groupby("threads"):
            for pred, label in (("pred_ms", "costmodel"), ("flops_ms", "FLOPs-proportional"),
                                ("flops_mac_ms", "linear FLOPs+MAC")):
                s = error_stats(gt[pred], gt["measured_ms"])
                out.append({"group": gname, "threads": int(t), "predictor": label, **s})
    return pd.DataFrame(out)


def kind_stats(layers: pd.DataFrame) -> pd.DataFrame:
    """Per-layer error of the isolated prediction against the isolated replay, per kind and
    thread count, with each kind's share of the measured time."""
    if not len(layers):
        return pd.DataFrame()
    out = []
    for (t, kind), g in layers.groupby(["threads", "kind"]):
        s = error_stats(g["pred_isolated_ms"], g["measured_ms"])
        total = layers[layers["threads"] == t]["measured_ms"].sum()
        out.append({"threads": int(t), "kind": kind, **s,
                    "time_share": float(100 * g["measured_ms"].sum() / total) if total else float("nan")})
    return pd.DataFrame(out).sort_values(["threads", "time_share"], ascending=[True, False])


# ---------------------------------------------------------------------------------------------
# measurement of many models (validation report, bench)
# ---------------------------------------------------------------------------------------------
def measure_many(names: Sequence[str], threads: Sequence[int] = (1, 2), per_layer: bool = True,
                 e2e_time_s: float = 0.5, layer_time_s: float = 0.02, rerun: bool = True,
                 progress: bool = True, builder=resolve_model, clock: str = "wall",
                 fresh_process: bool = True) -> List[LatencyResult]:
    """Measure each named model at each thread count.  Replay timings are shared between ops with
    the same signature across models (same kernel, same shapes); with ``rerun`` the end-to-end
    time is measured twice (before and after the per-layer replays) and ``total_ms`` is their
    mean, ``total_ms_spread['rerun_diff_pct']`` their difference (run-to-run noise).  With
    ``fresh_process`` (and the default ``builder``) each end-to-end measurement runs in a fresh
    process (:mod:`costmodel.latency.fresh`)."""
    from costmodel.latency import fresh
    fresh_process = fresh_process and builder is resolve_model and fresh.available()

    def e2e_time(name, model, x, t, **kw):
        if fresh_process:
            return fresh.time_named(name, t, min_time_s=e2e_time_s, repeats=3, clock=clock)
        with threads_pinned(t), torch.inference_mode():
            return time_end_to_end(model, [x], min_time_s=e2e_time_s, repeats=3, clock=clock, **kw)

    results = []
    caches: Dict[int, dict] = {int(t): {} for t in threads}
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(names) * len(threads), desc="measure", unit="run", mininterval=1.0)
    mach = machine_mod.describe()
    for name in names:
        model, shape = builder(name)
        model.eval()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table, report = op_table(model, shape)
        x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
        for t in threads:
            t0 = time.perf_counter()
            e2e = e2e_time(name, model, x, t)
            with threads_pinned(t), torch.inference_mode():
                measured = measure_layers(report.graph, table, layer_time_s, cache=caches[int(t)],
                                          clock=clock) if per_layer else table
            if rerun:
                e2e2 = e2e_time(name, model, x, t, warmup_s=0.05)
            total = e2e.pop("median")
            e2e.pop("input_shape", None)
            if rerun:
                second = e2e2["median"]
                e2e["rerun_diff_pct"] = 100 * abs(total - second) / ((total + second) / 2)
                e2e["first_ms"], e2e["second_ms"] = total, second
                total = (total + second) / 2
            results.append(LatencyResult(name, list(shape), int(t), total, e2e, measured,
                                         dict(mach, threads=int(t), clock=clock),
                                         time.perf_counter() - t0, {"clock": clock}))
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(name[:40])
    if bar is not None:
        bar.close()
    return results


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------
def _fmt(v, nd=1):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:.{nd}f}"


def _md(df: pd.DataFrame, cols: Sequence[str], headers: Sequence[str], nds: Sequence[int]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for r in df.itertuples(index=False):
        cells = []
        for c, nd in zip(cols, nds):
            v = getattr(r, c)
            cells.append(_fmt(v, nd) if isinstance(v, (float, np.floating)) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def scatter_plot(models: pd.DataFrame, layers: pd.DataFrame, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from costmodel.plots.savefig import save_figure

    threads = sorted(models["threads"].unique()) if len(models) else [1]
    fig, axes = plt.subplots(2, len(threads), figsize=(6 * len(threads), 11), squeeze=False)
    for j, t in enumerate(threads):
        ax = axes[0, j]
        g = models[models["threads"] == t]
        lo = max(1e-3, float(g["measured_ms"].min()) * 0.5)
        hi = float(g["measured_ms"].max()) * 2
        xs = np.array([lo, hi])
        ax.fill_between(xs, xs * 0.9, xs * 1.1, color="0.9", label="+-10%")
        ax.plot(xs, xs, "k-", lw=0.8)
        for col, color, label in (("flops_ms", "tab:blue", "FLOPs-proportional"),
                                  ("flops_mac_ms", "tab:green", "linear FLOPs+MAC"),
                                  ("pred_ms", "tab:red", "costmodel")):
            for grp, mk in (("zoo", "s"), ("sampled", "o")):
                gg = g[g["group"] == grp]
                if len(gg):
                    ax.scatter(gg["measured_ms"], gg[col], marker=mk, s=16, color=color,
                               alpha=0.9 if col == "pred_ms" else 0.45, label=f"{label} ({grp})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_xlabel("measured end-to-end (ms)")
        ax.set_ylabel("predicted (ms)")
        ax.set_title(f"end-to-end, {t} thread(s), batch 1")
        ax.legend(fontsize=7, loc="upper left")
        ax = axes[1, j]
        lt = layers[layers["threads"] == t] if len(layers) else layers
        if len(lt):
            for kind, gk in lt.groupby("kind"):
                ax.scatter(gk["measured_ms"], gk["pred_isolated_ms"], s=5, alpha=0.5, label=kind)
            lo2 = max(1e-4, float(lt["measured_ms"][lt["measured_ms"] > 0].min()) * 0.5)
            hi2 = float(lt["measured_ms"].max()) * 2
            ax.plot([lo2, hi2], [lo2, hi2], "k-", lw=0.8)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlim(lo2, hi2)
            ax.set_ylim(lo2, hi2)
            ax.legend(fontsize=6, ncol=2, markerscale=2)
        ax.set_xlabel("measured per-op replay (ms)")
        ax.set_ylabel("predicted isolated op time (ms)")
        ax.set_title(f"per layer, {t} thread(s)")
    fig.tight_layout()
    try:
        save_figure(fig, path, dpi=110)
    finally:
        plt.close(fig)


#: A median drift of the re-timed calibration networks beyond this (percent) makes the report
#: warn that the machine's speed changed between calibration and validation.
DRIFT_PCT = 5.0


def write_report(out_dir: str, models: pd.DataFrame, layers: pd.DataFrame, profile: DeviceProfile,
                 doc: dict, command: str = "", durations: Optional[Dict[str, float]] = None,
                 skipped: Sequence[str] = (), drift: Optional[pd.DataFrame] = None,
                 quiet: Optional[Dict[str, dict]] = None) -> str:
    os.makedirs(out_dir, exist_ok=True)
    mstats = model_stats(models)
    kstats = kind_stats(layers)
    for name, df in (("models.csv", models), ("layers.csv", layers), ("error_stats.csv", mstats),
                     ("per_kind.csv", kstats)):
        files.write_csv(os.path.join(out_dir, name), df)
    scatter_plot(models, layers, os.path.join(out_dir, "scatter.png"))
    m = doc["machine"]
    lines = ["# Latency prediction: validation report", ""]
    if command:
        lines += ["Regenerate with:", "", f"    {command}", ""]
    lines += [f"Machine: {m.get('cpu_model')} ({m.get('arch')}, ISA {' '.join(m.get('isa') or []) or '-'}, "
              f"{m.get('logical_cpus')} logical CPUs), {m.get('os')}, torch {m.get('torch')}, "
              f"Python {m.get('python')}. Batch 1, float32, `torch.inference_mode()`, threads pinned "
              f"with `torch.set_num_threads`; allocator: {m.get('allocator', 'not recorded')} "
              f"(`costmodel/latency/allocator.py`). End-to-end times are the median over 3 copies "
              f"of each model at fresh memory addresses (layouts).", ""]
    cal = profile.calibration
    dropped = {t: (profile.threads[t].get("stats") or {}).get("networks_dropped_disturbed")
               for t in profile.thread_counts}
    dropped = "; ".join(f"{n} at {t} thread(s)" for t, n in dropped.items() if n)
    lines += [f"Profile: calibrated {cal.get('created', '?')} with budget {cal.get('budget_s')} s "
              f"(wall {cal.get('wall_s')} s), {cal.get('op_samples')} op samples, "
              f"{cal.get('network_runs')} calibration-network runs (seed {cal.get('seed')}"
              f"{'; networks left out of the fit because their op replays were disturbed twice: ' + dropped if dropped else ''}); held-out "
              f"networks use seed {space.VALIDATION_SEED} and are checked disjoint from the "
              f"calibration networks.", ""]
    if durations:
        lines += ["Durations: " + ", ".join(f"{k} {v / 60:.1f} min" for k, v in durations.items()), ""]
    n_zoo = int((models["group"] == "zoo").sum()) if len(models) else 0
    n_s = int((models["group"] == "sampled").sum()) if len(models) else 0
    lines += [f"Runs compared: {n_zoo} zoo model runs and {n_s} held-out sampled-network runs "
              f"(over all thread counts).", ""]
    # floors
    lines += ["## Floors", ""]
    busy = {k: w["other_cpu_pct"] for k, w in (quiet or {}).items() if is_busy(w)}
    drifted = {int(t): float(g["diff_pct"].median()) for t, g in drift.groupby("threads")
               if abs(g["diff_pct"].median()) > DRIFT_PCT} if drift is not None and len(drift) else {}
    if drifted:
        lines += ["**The machine's speed changed between calibration and validation**: the "
                  "calibration networks re-timed at the end differ from their calibration-time "
                  "times by a median " + ", ".join(f"{v:+.1f}% at {t} thread(s)" for t, v in
                                                  drifted.items())
                  + " (see Measurement noise). Every prediction is off by about as much: "
                  "recalibrate and re-run on a steady machine before trusting the figures below.", ""]
    if busy:
        lines += ["**The machine was not quiet**: other processes used " + ", ".join(
            f"{v:.0f}% of a core during {k}" for k, v in busy.items()) + " (see Measurement "
            "noise): these timings are disturbed, and the figures below do not separate costmodel's "
            "error from that interference.", ""]
    for t in sorted(models["threads"].unique()) if len(models) else []:
        s = mstats[(mstats["group"] == "sampled") & (mstats["threads"] == t)]
        if not len(s):
            continue
        ours = s[s["predictor"] == "costmodel"].iloc[0]
        fl = s[s["predictor"] == "FLOPs-proportional"].iloc[0]
        fm = s[s["predictor"] == "linear FLOPs+MAC"].iloc[0]
        ok10 = ours["within10"] >= 90
        ok_rmse = ours["rmse_ms"] < fl["rmse_ms"] and ours["rmse_ms"] < fm["rmse_ms"]
        lines.append(f"- {t} thread(s), held-out networks: {ours['within10']:.1f}% within +-10% "
                     f"(floor 90%{', applies at 1 thread' if t != 1 else ''}: "
                     f"{'met' if ok10 else 'NOT met'}); RMSE {ours['rmse_ms']:.3f} ms vs "
                     f"FLOPs-proportional {fl['rmse_ms']:.3f} ms and linear FLOPs+MAC "
                     f"{fm['rmse_ms']:.3f} ms ({'better than both' if ok_rmse else 'NOT better than both'}).")
    lines += ["", "## End-to-end error", "",
              "RMSE in ms; RMSPE, MAPE and the within shares in percent.", "",
              _md(mstats, ["group", "threads", "predictor", "n", "rmse_ms", "rmspe", "mape", "within5",
                           "within10"],
                  ["set", "threads", "predictor", "n", "RMSE ms", "RMSPE %", "MAPE %", "within +-5 %",
                   "within +-10 %"], [0, 0, 0, 0, 3, 1, 1, 1, 1]), ""]
    # noise
    lines += ["## Measurement noise", ""]
    if len(models):
        for t, g in models.groupby("threads"):
            rr = pd.to_numeric(g["rerun_diff_pct"], errors="coerce")
            rs = pd.to_numeric(g["repeat_spread_pct"], errors="coerce")
            ls = pd.to_numeric(g.get("layout_spread_pct", pd.Series(dtype=float)), errors="coerce")
            layout = (f"; spread between the medians of the model's 3 memory layouts: median "
                      f"{_fmt(ls.median(), 2)}%, 90th percentile {_fmt(ls.quantile(0.9), 2)}%"
                      if ls.notna().any() else "")
            gap = 100 * (g["measured_ms"] - pd.to_numeric(g["layer_sum_ms"], errors="coerce")) / g["measured_ms"]
            lines.append(
                f"- {t} thread(s): end-to-end measured twice per model (before and after the "
                f"per-layer replays): median difference {_fmt(rr.median(), 2)}%, 90th percentile "
                f"{_fmt(rr.quantile(0.9), 2)}%, max {_fmt(rr.max(), 2)}%; spread of the block "
                f"medians inside one measurement: median {_fmt(rs.median(), 2)}%, 90th percentile "
                f"{_fmt(rs.quantile(0.9), 2)}%{layout}. Gap between end-to-end and the sum of isolated "
                f"per-layer replays: median {_fmt(gap.median(), 1)}% of end-to-end (range "
                f"{_fmt(gap.min(), 1)}% .. {_fmt(gap.max(), 1)}%).")
        if drift is not None and len(drift):
            for t, g in drift.groupby("threads"):
                lines.append(
                    f"- {t} thread(s), drift between calibration and validation: {len(g)} calibration "
                    f"networks re-measured after the validation runs differ from their calibration-time "
                    f"end-to-end times by {_fmt(g['diff_pct'].median(), 1)}% (median; range "
                    f"{_fmt(g['diff_pct'].min(), 1)}% .. {_fmt(g['diff_pct'].max(), 1)}%). A systematic "
                    f"drift shifts every prediction by about as much: on a quiet machine it stays "
                    f"within a few percent.")
        for phase, watch in (quiet or {}).items():
            lines.append(f"- Machine load during {phase}: {describe_quiet(watch)}.")
        if len(layers):
            lines.append("- An error below the noise level cannot be resolved: compare the within "
                         "+-5% share with the run-to-run differences above.")
    lines += ["", "## Per-kind per-layer error", "",
              "Isolated prediction (`pred_isolated_ms`) against the isolated replay of the same op "
              "(`measured_ms`); `share` is the kind's share of the summed replay time.", "",
              _md(kstats, ["threads", "kind", "n", "mape", "within10", "rmse_ms", "time_share"],
                  ["threads", "kind", "ops", "MAPE %", "within +-10 %", "RMSE ms", "share %"],
                  [0, 0, 0, 1, 1, 4, 1]) if len(kstats) else "(no per-layer data)", "",
              "## Per-layer error over all ops", ""]
    for t, g in (layers.groupby("threads") if len(layers) else []):
        s = error_stats(g["pred_isolated_ms"], g["measured_ms"])
        lines.append(f"- {t} thread(s): {s['n']} ops, MAPE {s['mape']:.1f}%, within +-10% "
                     f"{s['within10']:.1f}%, RMSE {s['rmse_ms']:.4f} ms")
    lines += ["", "## Calibrated model", ""]
    for t in profile.thread_counts:
        net = profile.threads[t].get("network", {})
        lines.append(f"- {t} thread(s): network model {dict(zip(net.get('features', []), [round(c, 6) if abs(c) > 1e-3 else float(f'{c:.3e}') for c in net.get('coef', [])]))} "
                     f"(LOO CV MAPE {net.get('cv_mape')}%); per-op models: " + ", ".join(
                         f"{k} {v['type']} ({v.get('cv_mape')}%)" for k, v in
                         sorted(profile.threads[t]['ops'].items())))
    if skipped:
        lines += ["", "## Skipped", ""] + [f"- {s}" for s in skipped]
    lines += ["", "## Files", "",
              "- `timings.json`: the measurements (portable costmodel-timings file, "
              "`costmodel validate timings.json --profile profile.json` recomputes the tables)",
              "- `profile.json`: the calibrated device profile; `calibration_samples*.csv`: its raw "
              "samples (when this run calibrated)",
              "- `models.csv`, `layers.csv`: every prediction next to its measurement",
              "- `error_stats.csv`, `per_kind.csv`: the tables above",
              "- `scatter.png`: predicted versus measured, end-to-end (top) and per layer (bottom)", ""]
    text = "\n".join(lines)
    files.write_text(os.path.join(out_dir, "README.md"), text)
    return text


def validation_report(out_dir: str = "reports/latency", profile=None, budget_s: Optional[float] = None,
                      n_networks: int = 100, zoo_names: Optional[Sequence[str]] = None,
                      threads: Sequence[int] = (1, 2), progress: bool = True,
                      e2e_time_s: float = 0.5, layer_time_s: float = 0.02, command: str = "",
                      clock: str = "wall") -> str:
    """Calibrate (unless ``profile``), measure the zoo and ``n_networks`` held-out networks,
    write the report into ``out_dir``; returns the README text."""
    from costmodel import zoo
    from costmodel.latency.calibrate import DEFAULT_BUDGET_S, calibrate

    os.makedirs(out_dir, exist_ok=True)
    durations = {}
    t0 = time.perf_counter()
    if profile is None:
        prof = calibrate(out=os.path.join(out_dir, "profile.json"),
                         budget_s=budget_s or DEFAULT_BUDGET_S, threads=threads, progress=progress,
                         clock=clock,
                         samples_out=os.path.join(out_dir, "calibration_samples.csv"))
        durations["calibration"] = time.perf_counter() - t0
    else:
        prof = as_profile(profile)
        prof.save(os.path.join(out_dir, "profile.json"))
    names = list(zoo.names() if zoo_names is None else zoo_names)
    names += [f"space:validation:{i}" for i in range(n_networks)]
    t1 = time.perf_counter()
    watch = CpuWatch().start()
    results = measure_many(names, threads, e2e_time_s=e2e_time_s, layer_time_s=layer_time_s,
                           progress=progress, clock=clock)
    quiet_measurement = watch.stop()
    durations["measurement"] = time.perf_counter() - t1
    doc = timings.make_document(results, machine_mod.describe())
    timings.save(doc, os.path.join(out_dir, "timings.json"))
    drift = drift_check(prof, threads, clock=clock, progress=progress)
    if len(drift):
        files.write_csv(os.path.join(out_dir, "drift.csv"), drift)
    durations["total"] = time.perf_counter() - t0
    files.write_json(os.path.join(out_dir, RUN_JSON),
                     {"command": command, "durations_s": durations,
                      "quiet": {"measurement": quiet_measurement}})
    return render_report(out_dir)


RUN_JSON = "run.json"


def render_report(out_dir: str = "reports/latency") -> str:
    """Rewrite ``out_dir``'s README, tables and plots from the files an earlier
    :func:`validation_report` left there (``timings.json``, ``profile.json``, ``drift.csv``,
    ``run.json``), timing nothing; returns the README text."""
    paths = {k: os.path.join(out_dir, f) for k, f in (("timings", "timings.json"),
                                                     ("profile", "profile.json"),
                                                     ("drift", "drift.csv"), ("run", RUN_JSON))}
    for k in ("timings", "profile"):
        if not os.path.isfile(paths[k]):
            raise FileNotFoundError(f"{paths[k]} is missing: nothing to render (run "
                                    f"`costmodel validate-report --out {out_dir}` first)")
    doc = timings.load(paths["timings"])
    prof = DeviceProfile.load(paths["profile"])
    drift = read_drift(paths["drift"]) if os.path.exists(paths["drift"]) else None
    run = read_run(paths["run"]) if os.path.exists(paths["run"]) else {}
    models, layers, skipped = evaluate(doc, prof)
    quiet = dict(run.get("quiet") or {})
    if prof.calibration.get("quiet"):
        quiet = {"calibration": prof.calibration["quiet"], **quiet}
    return write_report(out_dir, models, layers, prof, doc, run.get("command", ""),
                        run.get("durations_s") or {}, skipped, drift, quiet)


DRIFT_COLUMNS = ("threads", "index", "calibration_ms", "now_ms", "diff_pct")


def read_drift(path) -> pd.DataFrame:
    """A report's ``drift.csv`` (:func:`drift_check`), its numbers checked."""
    df = files.read_csv(path, ReportFileError)
    missing = [c for c in DRIFT_COLUMNS if c not in df]
    if len(df) and missing:
        raise ReportFileError(f"{path}: not a drift table (missing columns {missing})")
    checks.columns(df, ["threads"], path, ReportFileError, lo=1, integer=True)
    checks.columns(df, ["index"], path, ReportFileError, integer=True)
    checks.columns(df, ["calibration_ms", "now_ms"], path, ReportFileError, hi=checks.MAX_MS,
                   positive=True)
    checks.columns(df, ["diff_pct"], path, ReportFileError, lo=-100.0, hi=1e9)
    return df


def read_run(path) -> dict:
    """A report's ``run.json`` (command, durations, machine load), its fields checked."""
    run = files.read_json(path, ReportFileError)
    if not isinstance(run, dict):
        raise ReportFileError(f"{path}: expected a JSON object, got {checks.show(run)}")
    if not isinstance(run.get("command", ""), str):
        raise ReportFileError(f"{path}: command: expected a string, got {checks.show(run['command'])}")
    for key in ("durations_s", "quiet"):
        if not isinstance(run.get(key) or {}, dict):
            raise ReportFileError(f"{path}: {key}: expected an object, got {checks.show(run[key])}")
    for k, v in (run.get("durations_s") or {}).items():
        checks.number(v, f"{path}: durations_s.{k}", ReportFileError, hi=1e9)
    for k, v in (run.get("quiet") or {}).items():
        checks.quiet(v, f"{path}: quiet.{k}", ReportFileError)
    return run


def drift_check(profile: DeviceProfile, threads: Sequence[int], n: int = 8, clock: str = "wall",
                progress: bool = False, fresh_process: bool = True) -> pd.DataFrame:
    """Re-measure up to ``n`` calibration networks end-to-end now and compare with their times at
    calibration: how much the machine itself changed between calibration and validation."""
    from costmodel.latency import fresh
    fresh_process = fresh_process and fresh.available()
    if profile.calibration.get("seed") != space.CALIBRATION_SEED:
        return pd.DataFrame()
    rows = []
    for t in threads:
        anchors = (profile.threads.get(int(t)) or {}).get("calibration_networks") or []
        for a in anchors[:n]:
            name = f"space:calibration:{a['index']}"
            if fresh_process:
                e = fresh.time_named(name, t, min_time_s=0.5, repeats=3, clock=clock)
            else:
                model, shape = resolve_model(name)
                x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
                with threads_pinned(t), torch.inference_mode():
                    e = time_end_to_end(model, [x], min_time_s=0.5, repeats=3, clock=clock)
            rows.append({"threads": int(t), "index": a["index"], "calibration_ms": a["e2e_ms"],
                         "now_ms": e["median"], "diff_pct": 100 * (e["median"] / a["e2e_ms"] - 1)})
    return pd.DataFrame(rows)


def doc_summary(models: pd.DataFrame) -> str:
    """Short text table for ``costmodel validate``."""
    if not len(models):
        return "no model could be compared\n"
    lines = [f"{'model':40s} {'thr':>3s} {'measured':>10s} {'predicted':>10s} {'err %':>7s} "
             f"{'FLOPs %':>8s} {'F+MAC %':>8s}"]
    for r in models.itertuples(index=False):
        err = 100 * (r.pred_ms - r.measured_ms) / r.measured_ms
        e1 = 100 * (r.flops_ms - r.measured_ms) / r.measured_ms
        e2 = 100 * (r.flops_mac_ms - r.measured_ms) / r.measured_ms
        lines.append(f"{r.name[:40]:40s} {r.threads:3d} {r.measured_ms:10.3f} {r.pred_ms:10.3f} "
                     f"{err:+7.1f} {_fmt(e1):>8s} {_fmt(e2):>8s}")
    lines += [""] + set_summary_lines(models)
    return "\n".join(lines) + "\n"


#: the sets of :func:`evaluate`'s ``group`` column, in words
SET_LABELS = {"zoo": "zoo models", "sampled": "held-out in-space networks",
              "calibration": "calibration networks", "other": "other (foreign) models"}


def set_summary_lines(models: pd.DataFrame) -> List[str]:
    """One line per set (zoo, held-out in-space, ...), thread count and predictor, never mixing
    sets: the figures ``reports/latency/README.md`` tabulates per set."""
    st = model_stats(models)
    if not len(st):
        return []
    st = st[st["group"] != "all"]
    order = {g: i for i, g in enumerate(SET_LABELS)}
    st = st.assign(rank=st["group"].map(order).fillna(len(order)))
    st = st.sort_values(["rank", "threads"], kind="stable")
    lines = []
    for r in st.itertuples(index=False):
        lines.append(f"{SET_LABELS.get(r.group, r.group) + ',':27s} {r.threads} thread(s) "
                     f"{r.predictor:20s}: n {r.n}, RMSE {r.rmse_ms:.3f} ms, MAPE {r.mape:.1f}%, "
                     f"within +-5% {r.within5:.0f}%, within +-10% {r.within10:.0f}%")
    lines += ["Per set, as reports/latency/README.md (foreign set first, then zoo and in-space",
              "held-out networks) and the README's Latency section report them; a share over the "
              "sets together would mix zoo models with held-out networks."]
    return lines
