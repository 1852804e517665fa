"""Latency commands: ``calibrate``, ``predict``, ``bench``, ``validate``, ``validate-report``.

``costmodel calibrate --out profile.json``           micro-benchmark this CPU, save a profile
``costmodel calibrate --from-emulation --timings board.json --out p.json``  few-shot ARM profile
``costmodel predict MODEL --profile profile.json``   predicted end-to-end and per-op latency
``costmodel bench MODEL... --out timings.json``      measure (runs on any torch >= 2.1 machine)
``costmodel validate timings.json --profile P``      predictions against a timing file
``costmodel validate-report --out reports/latency``  the full validation report
"""
from __future__ import annotations

import os
import sys
import tempfile
import warnings

from costmodel.cli.common import CLIError, LazyDefault, add_clock_arg, add_format_args, \
    add_model_args, check_writable, emit, json_text, load_model, output_format, \
    parse_threads as _threads, prepare_out_dir, progress, save_measurements, value_of

PREDICT_FORMATS = ("table", "csv", "json")


def _load_profile(path):
    from costmodel.latency.profile import DeviceProfile, ProfileError
    if not os.path.exists(path):
        raise CLIError(f"profile not found: {path} (create one with `costmodel calibrate --out {path}`)")
    try:
        return DeviceProfile.load(path)
    except ProfileError as exc:
        raise CLIError(str(exc)) from None


# ---------------------------------------------------------------------------------------------
def _calibrate_from_emulation(args) -> int:
    """``calibrate --from-emulation --timings FILE``: a few-shot ARM profile, nothing timed."""
    from costmodel.arm import board_timings, fewshot_profile
    from costmodel.latency.profile import DeviceProfile
    if not args.timings:
        raise CLIError("--from-emulation needs --timings FILE (a board timing file: device, "
                       "threads, framework, timings [{model, input, ms}])")
    if args.refit:
        raise CLIError("--from-emulation and --refit do not combine")
    check_writable(args.out)
    board = board_timings.load(args.timings)
    prof = DeviceProfile.from_dict(fewshot_profile.calibrate(board), source="few-shot profile")
    prof.save(args.out)
    cal = prof.calibration
    params = ", ".join(f"{k} {v:.3g}" for k, v in cal["params"].items())
    print(f"few-shot profile of {board['device']} ({board['threads']} thread(s), "
          f"{board['framework']}): {cal['k']} timing(s), {cal['parameters_fitted']} parameter(s) "
          f"fitted ({', '.join(cal['free']) or 'none'}); {params}", file=sys.stderr)
    for n in cal["networks"]:
        print(f"  {n['model']:24s} {n['input']:14s} measured {n['ms']:9.2f} ms  fitted "
              f"{n['fitted_ms']:9.2f} ms", file=sys.stderr)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _calibrate(args) -> int:
    from costmodel.latency.calibrate import calibrate, networks_path, refit
    if args.from_emulation or args.timings:
        return _calibrate_from_emulation(args)
    if args.refit:
        if not args.profile:
            raise CLIError("--refit needs --profile: the profile those samples produced")
        check_writable(args.out)
        try:
            prof = refit(args.refit, _load_profile(args.profile))
        except ValueError as exc:
            raise CLIError(str(exc)) from None
        save_measurements(args.out, json_text(prof.to_dict()), "refitted profile")
        _print_fit(prof)
        print(f"refitted from {args.refit}, nothing timed", file=sys.stderr)
        return 0
    threads = _threads(args.threads)
    budget = value_of(args.budget)
    if args.quick:
        from costmodel.latency.calibrate import QUICK_BUDGET_S
        budget = min(budget, QUICK_BUDGET_S)
    if budget <= 0:
        raise CLIError("--budget must be positive (seconds)")
    samples = [args.samples, networks_path(args.samples)] if args.samples else []
    check_writable(args.out, *samples)
    tmp_dir = tempfile.mkdtemp(prefix="costmodel-calibration-") if samples else None
    tmp_samples = os.path.join(tmp_dir, os.path.basename(args.samples)) if samples else None
    try:
        prof = calibrate(budget_s=budget, threads=threads, seed=value_of(args.seed),
                         progress=not args.quiet, samples_out=tmp_samples, clock=args.clock,
                         method=args.method)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    try:
        save_measurements(args.out, json_text(prof.to_dict()), "calibrated profile")
    finally:  # the samples too, whatever became of the profile
        if samples:
            _move_samples([tmp_samples, networks_path(tmp_samples)], samples, tmp_dir)
    _print_fit(prof)
    print(f"calibration {prof.calibration.get('wall_s')} s", file=sys.stderr)
    return 0


