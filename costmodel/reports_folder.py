"""Regenerate the whole ``reports/`` folder in one go (``costmodel reports --out reports/``).

What it writes (``OUT`` is ``--out``)::

    OUT/README.md                      index: what is here, what was skipped and why
    OUT/zoo.md, OUT/zoo.csv            the zoo summary table (costmodel vs published figures)
    OUT/models/<name>.{md,html,csv}    per-layer report of every zoo model (HTML with layer bars
                                       of madds, MAC and predicted time shares)
    OUT/accuracy_vs_<x>.{png,svg,csv}  accuracy versus madds, params, MAC, predicted and
                                       measured latency (points in the CSV)
    OUT/accuracy_vs_madds_torchvision.png  torchvision's weights' top-1 beside the zoo's
                                       (+ torchvision_madds.csv: madds vs torchvision's _ops)
    OUT/layers_<model>.png             per-layer breakdown of one zoo model, colour per op kind
    OUT/latency_vs_madds_mac.{png,csv} measured latency against madds and MAC (Spearman)
    OUT/arm_instructions_vs_x86.{png,csv}  aarch64 instructions against x86 time per op kind
    OUT/latency.csv                    per-model predicted / measured ms at 1 and 2 threads
                                       (reusable as --timings)
    OUT/latency/                       the latency validation report (``validate-report``) and
                                       the device profile everything here was predicted with
    OUT/guidelines.md (+ .json, PNGs)  the guideline experiments (``guidelines run``)

Latency, validation and guideline parts come from :mod:`costmodel.latency` and
:mod:`costmodel.guidelines` (:func:`_validation_report`, :func:`_guideline_report`); a part that cannot be produced here is skipped with a message on
stderr and a line in ``OUT/README.md``, never silently.  The device profile is ``--profile``,
else ``OUT/latency/profile.json`` from an earlier run, else a fresh calibration saved there.
``--reuse-latency`` times nothing: it keeps ``OUT/latency/`` (profile, validation report and
``timings.json``) as an earlier run left it, predicts with its profile, takes the measured times
from its ``timings.json`` and re-renders the guideline report from its saved results.
"""
from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import pandas as pd

import costmodel
from costmodel import fileio
from costmodel.plots import accuracy
from costmodel.plots import latency as latency_data
from costmodel.report import CostReport
from costmodel.zoo import registry
from costmodel.zoo import table as zoo_tables

#: the guideline experiments' JSON, kept so that ``--skip-latency`` can re-render without timing
GUIDELINES_MD = "guidelines.md"
LATENCY_DIR = "latency"


@dataclass
class ReportsOutcome:
    """What :func:`generate_reports` wrote and what it skipped (``(part, reason)``)."""

    out_dir: str
    written: List[str] = field(default_factory=list)
    skipped: List[Tuple[str, str]] = field(default_factory=list)
    latency: Dict[str, Dict[str, float]] = field(default_factory=dict)
    #: where each latency metric's figures come from (file, machine, date, threads), for captions
    notes: Dict[str, str] = field(default_factory=dict)


def _rel(path: str, root: str) -> str:
    return os.path.relpath(path, root).replace(os.sep, "/")


def _report_with_times(rep: CostReport, per_layer: Optional[pd.DataFrame]) -> CostReport:
    """``rep`` with a ``pred_ms`` column (predicted per-layer ms) when predictions exist."""
    if per_layer is None or "pred_ms" not in per_layer.columns:
        return rep
    times = per_layer.drop_duplicates("name").set_index("name")["pred_ms"]
    layers = rep.layers.copy()
    layers["pred_ms"] = layers["name"].map(times).astype(float)
    return CostReport(layers, rep.graph, rep.model_name, rep.unsupported)


def write_model_report(name: str, out_dir: str, per_layer: Optional[pd.DataFrame] = None) -> List[str]:
    """``models/<name>.md``, ``.html`` (with layer bars) and ``.csv`` for one zoo model."""
    rep = _report_with_times(zoo_tables.zoo_report(name), per_layer)
    d = os.path.join(out_dir, "models")
    os.makedirs(d, exist_ok=True)
    base = os.path.join(d, name)
    rep.to_markdown(base + ".md")
    rep.to_csv(base + ".csv")
    rep.to_html(base + ".html")
    return [base + ".md", base + ".html", base + ".csv"]


