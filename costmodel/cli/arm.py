"""``costmodel arm setup|status|run|exec|collect|merge|compare|published|spec-profile``:
aarch64 instruction counts under QEMU, and published ARM speeds against spec-based predictions."""
from __future__ import annotations

import argparse
import json
import os
import sys

from costmodel.arm import environment as envmod
from costmodel.cli.common import MODEL_HELP, CLIError, LazyChoices, check_writable, emit, \
    json_text, load_model


def _env(args) -> envmod.ArmEnv:
    return envmod.ArmEnv(args.cache_dir) if args.cache_dir else envmod.ArmEnv()


def _common(p: argparse.ArgumentParser, cpu: bool = True):
    p.add_argument("--cache-dir", default=None,
                   help="where the aarch64 userland lives (default: $COSTMODEL_ARM_CACHE or "
                        "~/.cache/costmodel/arm)")
    p.add_argument("--qemu", default=None, help="qemu-aarch64 binary (default: from PATH)")
    p.add_argument("--torch", default=envmod.DEFAULT_TORCH,
                   help=f"torch version of the aarch64 wheel (default {envmod.DEFAULT_TORCH}, the "
                        f"newest CPU-only aarch64 build on PyPI)")
    if cpu:
        p.add_argument("--cpu", default=envmod.DEFAULT_CPU,
                       help="emulated core, recorded in the file (neoverse-n1, cortex-a76: NEON; "
                            "a64fx or max: SVE) (default %(default)s)")


def _setup(args) -> int:
    info = envmod.ensure_all(_env(args), args.qemu, args.torch, args.mirror, args.force)
    for s in info["steps"]:
        what = "already there" if s.get("skipped") else "done"
        print(f"{s['step']:7s} {what} ({s['step_seconds']} s)")
    print(f"ready: {info['cache_dir']} (QEMU {info['qemu_version']}, plugin {info['plugin']})")
    return 0


def _status(args) -> int:
    st = envmod.status(_env(args), args.qemu, args.torch)
    if args.json:
        print(json.dumps(st, indent=1))
    else:
        for k in ("cache_dir", "qemu", "qemu_version", "rootfs", "site", "plugin_built", "ready"):
            print(f"{k:13s} {st.get(k)}")
        if st.get("qemu_error"):
            print(f"qemu_error    {st['qemu_error']}")
    return 0 if st["ready"] else 1


def _run(args) -> int:
    from costmodel.arm.runner import run_emulated
    from costmodel.sources import split_spec
    check_writable(args.out)
    models, inputs = [], []
    for m in args.model:
        _, shape = load_model(m, args.input)  # fail fast on the host, with the host's clear error
        if split_spec(m)[0] == "file":  # the guest runs in another folder
            path, _, factory = m.rpartition(":")
            m = f"{os.path.abspath(path)}:{factory}"
        models.append(m)
        inputs.append("x".join(map(str, shape)))
    doc = run_emulated(models, inputs, args.out, _env(args), cpu=args.cpu,
                       repeats=args.repeats, forward_repeats=args.forward_repeats,
                       qemu=args.qemu, torch_version=args.torch, setup=not args.no_setup,
                       timeout_s=args.timeout, nice=args.nice)
    em = doc["emulation"]
    for m in doc["models"]:
        fi = m.get("forward_instructions")
        print(f"{m['name']:24s} {'x'.join(map(str, m['input_shape'])):14s} "
              f"forward {fi / 1e6 if fi else float('nan'):10.1f} M instr  "
              f"layer sum {(m['layer_sum_instructions'] or 0) / 1e6:10.1f} M  "
              f"spread {m.get('forward_instructions_spread_pct') or 0:.3f}%  "
              f"emulation {m.get('emulation_wall_s') or 0:.0f} s")
    for name, err in (em.get("failed_models") or {}).items():
        print(f"{name}: failed under emulation: {err}", file=sys.stderr)
    if args.out:
        print(f"wrote {args.out} (emulated run: per-layer aarch64 instruction counts, "
              f"cpu {em['cpu']}, {em.get('vector')})", file=sys.stderr)
    return 1 if em.get("failed_models") else 0


def _exec(args) -> int:
    from costmodel.arm.runner import exec_in_guest
    argv = list(args.args)
    if argv and argv[0] == "--":
        argv = argv[1:]
    return exec_in_guest(argv, _env(args), cpu=args.cpu, qemu=args.qemu, torch_version=args.torch,
                         threads=args.threads, nice=args.nice)


