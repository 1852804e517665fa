"""Prediction time against analysis time, side by side: ``costmodel.predict_latency`` (the
analysis plus the latency prediction from its op table) against ``costmodel.analyze(...).layers``
of the same model, on every zoo model, every torchvision classifier and the timm set of
``analysis_speed.py``.  Both are timed cold (the meta-kernel cache emptied before each call),
interleaved, at one thread; the table gives the median of ``--repeats`` calls after a warm-up.

    python benchmarks/predict_speed.py [--repeats 7] [--out reports/predict_speed.md]

Floor checked in the output (issue 13): predict_latency no more than 2x the analysis of the same
model.  Run it on an otherwise idle machine: the report states the CPU other processes used.
"""
from __future__ import annotations

import argparse
import datetime
import io
import os
import platform
import statistics
import sys
import time
import warnings

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import costmodel  # noqa: E402
from costmodel import fileio, sources  # noqa: E402
from analysis_speed import _costmodel, _predict, specs_for  # noqa: E402

DEFAULT_PROFILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reports", "latency",
                               "profile.json")


def time_pair(spec, profile, repeats):
    model = sources.load_model(spec)
    shape = sources.default_input_shape(spec, model)
    tools = {"analyze": lambda: _costmodel(model, shape), "predict": lambda: _predict(model, shape, profile)}
    for fn in tools.values():
        fn()
    samples = {k: [] for k in tools}
    for _ in range(repeats):
        for k, fn in tools.items():
            t0 = time.perf_counter()
            fn()
            samples[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) * 1e3 for k, v in samples.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", nargs="+", default=["zoo", "torchvision", "timm"])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--profile", default=DEFAULT_PROFILE)
    ap.add_argument("--out", default=None, help="write the Markdown table here")
    args = ap.parse_args(argv)
    if args.out:
        fileio.check_writable(args.out)
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    from costmodel.latency import DeviceProfile
    from costmodel.latency.quiet import CpuWatch
    profile = DeviceProfile.load(args.profile)
    watch = CpuWatch().start()
    t0 = time.time()
    rows = []
    specs = specs_for(args.sets)
    for i, (group, spec) in enumerate(specs, 1):
        med = time_pair(spec, profile, args.repeats)
        rows.append((group, spec, med))
        print(f"[{i}/{len(specs)}] {spec:44s} analyze {med['analyze']:8.1f} ms  predict "
              f"{med['predict']:8.1f} ms  ({med['predict'] / med['analyze']:.2f}x)", file=sys.stderr, flush=True)
    quiet = watch.stop()
    out = io.StringIO()
    w = out.write
    w("# Prediction speed\n\n")
    w(f"`python benchmarks/predict_speed.py`, {datetime.date.today()}, "
      f"{platform.processor() or platform.machine()} ({os.cpu_count()} cores), 1 thread, torch "
      f"{torch.__version__}; {(time.time() - t0) / 60:.1f} min; other processes used "
      f"{quiet.get('other_cpu_pct', float('nan')):.1f}% of a core meanwhile.  Median of "
      f"{args.repeats} calls each after a warm-up, interleaved, both cold.  *analysis*: "
      "`costmodel.analyze(model, shape).layers`; *predict*: `costmodel.predict_latency(model, "
      f"shape, profile, threads=1)` with `{os.path.relpath(args.profile)}`.\n\n")
    missed = []
    for group in dict.fromkeys(r[0] for r in rows):
        rs = [r for r in rows if r[0] == group]
        ratios = [r[2]["predict"] / r[2]["analyze"] for r in rs]
        w(f"## {group}\n\n{len(rs)} models; predict / analysis median {statistics.median(ratios):.2f}x, "
          f"max {max(ratios):.2f}x.\n\n| model | analysis ms | predict ms | predict / analysis |\n"
          "|---|---:|---:|---:|\n")
        for (_, spec, med), ratio in zip(rs, ratios):
            w(f"| {spec} | {med['analyze']:.1f} | {med['predict']:.1f} | {ratio:.2f}x |\n")
            if ratio > 2:
                missed.append(spec)
        w("\n")
    w("## Floor\n\n- predict_latency no more than 2x the analysis of the same model: "
      + ("met on every model.\n" if not missed else f"missed on {len(missed)}: {', '.join(missed)}.\n"))
    text = out.getvalue()
    if args.out:
        fileio.write_text(args.out, text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
