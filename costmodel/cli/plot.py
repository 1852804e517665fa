"""``costmodel plot accuracy`` (published top-1 of the zoo against costmodel's cost) and
``costmodel plot layers MODEL`` (per-layer share bars)."""
from __future__ import annotations

import os
import sys
from typing import Dict, List, Mapping

from costmodel.cli.common import INPUT_HELP, MODEL_HELP, CLIError, add_model_args, \
    check_writable, emit, load_model, progress


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
                    up.x[key] = (latency_data.measured_ms(model, shape, args.quick)
                                 if key == "latency_measured" else
                                 latency_data.predicted_ms(model, shape,
                                                    latency_data.default_profile(args.quick, args.profile),
                                                    up.report))
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
    if args.timings:
        try:
            latency = latency_data.read_timings(args.timings)
        except (OSError, ValueError, KeyError, pd.errors.ParserError) as exc:
            raise CLIError(f"cannot read timings {args.timings}: {exc}") from None
    x_values = None
    if m.key in accuracy.LATENCY_METRICS:
        x_values = latency.get(m.key)
        if not x_values:
            try:
                profile = (latency_data.default_profile(args.quick, args.profile)
                           if m.key == "latency_predicted" else None)
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
        res = accuracy.plot_accuracy(m.key, outs, names, extra, x_values, args.title, args.data)
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
    for p in res.paths:
        print(f"wrote {p}", file=sys.stderr)
    return 0


def _layers(args) -> int:
    import html

    from costmodel.analysis import analyze
    from costmodel.plots import layer_bars

    ext = os.path.splitext(args.out)[1].lower()
    if ext not in (".svg", ".html", ".htm"):
        raise CLIError(f"--out must end in .svg or .html, got {args.out}")
    model, shape = load_model(args.model, args.input)
    rep = analyze(model, shape)
    rep.model_name = args.model
    if ext == ".svg":
        text = layer_bars.layer_bars_svg(rep.layers)
    else:
        text = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>costmodel: "
                f"{html.escape(args.model)}</title></head><body style='font-family:sans-serif'>"
                f"<h1>{html.escape(args.model)}</h1>" + layer_bars.layer_bars_section(rep.layers)
                + "</body></html>\n")
    emit(text, args.out)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("plot", help="accuracy-versus-cost plots and per-layer bars",
                              description="`plot accuracy`: published top-1 of the zoo against "
                                          "costmodel's cost; `plot layers MODEL`: each layer's "
                                          "share of a model's multiply-adds and MAC.")
    sub = p.add_subparsers(dest="plot", required=True)
    a = sub.add_parser(
        "accuracy", help="published top-1 of the zoo against costmodel's cost (log x)",
        description="Published ImageNet top-1 of every zoo model against costmodel's own cost "
                    "(log x), one colour/marker per family, Pareto frontier dashed. Add your own "
                    "model with --add path/file.py:factory --top1 71.3.")
    a.add_argument("--x", default="madds",
                   help="madds (default) | params | mac | latency-predicted | latency-measured")
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
    lp = sub.add_parser("layers", help="per-layer madds / MAC share bars of one model (SVG/HTML)",
                        description="Bars of each layer's share of MODEL's multiply-adds and memory "
                                    "access cost (MAC), and the shares of each op kind, as an SVG "
                                    "file or an HTML page (the format from --out's suffix).")
    add_model_args(lp)
    lp.add_argument("--out", "-o", required=True, help="output .svg or .html")
    lp.set_defaults(func=_layers)
