"""Relate emulated aarch64 instruction counts to the formulas (madds, MAC) and to x86 time.

:func:`layer_frame` joins the layers of emulated timing files (``costmodel arm run``) with those of
x86 timing files (``costmodel bench`` / :func:`measure_x86`, one thread) by model and layer name.
:func:`kind_table` sums per op kind: aarch64 instructions per madd and per MAC element, x86
nanoseconds per madd and per MAC element, and the kind's share of the model's instructions
against its share of x86 time.  ``arm_vs_x86`` = (share of aarch64 instructions) / (share of x86
time): above 1 the kind costs relatively more on the ARM kernels than on x86, below 1 less.
Instructions are not time (an FMA and a cache-missing load count one each), so this compares
how much *work* the aarch64 kernels issue per op kind, not ARM latency.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from costmodel.latency import files, timings


def _layers(doc: dict, source: str) -> pd.DataFrame:
    rows = []
    for m in doc["models"]:
        for i, l in enumerate(m["layers"]):
            r = {"model": m["name"], "input": "x".join(map(str, m["input_shape"])), "pos": i,
                 "name": l["name"], "kind": l["kind"], "op": l.get("op")}
            r.update({k: l.get(k) for k in ("madds", "mac", "flops", "instructions",
                                            "instructions_spread_pct", "measured_ms")})
            r["same_replay"] = bool(l.get("same_replay_as"))
            rows.append(r)
    df = pd.DataFrame(rows)
    df["source"] = source
    return df


def layer_frame(arm_docs: Sequence[dict], x86_docs: Sequence[dict] = ()) -> pd.DataFrame:
    """One row per emulated layer with ``instructions``, formula counts and (when an x86 file has
    the same model, input and layer name) ``x86_ms``, the median over the x86 files that have it
    (``x86_runs`` of them)."""
    frames, seen = [], set()
    for d in arm_docs:  # a model emulated in several files: the first one counts
        keep = [m for m in d["models"]
                if (m["name"], tuple(m["input_shape"])) not in seen]
        seen.update((m["name"], tuple(m["input_shape"])) for m in keep)
        if keep:
            frames.append(_layers(dict(d, models=keep), "arm"))
    arm = pd.concat(frames, ignore_index=True)
    # the emulated runs are single-threaded: only 1-thread x86 entries compare with them (a
    # validation report's timings.json also holds 2-thread runs of the same models)
    x86_docs = [dict(d, models=[m for m in d["models"] if m.get("threads", 1) == 1])
                for d in x86_docs]
    x86_docs = [d for d in x86_docs if d["models"]]
    if x86_docs:
        x86 = pd.concat([_layers(d, "x86") for d in x86_docs], ignore_index=True)
        x86 = x86[["model", "input", "name", "kind", "measured_ms"]].rename(
            columns={"measured_ms": "x86_ms", "kind": "x86_kind"})
        # several x86 files of the same model: the per-layer median over them
        x86 = (x86.groupby(["model", "input", "name"], sort=False)
               .agg(x86_ms=("x86_ms", "median"), x86_kind=("x86_kind", "first"),
                    x86_runs=("x86_ms", "count")).reset_index())
        arm = arm.merge(x86, on=["model", "input", "name"], how="left")
        arm.loc[arm["x86_kind"].notna() & (arm["x86_kind"] != arm["kind"]), "x86_ms"] = np.nan
        arm = arm.drop(columns=["x86_kind"])
    else:
        arm["x86_ms"] = np.nan
    for c in ("madds", "mac", "flops", "instructions", "x86_ms", "instructions_spread_pct"):
        arm[c] = pd.to_numeric(arm[c], errors="coerce")
    return arm


def distinct(df: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct replay (layers that share a replay with an earlier one dropped)."""
    return df[~df["same_replay"]] if "same_replay" in df else df


