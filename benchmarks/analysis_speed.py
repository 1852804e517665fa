"""Analysis time of costmodel side by side with fvcore, FlopCounterMode on meta tensors and a real
forward pass, on every zoo model, every torchvision classification model and a timm set with
transformers.

For each model the four tools run interleaved (A B C D, A B C D, ...) in one process at one
thread, after one warm-up call each; the table gives the median of ``--repeats`` calls.
costmodel is timed **cold**: its meta-kernel cache (:func:`costmodel.tracer.clear_cache`) is
emptied before every call, so each call is a first analysis; the warm time (the same model
analyzed again, as a sweep over similar networks would) is given beside it.

* ``costmodel``: ``costmodel.analyze(model, shape).layers`` on the CPU-built model (meta tensors
  inside), the per-layer table included; ``totals``: the same call reading only
  ``report.total`` (the table is built on first use);
* ``fvcore``: ``FlopCountAnalysis(model, torch.randn(shape)).total()`` (a JIT trace of a real
  forward);
* ``FlopCounterMode-meta``: ``torch.utils.flop_counter.FlopCounterMode`` around a forward of a
  meta-device copy of the model on a meta input;
* ``forward``: one real forward pass under ``torch.no_grad()``;
* ``predict``: ``costmodel.predict_latency(model, shape, profile, threads=1)`` with the committed
  profile (``--profile``, default ``reports/latency/profile.json``), cold like costmodel: the
  analysis plus the latency prediction from its op table.

    python benchmarks/analysis_speed.py [--repeats 5] [--sets zoo torchvision timm]
                                        [--out reports/analysis_speed.md]

Floors checked in the output: costmodel (cold) no slower than FlopCounterMode-meta on any model;
at least 5x faster than fvcore on every zoo and torchvision model; ``predict_latency`` no more than
2x the analysis of the same model.  Run it on an otherwise idle
machine: the report states the CPU other processes used while it ran.
"""
from __future__ import annotations

import argparse
import copy
import datetime
import io
import os
import platform
import resource
import statistics
import sys
import time
import warnings

import torch
from torch.utils.flop_counter import FlopCounterMode

import costmodel
from costmodel import fileio, sources

TIMM_SET = ["resnet50", "efficientnet_b0", "mobilenetv3_large_100", "ghostnet_100", "repvgg_a2",
            "regnetz_b16", "convnext_tiny", "edgenext_small", "fastvit_t8", "poolformer_s12",
            "vit_base_patch16_224", "deit_small_patch16_224", "swin_tiny_patch4_window7_224",
            "pvt_v2_b2", "twins_svt_base", "coat_lite_tiny", "levit_128", "mobilevit_s",
            "efficientformer_l1", "maxvit_tiny_tf_224"]


def specs_for(sets):
    out = []
    if "zoo" in sets:
        out += [("zoo", n) for n in costmodel.zoo.names()]
    if "torchvision" in sets:
        out += [("torchvision", f"torchvision:{n}") for n in sources.torchvision_classification()]
    if "timm" in sets:
        out += [("timm", f"timm:{n}") for n in TIMM_SET]
    return out


def _fvcore(model, shape):
    from fvcore.nn import FlopCountAnalysis
    a = FlopCountAnalysis(model, torch.randn(shape))
    a.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    return a.total()


def _fcm_meta(meta_model, shape):
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        meta_model(torch.empty(shape, device="meta"))
    return fc.get_total_flops()


def _forward(model, x):
    with torch.no_grad():
        model(x)


def _costmodel(model, shape):
    costmodel.tracer.clear_cache()
    return costmodel.analyze(model, shape, warn=False).layers  # with the per-layer table


def _costmodel_totals(model, shape):
    costmodel.tracer.clear_cache()
    return costmodel.analyze(model, shape, warn=False).total  # the table is built on first use


def _costmodel_warm(model, shape):
    return costmodel.analyze(model, shape, warn=False).layers


