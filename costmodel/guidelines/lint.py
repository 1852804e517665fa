r"""Guideline linter: ShuffleNetV2's four guidelines (Ma et al. 2018, arXiv:1807.11164, Sec. 2)
checked on a traced model, per layer and per block.

``check(model, input_shape)`` traces the model (meta tensors, nothing computed), then reports:

**G1 - equal channel widths minimize MAC** (per 1x1 layer).  For every stride-1 1x1 convolution
(dense, or grouped with :math:`1 < g < c_1`) with :math:`c_1` input and :math:`c_2` output channels
on an :math:`N \times h \times w` map (:math:`hw` below means :math:`Nhw`), the paper's MAC
:math:`hw(c_1+c_2) + c_1c_2/g` is compared with its lower bound at the same multiply-adds
:math:`B = hwc_1c_2/g`: :math:`2\sqrt{hwBg} + B/hw` (Eq. 1 for :math:`g=1`; equality at
:math:`c_1 = c_2`).  ``excess = MAC / bound - 1``.  For an activation-dominated layer the excess
depends only on the ratio :math:`r = c_2/c_1`: :math:`(1+r)/(2\sqrt r) - 1`, i.e. 6% at 1:2, 25% at
1:4, 43% at 1:6, 88% at 1:12.

**G2 - excessive group convolution increases MAC** (per group-conv layer, :math:`1 < g < c_1`;
depthwise convolutions are ShuffleNetV2's own building block and are left to G4).  At the same
multiply-adds and the same :math:`c_1:c_2` ratio, a dense (``g = 1``) layer has
:math:`1/\sqrt g` of the channels, so its MAC is
:math:`(h_iw_ic_1 + h_ow_oc_2)/\sqrt g + k^2c_1c_2/g`; ``increase = MAC_g / MAC_1 - 1``
(activation-dominated: :math:`\sqrt g - 1`, i.e. +41% at g=2, +73% at g=3, +100% at g=4, +183% at
g=8).  For 1x1 layers ``MAC_g`` is Eq. 2.

**G3 - fragmentation reduces parallelism** (per block).  A block is a child of a stage container
(an exact ``nn.Sequential`` / ``nn.ModuleList`` / ``nn.ModuleDict``; nested containers are
descended; a container of plain leaf layers inside a container is itself a block, one directly
under a custom module is split into its layers) or a child of the root module.  From the
data-flow edges: ``fragments`` = the paper's "number of individual convolution or pooling
operations in one building block" (NASNet-A: 13, ResNet: 2 or 3); ``branches`` /
``compute_branches`` = the largest number of paths that leave one tensor and re-join at one op
(a concat, add, multiply ...) / of those paths that contain a convolution, pooling or matmul
(an identity shortcut is a branch without compute); ``serial_fragments`` = fragments on the
longest path; ``launches`` = ops that run a kernel; ``small_launches`` = launches with fewer than
``small_madds`` multiply-adds and ``small_mac`` MAC elements (on a CPU such an op costs about one
framework dispatch, a few microseconds, whatever its arithmetic).

**G4 - element-wise operations are non-negligible** (per model and per block).  Share of the MAC
(and, with a profile, of the predicted time) spent in element-wise kinds: ``act``,
``elementwise`` (add, mul ...), ``concat``, ``shuffle``, ``copy``, ``shift``.  Batch norm
(``norm``, foldable into the preceding convolution at inference) and depthwise convolutions
(which the paper also counts as element-wise because of their MAC/FLOPs ratio) are reported as
separate shares and not included in the severity.

Severities (``info`` < ``warn`` < ``high``) come from :class:`Thresholds`; every finding names
the layer or block, the guideline, the severity and the numbers behind it.
"""
from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import pandas as pd
import torch.nn as nn

from costmodel import fileio
from costmodel import formulas as fm
from costmodel.analysis import analyze
from costmodel.numfmt import human
from costmodel.tables import LINE_WIDTH, md_table, text_table, wrap_line

