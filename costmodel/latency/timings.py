"""Portable timing files: measured latencies written by ``costmodel bench``, read by
``costmodel validate``.

A timing file is plain UTF-8 JSON (never pickle: nothing in it is unpickled or executed; model
names are looked up in the zoo or the design space, never imported).  Schema, version 1::

    {
      "format": "costmodel-timings",           # required, exactly this string
      "version": 1,                            # required integer
      "created": "2025-01-01T12:00:00Z",       # optional string
      "machine": {                             # required object (costmodel.latency.machine.describe)
        "cpu_model": str, "arch": str, "isa": [str], "torch": str, "threads": int, ...
      },
      "models": [                              # required, a list of at least one object
        {
          "name": str,                         # zoo name, design-space name or user label
          "input_shape": [int, ...],           # positive integers, e.g. [1, 3, 224, 224]
          "threads": int,                      # >= 1, torch.set_num_threads during the run
          "clock": "wall" | "cpu",             # optional (default wall): elapsed or thread CPU time
          "total_ms": number,                  # > 0 and <= 1e7, median end-to-end latency
          "total_ms_spread": {                 # required object; every value a number in
            "p10": number, "p25": number,      #   [0, 1e7], a list of them, or null
            "p75": number, "p90": number,
            "min": number, "max": number, "runs": int,
            "repeat_medians": [number, ...], "repeat_spread_pct": number,
            "layout_medians": [number, ...],   # one per copy of the model at fresh addresses
            "layout_spread_pct": number
          },
          "layer_sum_ms": number | null,       # optional, in [0, 1e7]: sum of layers[].measured_ms
          "layers": [                          # required list (may be empty: end-to-end only)
            {"name": str, "kind": str, "measured_ms": number in [0, 1e7] | null}
          ]
        }
      ]
    }

``costmodel bench`` also writes ``"quiet": {"wall_s", "other_cpu_pct", "steal_pct", "cores"}``
at the top level: the CPU other processes used while it measured
(:class:`costmodel.latency.quiet.CpuWatch`); ``costmodel validate`` warns when it is high.

Unknown extra keys are allowed (forward compatibility); a missing or mistyped required field,
another ``format`` or another ``version`` raises :class:`TimingFileError` naming the field.
Numbers are checked as well as types (:mod:`costmodel.latency.checks`): a time is finite, not
negative and at most :data:`~costmodel.latency.checks.MAX_MS` (1e7 ms), spreads and counts are not
negative; ``machine.isa`` is a list of strings, ``quiet`` an object of non-negative numbers.
:func:`load` reads at most :data:`costmodel.fileio.MAX_INPUT_BYTES` from a regular file and
refuses JSON nested deeper than :data:`costmodel.fileio.MAX_JSON_DEPTH`.

Optional fields of emulated runs (``costmodel arm run``, see :mod:`costmodel.arm.runner`)::

    "emulated": true,                          # top level, in "machine" and in every model
    "emulation": {"emulator": str, "qemu_version": str, "cpu": str, "vector": str,
                  "vector_bits": int, "marker_overhead_instructions": int, "time_is": str, ...},
    "machine": {..., "emulator": "qemu-aarch64", "emulated_cpu": str, "vector_bits": int},
    "models": [{..., "forward_instructions": int, "forward_instructions_spread_pct": number,
                "layer_sum_instructions": number, "layer_sum_vs_forward_pct": number,
                "layers": [{"name": str, "kind": str, "measured_ms": null,
                            "instructions": int,             # executed aarch64 instructions
                            "instructions_spread_pct": number,   # repeat-to-repeat spread
                            "instructions_repeats": [int, ...],
                            "emulated_ms": number,           # emulator wall time, NOT latency
                            "madds": int, "flops": int, "mac": int, "mac_bytes": int}]}]

Counts, spreads and wall times among these are checked to be non-negative numbers (or null) when
present; ``layer_sum_vs_forward_pct`` may be negative.

The times of an emulated file are the emulator's wall time on the host, not the emulated CPU's
latency; :func:`is_emulated` tells such files apart and ``costmodel validate`` refuses them.
A machine description written by ``costmodel bench`` inside the emulator (``costmodel arm exec``)
carries ``"emulated"`` as well (:func:`costmodel.latency.machine.describe`).
"""
from __future__ import annotations

