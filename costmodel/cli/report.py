"""``costmodel report MODEL`` (per-layer costs of one model) and ``costmodel zoo`` (the built-in
models with their published figures)."""
from __future__ import annotations

from costmodel.cli.common import CLIError, add_model_args, emit, load_model

REPORT_FORMATS = ("table", "csv", "json", "md", "html")


def _report(args) -> int:
    from costmodel.analysis import analyze

    model, shape = load_model(args.model, args.input)
    report = analyze(model, shape)
    report.model_name = args.model
    if args.profile is not None:
        from costmodel.latency import ProfileError, add_predicted_columns
        try:
            add_predicted_columns(report, args.profile, args.threads)
        except (ProfileError, ValueError, OSError) as exc:
            raise CLIError(f"cannot use profile {args.profile}: {exc}") from None
    emit(report.export(args.format), args.out, args.format)
    return 0


def _zoo(args) -> int:
    from costmodel.zoo import registry

    rows = []
    for name in registry.names():
        e = registry.entry(name)
        p = e.published
        rows.append(f"{name:26s} {e.family:14s} {p.resolution:4d}  "
                    f"params {p.params_m if p.params_m is not None else '-':>6}M  "
                    f"madds {p.madds_m if p.madds_m is not None else '-':>6}M  "
                    f"top1 {p.top1 if p.top1 is not None else '-':>5}")
    print("\n".join(rows))
    return 0


def register(sub) -> None:
    p = sub.add_parser("report", help="per-layer cost report of one model",
                       description="Trace MODEL on meta tensors (nothing is computed) and report "
                                   "every layer's params, multiply-adds (madds), flops and memory "
                                   "access cost (MAC, in elements), rolled up by module and by kind.")
    add_model_args(p)
    p.add_argument("--format", "-f", default="table", choices=REPORT_FORMATS)
    p.add_argument("--out", "-o", default=None, help="write to this file instead of stdout")
    p.add_argument("--profile", "-p", default=None,
                   help="device profile from `costmodel calibrate`: adds predicted-time columns")
    p.add_argument("--threads", "-t", type=int, default=None,
                   help="thread count to predict for (default: the profile's first)")
    p.set_defaults(func=_report)

    p = sub.add_parser("zoo", help="list the built-in models with their published figures")
    p.set_defaults(func=_zoo)

