"""Axis helpers shared by the plots: log limits that keep every point inside the frame."""
from __future__ import annotations

import math
from typing import Iterable, Tuple

import numpy as np


def log_limits(*values: Iterable[float], pad: Tuple[float, float] = (0.06, 0.12)
               ) -> Tuple[float, float]:
    """Log-axis limits around every positive finite value of ``values`` (one or more arrays),
    ``pad`` of the decades spanned added below and above, so no marker is cut at the ends."""
    v = np.concatenate([np.asarray(list(x) if not hasattr(x, "__array__") else x, dtype=float)
                        .ravel() for x in values])
    v = v[np.isfinite(v) & (v > 0)]
    if not len(v):
        return 0.1, 10.0
    lo, hi = float(v.min()), float(v.max())
    span = math.log10(hi / lo) if hi > lo else 1.0
    return lo / 10 ** (pad[0] * span + 0.02), hi * 10 ** (pad[1] * span + 0.02)
