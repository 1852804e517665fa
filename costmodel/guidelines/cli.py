"""Sub-commands ``costmodel guidelines run|render`` and ``costmodel lint MODEL``."""
from __future__ import annotations

import json
import os
import sys
import warnings

from costmodel.guidelines.lint import SEVERITIES, check, severity_rank

ZOO_LINT_MODELS = ("shufflenet_v1_g3_x1_0", "shufflenet_v1_g8_x1_0", "mobilenet_v2_x1_0",
                   "shufflenet_v2_x1_0", "googlenet", "resnet50", "mixnet_s", "vgg16")


def _cli():
    from costmodel import cli  # late: costmodel.cli imports this module while building its parser
    return cli


def _run(args) -> int:
    from costmodel.guidelines import experiments as ex
    from costmodel.guidelines import render as rd
    from costmodel.guidelines import timing

    cli = _cli()
    mode = "quick" if args.quick else ("full" if args.full else "default")
    threads = sorted(set(args.threads))
    if any(t < 1 for t in threads):
        raise cli.CLIError("--threads must be positive integers")
    tables = [t.upper() for t in args.tables]
    bad = [t for t in tables if t not in ex.TABLES]
    if bad:
        raise cli.CLIError(f"unknown table(s) {', '.join(bad)}; choose from {', '.join(ex.TABLES)}")
    profile = None
    if args.profile:
        if not os.path.isfile(args.profile):
            raise cli.CLIError(f"profile file not found: {args.profile}")
        profile = timing.load_profile(args.profile)
    say = (lambda m: print(m, file=sys.stderr)) if not args.silent else None
    if args.clock == "cpu" and threads != [1]:
        raise cli.CLIError("--clock cpu measures one thread: use it with --threads 1")
    result = ex.run(mode, threads=threads, tables=tables, profile=profile, progress=say,
                    clock=args.clock)
    if args.profile:
        result.extra["profile_path"] = args.profile
    if args.gpu:
        result = ex.merge_device(result, _read_json(args.gpu, "GPU results"))
    json_path = args.json or os.path.splitext(args.out)[0] + ".json"
    os.makedirs(os.path.dirname(json_path) or ".", exist_ok=True)
    with open(json_path, "w", encoding="utf-8") as f:
        json.dump(result.to_dict(), f, indent=1)
    rd.render(result, args.out, lint_models=() if args.no_lint else ZOO_LINT_MODELS,
              plots=not args.no_plots)
    print(f"wrote {args.out} and {json_path} ({mode} mode, {result.wall_s:.0f} s)", file=sys.stderr)
    if not args.silent:
        o = ex.orderings(result)
        for r in o[o["series"].str.startswith("measured")].itertuples(index=False):
            print(f"{r.table} {r.column:12s} {r.series:12s} vs paper {r.reference}: {r.verdict:13s} "
                  f"ours {r.our_order}")
    return 0


def _read_json(path, what):
    cli = _cli()
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as exc:
        raise cli.CLIError(f"cannot read {what} {path}: {exc}") from None


def _run_gpu(args) -> int:
    from costmodel.guidelines import experiments as ex
    import torch

    cli = _cli()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise cli.CLIError("no CUDA device available (torch.cuda.is_available() is False)")
    say = (lambda m: print(m, file=sys.stderr))
    res = ex.run_device(args.device, rounds=args.rounds, batch=args.batch, progress=say)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(res, f, indent=1)
    print(f"wrote {args.out} ({res['device']}, {len(res['rows'])} variants)", file=sys.stderr)
    return 0


def _render(args) -> int:
    from costmodel.guidelines import experiments as ex
    from costmodel.guidelines import render as rd

    cli = _cli()
    try:
        result = ex.ExperimentResult.from_dict(_read_json(args.results, "results"))
    except KeyError as exc:
        raise cli.CLIError(f"{args.results} is not a `guidelines run` result: missing {exc}") from None
    if args.gpu:
        try:
            result = ex.merge_device(result, _read_json(args.gpu, "GPU results"))
        except KeyError as exc:
            raise cli.CLIError(f"{args.gpu} is not a `guidelines run-gpu` result: missing {exc}") from None
    rd.render(result, args.out, lint_models=() if args.no_lint else ZOO_LINT_MODELS,
              plots=not args.no_plots)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _lint(args) -> int:
    from costmodel.analysis import parse_shape
    from costmodel.guidelines import timing
    from costmodel.tracer import TraceError

    cli = _cli()
    profile = None
    if args.profile:
        if not os.path.isfile(args.profile):
            raise cli.CLIError(f"profile file not found: {args.profile}")
        profile = timing.load_profile(args.profile)
    elif args.predict:
        profile = timing.load_profile(threads=args.threads)
    texts, worst = [], None
    for spec in args.model:
        model = cli.load_model(spec)
        shape = parse_shape(args.input or cli.default_input(spec))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rep = check(model, shape, profile=profile, model_name=spec)
        except TraceError as exc:
            raise cli.CLIError(str(exc)) from None
        if args.format == "json":
            texts.append(rep.to_dict(args.min_severity))
        else:
            texts.append(rep.export(args.format, min_severity=args.min_severity))
        w = max((f.severity for f in rep.filter(min_severity=args.min_severity)),
                key=severity_rank, default=None)
        worst = max((worst, w), key=severity_rank)
    if args.format == "json":
        out = json.dumps(texts[0] if len(texts) == 1 else texts, indent=1) + "\n"
    else:
        out = "\n".join(texts)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(out)
        print(f"wrote {args.out} ({args.format})", file=sys.stderr)
    else:
        sys.stdout.write(out)
    if args.fail_on and severity_rank(worst) >= severity_rank(args.fail_on):
        return 1
    return 0