SEVERITIES = ("info", "warn", "high")
GUIDELINES = {
    "G1": "equal channel width minimizes memory access cost (MAC)",
    "G2": "excessive group convolution increases MAC",
    "G3": "network fragmentation reduces degree of parallelism",
    "G4": "element-wise operations are non-negligible",
}
#: kinds counted as element-wise for G4
ELEMENTWISE_KINDS = ("act", "elementwise", "concat", "shuffle", "copy", "shift")
#: kinds counted as fragmented operators for G3 (the paper: convolution or pooling)
COMPUTE_KINDS = ("conv", "pointwise_conv", "group_conv", "depthwise_conv", "dilated_conv",
                 "transposed_conv", "linear", "matmul", "pool", "shift", "upsample", "resample")
#: kinds that launch no kernel
FREE_KINDS = ("view", "split", "identity", "unused")
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


@dataclass(frozen=True)
class Thresholds:
    """Severity thresholds (a value at or above a threshold gets that severity).

    G1: MAC excess over the Eq. 1 bound (fraction): info 10% (ratio beyond about 1:2.4), warn 25%
    (about 1:4), high 75% (about 1:10; the paper's worst Table 1 ratio 1:12 is 88%).
    G2: MAC increase over a dense layer with the same multiply-adds: info 10%, warn 25%
    (an activation-dominated g=2 layer: +41%), high 75% (g >= 4: +100% and more).
    G3: parallel compute branches at one join: info 2, warn 3, high 4 (GoogLeNet's Inception
    module, the paper's 4-fragment-parallel); fragments per block in a multi-path block: warn 7,
    high 10 (NASNet-A: 13; ResNet: 2-3).
    G4: element-wise share of MAC: info 20%, warn 35%, high 50% for the model (a ReLU or an add
    reads and writes a whole tensor, so 25-45% is common in CNNs: VGG-16 14%, ResNet-50 34%,
    ShuffleNet V2 37%).  A block gets its own G4 finding only when its share reaches the
    ``high`` level and it holds at least ``g4_block_min_share`` of the model's MAC.
    """

    g1_info: float = 0.10
    g1_warn: float = 0.25
    g1_high: float = 0.75
    g2_info: float = 0.10
    g2_warn: float = 0.25
    g2_high: float = 0.75
    g3_branches_info: int = 2
    g3_branches_warn: int = 3
    g3_branches_high: int = 4
    g3_fragments_warn: int = 7
    g3_fragments_high: int = 10
    g4_info: float = 0.20
    g4_warn: float = 0.35
    g4_high: float = 0.50
    g4_block_min_share: float = 0.02
    small_madds: int = 250_000
    small_mac: int = 50_000


THRESHOLDS = Thresholds()


def _level(value: float, info: float, warn: float, high: float) -> Optional[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if value >= high:
        return "high"
    if value >= warn:
        return "warn"
    if value >= info:
        return "info"
    return None


def g4_block_flagged(block_mac: float, total_mac: float, ew_mac_share: float,
                     t: "Thresholds" = None) -> bool:
    """Whether a block gets its own G4 finding (always at ``high``): its element-wise share of
    MAC reaches ``g4_high`` and it holds at least ``g4_block_min_share`` of the model's MAC
    (element-wise on arrays)."""
    t = t or THRESHOLDS
    return (np.asarray(block_mac) / np.maximum(total_mac, 1) >= t.g4_block_min_share) \
        & (np.asarray(ew_mac_share) >= t.g4_high)


def g4_model_severity(ew_mac_share: float, t: "Thresholds" = None) -> Optional[str]:
    """The severity of the model-level G4 finding for an element-wise share of MAC (None: no
    finding)."""
    t = t or THRESHOLDS
    return _level(ew_mac_share, t.g4_info, t.g4_warn, t.g4_high)


def severity_rank(s: Optional[str]) -> int:
    return -1 if s is None else SEVERITIES.index(s)


@dataclass
class Finding:
    """One guideline violation: where, which guideline, how bad, and the numbers."""

    guideline: str
    severity: str
    scope: str  # "layer", "block" or "model"
    where: str  # layer name, block path or the model name
    block: str
    message: str
    numbers: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"guideline": self.guideline, "severity": self.severity, "scope": self.scope,
                "where": self.where, "block": self.block, "message": self.message,
                "numbers": {k: _jsonable(v) for k, v in self.numbers.items()}}


