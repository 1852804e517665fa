"""Does the drift reference run slower right after a large model than right after itself?

Behind :data:`costmodel.latency.measure.REF_WARMUP`.  In one process at ``--threads`` threads,
per model and round: ``--pairs`` times (model, timed reference, untimed model + reference,
timed reference after a warm-up reference, timed reference after itself), so the three kinds of
reference forward alternate and see the machine at the same moments.  Per round: the median
reference time right after the model, and after one warm-up forward, over the median right after
itself; the table gives the median and range over ``--rounds`` rounds.

    python benchmarks/reference_after_model.py [--threads 1] [--rounds 5] [--pairs 6]

Run it on an otherwise idle machine: the output states the CPU other processes used.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from costmodel.latency import quiet
from costmodel.latency.named import resolve_model
from costmodel.latency.profile import REFERENCE_NAME

MODELS = ["torchvision:vgg16", "torchvision:resnet50", "torchvision:mobilenet_v2",
          "timm:lcnet_075"]


def _ms(fn, x) -> float:
    t0 = time.perf_counter()
    fn(x)
    return (time.perf_counter() - t0) * 1e3


def ratios(model, x, ref, rx, rounds: int, pairs: int):
    """(model ms, [after-model / after-itself per round], [after-warm-up / after-itself])."""
    for _ in range(3):
        model(x)
        ref(rx)
    model_ms, cold, warm = [], [], []
    for _ in range(rounds):
        after_model, after_warmup, after_ref = [], [], []
        for _ in range(pairs):
            model_ms.append(_ms(model, x))
            after_model.append(_ms(ref, rx))
            model(x)
            ref(rx)
            after_warmup.append(_ms(ref, rx))
            after_ref.append(_ms(ref, rx))
        base = statistics.median(after_ref)
        cold.append(statistics.median(after_model) / base)
        warm.append(statistics.median(after_warmup) / base)
    return statistics.median(model_ms), cold, warm


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--pairs", type=int, default=6)
    ap.add_argument("--models", nargs="+", default=MODELS)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    ref, rshape = resolve_model(REFERENCE_NAME)
    ref.eval()
    rx = torch.randn(rshape)
    print(f"| model | threads | model ms | reference after the model / after itself | "
          f"after one warm-up forward / after itself |\n|---|---|---|---|---|")
    with quiet.CpuWatch() as watch, torch.inference_mode():
        for name in args.models:
            model, shape = resolve_model(name)
            model.eval()
            ms, cold, warm = ratios(model, torch.randn(shape), ref, rx, args.rounds, args.pairs)
            print(f"| {name} | {args.threads} | {ms:.1f} | {statistics.median(cold):.3f} "
                  f"[{min(cold):.3f}-{max(cold):.3f}] | {statistics.median(warm):.3f} "
                  f"[{min(warm):.3f}-{max(warm):.3f}] |", flush=True)
    print(f"\n{args.rounds} rounds of {args.pairs} pairs; median [range] over rounds. "
          f"Machine load: {quiet.describe(watch.result())}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