def write_zoo_table(out_dir: str, names: Optional[Sequence[str]] = None) -> List[str]:
    """``zoo.md`` and ``zoo.csv``: costmodel's counts beside the published figures."""
    table = zoo_tables.zoo_table(names)
    csv_path, md_path = os.path.join(out_dir, "zoo.csv"), os.path.join(out_dir, "zoo.md")
    fileio.write_text(csv_path, table.to_csv(index=False))
    text = ["# Zoo: costmodel versus the published figures", "",
            "One row per zoo model, analyzed at its published input resolution. `madds all` counts "
            "every op (conv, linear, norm, pooling, element-wise ...); `madds conv+fc` only conv "
            "and linear layers, which is what the papers count, so the `madds gap` compares that "
            "one with the paper. Gaps are (costmodel - paper) / paper; `-` where the paper gives "
            "no figure. MAC: memory access cost in elements (ShuffleNetV2's definition). Gaps "
            "beyond the tests' tolerances are listed under the table with their reasons.", "",
            zoo_tables.zoo_table_markdown(table), zoo_tables.gaps_markdown(table)]
    fileio.write_text(md_path, "\n".join(text))
    return [md_path, csv_path]


def _profile(out_dir: str, quick: bool, profile_path: Optional[str], say) -> Tuple[object, str]:
    """(profile, its path): ``--profile``, else OUT/latency/profile.json, else calibrate there."""
    if profile_path:
        return latency_data.load_profile(profile_path), profile_path
    saved = os.path.join(out_dir, LATENCY_DIR, "profile.json")
    if os.path.isfile(saved):
        return latency_data.load_profile(saved), saved
    os.makedirs(os.path.dirname(saved), exist_ok=True)
    say(f"calibrating this machine's latency profile ({'45 s' if quick else 'minutes'}) -> {saved}")
    prof = latency_data.calibrate_profile(saved, quick, threads=(1,) if quick else (1, 2))
    return prof, saved


def _validation_report(out_dir: str, names, quick: bool, profile, argv) -> List[str]:
    """``costmodel.latency.validate.validation_report`` into OUT/latency (quick: fewer held-out
    networks, shorter timings).  Returns the files written; raises LatencyUnavailable."""
    try:
        from costmodel.latency.validate import validation_report
    except ImportError as exc:
        raise latency_data.LatencyUnavailable(f"costmodel.latency.validate is not available ({exc})")
    d = os.path.join(out_dir, LATENCY_DIR)
    budget = (dict(n_networks=8, threads=(1,), e2e_time_s=0.1, layer_time_s=0.005) if quick
              else {})
    latency_data._call(validation_report, d, profile, zoo_names=list(names), progress=False,
                command="costmodel " + " ".join(argv), **budget)
    return [os.path.join(d, f) for f in sorted(os.listdir(d))]


def _guideline_report(out_dir: str, quick: bool, skip_latency: bool, profile_path: Optional[str]
                      ) -> List[str]:
    """The guideline experiments (``costmodel guidelines run``), or, with ``skip_latency``, their
    saved results rendered again (``guidelines render``), into OUT/guidelines.md.  Raises
    RuntimeError with the reason when there is nothing to render."""
    from costmodel.guidelines import report_files

    md = os.path.join(out_dir, GUIDELINES_MD)
    js = os.path.splitext(md)[0] + ".json"
    if skip_latency:
        if not os.path.isfile(js):
            raise RuntimeError(f"no timing requested and no saved results ({js}) to re-render")
        report_files.render_saved(js, md)
    else:
        report_files.run_report(md, js, "quick" if quick else "default", profile=profile_path)
    stem = os.path.splitext(os.path.basename(md))[0]
    return [os.path.join(out_dir, f) for f in sorted(os.listdir(out_dir))
            if f.startswith(stem) and os.path.isfile(os.path.join(out_dir, f))]


