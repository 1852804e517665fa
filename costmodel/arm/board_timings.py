"""Board timing files: a user's few real network timings on an ARM device, for
``costmodel calibrate --from-emulation --timings FILE``.

Format (JSON)::

    {
      "device": "Raspberry Pi 4, Cortex-A72 @ 1.5 GHz",   # free text, or a spec device key
      "threads": 1,                                       # threads the timings used
      "framework": "PyTorch 2.3, fp32",                   # engine / runtime, free text
      "timings": [
        {"model": "mobilenet_v2_x1_0", "input": [224, 224], "ms": 75.0},
        {"model": "shufflenet_v2_x1_0", "input": "1x3x224x224", "ms": 41.0}
      ]
    }

``model`` is a zoo name with emulated instruction counts (``reports/arm/arm_neoverse-n1_*.json``);
``input`` is ``[H, W]`` or ``"NxCxHxW"`` (batch 1, 3 channels); ``ms`` the time of one forward
pass (batch 1), positive.  An optional ``"format": "costmodel-board-timings"`` is checked when
present.  ``device`` naming a key of :data:`costmodel.arm.spec_profiles.DEVICES` (e.g.
``snapdragon_810``) gives the fit its spec instruction rate as the prior scale.

:func:`load` refuses a bad file with one :class:`BoardTimingsError` line naming the file and the
field.
"""
from __future__ import annotations

import math
import os
from typing import List, Tuple

from costmodel.latency import files

FORMAT = "costmodel-board-timings"
MAX_TIMINGS = 10000


class BoardTimingsError(ValueError):
    """A board timing file that cannot be used."""


def _shape(v, where: str) -> Tuple[int, int, int, int]:
    if isinstance(v, str):
        parts = v.lower().split("x")
        if len(parts) != 4 or not all(p.isdigit() for p in parts):
            raise BoardTimingsError(f"{where}: input {v!r} is not NxCxHxW")
        shape = tuple(int(p) for p in parts)
    elif isinstance(v, list) and len(v) == 2 and all(
            isinstance(x, int) and not isinstance(x, bool) for x in v):
        shape = (1, 3, v[0], v[1])
    else:
        raise BoardTimingsError(f"{where}: input must be [H, W] or \"NxCxHxW\", got {v!r}")
    if shape[0] != 1 or shape[1] != 3 or not (0 < shape[2] <= 8192 and 0 < shape[3] <= 8192):
        raise BoardTimingsError(f"{where}: input {v!r}: batch 1, 3 channels, H and W in 1..8192")
    return shape


def validate(doc, source: str) -> dict:
    """The file's content, normalised: ``timings`` as (model, (1, 3, H, W), ms) tuples."""
    if not isinstance(doc, dict):
        raise BoardTimingsError(f"{source}: a board timing file is a JSON object")
    if "format" in doc and doc["format"] != FORMAT:
        raise BoardTimingsError(f"{source}: format is {doc['format']!r}, expected {FORMAT!r}")
    for k in ("device", "framework"):
        if not isinstance(doc.get(k), str) or not doc[k].strip():
            raise BoardTimingsError(f"{source}: '{k}' must be a non-empty string")
    th = doc.get("threads")
    if not isinstance(th, int) or isinstance(th, bool) or not 1 <= th <= 1024:
        raise BoardTimingsError(f"{source}: 'threads' must be an integer 1..1024, got {th!r}")
    rows = doc.get("timings")
    if not isinstance(rows, list) or not rows:
        raise BoardTimingsError(f"{source}: 'timings' must be a non-empty list of "
                                "{model, input, ms}")
    if len(rows) > MAX_TIMINGS:
        raise BoardTimingsError(f"{source}: more than {MAX_TIMINGS} timings")
    out: List[Tuple[str, tuple, float]] = []
    seen = set()
    for i, r in enumerate(rows):
        where = f"{source}: timings[{i}]"
        if not isinstance(r, dict):
            raise BoardTimingsError(f"{where}: expected an object {{model, input, ms}}")
        if not isinstance(r.get("model"), str) or not r["model"].strip():
            raise BoardTimingsError(f"{where}: 'model' must be a zoo name")
        ms = r.get("ms")
        if not isinstance(ms, (int, float)) or isinstance(ms, bool) or not math.isfinite(ms) \
                or not 0 < ms < 1e7:
            raise BoardTimingsError(f"{where}: 'ms' must be a positive number of milliseconds, "
                                    f"got {ms!r}")
        if "input" not in r:
            raise BoardTimingsError(f"{where}: missing 'input' ([H, W])")
        shape = _shape(r["input"], where)
        if (r["model"], shape) in seen:
            raise BoardTimingsError(f"{where}: {r['model']} at {shape} is timed twice")
        seen.add((r["model"], shape))
        out.append((r["model"], shape, float(ms)))
    return {"device": doc["device"].strip(), "threads": th, "framework": doc["framework"].strip(),
            "timings": out}


def load(path) -> dict:
    """Read and :func:`validate` a board timing file."""
    return validate(files.read_json(path, BoardTimingsError), os.fspath(path))
