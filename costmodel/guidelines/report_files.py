"""The guideline report's files: run the experiments, save their results as JSON and render the
Markdown report (``costmodel guidelines run``), or render saved results again (``guidelines
render``).  Used by the command line and by :mod:`costmodel.reports_folder`."""
from __future__ import annotations

import json
import os
from typing import Callable, Optional, Sequence, Tuple

from costmodel import fileio

#: the zoo models the report's linter section covers
ZOO_LINT_MODELS = ("shufflenet_v1_g3_x1_0", "shufflenet_v1_g8_x1_0", "mobilenet_v2_x1_0",
                   "shufflenet_v2_x1_0", "googlenet", "resnet50", "mixnet_s", "vgg16")


def read_results(path: str, what: str = "`guidelines run`"):
    """An :class:`~costmodel.guidelines.experiments.ExperimentResult` saved as JSON (raises
    :class:`costmodel.fileio.InputError` naming what is missing)."""
    from costmodel.guidelines import experiments as ex
    try:
        return ex.ExperimentResult.from_dict(fileio.read_json(path))
    except KeyError as exc:
        raise fileio.InputError(f"{path} is not a {what} result: missing {exc}") from None


def merge_device_results(result, path: str):
    """``result`` with the device (GPU) figures of a ``guidelines run-gpu`` JSON added."""
    from costmodel.guidelines import experiments as ex
    try:
        return ex.merge_device(result, fileio.read_json(path))
    except KeyError as exc:
        raise fileio.InputError(f"{path} is not a `guidelines run-gpu` result: missing {exc}") \
            from None


def run_report(out: str, json_path: Optional[str] = None, mode: str = "default",
               threads: Sequence[int] = (1,), tables: Optional[Sequence[str]] = None,
               profile: Optional[str] = None, clock: str = "wall", gpu: Optional[str] = None,
               lint: bool = True, plots: bool = True,
               progress: Optional[Callable[[str], None]] = None,
               interleave: Optional[bool] = None) -> Tuple[object, str]:
    """Measure the experiments, write their results to ``json_path`` (default: ``out`` with
    ``.json``) and the report to ``out``; returns ``(result, json_path)``.  ``interleave``: see
    :func:`costmodel.guidelines.experiments.run`."""
    from costmodel.guidelines import experiments as ex
    from costmodel.guidelines import render as rd
    from costmodel.guidelines import timing

    prof = timing.load_profile(profile) if profile else None
    result = ex.run(mode, threads=threads, tables=tables or ex.TABLES, profile=prof,
                    progress=progress, clock=clock, interleave=interleave)
    if profile:
        result.extra["profile_path"] = profile
    if gpu:
        result = merge_device_results(result, gpu)
    json_path = json_path or os.path.splitext(out)[0] + ".json"
    fileio.write_text(json_path, json.dumps(result.to_dict(), indent=1))
    rd.render(result, out, lint_models=ZOO_LINT_MODELS if lint else (), plots=plots)
    return result, json_path


def render_saved(results: str, out: str, gpu: Optional[str] = None, lint: bool = True,
                 plots: bool = True) -> str:
    """Render the report ``out`` from the results JSON an earlier run saved; returns its text."""
    from costmodel.guidelines import render as rd

    result = read_results(results)
    if gpu:
        result = merge_device_results(result, gpu)
    return rd.render(result, out, lint_models=ZOO_LINT_MODELS if lint else (), plots=plots,
                     source=results)
