"""``DeviceProfile``: the calibrated latency model of one machine, stored as plain JSON.

Layout (``format`` ``"costmodel-profile"``, ``version`` 1)::

    {
      "format": "costmodel-profile", "version": 1,
      "machine": {...},                      # costmodel.latency.machine.describe()
      "calibration": {...},                  # seed, budget, wall time, sample counts
      "threads": {
        "1": {
          "ops": {                           # isolated (replayed) per-op time, ms
            "conv": {"type": "boosted", ...},          # one model per kind ...
            "act:sigmoid": {"type": "linear", ...},    # ... or per kind:op where ops differ
            "default": {"type": "linear", ...}         # kinds never calibrated
          },
          "network": {"features": ["iso", "alloc_bytes", "weight_bytes", "one", "const"],
                      "coef": [...], "weight_cap_bytes": 2097152},
          "baselines": {"flops": {...}, "flops_mac": {...}},
          "calibration_networks": [{"index": 0, "e2e_ms": 12.3}, ...],  # drift anchors
          "stats": {...}                     # cross-validated errors, sample counts
        },
        "2": {...}
      }
    }

Prediction of one op is two-level.  The ``ops`` model predicts the op's *isolated* time (what
replaying it alone measures).  The ``network`` model turns that into the op's share of the
end-to-end time inside a network: ``pred_ms = coef_iso * iso + coef_alloc * alloc_bytes +
coef_weight * min(weight_bytes, weight_cap_bytes) + coef_one`` (fresh output memory page-faults
and weights that stay in the L2 cache of a hot replay loop come cold from memory inside a network;
weights bigger than L2 stream from memory in the replay too, hence the cap); the network's total
is ``sum(pred_ms) + const``.  Instead of one ``iso`` coefficient the model may have two,
``iso_compute`` and ``iso_memory`` (:data:`COMPUTE_KINDS`).  Model
types are documented in :mod:`costmodel.latency.fit`.
"""
from __future__ import annotations

import json
import math
import os
from typing import Dict, List, Optional

import numpy as np
import pandas as pd

from costmodel.latency import fit

FORMAT = "costmodel-profile"
VERSION = 1
#: kinds whose op types differ enough in cost to get a model per op (``act:sigmoid``)
SUBKEY_KINDS = ("act", "pool", "shift", "elementwise", "norm", "split", "view", "copy")
#: op kinds whose time is mostly arithmetic (dense kernels); every other kind moves memory
COMPUTE_KINDS = ("conv", "pointwise_conv", "group_conv", "dilated_conv", "transposed_conv",
                 "linear", "matmul")
#: ``iso_compute`` / ``iso_memory``: the isolated time of the compute-kind / other ops only (a
#: network slows memory-bound ops, whose inputs come cold, more than arithmetic ones)
NETWORK_FEATURES = ["iso", "iso_compute", "iso_memory", "alloc_bytes", "weight_bytes", "one",
                    "const"]


def compute_mask(table: pd.DataFrame) -> np.ndarray:
    """True for the ops of ``table`` whose kind is in :data:`COMPUTE_KINDS`."""
    return table["kind"].isin(COMPUTE_KINDS).to_numpy() if len(table) else np.zeros(0, bool)


class ProfileError(ValueError):
    """A profile file that is not a valid costmodel profile."""


def op_short(op: str) -> str:
    """``Tensor.add_`` -> ``add``, ``ReLU6`` -> ``relu6``, ``torch.cat`` -> ``cat``."""
    s = str(op).rsplit(".", 1)[-1].lower()
    return s[:-1] if s.endswith("_") and not s.endswith("__") else s


def op_key(kind: str, op: str) -> str:
    return f"{kind}:{op_short(op)}" if kind in SUBKEY_KINDS else kind


def keys_for(table: pd.DataFrame) -> List[str]:
    return [op_key(k, o) for k, o in zip(table["kind"], table["op"])]


