"""Regenerate reports/latency: calibrate this CPU (in-network method, ~18 min), measure the
frozen foreign set (torchvision and timm CNNs), the zoo and 30 held-out networks of the
calibration families at 1 and 2 threads (batch 1) with the drift reference interleaved, compare
predictions with measurements.  ``--set in-space`` runs the first report instead (zoo + held-out
networks of the first design space, per-layer replays).

    python benchmarks/latency_validation.py                       # full run (see --help)
    python benchmarks/latency_validation.py --set in-space --zoo 5 --networks 10 --budget 120 --out /tmp/lat

Same as ``costmodel validate-report``; this script imports only costmodel.latency (no other CLI
plug-ins), so it also runs from a bare checkout with ``PYTHONPATH=.``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from costmodel import zoo  # noqa: E402
from costmodel.latency.calibrate import DEFAULT_BUDGET_S  # noqa: E402
from costmodel.latency.profile import DeviceProfile  # noqa: E402
from costmodel.latency.validate import validation_report  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="reports/latency")
    p.add_argument("--profile", default=None, help="reuse a profile instead of calibrating")
    p.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S, help="calibration budget, s")
    p.add_argument("--networks", type=int, default=100)
    p.add_argument("--zoo", default=None, help="N spread-out zoo models or comma-separated names "
                                               "(default: all)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="cpu: thread CPU time (busy machines, --threads 1 only)")
    p.add_argument("--set", choices=["foreign", "in-space"], default="foreign")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    names = None
    if args.zoo is not None:
        all_names = zoo.names()
        if args.zoo.isdigit():
            k = int(args.zoo)
            names = all_names[:: max(1, len(all_names) // max(k, 1))][:k]
        else:
            names = args.zoo.split(",")
    prof = DeviceProfile.load(args.profile) if args.profile else None
    cmd = "python benchmarks/latency_validation.py " + " ".join(argv if argv is not None else sys.argv[1:])
    t0 = time.time()
    if args.set == "foreign":
        from costmodel.latency import foreign
        text = foreign.run(args.out, prof, args.budget, args.threads, progress=not args.quiet,
                           command=cmd.strip(), clock=args.clock)
        print("\n".join(l for l in text.splitlines() if "costmodel (drift-corrected)" in l))
        print(f"wrote {args.out}/README.md in {(time.time() - t0) / 60:.1f} min")
        return 0
    text = validation_report(args.out, prof, args.budget, args.networks, names, args.threads,
                             progress=not args.quiet, command=cmd.strip(), clock=args.clock)
    print("\n".join(l for l in text.splitlines() if "held-out" in l and l.startswith("- ")))
    print(f"wrote {args.out}/README.md in {(time.time() - t0) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
