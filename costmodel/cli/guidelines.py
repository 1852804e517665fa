"""``costmodel guidelines run|render|run-gpu`` (ShuffleNetV2's guideline experiments re-run here)
and ``costmodel lint MODEL...`` (a model checked against them)."""
from __future__ import annotations

import os
import sys

from costmodel.cli.common import CLIError, LazyChoices, add_clock_arg, add_format_args, \
    add_model_args, check_writable, emit, json_text, load_model, output_format

SEVERITIES = LazyChoices("costmodel.guidelines.lint", "SEVERITIES")
LINT_FORMATS = ("table", "md", "json")


def _run(args) -> int:
    from costmodel.guidelines import experiments as ex
    from costmodel.guidelines import report_files

    mode = "quick" if args.quick else ("full" if args.full else "default")
    threads = sorted(set(args.threads))
    if any(t < 1 for t in threads):
        raise CLIError("--threads must be positive integers")
    tables = [t.upper() for t in args.tables]
    bad = [t for t in tables if t not in ex.TABLES]
    if bad:
        raise CLIError(f"unknown table(s) {', '.join(bad)}; choose from {', '.join(ex.TABLES)}")
    if args.profile and not os.path.exists(args.profile):
        raise CLIError(f"profile file not found: {args.profile}")
    if args.clock == "cpu" and threads != [1]:
        raise CLIError("--clock cpu measures one thread: use it with --threads 1")
    check_writable(args.out, args.json or os.path.splitext(args.out)[0] + ".json")
    say = (lambda m: print(m, file=sys.stderr)) if not args.silent else None
    result, json_path = report_files.run_report(
        args.out, args.json, mode, threads, tables, args.profile, args.clock, args.gpu,
        lint=not args.no_lint, plots=not args.no_plots, progress=say,
        interleave=False if args.in_process else None)
    print(f"wrote {args.out} and {json_path} ({mode} mode, {result.wall_s:.0f} s)", file=sys.stderr)
    if not args.silent:
        o = ex.orderings(result)
        for r in o[o["series"].str.startswith("measured")].itertuples(index=False):
            print(f"{r.table} {r.column:12s} {r.series:12s} vs paper {r.reference}: {r.verdict:13s} "
                  f"ours {r.our_order}")
    return 0


def _run_gpu(args) -> int:
    import torch

    from costmodel.guidelines import experiments as ex

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise CLIError("no CUDA device available (torch.cuda.is_available() is False)")
    check_writable(args.out)
    say = (lambda m: print(m, file=sys.stderr))
    res = ex.run_device(args.device, rounds=args.rounds, batch=args.batch, progress=say)
    emit(json_text(res), args.out, f"{res['device']}, {len(res['rows'])} variants")
    return 0


