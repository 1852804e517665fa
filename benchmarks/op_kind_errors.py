"""Which op kinds carry a latency profile's error, measured inside foreign networks.

For each model (default: :data:`MODELS`, timm networks that are *not* in the frozen foreign
validation set, ``costmodel/latency/foreign_set.json``, so looking at them does not tune to it,
and four guideline micro-benchmarks),
at each thread count, in fresh processes the way calibration measures its own networks:

1. the end-to-end time, alternating run by run with the profile's drift reference, corrected to
   the machine's speed at calibration (model / reference ratio times the reference's calibration
   time);
2. every traced op's time inside the real forward (:func:`costmodel.latency.fresh.time_ops_named`),
   scaled so that the ops keep their share of that process's forward and take the corrected
   end-to-end time (as :func:`costmodel.latency.calibrate.normalize_to_reference` does);
3. the profile's per-op prediction (:meth:`DeviceProfile.predict_isolated`: what the per-op
   models were fitted to) and its whole-network prediction.

The report sums measured and predicted op time per profile key over all models and gives, per
key, predicted / measured and its share of the models' end-to-end error; per model the
end-to-end error and the measured glue (end to end minus the op sum).

    python benchmarks/op_kind_errors.py --profile reports/latency/profile.json \\
        [--models timm:resnet26 ...] [--threads 1 2] [--out reports/latency/op_kinds.md]

Run it on an otherwise idle machine: the output states the CPU other processes used.
"""
from __future__ import annotations

import argparse
import datetime
import io
import os
import sys
import warnings
from typing import Dict, List, Optional, Sequence

import numpy as np
import pandas as pd

from costmodel import fileio
from costmodel.guidelines.timing import measure_interleaved, reference_ms
from costmodel.latency import files, fresh, innet, machine
from costmodel.latency.features import op_table
from costmodel.latency.named import resolve_model
from costmodel.latency.predict import predict_table
from costmodel.latency.profile import DeviceProfile, keys_for
from costmodel.latency.quiet import CpuWatch, describe
from costmodel.latency.replay import threads_pinned

#: development networks: foreign (timm), from the families the 12-03 evaluations missed most
#: (dense 3x3, grouped, Res2Net, SelecSLS, ConvNeXt, MobileNetV2-like, DLA), none in the frozen
#: set, and one ShuffleNetV2 guideline micro-benchmark per table (bare stacks of 1x1 convs)
MODELS = ("timm:resnet26", "timm:resnet14t", "timm:repvgg_b1", "timm:seresnext26d_32x4d",
          "timm:regnetx_004", "timm:res2net50_14w_8s", "timm:selecsls60", "timm:convnext_atto",
          "timm:mobilenetv2_050", "timm:dla60", "timm:efficientnet_b0", "timm:mixnet_s",
          "guidelines:G1:32:32", "guidelines:G2:64:8", "guidelines:G3:4-fragment-series:64",
          "guidelines:G4:64:1:1")


def dispatch_overhead_ns(threads: int) -> float:
    """:func:`costmodel.latency.innet.dispatch_overhead_ns` at ``threads`` threads."""
    import torch
    with threads_pinned(threads), torch.inference_mode():
        return innet.dispatch_overhead_ns()


def measure(name: str, threads: int, profile: DeviceProfile, e2e_time_s: float,
            op_time_s: float, overhead_ns: Optional[float] = None) -> pd.DataFrame:
    """One row per traced op of ``name``: key, kind, measured_ms (in network, corrected),
    pred_ms; ``attrs`` hold the end-to-end figures.  ``overhead_ns``: the timer's dispatch
    overhead (:func:`dispatch_overhead_ns`, measured here when None)."""
    model, shape = resolve_model(name)
    table, report = op_table(model, shape)
    e2e = measure_interleaved(name, threads, profile, e2e_time_s)  # drift-corrected
    drift, e2e_ms = e2e["drift"], e2e["median"]
    if overhead_ns is None:
        overhead_ns = dispatch_overhead_ns(threads)
    inn = fresh.time_ops_named(name, threads, len(report.graph.ops), overhead_ns, op_time_s)
    op_ms = np.asarray(inn["op_ms"], float) * e2e_ms / inn["e2e_ms"]
    iso = profile.predict_isolated(table, threads)
    _, total_ms, _ = predict_table(table, profile, threads)
    df = pd.DataFrame({"model": name, "threads": threads, "key": keys_for(table),
                       "kind": table["kind"], "measured_ms": op_ms, "pred_ms": iso})
    df.attrs.update(e2e_ms=e2e_ms, pred_e2e_ms=float(total_ms), drift=drift,
                    glue_ms=e2e_ms - float(op_ms.sum()), ops_ms=float(op_ms.sum()),
                    pred_ops_ms=float(iso.sum()))
    return df


def run(models: Sequence[str], threads: Sequence[int], profile: DeviceProfile,
        e2e_time_s: float = 2.0, op_time_s: float = 1.0, progress: bool = True):
    """(per-op rows, per-model rows)."""
    ops: List[pd.DataFrame] = []
    nets: List[Dict[str, object]] = []
    for t in threads:
        overhead_ns = dispatch_overhead_ns(t)
        for name in models:
            if progress:
                print(f"{name} {t}T", file=sys.stderr, flush=True)
            try:
                df = measure(name, t, profile, e2e_time_s, op_time_s, overhead_ns)
            except (RuntimeError, KeyError) as exc:
                print(f"  skipped: {exc}", file=sys.stderr)
                continue
            ops.append(df)
            nets.append(dict(model=name, threads=t, **df.attrs))
    return pd.concat(ops, ignore_index=True), pd.DataFrame(nets)


