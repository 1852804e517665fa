"""``costmodel plot accuracy`` (published top-1 of the zoo against costmodel's cost), ``plot
torchvision`` (the same with torchvision's weights' top-1), ``plot layers MODEL`` (per-layer
breakdown), ``plot latency-cost`` (measured latency against multiply-adds and MAC) and ``plot
arm-x86`` (aarch64 instructions against x86 time per op kind)."""
from __future__ import annotations

import os
import sys
from typing import Dict, List, Mapping

from costmodel.cli.common import INPUT_HELP, MODEL_HELP, CLIError, add_model_args, \
    check_writable, emit, load_model, progress


def _say_written(paths) -> None:
    for p in paths:
        print(f"wrote {p}", file=sys.stderr)


def _need_files(*paths) -> None:
    for p in paths:
        if not os.path.isfile(p):
            raise CLIError(f"timing file not found: {p}")


def _user_points(args, key: str, latency: Mapping[str, Mapping[str, float]]) -> List:
    from costmodel.plots import accuracy
    from costmodel.plots import latency as latency_data

    specs, top1s, labels = args.add or [], args.top1 or [], args.add_name or []
    if len(specs) != len(top1s):
        raise CLIError(f"give one --top1 per --add ({len(specs)} --add, {len(top1s)} --top1)")
    if labels and len(labels) != len(specs):
        raise CLIError(f"give one --add-name per --add or none ({len(labels)} for {len(specs)})")
    points = []
    for k, (spec, top1) in enumerate(zip(specs, top1s)):
        if not 0 < top1 <= 100:
            raise CLIError(f"--top1 must be a percentage in (0, 100], got {top1}")
        model, shape = load_model(spec, args.add_input)
        name = labels[k] if labels else spec.rsplit(":", 1)[-1]
        up = accuracy.UserPoint.from_model(model, top1, shape, name)
        if key in accuracy.LATENCY_METRICS:
            given = latency.get(key, {})
            if name in given:
                up.x[key] = given[name]
            else:
                try:
                    th = accuracy.METRICS[key].threads
                    up.x[key] = (latency_data.measured_ms(model, shape, args.quick, th)
                                 if key.startswith("latency_measured") else
                                 latency_data.predicted_ms(
                                     model, shape,
                                     latency_data.default_profile(args.quick, args.profile),
                                     up.report, th))
                except latency_data.LatencyUnavailable as exc:
                    raise CLIError(f"cannot time {name} for {key}: {exc}; put a row for it in "
                                   f"--timings") from None
        points.append(up)
    return points