def _render(args) -> int:
    from costmodel.guidelines import report_files

    report_files.render_saved(args.results, args.out, args.gpu, lint=not args.no_lint,
                              plots=not args.no_plots)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _lint(args) -> int:
    import warnings

    from costmodel.guidelines import timing
    from costmodel.guidelines.lint import check, severity_rank

    profile = None
    if args.profile:
        if not os.path.exists(args.profile):
            raise CLIError(f"profile file not found: {args.profile}")
        profile = timing.load_profile(args.profile)
    elif args.predict:
        profile = timing.load_profile(threads=args.threads)
    fmt = output_format(args.format, args.out, LINT_FORMATS)
    texts, worst = [], None
    for spec in args.model:
        model, shape = load_model(spec, args.input)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rep = check(model, shape, profile=profile, model_name=spec)
        if fmt == "json":
            texts.append(rep.to_dict(args.min_severity))
        else:
            texts.append(rep.export(fmt, min_severity=args.min_severity))
        w = max((f.severity for f in rep.filter(min_severity=args.min_severity)),
                key=severity_rank, default=None)
        worst = max((worst, w), key=severity_rank)
    if fmt == "json":
        out = json_text(texts[0] if len(texts) == 1 else texts)
    else:
        out = "\n".join(texts)
    emit(out, args.out, fmt)
    if args.fail_on and severity_rank(worst) >= severity_rank(args.fail_on):
        return 1
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "guidelines", help="re-run ShuffleNetV2's guideline experiments (Tables 1-4) here",
        description="Build the four micro-benchmarks of ShuffleNetV2 Sec. 2 (Ma et al. 2018, "
                    "arXiv:1807.11164), compute their FLOPs and MAC, predict and measure their "
                    "speed on this CPU, and write a Markdown report with plots.")
    sub = p.add_subparsers(dest="guidelines_command", required=True)
    r = sub.add_parser("run", help="run the experiments and write the report",
                       description="Measure the four guideline experiments here, save the results "
                                   "(--json) and write the Markdown report with its plots.")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true",
                   help="ARM configurations at the first width only, short timings (about a "
                        "minute; ~15 s with --in-process)")
    g.add_argument("--full", action="store_true",
                   help="also the paper's GPU configurations at every width (slow on a CPU)")
    r.add_argument("--threads", type=int, nargs="+", default=[1],
                   help="thread counts to measure at (default: 1; e.g. --threads 1 2)")
    add_clock_arg(r)
    r.add_argument("--gpu", default=None,
                   help="add a `guidelines run-gpu` result (the paper's GPU configurations)")
    r.add_argument("--tables", nargs="+", default=["G1", "G2", "G3", "G4"],
                   help="which guidelines' tables to run (default: all)")
    r.add_argument("--out", "-o", default="reports/guidelines.md", help="Markdown report path")
    r.add_argument("--json", default=None,
                   help="raw results (default: the report path with .json)")
    r.add_argument("--profile", default=None, help="device profile file for the prediction")
    r.add_argument("--in-process", action="store_true",
                   help="time every block in this process, without the drift reference (default "
                        "with a latency profile that has one: each block in a fresh process, "
                        "alternating run by run with it, drift-corrected)")
    r.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    r.add_argument("--no-lint", action="store_true", help="skip the linter section")
    r.add_argument("--silent", action="store_true", help="no progress or summary output")
    r.set_defaults(func=_run)
    r = sub.add_parser("render", help="re-write the report from a saved results JSON",
                       description="Write the report again from the results an earlier `guidelines "
                                   "run` saved, timing nothing.")
    r.add_argument("results", help="JSON written by `guidelines run`")
    r.add_argument("--out", "-o", default="reports/guidelines.md",
                   help="Markdown report path (default %(default)s)")
    r.add_argument("--gpu", default=None, help="JSON written by `guidelines run-gpu` to add")
    r.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    r.add_argument("--no-lint", action="store_true", help="skip the linter section")
    r.set_defaults(func=_render)
    r = sub.add_parser("run-gpu", help="measure the paper's GPU configurations on a CUDA device",
                       description="Time the paper's GPU configurations on a CUDA (or other torch) "
                                   "device; `guidelines run --gpu FILE` or `render --gpu FILE` adds "
                                   "them to the report.")
    r.add_argument("--out", "-o", default="reports/guidelines_gpu.json",
                   help="results JSON to write (default %(default)s)")
    r.add_argument("--device", default="cuda", help="torch device (default %(default)s)")
    r.add_argument("--rounds", type=int, default=3,
                   help="timing rounds per configuration (default %(default)s)")
    r.add_argument("--batch", type=int, default=1, help="batch size (default %(default)s)")
    r.set_defaults(func=_run_gpu)

    p = subparsers.add_parser(
        "lint", help="check a model against ShuffleNetV2's guidelines G1-G4",
        description="Per-layer and per-block findings: 1x1 convs with unequal widths (G1), group "
                    "convs (G2), fragmented blocks (G3), element-wise share of MAC (G4).  Exit "
                    "status 1 with --fail-on when a finding reaches that severity.")
    add_model_args(p, many=True)
    add_format_args(p, LINT_FORMATS)
    p.add_argument("--min-severity", default="warn", choices=SEVERITIES, metavar="SEVERITY",
                   help="show findings at or above this severity: %(choices)s (default: "
                        "%(default)s)")
    p.add_argument("--fail-on", default=None, choices=SEVERITIES, metavar="SEVERITY",
                   help="exit with status 1 if a shown finding reaches this severity (%(choices)s)")
    p.add_argument("--predict", action="store_true",
                   help="also predict latency (element-wise share of predicted time)")
    p.add_argument("--profile", default=None, help="device profile file (implies --predict)")
    p.add_argument("--threads", type=int, default=1, help="thread count of the prediction")
    p.set_defaults(func=_lint)
