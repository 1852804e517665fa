"""Checks of the numbers costmodel reads back from its files (profiles, timing files, samples).

Every reader validates what it loads against bounds that a real measurement or fit can meet, so a
hostile or corrupted file gets a one-line error naming the file, the field and the value instead
of a wrong prediction:

* times (ms) are finite, non-negative and at most :data:`MAX_MS`;
* counts and spreads are finite and non-negative;
* coefficients are finite, non-negative (one that may be negative says so) and at most
  :data:`MAX_MS` (no single multiply-add, byte or op costs more than that).

Each check raises the error class its caller passes (``ProfileError``, ``TimingFileError``, ...).
"""
from __future__ import annotations

import json
import math
from typing import Iterable, Type

import numpy as np
import pandas as pd

#: the largest time (ms) costmodel accepts anywhere: 1e7 ms is 2.8 hours for one forward pass
MAX_MS = 1e7


def is_num(v) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def show(v) -> str:
    """``v`` as JSON, cut to 60 characters (for error messages)."""
    try:
        s = json.dumps(v) if not isinstance(v, (bytes, bytearray)) else repr(v)
    except (TypeError, ValueError):
        s = repr(v)
    return (s[:60] + "...") if len(s) > 60 else s


def number(v, where: str, error: Type[Exception], lo: float = 0.0, hi: float = MAX_MS,
           positive: bool = False, null: bool = False):
    """``v`` when it is a finite number in ``[lo, hi]`` (``(0, hi]`` with ``positive``; ``None``
    too with ``null``), else raise ``error`` naming ``where`` and the value."""
    if v is None and null:
        return v
    if is_num(v) and lo <= v <= hi and not (positive and v <= 0):
        return v
    what = (f"a positive number <= {hi:g}" if positive else f"a number between {lo:g} and {hi:g}") \
        + (" or null" if null else "")
    raise error(f"{where}: expected {what}, got {show(v)}")


def numbers(v, where: str, error: Type[Exception], lo: float = 0.0, hi: float = MAX_MS,
            null: bool = False):
    """A number (see :func:`number`) or a list of them."""
    if isinstance(v, list):
        for i, e in enumerate(v):
            number(e, f"{where}[{i}]", error, lo, hi, null=null)
        return v
    return number(v, where, error, lo, hi, null=null)


def quiet(watch, where: str, error: Type[Exception]) -> None:
    """A :class:`costmodel.latency.quiet.CpuWatch` result: an object whose ``wall_s``,
    ``other_cpu_pct``, ``steal_pct`` are non-negative numbers or null, ``cores`` a positive
    integer or null."""
    if not isinstance(watch, dict):
        raise error(f"{where}: expected an object, got {show(watch)}")
    for k in ("wall_s", "other_cpu_pct", "steal_pct"):
        if k in watch:
            number(watch[k], f"{where}.{k}", error, hi=1e12, null=True)
    if "cores" in watch and not (watch["cores"] is None or (is_int(watch["cores"])
                                                            and watch["cores"] >= 1)):
        raise error(f"{where}.cores: expected a positive integer or null, got "
                    f"{show(watch['cores'])}")


def columns(df: pd.DataFrame, cols: Iterable[str], where: str, error: Type[Exception],
            lo: float = 0.0, hi: float = np.inf, positive: bool = False,
            integer: bool = False) -> None:
    """Every value of ``cols`` (those ``df`` has) is a finite number in ``[lo, hi]`` (``> 0`` with
    ``positive``, whole with ``integer``); the first offender raises ``error`` naming ``where``,
    the row (1 = the first data line), the column and the value."""
    for c in cols:
        if c not in df:
            continue
        raw = df[c]
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float) \
            if raw.dtype != bool else raw.to_numpy(dtype=float)
        ok = np.isfinite(values) & (values >= lo) & (values <= hi)
        if positive:
            ok &= values > 0
        if integer:
            ok &= np.isfinite(values) & (np.floor(values) == values)
        if not ok.all():
            i = int(np.argmin(ok))
            kind = "a whole number" if integer else ("a positive number" if positive else "a number")
            bound = f" between {lo:g} and {hi:g}" if not positive else (
                f" <= {hi:g}" if math.isfinite(hi) else "")
            raise error(f"{where}: row {i + 1}, column {c!r}: expected {kind}{bound}, got "
                        f"{show(_plain(raw.iloc[i]))}")


def _plain(v):
    if isinstance(v, (np.floating, np.integer, np.bool_)):
        return v.item()
    return v if isinstance(v, (str, int, float, bool)) or v is None else str(v)


def strings(v, where: str, error: Type[Exception]) -> None:
    """``v`` is a list of strings."""
    if not (isinstance(v, list) and all(isinstance(e, str) for e in v)):
        raise error(f"{where}: expected a list of strings, got {show(v)}")
