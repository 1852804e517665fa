"""``costmodel reports --out reports/``: regenerate the whole reports folder
(:func:`costmodel.reports_folder.generate_reports`)."""
from __future__ import annotations

import os

from costmodel.cli.common import CLIError, prepare_out_dir


def _reports(args) -> int:
    from costmodel.reports_folder import LATENCY_DIR, generate_reports, write_zoo_table
    from costmodel.zoo import registry

    names = None
    if args.models:
        for n in args.models:
            registry.entry(n)  # an unknown name: UnknownModelError, with close matches
        names = args.models
    if args.only == "zoo":
        prepare_out_dir(args.out)
        written = write_zoo_table(args.out, names)
        print(f"wrote {' and '.join(written)} (the zoo table only; nothing timed)")
        return 0
    if args.skip_latency and args.reuse_latency:
        raise CLIError("--skip-latency and --reuse-latency exclude each other")
    if args.reuse_latency:
        need = [os.path.join(args.out, LATENCY_DIR, "timings.json")]
        need += [] if args.profile else [os.path.join(args.out, LATENCY_DIR, "profile.json")]
        missing = [p for p in need if not os.path.isfile(p)]
        if missing:
            raise CLIError(f"--reuse-latency needs an earlier validation run: {', '.join(missing)} "
                           f"missing (run `costmodel validate-report --out "
                           f"{os.path.join(args.out, LATENCY_DIR)}` first)")
    prepare_out_dir(args.out)
    argv = ["reports", "--out", args.out] + (["--skip-latency"] if args.skip_latency else []) + \
        (["--reuse-latency"] if args.reuse_latency else []) + \
        (["--quick"] if args.quick else []) + (["--models"] + args.models if args.models else [])
    outcome = generate_reports(args.out, names, args.skip_latency, args.quick,
                               progress=not args.no_progress, profile_path=args.profile, argv=argv,
                               reuse_latency=args.reuse_latency)
    print(f"wrote {len(outcome.written)} files under {args.out}"
          + (f"; skipped {len(outcome.skipped)} part(s), listed in "
             f"{os.path.join(args.out, 'README.md')}" if outcome.skipped else ""))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "reports", help="regenerate the reports/ folder (zoo table, per-layer reports, plots, ...)",
        description="Regenerate the reports folder: per-layer reports of every zoo model, the zoo "
                    "summary table, the accuracy plots, the latency plots and the guideline and "
                    "validation reports (those three when their packages can produce them here; "
                    "otherwise they are skipped with a message).")
    p.add_argument("--out", "-o", default="reports", help="output folder (default reports/)")
    p.add_argument("--skip-latency", action="store_true", help="no timing at all (fast)")
    p.add_argument("--reuse-latency", action="store_true",
                   help="no timing: predict with OUT/latency/profile.json, take measured times "
                        "from OUT/latency/timings.json (an earlier validate-report run)")
    p.add_argument("--quick", action="store_true",
                   help="tiny timing budgets (45 s calibration, short measurements): a rough run")
    p.add_argument("--models", nargs="+", default=None, help="only these zoo models")
    p.add_argument("--only", choices=("zoo",), default=None,
                   help="write one part only: zoo = OUT/zoo.md and OUT/zoo.csv (the zoo table "
                        "with its gap list; nothing timed, nothing else rewritten)")
    p.add_argument("--profile", default=None,
                   help="device profile for the predictions (default: OUT/latency/profile.json "
                        "from an earlier run, else a fresh calibration saved there)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_reports)