def _move_samples(tmp_paths, paths, tmp_dir) -> None:
    """The sample CSVs calibrate wrote to ``tmp_dir``, written (atomically) where asked."""
    from costmodel import fileio
    for tmp, path in zip(tmp_paths, paths):
        if not os.path.isfile(tmp):
            continue
        try:
            fileio.write_bytes(path, fileio.read_bytes(tmp))
        except (fileio.OutputError, fileio.InputError) as exc:
            raise CLIError(f"{exc}; the samples are kept in {tmp_dir}") from None
        os.unlink(tmp)
        print(f"wrote {path}", file=sys.stderr)
    os.rmdir(tmp_dir)


def _print_fit(prof) -> None:
    for t in prof.thread_counts:
        s = prof.threads[t]["stats"]
        net = prof.threads[t]["network"]
        print(f"{t} thread(s): {s['op_samples']} op samples, {s['network_samples']} networks, "
              f"network model {'+'.join(net.get('features', []))}, LOO MAPE {net.get('cv_mape')}%",
              file=sys.stderr)


def _predict(args) -> int:
    from costmodel.latency.predict import predict_latency
    prof = _load_profile(args.profile)
    model, shape = load_model(args.model, args.input)
    try:
        pred = predict_latency(model, shape, prof, threads=args.threads, model_name=args.model)
    except ValueError as exc:  # a thread count the profile lacks
        raise CLIError(str(exc)) from None
    if args.drift:
        from costmodel.latency.drift import measure_drift
        try:
            d = measure_drift(prof, [pred.threads])[pred.threads]
        except ValueError as exc:
            raise CLIError(str(exc)) from None
        print(f"machine drift: the reference runs {d['factor']:.3f}x as long as at calibration "
              f"(spread {d['spread_pct']:.1f} points over {d['n']} fresh-process timings); "
              f"predictions below are rescaled by it", file=sys.stderr)
        pred = pred.rescaled(d["factor"])
    cols = ["name", "kind", "madds", "mac_bytes", "pred_isolated_ms", "pred_ms"]
    fmt = output_format(args.format, args.out, PREDICT_FORMATS)
    if fmt == "csv":
        text = pred.layers[cols].to_csv(index=False)
    elif fmt == "json":
        text = json_text(pred.to_dict())
    else:
        text = _prediction_text(args.model, shape, prof, pred, args.layers)
    emit(text, args.out, fmt)
    return 0


#: what the per-op columns of ``predict --layers`` mean
PREDICT_LEGEND = ("isolated ms: the op alone, as the profile predicts a replay of it on its real "
                  "shapes; in-net ms: its share of the end-to-end time, the profile's network "
                  "model applied to the isolated time; end-to-end = sum of in-net ms + the "
                  "network constant")


