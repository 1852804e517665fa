"""The sweep's predicted latency against measured end-to-end latency, for sampled candidates;
writes reports/sweep_vs_measured.md and .csv.

    python benchmarks/sweep_vs_measured.py [--n 50] [--space mobilenetv2] [--seed 1]

The candidates are the first ``n`` of the seeded sample, predicted by ``costmodel sweep`` (block
cache and sums) and measured as the latency validation measures its held-out networks
(:func:`costmodel.latency.validate.measure_many`: each network end to end in a fresh process,
median over 3 memory layouts, twice, at each thread count of the profile).  Run it on an
otherwise idle machine (the report states the CPU other processes used); about 10-15 s per
candidate and thread count.
"""
from __future__ import annotations

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import pandas as pd  # noqa: E402

from costmodel import fileio  # noqa: E402
from costmodel.latency import machine  # noqa: E402
from costmodel.latency.profile import DeviceProfile  # noqa: E402
from costmodel.latency.quiet import CpuWatch, describe  # noqa: E402
from costmodel.latency.validate import error_stats, measure_many  # noqa: E402
from costmodel.sweep import run  # noqa: E402
from costmodel.sweep.engine import pred_column  # noqa: E402
from costmodel.sweep.space import load_space  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="mobilenetv2", help="a packaged space")
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--profile", default=os.path.join(ROOT, "reports", "latency", "profile.json"))
    ap.add_argument("--out", default=os.path.join(ROOT, "reports", "sweep_vs_measured.md"))
    ap.add_argument("--render", action="store_true",
                    help="time nothing: rewrite the Markdown from the CSV an earlier run left")
    args = ap.parse_args(argv)
    csv_path = os.path.splitext(args.out)[0] + ".csv"
    fileio.check_writable(args.out)
    fileio.check_writable(csv_path)
    space = load_space(args.space)
    profile = DeviceProfile.load(args.profile)
    threads = profile.thread_counts

    if args.render:
        table = pd.read_csv(csv_path)
        return render(args, space, profile, threads, table, csv_path, None)
    pred = run.sweep(space, args.n, profile=profile, seed=args.seed)
    names = [f"sweep:{space.name}:{args.seed}:{i}" for i in range(args.n)]
    watch = CpuWatch().start()
    results = measure_many(names, threads=threads, per_layer=False, progress=True)
    quiet = watch.stop()

    rows = []
    for r in results:
        i = int(r.model_name.rsplit(":", 1)[1])
        p = float(pred.loc[i, pred_column(r.threads)])
        rows.append({"candidate": i, "threads": r.threads, "measured_ms": r.total_ms,
                     "pred_ms": p, "error_pct": 100 * (p - r.total_ms) / r.total_ms,
                     "rerun_diff_pct": r.total_spread.get("rerun_diff_pct"),
                     "madds": int(pred.loc[i, "madds"]), "mac": int(pred.loc[i, "mac"]),
                     "config": pred.loc[i, "config"]})
    table = pd.DataFrame(rows)
    fileio.write_text(csv_path, table.to_csv(index=False, float_format="%.6g"))
    return render(args, space, profile, threads, table, csv_path, quiet)


def render(args, space, profile, threads, table, csv_path, quiet) -> int:
    mach = machine.describe()
    lines = ["# Sweep predictions against measured latency", "",
             f"`python benchmarks/sweep_vs_measured.py --n {args.n} --space {space.name} --seed "
             f"{args.seed}` on {mach.get('cpu_model', '?')} ({os.cpu_count()} logical CPUs), "
             f"torch {mach.get('torch', '?')}; "
             + (describe(quiet) if quiet else "measured by an earlier run of this script, rendered "
                "again with --render") + ".", "",
             f"The first {args.n} candidates of seed {args.seed} of the space `{space.name}`, "
             f"predicted by the sweep with `{os.path.relpath(args.profile, ROOT)}` and measured "
             f"end to end as the latency validation measures its held-out networks (fresh "
             f"process per network, batch 1). Per candidate: "
             f"[{os.path.basename(csv_path)}]({os.path.basename(csv_path)}).", "",
             "| threads | candidates | within +-10% | MAPE | RMSE | median measured |",
             "|---:|---:|---:|---:|---:|---:|"]
    for t in threads:
        sub = table[table["threads"] == t]
        s = error_stats(sub["pred_ms"], sub["measured_ms"])
        lines.append(f"| {t} | {s['n']} | {s['within10']:.0f}% | {s['mape']:.1f}% | "
                     f"{s['rmse_ms']:.2f} ms | {sub['measured_ms'].median():.1f} ms |")
    diff = machine.same_machine(machine.identity(), profile.machine)
    if diff:
        lines += ["", f"**The profile was calibrated on another machine or build** (differs in "
                      f"{', '.join(diff)}: profile {profile.machine.get('cpu_model')} torch "
                      f"{profile.machine.get('torch')}, here {mach.get('cpu_model')} torch "
                      f"{mach.get('torch')}): its predictions are for that machine, so these "
                      f"errors are not the predictor's accuracy. Calibrate here first "
                      f"(`costmodel calibrate --out profile.json`) and pass `--profile`."]
    ref_path = os.path.join(ROOT, "reports", "latency", "error_stats.csv")
    if os.path.exists(ref_path):
        ref = pd.read_csv(ref_path)
        if {"set", "predictor"} <= set(ref.columns):
            ref = ref[ref["predictor"] == "costmodel (raw)"]  # the sweep predicts raw, uncorrected
            figures = "; ".join(f"{r.set}, {int(r.threads)} thread(s): {r.within10:.0f}% within "
                                f"+-10%, MAPE {r.mape:.1f}%" for r in ref.itertuples())
            lines += ["", "For comparison, the latency validation's raw (not drift-corrected) "
                          "figures with the same profile ([reports/latency](latency/README.md), "
                          f"`reports/latency/error_stats.csv`): {figures}."]
    fileio.write_text(args.out, "\n".join(lines) + "\n")
    print(f"wrote {args.out} and {csv_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
