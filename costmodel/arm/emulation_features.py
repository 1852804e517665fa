"""Per-network features from the emulated aarch64 instruction counts, for few-shot ARM profiles.

Every emulated timing file ``reports/arm/arm_neoverse-n1_*.json`` (``costmodel arm run``: QEMU
``-cpu neoverse-n1``, torch's aarch64 kernels, one thread) is read, whatever its name, and merged
(a model and input emulated in several files counts once, the first file in name order wins).
Each layer's executed instructions go into one of three **kind groups**:

``dense``
    dense convolutions (``conv``, ``pointwise_conv``, dilated / transposed convolutions, matmul):
    the best-vectorised kernels;
``thin``
    channel-grouped convolutions (``depthwise_conv``, ``group_conv``);
``movement``
    activations, element-wise ops, concat / split / shuffle / view: the ops an inference engine
    fuses into their neighbours (conv + ReLU; ShuffleNetV2 Sec. 3 merges concat, channel shuffle
    and split into one element-wise op), so their torch instruction counts say least about a
    fusing engine's time;
``memory``
    everything else that is not folded: linear layers at batch 1, pooling, shifts, other
    normalisations (little arithmetic per byte moved, not fusable).

BatchNorm, identity and dropout are **folded** (zero cost), as in the papers' engines and in
:mod:`costmodel.arm.spec_profiles`.  Each layer's count is split into its **fixed** part (the per-call set-up
instructions of its op key's fit, :func:`derive_fits`: torch's dispatch and kernel set-up, the
part most specific to torch) and the **variable** rest, which goes to its group.  A network also
has ``calls`` (non-folded ops), ``madds`` and ``mac_bytes`` (for the baselines).

A table measured at another input size than the emulation (ShuffleNetV1/V2 at 320x320 ...
1280x720) is handled by a **stated scaling**, not by emulating again: the network is traced at
the new input and each layer, matched to its emulated layer by name, keeps the instructions it
issued and adds the per-unit slope of its op key's emulation fit (:func:`derive_fits`) times the
change in its units (multiply-adds for convolutions and linear layers, MAC elements otherwise)::

    instructions_new = instructions_emulated + per_unit(key) * (units_new - units_emulated)

so the fixed per-call part stays and the part that grows with the feature maps grows with them.
"""
from __future__ import annotations

import glob
import os
import warnings
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from costmodel.latency.profile import op_key

GROUPS = ("dense", "thin", "movement", "memory")
DENSE_KINDS = ("conv", "pointwise_conv", "dilated_conv", "transposed_conv", "matmul")
THIN_KINDS = ("depthwise_conv", "group_conv")
MOVEMENT_KINDS = ("act", "elementwise", "concat", "split", "shuffle", "view", "copy")
#: op keys (``kind`` or ``kind:op``) that cost nothing: folded into the convolution or removed
FOLDED_KEYS = ("norm:batchnorm1d", "norm:batchnorm2d", "norm:batchnorm3d", "identity", "dropout")
MADD_KINDS = DENSE_KINDS + THIN_KINDS + ("linear",)
GROUP_LABELS = {"dense": "dense and pointwise convolutions",
                "thin": "depthwise and grouped convolutions",
                "movement": "activations, element-wise, concat/split/shuffle/view",
                "memory": "linear, pooling, shifts, other normalisations"}

REPORTS_ARM = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "reports",
                                            "arm"))
#: every emulated file of the neoverse-n1 runs, found by name (new files are picked up)
EMULATION_GLOB = "arm_neoverse-n1_*.json"


def group_of(kind: str, op: str = "") -> Optional[str]:
    """The kind group of an op (None: folded, costs nothing)."""
    if op_key(kind, op) in FOLDED_KEYS or kind in FOLDED_KEYS:
        return None
    if kind in DENSE_KINDS:
        return "dense"
    if kind in THIN_KINDS:
        return "thin"
    if kind in MOVEMENT_KINDS:
        return "movement"
    return "memory"


def emulation_files(folder: Optional[str] = None) -> List[str]:
    """The emulated timing files of ``folder`` (default ``reports/arm``), sorted by name."""
    return sorted(glob.glob(os.path.join(folder or REPORTS_ARM, EMULATION_GLOB)))


@dataclass
class Emulation:
    """The merged emulated layers (:func:`costmodel.arm.compare.layer_frame`) and their fits."""
    layers: pd.DataFrame
    files: List[str]
    fits: Dict[str, dict] = field(default_factory=dict)

    @property
    def models(self) -> List[str]:
        return list(dict.fromkeys(self.layers["model"]))

    def inputs_of(self, model: str) -> List[Tuple[int, ...]]:
        d = self.layers[self.layers["model"] == model]
        return [tuple(int(x) for x in s.split("x")) for s in dict.fromkeys(d["input"])]

    def has(self, model: str) -> bool:
        return bool((self.layers["model"] == model).any())


def load(paths: Optional[Sequence[str]] = None) -> Emulation:
    """The emulated layers of ``paths`` (default: :func:`emulation_files`), merged, with the op
    keys' fits (:func:`derive_fits`)."""
    from costmodel.arm import compare
    from costmodel.latency import timings
    paths = list(paths) if paths is not None else emulation_files()
    if not paths:
        raise FileNotFoundError(f"no emulated timing files {EMULATION_GLOB} in {REPORTS_ARM}")
    docs = [timings.load(p) for p in paths]
    df = compare.layer_frame(docs)
    df["key"] = [op_key(k, o) for k, o in zip(df["kind"], df["op"])]
    df["group"] = [group_of(k, o) for k, o in zip(df["kind"], df["op"])]
    return Emulation(df, paths, derive_fits(df))