def _predict(model, shape, profile):
    costmodel.tracer.clear_cache()
    return costmodel.predict_latency(model, shape, profile, threads=1).total_ms


def time_model(spec, repeats, profile=None):
    model = sources.load_model(spec)
    shape = sources.default_input_shape(spec, model)
    try:
        meta_model = sources.load_model(spec, device="meta")
    except sources.ModelSourceError:  # a constructor that reads tensor values: copy, then move
        meta_model = copy.deepcopy(model).to("meta")
    x = torch.randn(shape)
    tools = {"costmodel": lambda: _costmodel(model, shape),
             "costmodel_totals": lambda: _costmodel_totals(model, shape),
             "costmodel_warm": lambda: _costmodel_warm(model, shape),
             "fvcore": lambda: _fvcore(model, shape),
             "fcm_meta": lambda: _fcm_meta(meta_model, shape),
             "forward": lambda: _forward(model, x)}
    if profile is not None:
        tools["predict"] = lambda: _predict(model, shape, profile)
    samples = {k: [] for k in tools}
    failed = {}
    for k, fn in tools.items():  # warm-up
        try:
            fn()
        except Exception as exc:
            failed[k] = f"{type(exc).__name__}"
    for _ in range(repeats):
        for k, fn in tools.items():
            if k in failed:
                continue
            t0 = time.perf_counter()
            fn()
            samples[k].append(time.perf_counter() - t0)
    med = {k: (statistics.median(v) * 1e3 if v else float("nan")) for k, v in samples.items()}
    return shape, med, failed


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", nargs="+", default=["zoo", "torchvision", "timm"])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=None, help="write the Markdown table here")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--profile", default=os.path.join(os.path.dirname(__file__), "..", "reports",
                                                      "latency", "profile.json"),
                    help="latency profile for the predict_latency column ('' to leave it out)")
    args = ap.parse_args(argv)
    if args.out:
        fileio.check_writable(args.out)
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    from costmodel.latency.quiet import CpuWatch
    watch = CpuWatch().start()
    profile = costmodel.latency.DeviceProfile.load(args.profile) if args.profile else None
    t_start = time.time()
    rows = []
    specs = specs_for(args.sets)[:args.limit]
    for i, (group, spec) in enumerate(specs, 1):
        shape, med, failed = time_model(spec, args.repeats, profile)
        rows.append((group, spec, shape, med, failed))
        print(f"[{i}/{len(specs)}] {spec:44s} costmodel {med['costmodel']:8.1f} ms (totals "
              f"{med['costmodel_totals']:7.1f}, warm "
              f"{med['costmodel_warm']:7.1f})  fvcore {med['fvcore']:8.1f}  FCM-meta "
              f"{med['fcm_meta']:8.1f}  forward {med['forward']:8.1f}  predict {med.get('predict', float('nan')):8.1f}",
              file=sys.stderr, flush=True)
    quiet = watch.stop()
    text = render(rows, args.repeats, (time.time() - t_start) / 60, quiet)
    vgg = vgg_memory()
    text += vgg
    if args.out:
        fileio.write_text(args.out, text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def _ratio(a, b):
    return b / a if a == a and b == b and a > 0 else float("nan")


def render(rows, repeats, minutes, quiet) -> str:
    out = io.StringIO()
    w = out.write
    versions = f"torch {torch.__version__}"
    for lib in ("torchvision", "timm", "fvcore"):
        try:
            versions += f", {lib} {__import__(lib).__version__}"
        except Exception:
            pass
    other = quiet.get("other_cpu_pct") if isinstance(quiet, dict) else None
    w("# Analysis speed\n\n")
    w(f"`python benchmarks/analysis_speed.py`, {datetime.date.today()}, {platform.processor() or platform.machine()} "
      f"({os.cpu_count()} cores), 1 thread, {versions}; {minutes:.1f} min"
      + (f"; other processes used {other:.1f}% of a core meanwhile" if other is not None else "")
      + f".  Median of {repeats} calls per tool after one warm-up, the tools interleaved.  "
        "costmodel is timed cold (its meta-kernel cache emptied before every call) with its "
        "per-layer table built (`analyze(...).layers`); *totals* reads only `report.total` (the "
        "table is built on first use); *warm* is the same model analyzed again.  Ratios: the "
        "other tool's time / costmodel's cold time with the table.\n\n")
    groups = {}
    for r in rows:
        groups.setdefault(r[0], []).append(r)
    floor_fcm, floor_fv, floor_pred = [], [], []
    for group, rs in groups.items():
        w(f"## {group}\n\n| model | input | costmodel ms | totals ms | warm ms | fvcore ms | "
          f"FlopCounterMode-meta ms | forward ms | predict ms | fvcore / costmodel | "
          f"FCM-meta / costmodel | predict / costmodel |\n"
          "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
        for _, spec, shape, med, failed in rs:
            fv = _ratio(med["costmodel"], med["fvcore"])
            fc = _ratio(med["costmodel"], med["fcm_meta"])
            if fc == fc and fc < 1:
                floor_fcm.append(spec)
            if group in ("zoo", "torchvision") and fv == fv and fv < 5:
                floor_fv.append(spec)
            pr = _ratio(med["costmodel"], med.get("predict", float("nan")))
            if pr == pr and pr > 2:
                floor_pred.append(spec)

            def cell(k):
                return failed[k] if k in failed else f"{med.get(k, float('nan')):.1f}"
            w(f"| {spec} | {'x'.join(map(str, shape))} | {cell('costmodel')} | "
              f"{cell('costmodel_totals')} | {cell('costmodel_warm')} | {cell('fvcore')} | {cell('fcm_meta')} | "
              f"{cell('forward')} | {cell('predict')} | {fv:.1f}x | {fc:.1f}x | {pr:.2f}x |\n")
        ok = [r for r in rs if "costmodel" not in r[4]]
        if ok:
            fvs = [_ratio(r[3]["costmodel"], r[3]["fvcore"]) for r in ok]
            fcs = [_ratio(r[3]["costmodel"], r[3]["fcm_meta"]) for r in ok]
            fvs = [v for v in fvs if v == v]
            fcs = [v for v in fcs if v == v]
            w(f"\n{group}: {len(rs)} models; fvcore / costmodel min {min(fvs):.1f}x, median "
              f"{statistics.median(fvs):.1f}x; FlopCounterMode-meta / costmodel min "
              f"{min(fcs):.1f}x, median {statistics.median(fcs):.1f}x.\n\n")
    w("## Floors\n\n")
    w(f"- costmodel (cold) no slower than FlopCounterMode on meta tensors: "
      f"{'met on every model' if not floor_fcm else 'missed on ' + ', '.join(floor_fcm)}.\n")
    w(f"- at least 5x faster than fvcore on every zoo and torchvision model: "
      f"{'met' if not floor_fv else 'missed on ' + ', '.join(floor_fv)}.\n")
    w(f"- predict_latency no more than 2x the analysis of the same model: "
      f"{'met on every model' if not floor_pred else 'missed on ' + ', '.join(floor_pred)}.\n\n")
    return out.getvalue()


def vgg_memory() -> str:
    vgg = costmodel.zoo.create("vgg16")  # its 0.55 GB of fp32 weights are allocated first
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    report = costmodel.analyze(vgg, (1, 3, 1024, 1024))
    dt = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    acts = sum(int(v) for v in report.layers["mac_bytes"]) / 1e9
    return (f"## Memory\n\nVGG-16 at 1x3x1024x1024 is analyzed in {dt:.2f} s; the peak resident "
            f"memory grew by {(after - before) / 1024:.0f} MB (a real forward moves {acts:.1f} GB, "
            f"its MAC in bytes).\n")


if __name__ == "__main__":
    main()