import datetime
import math
import os
from typing import Any, Dict, List

from costmodel import fileio
from costmodel.latency import checks, files

FORMAT = "costmodel-timings"
VERSION = 1
_PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


class TimingFileError(ValueError):
    """A timing file that is not valid costmodel-timings JSON (the message says why)."""


_is_int = checks.is_int
_show = checks.show
#: optional per-layer fields of emulated files (:mod:`costmodel.arm.runner`): counts, >= 0
_LAYER_COUNTS = ("madds", "flops", "mac", "mac_bytes", "instructions", "instructions_spread_pct",
                 "instructions_repeats")
#: optional per-model fields of emulated files: non-negative counts, spreads and durations
_MODEL_COUNTS = ("madds", "mac", "forward_instructions", "forward_instructions_spread_pct",
                 "forward_instructions_repeats", "layer_sum_instructions", "emulation_wall_s",
                 "trace_s")


def _need(obj: dict, key: str, where: str, check, what: str):
    if key not in obj:
        raise TimingFileError(f"{where}: missing required field {key!r}")
    v = obj[key]
    if not check(v):
        raise TimingFileError(f"{where}.{key}: expected {what}, got {_show(v)}")
    return v


def _counts(obj: dict, keys, where: str) -> None:
    """Optional non-negative counts (or lists of them, or null)."""
    for k in keys:
        if k in obj:
            checks.numbers(obj[k], f"{where}.{k}", TimingFileError, hi=1e18, null=True)


def validate(doc: Any, source: str = "timing file") -> Dict[str, Any]:
    """Check ``doc`` against the schema; return it unchanged or raise :class:`TimingFileError`
    naming ``source``, the field and the value."""
    if not isinstance(doc, dict):
        raise TimingFileError(f"{source}: expected a JSON object at the top level, got "
                              f"{type(doc).__name__}")
    fmt = doc.get("format")
    if fmt != FORMAT:
        raise TimingFileError(
            f"{source}: not a costmodel timing file (\"format\" is {_show(fmt) if 'format' in doc else 'missing'}, "
            f"expected \"{FORMAT}\"); write one with `costmodel bench MODEL --out FILE`")
    ver = doc.get("version")
    if not _is_int(ver):
        raise TimingFileError(f"{source}: \"version\" must be an integer, got {_show(ver)}")
    if ver != VERSION:
        raise TimingFileError(f"{source}: unsupported timing-file version {ver} (this costmodel "
                              f"reads version {VERSION})")
    machine = _need(doc, "machine", source, lambda v: isinstance(v, dict), "an object")
    for k in ("cpu_model", "arch", "torch"):
        if k in machine and not isinstance(machine[k], str):
            raise TimingFileError(f"{source}.machine.{k}: expected a string, got {_show(machine[k])}")
    if "isa" in machine:
        checks.strings(machine["isa"], f"{source}.machine.isa", TimingFileError)
    if "threads" in machine and not (_is_int(machine["threads"]) and machine["threads"] >= 1):
        raise TimingFileError(f"{source}.machine.threads: expected an integer >= 1, got "
                              f"{_show(machine['threads'])}")
    if "quiet" in doc:
        checks.quiet(doc["quiet"], f"{source}.quiet", TimingFileError)
    if "emulation" in doc and not isinstance(doc["emulation"], dict):
        raise TimingFileError(f"{source}.emulation: expected an object, got {_show(doc['emulation'])}")
    models = _need(doc, "models", source, lambda v: isinstance(v, list) and len(v) > 0,
                   "a non-empty list")
    for i, m in enumerate(models):
        _validate_model(m, f"{source}.models[{i}]")
    return doc


