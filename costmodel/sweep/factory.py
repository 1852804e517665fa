"""Sweeps over any ``(config) -> nn.Module`` factory, for spaces that are not block-structured.

:func:`grid_size`, :func:`grid_config` and :func:`sample_grid` turn a dict of choices
(``{"width": [0.5, 1.0], "depth": [2, 3]}``) into configs (every combination, in a fixed order,
or seeded samples, each from its own generator as in :meth:`costmodel.sweep.space.Space.sample`);
:func:`sweep_factory` builds each candidate and analyzes, predicts and lints it whole (nothing is
shared: the factory's structure is opaque), giving the same columns as a space sweep.
"""
from __future__ import annotations

import json
import math
import random
import warnings
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

import pandas as pd
import torch.nn as nn

from costmodel.analysis import analyze
from costmodel.guidelines import lint
from costmodel.latency.features import op_table
from costmodel.latency.predict import as_profile, predict_table
from costmodel.sweep.engine import pred_column
from costmodel.sweep.pieces import COUNTS, FINDING_COLUMNS


def _check_choices(choices: Dict[str, Sequence[Any]]) -> None:
    if not isinstance(choices, dict) or not choices:
        raise ValueError("choices: expected a non-empty dict of name -> list of values")
    for k, v in choices.items():
        if not isinstance(v, (list, tuple)) or not v:
            raise ValueError(f"choices[{k!r}]: expected a non-empty list of values")


def grid_size(choices: Dict[str, Sequence[Any]]) -> int:
    _check_choices(choices)
    return math.prod(len(v) for v in choices.values())


def grid_config(choices: Dict[str, Sequence[Any]], index: int) -> Dict[str, Any]:
    """Combination ``index`` (``0 <= index < grid_size``), the first name varying fastest."""
    if not 0 <= index < grid_size(choices):
        raise IndexError(f"combination {index} outside the grid's {grid_size(choices)}")
    out = {}
    for k, v in choices.items():
        index, j = divmod(index, len(v))
        out[k] = v[j]
    return out


def sample_grid(choices: Dict[str, Sequence[Any]], n: int, seed: int = 0) -> List[Dict[str, Any]]:
    """``n`` seeded samples (each value uniform, candidate ``i`` from its own generator)."""
    _check_choices(choices)
    out = []
    for i in range(n):
        rng = random.Random((int(seed) << 40) | i)
        out.append({k: v[rng.randrange(len(v))] for k, v in choices.items()})
    return out


def sweep_factory(factory: Callable[[Dict[str, Any]], nn.Module], configs: Iterable[dict],
                  input_shape=(1, 3, 224, 224), profile=None,
                  thresholds: lint.Thresholds = lint.THRESHOLDS,
                  on_progress: Optional[Callable[[int], None]] = None) -> pd.DataFrame:
    """One row per config: ``candidate``, the counts, ``pred_ms_<T>t`` per profile thread count,
    the finding counts, ``config`` (JSON).  ``input_shape`` is a shape or a function of the
    config."""
    prof = as_profile(profile) if profile is not None else None
    rows = []
    for i, cfg in enumerate(configs):
        model = factory(cfg)
        if not isinstance(model, nn.Module):
            raise TypeError(f"the factory returned {type(model).__name__} for {cfg!r}, not an "
                            f"nn.Module")
        shape = input_shape(cfg) if callable(input_shape) else input_shape
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = analyze(model, shape, warn=False)
        row: Dict[str, Any] = {"candidate": i}
        row.update({c: int(report.total[c]) for c in COUNTS})
        if prof is not None:
            table, _ = op_table(None, None, report=report)
            for t in prof.thread_counts:
                row[pred_column(t)] = predict_table(table, prof, t)[1]
        counts = lint.check(model, shape, thresholds=thresholds, report=report).counts()
        row.update({c: counts[c[:2].upper()][c[3:]] for c in FINDING_COLUMNS})
        row["config"] = json.dumps(cfg, separators=(",", ":"), default=str)
        rows.append(row)
        if on_progress:
            on_progress(1)
    return pd.DataFrame(rows)