def _accuracy(args) -> int:
    import pandas as pd

    from costmodel.plots import accuracy
    from costmodel.plots import latency as latency_data
    from costmodel.zoo import registry
    from costmodel.zoo.table import zoo_report

    try:
        m = accuracy.metric(args.x)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    outs = args.out or [f"accuracy_vs_{m.key}.png", f"accuracy_vs_{m.key}.svg"]
    check_writable(*outs, args.data)
    names = args.models
    if names:
        for n in names:
            registry.entry(n)  # an unknown name: UnknownModelError, with close matches
    if args.families:
        fams = set(args.families)
        names = [n for n in (names or registry.names()) if registry.entry(n).family in fams]
        if not names:
            raise CLIError(f"no zoo model in families {', '.join(sorted(fams))}")
    if m.key not in accuracy.LATENCY_METRICS:  # the slow part, cached for the plot
        costed = [n for n in names or registry.names() if registry.entry(n).published.top1]
        for name in progress(costed, desc="analyzing the zoo", unit="model"):
            zoo_report(name)
    latency: Dict[str, Dict[str, float]] = {}
    x_note = None
    if args.timings:
        try:
            latency = latency_data.read_timings(args.timings)
            if args.timings.lower().endswith(".json") and m.key.startswith("latency_measured"):
                th = m.threads or 1  # a timing file: the metric's own thread count
                latency[m.key] = latency_data.read_timings(args.timings, th)["latency_measured"]
                x_note = latency_data.timings_note(args.timings, th)
        except (OSError, ValueError, KeyError, pd.errors.ParserError) as exc:
            raise CLIError(f"cannot read timings {args.timings}: {exc}") from None
    x_values = None
    if m.key in accuracy.LATENCY_METRICS:
        x_values = latency.get(m.key)
        if not x_values:
            try:
                profile = (latency_data.default_profile(args.quick, args.profile)
                           if m.key.startswith("latency_predicted") else None)
                if profile is not None:
                    x_note = latency_data.profile_note(profile, args.profile, m.threads)
                what = "predicting" if profile is not None else "measuring"
                print(f"{what} the latency of the zoo (a while; --timings FILE skips it)",
                      file=sys.stderr)
                x_values = latency_data.zoo_latency(m.key, names, args.quick, profile)
            except latency_data.LatencyUnavailable as exc:
                raise CLIError(f"{m.key} needs timings: {exc}; or pass --timings FILE (CSV with "
                               f"name,measured_ms,predicted_ms, or a `costmodel bench` JSON)"
                               ) from None
    extra = _user_points(args, m.key, latency)
    try:
        res = accuracy.plot_accuracy(m.key, outs, names, extra, x_values, args.title, args.data,
                                     x_note)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    d = res.data
    print(f"accuracy vs {m.key}: {int((d.origin == 'zoo').sum())} zoo models"
          + (f" + {int((d.origin == 'user').sum())} of yours" if (d.origin == "user").any() else ""))
    front = d[d.on_pareto].sort_values("x")
    print("Pareto frontier: " + " -> ".join(f"{r.name} ({r.x:.4g}{m.unit}, {r.y:g}%)"
                                            for r in front.itertuples()))
    for r in d[d.origin == "user"].itertuples():
        print(f"your model {r.name}: {r.x:.4g}{m.unit}, top-1 {r.y:g}%"
              + (" - on the Pareto frontier" if r.on_pareto else " - below the Pareto frontier"))
    if res.skipped:
        print("skipped: " + ", ".join(f"{n} ({why})" for n, why in res.skipped))
    _say_written(res.paths)
    return 0


def _layers(args) -> int:
    import html

    from costmodel.analysis import analyze
    from costmodel.plots import layer_bars

    ext = os.path.splitext(args.out)[1].lower()
    if ext not in (".svg", ".html", ".htm", ".png", ".pdf"):
        raise CLIError(f"--out must end in .png, .pdf, .svg or .html, got {args.out}")
    if ext in (".svg", ".html", ".htm") and args.profile:
        raise CLIError("--profile (predicted time per layer) needs a .png or .pdf --out")
    check_writable(args.out, args.data)
    model, shape = load_model(args.model, args.input)
    rep = analyze(model, shape)
    rep.model_name = args.model
    if ext in (".png", ".pdf"):
        from costmodel.plots.layer_breakdown import save_layer_breakdown

        time_col, label = None, "predicted time"
        if args.profile:
            from costmodel.latency import ProfileError, add_predicted_columns

            try:
                add_predicted_columns(rep, args.profile, args.threads)
            except (OSError, ValueError, ProfileError) as exc:
                raise CLIError(f"cannot predict with {args.profile}: {exc}") from None
            time_col = "pred_ms"
            label = f"predicted time, {args.threads or 1} thread(s)"
        paths, _ = save_layer_breakdown(
            rep.layers, args.out, f"{args.model}: per-layer breakdown at input "
            f"{'x'.join(map(str, shape))}", time_col, label, args.data)
        _say_written(paths)
        return 0
    if ext == ".svg":
        text = layer_bars.layer_bars_svg(rep.layers)
    else:
        text = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>costmodel: "
                f"{html.escape(args.model)}</title></head><body style='font-family:sans-serif'>"
                f"<h1>{html.escape(args.model)}</h1>" + layer_bars.layer_bars_section(rep.layers)
                + "</body></html>\n")
    emit(text, args.out)
    return 0