def _validate_model(m, where: str) -> None:
    if not isinstance(m, dict):
        raise TimingFileError(f"{where}: expected an object, got {_show(m)}")
    _need(m, "name", where, lambda v: isinstance(v, str) and v != "", "a non-empty string")
    _need(m, "input_shape", where, lambda v: isinstance(v, list) and len(v) > 0 and all(
        _is_int(d) and d > 0 for d in v), "a list of positive integers")
    _need(m, "threads", where, lambda v: _is_int(v) and v >= 1, "an integer >= 1")
    if "clock" in m and m["clock"] not in ("wall", "cpu"):
        raise TimingFileError(f"{where}.clock: expected \"wall\" or \"cpu\", got {_show(m['clock'])}")
    if "total_ms" not in m:
        raise TimingFileError(f"{where}: missing required field 'total_ms'")
    checks.number(m["total_ms"], f"{where}.total_ms", TimingFileError, positive=True)
    spread = _need(m, "total_ms_spread", where, lambda v: isinstance(v, dict), "an object")
    for k, v in spread.items():  # times (ms), percentages and run counts: all >= 0
        checks.numbers(v, f"{where}.total_ms_spread.{k}", TimingFileError, null=True)
    if "layer_sum_ms" in m:
        checks.number(m["layer_sum_ms"], f"{where}.layer_sum_ms", TimingFileError, null=True)
    _counts(m, _MODEL_COUNTS, where)
    if "layer_sum_vs_forward_pct" in m:
        checks.number(m["layer_sum_vs_forward_pct"], f"{where}.layer_sum_vs_forward_pct",
                      TimingFileError, lo=-1e9, hi=1e9, null=True)
    layers = _need(m, "layers", where, lambda v: isinstance(v, list), "a list")
    for j, l in enumerate(layers):
        lw = f"{where}.layers[{j}]"
        if not isinstance(l, dict):
            raise TimingFileError(f"{lw}: expected an object, got {_show(l)}")
        _need(l, "name", lw, lambda v: isinstance(v, str), "a string")
        _need(l, "kind", lw, lambda v: isinstance(v, str), "a string")
        if "measured_ms" not in l:
            raise TimingFileError(f"{lw}: missing required field 'measured_ms'")
        checks.number(l["measured_ms"], f"{lw}.measured_ms", TimingFileError, null=True)
        _counts(l, _LAYER_COUNTS, lw)
        if "emulated_ms" in l:
            checks.numbers(l["emulated_ms"], f"{lw}.emulated_ms", TimingFileError, null=True)


def make_document(results, machine: Dict[str, Any]) -> Dict[str, Any]:
    """A timing document from :class:`~costmodel.latency.measure.LatencyResult` objects."""
    doc = {"format": FORMAT, "version": VERSION,
           "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "machine": dict(machine), "models": [nan_to_null(r.to_dict()) for r in results]}
    return validate(doc)


def nan_to_null(obj):
    """NaN/inf -> null (JSON has no NaN)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: nan_to_null(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [nan_to_null(v) for v in obj]
    return obj


def save(doc: Dict[str, Any], path) -> None:
    """Validate ``doc`` and write it to ``path`` atomically (:func:`costmodel.fileio.write_text`;
    a failed write raises :class:`~costmodel.fileio.OutputError` and leaves no partial file)."""
    validate(doc)
    files.write_json(path, doc)


def load(path) -> Dict[str, Any]:
    """Read and validate a timing file (JSON only; a pickle or other binary is rejected; at most
    :data:`costmodel.fileio.MAX_INPUT_BYTES`)."""
    try:
        raw = fileio.read_bytes(path)
    except fileio.InputError as exc:
        raise TimingFileError(str(exc)) from None
    if raw[:2] in _PICKLE_MAGIC or raw[:1] in (b"\x80",):
        raise TimingFileError(f"{path} looks like a Python pickle; costmodel timing files are JSON "
                              f"and pickles are never loaded")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise TimingFileError(f"{path} is not UTF-8 text (binary file?); expected costmodel-timings "
                              f"JSON") from None
    try:
        doc = fileio.loads_json(text, os.fspath(path))
    except fileio.InputError as exc:
        raise TimingFileError(str(exc)) from None
    return validate(doc, source=os.path.basename(str(path)))


def is_emulated(doc: Dict[str, Any]) -> str:
    """Why ``doc`` counts as an emulated run (a short description), or ``""`` for a native one."""
    machine = doc.get("machine") or {}
    for where, value in (("the file", doc.get("emulated")), ("its machine", machine.get("emulated"))):
        if value:
            return f"marked emulated in {where}: {value if isinstance(value, str) else machine.get('emulated_cpu') or 'true'}"
    for m in doc.get("models", []):
        if isinstance(m, dict) and m.get("emulated"):
            return f"model {m.get('name')!r} is marked emulated"
    return ""


def entries(doc: Dict[str, Any]) -> List[Dict[str, Any]]:
    return list(doc["models"])
