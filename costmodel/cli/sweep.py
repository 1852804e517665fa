"""``costmodel sweep SPACE --n N --profile P --out results.parquet``: a design-space sweep
(:func:`costmodel.sweep.run.sweep`), its Pareto front and its figure."""
from __future__ import annotations

import os
import sys
import time

from costmodel.cli.common import CLIError, check_writable, progress

SPACE_HELP = ("a space file (.json, format in costmodel/sweep/space.py) or a packaged space: "
              "mobilenetv2, shufflenetv2, mixed, tiny")


def _stem(out: str) -> str:
    return os.path.splitext(out)[0]


def _sweep(args) -> int:
    from costmodel.latency.predict import as_profile
    from costmodel.sweep import pareto, run
    from costmodel.sweep.engine import pred_column, result_columns
    from costmodel.sweep.space import load_space

    space = load_space(args.space)
    if args.address and args.engine != "ray":
        raise CLIError("--address is for --engine ray")
    if args.metric is None and args.metrics is not None:
        raise CLIError("--metrics FILE needs --metric COLUMN (the column to maximize)")
    front_path = args.front or _stem(args.out) + "_front.csv"
    plot_path = None if args.no_plot else (args.plot or _stem(args.out) + "_front.png")
    run.table_format(args.out)
    run.table_format(front_path)
    if plot_path and os.path.splitext(plot_path)[1].lower() not in (".png", ".svg", ".pdf"):
        raise CLIError(f"cannot tell the image format of {plot_path!r}: use .png, .svg or .pdf")
    check_writable(args.out, front_path, plot_path)
    n = run.check_n(args.n, space, args.all)
    prof = as_profile(args.profile) if args.profile else None
    threads = prof.thread_counts if prof is not None else []
    columns = result_columns(threads)
    metrics = run.read_table(args.metrics) if args.metrics else None
    if metrics is not None:
        pareto.with_metric(_empty_results(columns), metrics, args.metric)  # checks its columns
        columns = columns + [args.metric]
    for col in (args.minimize or []) + (args.maximize or []) + [c for c in [args.metric] if c]:
        if col not in columns:
            raise CLIError(f"no column {col!r} in the results (columns: "
                           f"{', '.join(columns)})" + ("; give --metrics FILE with it"
                                                       if col == args.metric else ""))
    latency = pred_column(threads[0]) if threads else None
    maximize = args.maximize or [args.metric or "madds"]
    minimize = args.minimize or [latency or "mac"]

    bar = progress(total=n, desc="sweep", unit="cand", quiet=args.quiet)
    t0 = time.perf_counter()
    try:
        df = run.sweep(space, n, profile=prof, seed=args.seed, enumerate_all=args.all,
                       out=args.out, chunk_size=args.chunk_size, engine=args.engine,
                       address=args.address, workers=args.workers, on_progress=bar.update)
    finally:
        bar.close()
    wall = time.perf_counter() - t0
    print(f"wrote {args.out} ({len(df):,} candidates of {space.name}, {wall:.1f} s)",
          file=sys.stderr)
    if metrics is not None:
        df = pareto.with_metric(df, metrics, args.metric)
    front = pareto.pareto_front(df, minimize, maximize)
    run.write_table(front, front_path)
    print(f"wrote {front_path} (Pareto front: {len(front):,} candidates, minimizing "
          f"{', '.join(minimize)}, maximizing {', '.join(maximize)})", file=sys.stderr)
    if plot_path:
        from costmodel.plots.sweep import save_sweep_figure

        note = (f"{len(df):,} candidates of the space {space.name!r}"
                + (f", seed {args.seed}" if not args.all else ", enumerated")
                + (f"; latency predicted with {args.profile}" if args.profile else ""))
        save_sweep_figure(plot_path, df, front, minimize, maximize,
                          title=f"sweep of {space.name}", note=note)
        print(f"wrote {plot_path}", file=sys.stderr)
    return 0


def _positive(text: str, option: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise CLIError(f"{option} expects a positive integer, got {text!r}") from None
    if value < 1:
        raise CLIError(f"{option} expects a positive integer, got {text!r}")
    return value


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sweep", help="cost and predicted latency of many candidates of a design space",
        description="Sample (or enumerate) candidates of a block-structured design space and "
                    "report, per candidate, params, multiply-adds (madds), flops, MAC (memory "
                    "accesses, elements), predicted latency at each thread count of the profile "
                    "and guideline findings, plus the Pareto front and its figure.  Each "
                    "distinct block at each input shape is analyzed once.  Resumable: finished "
                    "chunks are kept in OUT.parts/ until the whole result is written.")
    p.add_argument("space", metavar="SPACE", help=SPACE_HELP)
    p.add_argument("--n", type=str, default=None, metavar="N",
                   help="number of candidates (sampled; with --all the first N of the "
                        "enumeration)")
    p.add_argument("--all", action="store_true", help="enumerate the whole space (small ones)")
    p.add_argument("--seed", type=str, default="0", help="sampling seed (default 0)")
    p.add_argument("--profile", "-p", default=None, metavar="PROFILE",
                   help="device profile for predicted latency (e.g. reports/latency/profile.json)")
    p.add_argument("--out", "-o", required=True, metavar="PATH",
                   help="results table: .parquet (needs pyarrow) or .csv")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local (this process, default) or ray (tasks over chunks)")
    p.add_argument("--address", default=None,
                   help="Ray cluster address (e.g. auto, or ray://HOST:10001); default: start a "
                        "local Ray")
    p.add_argument("--workers", type=str, default=None,
                   help="CPUs of a local Ray (default: all)")
    p.add_argument("--chunk-size", type=str, default=None, metavar="C",
                   help="candidates per chunk (default 5000): the unit of resuming and of Ray "
                        "tasks")
    p.add_argument("--metrics", default=None, metavar="FILE",
                   help="a .csv or .parquet table with a 'candidate' column and your metric "
                        "(e.g. measured accuracy), joined onto the results for the front")
    p.add_argument("--metric", default=None, metavar="COLUMN",
                   help="the column to maximize on the front (from --metrics or the results)")
    p.add_argument("--minimize", nargs="+", default=None, metavar="COLUMN",
                   help="front columns to minimize (default: predicted latency at the "
                        "profile's first thread count, else mac)")
    p.add_argument("--maximize", nargs="+", default=None, metavar="COLUMN",
                   help="front columns to maximize (default: --metric, else madds)")
    p.add_argument("--front", default=None, metavar="PATH",
                   help="Pareto front table (default OUT_front.csv)")
    p.add_argument("--plot", default=None, metavar="PATH",
                   help="figure of candidates and front (default OUT_front.png)")
    p.add_argument("--no-plot", action="store_true", help="no figure")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)


def _run(args) -> int:
    args.n = _positive(args.n, "--n") if args.n is not None else None
    args.seed = _seed(args.seed)
    args.workers = _positive(args.workers, "--workers") if args.workers is not None else None
    args.chunk_size = (_positive(args.chunk_size, "--chunk-size") if args.chunk_size is not None
                       else 5000)
    if args.n is None and not args.all:
        raise CLIError("give --n N (candidates to sample) or --all (enumerate the space)")
    return _sweep(args)


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise CLIError(f"--seed expects a non-negative integer, got {text!r}") from None
    if not 0 <= value < 2 ** 23:
        raise CLIError(f"--seed expects an integer in [0, {2 ** 23}), got {text!r}")
    return value


def _empty_results(columns):
    """An empty results table with these columns (to check a metrics table against)."""
    import pandas as pd

    return pd.DataFrame({c: [] for c in columns})
