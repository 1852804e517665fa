"""Number formatting shared by every report: ``human(1234567) == "1.23M"``."""
from __future__ import annotations

import math


def human(n: float, unit: str = "") -> str:
    """1234567 -> '1.23M'; None or NaN -> '-'."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "-"
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= div:
            return f"{n / div:.2f}{suffix}{unit}"
    return f"{n:.0f}{unit}" if float(n).is_integer() else f"{n:.2f}{unit}"