def register_cli(subparsers) -> None:
    p = subparsers.add_parser(
        "guidelines", help="re-run ShuffleNetV2's guideline experiments (Tables 1-4) here",
        description="Build the four micro-benchmarks of ShuffleNetV2 Sec. 2 (Ma et al. 2018, "
                    "arXiv:1807.11164), compute their FLOPs and MAC, predict and measure their "
                    "speed on this CPU, and write a Markdown report with plots.")
    sub = p.add_subparsers(dest="guidelines_command", required=True)
    r = sub.add_parser("run", help="run the experiments and write the report")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true",
                   help="ARM configurations at the first width only, short timings (~15 s)")
    g.add_argument("--full", action="store_true",
                   help="also the paper's GPU configurations at every width (slow on a CPU)")
    r.add_argument("--threads", type=int, nargs="+", default=[1],
                   help="thread counts to measure at (default: 1; e.g. --threads 1 2)")
    r.add_argument("--clock", default="wall", choices=["wall", "cpu"],
                   help="wall: elapsed time (default, quiet machine); cpu: thread CPU time, "
                        "robust to other processes (1 thread only)")
    r.add_argument("--gpu", default=None,
                   help="add a `guidelines run-gpu` result (the paper's GPU configurations)")
    r.add_argument("--tables", nargs="+", default=["G1", "G2", "G3", "G4"],
                   help="which guidelines' tables to run (default: all)")
    r.add_argument("--out", "-o", default="reports/guidelines.md", help="Markdown report path")
    r.add_argument("--json", default=None,
                   help="raw results (default: the report path with .json)")
    r.add_argument("--profile", default=None, help="device profile file for the prediction")
    r.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    r.add_argument("--no-lint", action="store_true", help="skip the linter section")
    r.add_argument("--silent", action="store_true", help="no progress or summary output")
    r.set_defaults(func=_run)
    r = sub.add_parser("render", help="re-write the report from a saved results JSON")
    r.add_argument("results", help="JSON written by `guidelines run`")
    r.add_argument("--out", "-o", default="reports/guidelines.md")
    r.add_argument("--gpu", default=None, help="JSON written by `guidelines run-gpu` to add")
    r.add_argument("--no-plots", action="store_true")
    r.add_argument("--no-lint", action="store_true")
    r.set_defaults(func=_render)
    r = sub.add_parser("run-gpu", help="measure the paper's GPU configurations on a CUDA device")
    r.add_argument("--out", "-o", default="reports/guidelines_gpu.json")
    r.add_argument("--device", default="cuda")
    r.add_argument("--rounds", type=int, default=3)
    r.add_argument("--batch", type=int, default=1)
    r.set_defaults(func=_run_gpu)

    p = subparsers.add_parser(
        "lint", help="check a model against ShuffleNetV2's guidelines G1-G4",
        description="Per-layer and per-block findings: 1x1 convs with unequal widths (G1), group "
                    "convs (G2), fragmented blocks (G3), element-wise share of MAC (G4).  Exit "
                    "status 1 with --fail-on when a finding reaches that severity.")
    p.add_argument("model", nargs="+", help="zoo model name(s) or path/to/file.py:factory")
    p.add_argument("--input", "-i", default=None,
                   help="input shape NxCxHxW (default: the zoo model's own, else 1x3x224x224)")
    p.add_argument("--format", "-f", default="table", choices=["table", "md", "json"])
    p.add_argument("--out", "-o", default=None, help="write to this file instead of stdout")
    p.add_argument("--min-severity", default="warn", choices=list(SEVERITIES),
                   help="show findings at or above this severity (default: warn)")
    p.add_argument("--fail-on", default=None, choices=list(SEVERITIES),
                   help="exit with status 1 if a shown finding reaches this severity")
    p.add_argument("--predict", action="store_true",
                   help="also predict latency (element-wise share of predicted time)")
    p.add_argument("--profile", default=None, help="device profile file (implies --predict)")
    p.add_argument("--threads", type=int, default=1, help="thread count of the prediction")
    p.set_defaults(func=_lint)
