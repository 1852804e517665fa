"""Published ARM speeds of ShuffleNetV2, ShuffleNetV1 and MobileNetV2, against costmodel.

The data (:data:`DATA_PATH`, ``published_arm.json``) holds, with their sources, the network speeds
that three papers measured on phone CPUs: ShuffleNetV2 (arXiv:1807.11164) Table 8 and Appendix
Table 1 on a Snapdragon 810, ShuffleNetV1 (arXiv:1707.01083) Table 8 on a Snapdragon 820, and
MobileNetV2 (arXiv:1801.04381) Table 4 on a Pixel 1.  ShuffleNetV2's guideline micro-benchmarks
(Tables 1-4, Snapdragon 810) are read from ``costmodel/guidelines/paper_tables.json``.

:func:`compare` predicts every mapped network on the paper's device with the spec-based profiles
of :mod:`costmodel.arm.spec_profiles` (three variants) and with a FLOPs-only predictor (time
proportional to multiply-adds), and scores each predictor against the published figures:

* ``tau_b``: Kendall's tau-b between predicted and published times (ties count as ties);
* ``pair_acc``: pairwise-order accuracy, the fraction of pairs the paper separates that the
  predictor orders the same way (a predicted tie counts one half);
* ``ratio_err_med``: median over pairs of the error of the predicted time ratio against the
  published one, ``exp(|ln(p_i/p_j) - ln(t_i/t_j)|) - 1`` in percent;
* ``mape``: mean absolute percentage error after one global scale factor per comparison set
  (the geometric mean of published / predicted), and ``frac_of_spec``: the inverse of that scale,
  the fraction of the spec-predicted speed the paper's engine reached.

Pair metrics only pair figures of the same *group* (e.g. one column of a guideline table, one
input resolution), so sets whose rows were designed with equal FLOPs are judged on their order
within the column.  ``costmodel arm published --out reports/arm/published.md`` writes the report
and its plot.
"""
from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from costmodel.arm import spec_profiles as sp
from costmodel.latency import files

DATA_PATH = os.path.join(os.path.dirname(__file__), "published_arm.json")
FORMAT = "costmodel-published-arm"
#: predictor name -> label; ``flops`` is time proportional to multiply-adds
PREDICTORS = ("flops",) + sp.VARIANTS
PREDICTOR_LABELS = {"flops": "FLOPs-only", "roofline": "costmodel: spec roofline",
                    "emu": "costmodel: + emulated per-kind rates",
                    "emu_call": "costmodel: + emulated rates + per-call cost"}
SHORT = {"flops": "FLOPs", "roofline": "roofline", "emu": "emu", "emu_call": "emu+call"}
_UNITS = ("ms", "images/s")
_TABLE_KEYS = ("paper", "table", "title", "device", "device_text", "threads", "unit", "engine",
               "rows")


class PublishedDataError(ValueError):
    """The published-figures file is malformed."""


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------
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
        if not isinstance(t["threads"], int) or t["threads"] < 1:
            raise PublishedDataError(f"table {tid!r}: threads must be a positive integer")
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


# ---------------------------------------------------------------------------------------------
# ranking metrics
# ---------------------------------------------------------------------------------------------
def _pairs(groups: Optional[Sequence] = None, n: int = 0) -> List[Tuple[int, int]]:
    if groups is None:
        groups = [0] * n
    groups = list(groups)
    return [(i, j) for i in range(len(groups)) for j in range(i + 1, len(groups))
            if groups[i] == groups[j]]


def _sign(d: float, scale: float, rel_tie: float) -> int:
    return 0 if abs(d) <= rel_tie * scale else (1 if d > 0 else -1)