def kind_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per op kind: counts, instructions per madd / per MAC, x86 ns per madd / per MAC, shares.

    Shares are computed over the layers that have both an instruction count and an x86 time, so
    the two columns describe the same ops."""
    d = df[df["instructions"].notna()].copy()
    both = d[d["x86_ms"].notna()]
    tot_i = both["instructions"].sum()
    tot_t = both["x86_ms"].sum()
    rows = []
    for kind, g in d.groupby("kind", sort=False):
        gb = g[g["x86_ms"].notna()]
        madds, mac, inst = g["madds"].sum(), g["mac"].sum(), g["instructions"].sum()
        x_ms = gb["x86_ms"].sum() if len(gb) else np.nan
        i_share = gb["instructions"].sum() / tot_i if tot_i and len(gb) else np.nan
        t_share = x_ms / tot_t if tot_t and len(gb) else np.nan
        rows.append({
            "kind": kind, "ops": len(g), "madds_M": madds / 1e6, "mac_M": mac / 1e6,
            "instr_M": inst / 1e6,
            "instr_per_madd": inst / madds if madds else np.nan,
            "instr_per_mac": inst / mac if mac else np.nan,
            "x86_ns_per_madd": 1e6 * x_ms / gb["madds"].sum() if len(gb) and gb["madds"].sum() else np.nan,
            "x86_ns_per_mac": 1e6 * x_ms / gb["mac"].sum() if len(gb) and gb["mac"].sum() else np.nan,
            "instr_share": i_share, "x86_time_share": t_share,
            "arm_vs_x86": i_share / t_share if t_share and not math.isnan(t_share) else np.nan,
            "median_spread_pct": g["instructions_spread_pct"].median(),
            "max_spread_pct": g["instructions_spread_pct"].max(),
        })
    out = pd.DataFrame(rows).sort_values("instr_M", ascending=False)
    return out.reset_index(drop=True)


def _rel_fit(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative coefficients minimising the summed squared *relative* error of X @ c vs y."""
    w = 1.0 / y
    A, b = X * w[:, None], y * w
    coef, *_ = np.linalg.lstsq(A, b, rcond=None)
    if (coef < 0).any():  # drop negative terms one at a time (tiny active-set NNLS)
        keep = list(range(X.shape[1]))
        while keep and (coef[keep] < 0).any():
            keep.remove(keep[int(np.argmin(coef[keep]))])
            coef = np.zeros(X.shape[1])
            if keep:
                coef[keep], *_ = np.linalg.lstsq(A[:, keep], b, rcond=None)
    return coef


def predictor_table(df: pd.DataFrame) -> pd.DataFrame:
    """How well each predictor explains per-layer aarch64 instructions (layers with a count and
    an x86 time, each distinct replay once): a scale factor fitted over all layers (or per kind)
    minimising relative error; median and 90th-percentile absolute relative error, and the
    Pearson correlation of logs."""
    d = df[df["instructions"].notna() & (df["instructions"] > 0) & df["x86_ms"].notna()
           & (df["x86_ms"] > 0)].copy()
    y = d["instructions"].to_numpy(float)
    one = np.ones(len(d))
    cand = {
        "madds (one factor)": [d["madds"].to_numpy(float)],
        "MAC (one factor)": [d["mac"].to_numpy(float)],
        "madds + MAC + const": [d["madds"].to_numpy(float), d["mac"].to_numpy(float), one],
        "x86 time (one factor)": [d["x86_ms"].to_numpy(float)],
    }
    rows = []
    for name, cols in cand.items():
        X = np.stack(cols, axis=1)
        pred = X @ _rel_fit(X, y)
        rows.append(_pred_row(name, pred, y))
    pred = np.zeros(len(d))
    for kind, idx in d.groupby("kind").indices.items():
        X = np.stack([d["madds"].to_numpy(float)[idx], d["mac"].to_numpy(float)[idx],
                      one[idx]], axis=1)
        pred[idx] = X @ _rel_fit(X, y[idx])
    rows.append(_pred_row("per kind: madds + MAC + const", pred, y))
    pred = np.zeros(len(d))
    for kind, idx in d.groupby("kind").indices.items():
        X = d["x86_ms"].to_numpy(float)[idx][:, None]
        pred[idx] = X @ _rel_fit(X, y[idx])
    rows.append(_pred_row("per kind: x86 time", pred, y))
    return pd.DataFrame(rows)


