"""The published ARM figures (``costmodel/arm/published_arm.json``): loading, validation (every
figure carries its source) and one table of them; plus ShuffleNetV2's guideline tables (ARM
column) from ``costmodel/guidelines/paper_tables.json``."""
from __future__ import annotations

import math
import os
from typing import Callable, Dict, Optional, Tuple

import pandas as pd

from costmodel.arm import spec_profiles as sp
from costmodel.latency import files

DATA_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         "published_arm.json")
FORMAT = "costmodel-published-arm"
_UNITS = ("ms", "images/s")
_TABLE_KEYS = ("paper", "table", "title", "device", "device_text", "threads", "unit", "engine",
               "rows")


class PublishedDataError(ValueError):
    """The published-figures file is malformed."""



def load(path: Optional[str] = None) -> dict:
    """The published figures (validated)."""
    doc = files.read_json(path or DATA_PATH, PublishedDataError)
    validate(doc)
    return doc


def validate(doc: dict) -> None:
    """Raise :class:`PublishedDataError` unless every figure carries its source."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != 1:
        raise PublishedDataError(f"not a {FORMAT} v1 document")
    papers = doc.get("papers")
    if not isinstance(papers, dict) or not papers:
        raise PublishedDataError("'papers' must be a non-empty object")
    for pid, p in papers.items():
        for k in ("citation", "read_from", "setup"):
            if not isinstance(p.get(k), str) or not p[k].strip():
                raise PublishedDataError(f"paper {pid!r}: missing {k!r}")
        if "arXiv:" not in p["citation"]:
            raise PublishedDataError(f"paper {pid!r}: the citation names no arXiv id")
    tables = doc.get("tables")
    if not isinstance(tables, dict) or not tables:
        raise PublishedDataError("'tables' must be a non-empty object")
    for tid, t in tables.items():
        for k in _TABLE_KEYS:
            if k not in t:
                raise PublishedDataError(f"table {tid!r}: missing {k!r}")
        if t["paper"] not in papers:
            raise PublishedDataError(f"table {tid!r}: unknown paper {t['paper']!r}")
        if t["device"] not in sp.DEVICES:
            raise PublishedDataError(f"table {tid!r}: unknown device {t['device']!r}")
        if t["unit"] not in _UNITS:
            raise PublishedDataError(f"table {tid!r}: unit must be one of {_UNITS}")
        _check_threads(tid, t)
        if not isinstance(t["rows"], list) or not t["rows"]:
            raise PublishedDataError(f"table {tid!r}: no rows")
        for i, r in enumerate(t["rows"]):
            where = f"table {tid!r} row {i}"
            if not isinstance(r.get("model"), str) or not r["model"]:
                raise PublishedDataError(f"{where}: missing 'model'")
            v = r.get("value", "missing")
            if v == "missing" or not (v is None or (_num(v) and v > 0)):
                raise PublishedDataError(f"{where}: 'value' must be a positive number or null")
            shape = r.get("input", t.get("input"))
            if not (isinstance(shape, list) and len(shape) == 2 and all(
                    isinstance(s, int) and s > 0 for s in shape)):
                raise PublishedDataError(f"{where}: no input [H, W] on the row or the table")
            if "zoo" not in r:
                raise PublishedDataError(f"{where}: missing 'zoo' (a name or null)")
            if r["zoo"] is None and v is not None and not r.get("note"):
                raise PublishedDataError(f"{where}: an unmapped figure needs a 'note' saying why")


def _check_threads(tid: str, t: dict) -> None:
    """``threads`` is a positive integer, or null when ``threads_note`` says why the source
    gives no thread count."""
    th = t["threads"]
    if th is None:
        if not isinstance(t.get("threads_note"), str) or not t["threads_note"].strip():
            raise PublishedDataError(f"table {tid!r}: threads null needs a 'threads_note'")
    elif isinstance(th, bool) or not isinstance(th, int) or th < 1:
        raise PublishedDataError(f"table {tid!r}: threads must be a positive integer or null")


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def figures(doc: Optional[dict] = None) -> pd.DataFrame:
    """One row per published figure, each with its source: ``set`` (table id), ``citation``,
    ``table``, ``device``, ``threads``, ``batch``, ``engine``, ``model``, ``input_h``/``input_w``,
    ``value`` and ``unit`` as published, ``ms`` (time per image), ``zoo`` (or None) and ``note``."""
    doc = doc or load()
    rows = []
    for tid, t in doc["tables"].items():
        paper = doc["papers"][t["paper"]]
        for i, r in enumerate(t["rows"]):
            h, w = r.get("input") or t["input"]
            v = r.get("value")
            rows.append({
                "set": tid, "pos": i, "paper": t["paper"], "citation": paper["citation"],
                "table": t["table"], "device": t["device"], "device_text": t["device_text"],
                "threads": t["threads"], "batch": t.get("batch"), "engine": t["engine"],
                "model": r["model"], "level": r.get("level"), "mflops": r.get("mflops"),
                "input_h": h, "input_w": w, "value": v, "unit": t["unit"],
                "ms": _to_ms(v, t["unit"]), "zoo": r.get("zoo"), "note": r.get("note", ""),
            })
    return pd.DataFrame(rows)


def _to_ms(v, unit: str) -> float:
    if v is None:
        return float("nan")
    return float(v) if unit == "ms" else 1000.0 / float(v)


def guideline_figures() -> Tuple[pd.DataFrame, Dict[str, Callable]]:
    """ShuffleNetV2 Tables 1-4, ARM column (from ``paper_tables.json``), one row per network,
    and the builders of those networks (by ``key``)."""
    from costmodel.guidelines import experiments as ex
    paper = ex.paper_tables()
    rows, builders = [], {}
    for v in ex.plan():
        if v.platform not in ("arm", "both") or v.paper_arm is None:
            continue
        key = f"{v.table}|{v.column}|{v.label}|{v.channels}"
        builders[key] = v.build
        t = paper["tables"][v.table]
        rows.append({
            "set": "snv2_guidelines", "pos": len(rows), "paper": "shufflenet_v2",
            "citation": paper["paper"], "table": t["table"] + " (ARM column)",
            "device": "snapdragon_810", "device_text": paper["platforms"]["arm"], "threads": 1,
            "batch": None, "engine": "the authors' in-house Neon library (unnamed)",
            "model": f"{v.table} {v.column}: {v.label} {v.channels}", "level": None,
            "mflops": v.analytic.flops / 1e6, "input_h": v.input_shape[2],
            "input_w": v.input_shape[3], "value": v.paper_arm, "unit": "images/s",
            "ms": 1000.0 / v.paper_arm, "zoo": None, "note": v.note, "builder": key,
            "group": f"{v.table} {v.column}", "guideline": v.table,
            "input_c": v.input_shape[1],
        })
    return pd.DataFrame(rows), builders
