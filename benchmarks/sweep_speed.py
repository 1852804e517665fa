"""Speed of ``costmodel sweep``: 100,000 candidates of the MobileNetV2-like space, locally, and
on a local Ray with 1 and 2 worker CPUs; writes reports/sweep_speed.md.

    python benchmarks/sweep_speed.py [--n 100000] [--ray-n 100000] [--out reports/sweep_speed.md]

Run it on an otherwise idle machine: the report states the CPU other processes used meanwhile
(:mod:`costmodel.latency.quiet`).  Floor: 100,000 candidates in under 10 minutes here.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import pandas as pd  # noqa: E402

from costmodel import fileio  # noqa: E402
from costmodel.latency import machine  # noqa: E402
from costmodel.latency.profile import DeviceProfile  # noqa: E402
from costmodel.latency.quiet import BUSY_PCT, CpuWatch, describe, is_busy  # noqa: E402
from costmodel.sweep import run  # noqa: E402
from costmodel.sweep.pieces import PieceCosts  # noqa: E402
from costmodel.sweep.space import load_space  # noqa: E402

FLOOR_S = 600


def local(space, n, profile, seed):
    cache = PieceCosts(profile)
    t0 = time.perf_counter()
    df = run.sweep(space, n, profile=profile, seed=seed, cache=cache)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = run.sweep(space, n, profile=profile, seed=seed, cache=cache)
    warm = time.perf_counter() - t0
    pd.testing.assert_frame_equal(df, again, check_exact=True)
    return df, cold, warm, len(cache)


def on_ray(space, n, profile, seed, workers, expect):
    import ray

    from costmodel.sweep.ray_engine import worker_env

    t0 = time.perf_counter()
    ray.init(num_cpus=workers, include_dashboard=False, runtime_env=worker_env(),
             logging_level=logging.WARNING, log_to_driver=False)
    start = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        df = run.sweep(space, n, profile=profile, seed=seed, engine="ray")
        wall = time.perf_counter() - t0
    finally:
        ray.shutdown()
    pd.testing.assert_frame_equal(df, expect.iloc[:n].reset_index(drop=True), check_exact=True)
    return wall, start


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="mobilenetv2")
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--ray-n", type=int, default=100_000, help="candidates of each Ray run "
                    "(0: no Ray runs)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", default=os.path.join(ROOT, "reports", "latency", "profile.json"))
    ap.add_argument("--out", default=os.path.join(ROOT, "reports", "sweep_speed.md"))
    args = ap.parse_args(argv)
    fileio.check_writable(args.out)
    space = load_space(args.space)
    profile = DeviceProfile.load(args.profile)
    mach = machine.describe()
    watch = CpuWatch().start()
    df, cold, warm, pieces = local(space, args.n, profile, args.seed)
    quiet = watch.stop()  # the local runs only: Ray's own processes would count as others
    print(f"local: {args.n} candidates in {cold:.1f} s ({pieces} distinct pieces); again with "
          f"the cache filled {warm:.1f} s", file=sys.stderr)
    ray_rows = []
    if args.ray_n:
        for w in (1, 2):
            wall, start = on_ray(space, min(args.ray_n, args.n), profile, args.seed, w, df)
            ray_rows.append((w, wall, start))
            print(f"ray, {w} worker(s): {wall:.1f} s (+{start:.1f} s to start Ray)",
                  file=sys.stderr)
    rel = os.path.relpath(args.profile, ROOT)
    lines = [
        "# Sweep speed", "",
        f"`python benchmarks/sweep_speed.py --n {args.n} --ray-n {args.ray_n}` on "
        f"{mach.get('cpu_model', '?')} ({os.cpu_count()} logical CPUs), torch "
        f"{mach.get('torch', '?')}; during the local runs {describe(quiet)}.", "",
        f"Space `{space.name}` (`costmodel/sweep/spaces/{space.name}.json`, "
        f"{space.size:.3g} candidates), {args.n:,} candidates sampled with seed {args.seed}, "
        f"latency predicted at {' and '.join(map(str, profile.thread_counts))} thread(s) with "
        f"`{rel}`, guideline findings counted for every candidate.", "",
        "| run | candidates | wall time | candidates / s |", "|---|---:|---:|---:|",
        f"| local, one process (block cache empty) | {args.n:,} | {cold:.1f} s | "
        f"{args.n / cold:,.0f} |",
        f"| local, the same again (block cache filled) | {args.n:,} | {warm:.1f} s | "
        f"{args.n / warm:,.0f} |",
    ]
    for w, wall, start in ray_rows:
        n = min(args.ray_n, args.n)
        lines.append(f"| Ray, local, {w} worker CPU{'s' if w > 1 else ''} (worker start included) "
                     f"| {n:,} | "
                     f"{wall:.1f} s (+{start:.1f} s to start Ray) | {n / wall:,.0f} |")
    lines += ["", f"Floor: {args.n:,} candidates in under {FLOOR_S // 60} minutes on this "
                  f"machine: **{'met' if cold < FLOOR_S else 'NOT met'}** ({cold / 60:.1f} min "
                  f"with an empty cache).",
              f"The {args.n:,} candidates have {pieces:,} distinct (block, input shape) pieces; "
              f"each is analyzed, predicted and linted once ({(cold - warm):.0f} s of the "
              f"cold run), the rest is summing cached pieces ({warm:.1f} s)."]
    if len(ray_rows) == 2:
        speedup = ray_rows[0][1] / ray_rows[1][1]
        lines += ["", f"Ray speed-up from 1 to 2 workers: **{speedup:.2f}x**. Every worker keeps "
                      f"its own block cache, so with 2 workers each analyzes most of the distinct "
                      f"pieces again; only the summing is split. Results are identical to the "
                      f"local run (checked)."]
    if is_busy(quiet):
        lines += ["", f"**Disturbed measurement**: other processes used "
                      f"{quiet['other_cpu_pct']:.0f}% of one core during the local runs (more "
                      f"than {BUSY_PCT:g}%), so every time above is slower than on a quiet "
                      f"machine, and a second Ray worker had little free CPU to run on; rerun it "
                      f"on an idle machine."]
    fileio.write_text(args.out, "\n".join(lines) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