def _torchvision(args) -> int:
    from costmodel.plots.torchvision_accuracy import plot_torchvision_accuracy, ratio_summary
    from costmodel.sources import ModelSourceError, torchvision_classification

    check_writable(*args.out, args.data)
    try:
        names = args.models or torchvision_classification()
    except ImportError as exc:
        raise CLIError(f"torchvision is needed: {exc}") from None
    bar = progress(total=len(names), desc="analyzing torchvision", unit="model")
    try:
        res = plot_torchvision_accuracy(args.out, args.data, names, on_model=lambda _: bar.update(1))
    except (ValueError, ModelSourceError) as exc:
        raise CLIError(str(exc)) from None
    finally:
        bar.close()
    print(f"torchvision: {len(res.tv)} models; costmodel conv+linear+attention madds / torchvision "
          f"_ops: {ratio_summary(res.tv)}; params / num_params: "
          f"{ratio_summary(res.tv, 'params_ratio')}")
    if res.skipped:
        print("left out: " + ", ".join(f"{n} ({why})" for n, why in res.skipped))
    _say_written(res.paths)
    return 0


def _latency_cost(args) -> int:
    from costmodel.plots.latency_vs_cost import plot_latency_vs_cost

    check_writable(*args.out, args.data)
    _need_files(args.timings)
    try:
        _, rho, _, paths = plot_latency_vs_cost(args.timings, args.out, args.data,
                                                threads=args.threads)
    except (OSError, ValueError, KeyError) as exc:
        raise CLIError(f"cannot plot {args.timings}: {exc}") from None
    for t, r in sorted(rho.items()):
        print(f"{t} thread(s): Spearman rho of measured latency with multiply-adds "
              f"{r['madds_M']:.3f}, with MAC {r['mac_M']:.3f}")
    _say_written(paths)
    return 0