def _latency(out_dir: str, names, quick: bool, profile_path, argv, outcome, step, say,
             reuse: bool = False):
    """Profile, validation report, predicted and measured ms per model; fills outcome.
    ``reuse``: no timing; the validation report and measured times come from OUT/latency."""
    per_layer: Dict[str, pd.DataFrame] = {}
    step("latency profile")
    try:
        profile, profile_path = _profile(out_dir, quick, profile_path, say)
    except Exception as exc:  # noqa: BLE001 - optional part: say why and go on
        outcome.skipped.append(("latency (profile, validation report, predicted latency)",
                                _why(exc)))
        return per_layer, None
    step("validation report")
    tj = os.path.join(out_dir, LATENCY_DIR, "timings.json")
    if reuse:
        if not os.path.isfile(tj):
            raise RuntimeError(f"--reuse-latency: no earlier validation run ({tj} is missing)")
        outcome.skipped.append(("validation report", f"--reuse-latency: {os.path.dirname(tj)} "
                                                      "is kept as the earlier run left it"))
    else:
        try:
            outcome.written += _validation_report(out_dir, names, quick, profile, argv)
        except Exception as exc:  # noqa: BLE001
            outcome.skipped.append(("validation report", _why(exc)))
    measured, measured_2t = {}, {}
    if os.path.isfile(tj):
        try:
            measured = latency_data.read_timings(tj, threads=1).get("latency_measured", {})
            outcome.notes["latency_measured"] = latency_data.timings_note(tj, 1)
        except (OSError, ValueError, KeyError) as exc:
            say(f"cannot reuse {tj} ({exc}); measuring again")
        try:  # the 2-thread runs of the same file, when it has them (never timed here)
            measured_2t = latency_data.read_timings(tj, threads=2).get("latency_measured", {})
            outcome.notes["latency_measured_2t"] = latency_data.timings_note(tj, 2)
        except (OSError, ValueError, KeyError):
            measured_2t = {}
    threads = [t for t in (1, 2) if t in getattr(profile, "threads", {1: None})]
    for t in threads:
        key = "latency_predicted" + ("" if t == 1 else f"_{t}t")
        outcome.notes[key] = latency_data.profile_note(profile, profile_path, t)
    predicted: Dict[int, Dict[str, float]] = {t: {} for t in threads}
    for name in names:
        step(f"latency {name}")
        model = registry.create(name).eval()
        shape = registry.entry(name).input_shape
        for t in threads:
            try:
                res = latency_data.predict_result(model, shape, profile,
                                                  zoo_tables.zoo_report(name), threads=t)
                predicted[t][name] = latency_data._as_ms(res)
                layers = getattr(res, "layers", None)
                if t == 1 and isinstance(layers, pd.DataFrame) and "pred_ms" in layers.columns:
                    per_layer[name] = layers
            except Exception as exc:  # noqa: BLE001
                outcome.skipped.append((f"predicted latency of {name} at {t} thread(s)",
                                        _why(exc)))
        if name not in measured and reuse:
            outcome.skipped.append((f"measured latency of {name}", f"--reuse-latency: not in {tj}"))
        elif name not in measured:
            try:
                measured[name] = latency_data.measured_ms(model, shape, quick)
                outcome.notes["latency_measured"] = "measured by this run, 1 thread"
            except Exception as exc:  # noqa: BLE001
                outcome.skipped.append((f"measured latency of {name}", _why(exc)))
    outcome.latency = {k: v for k, v in (("latency_predicted", predicted.get(1)),
                                         ("latency_measured", measured),
                                         ("latency_predicted_2t", predicted.get(2)),
                                         ("latency_measured_2t", measured_2t)) if v}
    return per_layer, profile_path


#: the model whose per-layer breakdown PNG the reports folder carries (first in the list present)
BREAKDOWN_MODELS = ("shufflenet_v2_x1_0", "mobilenet_v2_x1_0")
ARM_DIR = "arm"