def kendall_tau_b(x: Sequence[float], y: Sequence[float], groups: Optional[Sequence] = None,
                  rel_tie: float = 1e-9) -> float:
    """Kendall's tau-b over the pairs of the same group (all pairs without ``groups``).
    Values closer than ``rel_tie`` (relative) are ties.  NaN when undefined (all tied)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    c = d = tx = ty = n0 = 0
    for i, j in _pairs(groups, len(x)):
        if np.isnan(x[[i, j]]).any() or np.isnan(y[[i, j]]).any():
            continue
        n0 += 1
        sx = _sign(x[i] - x[j], max(abs(x[i]), abs(x[j])), rel_tie)
        sy = _sign(y[i] - y[j], max(abs(y[i]), abs(y[j])), rel_tie)
        tx += sx == 0
        ty += sy == 0
        if sx and sy:
            c += sx == sy
            d += sx != sy
    den = math.sqrt((n0 - tx) * (n0 - ty))
    return (c - d) / den if den > 0 else float("nan")


def pairwise_accuracy(published: Sequence[float], predicted: Sequence[float],
                      groups: Optional[Sequence] = None, rel_tie: float = 1e-9
                      ) -> Tuple[float, int, int]:
    """(accuracy, pairs judged, predicted ties): over the pairs the published figures separate,
    1 per pair ordered the same way, 1/2 per predicted tie, 0 per reversal."""
    p, q = np.asarray(published, float), np.asarray(predicted, float)
    score = 0.0
    n = ties = 0
    for i, j in _pairs(groups, len(p)):
        if np.isnan(p[[i, j]]).any() or np.isnan(q[[i, j]]).any():
            continue
        sp_ = _sign(p[i] - p[j], max(p[i], p[j]), rel_tie)
        if sp_ == 0:
            continue
        sq = _sign(q[i] - q[j], max(q[i], q[j]), rel_tie)
        n += 1
        if sq == 0:
            ties += 1
            score += 0.5
        elif sq == sp_:
            score += 1
    return (score / n if n else float("nan")), n, ties


def pair_ratio_errors(published: Sequence[float], predicted: Sequence[float],
                      groups: Optional[Sequence] = None) -> np.ndarray:
    """Per pair: ``exp(|ln(p_i/p_j) - ln(t_i/t_j)|) - 1`` (relative error of the predicted time
    ratio against the published one, as a fraction)."""
    p, q = np.log(np.asarray(published, float)), np.log(np.asarray(predicted, float))
    out = [math.expm1(abs((q[i] - q[j]) - (p[i] - p[j])))
           for i, j in _pairs(groups, len(p))
           if np.isfinite([p[i], p[j], q[i], q[j]]).all()]
    return np.asarray(out, float)


def scale_fit(published: Sequence[float], predicted: Sequence[float]) -> float:
    """One factor ``s`` minimising the squared log error of ``s * predicted`` vs ``published``
    (the geometric mean of their ratios)."""
    p, q = np.asarray(published, float), np.asarray(predicted, float)
    ok = np.isfinite(p) & np.isfinite(q) & (p > 0) & (q > 0)
    return float(np.exp(np.mean(np.log(p[ok] / q[ok])))) if ok.any() else float("nan")


def mape(published: Sequence[float], predicted: Sequence[float]) -> float:
    p, q = np.asarray(published, float), np.asarray(predicted, float)
    ok = np.isfinite(p) & np.isfinite(q) & (p > 0)
    return float(np.mean(np.abs(q[ok] - p[ok]) / p[ok]) * 100) if ok.any() else float("nan")


def metrics(published: Sequence[float], predicted: Sequence[float],
            groups: Optional[Sequence] = None, rel_tie: float = 1e-9) -> Dict[str, float]:
    """Every score of one predictor on one comparison set (times: lower is faster); values
    closer than ``rel_tie`` (relative) are ties, on either side."""
    s = scale_fit(published, predicted)
    acc, n_pairs, ties = pairwise_accuracy(published, predicted, groups, rel_tie)
    r = pair_ratio_errors(published, predicted, groups)
    return {"n": int(np.isfinite(np.asarray(published, float)).sum()), "pairs": n_pairs,
            "tau_b": kendall_tau_b(published, predicted, groups, rel_tie), "pair_acc": acc,
            "pred_ties": ties,
            "ratio_err_med": float(np.median(r) * 100) if len(r) else float("nan"),
            "ratio_err_max": float(np.max(r) * 100) if len(r) else float("nan"),
            "mape": mape(published, s * np.asarray(predicted, float)),
            "scale": s, "frac_of_spec": 1.0 / s if s and math.isfinite(s) else float("nan")}


# ---------------------------------------------------------------------------------------------
# predictions
# ---------------------------------------------------------------------------------------------
def _op_table(model, shape):
    from costmodel.latency.features import op_table
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return op_table(model, shape)[0]


def predict_frame(df: pd.DataFrame, builders: Optional[Dict[str, Callable]] = None,
                  progress: Optional[Callable[[str], None]] = None,
                  cache: Optional[Dict[tuple, pd.DataFrame]] = None) -> pd.DataFrame:
    """Add ``madds``, ``zoo_madds_m`` and a spec-predicted time per predictor (``pred_flops``,
    ``pred_roofline``, ``pred_emu``, ``pred_emu_call``, ms at the spec peak) to the rows that have
    a published time and a network (``zoo`` or ``builder``)."""
    from costmodel.latency.predict import predict_table
    from costmodel.zoo import registry
    builders = builders or {}
    profiles = {}
    cache = {} if cache is None else cache  # (zoo name or builder key, shape) -> op table
    out = df.copy()
    for c in ["madds"] + [f"pred_{p}" for p in PREDICTORS]:
        out[c] = np.nan
    for idx, r in out.iterrows():
        zoo, key = r.get("zoo"), r.get("builder")
        if (not isinstance(zoo, str) and not isinstance(key, str)) or not np.isfinite(r["ms"]):
            continue
        cin = int(r["input_c"]) if "input_c" in r and pd.notna(r.get("input_c")) else 3
        shape = (1, cin, int(r["input_h"]), int(r["input_w"]))
        ck = (zoo if isinstance(zoo, str) else key, shape)
        if ck not in cache:
            if progress:
                progress(f"{ck[0]} {'x'.join(map(str, shape))}")
            model = registry.create(zoo) if isinstance(zoo, str) else builders[key]()
            cache[ck] = _op_table(model, shape)
        table = cache[ck]
        dev = r["device"]
        madds = float(table["madds"].sum())
        out.at[idx, "madds"] = madds
        out.at[idx, "pred_flops"] = madds / sp.peak_madds_per_s(dev) * 1e3
        for v in sp.VARIANTS:
            if (dev, v) not in profiles:
                profiles[(dev, v)] = sp.spec_profile(dev, v)
            out.at[idx, f"pred_{v}"] = predict_table(table, profiles[(dev, v)], 1)[1]
    return out


# ---------------------------------------------------------------------------------------------
# comparison sets
# ---------------------------------------------------------------------------------------------
@dataclass
class CompSet:
    key: str
    title: str
    device: str
    rows: pd.DataFrame  # rows with a published time and predictions
    groups: Optional[List] = None  # pair only within these groups (None: all pairs)
    baseline: Optional[str] = None  # zoo name (or model label) of each group's baseline row
    note: str = ""


def _res(r) -> str:
    return f"{int(r['input_h'])}x{int(r['input_w'])}"


def comparison_sets(df: pd.DataFrame) -> List[CompSet]:
    ok = df[df["pred_flops"].notna() & df["ms"].notna()].copy()
    ok["res"] = [_res(r) for _, r in ok.iterrows()]
    sets: List[CompSet] = []
    t8 = ok[ok["set"] == "snv2_table8"]
    if len(t8):
        sets.append(CompSet("snv2_table8", "ShuffleNetV2 Table 8 (Snapdragon 810, 224x224)",
                            "snapdragon_810", t8, None, "shufflenet_v2_x1_0"))
    a1 = ok[ok["set"] == "snv2_appendix_table1"]
    for res in dict.fromkeys(a1["res"]):
        g = a1[a1["res"] == res]
        sets.append(CompSet(f"snv2_appendix_{res}", f"ShuffleNetV2 App. Table 1 at {res}",
                            "snapdragon_810", g, None, "shufflenet_v2_x1_0"))
    if len(a1):
        sets.append(CompSet("snv2_appendix_all", "ShuffleNetV2 App. Table 1, all three sizes",
                            "snapdragon_810", a1, None, None,
                            "pairs across input sizes included"))
    s1 = ok[ok["set"] == "snv1_table8"]
    for res in dict.fromkeys(s1["res"]):
        g = s1[s1["res"] == res]
        sets.append(CompSet(f"snv1_table8_{res}", f"ShuffleNetV1 Table 8 at {res} (Snapdragon 820)",
                            "snapdragon_820", g, None, "alexnet"))
    if len(s1):
        sets.append(CompSet("snv1_table8_all", "ShuffleNetV1 Table 8, all three sizes",
                            "snapdragon_820", s1, None, None, "pairs across input sizes included"))
    m4 = ok[ok["set"] == "mnv2_table4"]
    if len(m4):
        sets.append(CompSet("mnv2_table4", "MobileNetV2 Table 4 (Pixel 1, TF-Lite)", "pixel_1", m4,
                            None, "mobilenet_v2_x1_0", "3 networks: 3 pairs"))
    gl = ok[ok["set"] == "snv2_guidelines"]
    for gt in dict.fromkeys(gl.get("guideline", pd.Series(dtype=object))):
        g = gl[gl["guideline"] == gt]
        sets.append(CompSet(f"snv2_{gt}", f"ShuffleNetV2 {g['table'].iloc[0].split(' (')[0]} "
                            f"({gt}, ARM, within columns)", "snapdragon_810", g,
                            list(g["group"]), None,
                            "pairs within each width column; rows of a column have equal FLOPs"))
    return sets


def _baseline_rows(cs: CompSet) -> List[int]:
    """Index (into cs.rows) of each row's baseline: the set's baseline model in the row's group
    (or input size), else the group's first row."""
    rows = cs.rows.reset_index(drop=True)
    grp = cs.groups if cs.groups is not None else list(rows["res"])
    out = []
    for i in range(len(rows)):
        members = [j for j in range(len(rows)) if grp[j] == grp[i]]
        base = [j for j in members if cs.baseline is not None and rows.loc[j, "zoo"] == cs.baseline]
        out.append(base[0] if base else members[0])
    return out


