"""``python -m costmodel.cli.arm_guest --spec SPEC.json --out OUT.json``: the program
:mod:`costmodel.arm.runner` starts inside the emulated aarch64 CPU
(:func:`costmodel.arm.guest.run` does the work)."""
import argparse
import sys


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m costmodel.cli.arm_guest",
                                description="Replay every op of the spec's models between "
                                            "instruction-counting markers (inside QEMU).")
    p.add_argument("--spec", required=True, help="JSON: {models: [{model, input}], repeats, ...}")
    p.add_argument("--out", required=True, help="JSON to write what was replayed to")
    args = p.parse_args(argv)
    from costmodel.arm.guest import run
    return run(args.spec, args.out)


if __name__ == "__main__":
    sys.exit(main())