def _extra_plots(out_dir: str, names: Sequence[str], whole_zoo: bool,
                 per_layer: Dict[str, pd.DataFrame], outcome: "ReportsOutcome", step, skip) -> None:
    """The plots beside the accuracy plots; each one that cannot be drawn here is skipped with
    the reason: ``accuracy_vs_madds_torchvision`` (whole zoo only: it analyzes every torchvision
    classifier), ``layers_<model>.png``, ``latency_vs_madds_mac`` (from OUT/latency/timings.json)
    and ``arm_instructions_vs_x86`` (from OUT/arm)."""
    step("plot torchvision")
    if not whole_zoo:
        skip("accuracy_vs_madds_torchvision", "drawn for the whole zoo only (--models given)")
    else:
        try:
            from costmodel.plots.torchvision_accuracy import plot_torchvision_accuracy

            res = plot_torchvision_accuracy(
                os.path.join(out_dir, "accuracy_vs_madds_torchvision.png"),
                os.path.join(out_dir, "torchvision_madds.csv"))
            outcome.written += res.paths
        except Exception as exc:  # noqa: BLE001 - optional part: say why and go on
            skip("accuracy_vs_madds_torchvision", _why(exc))
    step("plot layer breakdown")
    model = next((m for m in BREAKDOWN_MODELS if m in names), names[0] if names else None)
    if model is not None:
        from costmodel.plots.layer_breakdown import save_layer_breakdown

        rep = _report_with_times(zoo_tables.zoo_report(model), per_layer.get(model))
        has_time = "pred_ms" in rep.layers.columns
        note = outcome.notes.get("latency_predicted")
        paths, _ = save_layer_breakdown(
            rep.layers, os.path.join(out_dir, f"layers_{model}.png"),
            f"{model}: per-layer breakdown at input "
            f"{'x'.join(map(str, registry.entry(model).input_shape))}"
            + (f"\npredicted time: {note}" if has_time and note else ""),
            "pred_ms" if has_time else None, "predicted time, 1 thread")
        outcome.written += paths
    step("plot latency vs cost")
    tj = os.path.join(out_dir, LATENCY_DIR, "timings.json")
    if not os.path.isfile(tj):
        skip("latency_vs_madds_mac", f"no measured times ({tj} is missing)")
    else:
        try:
            from costmodel.plots.latency_vs_cost import plot_latency_vs_cost

            stem = os.path.join(out_dir, "latency_vs_madds_mac")
            outcome.written += plot_latency_vs_cost(tj, stem + ".png", stem + ".csv", names)[3]
        except Exception as exc:  # noqa: BLE001
            skip("latency_vs_madds_mac", _why(exc))
    step("plot arm vs x86")
    from costmodel.plots.arm_vs_x86 import default_files, plot_arm_vs_x86

    arm, x86 = default_files(os.path.join(out_dir, ARM_DIR), tj)
    if not arm or not x86:
        skip("arm_instructions_vs_x86", f"no emulated ARM files or no x86 per-layer times in "
                                        f"{os.path.join(out_dir, ARM_DIR)}")
    else:
        try:
            stem = os.path.join(out_dir, "arm_instructions_vs_x86")
            outcome.written += plot_arm_vs_x86(arm, x86, stem + ".png", stem + ".csv")[3]
        except Exception as exc:  # noqa: BLE001
            skip("arm_instructions_vs_x86", _why(exc))


def _why(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, (latency_data.LatencyUnavailable, RuntimeError)) \
        else f"{type(exc).__name__}: {exc}"


def _write_index(outcome: ReportsOutcome, names: Sequence[str], argv: Sequence[str]) -> str:
    root = outcome.out_dir
    lines = ["# costmodel reports", "",
             f"Generated by `costmodel {' '.join(argv)}` (costmodel {costmodel.__version__}, "
             f"torch {_torch_version()}, Python {platform.python_version()}) for "
             f"{len(names)} zoo models.", "",
             "- [zoo.md](zoo.md): the zoo summary table (costmodel versus published figures)"]
    order = ["madds", "params", "mac"] + list(accuracy.LATENCY_METRICS)
    plots_written = sorted({_rel(p, root) for p in outcome.written
                            if os.path.basename(p).startswith("accuracy_vs_") and p.endswith(".png")
                            and not p.endswith("_torchvision.png")},
                           key=lambda p: next((i for i, k in enumerate(order)
                                               if p.endswith(f"accuracy_vs_{k}.png")), 99))
    for p in plots_written:
        lines.append(f"- [{p}]({p}) (also .svg; points in .csv)")
    others = sorted({_rel(p, root) for p in outcome.written
                     if (p.endswith(".md") or os.path.basename(p) == "latency.csv")
                     and not _rel(p, root).startswith("models/")
                     and _rel(p, root) not in ("zoo.md", "README.md")})
    lines += [f"- [{p}]({p})" for p in others]
    described = {"accuracy_vs_madds_torchvision.png": "torchvision's weights' top-1 beside the "
                 "zoo's papers, against costmodel's multiply-adds (data: torchvision_madds.csv)",
                 "latency_vs_madds_mac.png": "measured latency against multiply-adds and against "
                 "MAC, Spearman in the titles (data: latency_vs_madds_mac.csv)",
                 "arm_instructions_vs_x86.png": "emulated aarch64 instructions against x86 time, "
                 "per op kind (data: arm_instructions_vs_x86.csv)"}
    written = {_rel(p, root) for p in outcome.written}
    lines += [f"- [{p}]({p}): {what}" for p, what in described.items() if p in written]
    lines += [f"- [{p}]({p}): per-layer breakdown, one colour per op kind" for p in sorted(written)
              if p.startswith("layers_") and p.endswith(".png")]
    lines += ["- `models/<name>.md|html|csv`: per-layer report of each zoo model; the HTML has "
              "bars of each layer's madds / MAC (/ predicted time) share", ""]
    lines += ["Models: " + ", ".join(f"[{n}](models/{n}.html)" for n in names), ""]
    if outcome.skipped:
        lines += ["## Skipped", ""] + [f"- {part}: {why}" for part, why in outcome.skipped] + [""]
    path = os.path.join(root, "README.md")
    fileio.write_text(path, "\n".join(lines))
    return path


