"""Pareto fronts of sweep results: the candidates no other candidate beats on every objective.

A candidate is *dominated* when another is at least as good on every objective (lower on each
``minimize`` column, higher on each ``maximize`` column) and strictly better on one.
:func:`pareto_mask` marks the others.  Rows with a missing (NaN) objective are never on the
front.  Without a measured metric (accuracy), a sweep's default front maximizes multiply-adds
(the capacity proxy papers compare at equal latency) against minimal predicted latency.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd


class FrontError(ValueError):
    """Front objectives that are not numeric columns of the results."""


def _objectives(df: pd.DataFrame, minimize: Sequence[str], maximize: Sequence[str]) -> np.ndarray:
    if not list(minimize) + list(maximize):
        raise FrontError("a Pareto front needs at least one objective")
    cols = []
    for c in list(minimize) + list(maximize):
        if c not in df.columns:
            raise FrontError(f"no column {c!r} in the results (columns: "
                             f"{', '.join(map(str, df.columns))})")
        if not pd.api.types.is_numeric_dtype(df[c]):
            raise FrontError(f"column {c!r} is not numeric")
    for c in minimize:
        cols.append(df[c].to_numpy(dtype=float))
    for c in maximize:
        cols.append(-df[c].to_numpy(dtype=float))
    return np.column_stack(cols)


def pareto_mask(df: pd.DataFrame, minimize: Sequence[str] = (),
                maximize: Sequence[str] = ()) -> np.ndarray:
    """Boolean array, True for the rows of ``df`` on the Pareto front."""
    points = _objectives(df, minimize, maximize)
    ok = np.isfinite(points).all(axis=1)
    mask = np.zeros(len(df), dtype=bool)
    rows = np.flatnonzero(ok)
    if not len(rows):
        return mask
    p = points[rows]
    order = np.lexsort(p.T[::-1])  # by the first objective, then the next ...
    front = np.empty_like(p)
    size = 0
    for i in order:
        x = p[i]
        f = front[:size]
        if size and np.any(np.all(f <= x, axis=1) & np.any(f < x, axis=1)):
            continue
        front[size] = x
        size += 1
        mask[rows[i]] = True
    return mask


def pareto_front(df: pd.DataFrame, minimize: Sequence[str] = (), maximize: Sequence[str] = (),
                 sort_by: Optional[str] = None) -> pd.DataFrame:
    """The rows of ``df`` on the front, sorted by ``sort_by`` (default the first objective)."""
    front = df[pareto_mask(df, minimize, maximize)]
    key = sort_by or (list(minimize) + list(maximize))[0]
    return front.sort_values([key, "candidate"] if "candidate" in front else key,
                             kind="stable").reset_index(drop=True)


def with_metric(df: pd.DataFrame, metrics: pd.DataFrame, column: str) -> pd.DataFrame:
    """``df`` with ``metrics[column]`` (a user's measured metric, e.g. accuracy) joined on the
    ``candidate`` column; candidates without a value get NaN (and are never on a front)."""
    for need in ("candidate", column):
        if need not in metrics.columns:
            raise FrontError(f"the metrics table has no column {need!r} (columns: "
                             f"{', '.join(map(str, metrics.columns))})")
    if column in df.columns:
        raise FrontError(f"the results already have a column {column!r}")
    if metrics["candidate"].duplicated().any():
        raise FrontError("the metrics table lists a candidate twice")
    if not pd.api.types.is_numeric_dtype(metrics[column]):
        raise FrontError(f"metric column {column!r} is not numeric")
    return df.merge(metrics[["candidate", column]], on="candidate", how="left")
