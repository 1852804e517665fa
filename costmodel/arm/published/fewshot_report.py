"""The few-shot section of ``reports/arm/published.md``: leave-one-out scores per published table
and k, the floors (k = 5 against FLOPs-only), the papers' headline pairs, skipped rows, plots.
Every number is computed from the :class:`~costmodel.arm.published.evaluation.Evaluation`."""
from __future__ import annotations

import math
import os
from typing import Dict, List, Optional

import numpy as np

from costmodel.arm import emulation_features as ef
from costmodel.arm import fewshot
from costmodel.arm.published.evaluation import DRAWS, KS, PREDICTOR_LABELS, PREDICTORS, SHORT, \
    Evaluation, _ir, value
from costmodel.arm.published.comparison import TIE, flipped_indices
from costmodel.arm.published.markdown import fmt, table

FLOOR_K = 5
FLOOR_N = 5
HEADLINE = ("snv2_table8", "mobilenet_v1_x0_25", "shufflenet_v2_x0_5")


def _cell(s, key, k, p, col, d=1) -> str:
    v = value(s, key, k, p, col)
    if not math.isfinite(v):
        return "-"
    lo, hi = value(s, key, k, p, col + "_p25"), value(s, key, k, p, col + "_p75")
    if col == "pair_acc":
        return f"{v:.2f}" if abs(hi - lo) < 0.005 else f"{v:.2f} ({lo:.2f}-{hi:.2f})"
    return f"{v:.{d}f}" if abs(hi - lo) < 0.05 else f"{v:.{d}f} ({lo:.0f}-{hi:.0f})"


def scores_table(ev: Evaluation) -> str:
    s = ev.summary
    header = ["set", "n", "k", "params", "draws"]
    header += [f"{SHORT[p]} MAPE %" for p in PREDICTORS]
    header += [f"{SHORT[p]} within 10% (%)" for p in PREDICTORS]
    header += [f"{SHORT[p]} pair acc" for p in PREDICTORS]
    rows = []
    for es in ev.sets:
        for k in KS:
            if (es.key, k) not in ev.results:
                continue
            d = len(ev.results[(es.key, k)].pred["fewshot"])
            rows.append([es.title, len(es.rows), k, fewshot.n_params(k) if k else "0 (spec)", d]
                        + [_cell(s, es.key, k, p, "mape") for p in PREDICTORS]
                        + [_cell(s, es.key, k, p, "within10", 0) for p in PREDICTORS]
                        + [_cell(s, es.key, k, p, "pair_acc") for p in PREDICTORS])
    return table(header, rows)


def floors(ev: Evaluation) -> List[dict]:
    """Per set with >= FLOOR_N networks and a k = FLOOR_K result: does the few-shot profile beat
    FLOPs-only on median MAPE, and not lose on median pair-order accuracy?"""
    s = ev.summary
    out = []
    for es in ev.sets:
        if len(es.rows) < FLOOR_N:
            continue
        k = FLOOR_K if (es.key, FLOOR_K) in ev.results else max(
            (kk for (key, kk) in ev.results if key == es.key), default=None)
        if k is None:
            continue
        m = {p: value(s, es.key, k, p, "mape") for p in PREDICTORS}
        a = {p: value(s, es.key, k, p, "pair_acc") for p in PREDICTORS}
        out.append({"set": es.key, "title": es.title, "n": len(es.rows), "k": k,
                    "mape": m, "pair_acc": a,
                    "beats_mape": m["fewshot"] < m["flops"],
                    "keeps_order": a["fewshot"] >= a["flops"] - 1e-9})
    return out


def _floor_lines(ev: Evaluation) -> List[str]:
    out = []
    for f in floors(ev):
        ok = f["beats_mape"] and f["keeps_order"]
        kk = "" if f["k"] == FLOOR_K else f" (k={f['k']}: only {f['n']} networks)"
        verdict = "**holds**" if ok else "**fails**"
        what = []
        if not f["beats_mape"]:
            what.append("MAPE not below FLOPs-only")
        if not f["keeps_order"]:
            what.append("pair order below FLOPs-only")
        out.append(f"* {f['title']} (n={f['n']}){kk}: {verdict}: few-shot MAPE "
                   f"{f['mape']['fewshot']:.1f}% vs FLOPs {f['mape']['flops']:.1f}% "
                   f"(FLOPs+MAC {fmt(f['mape']['flops_mac'], 1)}%), pair acc "
                   f"{f['pair_acc']['fewshot']:.2f} vs {f['pair_acc']['flops']:.2f}"
                   + (f" ({'; '.join(what)})" if what else "") + ".")
    return out