def by_key(ops: pd.DataFrame, nets: pd.DataFrame) -> pd.DataFrame:
    """Per (threads, key): measured and predicted op time summed over the models, their ratio,
    and the key's share of the models' summed end-to-end time and of its error."""
    e2e = nets.groupby("threads")["e2e_ms"].sum()
    g = ops.groupby(["threads", "key"]).agg(ops=("key", "size"), models=("model", "nunique"),
                                            measured_ms=("measured_ms", "sum"),
                                            pred_ms=("pred_ms", "sum")).reset_index()
    total = g["threads"].map(e2e)
    g["pred_over_measured"] = g["pred_ms"] / g["measured_ms"]
    g["share_of_e2e_pct"] = 100 * g["measured_ms"] / total
    g["error_share_pct"] = 100 * (g["pred_ms"] - g["measured_ms"]) / total
    return g.sort_values(["threads", "measured_ms"], ascending=[True, False])


def render(ops: pd.DataFrame, nets: pd.DataFrame, meta: dict) -> str:
    keys = by_key(ops, nets)
    out = io.StringIO()
    w = out.write
    w("# Op-kind errors inside foreign networks\n\n")
    w(f"`{meta['command']}` on {meta['date']} "
      f"({meta['wall_s']:.0f} s), {meta['machine']}. {meta['quiet']}\n\n")
    w(f"Models ({len(set(nets['model']))}, none in the frozen foreign set): "
      + ", ".join(f"`{m}`" for m in dict.fromkeys(nets["model"])) + ".\n\n")
    w("Measured: end to end in a fresh process alternating run by run with the drift reference, "
      "corrected to the reference's calibration time; op times inside the real forward, scaled to "
      "that end-to-end time. Predicted: the profile's per-op models (the in-network time they "
      "were fitted to) and its whole-network prediction. Errors are predicted / measured - 1.\n\n")
    for t, n in nets.groupby("threads"):
        err = 100 * (n["pred_e2e_ms"] / n["e2e_ms"] - 1)
        w(f"## {t} thread{'s' if t > 1 else ''}\n\n")
        w(f"End to end: median error {np.median(err):+.1f}%, {np.mean(np.abs(err) <= 10) * 100:.0f}% "
          f"within +-10%; op sums predicted / measured: median "
          f"{np.median(n['pred_ops_ms'] / n['ops_ms']):.2f}.\n\n")
        w("| model | measured ms | predicted ms | error | op sum measured | op sum predicted | "
          "glue (e2e - op sum) | drift |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
        for r, e in zip(n.itertuples(), err):
            w(f"| {r.model} | {r.e2e_ms:.2f} | {r.pred_e2e_ms:.2f} | {e:+.1f}% | {r.ops_ms:.2f} | "
              f"{r.pred_ops_ms:.2f} | {r.glue_ms:+.2f} | {r.drift:.2f} |\n")
        k = keys[keys["threads"] == t]
        k = k[k["share_of_e2e_pct"] >= 0.5]
        w("\nPer profile key (keys with >= 0.5% of the summed end-to-end time), largest first:\n\n"
          "| key | ops | models | measured ms | predicted ms | predicted / measured | share of e2e "
          "| error share of e2e |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
        for r in k.itertuples():
            w(f"| {r.key} | {r.ops} | {r.models} | {r.measured_ms:.1f} | {r.pred_ms:.1f} | "
              f"{r.pred_over_measured:.2f} | {r.share_of_e2e_pct:.1f}% | {r.error_share_pct:+.1f}% |\n")
        w("\n")
    return out.getvalue()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", "-p", required=True, help="latency profile (costmodel calibrate)")
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--e2e-time", type=float, default=2.0, help="seconds end to end (default 2)")
    ap.add_argument("--op-time", type=float, default=1.0, help="seconds of timed forwards (default 1)")
    ap.add_argument("--out", "-o", default=None, help="Markdown report (default: print)")
    ap.add_argument("--csv", default=None, help="also write the per-op rows as CSV")
    args = ap.parse_args(argv)
    for path in (args.out, args.csv):
        if path:
            fileio.check_writable(path)
    try:
        profile = DeviceProfile.load(args.profile)
    except (OSError, ValueError) as exc:
        print(f"op_kind_errors: cannot read profile {args.profile}: {exc}", file=sys.stderr)
        return 2
    missing = [t for t in args.threads if reference_ms(profile, t) is None]
    if missing:
        print(f"op_kind_errors: the profile has no drift reference at {missing} thread(s)",
              file=sys.stderr)
        return 2
    watch = CpuWatch().start()
    t0 = datetime.datetime.now(datetime.timezone.utc)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ops, nets = run(args.models, args.threads, profile, args.e2e_time, args.op_time)
    q = watch.stop()
    m = machine.describe()
    meta = {"command": " ".join(["python benchmarks/op_kind_errors.py"]
                                + list(sys.argv[1:] if argv is None else argv)),
            "date": t0.strftime("%Y-%m-%d %H:%M UTC"),
            "wall_s": (datetime.datetime.now(datetime.timezone.utc) - t0).total_seconds(),
            "machine": f"{m.get('cpu_model')} ({', '.join(m.get('isa', []))}), "
                       f"{m.get('logical_cpus')} logical CPUs, torch {m.get('torch')}",
            "quiet": describe(q) + "."}
    text = render(ops, nets, meta)
    if args.csv:
        files.write_csv(args.csv, ops)
    if args.out:
        fileio.write_text(args.out, text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
