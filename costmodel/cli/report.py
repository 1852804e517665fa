"""``costmodel report MODEL`` (per-layer costs of one model) and ``costmodel zoo`` (the built-in
models with their published figures)."""
from __future__ import annotations

import sys

from costmodel.cli.common import CLIError, add_format_args, add_model_args, emit, load_model, \
    output_format

REPORT_FORMATS = ("table", "csv", "json", "md", "html")
#: module roll-up depth of a report (``CostReport.to_table(max_depth=...)``'s default)
DEFAULT_DEPTH = 2


def _report(args) -> int:
    from costmodel.analysis import analyze

    fmt = output_format(args.format, args.out, REPORT_FORMATS)
    if args.depth is not None and fmt in ("csv", "json"):
        raise CLIError(f"--depth sets the by-module roll-up, which {fmt} output does not have")
    if args.depth is not None and args.depth < 0:
        raise CLIError(f"--depth must be 0 (the model) or more, got {args.depth}")
    if args.top is not None and args.top < 1:
        raise CLIError(f"--top must be a positive number of layers, got {args.top}")
    model, shape = load_model(args.model, args.input)
    report = analyze(model, shape)
    report.model_name = args.model
    if args.profile is not None:
        from costmodel.latency import ProfileError, add_predicted_columns
        try:
            add_predicted_columns(report, args.profile, args.threads)
        except (ProfileError, ValueError, OSError) as exc:
            raise CLIError(f"cannot use profile {args.profile}: {exc}") from None
    depth = DEFAULT_DEPTH if args.depth is None else args.depth
    emit(report.export(fmt, max_depth=depth, top=args.top, by=args.by), args.out, fmt)
    return 0


def _zoo(args) -> int:
    from costmodel.zoo.table import published_text

    sys.stdout.write(published_text())
    return 0


def register(sub) -> None:
    p = sub.add_parser("report", help="per-layer cost report of one model",
                       description="Trace MODEL on meta tensors (nothing is computed) and report "
                                   "every layer's params, multiply-adds (madds), flops and memory "
                                   "access cost (MAC, in elements), rolled up by module and by kind.")
    add_model_args(p)
    add_format_args(p, REPORT_FORMATS)
    p.add_argument("--depth", "-d", type=int, default=None, metavar="N",
                   help=f"roll modules up to depth N: 0 is the model, 1 its children ... "
                        f"(default {DEFAULT_DEPTH}; table, md and html)")
    p.add_argument("--top", type=int, default=None, metavar="N",
                   help="list only the N layers with the most --by, most expensive first "
                        "(default: every layer, in execution order)")
    p.add_argument("--by", default="madds", choices=("madds", "mac"),
                   help="what --top ranks by: multiply-adds or memory access cost (default "
                        "%(default)s)")
    p.add_argument("--profile", "-p", default=None,
                   help="device profile from `costmodel calibrate`: adds predicted-time columns")
    p.add_argument("--threads", "-t", type=int, default=None,
                   help="thread count to predict for (default: the profile's first)")
    p.set_defaults(func=_report)

    p = sub.add_parser("zoo", help="list the built-in models with their published figures",
                       description="Every built-in (zoo) model with its family, input resolution "
                                   "and the params, multiply-adds and ImageNet top-1 its paper "
                                   "published.  Use a name as MODEL in any command.")
    p.set_defaults(func=_zoo)