def _k_curve(ev: Evaluation, key: str, p: str = "fewshot") -> str:
    return ", ".join(f"k={k} {value(ev.summary, key, k, p, 'mape'):.1f}%"
                     for k in KS if (key, k) in ev.results
                     and math.isfinite(value(ev.summary, key, k, p, "mape")))


def reversed_pairs(ev: Evaluation, key: str, k: int) -> List[tuple]:
    """(slower, faster, published ratio, few-shot ratio) of every pair of set ``key`` that the
    published times separate (beyond the comparison's tie margin) and that the few-shot median
    prediction at ``k`` orders the other way or puts within that margin, while the FLOPs-only
    median keeps the order."""
    es = next(e for e in ev.sets if e.key == key)
    res = ev.results[(key, k)]
    t = es.rows["ms"].to_numpy(float)
    fs, fl = (np.nanmedian(res.pred[p], axis=0) for p in ("fewshot", "flops"))
    names = list(es.rows["zoo"])
    if es.rows[["input_h", "input_w"]].drop_duplicates().shape[0] > 1:  # pooled input sizes
        names = [f"{z} {int(h)}x{int(w)}" for z, h, w in
                 zip(names, es.rows["input_h"], es.rows["input_w"])]
    only_flops, _ = flipped_indices(t, fs, fl, None, TIE)
    return [(names[i], names[j], t[i] / t[j], fs[i] / fs[j]) for i, j in sorted(only_flops)]


def _why_lines(ev: Evaluation) -> List[str]:
    """For each set that fails the floor: the MAPE of every predictor against k, and whether the
    k = 5 loss is variance (k = 3 and k = 10 do better) or bias (the model does not fit)."""
    out = []
    s = ev.summary
    for f in floors(ev):
        if f["beats_mape"] and f["keeps_order"]:
            continue
        key = f["set"]
        m = {k: value(s, key, k, "fewshot", "mape") for k in KS}
        fl = {k: value(s, key, k, "flops", "mape") for k in KS}
        line = (f"* Why {f['title']} loses: few-shot MAPE by k {_k_curve(ev, key)}; FLOPs-only "
                f"{_k_curve(ev, key, 'flops')}; FLOPs+MAC {_k_curve(ev, key, 'flops_mac')}.")
        if math.isfinite(m[3]) and m[5] > m[3]:
            line += (f"  Going from k=3 (2 parameters) to k=5 (3 parameters: s, m_fixed, m_thin) "
                     "makes it worse: the third parameter is poorly determined by 5 random "
                     "networks of the table (consistent with variance rather than bias, since "
                     "k=10 recovers)")
            if math.isfinite(m[10]) and m[10] < fl[10]:
                line += f"; with k=10 it beats FLOPs-only ({m[10]:.1f}% vs {fl[10]:.1f}%)"
            line += "."
        if not f["keeps_order"]:
            pairs = reversed_pairs(ev, key, f["k"])
            if pairs:
                line += ("  Pairs the few-shot median prediction reverses or ties (within 2%) "
                         "while FLOPs-only keeps them (published / predicted time ratio, "
                         "slower / faster): "
                         + "; ".join(f"{a} vs {b} {pr:.2f} / {fr:.2f}" for a, b, pr, fr in pairs)
                         + ".")
        fm = value(s, key, FLOOR_K, "flops_mac", "mape")
        if math.isfinite(fm) and fm < f["mape"]["fewshot"]:
            line += (f"  The 2-parameter FLOPs+MAC baseline ({fm:.1f}%) beats both at k=5 on this "
                     "table: the paper's engine's time follows multiply-adds and memory traffic "
                     "more closely than torch's per-kind instruction mix.")
        out.append(line)
    return out


def full_fit_ratio(ev: Evaluation, key: str, slower: str, faster: str,
                   n: Optional[int] = None) -> Dict[str, float]:
    """The headline pair's predicted ratio when the profile is fitted on *every* network of the
    set, the pair included (in-sample, all :data:`fewshot.LADDER` parameters): the best the
    model's features allow, not a leave-one-out figure."""
    es = next((e for e in ev.sets if e.key == key), None)
    if es is None:
        return {}
    t = es.rows["ms"].to_numpy(float)
    f = fewshot.fit(es.X, t, _ir(es.device), n=n or len(fewshot.LADDER))
    p = f.predict(es.X)
    z = list(es.rows["zoo"])
    return {"ratio": float(p[z.index(slower)] / p[z.index(faster)]),
            "mape": float(np.mean(np.abs(p - t) / t) * 100), **f.params()}


