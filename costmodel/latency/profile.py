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

:meth:`DeviceProfile.load` reads through :mod:`costmodel.fileio` (size cap, JSON depth check) and
:meth:`DeviceProfile.from_dict` checks every number as well as the types, so a hand-edited or
hostile profile is refused with a :class:`ProfileError` naming the file, the field and the value:
feature names must be known ones; linear and network coefficients, roofline overheads and
constant times lie in ``[0, MAX_COEF]`` (baseline coefficients, least-squares fits, may be
negative); roofline rates are at least :data:`MIN_RATE`; boosted corrections are bounded by
:data:`MAX_LOG_CORRECTION` and their trees must be well formed.  With non-negative features such
a profile cannot predict a negative time; :func:`costmodel.latency.predict.predict_table` still
refuses any non-finite or negative prediction (an overflow) instead of returning it.
"""
from __future__ import annotations

import math
import os
from typing import Dict, List, Optional

import numpy as np
import pandas as pd

from costmodel.latency import checks, files, fit

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
                    "modules", "const"]


def compute_mask(table: pd.DataFrame) -> np.ndarray:
    """True for the ops of ``table`` whose kind is in :data:`COMPUTE_KINDS`."""
    if not len(table):
        return np.zeros(0, bool)
    return np.isin(np.asarray(table["kind"], dtype=object), list(COMPUTE_KINDS))


class ProfileError(ValueError):
    """A profile file that is not a valid costmodel profile."""


def op_short(op: str) -> str:
    """``Tensor.add_`` -> ``add``, ``ReLU6`` -> ``relu6``, ``torch.cat`` -> ``cat``."""
    s = str(op).rsplit(".", 1)[-1].lower()
    return s[:-1] if s.endswith("_") and not s.endswith("__") else s


#: the key of a ``linear`` op that multiplies more than one row (ConvNeXt's channels-last MLP,
#: attention projections): a GEMM, where the classifier heads that make up the other ``linear``
#: samples are matrix-vector products bound by reading the weights
LINEAR_ROWS_KEY = "linear:rows"
#: where a key the profile has no model for looks next, before its kind's model and ``default``:
#: a many-row linear is the same GEMM as a pointwise convolution over that many positions
FALLBACK_KEYS = {LINEAR_ROWS_KEY: ("pointwise_conv",), "dilated_conv": ("conv",)}


def _spelling(op_part: str) -> str:
    """``batch_norm`` and ``batchnorm2d`` -> ``batchnorm``: a functional op (``F.batch_norm``,
    what timm's ``BatchNormAct2d`` calls) and the module that calls the same kernel
    (``nn.BatchNorm2d``) spelled alike."""
    s = op_part.replace("_", "")
    return s[:-2] if len(s) > 2 and s[-2] in "123" and s[-1] == "d" else s


def alias_key(key: str, known) -> Optional[str]:
    """The key among ``known`` that names the same op as ``key`` in its other spelling (the
    module for a functional op and back): ``norm:batch_norm`` -> ``norm:batchnorm2d``,
    ``pool:avg_pool2d`` -> ``pool:avgpool2d``; None when there is none."""
    kind, _, part = key.partition(":")
    if not part:
        return None
    want = _spelling(part)
    for k in known:
        k_kind, _, k_part = k.partition(":")
        if k_kind == kind and k_part and k != key and _spelling(k_part) == want:
            return k
    return None


def op_key(kind: str, op: str, rows: int = 1) -> str:
    """The profile key of one op: ``kind:op`` for :data:`SUBKEY_KINDS`, :data:`LINEAR_ROWS_KEY`
    for a ``linear`` over ``rows`` > 1 rows, else the kind."""
    if kind in SUBKEY_KINDS:
        return f"{kind}:{op_short(op)}"
    if kind == "linear" and rows > 1:
        return LINEAR_ROWS_KEY
    return kind


def keys_for(table: pd.DataFrame) -> List[str]:
    """:func:`op_key` of every op of ``table`` (``hw_out`` gives a linear's rows when present)."""
    rows = table["hw_out"] if "hw_out" in table else np.ones(len(table), dtype=np.int64)
    return [op_key(k, o, int(r)) for k, o, r in zip(table["kind"], table["op"], rows)]


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
        """Write the profile as JSON, atomically (:func:`costmodel.fileio.write_text`); a profile
        that would not load back (:meth:`from_dict`) raises :class:`ProfileError` and writes
        nothing."""
        d = self.to_dict()
        type(self).from_dict(d, source=f"profile to save as {os.fspath(path)}")
        files.write_json(path, d)

    @classmethod
    def from_dict(cls, d, source: str = "profile") -> "DeviceProfile":
        """Validate a profile object (types, feature names and every number, see the module
        docstring) and build it; errors raise :class:`ProfileError` naming ``source``, the field
        and the value."""
        if not isinstance(d, dict):
            raise ProfileError(f"{source}: a profile is a JSON object, got {type(d).__name__}")
        if d.get("format") != FORMAT:
            raise ProfileError(f"{source}: not a costmodel profile (format is {d.get('format')!r}, "
                               f"expected {FORMAT!r}); create one with `costmodel calibrate --out FILE`")
        if d.get("version") != VERSION:
            raise ProfileError(f"{source}: unsupported profile version {d.get('version')!r} (this "
                               f"costmodel reads version {VERSION}); recalibrate")
        machine = d.get("machine")
        if not isinstance(machine, dict):
            raise ProfileError(f"{source}: 'machine' must be an object")
        for k in ("cpu_model", "arch", "torch"):
            if k in machine and not isinstance(machine[k], str):
                raise ProfileError(f"{source}: machine.{k}: expected a string, got "
                                   f"{checks.show(machine[k])}")
        if "isa" in machine:
            checks.strings(machine["isa"], f"{source}: machine.isa", ProfileError)
        cal = d.get("calibration")
        if cal is not None and not isinstance(cal, dict):
            raise ProfileError(f"{source}: 'calibration' must be an object, got {checks.show(cal)}")
        if cal and cal.get("quiet") is not None:
            checks.quiet(cal["quiet"], f"{source}: calibration.quiet", ProfileError)
        th = d.get("threads")
        if not isinstance(th, dict) or not th:
            raise ProfileError(f"{source}: 'threads' must be a non-empty object")
        out = {}
        for k, v in th.items():
            if not (str(k).isascii() and str(k).isdigit()) or int(k) < 1:
                raise ProfileError(f"{source}: thread count {k!r} is not a positive integer")
            _check_threads(v, f"{source}: threads[{k!r}]")
            out[int(k)] = v
        return cls(machine, out, cal or {})

    @classmethod
    def load(cls, path) -> "DeviceProfile":
        """Read and validate a profile file (a regular file of at most
        :data:`costmodel.fileio.MAX_INPUT_BYTES`, JSON nested at most
        :data:`costmodel.fileio.MAX_JSON_DEPTH` deep)."""
        return cls.from_dict(files.read_json(path, ProfileError), source=os.fspath(path))

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

    def reference(self, threads: int) -> Optional[dict]:
        """The drift reference's calibration record at ``threads`` threads (``name``, ``ms``,
        ``n``, ``spread_pct``, ``samples_ms``), or None when the profile has none there."""
        ref = (self.threads.get(int(threads)) or {}).get("reference")
        return ref if isinstance(ref, dict) and ref.get("ms") else None

    def reads_context(self) -> bool:
        """True when any op model or network term reads an op's context
        (:data:`costmodel.latency.features.CONTEXT_COLUMNS`), so that an op's prediction depends
        on the ops before it, not only on its own shapes."""
        return any(fit.reads_any(m, CONTEXT_COLUMNS)
                   for t in self.threads.values()
                   for m in [*t["ops"].values(), t.get("network") or {}])

    def model_for(self, key: str, threads: int) -> dict:
        ops = self.threads[threads]["ops"]
        if key in ops:
            return ops[key]
        for alt in FALLBACK_KEYS.get(key, ()):
            if alt in ops:
                return ops[alt]
        alias = alias_key(key, ops)
        if alias is not None:
            return ops[alias]
        kind = key.split(":", 1)[0]
        return ops.get(kind, ops["default"])

    def predict_isolated(self, table, threads: Optional[int] = None, keys=None) -> np.ndarray:
        """Isolated (replay) time in ms of every op in ``table`` (an :func:`op_table`, or its
        :class:`fit.Columns`); ``keys`` (:func:`keys_for`) when the caller has them already."""
        threads = self.resolve_threads(threads)
        columns = _columns(table)
        keys = np.array(keys_for(columns) if keys is None else keys, dtype=object)
        out = np.zeros(len(columns))
        for key in dict.fromkeys(keys):
            idx = np.where(keys == key)[0]
            out[idx] = fit.predict(self.model_for(key, threads), columns.take(idx))
        return out  # never negative for a valid profile; predict_table refuses it otherwise

    def network_terms(self, table, iso: np.ndarray, threads: Optional[int] = None):
        """(per-op in-network time in ms, per-network constant in ms) of an op table or its
        :class:`fit.Columns`."""
        threads = self.resolve_threads(threads)
        columns = _columns(table)
        net = self.threads[threads].get("network") or {"features": ["iso"], "coef": [1.0]}
        per_op = np.zeros(len(columns))
        const = 0.0
        for f, c in zip(net["features"], net["coef"]):
            if f == "const":
                const += c
            elif f == "modules":  # module calls per forward (containers included)
                const += c * float(columns.attrs.get("module_calls", 0))
            elif f == "iso":
                per_op += c * iso
            elif f in ("iso_compute", "iso_memory"):
                mask = compute_mask(columns)
                per_op += c * iso * (mask if f == "iso_compute" else ~mask)
            elif f == "one":
                per_op += c
            elif f == "weight_bytes":
                per_op += c * capped_weights(columns, net.get("weight_cap_bytes"))
            else:
                per_op += c * columns[f]
        return per_op, float(const)

    def baseline(self, name: str, flops: float, mac: float, threads: Optional[int] = None) -> float:
        threads = self.resolve_threads(threads)
        b = (self.threads[threads].get("baselines") or {}).get(name)
        if b is None:
            return float("nan")
        feats = {"one": 1.0, "flops": flops, "mac": mac}
        ms = float(sum(c * feats[f] for f, c in zip(b["features"], b["coef"])))
        if not math.isfinite(ms):
            raise ProfileError(f"the profile's {name!r} baseline predicts {ms} ms at {threads} "
                               f"thread(s): recalibrate")
        return ms

    def __repr__(self):
        return (f"<DeviceProfile {self.machine.get('cpu_model')} torch {self.machine.get('torch')} "
                f"threads {self.thread_counts}>")


def _columns(table) -> "fit.Columns":
    """An op table's :class:`fit.Columns` (the table itself when it is one already)."""
    return table if isinstance(table, fit.Columns) else fit.Columns.of(table.reset_index(drop=True))


def capped_weights(table, cap) -> np.ndarray:
    w = fit._col(table, "weight_bytes")
    return np.minimum(w, float(cap)) if cap else w


#: feature names of the baselines (:func:`costmodel.latency.calibrate.fit_baselines`)
BASELINE_FEATURES = ("one", "flops", "mac")
#: the largest coefficient of any model: no multiply-add, byte, op or isolated millisecond costs
#: more than this many ms, and no per-network constant is longer
MAX_COEF = checks.MAX_MS
#: the smallest rate (multiply-adds or bytes per ms) of a roofline: one unit in at most MAX_COEF ms
MIN_RATE = 1.0 / MAX_COEF
#: bound on the log-space corrections of boosted models (init, tree leaves): exp(30) = 1e13
MAX_LOG_CORRECTION = 30.0


def _coef(v, where: str, signed: bool = False):
    return checks.number(v, where, ProfileError, lo=-MAX_COEF if signed else 0.0, hi=MAX_COEF)


def _check_threads(v, where: str) -> None:
    """One thread count's models: ops, network, baselines, calibration networks, stats."""
    if not isinstance(v, dict) or not isinstance(v.get("ops"), dict) or "default" not in v["ops"]:
        raise ProfileError(f"{where} needs an 'ops' object with a 'default' model")
    for key, m in v["ops"].items():
        _check_model(m, f"{where}.ops[{key!r}]")
    net = v.get("network")
    if net is not None:
        _check_linear(net, f"{where}.network", NETWORK_FEATURES)
        if "weight_cap_bytes" in net:
            checks.number(net["weight_cap_bytes"], f"{where}.network.weight_cap_bytes",
                          ProfileError, hi=1e15, null=True)
    baselines = v.get("baselines")
    if baselines is not None:
        if not isinstance(baselines, dict):
            raise ProfileError(f"{where}.baselines: expected an object, got {checks.show(baselines)}")
        for name, b in baselines.items():  # least squares: coefficients may be negative
            _check_linear(b, f"{where}.baselines[{name!r}]", BASELINE_FEATURES, signed=True)
    anchors = v.get("calibration_networks", [])
    if not isinstance(anchors, list):
        raise ProfileError(f"{where}.calibration_networks: expected a list, got "
                           f"{checks.show(anchors)}")
    for i, a in enumerate(anchors):
        aw = f"{where}.calibration_networks[{i}]"
        if not isinstance(a, dict) or not (checks.is_int(a.get("index")) and a["index"] >= 0):
            raise ProfileError(f"{aw}: expected an object with a non-negative integer 'index', got "
                               f"{checks.show(a)}")
        checks.number(a.get("e2e_ms"), f"{aw}.e2e_ms", ProfileError, positive=True)
    if "stats" in v and not isinstance(v["stats"], dict):
        raise ProfileError(f"{where}.stats: expected an object, got {checks.show(v['stats'])}")
    ref = v.get("reference")
    if ref is not None:
        if not isinstance(ref, dict) or ref.get("name") != REFERENCE_NAME:
            raise ProfileError(f"{where}.reference: expected an object naming {REFERENCE_NAME!r}, "
                               f"got {checks.show(ref)}")
        checks.number(ref.get("ms"), f"{where}.reference.ms", ProfileError, positive=True)
        checks.number(ref.get("spread_pct"), f"{where}.reference.spread_pct", ProfileError,
                      hi=1e4)
        if not (checks.is_int(ref.get("n")) and ref["n"] >= 1):
            raise ProfileError(f"{where}.reference.n: expected a positive integer, got "
                               f"{checks.show(ref.get('n'))}")


#: the drift reference network (:data:`costmodel.latency.families.REFERENCE`)
REFERENCE_NAME = "families:reference"


def _check_linear(m, where: str, known, signed: bool = False) -> None:
    """``features`` (names from ``known``, each once) and matching ``coef``."""
    if not isinstance(m, dict) or not isinstance(m.get("features"), list) \
            or not isinstance(m.get("coef"), list) or len(m["features"]) != len(m["coef"]):
        raise ProfileError(f"{where}: needs matching 'features' and 'coef' lists")
    for i, f in enumerate(m["features"]):
        if not isinstance(f, str) or f not in known:
            raise ProfileError(f"{where}.features[{i}]: unknown feature {checks.show(f)} (known: "
                               f"{', '.join(known)})")
    if len(set(m["features"])) != len(m["features"]):
        raise ProfileError(f"{where}.features: a feature appears twice: {checks.show(m['features'])}")
    for i, c in enumerate(m["coef"]):
        _coef(c, f"{where}.coef[{i}]", signed)


def _check_model(m, where: str, depth: int = 0) -> None:
    if not isinstance(m, dict) or m.get("type") not in ("linear", "roofline", "boosted", "constant"):
        raise ProfileError(f"{where} is not a model (type must be linear, roofline, boosted or "
                           f"constant)")
    t = m["type"]
    if "scale" in m:  # the ratio-of-sums correction (fit.unbias)
        checks.number(m["scale"], f"{where}.scale", ProfileError, positive=True, hi=1e3)
    if t == "linear":
        _check_linear(m, where, ["one"] + list(_FEATURES))
    elif t == "roofline":
        for k in ("peak_madds_per_ms", "bandwidth_bytes_per_ms"):
            checks.number(m.get(k), f"{where}.{k}", ProfileError, lo=MIN_RATE, hi=1e300)
        checks.number(m.get("overhead_ms"), f"{where}.overhead_ms", ProfileError)
    elif t == "constant":
        checks.number(m.get("ms"), f"{where}.ms", ProfileError)
    else:
        _check_boosted(m, where, depth)


def _check_boosted(m: dict, where: str, depth: int) -> None:
    if depth > 0:
        raise ProfileError(f"{where}: nested boosted model")
    _check_model(m.get("base"), where + ".base", depth + 1)
    if "tree_features" in m and not (isinstance(m["tree_features"], list)
                                     and fit.known_tree_features(m["tree_features"])):
        raise ProfileError(f"{where}.tree_features: {checks.show(m['tree_features'])} are not this "
                           f"costmodel's tree features; recalibrate")
    checks.number(m.get("init"), f"{where}.init", ProfileError, lo=-MAX_LOG_CORRECTION,
                  hi=MAX_LOG_CORRECTION)
    checks.number(m.get("lr"), f"{where}.lr", ProfileError, positive=True, hi=1.0)
    if not isinstance(m.get("trees"), list):
        raise ProfileError(f"{where}: boosted model needs a 'trees' list")
    nf = len(m.get("tree_features") or fit.TREE_FEATURES)
    for i, tr in enumerate(m["trees"]):
        tw = f"{where}.trees[{i}]"
        arrs = [tr.get(k) if isinstance(tr, dict) else None
                for k in ("feature", "threshold", "left", "right", "value")]
        if not all(isinstance(a, list) for a in arrs) or len({len(a) for a in arrs}) != 1 \
                or not arrs[0]:
            raise ProfileError(f"{tw} is malformed (needs equally long, non-empty 'feature', "
                               f"'threshold', 'left', 'right', 'value' lists)")
        feature, threshold, left, right, value = arrs
        depth_of = [0] * len(feature)
        for n, f in enumerate(feature):
            if not (checks.is_int(f) and -1 <= f < nf):
                raise ProfileError(f"{tw}.feature[{n}]: expected -1 (leaf) or a tree-feature index "
                                   f"below {nf}, got {checks.show(f)}")
            checks.number(threshold[n], f"{tw}.threshold[{n}]", ProfileError, lo=-1e300, hi=1e300)
            checks.number(value[n], f"{tw}.value[{n}]", ProfileError, lo=-MAX_LOG_CORRECTION,
                          hi=MAX_LOG_CORRECTION)
            children = (left[n], right[n])
            if f == -1:
                continue
            # children come after their parent (trees are stored depth-first), so every walk
            # ends at a leaf within fit.predict_tree's 64 steps
            if not all(checks.is_int(c) and n < c < len(feature) for c in children):
                raise ProfileError(f"{tw}: node {n} has children {checks.show(list(children))}; "
                                   f"expected indices of later nodes")
            for c in children:
                depth_of[c] = max(depth_of[c], depth_of[n] + 1)
                if depth_of[c] >= 64:
                    raise ProfileError(f"{tw} is deeper than 63 levels")


from costmodel.latency.features import CONTEXT_COLUMNS, FEATURE_COLUMNS as _FEATURES  # noqa: E402,E501
