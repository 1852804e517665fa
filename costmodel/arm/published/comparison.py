"""Predicting the published ARM figures and scoring each predictor against them.

:func:`compare` predicts every mapped network on the paper's device with the spec-based profiles
of :mod:`costmodel.arm.spec_profiles` (three variants) and with a FLOPs-only predictor, groups the
figures into comparison sets and scores each predictor on each set (see the package docstring for
the metrics); :func:`claims_table` turns the papers' own statements into time ratios.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from costmodel.arm import spec_profiles as sp
from costmodel.arm.published.data import figures, guideline_figures

#: predictor names; ``flops`` is time proportional to multiply-adds
PREDICTORS = ("flops",) + sp.VARIANTS
PREDICTOR_LABELS = {"flops": "FLOPs-only", "roofline": "costmodel: spec roofline",
                    "emu": "costmodel: + emulated per-kind rates",
                    "emu_call": "costmodel: + emulated rates + per-call cost"}
SHORT = {"flops": "FLOPs", "roofline": "roofline", "emu": "emu", "emu_call": "emu+call"}


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


def res_label(r) -> str:
    return f"{int(r['input_h'])}x{int(r['input_w'])}"


def comparison_sets(df: pd.DataFrame) -> List[CompSet]:
    ok = df[df["pred_flops"].notna() & df["ms"].notna()].copy()
    ok["res"] = [res_label(r) for _, r in ok.iterrows()]
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


def baseline_rows(cs: CompSet) -> List[int]:
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
        base = baseline_rows(cs)
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
    f = f[pd.Series([res_label(r) == res for _, r in f.iterrows()], index=f.index, dtype=bool)]
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
    ("snv2_table8", "mobilenet_v1_x0_25", "shufflenet_v2_x0_5",
     "ShuffleNetV2 Table 8: 0.25 MobileNet v1 vs ShuffleNet v2 0.5x (40M level)"),
    ("mnv2_table4", "mobilenet_v1_x1_0", "mobilenet_v2_x1_0",
     "MobileNetV2 Table 4: MobileNetV1 vs MobileNetV2 on the Pixel 1"),
    ("mnv2_table4", "mobilenet_v2_x1_4", "mobilenet_v2_x1_0",
     "MobileNetV2 Table 4: MobileNetV2 1.4 vs 1.0"),
    ("proxyless_pixel1", "proxylessnas_gpu", "proxylessnas_mobile",
     "ProxylessNAS specialization (authors' Hub page): the GPU-searched model is slower on the "
     "Pixel 1 than the mobile-searched one (124 vs 78 ms)"),
    ("proxyless_pixel1", "proxylessnas_cpu", "proxylessnas_mobile",
     "the same, CPU-searched model (116 vs 78 ms)"),
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


SHARE_MODELS = ("shufflenet_v2_x1_0", "shufflenet_v1_g3_x1_0", "mobilenet_v1_x0_5",
                "mobilenet_v2_x1_0", "mobilenet_v1_x0_25", "shufflenet_v2_x0_5")
SHARE_KINDS = ("pointwise_conv", "depthwise_conv", "group_conv", "conv", "linear", "pool", "act")


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
        for k in SHARE_KINDS:
            r[k] = float(by.get(k, 0.0)) / total * 100
        r["other"] = 100 - sum(r[k] for k in SHARE_KINDS)
        rows.append(r)
    return pd.DataFrame(rows)



def flipped_pairs(cs: CompSet, a: str = "flops", b: str = "emu_call", rel_tie: float = TIE
                  ) -> Tuple[List[Tuple[str, str]], List[Tuple[str, str]]]:
    """(pairs ``b`` orders as published but ``a`` does not, pairs ``a`` gets right but ``b``
    does not), each as (slower, faster) by the published times."""
    rows = cs.rows.reset_index(drop=True)
    only_b, only_a = flipped_indices(rows["ms"].to_numpy(float),
                                     rows[f"pred_{a}"].to_numpy(float),
                                     rows[f"pred_{b}"].to_numpy(float), cs.groups, rel_tie)

    def labels(pairs):
        return [(_label(rows.loc[s]), _label(rows.loc[f])) for s, f in pairs]
    return labels(only_b), labels(only_a)


def flipped_indices(pub: Sequence[float], pa: Sequence[float], pb: Sequence[float],
                    groups: Optional[Sequence] = None, rel_tie: float = TIE
                    ) -> Tuple[List[Tuple[int, int]], List[Tuple[int, int]]]:
    """(index pairs prediction ``pb`` orders as the published ``pub`` but ``pa`` does not, pairs
    ``pa`` gets right but ``pb`` does not), each as (slower, faster) by the published times;
    values within ``rel_tie`` of each other are ties (a predicted tie is not right)."""
    pub, pa, pb = (np.asarray(v, float) for v in (pub, pa, pb))
    only_b, only_a = [], []
    for i, j in _pairs(groups, len(pub)):
        sp_ = _sign(pub[i] - pub[j], max(pub[i], pub[j]), rel_tie)
        if sp_ == 0:
            continue
        ok_a = _sign(pa[i] - pa[j], max(pa[i], pa[j]), rel_tie) == sp_
        ok_b = _sign(pb[i] - pb[j], max(pb[i], pb[j]), rel_tie) == sp_
        pair = (i, j) if sp_ > 0 else (j, i)
        if ok_b and not ok_a:
            only_b.append(pair)
        elif ok_a and not ok_b:
            only_a.append(pair)
    return only_b, only_a


def _label(r) -> str:
    return r["zoo"] if isinstance(r["zoo"], str) else r["model"]


def summary_value(s: pd.DataFrame, key: str, p: str, col: str) -> float:
    g = s[(s["set"] == key) & (s["predictor"] == p)]
    return float(g[col].iloc[0]) if len(g) else float("nan")
