"""A few-shot fit (:mod:`costmodel.arm.fewshot`) as a ``costmodel-profile`` v1 file, so that
``costmodel predict MODEL --profile FILE`` predicts any traced network on that device.

The fit is over networks' *measured* emulated instructions; the profile predicts ops from their
op key's emulation fit (``instructions = fixed + per_unit x units``,
:func:`costmodel.arm.emulation_features.derive_fits`) with the fitted multipliers, as a roofline
model per op key (one term only, the other rate left at :data:`UNBOUNDED`)::

    ms(op) = s / IR * (m_group * per_unit * units + m_fixed * fixed)

    madd keys:  peak_madds_per_ms      = IR / (s * m_group * per_unit),  overhead = s m_fixed fixed / IR
    MAC keys:   bandwidth_bytes_per_ms = 4 IR / (s * m_group * per_unit)    (fp32: 4 bytes / element)

Folded keys (BatchNorm, identity, dropout) cost nothing; an op key the emulation never saw gets
the ``default`` model: the dense rate for multiply-adds and the median MAC rate of the
``movement`` keys for bytes, with the median fixed cost.
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence

import numpy as np

from costmodel.arm import emulation_features as ef
from costmodel.arm import fewshot

UNBOUNDED = 1e300  # a rate that makes its roofline term vanish


def _roofline(per_madd_ms: float, per_byte_ms: float, overhead_ms: float) -> dict:
    return {"type": "roofline",
            "peak_madds_per_ms": 1.0 / per_madd_ms if per_madd_ms > 0 else UNBOUNDED,
            "bandwidth_bytes_per_ms": 1.0 / per_byte_ms if per_byte_ms > 0 else UNBOUNDED,
            "overhead_ms": float(overhead_ms)}


def op_models(f: fewshot.FewShotFit, fits: Dict[str, dict]) -> Dict[str, dict]:
    """The profile's ``ops`` object (see the module docstring)."""
    unit = f.scale / f.ir_per_ms  # ms per instruction at the dense rate
    ops: Dict[str, dict] = {k: {"type": "constant", "ms": 0.0} for k in ef.FOLDED_KEYS}
    ops["norm"] = {"type": "constant", "ms": 0.0}  # BatchNorm without a sub-key
    for key, fit in sorted(fits.items()):
        g = fit.get("group")
        if g is None:
            continue
        per = unit * f.mult[g] * fit["per_unit"]
        over = unit * f.mult["fixed"] * fit["fixed"]
        ops[key] = (_roofline(per, 0.0, over) if fit["per"] == "madd"
                    else _roofline(0.0, per / 4.0, over))
    dense = fits.get("conv") or fits.get("pointwise_conv")
    move = [v for v in fits.values() if v.get("group") == "movement" and v["per"] == "mac"]
    per_madd = unit * dense["per_unit"] if dense else 0.0
    per_byte = (unit * f.mult["movement"] * float(np.median([v["per_unit"] for v in move])) / 4.0
                if move else 0.0)
    fixed = float(np.median([v["fixed"] for v in fits.values()])) if fits else 0.0
    ops["default"] = _roofline(per_madd, per_byte, unit * f.mult["fixed"] * fixed)
    return ops


def profile_dict(f: fewshot.FewShotFit, emu: ef.Emulation, device: str, threads: int,
                 framework: str, timings: Sequence[tuple], predicted: Sequence[float],
                 flops_coef: float, flops_mac: Optional[Sequence[float]] = None) -> dict:
    """The ``costmodel-profile`` v1 object of a few-shot fit on ``timings`` ((model, shape, ms))."""
    nets: List[dict] = [{"model": m, "input": "x".join(map(str, s)), "ms": t,
                         "fitted_ms": float(p)} for (m, s, t), p in zip(timings, predicted)]
    err = [abs(n["fitted_ms"] - n["ms"]) / n["ms"] * 100 for n in nets]
    baselines = {"flops": {"features": ["flops"], "coef": [flops_coef / 2.0]}}  # flops = 2 madds
    if flops_mac is not None:  # baseline features are flops and mac elements (4 bytes each)
        baselines["flops_mac"] = {"features": ["flops", "mac"],
                                  "coef": [flops_mac[0] / 2.0, flops_mac[1] * 4.0]}
    thread = {
        "ops": op_models(f, emu.fits),
        "network": {"features": ["iso", "const"], "coef": [1.0, 0.0]},
        "baselines": baselines,
        "calibration_networks": [],
        "stats": {"source": "few-shot", "timings": len(nets),
                  "fit_mape_pct": float(np.mean(err)) if err else None},
    }
    machine = {"cpu_model": device, "arch": "aarch64", "torch": "n/a (few-shot profile)",
               "framework": framework, "fewshot_profile": True,
               "instruction_rate_per_ms": f.ir_per_ms,
               "emulation_files": [os.path.basename(p) for p in emu.files]}
    calibration = {"kind": "few-shot", "k": f.k, "parameters_fitted": f.fitted,
                   "free": f.free, "params": f.params(), "networks": nets,
                   "description": "emulation-derived per-group rates (costmodel.arm.fewshot) "
                                  f"corrected with {f.k} timing(s) of the device"}
    return {"format": "costmodel-profile", "version": 1, "machine": machine,
            "calibration": calibration, "threads": {str(threads): thread}}


def calibrate(board: dict, emu: Optional[ef.Emulation] = None, trace=None) -> dict:
    """Fit a board timing file (:func:`costmodel.arm.board_timings.load`) and return the profile
    object.  Raises :class:`costmodel.arm.emulation_features.MissingEmulation` for a timed model
    without emulated counts."""
    from costmodel.arm import spec_profiles as sp
    emu = emu or ef.load()
    feats = [ef.network_features(emu, m, s, trace)[0] for m, s, _ in board["timings"]]
    X = ef.feature_matrix(feats)
    t = np.array([ms for _, _, ms in board["timings"]])
    dev = board["device"]
    ir = sp.instruction_rate(dev) / 1e3 if dev in sp.DEVICES else None
    f = fewshot.fit(X, t, ir)
    madds = np.array([x["madds"] for x in feats])
    macb = np.array([x["mac_bytes"] for x in feats])
    fm = fewshot.fit_flops_mac(madds, macb, t) if len(t) >= 2 else None
    return profile_dict(f, emu, dev, board["threads"], board["framework"], board["timings"],
                        f.predict(X), fewshot.fit_flops(madds, t), fm)
