"""Leave-one-out evaluation of few-shot ARM profiles against the published timings.

Every table of ``published_arm.json`` is read (:func:`evaluation_sets`); its rows are split into
one **evaluation set** per input size, plus one over all sizes when a table has several.  A row
enters a set when it maps to a zoo network, has a time and that network has emulated
instruction counts; every other row is listed with the reason it was skipped.

For each set, each k in :data:`KS` and each network ``i`` (held out), k training networks are
drawn from the *other* networks of the set (:func:`training_subsets`: every k-subset when there
are at most :data:`DRAWS` of them, else :data:`DRAWS` seeded random ones; draw ``d`` of every
held-out network forms one full prediction vector), the profile and the baselines are fitted on
those k timings only (:mod:`costmodel.arm.fewshot`) and predict network ``i``.  Per draw the
set's scores are computed (:func:`draw_scores`), and the report gives their median and the
25-75% range over draws, never one lucky draw.

Scores (times: lower is faster): ``mape`` mean absolute percentage error of the absolute
predictions (no scale fit: the k timings set the scale); ``within10`` share of networks within
+-10%; ``pair_acc`` pairwise-order accuracy over all pairs of the set the published times
separate (:func:`costmodel.arm.published.comparison.pairwise_accuracy`, 2% ties).  The papers'
headline pairs (:data:`costmodel.arm.published.comparison.CLAIMS`) are scored as the predicted
time ratio slower / faster per draw and the share of draws that keep the published order.
"""
from __future__ import annotations

import itertools
import math
import zlib
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from costmodel.arm import emulation_features as ef
from costmodel.arm import fewshot
from costmodel.arm import spec_profiles as sp
from costmodel.arm.published.comparison import CLAIMS, TIE, pairwise_accuracy
from costmodel.arm.published.data import figures

KS = (0, 1, 3, 5, 10)
DRAWS = 40
PREDICTORS = ("fewshot", "flops", "flops_mac")
PREDICTOR_LABELS = {"fewshot": "few-shot profile (emulation prior + k timings)",
                    "flops": "FLOPs-only (t = a x madds)",
                    "flops_mac": "linear FLOPs+MAC (t = a x madds + b x mac_bytes, NNLS)"}
SHORT = {"fewshot": "few-shot", "flops": "FLOPs", "flops_mac": "FLOPs+MAC"}


@dataclass
class EvalSet:
    key: str
    table: str  # table id in published_arm.json
    title: str
    device: str
    rows: pd.DataFrame  # one row per network: model, zoo, input_h/w, ms, features
    X: np.ndarray  # (n, 4) emulation features
    res: Optional[str] = None  # None: all sizes


@dataclass
class SetResult:
    """Predictions of one set at one k: ``pred[p]`` is (draws, n) ms, ``train`` (draws, n, k)
    the training indices each prediction used."""
    key: str
    k: int
    pred: Dict[str, np.ndarray]
    train: np.ndarray
    scores: pd.DataFrame  # one row per (predictor, draw)


@dataclass
class Evaluation:
    sets: List[EvalSet]
    results: Dict[Tuple[str, int], SetResult]
    skipped: pd.DataFrame  # rows not evaluated and why
    summary: pd.DataFrame  # one row per (set, k, predictor): median / p25 / p75 of each score
    claims: pd.DataFrame
    emulation_files: List[str] = field(default_factory=list)
    feature_notes: Dict[str, str] = field(default_factory=dict)


def _res(h, w) -> str:
    return f"{int(h)}x{int(w)}"