def _prediction_text(name: str, shape, prof, pred, layers: bool) -> str:
    from costmodel.tables import text_table, wrap_line

    total = max(pred.layers["pred_ms"].sum(), 1e-12)
    lines = [wrap_line(f"{name}  input {'x'.join(map(str, shape))}  {pred.threads} thread(s)  "
                       f"profile: {prof.machine.get('cpu_model')}, torch {prof.machine.get('torch')}"),
             wrap_line(f"predicted end-to-end {pred.total_ms:.3f} ms (sum of layers "
                       f"{pred.layers['pred_ms'].sum():.3f} ms + network constant "
                       f"{pred.network_const_ms:.3f} ms); baselines: FLOPs-proportional "
                       f"{pred.baselines['flops_ms']:.3f} ms, linear FLOPs+MAC "
                       f"{pred.baselines['flops_mac_ms']:.3f} ms", sep="; "), ""]
    by_kind = pred.layers.groupby("kind")["pred_ms"].agg(["count", "sum"]).sort_values(
        "sum", ascending=False)
    lines.append(text_table([["kind", "ops", "in-net ms", "share"]] + [
        [k, str(int(r["count"])), f"{r['sum']:.3f}", f"{100 * r['sum'] / total:.1f}%"]
        for k, r in by_kind.iterrows()], left=1))
    if layers:
        rows = [["#", "name", "kind", "isolated ms", "in-net ms"]]
        rows += [[str(i), r.name, r.kind, f"{r.pred_isolated_ms:.4f}", f"{r.pred_ms:.4f}"]
                 for i, r in enumerate(pred.layers.itertuples(index=False))]
        lines += ["", text_table(rows, left=3, wrap={1: 56})]
    lines += ["", wrap_line(PREDICT_LEGEND)]
    return "\n".join(lines) + "\n"


def _bench(args) -> int:
    from costmodel.latency import machine, timings
    from costmodel.latency.measure import measure_latency
    from costmodel.latency.quiet import CpuWatch, describe as describe_quiet
    threads = _threads(args.threads)
    check_writable(args.out)
    models = [(spec, *_bench_model(spec, args.input)) for spec in args.model]  # all, before timing
    results = []
    watch = CpuWatch().start()
    runs = progress(total=len(models) * len(threads), desc="bench", unit="run", quiet=args.quiet)
    for spec, model, shape in models:
        for t in threads:
            try:
                r = measure_latency(model, shape, threads=t, per_layer=not args.no_layers,
                                    min_time_s=args.time, layer_time_s=args.layer_time,
                                    model_name=spec, progress=not args.quiet, clock=args.clock)
            except ValueError as exc:
                raise CLIError(str(exc)) from None
            results.append(r)
            runs.update(1)
            gap = f", layer sum {r.layer_sum_ms:.3f} ms (gap {r.gap_pct:+.1f}%)" if not args.no_layers else ""
            runs.write(f"{spec} {t} thread(s): {r.total_ms:.3f} ms (p10-p90 "
                       f"{r.total_spread['p10']:.3f}-{r.total_spread['p90']:.3f}, repeat spread "
                       f"{r.total_spread['repeat_spread_pct']:.1f}%){gap}", file=sys.stderr)
    runs.close()
    doc = timings.make_document(results, machine.describe(threads[0] if len(threads) == 1 else None))
    doc["quiet"] = watch.stop()
    print(describe_quiet(doc["quiet"]), file=sys.stderr)
    save_measurements(args.out, json_text(timings.validate(doc)), "measurements")
    return 0


def _bench_model(spec: str, input_shape):
    """A model spec (:mod:`costmodel.sources`), or ``space:validation:N`` /
    ``space:calibration:N``, a design-space network of the latency validation."""
    if not spec.startswith("space:"):
        return load_model(spec, input_shape)
    from costmodel.analysis import parse_shape
    from costmodel.latency.named import resolve_model
    try:
        model, shape = resolve_model(spec)
    except KeyError as exc:
        raise CLIError(str(exc)) from None
    return model, parse_shape(input_shape) if input_shape else shape