def _headline_line(ev: Evaluation) -> List[str]:
    key, slow, fast = HEADLINE
    c = ev.claims
    g = c[(c["set"] == key) & (c["slower"] == slow) & (c["faster"] == fast)]
    if not len(g):
        return [f"* The headline pair {fast} / {slow} is not in the evaluation (a network lacks "
                "emulation counts or a published time)."]
    pub = float(g["published"].iloc[0])
    ks = [int(k) for k in g["k"] if k <= FLOOR_K]
    kept = {int(r["k"]): (r["fewshot"], r["fewshot_kept"]) for _, r in g.iterrows()}
    rep = [k for k in ks if kept[k][0] > 1]
    ff = full_fit_ratio(ev, key, slow, fast)
    es = next(e for e in ev.sets if e.key == key)
    z = list(es.rows["zoo"])
    X = {n: es.X[z.index(n)] for n in (slow, fast)}
    parts = ", ".join(f"k={k}: {kept[k][0]:.2f} ({kept[k][1]:.0f}% of draws in the published "
                      "order)" for k in sorted(kept))
    line = (f"* **Headline pair** (ShuffleNetV2 Table 8, Snapdragon 810): {fast} published "
            f"{pub:.2f}x faster than {slow} (time ratio {slow} / {fast} = {pub:.2f}).  Few-shot "
            f"median predicted ratio: {parts}.  ")
    if rep:
        line += f"**Reproduced** (ratio > 1) at k = {', '.join(map(str, rep))}."
    else:
        terms = fewshot.TERMS
        line += (f"**Not reproduced at any k <= {FLOOR_K}** (nor at k = 10).  Why: in "
                 "emulated instructions (millions; " + "; ".join(
                     f"{n}: " + ", ".join(f"{tn} {v / 1e6:.1f}" for tn, v in zip(terms, X[n]))
                     for n in (fast, slow)) + ") the faster network issues more instructions "
                 "in every term except the thin (depthwise/grouped) one, so only a thin "
                 "multiplier far above the rest of the table's could flip the pair.  Fitted on "
                 f"all {len(es.rows)} networks of the table, pair included (in-sample, all "
                 f"{len(fewshot.LADDER)} parameters: " + ", ".join(
                     f"{k} {v:.2f}" for k, v in ff.items() if k not in ("ratio", "mape"))
                 + f"; MAPE {ff['mape']:.1f}%) the predicted ratio is still {ff['ratio']:.2f}: "
                 "the table as a whole says depthwise layers are *not* slower per instruction "
                 "than dense ones, while this pair needs the 8-256-channel layers of 0.25 "
                 "MobileNet v1 to be ~1.6x slower per multiply-add than ShuffleNet v2 0.5x's; "
                 "no per-kind rate expresses that (it would take a channel-width feature).")
    return [line]


def _skipped_md(ev: Evaluation) -> str:
    sk = ev.skipped
    no_emu = sk[sk["reason"].str.startswith("no emulation counts")]
    lines = []
    if len(no_emu):
        lines.append("**Rows skipped because their network has no emulation counts** (add it to "
                     "an `arm_neoverse-n1_*.json` file with `costmodel arm run`):")
        lines.append("")
        lines.append(table(["table", "row", "zoo", "input"],
                           [[r["set"], r["model"], r["zoo"], r["input"]]
                            for _, r in no_emu.iterrows()]))
    else:
        lines.append("Every row that maps to a zoo network and has a published time has "
                     "emulation counts; none was skipped for lack of them.")
    other = sk[~sk.index.isin(no_emu.index)]
    if len(other):
        counts = other.groupby(["set", other["reason"].str.split(" \\(").str[0]]).size()
        lines += ["", "Other rows not evaluated (no zoo architecture or no published time; "
                  "reasons per row in the 'Published figures not compared' section): "
                  + "; ".join(f"{s}: {n} {r}" for (s, r), n in counts.items()) + "."]
    return "\n".join(lines)