class DeviceProfile:
    """A calibrated latency model; :meth:`load` / :meth:`save` JSON, :meth:`predict_table`."""

    def __init__(self, machine: dict, threads: Dict[int, dict], calibration: Optional[dict] = None):
        self.machine = dict(machine)
        self.threads = {int(k): v for k, v in threads.items()}
        self.calibration = dict(calibration or {})

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "machine": self.machine,
                "calibration": self.calibration,
                "threads": {str(k): v for k, v in sorted(self.threads.items())}}

    def save(self, path) -> None:
        d = os.path.dirname(os.path.abspath(str(path)))
        os.makedirs(d, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=1, allow_nan=False)
            f.write("\n")

    @classmethod
    def from_dict(cls, d) -> "DeviceProfile":
        if not isinstance(d, dict):
            raise ProfileError(f"a profile is a JSON object, got {type(d).__name__}")
        if d.get("format") != FORMAT:
            raise ProfileError(f"not a costmodel profile (format is {d.get('format')!r}, expected "
                               f"{FORMAT!r}); create one with `costmodel calibrate --out FILE`")
        if d.get("version") != VERSION:
            raise ProfileError(f"unsupported profile version {d.get('version')!r} (this costmodel "
                               f"reads version {VERSION}); recalibrate")
        if not isinstance(d.get("machine"), dict):
            raise ProfileError("profile: 'machine' must be an object")
        th = d.get("threads")
        if not isinstance(th, dict) or not th:
            raise ProfileError("profile: 'threads' must be a non-empty object")
        out = {}
        for k, v in th.items():
            if not str(k).isdigit() or int(k) < 1:
                raise ProfileError(f"profile: thread count {k!r} is not a positive integer")
            if not isinstance(v, dict) or not isinstance(v.get("ops"), dict) or "default" not in v["ops"]:
                raise ProfileError(f"profile: threads[{k!r}] needs an 'ops' object with a 'default' model")
            for key, m in v["ops"].items():
                _check_model(m, f"threads[{k}].ops[{key!r}]")
            net = v.get("network")
            if net is not None:
                if (not isinstance(net, dict) or not isinstance(net.get("features"), list)
                        or not isinstance(net.get("coef"), list)
                        or len(net["features"]) != len(net["coef"])
                        or not all(f in NETWORK_FEATURES for f in net["features"])
                        or not all(_num(c) for c in net["coef"])
                        or not (net.get("weight_cap_bytes") is None or _num(net["weight_cap_bytes"]))):
                    raise ProfileError(f"profile: threads[{k}].network is malformed")
            anchors = v.get("calibration_networks", [])
            if not isinstance(anchors, list) or not all(
                    isinstance(a, dict) and isinstance(a.get("index"), int) and _num(a.get("e2e_ms"))
                    for a in anchors):
                raise ProfileError(f"profile: threads[{k}].calibration_networks is malformed")
            out[int(k)] = v
        return cls(d["machine"], out, d.get("calibration") or {})

    @classmethod
    def load(cls, path) -> "DeviceProfile":
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except IsADirectoryError:
            raise ProfileError(f"{path} is a directory, not a profile file") from None
        try:
            d = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ProfileError(f"{path} is not a JSON costmodel profile ({exc.__class__.__name__}: "
                               f"{exc})") from None
        return cls.from_dict(d)

    # ------------------------------------------------------------------ prediction
    @property
    def thread_counts(self) -> List[int]:
        return sorted(self.threads)

    def resolve_threads(self, threads: Optional[int]) -> int:
        if threads is None:
            return self.thread_counts[0]
        if int(threads) not in self.threads:
            raise ValueError(f"the profile was calibrated for {self.thread_counts} thread(s), not "
                             f"{threads}; recalibrate with --threads {threads}")
        return int(threads)

    def model_for(self, key: str, threads: int) -> dict:
        ops = self.threads[threads]["ops"]
        if key in ops:
            return ops[key]
        kind = key.split(":", 1)[0]
        return ops.get(kind, ops["default"])

    def predict_isolated(self, table: pd.DataFrame, threads: Optional[int] = None) -> np.ndarray:
        """Isolated (replay) time in ms of every op in ``table`` (an :func:`op_table`)."""
        threads = self.resolve_threads(threads)
        table = table.reset_index(drop=True)
        keys = np.array(keys_for(table), dtype=object)
        out = np.zeros(len(table))
        for key in dict.fromkeys(keys):
            idx = np.where(keys == key)[0]
            out[idx] = fit.predict(self.model_for(key, threads), table.iloc[idx])
        return np.maximum(out, 0.0)

    def network_terms(self, table: pd.DataFrame, iso: np.ndarray, threads: Optional[int] = None):
        """(per-op in-network time in ms, per-network constant in ms)."""
        threads = self.resolve_threads(threads)
        net = self.threads[threads].get("network") or {"features": ["iso"], "coef": [1.0]}
        per_op = np.zeros(len(table))
        const = 0.0
        for f, c in zip(net["features"], net["coef"]):
            if f == "const":
                const += c
            elif f == "iso":
                per_op += c * iso
            elif f in ("iso_compute", "iso_memory"):
                mask = compute_mask(table.reset_index(drop=True))
                per_op += c * iso * (mask if f == "iso_compute" else ~mask)
            elif f == "one":
                per_op += c
            elif f == "weight_bytes":
                per_op += c * capped_weights(table, net.get("weight_cap_bytes"))
            else:
                per_op += c * table[f].to_numpy(dtype=float)
        return per_op, float(const)

    def baseline(self, name: str, flops: float, mac: float, threads: Optional[int] = None) -> float:
        threads = self.resolve_threads(threads)
        b = (self.threads[threads].get("baselines") or {}).get(name)
        if b is None:
            return float("nan")
        feats = {"one": 1.0, "flops": flops, "mac": mac}
        return float(sum(c * feats[f] for f, c in zip(b["features"], b["coef"])))

    def __repr__(self):
        return (f"<DeviceProfile {self.machine.get('cpu_model')} torch {self.machine.get('torch')} "
                f"threads {self.thread_counts}>")


