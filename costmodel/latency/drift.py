"""Machine drift: how much faster or slower this machine runs now than when a profile was
calibrated.

Shared virtual machines change speed from one hour to the next (the same network 45-67 ms from
one round of runs to the next on an idle VM, with no other process running).  Calibration
(``in-network`` method) times a fixed reference network, ``families:reference``
(:data:`costmodel.latency.families.REFERENCE`, ~20-40 ms at one thread), in a fresh process
before every few calibration networks and stores the median and spread in the profile.
:func:`measure_drift` times it again now (several fresh processes) and :func:`factors` turns
timings into ``now / calibration`` ratios: multiply a prediction by the factor to predict for the
machine as it runs now.  The report and ``costmodel predict --drift`` always print the factor
with its own spread, so a drift smaller than the reference's noise is not over-read.
"""
from __future__ import annotations

from typing import Dict, Sequence

import numpy as np
import pandas as pd

from costmodel.latency.profile import DeviceProfile


def factors(profile: DeviceProfile, refs: pd.DataFrame) -> Dict[int, dict]:
    """threads -> {factor (median of now / calibration), spread_pct (interquartile range of the
    ratios, percentage points), n, calibration_ms, calibration_spread_pct} for the thread counts
    whose reference the profile has; ``refs`` has columns ``threads`` and ``ms``."""
    out = {}
    if refs is None or not len(refs):
        return out
    for t, g in refs.groupby("threads"):
        cal = profile.reference(int(t))
        if not cal:
            continue
        ratios = g["ms"].to_numpy(float) / float(cal["ms"])
        q75, q25 = np.percentile(ratios, [75, 25])
        out[int(t)] = {"factor": float(np.median(ratios)), "spread_pct": float(100 * (q75 - q25)),
                       "n": int(len(ratios)), "calibration_ms": float(cal["ms"]),
                       "calibration_spread_pct": float(cal.get("spread_pct", float("nan")))}
    return out


def measure_drift(profile: DeviceProfile, threads: Sequence[int], repeats: int = 5,
                  min_time_s: float = 0.5, clock: str = "wall") -> Dict[int, dict]:
    """Time the reference ``repeats`` times per thread count (each in a fresh process) and
    return :func:`factors`; raises ValueError when the profile has no reference."""
    from costmodel.latency.calibrate import _time_reference
    missing = [t for t in threads if profile.reference(int(t)) is None]
    if missing:
        raise ValueError(f"the profile has no drift reference at {missing} thread(s): calibrate "
                         f"it with the in-network method (costmodel calibrate) to correct drift")
    rows = [{"threads": int(t), "ms": _time_reference(int(t), clock, min_time_s)}
            for _ in range(repeats) for t in threads]
    return factors(profile, pd.DataFrame(rows))