def derive_fits(layers: pd.DataFrame, min_layers: int = 3) -> Dict[str, dict]:
    """Per op key: ``instructions = fixed + per_unit x units`` (non-negative, least squares on
    relative error over the distinct emulated layers; units: multiply-adds for convolutions and
    linear layers, MAC elements otherwise), as
    :func:`costmodel.arm.spec_profiles.derive_emulation_fits` does for its fixed file list."""
    from costmodel.arm import compare
    from costmodel.arm.spec_profiles import fit_key_lines
    df = compare.distinct(layers)
    df = df[df["instructions"].notna() & (df["instructions"] > 0)]
    out = fit_key_lines(df, MADD_KINDS, min_layers)
    for key, fit in out.items():
        first = df[df["key"] == key].iloc[0]
        fit["group"] = group_of(first["kind"], first["op"])
    return out


def _units(kind: str, madds: float, mac: float) -> float:
    return madds if kind in MADD_KINDS else mac


def features_from_layers(layers: pd.DataFrame, fits: Dict[str, dict]) -> Dict[str, float]:
    """Network features from layer rows with ``kind``, ``op``, ``instructions``, ``madds`` and
    ``mac_bytes``: per group the instructions that grow with the layer's size, ``fixed`` the
    per-call set-up instructions of all non-folded layers (each layer's share: its op key's
    fitted ``fixed``, at most its count), ``calls``, ``madds``, ``mac_bytes``.  A layer's
    instructions = its ``fixed`` share + its group's variable part."""
    out = {g: 0.0 for g in GROUPS}
    fixed = 0.0
    calls = 0
    for kind, op, inst in zip(layers["kind"], layers["op"], layers["instructions"]):
        g = group_of(kind, op)
        if g is None or not np.isfinite(inst):
            continue
        calls += 1
        f = min(fits.get(op_key(kind, op), {}).get("fixed", 0.0), float(inst))
        fixed += f
        out[g] += float(inst) - f
    out["fixed"] = fixed
    out["calls"] = float(calls)
    out["madds"] = float(pd.to_numeric(layers["madds"], errors="coerce").fillna(0).sum())
    out["mac_bytes"] = float(pd.to_numeric(layers["mac_bytes"], errors="coerce").fillna(0).sum())
    return out


class MissingEmulation(LookupError):
    """A network with no emulated instruction counts."""


def network_features(emu: Emulation, model: str, shape: Tuple[int, ...],
                     trace=None) -> Tuple[Dict[str, float], str]:
    """(features of ``model`` at input ``shape`` = (1, C, H, W), how they were obtained).

    At an emulated input the emulated layers are summed as they are; at another input the model
    is traced there (``trace(model, shape)`` -> op table; default: the zoo model on meta tensors)
    and each layer is scaled as the module docstring says.  Raises :class:`MissingEmulation` when
    ``model`` was never emulated."""
    if not emu.has(model):
        raise MissingEmulation(f"{model}: no emulated instruction counts in "
                               f"{', '.join(os.path.basename(p) for p in emu.files)}")
    shape = tuple(int(s) for s in shape)
    inputs = emu.inputs_of(model)
    d = emu.layers[emu.layers["model"] == model]
    if shape in inputs:
        rows = d[d["input"] == "x".join(map(str, shape))].copy()
        rows["mac_bytes"] = 4.0 * rows["mac"]
        return features_from_layers(rows, emu.fits), "emulated at this input"
    base = inputs[0]
    rows = d[d["input"] == "x".join(map(str, base))]
    table = (trace or trace_zoo)(model, shape)
    by_name = {n: r for n, r in zip(rows["name"], rows.itertuples(index=False))}
    inst, unmatched = [], 0
    for name, kind, op, madds, mac in zip(table["name"], table["kind"], table["op"],
                                          table["madds"], table["mac"]):
        r = by_name.get(name)
        if r is None or r.kind != kind or not np.isfinite(r.instructions):
            unmatched += 1
            f = emu.fits.get(op_key(kind, op))
            inst.append(f["fixed"] + f["per_unit"] * _units(kind, madds, mac) if f else 0.0)
            continue
        f = emu.fits.get(r.key)
        slope = f["per_unit"] if f else 0.0
        du = _units(kind, madds, mac) - _units(kind, r.madds, r.mac)
        inst.append(max(float(r.instructions) + slope * du, 0.0))
    t = table[["kind", "op", "madds", "mac", "mac_bytes"]].copy()
    t["instructions"] = inst
    how = (f"scaled from the emulation at {'x'.join(map(str, base[2:]))} (per-unit slopes of the "
           f"op-key fits)")
    if unmatched:
        how += f"; {unmatched} layers without an emulated twin estimated from the fits"
    return features_from_layers(t, emu.fits), how


def trace_zoo(model: str, shape: Tuple[int, ...]) -> pd.DataFrame:
    """The op table of zoo ``model`` at ``shape`` (traced on meta tensors, nothing runs)."""
    from costmodel.latency.features import op_table
    from costmodel.zoo import registry
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return op_table(registry.create(model), shape)[0]


def feature_matrix(feats: Iterable[Dict[str, float]]) -> np.ndarray:
    """Rows of (variable instructions of each of :data:`GROUPS`, fixed instructions)."""
    return np.array([[f[g] for g in GROUPS] + [f["fixed"]] for f in feats], float)