def _arm_x86(args) -> int:
    from costmodel.latency.timings import TimingFileError
    from costmodel.plots.arm_vs_x86 import plot_arm_vs_x86

    check_writable(*args.out, args.data)
    _need_files(*args.arm, *args.x86)
    try:
        _, summary, _, paths = plot_arm_vs_x86(args.arm, args.x86, args.out, args.data)
    except (TimingFileError, ValueError, KeyError) as exc:
        raise CLIError(str(exc)) from None
    for r in summary.itertuples():
        print(f"{r.kind}: {r.layers} layers, {r.instr_per_x86_ns:.1f} aarch64 instructions per "
              f"x86 ns, Spearman {r.spearman:.2f}")
    _say_written(paths)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "plot", help="accuracy-versus-cost plots, per-layer breakdowns, latency and ARM plots",
        description="`plot accuracy`: published top-1 of the zoo against costmodel's cost; "
                    "`plot torchvision`: the same with torchvision's weights' top-1; `plot "
                    "layers MODEL`: each layer's share of a model's multiply-adds and MAC; "
                    "`plot latency-cost`: measured latency against multiply-adds and MAC; `plot "
                    "arm-x86`: emulated aarch64 instructions against x86 time per op kind.")
    sub = p.add_subparsers(dest="plot", required=True)
    a = sub.add_parser(
        "accuracy", help="published top-1 of the zoo against costmodel's cost (log x)",
        description="Published ImageNet top-1 of every zoo model against costmodel's own cost "
                    "(log x), one colour/marker per family, Pareto frontier dashed. Add your own "
                    "model with --add path/file.py:factory --top1 71.3.")
    a.add_argument("--x", default="madds",
                   help="madds (default) | params | mac | latency-predicted | latency-measured "
                        "(1 thread) | latency-predicted-2t | latency-measured-2t (2 threads)")
    a.add_argument("--out", "-o", nargs="+", default=None,
                   help="image file(s), format from the suffix (.png/.svg/.pdf); default "
                        "accuracy_vs_<x>.png and .svg")
    a.add_argument("--data", default=None, help="also write the plotted points to this CSV")
    a.add_argument("--add", action="append", metavar="MODEL",
                   help="your model (repeatable): " + MODEL_HELP)
    a.add_argument("--top1", action="append", type=float, metavar="PCT",
                   help="its ImageNet top-1 in percent (one per --add)")
    a.add_argument("--add-name", action="append", metavar="LABEL", help="its label (one per --add)")
    a.add_argument("--add-input", default=None, metavar="SHAPE",
                   help="input shape of added models: " + INPUT_HELP)
    a.add_argument("--models", nargs="+", default=None, help="only these zoo models")
    a.add_argument("--families", nargs="+", default=None, help="only these zoo families")
    a.add_argument("--timings", default=None,
                   help="per-model ms for the latency x axes: a CSV (name,measured_ms,"
                        "predicted_ms) or a timing JSON from `costmodel bench`")
    a.add_argument("--profile", default=None, help="device profile file for latency-predicted")
    a.add_argument("--quick", action="store_true", help="tiny timing budgets for latency axes")
    a.add_argument("--title", default=None, help="plot title (default: from --x)")
    a.set_defaults(func=_accuracy)
    lp = sub.add_parser(
        "layers", help="per-layer madds / MAC breakdown of one model (PNG, PDF, SVG or HTML)",
        description="Each layer's multiply-adds and memory access cost (MAC), coloured by op "
                    "kind, and the shares of each op kind. .png / .pdf: a matplotlib figure "
                    "(--profile adds predicted time per layer); .svg / .html: the share bars of "
                    "the HTML report. The format follows --out's suffix.")
    add_model_args(lp)
    lp.add_argument("--out", "-o", required=True, help="output .png, .pdf, .svg or .html")
    lp.add_argument("--data", default=None, help="(.png / .pdf) also write the per-layer rows "
                                                 "to this CSV")
    lp.add_argument("--profile", default=None,
                    help="(.png / .pdf) device profile: add a panel of predicted time per layer")
    lp.add_argument("--threads", type=int, default=None,
                    help="thread count of the predicted time (default: the profile's smallest)")
    lp.set_defaults(func=_layers)
    tv = sub.add_parser(
        "torchvision", help="top-1 of torchvision's weights against costmodel's multiply-adds",
        description="Every torchvision classifier analyzed on meta tensors at its DEFAULT "
                    "weights' crop size, plotted with those weights' ImageNet acc (torchvision's "
                    "weights metadata, no download) beside the zoo's published top-1; --data "
                    "writes costmodel's multiply-adds and params beside torchvision's _ops and "
                    "num_params.")
    tv.add_argument("--out", "-o", nargs="+", default=["accuracy_vs_madds_torchvision.png"],
                    help="image file(s) (.png/.svg/.pdf)")
    tv.add_argument("--data", default=None, help="CSV of the torchvision models' figures")
    tv.add_argument("--models", nargs="+", default=None, help="only these torchvision models")
    tv.set_defaults(func=_torchvision)
    lc = sub.add_parser(
        "latency-cost", help="measured latency against multiply-adds and against MAC",
        description="Measured end-to-end latency of the zoo models in a timing file against "
                    "costmodel's multiply-adds (left) and MAC (right), one row per thread count, "
                    "Spearman rank correlation in each panel's title. Nothing is timed.")
    lc.add_argument("--timings", default=os.path.join("reports", "latency", "timings.json"),
                    help="costmodel-timings JSON (default reports/latency/timings.json)")
    lc.add_argument("--threads", type=int, nargs="+", default=None,
                    help="only these thread counts (default: every one in the file)")
    lc.add_argument("--out", "-o", nargs="+", default=["latency_vs_madds_mac.png"],
                    help="image file(s) (.png/.svg/.pdf)")
    lc.add_argument("--data", default=None, help="CSV of the plotted points")
    lc.set_defaults(func=_latency_cost)
    ax = sub.add_parser(
        "arm-x86", help="emulated aarch64 instructions against x86 time, per op kind",
        description="One log-log panel per op kind: each distinct layer's aarch64 instruction "
                    "count (`costmodel arm run` files) against its 1-thread x86 replay time "
                    "(`costmodel bench` files or a validation run's timings.json).")
    ax.add_argument("--arm", nargs="+", required=True, help="emulated timing files (arm run)")
    ax.add_argument("--x86", nargs="+", required=True,
                    help="x86 timing files with per-layer times (1 thread)")
    ax.add_argument("--out", "-o", nargs="+", default=["arm_instructions_vs_x86.png"],
                    help="image file(s) (.png/.svg/.pdf)")
    ax.add_argument("--data", default=None, help="CSV of the joined layers")
    ax.set_defaults(func=_arm_x86)