def _collect(args) -> int:
    from costmodel.arm.runner import document_from_run_dir
    if not os.path.isdir(args.run_dir):
        raise envmod.SetupError(f"no run folder {args.run_dir} (they live under CACHE/runs/)")
    check_writable(args.out)
    doc = document_from_run_dir(args.run_dir, args.out)
    print(f"wrote {args.out}: {', '.join(m['name'] for m in doc['models'])}", file=sys.stderr)
    return 1 if doc["emulation"].get("failed_models") else 0


def _merge(args) -> int:
    from costmodel.arm.runner import merge_documents
    from costmodel.latency import timings
    docs = [timings.load(p) for p in args.timings]
    doc = timings.validate(merge_documents(docs))
    emit(json_text(doc), args.out, f"{len(doc['models'])} models from {len(docs)} runs")
    return 0


def _compare(args) -> int:
    from costmodel.arm.compare import compare_files
    emit(compare_files(args.timings, x86=args.x86), args.out)
    return 0


def _published(args) -> int:
    from costmodel.arm.published.rendering import run
    progress = (lambda m: print(f"  {m}", file=sys.stderr)) if args.verbose else None
    text = run(args.out, args.plot, args.json, progress=progress, fewshot=not args.no_fewshot)
    if not args.out:
        sys.stdout.write(text)
    else:
        print(f"wrote {args.out}" + (f" and {args.plot or os.path.splitext(args.out)[0] + '.png'}")
              + ("" if args.no_fewshot else " and the few-shot plots next to it")
              + (f" and {args.json}" if args.json else ""), file=sys.stderr)
    return 0


def _spec_profile(args) -> int:
    from costmodel.arm import spec_profiles as sp
    if args.list:
        for key in sp.DEVICES:
            print(f"{key:16s} {sp.describe(key)}")
        return 0
    if not args.device or not args.out:
        raise CLIError("give a DEVICE and --out FILE (or --list)")
    sp.save_spec_profile(args.device, args.out, args.variant)
    print(f"wrote {args.out}: {sp.describe(args.device)}, variant {args.variant} "
          f"({sp.VARIANT_LABELS[args.variant]})", file=sys.stderr)
    return 0