def evaluation_sets(doc: Optional[dict] = None, emu: Optional[ef.Emulation] = None,
                    trace=None, progress: Optional[Callable[[str], None]] = None
                    ) -> Tuple[List[EvalSet], pd.DataFrame, Dict[str, str]]:
    """(sets, skipped rows with ``reason``, how each (network, input)'s features were obtained)."""
    emu = emu or ef.load()
    fr = figures(doc)
    tables = (doc or {}).get("tables") if doc else None
    if tables is None:
        from costmodel.arm.published.data import load
        tables = load()["tables"]
    feats, notes, skipped, keep = {}, {}, [], []
    for _, r in fr.iterrows():
        why = None
        if not isinstance(r["zoo"], str):
            why = "no zoo architecture" + (f" ({r['note']})" if r["note"] else "")
        elif not math.isfinite(r["ms"]):
            why = "no published time"
        elif not emu.has(r["zoo"]):
            why = f"no emulation counts for zoo model {r['zoo']}"
        if why is None:
            shape = (1, 3, int(r["input_h"]), int(r["input_w"]))
            ck = (r["zoo"], shape)
            if ck not in feats:
                if progress:
                    progress(f"{r['zoo']} {_res(*shape[2:])}")
                feats[ck], notes[f"{r['zoo']} {_res(*shape[2:])}"] = ef.network_features(
                    emu, r["zoo"], shape, trace)
            keep.append(dict(r, **feats[ck], res=_res(r["input_h"], r["input_w"])))
        else:
            skipped.append({"set": r["set"], "model": r["model"], "zoo": r["zoo"],
                            "input": _res(r["input_h"], r["input_w"]), "reason": why})
    df = pd.DataFrame(keep)
    sets: List[EvalSet] = []
    for tid in dict.fromkeys(fr["set"]):
        t = df[df["set"] == tid] if len(df) else df
        if not len(t):
            continue
        title, dev = tables[tid]["title"].split(":")[0].strip(), tables[tid]["device"]
        resolutions = list(dict.fromkeys(t["res"]))
        for res in resolutions:
            g = t[t["res"] == res].reset_index(drop=True)
            key = tid if len(resolutions) == 1 else f"{tid}_{res}"
            sets.append(EvalSet(key, tid, f"{title}, input {res}" if len(resolutions) > 1 else title,
                                dev, g, ef.feature_matrix(g.to_dict("records")), res))
        if len(resolutions) > 1:
            g = t.reset_index(drop=True)
            sets.append(EvalSet(f"{tid}_all", tid, f"{title}, all {len(resolutions)} sizes", dev,
                                g, ef.feature_matrix(g.to_dict("records")), None))
    return sets, pd.DataFrame(skipped, columns=["set", "model", "zoo", "input", "reason"]), notes


def training_subsets(n: int, i: int, k: int, draws: int = DRAWS, seed: int = 0) -> np.ndarray:
    """(draws', k) training indices for held-out network ``i`` of ``n``: every k-subset of the
    others when there are at most ``draws`` of them (draws' = their number), else ``draws``
    distinct seeded random ones.  Never contains ``i``."""
    others = [j for j in range(n) if j != i]
    if k > len(others):
        raise ValueError(f"k={k} needs {k + 1} networks, the set has {n}")
    total = math.comb(len(others), k)
    if total <= draws:
        out = np.array(list(itertools.combinations(others, k)), int).reshape(total, k)
    else:
        rng = np.random.default_rng(seed)
        seen, rows = set(), []
        while len(rows) < draws:
            s = tuple(sorted(rng.choice(others, size=k, replace=False).tolist()))
            if s not in seen:
                seen.add(s)
                rows.append(s)
        out = np.array(rows, int)
    assert not (out == i).any(), "a held-out network among its own training timings"
    return out


def _ir(device: str) -> Optional[float]:
    return sp.instruction_rate(device) / 1e3 if device in sp.DEVICES else None


def predict_loo(es: EvalSet, k: int, draws: int = DRAWS) -> Tuple[Dict[str, np.ndarray], np.ndarray]:
    """Leave-one-out predictions of every network of ``es`` from k timings of the others."""
    n = len(es.rows)
    t = es.rows["ms"].to_numpy(float)
    madds = es.rows["madds"].to_numpy(float)
    macb = es.rows["mac_bytes"].to_numpy(float)
    ir = _ir(es.device)
    if k == 0:
        pred = {"fewshot": fewshot.prior(ir).predict(es.X)[None, :] if ir else
                np.full((1, n), np.nan),
                "flops": (madds / (sp.peak_madds_per_s(es.device) / 1e3))[None, :]
                if es.device in sp.DEVICES else np.full((1, n), np.nan),
                "flops_mac": np.full((1, n), np.nan)}
        return pred, np.zeros((1, n, 0), int)
    seed = zlib.crc32(f"{es.key}|{k}".encode())
    subs = [training_subsets(n, i, k, draws, seed + i) for i in range(n)]
    d = len(subs[0])
    pred = {p: np.full((d, n), np.nan) for p in PREDICTORS}
    train = np.zeros((d, n, k), int)
    for i in range(n):
        for j, s in enumerate(subs[i]):
            assert i not in s
            train[j, i] = s
            pred["fewshot"][j, i] = fewshot.fit(es.X[s], t[s], ir).predict(es.X[i:i + 1])[0]
            pred["flops"][j, i] = fewshot.fit_flops(madds[s], t[s]) * madds[i]
            if k >= 2:
                a, b = fewshot.fit_flops_mac(madds[s], macb[s], t[s])
                pred["flops_mac"][j, i] = a * madds[i] + b * macb[i]
    return pred, train


