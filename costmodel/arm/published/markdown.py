"""Markdown helpers of the published-ARM reports: numbers and tables."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def fmt(v, d=2) -> str:
    """A number for a table: ``-`` for None/NaN, integers as such, >= 100 without decimals."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.{d}f}"


def table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)