def _pred_row(name, pred, y):
    err = np.abs(pred - y) / y * 100
    ok = pred > 0
    r = float(np.corrcoef(np.log(pred[ok]), np.log(y[ok]))[0, 1]) if ok.sum() > 2 else np.nan
    return {"predictor": name, "layers": len(y), "median_abs_err_pct": float(np.median(err)),
            "p90_abs_err_pct": float(np.percentile(err, 90)), "r_log": r}


#: kinds whose work scales with multiply-adds; every other kind is fitted against MAC elements
_MADD_KINDS = ("conv", "pointwise_conv", "depthwise_conv", "group_conv", "linear")


def op_fit_table(df: pd.DataFrame, min_layers: int = 4) -> pd.DataFrame:
    """Per (kind, op): ``instructions = fixed + slope * x`` fitted over the distinct layers
    (x = madds for convolutions and linear layers, MAC elements otherwise; relative-error least
    squares).  ``fixed`` is the per-call cost (dispatch, allocation, kernel set-up), ``slope``
    the marginal aarch64 instructions per madd or per MAC element.  The same fit of the x86
    replay time gives ``x86_fixed_us`` and ``x86_ns_per_unit``; ``instr_per_x86_ns`` is the ratio
    of the two marginal costs (higher: the op's work costs relatively more on the ARM kernels)."""
    d = df[df["instructions"].notna() & (df["instructions"] > 0)]
    rows = []
    for (kind, op), g in d.groupby(["kind", "op"], sort=False):
        if len(g) < min_layers:
            continue
        per = "madd" if kind in _MADD_KINDS else "MAC"
        x = g["madds" if per == "madd" else "mac"].to_numpy(float)
        y = g["instructions"].to_numpy(float)
        X = np.stack([np.ones_like(x), x], axis=1)
        c = _rel_fit(X, y)
        err = np.abs(X @ c - y) / y * 100
        x86 = g[g["x86_ms"].notna() & (g["x86_ms"] > 0)]
        xf = [np.nan, np.nan]
        if len(x86) >= 2:
            xx = x86["madds" if per == "madd" else "mac"].to_numpy(float)
            XX = np.stack([np.ones_like(xx), xx], axis=1)
            xf = _rel_fit(XX, 1e6 * x86["x86_ms"].to_numpy(float))  # ns
        rows.append({"kind": kind, "op": op, "layers": len(g), "per": per,
                     "fixed_instr": float(c[0]), "instr_per_unit": float(c[1]),
                     "fit_median_err_pct": float(np.median(err)),
                     "x86_fixed_us": xf[0] / 1e3, "x86_ns_per_unit": xf[1],
                     "instr_per_x86_ns": float(c[1] / xf[1]) if xf[1] and xf[1] > 0 else np.nan})
    return pd.DataFrame(rows).sort_values(["kind", "op"]).reset_index(drop=True)


