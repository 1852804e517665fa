"""Analysis time: costmodel.analyze vs fvcore FlopCountAnalysis vs torch FlopCounterMode.

All three run side by side in one process on the same models, alternating, after a warm-up; the
table gives medians and the ratios fvcore / costmodel and FlopCounterMode / costmodel.  Also shows
the peak resident memory of analyzing VGG-16 at 1024x1024 (meta tensors: no activation memory).

    python benchmarks/analysis_speed.py [--repeats 7] [--models shufflenet_v2_x1_0 ...]
"""
from __future__ import annotations

import argparse
import resource
import statistics
import time
import warnings

import torch
from torch.utils.flop_counter import FlopCounterMode

import costmodel
from costmodel import zoo

DEFAULT_MODELS = ["shufflenet_v2_x1_0", "mobilenet_v2_x1_0", "mixnet_s", "resnet50", "espnetv2_s1_0"]


def time_costmodel(model, shape):
    costmodel.analyze(model, shape)


def time_fvcore(model, shape):
    from fvcore.nn import FlopCountAnalysis
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = FlopCountAnalysis(model, torch.randn(shape))
        a.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        a.total()


def time_flop_counter(model, shape):
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(torch.randn(shape))
    fc.get_total_flops()


TOOLS = {"costmodel": time_costmodel, "fvcore": time_fvcore, "FlopCounterMode": time_flop_counter}


def median_seconds(fn, model, shape, repeats):
    fn(model, shape)  # warm-up
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(model, shape)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, median of {args.repeats} after a warm-up\n")
    print(f"{'model':22s} {'costmodel':>10s} {'fvcore':>10s} {'FlopCounter':>12s} "
          f"{'fvcore/cm':>10s} {'FCM/cm':>8s}")
    for name in args.models:
        model = zoo.create(name).eval()
        shape = zoo.entry(name).input_shape
        t = {tool: median_seconds(fn, model, shape, args.repeats) for tool, fn in TOOLS.items()}
        print(f"{name:22s} {t['costmodel'] * 1e3:8.1f}ms {t['fvcore'] * 1e3:8.1f}ms "
              f"{t['FlopCounterMode'] * 1e3:10.1f}ms {t['fvcore'] / t['costmodel']:9.1f}x "
              f"{t['FlopCounterMode'] / t['costmodel']:7.1f}x")
    vgg = zoo.create("vgg16")  # its 0.55 GB of fp32 weights are allocated here, before measuring
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    report = costmodel.analyze(vgg, (1, 3, 1024, 1024))
    dt = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    acts = sum(int(v) for v in report.layers["mac_bytes"]) / 1e9
    print(f"\nVGG-16 at 1x3x1024x1024: analyzed in {dt:.2f}s, peak RSS grew by "
          f"{(after - before) / 1024:.0f} MB (a real forward moves {acts:.1f} GB: its MAC in bytes)")


if __name__ == "__main__":
    main()
