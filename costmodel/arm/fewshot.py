"""Few-shot device profiles: emulation-derived per-group rates corrected with k real timings.

A network's time on a device is modelled from its emulated aarch64 instruction counts
(:mod:`costmodel.arm.emulation_features`): the variable instructions of each kind group
(``dense``, ``thin``, ``movement``, ``memory``) and the fixed per-call set-up instructions
(``fixed``)::

    t = s * (V_dense + m_thin V_thin + m_movement V_movement + m_memory V_memory
             + m_fixed F) / IR                                                   [ms]

``IR`` is the prior instruction rate (instructions per ms).  For a device of
:data:`costmodel.arm.spec_profiles.DEVICES` it is the spec rate of
:func:`~costmodel.arm.spec_profiles.instruction_rate` (pointwise convolution at the NEON peak), so
the **k = 0** profile (``s = m = 1``) is the spec-based prediction; for any other device ``IR``
is a nominal :data:`NOMINAL_IR` unit and nothing is predicted before one timing.

With k timings the parameters are fitted, **fewer of them than timings** from k = 2
(:func:`n_params`: one for k = 1 or 2, two for k = 3 or 4, three for k = 5 or 6, four for
k = 7 or 8, five from k = 9), freed in the order of :data:`LADDER`: ``s`` (global scale),
``m_fixed`` (torch's per-call set-up is the part least likely to match another engine),
``m_thin``, ``m_movement``, ``m_memory``.  Multipliers not yet freed keep their prior, 1.  The
fit is a maximum a-posteriori estimate in log time (:func:`fit`)::

    minimise  sum_i ((ln t_pred_i - ln t_i) / SIGMA_T)^2  +  sum_free (ln m / sigma_m)^2

a ridge penalty toward the prior: timings with ~10% scatter (``SIGMA_T``), the kind-group
multipliers within a factor ``exp(SIGMA_M)`` = 2 of the prior, ``m_fixed`` within a factor
``exp(SIGMA_FIXED)`` = 10 (torch's per-call set-up says little about another engine's: an
inference engine that plans its graph once, as TFLite and Caffe2 do, pays far less per op than
eager torch's dispatch; with the factor-2 prior five timings could not take the term far enough
from torch's, see reports/arm/published.md); ``s`` is not penalised.  Solved with
:func:`scipy.optimize.least_squares`.

Baselines fitted on the same k timings (:func:`fit_flops`, :func:`fit_flops_mac`):
FLOPs-only ``t = a * madds`` (``a`` the geometric mean of ``t / madds``; k = 0: madds at the spec
NEON peak) and linear FLOPs+MAC ``t = a * madds + b * mac_bytes`` (non-negative least squares on
relative error, :func:`scipy.optimize.nnls`; k >= 2 only).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np
from scipy import optimize

from costmodel.arm.emulation_features import GROUPS

#: the order in which timings free parameters: the global scale, then the multipliers whose
#: prior is least certain first: torch's per-call set-up (another engine has its own), the
#: grouped convolutions, fusable data movement, then linear/pooling
LADDER = ("scale", "m_fixed", "m_thin", "m_movement", "m_memory")
SIGMA_T = 0.10  # log-time scatter of a timing (about 10%)
SIGMA_M = math.log(2.0)  # prior width of a group's rate relative to the dense rate
SIGMA_FIXED = math.log(10.0)  # prior width of m_fixed: another engine's per-call set-up
#: instructions per ms used as the unit when the device has no spec profile (no k = 0 prediction)
NOMINAL_IR = 1e6
TERMS = GROUPS + ("fixed",)  # feature columns, each with a multiplier (dense: 1, the reference)


def n_params(k: int) -> int:
    """Parameters fitted from k timings: ``min(5, (k + 1) // 2)`` (k = 1 -> 1, 3 -> 2, 5 -> 3,
    10 -> 5): never more than k, fewer than k from k = 2."""
    if k < 0:
        raise ValueError("k must be >= 0")
    return min(len(LADDER), (k + 1) // 2)


@dataclass
class FewShotFit:
    """The fitted parameters (prior values for those not fitted) and how many were fitted.
    ``mult`` holds one multiplier per term of :data:`TERMS` (``dense`` is 1 by construction)."""
    scale: float = 1.0
    mult: Dict[str, float] = field(default_factory=lambda: {g: 1.0 for g in TERMS})
    fitted: int = 0
    k: int = 0
    ir_per_ms: float = NOMINAL_IR

    @property
    def free(self) -> List[str]:
        return list(LADDER[:self.fitted])

    def params(self) -> Dict[str, float]:
        out = {"scale": self.scale}
        out.update({f"m_{g}": v for g, v in self.mult.items() if g != "dense"})
        return out

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted ms for feature rows (instructions of each of :data:`TERMS`)."""
        X = np.atleast_2d(np.asarray(X, float))
        return self.scale * (X @ np.array([self.mult[g] for g in TERMS])) / self.ir_per_ms