def _jsonable(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return None if math.isnan(float(v)) else round(float(v), 6)
    return v


# ---------------------------------------------------------------------------------------------
# blocks
# ---------------------------------------------------------------------------------------------
def _is_container(m: nn.Module) -> bool:
    return type(m) in _CONTAINERS


def _all_leaf_children(m: nn.Module) -> bool:
    kids = list(m.children())
    return bool(kids) and all(next(iter(c.children()), None) is None for c in kids)


class BlockResolver:
    """Maps an op's scope (module path) to its block path (see the module doc)."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.cache: Dict[str, str] = {}

    def __call__(self, scope: str) -> str:
        if scope in self.cache:
            return self.cache[scope]
        parts = scope.split(".") if scope else []
        cur = self.model
        block = scope
        for i, part in enumerate(parts):
            parent = cur
            cur = parent._modules.get(part) if hasattr(parent, "_modules") else None
            if cur is None:  # scope not a module path (should not happen): keep what we have
                block = ".".join(parts[:i]) if i else scope
                break
            if _is_container(cur) and not (_is_container(parent) and _all_leaf_children(cur)):
                continue
            block = ".".join(parts[:i + 1])
            break
        self.cache[scope] = block
        return block


# ---------------------------------------------------------------------------------------------
# the linter
# ---------------------------------------------------------------------------------------------
class LintReport:
    """Result of :func:`check`: ``findings`` (list of :class:`Finding`), ``blocks`` (DataFrame,
    one row per block with the G3/G4 metrics), ``layers`` (DataFrame, one row per 1x1 or group
    convolution with the G1/G2 numbers), ``summary`` (model-level G4 shares and counts)."""

    def __init__(self, model_name: str, input_shape, findings: List[Finding], blocks: pd.DataFrame,
                 layers: pd.DataFrame, summary: Dict[str, Any], thresholds: Thresholds,
                 profile: Optional[str] = None):
        self.model_name = model_name
        self.input_shape = list(input_shape)
        order = {s: i for i, s in enumerate(reversed(SEVERITIES))}
        self.findings = sorted(findings, key=lambda f: (f.guideline, order[f.severity]))
        self.blocks = blocks
        self.layers = layers
        self.summary = summary
        self.thresholds = thresholds
        self.profile = profile

    # ------------------------------------------------------------------ queries
    def filter(self, guideline: Optional[str] = None, min_severity: str = "info") -> List[Finding]:
        lo = severity_rank(min_severity)
        return [f for f in self.findings if severity_rank(f.severity) >= lo
                and (guideline is None or f.guideline == guideline)]

    def count(self, guideline: Optional[str] = None, min_severity: str = "info") -> int:
        return len(self.filter(guideline, min_severity))

    def counts(self) -> Dict[str, Dict[str, int]]:
        out = {g: dict.fromkeys(SEVERITIES, 0) for g in GUIDELINES}
        for f in self.findings:
            out[f.guideline][f.severity] += 1
        return out

    def worst(self) -> Optional[str]:
        return max((f.severity for f in self.findings), key=severity_rank, default=None)

    # ------------------------------------------------------------------ exports
    def to_dict(self, min_severity: str = "info") -> dict:
        return {
            "model": self.model_name, "input_shape": self.input_shape,
            "source": "Ma et al. 2018, ShuffleNet V2, arXiv:1807.11164, Sec. 2 (G1-G4)",
            "thresholds": asdict(self.thresholds), "profile": self.profile,
            "summary": {k: _jsonable(v) for k, v in self.summary.items()},
            "counts": self.counts(),
            "findings": [f.to_dict() for f in self.filter(min_severity=min_severity)],
            "blocks": json.loads(self.blocks.to_json(orient="records")),
            "layers": json.loads(self.layers.to_json(orient="records")),
        }

    def to_json(self, path=None, min_severity: str = "info", indent: int = 1) -> str:
        return _write(path, json.dumps(self.to_dict(min_severity), indent=indent))

    def _finding_rows(self, min_severity):
        rows = [["guideline", "severity", "where", "finding"]]
        for f in self.filter(min_severity=min_severity):
            rows.append([f.guideline, f.severity, f.where or "(model)", f.message])
        return rows

    def _block_rows(self):
        head = ["block", "type", "fragments", "branches", "compute br.", "serial", "launches",
                "small", "madds", "mac", "ew mac %"]
        if "ew_time_share" in self.blocks:
            head.append("ew time %")
        rows = [head]
        for r in self.blocks.itertuples(index=False):
            row = [r.block or "(top)", r.type, str(r.fragments), str(r.branches),
                   str(r.compute_branches), str(r.serial_fragments), str(r.launches),
                   str(r.small_launches), human(r.madds), human(r.mac),
                   f"{100 * r.ew_mac_share:.1f}"]
            if "ew_time_share" in self.blocks:
                row.append("-" if pd.isna(r.ew_time_share) else f"{100 * r.ew_time_share:.1f}")
            rows.append(row)
        return rows

    def _summary_lines(self) -> List[str]:
        s = self.summary
        c = self.counts()
        parts = [f"{g}: " + ", ".join(f"{c[g][k]} {k}" for k in reversed(SEVERITIES))
                 for g in GUIDELINES]
        line = (f"element-wise share of MAC {100 * s['ew_mac_share']:.1f}% (+ norm "
                f"{100 * s['norm_mac_share']:.1f}%, depthwise {100 * s['dw_mac_share']:.1f}%)")
        if s.get("ew_time_share") is not None and not _isnan(s.get("ew_time_share")):
            line += f"; of predicted time {100 * s['ew_time_share']:.1f}% " \
                    f"(predicted total {s['pred_ms']:.3f} ms)"
        return ["findings  " + "; ".join(parts), line]

    def block_legend(self) -> str:
        """What the block table's columns mean."""
        t = self.thresholds
        return ("fragments: the block's convolution, pooling, linear/matmul, shift and upsample "
                "ops (G3); branches: the most paths that leave one tensor and re-join at one op; "
                "compute br.: those of them that hold such an op; serial: fragments on the "
                "longest path; launches: ops that run a kernel; small: launches under "
                f"{t.small_madds:,} multiply-adds and {t.small_mac:,} MAC elements (each costs "
                "about one framework dispatch); ew mac %: element-wise share of the block's MAC "
                "(G4)")

    def to_table(self, min_severity: str = "warn", blocks: bool = True,
                 width: int = LINE_WIDTH) -> str:
        """Readable terminal text; lines stay within ``width`` characters (long findings and
        layer names continue on the next lines)."""
        out = [wrap_line(f"{self.model_name}  input {'x'.join(map(str, self.input_shape))}  "
                         f"(ShuffleNetV2 guidelines G1-G4, showing severity >= {min_severity})",
                         width)]
        counts, share = self._summary_lines()
        out += [wrap_line(counts, width, indent=10, sep="; "), wrap_line(share, width), ""]
        fr = self._finding_rows(min_severity)
        out.append(text_table(fr, wrap={2: 40}, width=width) if len(fr) > 1
                   else "no findings at this severity")
        if blocks and len(self.blocks):
            out += ["", text_table(self._block_rows(), wrap={0: 32, 1: 24}),
                    wrap_line(self.block_legend(), width)]
        return "\n".join(out) + "\n"

    def to_markdown(self, path=None, min_severity: str = "info", blocks: bool = True) -> str:
        lines = [f"# Guideline lint: {self.model_name}", "",
                 f"Input {'x'.join(map(str, self.input_shape))}. ShuffleNetV2 guidelines "
                 "(Ma et al. 2018, arXiv:1807.11164, Sec. 2). Severity >= " + min_severity + ".",
                 ""] + [f"- {l}" for l in self._summary_lines()] + [""]
        fr = self._finding_rows(min_severity)
        lines += ["## Findings", "", md_table(fr) if len(fr) > 1 else "No findings.", ""]
        if blocks and len(self.blocks):
            lines += ["## Blocks", "", md_table(self._block_rows()), "", self.block_legend() + ".",
                      ""]
        t = self.thresholds
        lines += ["## Thresholds", "",
                  f"- G1 MAC excess over the Eq. 1 bound: info {t.g1_info:.0%}, warn "
                  f"{t.g1_warn:.0%}, high {t.g1_high:.0%}",
                  f"- G2 MAC increase vs g=1 at equal multiply-adds: info {t.g2_info:.0%}, warn "
                  f"{t.g2_warn:.0%}, high {t.g2_high:.0%}",
                  f"- G3 parallel compute branches: info {t.g3_branches_info}, warn "
                  f"{t.g3_branches_warn}, high {t.g3_branches_high}; fragments in a multi-path "
                  f"block: warn {t.g3_fragments_warn}, high {t.g3_fragments_high}",
                  f"- G4 element-wise share of MAC: info {t.g4_info:.0%}, warn {t.g4_warn:.0%}, "
                  f"high {t.g4_high:.0%}"]
        return _write(path, "\n".join(lines) + "\n")

    def export(self, fmt: str, path=None, min_severity: str = "warn") -> str:
        fmt = {"md": "markdown", "txt": "table"}.get(fmt, fmt)
        if fmt == "table":
            return _write(path, self.to_table(min_severity))
        if fmt == "markdown":
            return self.to_markdown(path, min_severity)
        if fmt == "json":
            return self.to_json(path, min_severity)
        raise ValueError(f"unknown format {fmt!r}; choose table, md or json")

    def __repr__(self):
        c = self.counts()
        return (f"<LintReport {self.model_name}: " + ", ".join(
            f"{g} {c[g]['high']}H/{c[g]['warn']}W/{c[g]['info']}I" for g in GUIDELINES) + ">")


def _isnan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _write(path, text: str) -> str:
    """``text``, also written (atomically) to ``path`` when one is given."""
    if path is not None:
        fileio.write_text(path, text)
    return text


def _ratio_str(c1: int, c2: int) -> str:
    lo, hi = min(c1, c2), max(c1, c2)
    r = hi / lo
    txt = f"{r:.0f}" if abs(r - round(r)) < 0.05 else f"{r:.1f}"
    return f"1:{txt}" if c2 >= c1 else f"{txt}:1"


def _conv_geometry(rec):
    """(c1, c2, groups, kernel area, in spatial numel incl. batch, out spatial numel incl. batch)."""
    x, y = rec.inputs[0], rec.outputs[0]
    if rec.is_module:
        m = rec.target
        groups, kernel = int(m.groups), tuple(m.weight.shape[2:])
    else:
        w = rec.arg(1, "weight")
        groups, kernel = int(rec.arg(6, "groups", 1) or 1), tuple(w.shape[2:])
    c1, c2 = int(x.shape[1]), int(y.shape[1])
    hw_in = int(x.shape[0]) * fm.numel(x.shape[2:])
    hw_out = int(y.shape[0]) * fm.numel(y.shape[2:])
    return c1, c2, groups, fm.numel(kernel), hw_in, hw_out


def check(model: nn.Module, input_shape=(1, 3, 224, 224), profile=None,
          thresholds: Thresholds = THRESHOLDS, model_name: Optional[str] = None,
          report=None) -> LintReport:
    """Lint ``model`` against ShuffleNetV2's guidelines G1-G4 (see the module doc).

    ``profile``: a device profile (object or file path) for
    :func:`costmodel.guidelines.timing.predict` (adds the element-wise share of predicted time).
    Returns a :class:`LintReport`.
    """
    if report is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = analyze(model, input_shape, warn=False)
    graph = report.graph
    ops = graph.ops
    rows = report.layers.iloc[:len(ops)].reset_index(drop=True)
    kinds = list(rows["kind"])
    madds = [int(v) for v in rows["madds"]]
    macs = [int(v) for v in rows["mac"]]
    total_mac = max(sum(macs), 1)
    name = model_name or type(model).__name__
    t = thresholds
    findings: List[Finding] = []
    resolve = BlockResolver(model)
    block_of = [resolve(rec.scope) for rec in ops]

    pred_ms = None
    prof_name = None
    if profile is not None:
        from costmodel.guidelines import timing
        if isinstance(profile, (str, bytes)) or hasattr(profile, "__fspath__"):
            profile = timing.load_profile(profile)
        total, per_op = timing.predict(model, input_shape, profile, report=report)
        prof_name = timing.profile_name(profile)
        pred_ms = per_op if per_op is not None and len(per_op) == len(ops) else None
        pred_total = total
    else:
        pred_total = None

    # ------------------------------------------------------------ G1 / G2, per layer
    layer_rows = []
    for i, rec in enumerate(ops):
        if kinds[i] not in ("pointwise_conv", "group_conv"):
            continue
        c1, c2, g, k2, hw_in, hw_out = _conv_geometry(rec)
        is_1x1 = k2 == 1
        g1_applies = is_1x1 and hw_in == hw_out
        row = {"name": rec.name, "block": block_of[i], "kind": kinds[i], "c1": c1, "c2": c2,
               "groups": g, "kernel_area": k2, "hw": hw_out, "madds": madds[i],
               "mac_paper": hw_in * c1 + hw_out * c2 + k2 * c1 * c2 // g,
               "g1_bound": float("nan"), "g1_excess": float("nan"),
               "g2_mac_dense": float("nan"), "g2_increase": float("nan")}
        if g1_applies:
            hw = hw_out
            b = hw * c1 * c2 // g
            mac = row["mac_paper"]
            bound = (fm.pointwise_mac_lower_bound(hw, 1, b) if g == 1
                     else 2 * math.sqrt(hw * b * g) + b / hw)
            excess = mac / bound - 1
            row.update(g1_bound=bound, g1_excess=excess)
            sev = _level(excess, t.g1_info, t.g1_warn, t.g1_high)
            if sev:
                findings.append(Finding(
                    "G1", sev, "layer", rec.name, block_of[i],
                    f"1x1 conv {c1}->{c2} ({_ratio_str(c1, c2)}"
                    f"{', g=%d' % g if g > 1 else ''}) on {hw} positions: MAC {human(mac)} is "
                    f"{100 * excess:.0f}% over the G1 bound {human(bound)} at equal multiply-adds",
                    {"c1": c1, "c2": c2, "ratio": _ratio_str(c1, c2), "groups": g, "hw": hw,
                     "madds": b, "mac": mac, "g1_bound": bound, "excess": excess,
                     "excess_mac": mac - bound}))
        if kinds[i] == "group_conv":
            mac_g = row["mac_paper"]
            dense = (hw_in * c1 + hw_out * c2) / math.sqrt(g) + k2 * c1 * c2 / g
            inc = mac_g / dense - 1
            row.update(g2_mac_dense=dense, g2_increase=inc)
            sev = _level(inc, t.g2_info, t.g2_warn, t.g2_high)
            if sev:
                kern = "1x1" if is_1x1 else f"{int(round(math.sqrt(k2)))}x{int(round(math.sqrt(k2)))}"
                findings.append(Finding(
                    "G2", sev, "layer", rec.name, block_of[i],
                    f"{kern} group conv {c1}->{c2}, g={g}: MAC {human(mac_g)} is "
                    f"{100 * inc:.0f}% above a dense conv with the same multiply-adds "
                    f"({human(dense)}, {c1 / math.sqrt(g):.0f}->{c2 / math.sqrt(g):.0f} channels)",
                    {"c1": c1, "c2": c2, "groups": g, "kernel_area": k2, "hw": hw_out,
                     "madds": madds[i], "mac": mac_g, "mac_dense_same_madds": dense,
                     "increase": inc, "overhead_mac": mac_g - dense}))
        layer_rows.append(row)
    layers_df = pd.DataFrame(layer_rows, columns=[
        "name", "block", "kind", "c1", "c2", "groups", "kernel_area", "hw", "madds", "mac_paper",
        "g1_bound", "g1_excess", "g2_mac_dense", "g2_increase"])

    # ------------------------------------------------------------ G3, data flow
    n = len(ops)
    is_compute = [k in COMPUTE_KINDS for k in kinds]
    compute_mask = 0
    anc: List[int] = [0] * n
    for i, rec in enumerate(ops):
        a = 1 << i
        for p in rec.parents:
            if p >= 0:
                a |= anc[p]
        anc[i] = a
        if is_compute[i]:
            compute_mask |= 1 << i
    join_info: Dict[int, tuple] = {}
    for i, rec in enumerate(ops):
        parents = []
        for p in rec.parents:
            if p not in parents:
                parents.append(p)
        if len(parents) < 2:
            continue
        sets = [anc[p] if p >= 0 else 0 for p in parents]
        n_compute = 0
        for j, s in enumerate(sets):
            others = 0
            for k, s2 in enumerate(sets):
                if k != j:
                    others |= s2
            if (s & ~others) & compute_mask:
                n_compute += 1
        join_info[i] = (len(parents), n_compute)

    blocks: Dict[str, Dict[str, Any]] = {}
    order: List[str] = []
    for i, rec in enumerate(ops):
        b = block_of[i]
        if b not in blocks:
            order.append(b)
            blocks[b] = {"ops": [], "branches": 1, "compute_branches": 1 if is_compute[i] else 0,
                         "join": None}
        blocks[b]["ops"].append(i)
    depth = [0] * n
    block_rows = []
    for b in order:
        idx = blocks[b]["ops"]
        members = set(idx)
        branches, cbr, join_name = 1, 0, None
        for i in idx:
            depth[i] = int(is_compute[i]) + max((depth[p] for p in ops[i].parents
                                                 if p in members), default=0)
            if i in join_info:
                nb, nc = join_info[i]
                if (nc, nb) > (cbr, branches):
                    branches, cbr, join_name = nb, nc, ops[i].name
        fragments = sum(is_compute[i] for i in idx)
        if cbr == 0 and fragments:
            cbr = 1
        launches = [i for i in idx if kinds[i] not in FREE_KINDS and macs[i] > 0]
        small = [i for i in launches if madds[i] < t.small_madds and macs[i] < t.small_mac]
        mac_b = sum(macs[i] for i in idx)
        ew = sum(macs[i] for i in idx if kinds[i] in ELEMENTWISE_KINDS)
        try:
            mtype = type(model.get_submodule(b)).__name__ if b else type(model).__name__
        except AttributeError:
            mtype = "?"
        row = {"block": b, "type": mtype, "ops": len(idx), "fragments": fragments,
               "branches": branches, "compute_branches": cbr,
               "serial_fragments": max((depth[i] for i in idx), default=0),
               "launches": len(launches), "small_launches": len(small),
               "madds": sum(madds[i] for i in idx), "mac": mac_b,
               "mac_share": mac_b / total_mac,
               "ew_mac": ew, "ew_mac_share": ew / mac_b if mac_b else 0.0, "join": join_name}
        if pred_ms is not None:
            tb = sum(pred_ms[i] for i in idx)
            row["pred_ms"] = tb
            row["ew_time_share"] = (sum(pred_ms[i] for i in idx if kinds[i] in ELEMENTWISE_KINDS)
                                    / tb) if tb > 0 else float("nan")
        if fragments or launches:
            block_rows.append(row)

        # G3 finding
        sev_b = _level(cbr, t.g3_branches_info, t.g3_branches_warn, t.g3_branches_high)
        sev_f = (_level(fragments, math.inf, t.g3_fragments_warn, t.g3_fragments_high)
                 if cbr >= 2 else None)
        sev = max((sev_b, sev_f), key=severity_rank)
        if sev:
            why = []
            if sev_b:
                why.append(f"{cbr} parallel compute branches re-join at {join_name}"
                           + (f" ({branches} paths incl. identity)" if branches > cbr else ""))
            if sev_f:
                why.append(f"{fragments} fragmented operators (conv/pool) in one block")
            findings.append(Finding(
                "G3", sev, "block", b or "(top)", b,
                f"{mtype}: " + "; ".join(why) + f"; {fragments} fragments, "
                f"{row['serial_fragments']} in series, {len(launches)} kernel launches "
                f"({len(small)} small)",
                {"fragments": fragments, "branches": branches, "compute_branches": cbr,
                 "serial_fragments": row["serial_fragments"], "launches": len(launches),
                 "small_launches": len(small), "join": join_name}))

        # G4 finding, per block
        if g4_block_flagged(mac_b, total_mac, row["ew_mac_share"], t):
            sev = _level(row["ew_mac_share"], t.g4_info, t.g4_warn, t.g4_high)
            kinds_b = _kind_breakdown([i for i in idx if kinds[i] in ELEMENTWISE_KINDS],
                                      kinds, macs)
            msg = (f"{mtype}: element-wise ops are {100 * row['ew_mac_share']:.0f}% of the "
                   f"block's MAC ({human(ew)} of {human(mac_b)}: {kinds_b})")
            if pred_ms is not None and not _isnan(row.get("ew_time_share", float("nan"))):
                msg += f", {100 * row['ew_time_share']:.0f}% of its predicted time"
            findings.append(Finding("G4", sev, "block", b or "(top)", b, msg,
                                    {"ew_mac": ew, "mac": mac_b,
                                     "ew_mac_share": row["ew_mac_share"],
                                     "ew_time_share": row.get("ew_time_share")}))
    blocks_df = pd.DataFrame(block_rows)

    # ------------------------------------------------------------ G4, model level
    ew_idx = [i for i in range(n) if kinds[i] in ELEMENTWISE_KINDS]
    ew_mac = sum(macs[i] for i in ew_idx)
    summary = {
        "total_madds": int(sum(madds)), "total_mac": int(sum(macs)),
        "ew_mac": int(ew_mac), "ew_mac_share": ew_mac / total_mac,
        "norm_mac_share": sum(macs[i] for i in range(n) if kinds[i] == "norm") / total_mac,
        "dw_mac_share": sum(macs[i] for i in range(n) if kinds[i] == "depthwise_conv") / total_mac,
        "blocks": len(block_rows),
        "max_compute_branches": int(blocks_df["compute_branches"].max()) if len(blocks_df) else 0,
        "max_fragments": int(blocks_df["fragments"].max()) if len(blocks_df) else 0,
        "ew_time_share": None, "pred_ms": pred_total,
    }
    if pred_ms is not None and pred_total:
        summary["ew_time_share"] = sum(pred_ms[i] for i in ew_idx) / max(sum(pred_ms), 1e-12)
    sev = g4_model_severity(summary["ew_mac_share"], t)
    if sev:
        flops = [int(v) for v in rows["flops"]]
        msg = (f"element-wise ops ({_kind_breakdown(ew_idx, kinds, macs)}) are "
               f"{100 * summary['ew_mac_share']:.0f}% of the model's MAC with "
               f"{100 * sum(flops[i] for i in ew_idx) / max(sum(flops), 1):.1f}% of its flops")
        if summary["ew_time_share"] is not None:
            msg += f"; {100 * summary['ew_time_share']:.0f}% of the predicted time"
        msg += (f" (not counted: BN {100 * summary['norm_mac_share']:.0f}%, depthwise convs "
                f"{100 * summary['dw_mac_share']:.0f}% of MAC)")
        if len(blocks_df):
            top = blocks_df.sort_values("ew_mac", ascending=False).head(3)
            msg += "; most in " + ", ".join(
                f"{r.block or '(top)'} ({human(r.ew_mac)}, {100 * r.ew_mac_share:.0f}% of the block)"
                for r in top.itertuples() if r.ew_mac > 0)
        findings.append(Finding("G4", sev, "model", name, "", msg,
                                {"ew_mac": ew_mac, "mac": summary["total_mac"],
                                 "ew_mac_share": summary["ew_mac_share"],
                                 "ew_time_share": summary["ew_time_share"],
                                 "norm_mac_share": summary["norm_mac_share"],
                                 "dw_mac_share": summary["dw_mac_share"]}))
    return LintReport(name, report.input_shapes[0] if report.input_shapes else input_shape,
                      findings, blocks_df, layers_df, summary, thresholds, prof_name)


def _kind_breakdown(idx: Sequence[int], kinds: Sequence[str], macs: Sequence[int]) -> str:
    by: Dict[str, int] = {}
    for i in idx:
        by[kinds[i]] = by.get(kinds[i], 0) + macs[i]
    tot = max(sum(by.values()), 1)
    return ", ".join(f"{k} {100 * v / tot:.0f}%" for k, v in sorted(by.items(), key=lambda kv: -kv[1]))
