"""The Markdown report and JSON of the published-ARM comparison, and :func:`run`, which writes
them (``costmodel arm published --out reports/arm/published.md``)."""
from __future__ import annotations

import json
import math
import os
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from costmodel import fileio
from costmodel.arm import spec_profiles as sp
from costmodel.arm.published.comparison import (PREDICTOR_LABELS, PREDICTORS, SHARE_KINDS, SHORT,
                                                TIE, CompSet, Comparison, baseline_rows, compare,
                                                flipped_pairs, kind_shares, res_label,
                                                summary_value)
from costmodel.arm.published.data import load
from costmodel.arm.published.figure import plot
from costmodel.arm.published.markdown import fmt as _f, table as _md

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
    base = baseline_rows(cs)
    header = ["network", "input", "zoo model (madds M)", "published", "ms"]
    header += [f"{SHORT[p]} ms (scaled)" for p in PREDICTORS]
    header += ["published / baseline"] + [f"{SHORT[p]} / baseline" for p in ("flops", "emu_call")]
    out = []
    for i, r in rows.iterrows():
        b = base[i]
        line = [r["model"], res_label(r),
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
    rows = [[r["set"], r["model"], res_label(r), _f(r["value"], 1) if pd.notna(r["value"]) else "-",
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


def _emulation_files() -> str:
    """The emulated timing files behind :data:`~costmodel.arm.spec_profiles.EMULATION_FITS`."""
    return ", ".join(f"`reports/arm/{os.path.basename(p)}`" for p in sp.EMULATION_FILES)


def _emulation_layers() -> str:
    return f"{sum(f['layers'] for f in sp.EMULATION_FITS.values()):,}"


def _effective_ipc(device: str = "snapdragon_810") -> float:
    """Instructions per cycle at which the reference kind reaches the NEON peak."""
    return sp.instruction_rate(device) / (sp.DEVICES[device]["clock_ghz"] * 1e9)


def render_markdown(cmp: Comparison, plot_name: Optional[str] = None, shares: bool = True,
                    fewshot: Sequence[str] = ()) -> str:
    """The report; ``fewshot``: the few-shot section's lines
    (:func:`costmodel.arm.published.fewshot_report.render`), placed before the spec-profile
    comparison."""
    s = cmp.summary
    doc = load()
    parts = ["# Published ARM speeds against costmodel's spec-based predictions", "",
             "Generated by `costmodel arm published --out reports/arm/published.md` "
             "(`costmodel/arm/published/`); data with citations in "
             "`costmodel/arm/published_arm.json`, device profiles in "
             "`costmodel/arm/spec_profiles.py`.  Nothing here was measured on an ARM device: the "
             "published figures are the papers', the predictions come from public "
             "specifications of the cores (and, for two of the three costmodel variants, from "
             "aarch64 instruction counts of an emulated core, not from timings).", ""]
    if fewshot:
        parts += [("The first section gives absolute device times from k real timings "
                   "(few-shot profiles, leave-one-out); the sections after it compare the "
                   "spec-based profiles, which predict orderings and ratios only (one scale "
                   "factor per set is fitted to the published times before MAPE)."), ""]
        parts += list(fewshot)
        parts += ["# Spec-based profiles (no device timing)", ""]
    parts += ["## Predictors", "",
              "* **FLOPs-only**: time proportional to the network's multiply-adds (as counted by "
              "costmodel), one scale factor per comparison set.",
              "* **costmodel: spec roofline** (`variant='roofline'`): per op "
              "`max(madds / peak, mac_bytes / DRAM bandwidth)`, summed; peak = 4 fp32 "
              "multiply-adds per cycle x clock of one big core; no per-op overhead.",
              "* **costmodel: + emulated per-kind rates** (`'emu'`): as above, but each op kind "
              "computes at the rate its aarch64 kernel's *instruction count* implies "
              f"({_emulation_files()} merged, {_emulation_layers()} distinct layers; torch 2.10 "
              "kernels under QEMU), with the instruction rate set so that the pointwise "
              "convolution runs at the NEON peak (an effective "
              f"{_effective_ipc():.2f} instructions per cycle).  Derived from emulation counts, "
              "not timings.",
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



def _shares_md(df: pd.DataFrame) -> str:
    header = ["network", "madds M", "predicted ms (at spec)"] + [f"{k} %" for k in SHARE_KINDS]
    header += ["other %"]
    rows = [[r["model"], _f(r["madds_m"], 1), _f(r["pred_ms"], 1)]
            + [_f(r[k], 1) for k in SHARE_KINDS] + [_f(r["other"], 1)] for _, r in df.iterrows()]
    return _md(header, rows)



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
    g1 = summary_value(s, "snv2_G1", "emu_call", "tau_b")
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
            f"ordered right in {summary_value(s, 'snv2_G2', 'emu', 'pair_acc') * 100:.0f}% of pairs.  "
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



def _findings(cmp: Comparison) -> List[str]:
    """Plain-language findings computed from the summary (no hand-typed numbers)."""
    s = cmp.summary
    out = []
    net = [cs.key for cs in cmp.sets
           if not cs.key.startswith("snv2_G") and not cs.key.endswith("_all")]
    gl = [cs.key for cs in cmp.sets if cs.key.startswith("snv2_G")]

    def mean(keys, p, col):
        v = [summary_value(s, k, p, col) for k in keys]
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
            fr = {p: summary_value(s, key, p, "frac_of_spec") for p in ("flops", "emu_call")}
            out.append(f"* {next(cs.title for cs in cmp.sets if cs.key == key)}: the engine "
                       f"reached {fr['flops'] * 100:.0f}% of the NEON fp32 peak on average "
                       f"(FLOPs-only scale) and {fr['emu_call'] * 100:.0f}% of the 'emu+call' "
                       f"prediction.")
    out += _worse_than_flops(cmp)
    out += _reversed_claims(cmp)
    for cs in cmp.sets:
        if cs.key != "snv2_table8":
            continue
        only_b, only_a = flipped_pairs(cs)
        fmt = lambda ps: "; ".join(f"{a} slower than {b}" for a, b in ps) or "none"  # noqa: E731
        out.append(f"* {cs.title}: pairs the 'emu+call' profile orders as published but "
                   f"FLOPs-only does not ({len(only_b)}): {fmt(only_b)}.  Pairs FLOPs-only gets "
                   f"right and 'emu+call' does not ({len(only_a)}): {fmt(only_a)}.")
    return out



def _worse_than_flops(cmp: Comparison) -> List[str]:
    """Where the emulation-derived variants score worse than FLOPs-only (MAPE or median
    pair-ratio error): the sets on which "the emulated rates improve the prediction" fails."""
    s = cmp.summary
    out = []
    for cs in cmp.sets:
        parts = []
        for p in ("emu", "emu_call"):
            for col, what in (("mape", "MAPE"), ("ratio_err_med", "pair-ratio error")):
                v, f = summary_value(s, cs.key, p, col), summary_value(s, cs.key, "flops", col)
                if math.isfinite(v) and math.isfinite(f) and round(v, 1) > round(f, 1):
                    parts.append(f"{SHORT[p]} {what} {v:.1f}% vs FLOPs {f:.1f}%")
        if parts:
            out.append(f"{cs.title}: " + ", ".join(parts))
    if not out:
        return ["* The emulation-derived variants score at least as well as FLOPs-only on MAPE "
                "and pair-ratio error in every set."]
    return ["* **Not better than FLOPs-only everywhere**: the emulation-derived variants have a "
            "larger error than FLOPs-only on " + "; ".join(out) + "."]


def _reversed_claims(cmp: Comparison) -> List[str]:
    """Papers' statements (slower / faster) whose order a predictor reverses beyond the tie."""
    out = []
    for _, r in cmp.claims.iterrows():
        if r["published"] <= 1 + TIE:
            continue
        rev = [f"{SHORT[p]} {r[p]:.2f}" for p in PREDICTORS if r[p] < 1 / (1 + TIE)]
        if rev:
            out.append(f"{r['slower']} / {r['faster']} (published {r['published']:.2f}; "
                       + ", ".join(rev) + ")")
    if not out:
        return []
    return ["* **Reversed**: predictors that put the paper's slower network ahead (time ratio "
            "slower / faster below 1): " + "; ".join(out) + "."]


def to_json(cmp: Comparison) -> dict:
    keep = ["set", "model", "input_h", "input_w", "value", "unit", "ms", "zoo", "device", "madds"]
    keep += [f"pred_{p}" for p in PREDICTORS]
    fr = cmp.frame[cmp.frame["pred_flops"].notna()][keep]
    return {"summary": json.loads(cmp.summary.to_json(orient="records")),
            "claims": json.loads(cmp.claims.to_json(orient="records")),
            "figures": json.loads(fr.to_json(orient="records")),
            "predicted_ms_are": "at the spec peak, before any scale fit"}


def run(out: Optional[str] = None, plot_path: Optional[str] = None,
        json_path: Optional[str] = None, progress: Optional[Callable[[str], None]] = None,
        fewshot: bool = True) -> str:
    """Compare, write the markdown (``out``; returned), the plots and the JSON.  With
    ``fewshot`` the leave-one-out evaluation of few-shot profiles
    (:mod:`costmodel.arm.published.evaluation`) comes first, with one plot per device next to
    ``out`` (``<out stem>_fewshot_<device>.png``)."""
    from costmodel.arm.published import evaluation, fewshot_figure, fewshot_report
    cmp = compare(progress=progress)
    if out and plot_path is None:
        plot_path = os.path.splitext(out)[0] + ".png"
    plot_name = None
    base = os.path.dirname(os.path.abspath(out)) if out else None
    if plot_path:
        plot(cmp, plot_path)
        plot_name = os.path.relpath(plot_path, base) if out else plot_path
    section, ev = [], None
    if fewshot:
        ev = evaluation.evaluate(progress=progress)
        plots = {}
        if plot_path:
            stem = os.path.splitext(plot_path)[0]
            paths = fewshot_figure.plot_all(ev, lambda d: f"{stem}_fewshot_{d}.png")
            plots = {d: (os.path.relpath(p, base) if out else p) for d, p in paths.items()}
        section = fewshot_report.render(ev, plots)
    text = render_markdown(cmp, plot_name, fewshot=section)
    if out:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        fileio.write_text(out, text)
    if json_path:
        doc = to_json(cmp)
        if ev is not None:
            doc["fewshot"] = {"summary": json.loads(ev.summary.to_json(orient="records")),
                              "claims": json.loads(ev.claims.to_json(orient="records")),
                              "skipped": json.loads(ev.skipped.to_json(orient="records"))}
        fileio.write_text(json_path, json.dumps(doc, indent=1) + "\n")
    return text