def prior(ir_per_ms: Optional[float]) -> FewShotFit:
    """The k = 0 profile: the spec instruction rate (None: the nominal unit, no prediction)."""
    return FewShotFit(ir_per_ms=float(ir_per_ms) if ir_per_ms else NOMINAL_IR)


def fit(X: np.ndarray, t_ms: Sequence[float], ir_per_ms: Optional[float] = None,
        n: Optional[int] = None) -> FewShotFit:
    """MAP fit of the first ``n`` (default :func:`n_params`) parameters of :data:`LADDER` to the
    timings ``t_ms`` of the feature rows ``X`` (see the module docstring)."""
    X = np.atleast_2d(np.asarray(X, float))
    t = np.asarray(t_ms, float)
    if len(t) != len(X) or not len(t):
        raise ValueError("one timing per feature row, at least one")
    if not (np.isfinite(t).all() and (t > 0).all()):
        raise ValueError("timings must be positive finite milliseconds")
    base = prior(ir_per_ms)
    k = len(t)
    n = n_params(k) if n is None else n
    if n < 1:
        return base
    free = LADDER[:n]
    widths = np.array([SIGMA_FIXED if name == "m_fixed" else SIGMA_M for name in free[1:]])
    logt = np.log(t)
    # start: the global scale that fits the prior shape
    s0 = float(np.exp(np.mean(logt - np.log(np.maximum(base.predict(X), 1e-300)))))

    def unpack(z) -> FewShotFit:
        f = FewShotFit(scale=s0 * math.exp(z[0]), ir_per_ms=base.ir_per_ms, fitted=n, k=k)
        for name, v in zip(free[1:], z[1:]):
            f.mult[name[2:]] = math.exp(v)
        return f

    def resid(z):
        pred = unpack(z).predict(X)
        r = (np.log(np.maximum(pred, 1e-300)) - logt) / SIGMA_T
        return np.concatenate([r, np.asarray(z[1:]) / widths])

    sol = optimize.least_squares(resid, np.zeros(n), method="trf")
    return unpack(sol.x)


def fit_flops(madds: Sequence[float], t_ms: Sequence[float]) -> float:
    """ms per multiply-add, ``a = exp(mean(ln(t / madds)))`` (the log-error optimum)."""
    m, t = np.asarray(madds, float), np.asarray(t_ms, float)
    return float(np.exp(np.mean(np.log(t / m))))


def fit_flops_mac(madds: Sequence[float], mac_bytes: Sequence[float], t_ms: Sequence[float]
                  ) -> np.ndarray:
    """(a, b) >= 0 of ``t = a * madds + b * mac_bytes`` minimising the summed squared relative
    error (non-negative least squares on rows divided by t); needs >= 2 timings."""
    t = np.asarray(t_ms, float)
    if len(t) < 2:
        raise ValueError("the FLOPs+MAC baseline needs at least 2 timings")
    A = np.stack([np.asarray(madds, float), np.asarray(mac_bytes, float)], axis=1) / t[:, None]
    scale = A.max(axis=0)
    scale[scale == 0] = 1.0
    c, _ = optimize.nnls(A / scale, np.ones(len(t)))
    return c / scale