def _validate(args) -> int:
    from costmodel.latency import timings
    from costmodel.latency.machine import same_machine
    from costmodel.latency.validate import doc_summary, evaluate, kind_stats
    check_writable(args.out)
    prof = _load_profile(args.profile)
    if not os.path.exists(args.timings):
        raise CLIError(f"timing file not found: {args.timings}")
    try:
        doc = timings.load(args.timings)
    except timings.TimingFileError as exc:
        raise CLIError(str(exc)) from None
    if timings.is_emulated(doc):
        raise CLIError(f"{args.timings} is an emulated run ({timings.is_emulated(doc)}): its times are "
                       "the emulator's wall time, not the emulated CPU's latency, so they cannot "
                       "validate a latency profile; compare its instruction counts with "
                       "`costmodel arm compare` instead")
    diff = same_machine(doc["machine"], prof.machine)
    if diff:
        warnings.warn(f"the timing file and the profile come from different machines/builds "
                      f"(differ in {', '.join(diff)}): timing file "
                      f"{doc['machine'].get('cpu_model')} torch {doc['machine'].get('torch')}, profile "
                      f"{prof.machine.get('cpu_model')} torch {prof.machine.get('torch')}")
    from costmodel.latency.quiet import is_busy
    quiet = doc.get("quiet") if isinstance(doc.get("quiet"), dict) else None
    if is_busy(quiet):
        warnings.warn(f"other processes used {quiet['other_cpu_pct']:.0f}% of a core while "
                      f"{args.timings} was measured: its timings are disturbed")
    models, layers, skipped = evaluate(doc, prof, progress=not args.quiet)
    sys.stdout.write(doc_summary(models))
    if len(layers) and not args.no_layers:
        ks = kind_stats(layers)
        sys.stdout.write("\nper-layer (isolated prediction vs replay):\n")
        for r in ks.itertuples(index=False):
            sys.stdout.write(f"  {r.threads} thr {r.kind:16s} n {r.n:5d}  MAPE {r.mape:6.1f}%  "
                             f"within +-10% {r.within10:5.1f}%  share {r.time_share:5.1f}%\n")
    for s in skipped:
        print(f"skipped: {s}", file=sys.stderr)
    if args.out:
        emit(models.to_csv(index=False), args.out, "per-model comparison, CSV")
    return 0 if len(models) else 2