def model_table(df: pd.DataFrame, arm_docs: Sequence[dict]) -> pd.DataFrame:
    rows = []
    info = {}
    for d in arm_docs:
        for m in d["models"]:
            info.setdefault((m["name"], "x".join(map(str, m["input_shape"]))), m)
    for (model, inp), g in df.groupby(["model", "input"], sort=False):
        m = info.get((model, inp), {})
        ok = g[g["instructions"].notna() & g["x86_ms"].notna() & (g["x86_ms"] > 0)]
        corr = {}
        for col in ("madds", "mac", "x86_ms"):
            s = ok[(ok[col] > 0) & (ok["instructions"] > 0)]
            corr[col] = (float(np.corrcoef(np.log(s[col]), np.log(s["instructions"]))[0, 1])
                         if len(s) > 2 else np.nan)
        rows.append({
            "model": model, "input": inp, "ops": len(g),
            "forward_instr_M": (m.get("forward_instructions") or np.nan) / 1e6,
            "layer_sum_instr_M": g["instructions"].sum() / 1e6,
            "forward_spread_pct": m.get("forward_instructions_spread_pct"),
            "madds_M": g["madds"].sum() / 1e6,
            "instr_per_madd": g["instructions"].sum() / max(g["madds"].sum(), 1),
            "x86_layer_sum_ms": ok["x86_ms"].sum() if len(ok) else np.nan,
            "r_log_madds": corr["madds"], "r_log_mac": corr["mac"], "r_log_x86": corr["x86_ms"],
            "emulation_s": m.get("emulation_wall_s"),
        })
    return pd.DataFrame(rows)


def _fmt(v, digits=3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.{digits}g}"


def markdown(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for r in df.itertuples(index=False):
        lines.append("| " + " | ".join(_fmt(v) if not isinstance(v, str) else v for v in r) + " |")
    return "\n".join(lines) + "\n"


def measure_x86(models: Sequence[str], inputs: Sequence[Optional[str]], out: Optional[str] = None,
                threads: int = 1, layer_time_s: float = 0.02) -> dict:
    """Measure the same models on this (x86) CPU with :func:`costmodel.latency.measure.measure_latency`
    and return (and save) a timing document."""
    from costmodel import sources
    from costmodel.latency import machine
    from costmodel.latency.measure import measure_latency

    results = []
    for name, inp in zip(models, inputs):
        model = sources.load_model(name)
        results.append(measure_latency(model, inp or sources.default_input_shape(name, model),
                                       threads=threads, layer_time_s=layer_time_s,
                                       model_name=name))
    doc = timings.make_document(results, machine.describe(threads))
    if out:
        timings.save(doc, out)
    return doc


def compare_files(arm_paths: Sequence[str], x86: Optional[Sequence[str]] = None,
                  out: Optional[str] = None) -> str:
    arm_docs = [timings.load(p) for p in arm_paths]
    for p, d in zip(arm_paths, arm_docs):
        if not d.get("emulated"):
            raise timings.TimingFileError(f"{p} is not an emulated run (no \"emulated\": true); "
                                          f"compare reads files written by `costmodel arm run`")
        if not isinstance(d.get("emulation"), dict):
            raise timings.TimingFileError(f"{p}: an emulated run needs its \"emulation\" object "
                                          f"(written by `costmodel arm run`)")
    x86_docs = [timings.load(p) for p in (x86 or [])]
    df = layer_frame(arm_docs, x86_docs)
    text = report_text(df, arm_docs, x86_docs)
    if out:
        files.write_text(out, text)
    return text


def report_text(df: pd.DataFrame, arm_docs, x86_docs) -> str:
    em = arm_docs[0]["emulation"]
    parts = [f"Emulated CPU: {em.get('cpu')} ({em.get('vector')}), QEMU {em.get('qemu_version')}, "
             f"torch {arm_docs[0]['machine'].get('torch')}; x86: "
             + (", ".join(sorted({f"{d['machine'].get('cpu_model')} torch {d['machine'].get('torch')}"
                                 for d in x86_docs})) or "none given") + "\n",
             "\n### Per op kind\n", markdown(kind_table(df)),
             "\n### Fixed and marginal instructions per op\n", markdown(op_fit_table(distinct(df))),
             "\n### Predicting per-layer instructions\n", markdown(predictor_table(distinct(df))),
             "\n### Per model\n", markdown(model_table(df, arm_docs))]
    return "".join(parts)