def capped_weights(table: pd.DataFrame, cap) -> np.ndarray:
    w = table["weight_bytes"].to_numpy(dtype=float)
    return np.minimum(w, float(cap)) if cap else w


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _check_model(m, where: str, depth: int = 0) -> None:
    if not isinstance(m, dict) or m.get("type") not in ("linear", "roofline", "boosted", "constant"):
        raise ProfileError(f"profile: {where} is not a model (type must be linear, roofline, "
                           f"boosted or constant)")
    t = m["type"]
    if t == "linear":
        if (not isinstance(m.get("features"), list) or not isinstance(m.get("coef"), list)
                or len(m["features"]) != len(m["coef"]) or not all(_num(c) for c in m["coef"])
                or not all(isinstance(f, str) and (f == "one" or f in _FEATURES) for f in m["features"])):
            raise ProfileError(f"profile: {where}: linear model needs matching 'features'/'coef'")
    elif t == "roofline":
        for k in ("peak_madds_per_ms", "bandwidth_bytes_per_ms", "overhead_ms"):
            if not _num(m.get(k)):
                raise ProfileError(f"profile: {where}: roofline needs a number {k!r}")
    elif t == "constant":
        if not _num(m.get("ms")):
            raise ProfileError(f"profile: {where}: constant model needs 'ms'")
    else:
        if depth > 0:
            raise ProfileError(f"profile: {where}: nested boosted model")
        _check_model(m.get("base"), where + ".base", depth + 1)
        if not _num(m.get("init")) or not _num(m.get("lr")) or not isinstance(m.get("trees"), list):
            raise ProfileError(f"profile: {where}: boosted model needs init, lr, trees")
        nf = len(fit.TREE_FEATURES)
        for i, tr in enumerate(m["trees"]):
            arrs = [tr.get(k) if isinstance(tr, dict) else None
                    for k in ("feature", "threshold", "left", "right", "value")]
            if not all(isinstance(a, list) for a in arrs) or len({len(a) for a in arrs}) != 1:
                raise ProfileError(f"profile: {where}: tree {i} is malformed")
            n = len(arrs[0])
            if not all(isinstance(f, int) and -1 <= f < nf for f in arrs[0]) or not all(
                    isinstance(c, int) and -1 <= c < n for c in arrs[2] + arrs[3]) or not all(
                    _num(v) for v in arrs[1] + arrs[4]):
                raise ProfileError(f"profile: {where}: tree {i} has out-of-range entries")


from costmodel.latency.features import FEATURE_COLUMNS as _FEATURES  # noqa: E402