def draw_scores(published: np.ndarray, predicted: np.ndarray) -> Dict[str, float]:
    """MAPE (%), share within +-10% (%), pairwise-order accuracy of one prediction vector."""
    p, q = np.asarray(published, float), np.asarray(predicted, float)
    if not np.isfinite(q).all():
        return {"mape": math.nan, "within10": math.nan, "pair_acc": math.nan}
    err = np.abs(q - p) / p
    return {"mape": float(np.mean(err) * 100), "within10": float(np.mean(err <= 0.10) * 100),
            "pair_acc": pairwise_accuracy(p, q, None, TIE)[0]}


def evaluate(doc: Optional[dict] = None, emu: Optional[ef.Emulation] = None, ks=KS,
             draws: int = DRAWS, trace=None, progress=None) -> Evaluation:
    emu = emu or ef.load()
    sets, skipped, notes = evaluation_sets(doc, emu, trace, progress)
    results, summ = {}, []
    for es in sets:
        t = es.rows["ms"].to_numpy(float)
        for k in ks:
            if k > len(es.rows) - 1:
                continue
            pred, train = predict_loo(es, k, draws)
            rows = [{"predictor": p, "draw": j, **draw_scores(t, pred[p][j])}
                    for p in PREDICTORS for j in range(len(pred[p]))]
            sc = pd.DataFrame(rows)
            results[(es.key, k)] = SetResult(es.key, k, pred, train, sc)
            for p, g in sc.groupby("predictor", sort=False):
                r = {"set": es.key, "title": es.title, "table": es.table, "device": es.device,
                     "n": len(es.rows), "k": k, "predictor": p, "draws": len(g)}
                for c in ("mape", "within10", "pair_acc"):
                    v = g[c].dropna()
                    r[c] = float(v.median()) if len(v) else math.nan
                    r[c + "_p25"] = float(v.quantile(0.25)) if len(v) else math.nan
                    r[c + "_p75"] = float(v.quantile(0.75)) if len(v) else math.nan
                summ.append(r)
    ev = Evaluation(sets, results, skipped, pd.DataFrame(summ), pd.DataFrame(),
                    list(emu.files), notes)
    ev.claims = claims_table(ev)
    return ev


def _claim_set(ev: Evaluation, table: str, a: str, b: str) -> Optional[EvalSet]:
    """The per-size set of ``table`` holding both networks (224x224 first)."""
    cands = [es for es in ev.sets if es.table == table and es.res is not None
             and {a, b} <= set(es.rows["zoo"])]
    cands.sort(key=lambda es: es.res != "224x224")
    return cands[0] if cands else None


def claims_table(ev: Evaluation) -> pd.DataFrame:
    """Per headline pair and k: published time ratio slower / faster, median predicted ratio
    (and 25-75%) per predictor, and the share of draws that keep the published order."""
    rows = []
    for table, a, b, text in CLAIMS:
        es = _claim_set(ev, table, a, b)
        if es is None:
            continue
        z = list(es.rows["zoo"])
        ia, ib = z.index(a), z.index(b)
        pub = es.rows["ms"].iloc[ia] / es.rows["ms"].iloc[ib]
        for k in sorted({k for (s, k) in ev.results if s == es.key}):
            res = ev.results[(es.key, k)]
            r = {"claim": text, "set": es.key, "slower": a, "faster": b, "k": k,
                 "published": float(pub)}
            for p in PREDICTORS:
                ratio = res.pred[p][:, ia] / res.pred[p][:, ib]
                ratio = ratio[np.isfinite(ratio)]
                r[p] = float(np.median(ratio)) if len(ratio) else math.nan
                r[p + "_p25"] = float(np.quantile(ratio, 0.25)) if len(ratio) else math.nan
                r[p + "_p75"] = float(np.quantile(ratio, 0.75)) if len(ratio) else math.nan
                same = (ratio > 1) if pub > 1 else (ratio < 1)
                r[p + "_kept"] = float(np.mean(same) * 100) if len(ratio) else math.nan
            rows.append(r)
    return pd.DataFrame(rows)


def value(summary: pd.DataFrame, key: str, k: int, p: str, col: str) -> float:
    g = summary[(summary["set"] == key) & (summary["k"] == k) & (summary["predictor"] == p)]
    return float(g[col].iloc[0]) if len(g) else math.nan