def _validate_report(args) -> int:
    from costmodel.latency.validate import render_report, validation_report
    prepare_out_dir(args.out)
    if args.set == "foreign":
        return _foreign_report(args)
    if args.render:
        try:
            text = render_report(args.out)
        except (FileNotFoundError, ValueError) as exc:  # timing-file and profile errors too
            raise CLIError(str(exc)) from None
        print(f"wrote {os.path.join(args.out, 'README.md')} (rendered, nothing timed)", file=sys.stderr)
        return 0 if text else 2
    threads = _threads(args.threads)
    prof = _load_profile(args.profile) if args.profile else None
    zoo_names = None
    if args.zoo is not None:
        from costmodel import zoo
        if args.zoo.isdigit():
            zoo_names = zoo.names()[:: max(1, len(zoo.names()) // max(int(args.zoo), 1))][:int(args.zoo)]
        else:
            zoo_names = [n for n in args.zoo.split(",") if n]
            for n in zoo_names:
                try:
                    zoo.entry(n)
                except zoo.UnknownModelError as exc:
                    raise CLIError(str(exc)) from None
    command = "costmodel " + " ".join(sys.argv[1:]) if sys.argv and sys.argv[0].endswith("costmodel") \
        else "costmodel validate-report --out " + args.out
    if args.clock == "cpu" and threads != [1]:
        raise CLIError("--clock cpu needs --threads 1")
    text = validation_report(args.out, prof, args.budget, args.networks, zoo_names, threads,
                             progress=not args.quiet, command=command, clock=args.clock)
    floors = [l for l in text.splitlines() if l.startswith("- ") and "held-out" in l]
    for l in floors:
        print(l, file=sys.stderr)
    print(f"wrote {os.path.join(args.out, 'README.md')}", file=sys.stderr)
    return 0


def _foreign_report(args) -> int:
    from costmodel.latency import foreign
    if args.render:
        try:
            foreign.render(args.out)
        except (FileNotFoundError, ValueError) as exc:
            raise CLIError(str(exc)) from None
        print(f"wrote {os.path.join(args.out, 'README.md')} (rendered, nothing timed)", file=sys.stderr)
        return 0
    if args.retest_every < 0:
        raise CLIError(f"--retest-every must be 0 (none) or positive, got {args.retest_every}")
    threads = _threads(args.threads)
    prof = _load_profile(args.profile) if args.profile else None
    command = "costmodel validate-report --out " + args.out + (
        f" --profile {args.profile}" if args.profile else "")
    text = foreign.run(args.out, prof, args.budget, threads, progress=not args.quiet,
                       command=command, clock=args.clock, retest_every=args.retest_every)
    for line in text.splitlines():
        if line.startswith("| ") and "costmodel (drift-corrected)" in line:
            print(line, file=sys.stderr)
    print(f"wrote {os.path.join(args.out, 'README.md')}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------------------------
def register(sub) -> None:
    p = sub.add_parser("calibrate", help="micro-benchmark this CPU and fit a latency profile",
                       description="Benchmark sampled op configurations and design-space networks "
                                   "and fit a per-kind latency predictor (saved as JSON).")
    p.add_argument("--out", "-o", required=True, help="profile JSON to write")
    p.add_argument("--budget", type=float,
                   default=LazyDefault("costmodel.latency.calibrate", "DEFAULT_BUDGET_S"),
                   help="time budget in seconds, fitting included (default %(default)s)")
    p.add_argument("--threads", nargs="+", default=["1", "2"], help="thread counts (default 1 2)")
    p.add_argument("--seed", type=int,
                   default=LazyDefault("costmodel.latency.space", "CALIBRATION_SEED"),
                   help="seed of the sampled op configurations and networks (default %(default)s; "
                        "the same seed samples the same calibration set)")
    p.add_argument("--samples", default=None, help="also write the raw op samples as CSV")
    p.add_argument("--method", choices=("in-network", "replay"), default="in-network",
                   help="in-network (default): networks of 15 families, every op timed inside the "
                        "real forward pass, the drift reference timed between them; replay: the "
                        "first method (two-family networks, ops replayed alone)")
    p.add_argument("--quick", action="store_true",
                   help="a first look: a 3-minute budget (fewer networks, looser fit)")
    add_clock_arg(p)
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.add_argument("--refit", default=None, metavar="SAMPLES.csv",
                   help="time nothing: fit again from the samples an earlier --samples run saved "
                        "(with its _networks.csv); needs --profile")
    p.add_argument("--profile", "-p", default=None,
                   help="with --refit: the profile those samples produced (machine, record)")
    p.add_argument("--from-emulation", action="store_true",
                   help="time nothing: an ARM profile from the emulated aarch64 instruction "
                        "counts (reports/arm/arm_neoverse-n1_*.json) corrected with the real "
                        "timings of --timings (few-shot; see costmodel.arm.fewshot)")
    p.add_argument("--timings", default=None, metavar="BOARD.json",
                   help="with --from-emulation: the board's timings, JSON {device, threads, "
                        "framework, timings: [{model, input: [H, W], ms}]} "
                        "(costmodel.arm.board_timings)")
    p.set_defaults(func=_calibrate)

    p = sub.add_parser("predict", help="predicted latency of a model from a profile",
                       description="Predict MODEL's end-to-end latency and each op's share of it "
                                   "from a device profile (`costmodel calibrate`), with the "
                                   "FLOPs-proportional and FLOPs+MAC baselines.  Nothing runs: "
                                   "the model is traced on meta tensors.  " + PREDICT_LEGEND + ".")
    add_model_args(p)
    p.add_argument("--profile", "-p", required=True, help="profile JSON from `costmodel calibrate`")
    p.add_argument("--threads", "-t", type=int, default=None,
                   help="thread count (default: the profile's smallest)")
    p.add_argument("--layers", "-l", action="store_true", help="list every op")
    p.add_argument("--drift", action="store_true",
                   help="time the profile's drift reference now (a few seconds, fresh processes) "
                        "and rescale the prediction to the machine's current speed")
    add_format_args(p, PREDICT_FORMATS)
    p.set_defaults(func=_predict)

    p = sub.add_parser("bench", help="measure end-to-end and per-layer latency, write a timing file",
                       description="Measure models on this machine (any torch >= 2.1, ARM boards "
                                   "included) and write a portable costmodel-timings JSON file.")
    add_model_args(p, many=True)
    p.add_argument("--out", "-o", required=True, help="timing file (JSON) to write")
    p.add_argument("--threads", nargs="+", default=["1", "2"], help="thread counts (default 1 2)")
    p.add_argument("--time", type=float, default=1.0, help="seconds of end-to-end runs (default 1)")
    p.add_argument("--layer-time", type=float, default=0.02,
                   help="seconds of replay per distinct op (default 0.02)")
    p.add_argument("--no-layers", action="store_true", help="end-to-end only")
    add_clock_arg(p)
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    p.set_defaults(func=_bench)

    p = sub.add_parser("validate", help="compare a profile's predictions with a timing file",
                       description="Predict every model of a timing file (`costmodel bench`) with "
                                   "a profile and compare: per model, and per op kind (isolated "
                                   "predictions against the measured replays).")
    p.add_argument("timings", help="timing file from `costmodel bench`")
    p.add_argument("--profile", "-p", required=True,
                   help="device profile JSON (`costmodel calibrate`) whose predictions to check")
    p.add_argument("--no-layers", action="store_true", help="skip the per-layer table")
    p.add_argument("--out", "-o", default=None, help="write the per-model comparison as CSV")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=_validate)

    p = sub.add_parser("validate-report", help="regenerate the latency validation report",
                       description="Calibrate (unless --profile), measure every zoo model and N "
                                   "held-out design-space networks at each thread count, and write "
                                   "README.md, CSVs, scatter.png, timings.json into --out.")
    p.add_argument("--out", "-o", default="reports/latency",
                   help="output folder (created if missing; default %(default)s)")
    p.add_argument("--profile", "-p", default=None, help="use this profile instead of calibrating")
    p.add_argument("--budget", type=float, default=None,
                   help="calibration budget in seconds (default: calibrate's, see `costmodel "
                        "calibrate --help`)")
    p.add_argument("--networks", type=int, default=100, help="held-out sampled networks (default 100)")
    p.add_argument("--zoo", default=None,
                   help="comma-separated zoo names, or a number N for N spread-out models "
                        "(default: every zoo model)")
    p.add_argument("--threads", nargs="+", default=["1", "2"],
                   help="thread counts to measure at (default 1 2)")
    add_clock_arg(p)
    p.add_argument("--render", action="store_true",
                   help="time nothing: rewrite README, tables and plots from the files an earlier "
                        "run left in --out")
    p.add_argument("--set", choices=("foreign", "in-space"), default="foreign",
                   help="foreign (default): the frozen foreign set (torchvision and timm CNNs), the "
                        "zoo and held-out networks of the calibration families, with the drift "
                        "reference; in-space: the first report (zoo + --networks held-out networks "
                        "of the first design space, per-layer replays)")
    p.add_argument("--retest-every", type=int, default=8, metavar="N",
                   help="foreign set: measure every N-th model of each thread count a second time "
                        "at the end, to report how often the harness agrees with itself (0: none; "
                        "default %(default)s)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    p.set_defaults(func=_validate_report)