def register(sub) -> None:
    p = sub.add_parser("arm", help="aarch64 under QEMU: per-layer instruction counts (emulated)",
                       description="Run costmodel on an emulated aarch64 CPU (QEMU user mode) and "
                                   "count executed aarch64 instructions per layer.  Emulated time "
                                   "is never ARM latency; the counts are the result.")
    asub = p.add_subparsers(dest="arm_command", required=True)

    q = asub.add_parser("setup", help="build the aarch64 userland and the plugin (idempotent)",
                        description="Build, once, a Debian arm64 userland with an aarch64 CPU "
                                    "build of torch and the QEMU instruction-counting plugin, "
                                    "under the cache folder; steps already done are skipped.")
    _common(q, cpu=False)
    q.add_argument("--mirror", default=None, help="Debian mirror (default: this machine's apt's)")
    q.add_argument("--force", action="store_true", help="rebuild the rootfs and wheels")
    q.set_defaults(func=_setup)

    q = asub.add_parser("status", help="what the cache holds; exit 1 when not ready",
                        description="What the aarch64 cache holds (QEMU, userland, torch, plugin); "
                                    "exit status 1 when it is not ready.")
    _common(q, cpu=False)
    q.add_argument("--json", action="store_true", help="print the status as JSON")
    q.set_defaults(func=_status)

    q = asub.add_parser("run", help="emulate models, write an emulated timing file with "
                                    "per-layer instruction counts",
                        description="Replay every traced op of each MODEL in the emulated aarch64 "
                                    "CPU and write a costmodel-timings file marked emulated, with "
                                    "per-layer aarch64 instruction counts (emulated wall time is "
                                    "not ARM latency and is never reported as such).")
    q.add_argument("model", nargs="+", metavar="MODEL", help=MODEL_HELP + " (one or more)")
    q.add_argument("--input", "-i", default=None, metavar="SHAPE",
                   help="input shape NxCxHxW (default: each model's own, see `costmodel report "
                        "--help`)")
    q.add_argument("--out", "-o", default=None, help="timing file to write (JSON)")
    q.add_argument("--repeats", type=int, default=3, help="counted replays per op (default 3)")
    q.add_argument("--forward-repeats", type=int, default=2,
                   help="counted whole forward passes per model (default 2)")
    q.add_argument("--no-setup", action="store_true", help="fail instead of setting up")
    q.add_argument("--timeout", type=float, default=None, help="kill the emulator after S seconds")
    q.add_argument("--nice", type=int, default=10, help="niceness of the emulator (default 10)")
    _common(q)
    q.set_defaults(func=_run)

    q = asub.add_parser("exec", help="run any costmodel command on the emulated aarch64 "
                                     "(e.g. `costmodel arm exec -- bench tiny --out t.json`)",
                        description="Run a costmodel command inside the emulated aarch64 userland, "
                                    "e.g. `costmodel arm exec -- bench tiny --out t.json`.")
    q.add_argument("args", nargs=argparse.REMAINDER, help="costmodel arguments, after --")
    q.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS in the guest")
    q.add_argument("--nice", type=int, default=10,
                   help="niceness of the emulator (default %(default)s)")
    _common(q)
    q.set_defaults(func=_exec)

    q = asub.add_parser("collect", help="write the timing file of an earlier (or killed) run "
                                        "from its folder under CACHE/runs/",
                        description="Write the timing file of an earlier run (also one whose "
                                    "emulator was killed) from its folder under CACHE/runs/.")
    q.add_argument("run_dir", help="the run's folder, CACHE/runs/STAMP")
    q.add_argument("--out", "-o", required=True, help="timing file (JSON) to write")
    q.set_defaults(func=_collect)

    q = asub.add_parser("merge", help="one emulated timing file from several runs (same CPU, "
                                      "QEMU and torch)",
                        description="Merge emulated timing files of several runs (same CPU, QEMU "
                                    "and torch) into one, each model once.")
    q.add_argument("timings", nargs="+", help="emulated timing files from `costmodel arm run`")
    q.add_argument("--out", "-o", required=True, help="merged timing file (JSON) to write")
    q.set_defaults(func=_merge)

    q = asub.add_parser("published", help="published ARM speeds (ShuffleNetV1/V2, MobileNetV2) "
                                          "vs spec-profile and FLOPs-only predictions",
                        description="Compare the network speeds that ShuffleNetV2 (Snapdragon "
                                    "810), ShuffleNetV1 (Snapdragon 820) and MobileNetV2 (Pixel 1) "
                                    "published with costmodel's predictions from spec-based device "
                                    "profiles and with FLOPs-only predictions: ordering (Kendall "
                                    "tau-b, pairwise accuracy), ratio errors, MAPE.")
    q.add_argument("--out", "-o", default=None,
                   help="markdown report to write (default: print it); the plot goes next to it")
    q.add_argument("--plot", default=None, help="PNG path (default: OUT with .png)")
    q.add_argument("--json", default=None, help="also write the scores and predictions as JSON")
    q.add_argument("--verbose", "-v", action="store_true", help="print each network analysed")
    q.add_argument("--no-fewshot", action="store_true",
                   help="leave out the leave-one-out evaluation of few-shot profiles (k real "
                        "timings) and its per-device plots")
    q.set_defaults(func=_published)

    q = asub.add_parser("spec-profile", help="write a latency profile of a 2015-16 phone CPU "
                                             "built from public specifications",
                        description="Write a latency profile (costmodel-profile JSON) of a 2015-16 "
                                    "phone CPU built from its public specifications, optionally "
                                    "with per-kind rates from emulated instruction counts; "
                                    "`--list` lists the devices.")
    q.add_argument("device", nargs="?", metavar="DEVICE",
                   choices=LazyChoices("costmodel.arm.spec_profiles", "DEVICES"),
                   help="device key: %(choices)s")
    q.add_argument("--variant", default="emu", metavar="VARIANT",
                   choices=LazyChoices("costmodel.arm.spec_profiles", "VARIANTS"),
                   help="roofline: specs only; emu: + per-kind rates from emulated instruction "
                        "counts; emu_call: + per-call costs (default %(default)s)")
    q.add_argument("--out", "-o", default=None, help="profile JSON to write")
    q.add_argument("--list", action="store_true", help="list the devices and their peak figures")
    q.set_defaults(func=_spec_profile)

    q = asub.add_parser("compare", help="per-kind instructions per madd / per MAC vs x86 time",
                        description="Per op kind, aarch64 instructions per multiply-add and per "
                                    "MAC element from emulated timing files, against the x86 time "
                                    "share of the same models.")
    q.add_argument("timings", nargs="+", help="emulated timing files from `costmodel arm run`")
    q.add_argument("--x86", nargs="*", default=None,
                   help="x86 timing files (costmodel bench, 1 thread) of the same models")
    q.add_argument("--out", "-o", default=None, help="write markdown here")
    q.set_defaults(func=_compare)
