"""Command-line interface: ``costmodel report|zoo|...``.

Each feature module adds its own sub-command through a ``register_cli(subparsers)`` function listed
in :data:`COMMAND_MODULES`; a command's handler returns the process exit code.  Errors users can
cause (unknown model, bad shape, failing forward, unreadable file) print one clear line on stderr
and exit with status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import warnings
from typing import Callable, List

import torch.nn as nn

from costmodel.analysis import ShapeError, analyze, parse_shape
from costmodel.tracer import TraceError
from costmodel.zoo import registry

#: modules that contribute sub-commands (each defines ``register_cli(subparsers)``)
COMMAND_MODULES: List[str] = ["costmodel.plots", "costmodel.reports_cmd", "costmodel.guidelines.cli", "costmodel.arm.cli", "costmodel.latency.cli"]


class CLIError(Exception):
    """An error caused by the user's input: printed as one line, exit status 2."""


def load_model(spec: str, **kwargs) -> nn.Module:
    """A zoo name (``shufflenet_v2_x1_0``) or ``path/to/file.py:factory``."""
    if ":" in spec and (spec.split(":", 1)[0].endswith(".py") or os.sep in spec):
        path, factory_name = spec.rsplit(":", 1)
        if not os.path.isfile(path):
            raise CLIError(f"model file not found: {path}")
        mod_name = "costmodel_user_" + os.path.splitext(os.path.basename(path))[0]
        module_spec = importlib.util.spec_from_file_location(mod_name, path)
        module = importlib.util.module_from_spec(module_spec)
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:
            raise CLIError(f"could not import {path}: {type(exc).__name__}: {exc}") from None
        factory = getattr(module, factory_name, None)
        if factory is None or not callable(factory):
            raise CLIError(f"{path} has no callable named {factory_name!r}")
        try:
            model = factory(**kwargs)
        except Exception as exc:
            raise CLIError(f"{spec}() raised {type(exc).__name__}: {exc}") from None
        if not isinstance(model, nn.Module):
            raise CLIError(f"{spec}() returned {type(model).__name__}, not a torch.nn.Module")
        return model
    try:
        return registry.create(spec, **kwargs)
    except registry.UnknownModelError as exc:
        raise CLIError(str(exc)) from None
    except (ValueError, TypeError) as exc:
        raise CLIError(f"cannot build {spec}: {exc}") from None


def default_input(spec: str) -> str:
    """The zoo model's own resolution, else 1x3x224x224."""
    try:
        shape = registry.entry(spec).input_shape
    except registry.UnknownModelError:
        shape = (1, 3, 224, 224)
    return "x".join(map(str, shape))


def add_model_args(p: argparse.ArgumentParser, many: bool = False):
    p.add_argument("model", nargs="+" if many else None,
                   help="zoo model name (see `costmodel zoo`) or path/to/file.py:factory")
    p.add_argument("--input", "-i", default=None,
                   help="input shape NxCxHxW, e.g. 1x3x224x224 (default: the zoo model's own)")


def _report(args) -> int:
    model = load_model(args.model)
    shape = parse_shape(default_input(args.model) if args.input is None else args.input)
    try:
        report = analyze(model, shape)
    except TraceError as exc:
        raise CLIError(str(exc)) from None
    report.model_name = args.model
    if args.profile is not None:
        from costmodel.latency import ProfileError, add_predicted_columns
        try:
            add_predicted_columns(report, args.profile, args.threads)
        except (ProfileError, ValueError, OSError) as exc:
            raise CLIError(f"cannot use profile {args.profile}: {exc}") from None
    text = report.export(args.format, args.out)
    if args.out is None:
        sys.stdout.write(text)
    else:
        print(f"wrote {args.out} ({args.format})", file=sys.stderr)
    return 0


def _zoo(args) -> int:
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="costmodel",
        description="Per-layer params, multiply-adds (madds), memory access cost (MAC) and latency "
                    "of PyTorch CNNs.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("report", help="per-layer cost report of one model")
    add_model_args(p)
    p.add_argument("--format", "-f", default="table", choices=["table", "csv", "json", "md", "html"])
    p.add_argument("--out", "-o", default=None, help="write to this file instead of stdout")
    p.add_argument("--profile", "-p", default=None,
                   help="device profile from `costmodel calibrate`: adds predicted-time columns")
    p.add_argument("--threads", "-t", type=int, default=None,
                   help="thread count to predict for (default: the profile's first)")
    p.set_defaults(func=_report)

    p = sub.add_parser("zoo", help="list the built-in models with their published figures")
    p.set_defaults(func=_zoo)

    for name in COMMAND_MODULES:
        importlib.import_module(name).register_cli(sub)
    return parser


def run(argv=None, error: Callable[[str], None] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("once")
            return int(args.func(args) or 0)
    except (CLIError, ShapeError, TraceError, FileNotFoundError, PermissionError,
            IsADirectoryError) as exc:
        print(f"costmodel {args.command}: error: {exc}", file=sys.stderr)
        return 2


def main(argv=None) -> None:
    sys.exit(run(argv))


if __name__ == "__main__":
    main()