@dataclass
class Comparison:
    frame: pd.DataFrame  # every figure, with predictions
    sets: List[CompSet]
    summary: pd.DataFrame  # one row per (set, predictor)
    claims: pd.DataFrame
    extra: Dict[str, object] = field(default_factory=dict)


#: relative difference under which two times count as tied (published or predicted), as in the
#: guideline experiments' order comparison (costmodel.guidelines.experiments.compare_order)
TIE = 0.02


def score_sets(sets: Sequence[CompSet], rel_tie: float = TIE) -> pd.DataFrame:
    rows = []
    for cs in sets:
        pub = cs.rows["ms"].to_numpy(float)
        base = _baseline_rows(cs)
        for p in PREDICTORS:
            pred = cs.rows[f"pred_{p}"].to_numpy(float)
            m = metrics(pub, pred, cs.groups, rel_tie)
            be = [abs((pred[i] / pred[b]) / (pub[i] / pub[b]) - 1) * 100
                  for i, b in enumerate(base) if i != b]
            m["base_ratio_err_med"] = float(np.median(be)) if be else float("nan")
            rows.append({"set": cs.key, "title": cs.title, "device": cs.device,
                         "predictor": p, **m})
    return pd.DataFrame(rows)


def _ratio(frame, set_key, zoo_a, zoo_b, res="224x224"):
    f = frame[(frame["set"] == set_key) & frame["pred_flops"].notna()]
    if not len(f):
        return None
    f = f[pd.Series([_res(r) == res for _, r in f.iterrows()], index=f.index, dtype=bool)]
    a, b = f[f["zoo"] == zoo_a], f[f["zoo"] == zoo_b]
    if not len(a) or not len(b):
        return None
    a, b = a.iloc[0], b.iloc[0]
    out = {"published": a["ms"] / b["ms"], "madds": a["madds"] / b["madds"]}
    for p in PREDICTORS:
        out[p] = a[f"pred_{p}"] / b[f"pred_{p}"]
    return out


#: statements the papers make about their own ARM figures, as time ratios (slower / faster)
CLAIMS = [
    ("snv1_table8", "alexnet", "shufflenet_v1_g3_x0_5",
     "ShuffleNetV1 Sec. 4.5: ShuffleNet 0.5x 'achieves ~13x actual speedup' over AlexNet "
     "(theoretical 18x)"),
    ("snv1_table8", "shufflenet_v1_g3_x1_0", "shufflenet_v1_g3_x0_5",
     "ShuffleNetV1 Sec. 4.5: 'every 4x theoretical complexity reduction usually results in ~2.6x "
     "actual speedup' (1x vs 0.5x)"),
    ("snv1_table8", "shufflenet_v1_g3_x2_0", "shufflenet_v1_g3_x1_0",
     "the same, 2x vs 1x"),
    ("snv1_table8", "mobilenet_v1_x1_0", "shufflenet_v1_g3_x2_0",
     "ShuffleNetV1 Table 8: 1.0 MobileNet vs ShuffleNet 2x (569M vs 524M FLOPs)"),
    ("snv2_table8", "mobilenet_v2_x1_0", "shufflenet_v2_x1_5",
     "ShuffleNetV2 Sec. 4: on ARM 'MobileNet v2 is much slower' (300M level)"),
    ("snv2_table8", "mobilenet_v2_x1_4", "shufflenet_v2_x2_0",
     "the same at the 500M level"),
    ("snv2_table8", "shufflenet_v1_g3_x1_0", "shufflenet_v2_x1_0",
     "ShuffleNetV2 Sec. 4: on ARM ShuffleNet v1 and v2 are 'comparable' (140M level)"),
    ("snv2_table8", "mobilenet_v1_x1_0", "shufflenet_v2_x2_0",
     "ShuffleNetV2 Table 8: 1.0 MobileNet v1 vs ShuffleNet v2 2x (500M level)"),
    ("mnv2_table4", "mobilenet_v1_x1_0", "mobilenet_v2_x1_0",
     "MobileNetV2 Table 4: MobileNetV1 vs MobileNetV2 on the Pixel 1"),
    ("mnv2_table4", "mobilenet_v2_x1_4", "mobilenet_v2_x1_0",
     "MobileNetV2 Table 4: MobileNetV2 1.4 vs 1.0"),
]


def claims_table(frame: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for set_key, a, b, text in CLAIMS:
        r = _ratio(frame, set_key, a, b)
        if r is not None:
            rows.append({"claim": text, "slower": a, "faster": b, **r})
    return pd.DataFrame(rows)


def compare(doc: Optional[dict] = None, guidelines: bool = True,
            progress: Optional[Callable[[str], None]] = None) -> Comparison:
    """Predict every mapped published figure and score every predictor on every set."""
    df = figures(doc)
    builders: Dict[str, Callable] = {}
    if guidelines:
        g, builders = guideline_figures()
        df = pd.concat([df, g], ignore_index=True)
    tables: Dict[tuple, pd.DataFrame] = {}
    frame = predict_frame(df, builders, progress, tables)
    sets = comparison_sets(frame)
    return Comparison(frame, sets, score_sets(sets), claims_table(frame), {"tables": tables})


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------
def _f(v, d=2) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.{d}f}"