def render(ev: Evaluation, plots: Dict[str, str]) -> List[str]:
    """The section's Markdown lines; ``plots`` {device: relative path of its PNG}."""
    files = ", ".join(f"`{os.path.basename(p)}`" for p in ev.emulation_files)
    n_models = len({n.split(" ")[0] for n in ev.feature_notes})
    scaled = sorted(n for n, how in ev.feature_notes.items() if how.startswith("scaled"))
    parts = ["## Few-shot device profiles: k real timings, leave-one-out", "",
             "How fast on *this* device, from as few timings of it as possible: "
             "`costmodel calibrate --from-emulation --timings board.json --out profile.json` "
             "fits a profile (`costmodel/arm/fewshot.py`) that starts from the emulated aarch64 "
             "instruction counts and is corrected with k timings of the device; the profile is "
             "a normal `costmodel-profile` file for `costmodel predict --profile`.", "",
             f"* **Features** (`costmodel/arm/emulation_features.py`): per network, the emulated "
             f"instructions ({files}, every such file in `reports/arm`, merged) split into a "
             "fixed per-call part (each op key's fitted set-up instructions) and the variable "
             "rest per kind group: " + "; ".join(f"`{g}` = {ef.GROUP_LABELS[g]}"
                                                  for g in ef.GROUPS)
             + ".  BatchNorm, identity and dropout are folded (zero).  "
             f"{n_models} networks of the tables have counts.",
             "* **Model**: `t = s (V_dense + m_thin V_thin + m_movement V_movement + "
             "m_memory V_memory + m_fixed F) / IR`, `IR` the spec instruction rate of the paper's "
             "device (k = 0 is the spec-based profile: absolute times from public "
             "specifications, no timing).  With k timings the first `min(5, (k+1)//2)` "
             "parameters of (s, m_fixed, m_thin, m_movement, m_memory) are fitted (k=1: 1, k=3: "
             "2, k=5: 3, k=10: 5; fewer than k from k=2), MAP in log time with a ridge prior "
             f"toward 1 (timing scatter {fewshot.SIGMA_T:.0%}, kind-group multipliers within "
             f"{math.exp(fewshot.SIGMA_M):.0f}x, m_fixed within "
             f"{math.exp(fewshot.SIGMA_FIXED):.0f}x: "
             "another engine's per-call set-up is least like torch's).  The widths were chosen "
             "after these tables had been seen (m_fixed's prior was 2x wide as well, and the kind "
             "groups were revised twice), so the scores below are not a held-out test.",
             "* **Baselines on the same k timings**: FLOPs-only `t = a madds` (k = 0: madds at "
             "the spec NEON peak) and linear FLOPs+MAC `t = a madds + b mac_bytes` "
             "(non-negative least squares on relative error, k >= 2).",
             "* **Leave-one-out**: per set and k, each network is predicted from k timings of "
             f"*other* networks of the same set: every k-subset when there are at most {DRAWS}, "
             f"else {DRAWS} seeded random subsets; scores per draw, reported as the median "
             "(25-75% over draws in brackets).  MAPE is of the absolute predictions (no scale "
             "fit afterwards); pair acc over all pairs of the set that the published times "
             "separate by more than 2%.  Sets: one per table and input size, plus 'all sizes' "
             "for tables with several.",
             "* **Other input sizes** (ShuffleNetV2 Appendix Table 1, ShuffleNetV1 Table 8 at "
             "480x640 and larger): not emulated there; each layer keeps its emulated count and "
             "adds its op key's per-unit slope times its change in units (the network traced at "
             "the new input): " + (", ".join(scaled) if scaled else "none") + ".", ""]
    parts += ["### Where it holds (floor: k = 5, sets with >= 5 networks)", ""]
    parts += _floor_lines(ev)
    parts += _why_lines(ev)
    parts += _headline_line(ev)
    parts += ["", "### Scores per set and k", "", scores_table(ev), "",
              "### The papers' headline pairs, leave-one-out", "",
              "Published and median predicted time ratio slower / faster (each network "
              "predicted without its own timing); 'kept' = share of draws in the published "
              "order.", "", claims_md(ev), "", "### Rows not evaluated", "", _skipped_md(ev), ""]
    for dev, path in plots.items():
        parts += [f"![{dev}: published vs leave-one-out predicted]({path})", ""]
    return parts


def claims_md(ev: Evaluation) -> str:
    c = ev.claims
    header = ["claim", "k", "published"] + [f"{SHORT[p]}" for p in PREDICTORS] + [
        f"{SHORT[p]} kept %" for p in PREDICTORS]
    rows = [[r["claim"], int(r["k"]), f"{r['published']:.2f}"]
            + [fmt(r[p]) for p in PREDICTORS] + [fmt(r[p + "_kept"], 0) for p in PREDICTORS]
            for _, r in c.iterrows()]
    return table(header, rows)


def labels() -> str:
    return "; ".join(f"{SHORT[p]}: {PREDICTOR_LABELS[p]}" for p in PREDICTORS)