def _torch_version() -> str:
    import torch

    return torch.__version__


def generate_reports(out_dir: str = "reports", names: Optional[Sequence[str]] = None,
                     skip_latency: bool = False, quick: bool = False, progress: bool = True,
                     profile_path: Optional[str] = None,
                     argv: Sequence[str] = ("reports",), reuse_latency: bool = False,
                     message: Callable[[str], None] = None) -> ReportsOutcome:
    """Regenerate ``out_dir``; returns what was written and what was skipped (with reasons)."""
    from tqdm.auto import tqdm

    whole_zoo = names is None or set(names) == set(registry.names())
    names = list(registry.names() if names is None else names)
    os.makedirs(out_dir, exist_ok=True)
    outcome = ReportsOutcome(out_dir)
    n = len(names)
    total = (0 if skip_latency else 2 + n) + n + 1 + 3 + len(accuracy.LATENCY_METRICS) + 4 + 1 + 1
    bar = tqdm(total=total, desc="reports", unit="step", disable=not progress, file=sys.stderr,
               dynamic_ncols=True)
    say = message or (lambda s: tqdm.write(s, file=sys.stderr))

    def step(desc: str):
        bar.set_postfix_str(desc[:40], refresh=False)
        bar.update(1)

    def skip(part: str, why: str):
        outcome.skipped.append((part, why))

    try:
        per_layer: Dict[str, pd.DataFrame] = {}
        if skip_latency:
            skip("latency (profile, validation report, latency plots, per-layer predicted times)",
                 "--skip-latency (an existing latency/ folder is left as it was)")
        else:
            per_layer, profile_path = _latency(out_dir, names, quick, profile_path, argv, outcome,
                                               step, say, reuse_latency)
            if outcome.latency:
                lat = pd.DataFrame({"name": names})
                for key, col in (("latency_predicted", "predicted_ms"),
                                 ("latency_measured", "measured_ms"),
                                 ("latency_predicted_2t", "predicted_ms_2t"),
                                 ("latency_measured_2t", "measured_ms_2t")):
                    if key in outcome.latency:
                        lat[col] = lat["name"].map(outcome.latency[key])
                p = os.path.join(out_dir, "latency.csv")
                fileio.write_text(p, lat.to_csv(index=False, float_format="%.6g"))
                outcome.written.append(p)
        for name in names:
            step(f"report {name}")
            outcome.written += write_model_report(name, out_dir, per_layer.get(name))
        step("zoo table")
        outcome.written += write_zoo_table(out_dir, names)
        for key in ("madds", "params", "mac") + accuracy.LATENCY_METRICS:
            step(f"plot {key}")
            xv = outcome.latency.get(key)
            if key in accuracy.LATENCY_METRICS and not xv:
                if not skip_latency:
                    skip(f"accuracy_vs_{key}", "no timings (see the latency lines above)")
                continue
            stem = os.path.join(out_dir, f"accuracy_vs_{key}")
            res = accuracy.plot_accuracy(key, [stem + ".png", stem + ".svg"], names, (), xv,
                                         data_csv=stem + ".csv", x_note=outcome.notes.get(key))
            outcome.written += res.paths
        _extra_plots(out_dir, names, whole_zoo, per_layer, outcome, step, skip)
        step("guideline report")
        try:
            render_only = skip_latency or reuse_latency
            outcome.written += _guideline_report(out_dir, quick, render_only,
                                                 None if render_only else profile_path)
        except Exception as exc:  # noqa: BLE001 - optional part: say why and go on
            skip("guideline report", _why(exc))
        step("index")
        outcome.written.append(_write_index(outcome, names, argv))
    finally:
        bar.close()
    for part, why in outcome.skipped:
        say(f"skipped {part}: {why}")
    return outcome
