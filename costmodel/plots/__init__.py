"""Plots, one module per thing drawn:

:mod:`~costmodel.plots.accuracy`
    published top-1 of the zoo against costmodel's multiply-adds, params, MAC or latency;
:mod:`~costmodel.plots.latency`
    the per-model milliseconds of the latency axes (predicted, measured, or read from a file);
:mod:`~costmodel.plots.torchvision_accuracy`
    torchvision's weights' top-1 against costmodel's multiply-adds, beside the zoo's papers;
:mod:`~costmodel.plots.layer_bars`
    per-layer share bars of one model (inline SVG: the HTML report, ``costmodel plot layers``);
:mod:`~costmodel.plots.layer_breakdown`
    per-layer breakdown of one model as a picture (PNG / PDF, one colour per op kind);
:mod:`~costmodel.plots.latency_vs_cost`
    measured latency against multiply-adds and against MAC, with rank correlations;
:mod:`~costmodel.plots.arm_vs_x86`
    emulated aarch64 instructions against x86 time, per op kind;
:mod:`~costmodel.plots.styles`, :mod:`~costmodel.plots.labels`, :mod:`~costmodel.plots.axes`
    colours and markers per family / op kind / set, non-overlapping point labels, log limits;
:mod:`~costmodel.plots.savefig`
    making and writing a matplotlib figure.

The zoo summary table is :mod:`costmodel.zoo.table`.  The names the former single module
``costmodel.plots`` offered (``plots.plot_accuracy``, ``plots.UserPoint``, ``plots.zoo_table``,
...) still resolve, each imported from its module on first use.
"""
#: public name -> the module that defines it
_HOME = {
    **dict.fromkeys(("Metric", "METRICS", "LATENCY_METRICS", "metric", "UserPoint", "pareto_mask",
                     "accuracy_points", "PlotResult", "plot_accuracy", "plot_all_accuracy"),
                    "accuracy"),
    **dict.fromkeys(("LatencyUnavailable", "load_profile", "default_profile", "calibrate_profile",
                     "predict_result", "predicted_ms", "measured_ms", "zoo_latency",
                     "read_timings"), "latency"),
    **dict.fromkeys(("TIME_COLUMNS", "layer_bars_svg", "layer_bars_section"), "layer_bars"),
    **dict.fromkeys(("CONV_LINEAR_KINDS", "zoo_report", "conv_linear_madds", "zoo_costs",
                     "zoo_table", "zoo_table_markdown"), "table"),
}


def __getattr__(name):
    home = _HOME.get(name)
    if home == "accuracy":
        from costmodel.plots import accuracy as module
    elif home == "latency":
        from costmodel.plots import latency as module
    elif home == "layer_bars":
        from costmodel.plots import layer_bars as module
    elif home == "table":
        from costmodel.zoo import table as module
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(module, name)


def __dir__():
    return sorted(set(globals()) | set(_HOME))