def _md(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _headline(summary: pd.DataFrame) -> str:
    header = ["comparison set", "n", "pairs"]
    for p in PREDICTORS:
        header += [f"{SHORT[p]} tau_b", f"{SHORT[p]} pair acc", f"{SHORT[p]} MAPE %"]
    rows = []
    for key, g in summary.groupby("set", sort=False):
        g = g.set_index("predictor")
        r = [g["title"].iloc[0], _f(g["n"].iloc[0]), _f(g["pairs"].iloc[0])]
        for p in PREDICTORS:
            r += [_f(g.loc[p, "tau_b"]), _f(g.loc[p, "pair_acc"]), _f(g.loc[p, "mape"], 1)]
        rows.append(r)
    return _md(header, rows)


def _ratio_table(summary: pd.DataFrame) -> str:
    header = ["comparison set"]
    for p in PREDICTORS:
        header += [f"{SHORT[p]} pair-ratio err % (median)", f"{SHORT[p]} vs-baseline err %",
                   f"{SHORT[p]} % of spec"]
    rows = []
    for key, g in summary.groupby("set", sort=False):
        g = g.set_index("predictor")
        r = [g["title"].iloc[0]]
        for p in PREDICTORS:
            r += [_f(g.loc[p, "ratio_err_med"], 1), _f(g.loc[p, "base_ratio_err_med"], 1),
                  _f(g.loc[p, "frac_of_spec"] * 100, 0)]
        rows.append(r)
    return _md(header, rows)


def _detail(cs: CompSet, summary: pd.DataFrame) -> str:
    sc = summary[summary["set"] == cs.key].set_index("predictor")["scale"]
    rows = cs.rows.reset_index(drop=True)
    base = _baseline_rows(cs)
    header = ["network", "input", "zoo model (madds M)", "published", "ms"]
    header += [f"{SHORT[p]} ms (scaled)" for p in PREDICTORS]
    header += ["published / baseline"] + [f"{SHORT[p]} / baseline" for p in ("flops", "emu_call")]
    out = []
    for i, r in rows.iterrows():
        b = base[i]
        line = [r["model"], _res(r),
                f"{r['zoo'] if isinstance(r['zoo'], str) else '-'} ({_f(r['madds'] / 1e6, 1)})",
                f"{_f(r['value'], 1)} {r['unit']}", _f(r["ms"], 1)]
        line += [_f(r[f"pred_{p}"] * sc[p], 1) for p in PREDICTORS]
        if i == b:
            line += ["baseline", "", ""]
        else:
            line += [_f(r["ms"] / rows.loc[b, "ms"])]
            line += [_f(r[f"pred_{p}"] / rows.loc[b, f"pred_{p}"]) for p in ("flops", "emu_call")]
        out.append(line)
    return _md(header, out)


def _claims_md(claims: pd.DataFrame) -> str:
    header = ["statement", "slower / faster", "published ratio", "madds ratio"]
    header += [SHORT[p] for p in PREDICTORS]
    rows = [[r["claim"], f"{r['slower']} / {r['faster']}", _f(r["published"]), _f(r["madds"])]
            + [_f(r[p]) for p in PREDICTORS] for _, r in claims.iterrows()]
    return _md(header, rows)


def _unmapped(frame: pd.DataFrame) -> str:
    f = frame[(frame["set"] != "snv2_guidelines") & frame["pred_flops"].isna()]
    rows = [[r["set"], r["model"], _res(r), _f(r["value"], 1) if pd.notna(r["value"]) else "-",
             r["note"] or ""] for _, r in f.iterrows()]
    return _md(["table", "network", "input", "published", "why not compared"], rows)


def _device_md() -> str:
    rows = []
    for key, d in sp.DEVICES.items():
        rows.append([key, d["name"], d["cores"], f"{d['clock_ghz']} GHz",
                     f"{d['madds_per_cycle']} ({d['neon_bits']}-bit NEON)",
                     f"{sp.peak_madds_per_s(key) / 1e9:.2f}", f"{d['dram_gbps']} GB/s", d["l2"],
                     d["used_by"]])
    return _md(["device", "core", "cores", "clock", "fp32 madds/cycle", "peak GMAdd/s", "DRAM",
                "L2", "figures"], rows)


def _sources_md() -> str:
    seen, lines = {}, []
    for d in sp.DEVICES.values():
        for k, s in d["sources"].items():
            seen.setdefault(s, []).append(k)
        if d.get("cross_check"):
            seen.setdefault(d["cross_check"], []).append("cross-check")
    for s, ks in seen.items():
        lines.append(f"* ({', '.join(sorted(set(ks)))}) {s}")
    return "\n".join(lines)


def _rates_md() -> str:
    dev = "snapdragon_810"
    ir = sp.instruction_rate(dev)
    ref = sp.EMULATION_FITS[sp.REFERENCE_KEY]["per_unit"]
    dram_elems = sp.DEVICES[dev]["dram_gbps"] * 1e9 / 4
    rows = []
    for key, f in sorted(sp.EMULATION_FITS.items()):
        folded = key.split(":", 1)[0] in sp.FOLDED_KEYS
        s = f["per_unit"]
        if folded:
            rate = call = "folded"
        else:
            if f["per"] == "madd":
                rate = f"{min(1.0, ref / s) * 100:.0f}% of peak" if s > 0 else "peak"
            else:
                rate = (f"{min(ir / s, dram_elems) / 1e9:.2f} G elem/s" if s > 0
                        else "no marginal cost")
            call = f"{f['fixed'] / ir * 1e6:.1f}"
        rows.append([key, f["layers"], f["per"], _f(s, 3), f"{f['fixed']:,.0f}", rate, call])
    return _md(["op key", "layers", "per", "instr / unit", "fixed instr / call",
                "rate (Snapdragon 810, emu)", "call cost us (emu+call, SD810)"], rows)


def render_markdown(cmp: Comparison, plot_name: Optional[str] = None, shares: bool = True) -> str:
    s = cmp.summary
    doc = load()
    parts = ["# Published ARM speeds against costmodel's spec-based predictions", "",
             "Generated by `costmodel arm published --out reports/arm/published.md` "
             "(`costmodel/arm/published.py`); data with citations in "
             "`costmodel/arm/published_arm.json`, device profiles in "
             "`costmodel/arm/spec_profiles.py`.  Nothing here was measured on an ARM device: the "
             "published figures are the papers', the predictions come from public "
             "specifications of the cores (and, for two of the three costmodel variants, from "
             "aarch64 instruction counts of an emulated core, not from timings).", ""]
    parts += ["## Predictors", "",
              "* **FLOPs-only**: time proportional to the network's multiply-adds (as counted by "
              "costmodel), one scale factor per comparison set.",
              "* **costmodel: spec roofline** (`variant='roofline'`): per op "
              "`max(madds / peak, mac_bytes / DRAM bandwidth)`, summed; peak = 4 fp32 "
              "multiply-adds per cycle x clock of one big core; no per-op overhead.",
              "* **costmodel: + emulated per-kind rates** (`'emu'`): as above, but each op kind "
              "computes at the rate its aarch64 kernel's *instruction count* implies "
              "(`reports/arm/arm_neoverse-n1_zoo.json`, torch 2.10 kernels under QEMU), with the "
              "instruction rate set so that the pointwise convolution runs at the NEON peak "
              "(an effective 1.54 instructions per cycle).  Derived from emulation counts, not "
              "timings.",
              "* **costmodel: + emulated rates + per-call cost** (`'emu_call'`): plus each op "
              "kind's fixed instructions per call (torch's dispatch and set-up) at the same rate.",
              "",
              "All costmodel variants fold BatchNorm and dropout (zero cost), as the papers' "
              "engines did.  Every comparison uses one thread and batch 1.  `MAPE` is after one "
              "global scale factor per set and predictor; `% of spec` is the inverse of that "
              "factor: the share of the spec-predicted speed the paper's engine actually reached "
              "(geometric mean).", ""]
    parts += ["## Headline: ordering and error per comparison set", "",
              "`tau_b`: Kendall's tau-b between predicted and published times; `pair acc`: "
              "fraction of the pairs the paper separates that the predictor orders the same way "
              "(a predicted tie counts 1/2); `MAPE`: mean absolute percentage error after the "
              f"scale fit.  Times closer than {TIE * 100:.0f}% count as tied, published or "
              "predicted.  Guideline tables (G1-G4) pair only rows of the same width column, "
              "whose FLOPs the paper held (nearly) equal: FLOPs-only orders them only by the "
              "few-percent differences that channel rounding leaves, or ties them.  Sets marked "
              "'all three sizes' also pair networks across input sizes (easy pairs: a 1080x720 "
              "input is always slower than 320x320).", "", _headline(s), ""]
    if plot_name:
        parts += [f"![published vs predicted]({plot_name})", ""]
    parts += ["## Ratios", "",
              "`pair-ratio err`: median over pairs of the error of the predicted time ratio "
              "against the published ratio; `vs-baseline err`: median error of each network's "
              "time relative to the set's baseline network (ShuffleNet v2 1x, AlexNet, "
              "MobileNetV2 1.0, or the first row of each guideline column); `% of spec`: see "
              "above.", "", _ratio_table(s), ""]
    parts += ["## The papers' own statements, as time ratios", "",
              "Ratio of the slower network's time to the faster one's (224x224), published and "
              "predicted (scale-free).", "", _claims_md(cmp.claims), ""]
    parts += ["## Findings", "", *_findings(cmp), ""]
    parts += ["## Why the predictions agree and disagree", "", *_why(cmp), ""]
    if shares:
        parts += ["### Where the 'emu+call' profile puts the time (Snapdragon 810, 224x224)", "",
                  _shares_md(kind_shares()), ""]
    parts += ["## Per-set detail", ""]
    for cs in cmp.sets:
        if cs.key.endswith("_all"):  # the same rows as the per-size sets
            continue
        parts += [f"### {cs.title}", ""]
        if cs.note:
            parts += [f"{cs.note}.", ""]
        parts += [_detail(cs, s), ""]
    parts += ["## Device profiles from public specifications", "", _device_md(), "",
              "Sources of every number:", "", _sources_md(), "",
              "The DRAM figure is the SoC's peak, shared by all cores; one core alone draws "
              "less, and on-chip caches (2 MB / 1 MB L2) serve most feature maps of these "
              "networks at batch 1.  With these numbers every convolution of the networks here "
              "is compute-bound (see the findings), so the roofline's memory term only matters "
              "for element-wise ops and the batch-1 linear layers.", "",
              "### Emulation-derived per-kind costs (variants `emu`, `emu_call`)", "",
              f"{sp.EMULATION_SOURCE}.  Instruction counts of torch 2.10's aarch64 kernels, not "
              "timings, and not the papers' engines.", "", _rates_md(), ""]
    parts += ["## Published figures not compared", "",
              "Every figure below is in `published_arm.json` with its source, but has no zoo "
              "architecture (or an ambiguous one), or no time.", "", _unmapped(cmp.frame), ""]
    parts += ["## Sources of the published figures", ""]
    for pid, p in doc["papers"].items():
        parts += [f"* **{p['citation']}**. Setup: {p['setup']} Read from: {p['read_from']}."]
    parts += ["* ShuffleNetV2 Tables 1-4: `costmodel/guidelines/paper_tables.json` "
              "(not duplicated in `published_arm.json`).", ""]
    parts += ["## What could not be confirmed", "",
              "* The text of the footnotes marked `*` and `**` in ShuffleNetV2 Table 8 (two "
              "MobileNet v2 re-implementations); those rows are not compared.",
              "* ShuffleNetV2 Table 8's batch size and thread count are taken from Sec. 2 (one "
              "thread) and Fig. 1's caption (ARM batch 1), which describe the same ARM setup; "
              "the Appendix Table 1 'CPU' column is assumed to be that setup too.",
              "* ShuffleNetV1 Table 8 gives no batch size and no engine details (\"our "
              "implementation\"); MobileNetV2 Table 4 gives no input size (224 is implied by its "
              "MAdds).",
              "* The GPU columns of ShuffleNetV2 Tables 8 and Appendix 1 are not shipped (not "
              "ARM).",
              "* NASNet-A, PNASNet-5, DenseNet/Xception/MobileNet v2 re-implementations, IGCV2/3, "
              "CondenseNet and SE-ShuffleNet v2 have no zoo architecture: their figures are "
              "shipped but not predicted.",
              "* Kryo's FMA throughput comes from LLVM's Kryo machine model, not from a "
              "Qualcomm document; a published microbenchmark (vfpbench) measured 61% of it with "
              "a latency-bound test.  No single-core DRAM bandwidth figure was found for either "
              "core, and no public L2 bandwidth figure was used.", ""]
    return "\n".join(parts)


SHARE_MODELS = ("shufflenet_v2_x1_0", "shufflenet_v1_g3_x1_0", "mobilenet_v1_x0_5",
                "mobilenet_v2_x1_0", "mobilenet_v1_x0_25", "shufflenet_v2_x0_5")
_SHARE_KINDS = ("pointwise_conv", "depthwise_conv", "group_conv", "conv", "linear", "pool", "act")


def kind_shares(models: Sequence[str] = SHARE_MODELS, device: str = "snapdragon_810",
                variant: str = "emu_call", shape=(1, 3, 224, 224)) -> pd.DataFrame:
    """Where a spec profile puts each network's predicted time: share per op kind (percent)."""
    from costmodel.latency.predict import predict_table
    from costmodel.zoo import registry
    prof = sp.spec_profile(device, variant)
    rows = []
    for name in models:
        layers, total, _ = predict_table(_op_table(registry.create(name), shape), prof, 1)
        by = layers.groupby("kind")["pred_ms"].sum()
        r = {"model": name, "pred_ms": total, "madds_m": layers["madds"].sum() / 1e6}
        for k in _SHARE_KINDS:
            r[k] = float(by.get(k, 0.0)) / total * 100
        r["other"] = 100 - sum(r[k] for k in _SHARE_KINDS)
        rows.append(r)
    return pd.DataFrame(rows)


def _shares_md(df: pd.DataFrame) -> str:
    header = ["network", "madds M", "predicted ms (at spec)"] + [f"{k} %" for k in _SHARE_KINDS]
    header += ["other %"]
    rows = [[r["model"], _f(r["madds_m"], 1), _f(r["pred_ms"], 1)]
            + [_f(r[k], 1) for k in _SHARE_KINDS] + [_f(r["other"], 1)] for _, r in df.iterrows()]
    return _md(header, rows)


def flipped_pairs(cs: CompSet, a: str = "flops", b: str = "emu_call", rel_tie: float = TIE
                  ) -> Tuple[List[Tuple[str, str]], List[Tuple[str, str]]]:
    """(pairs ``b`` orders as published but ``a`` does not, pairs ``a`` gets right but ``b``
    does not), each as (slower, faster) by the published times."""
    rows = cs.rows.reset_index(drop=True)
    pub = rows["ms"].to_numpy(float)
    pa, pb = rows[f"pred_{a}"].to_numpy(float), rows[f"pred_{b}"].to_numpy(float)
    only_b, only_a = [], []
    for i, j in _pairs(cs.groups, len(rows)):
        sp_ = _sign(pub[i] - pub[j], max(pub[i], pub[j]), rel_tie)
        if sp_ == 0:
            continue
        ok_a = _sign(pa[i] - pa[j], max(pa[i], pa[j]), rel_tie) == sp_
        ok_b = _sign(pb[i] - pb[j], max(pb[i], pb[j]), rel_tie) == sp_
        slow, fast = (i, j) if sp_ > 0 else (j, i)
        lab = (_label(rows.loc[slow]), _label(rows.loc[fast]))
        if ok_b and not ok_a:
            only_b.append(lab)
        elif ok_a and not ok_b:
            only_a.append(lab)
    return only_b, only_a


def _label(r) -> str:
    return r["zoo"] if isinstance(r["zoo"], str) else r["model"]


def _claim(cmp: Comparison, slower: str, faster: str) -> Dict[str, float]:
    c = cmp.claims
    r = c[(c["slower"] == slower) & (c["faster"] == faster)]
    return r.iloc[0].to_dict() if len(r) else {}


def _min_conv_intensity(cmp: Comparison, set_key: str = "snv2_table8") -> Tuple[float, str]:
    """Lowest multiply-adds per byte of any convolution in the set's networks."""
    best = (math.inf, "")
    tables = cmp.extra.get("tables", {})
    zoos = set(cmp.frame.loc[(cmp.frame["set"] == set_key) & cmp.frame["pred_flops"].notna(),
                             "zoo"])
    for (name, shape), t in tables.items():
        if name not in zoos or shape[2:] != (224, 224):
            continue
        conv = t[t["kind"].str.contains("conv") & (t["mac_bytes"] > 0)]
        if len(conv):
            i = (conv["madds"] / conv["mac_bytes"]).to_numpy()
            k = int(np.argmin(i))
            if i[k] < best[0]:
                best = (float(i[k]), f"{conv['kind'].iloc[k]} in {name}")
    return best


def _why(cmp: Comparison) -> List[str]:
    s = cmp.summary
    out = []
    out.append("* **FLOPs already order whole networks well.**  Within one table the networks "
               "span up to 18x in multiply-adds and the papers' engines ran the families at "
               "broadly similar speed per multiply-add, so any predictor that follows "
               "multiply-adds orders most pairs right.  What is left are pairs at the same "
               "complexity level, where the papers' point is that FLOPs mislead.")
    bal = sp.peak_madds_per_s("snapdragon_810") / (sp.DEVICES["snapdragon_810"]["dram_gbps"] * 1e9)
    lo, where = _min_conv_intensity(cmp)
    g1 = _get(s, "snv2_G1", "emu_call", "tau_b")
    text = (f"* **The spec roofline adds little.**  The Snapdragon 810 core's balance point is "
            f"{bal:.2f} multiply-adds per byte of DRAM traffic")
    if math.isfinite(lo):
        text += (f"; the least intense convolution of the Table 8 networks ({where}) has "
                 f"{lo:.2f}, so every convolution is compute-bound and the roofline is the FLOPs "
                 "predictor plus small element-wise and linear-layer terms")
    text += "."
    if math.isfinite(g1):
        text += ("  It cannot reproduce Table 1 (G1): the paper's 1:1 vs 1:12 difference comes "
                 "from cache and blocking behaviour a DRAM roofline does not see; and channel "
                 "rounding leaves the 1:1 row with the most FLOPs of its column, so every "
                 f"predictor orders G1 mostly backwards (tau_b {g1:.2f}).")
    out.append(text)
    a = _claim(cmp, "mobilenet_v1_x1_0", "mobilenet_v2_x1_0")
    b = _claim(cmp, "alexnet", "shufflenet_v1_g3_x0_5")
    c = _claim(cmp, "mobilenet_v2_x1_0", "shufflenet_v2_x1_5")
    d = _claim(cmp, "mobilenet_v2_x1_4", "shufflenet_v2_x2_0")
    f = sp.EMULATION_FITS
    if a and b and c and d:
        out.append(
            "* **Per-kind rates from the emulation counts help with ratios more than with the "
            "papers' headline orderings.**  They slow down depthwise and grouped convolutions "
            "and the batch-1 linear layers: MobileNetV1 / MobileNetV2 on the Pixel 1 goes from "
            f"FLOPs' {a['flops']:.2f} to {a['emu']:.2f} ('emu') and {a['emu_call']:.2f} "
            f"('emu+call'), published {a['published']:.2f}; AlexNet / ShuffleNet 0.5x on the "
            f"Snapdragon 820 from {b['flops']:.1f} to {b['emu_call']:.1f} with per-call costs, "
            f"published {b['published']:.1f}; the group-convolution rows of Table 2 (G2) are "
            f"ordered right in {_get(s, 'snv2_G2', 'emu', 'pair_acc') * 100:.0f}% of pairs.  "
            "But the kernels counted are torch 2.10's, not Megvii's in-house Neon code or 2018 "
            f"TF-Lite: torch's aarch64 max pooling ({f['pool:maxpool2d']['per_unit']:.0f} "
            "instructions per element) and depthwise set-up "
            f"({f['depthwise_conv']['fixed'] / 1e3:.0f}k instructions per call) weigh on the "
            "ShuffleNets, while the ShuffleNetV2 paper finds MobileNetV2 'much slower' on ARM: "
            f"{c['published']:.2f}x ShuffleNet v2 1.5x's time and {d['published']:.2f}x 2x's, "
            f"which no predictor here reproduces (at most "
            f"{max(c[p] for p in PREDICTORS):.2f} and {max(d[p] for p in PREDICTORS):.2f}).")
    fr = cmp.frame
    t8 = fr[(fr["set"] == "snv2_table8") & fr["pred_flops"].notna()].set_index("zoo")
    if {"mobilenet_v1_x0_25", "shufflenet_v2_x0_5"} <= set(t8.index):
        m, q = t8.loc["mobilenet_v1_x0_25"], t8.loc["shufflenet_v2_x0_5"]
        pub = (m["ms"] / m["madds"]) / (q["ms"] / q["madds"])
        pred = {p: (m[f"pred_{p}"] / m["madds"]) / (q[f"pred_{p}"] / q["madds"])
                for p in PREDICTORS}
        out.append(
            "* **Unmodelled engine effects.**  Per multiply-add, the paper's engine ran 0.25 "
            f"MobileNet v1 (8-256 channels) {pub:.2f}x slower than ShuffleNet v2 0.5x; the "
            "predictors expect " + ", ".join(f"{SHORT[p]} {pred[p]:.2f}x" for p in PREDICTORS)
            + ".  Thin layers under-fill Neon register blocking in a way no per-kind rate "
            "captures.  Layer fusion (conv+ReLU; concat+shuffle+split, which ShuffleNetV2 Sec. "
            "3 merges), cache residency at batch 1, and the engines' arithmetic (the papers do "
            "not say fp32) are unknown.")
    out.append("* **Single thread.**  Every figure compared is single-threaded (ShuffleNetV1/V2: "
               "stated; MobileNetV2: 'a single large core'), as the profiles are; the little "
               "cores are not modelled.")
    return out


def _get(s: pd.DataFrame, key: str, p: str, col: str) -> float:
    g = s[(s["set"] == key) & (s["predictor"] == p)]
    return float(g[col].iloc[0]) if len(g) else float("nan")


def _findings(cmp: Comparison) -> List[str]:
    """Plain-language findings computed from the summary (no hand-typed numbers)."""
    s = cmp.summary
    out = []
    net = [cs.key for cs in cmp.sets
           if not cs.key.startswith("snv2_G") and not cs.key.endswith("_all")]
    gl = [cs.key for cs in cmp.sets if cs.key.startswith("snv2_G")]

    def mean(keys, p, col):
        v = [_get(s, k, p, col) for k in keys]
        v = [x for x in v if math.isfinite(x)]
        return float(np.mean(v)) if v else float("nan")

    best = {p: mean(net, p, "pair_acc") for p in PREDICTORS}
    out.append("* **Whole networks** (" + str(len(net)) + " sets, one input size each): mean "
               "pairwise-order "
               "accuracy " + ", ".join(f"{PREDICTOR_LABELS[p]} {best[p]:.2f}" for p in PREDICTORS)
               + "; mean MAPE after scaling " + ", ".join(
                   f"{SHORT[p]} {mean(net, p, 'mape'):.0f}%" for p in PREDICTORS) + ".")
    out.append("* **Guideline micro-benchmarks** (G1-G4, within columns): mean pairwise-order "
               "accuracy " + ", ".join(f"{SHORT[p]} {mean(gl, p, 'pair_acc'):.2f}"
                                       for p in PREDICTORS) + " (0.50 = coin flip / all ties).")
    out.append("* **Ratios**: median pair-ratio error, mean over the whole-network sets: "
               + ", ".join(f"{SHORT[p]} {mean(net, p, 'ratio_err_med'):.0f}%"
                           for p in PREDICTORS) + "; over the guideline tables: "
               + ", ".join(f"{SHORT[p]} {mean(gl, p, 'ratio_err_med'):.0f}%"
                           for p in PREDICTORS) + ".")
    for key in ("snv2_table8", "snv1_table8_224x224", "mnv2_table4"):
        if any(cs.key == key for cs in cmp.sets):
            fr = {p: _get(s, key, p, "frac_of_spec") for p in ("flops", "emu_call")}
            out.append(f"* {next(cs.title for cs in cmp.sets if cs.key == key)}: the engine "
                       f"reached {fr['flops'] * 100:.0f}% of the NEON fp32 peak on average "
                       f"(FLOPs-only scale) and {fr['emu_call'] * 100:.0f}% of the 'emu+call' "
                       f"prediction.")
    for cs in cmp.sets:
        if cs.key != "snv2_table8":
            continue
        only_b, only_a = flipped_pairs(cs)
        fmt = lambda ps: "; ".join(f"{a} slower than {b}" for a, b in ps) or "none"  # noqa: E731
        out.append(f"* {cs.title}: pairs the 'emu+call' profile orders as published but "
                   f"FLOPs-only does not ({len(only_b)}): {fmt(only_b)}.  Pairs FLOPs-only gets "
                   f"right and 'emu+call' does not ({len(only_a)}): {fmt(only_a)}.")
    return out


def plot(cmp: Comparison, path: str, predictors: Sequence[str] = ("flops", "emu", "emu_call")):
    """Published vs predicted (after each set's scale fit), log-log, one panel per table."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = [("ShuffleNetV2 Table 8 (SD810)", ["snv2_table8"]),
              ("ShuffleNetV2 App. Table 1 (SD810)",
               [cs.key for cs in cmp.sets if cs.key.startswith("snv2_appendix_")
                and not cs.key.endswith("_all")]),
              ("ShuffleNetV1 Table 8 (SD820)",
               [cs.key for cs in cmp.sets if cs.key.startswith("snv1_table8_")
                and not cs.key.endswith("_all")]),
              ("MobileNetV2 Table 4 (Pixel 1)", ["mnv2_table4"])]
    style = {"flops": ("o", "#888888"), "roofline": ("s", "#1f77b4"), "emu": ("^", "#2ca02c"),
             "emu_call": ("D", "#d62728")}
    fig = Figure(figsize=(16, 9.5))
    FigureCanvasAgg(fig)
    by_key = {cs.key: cs for cs in cmp.sets}
    s = cmp.summary
    for k, (title, keys) in enumerate(panels):
        ax = fig.add_subplot(2, 3, k + 1)
        lo, hi = math.inf, 0.0
        for p in predictors:
            xs, ys = [], []
            for key in keys:
                cs = by_key.get(key)
                if cs is None:
                    continue
                sc = _get(s, key, p, "scale")
                xs += list(cs.rows["ms"])
                ys += list(cs.rows[f"pred_{p}"] * sc)
            if not xs:
                continue
            accs = [_get(s, key, p, "pair_acc") for key in keys if key in by_key]
            acc = np.nanmean(accs) if accs else float("nan")
            m, c = style[p]
            ax.scatter(xs, ys, marker=m, s=28, facecolors="none" if p == "flops" else c,
                       edgecolors=c, label=f"{SHORT[p]} (pair acc {acc:.2f})")
            lo, hi = min(lo, *xs, *ys), max(hi, *xs, *ys)
        if hi > 0:
            ax.plot([lo * 0.8, hi * 1.25], [lo * 0.8, hi * 1.25], color="k", lw=0.8, ls="--")
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("published ms")
        ax.set_ylabel("predicted ms (scaled per set)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="upper left")
        ax.grid(True, which="both", alpha=0.25)
    # guideline tables: time relative to the first row of the same width column (scale-free)
    ax = fig.add_subplot(2, 3, 5)
    lo, hi = math.inf, 0.0
    for p in predictors:
        xs, ys = [], []
        for cs in cmp.sets:
            if not cs.key.startswith("snv2_G"):
                continue
            rows = cs.rows.reset_index(drop=True)
            for i, b in enumerate(_baseline_rows(cs)):
                if i != b:
                    xs.append(rows.loc[i, "ms"] / rows.loc[b, "ms"])
                    ys.append(rows.loc[i, f"pred_{p}"] / rows.loc[b, f"pred_{p}"])
        if xs:
            m, c = style[p]
            ax.scatter(xs, ys, marker=m, s=28, facecolors="none" if p == "flops" else c,
                       edgecolors=c, label=SHORT[p])
            lo, hi = min(lo, *xs, *ys), max(hi, *xs, *ys)
    if hi > 0:
        ax.plot([lo * 0.97, hi * 1.03], [lo * 0.97, hi * 1.03], color="k", lw=0.8, ls="--")
        ax.axhline(1.0, color="k", lw=0.5, ls=":")
        ax.axvline(1.0, color="k", lw=0.5, ls=":")
    ax.set_title("ShuffleNetV2 Tables 1-4 (SD810): time / column's first row", fontsize=10)
    ax.set_xlabel("published ratio")
    ax.set_ylabel("predicted ratio")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper left")
    ax.grid(True, alpha=0.25)

    ax = fig.add_subplot(2, 3, 6)
    sets = [cs.key for cs in cmp.sets if not cs.key.endswith("_all")]
    x = np.arange(len(sets))
    width = 0.8 / len(PREDICTORS)
    for i, p in enumerate(PREDICTORS):
        vals = [_get(s, key, p, "pair_acc") for key in sets]
        ax.bar(x + i * width, vals, width, color=style[p][1], label=SHORT[p])
    ax.axhline(0.5, color="k", lw=0.8, ls=":")
    ax.set_xticks(x + 0.4 - width / 2)
    ax.set_xticklabels([k.replace("snv2_", "v2 ").replace("snv1_table8_", "v1 ")
                        .replace("appendix_", "A1 ").replace("mnv2_table4", "MNv2 T4")
                        .replace("table8", "T8") for k in sets], rotation=60, fontsize=7,
                       ha="right")
    ax.set_ylim(0, 1.2)
    ax.set_ylabel("pairwise-order accuracy")
    ax.set_title("ordering agreement per set", fontsize=10)
    ax.legend(fontsize=7, ncol=4, loc="upper center", framealpha=0.9)
    fig.suptitle("Published ARM speeds vs FLOPs-only and costmodel spec-profile predictions "
                 "(each predictor scaled by one factor per set)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    files.write_figure(path, fig, dpi=110)
    return path


def to_json(cmp: Comparison) -> dict:
    keep = ["set", "model", "input_h", "input_w", "value", "unit", "ms", "zoo", "device", "madds"]
    keep += [f"pred_{p}" for p in PREDICTORS]
    fr = cmp.frame[cmp.frame["pred_flops"].notna()][keep]
    return {"summary": json.loads(cmp.summary.to_json(orient="records")),
            "claims": json.loads(cmp.claims.to_json(orient="records")),
            "figures": json.loads(fr.to_json(orient="records")),
            "predicted_ms_are": "at the spec peak, before any scale fit"}


def run(out: Optional[str] = None, plot_path: Optional[str] = None,
        json_path: Optional[str] = None, progress: Optional[Callable[[str], None]] = None) -> str:
    """Compare, write the markdown (``out``; returned), the plot and the JSON."""
    cmp = compare(progress=progress)
    if out and plot_path is None:
        plot_path = os.path.splitext(out)[0] + ".png"
    plot_name = None
    if plot_path:
        plot(cmp, plot_path)
        plot_name = (os.path.relpath(plot_path, os.path.dirname(os.path.abspath(out)))
                     if out else plot_path)
    text = render_markdown(cmp, plot_name)
    if out:
        files.write_text(out, text)
    if json_path:
        files.write_text(json_path, json.dumps(to_json(cmp), indent=1) + "\n")
    return text
