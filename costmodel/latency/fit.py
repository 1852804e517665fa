"""Small numeric latency models, numpy only, stored as plain JSON dicts.

Three model types, all predicting milliseconds from a feature dict/DataFrame row:

``roofline``
    ``max(madds / peak, mac_bytes / bandwidth) + overhead`` with fitted peak multiply-add rate
    (per ms), bandwidth (bytes per ms) and per-op overhead (ms).
``linear``
    ``sum_j coef_j * feature_j`` with non-negative coefficients (Lawson-Hanson NNLS), features such
    as ``one`` (per-op overhead), ``madds``, ``mac_bytes``, ``weight_bytes``, ``alloc_bytes``.
``boosted``
    a ``linear`` base multiplied by ``exp(f(z))`` where ``f`` is a small ensemble of gradient
    boosted regression trees on shape features ``z`` fitted to ``log(y / base)`` (nn-Meter fits
    random forests per kernel; this is the same idea in a few kilobytes of JSON).

Every fit minimises *relative* error (residuals weighted by ``1 / y``), so microsecond-sized ops
count as much as the big convolutions.  :func:`select_model` fits all three, scores them by
k-fold cross-validation and keeps the simplest one that is not clearly worse.
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Sequence

import numpy as np
import pandas as pd

LINEAR_FEATURES = ["one", "madds", "mac_bytes", "weight_bytes", "alloc_bytes"]
#: features the boosted trees may split on (computed by :func:`tree_features`): the op's shapes and
#: counts, then its context (``prev_same``, :data:`costmodel.latency.features.CONTEXT_COLUMNS`)
TREE_FEATURES = ["log_madds", "log_mac_bytes", "log_weight_bytes", "log_out_numel", "log_in_numel",
                 "log_cin", "log_cout", "log_hw_out", "kernel_area", "stride", "log_groups",
                 "log_cin_per_group", "log_cout_per_group", "intensity", "n_inputs", "prev_same"]


# ---------------------------------------------------------------------------------------------
# non-negative least squares
# ---------------------------------------------------------------------------------------------
def nnls(A: np.ndarray, b: np.ndarray, max_iter: Optional[int] = None, tol: float = 1e-10) -> np.ndarray:
    """Lawson-Hanson active-set solution of ``min ||A x - b||, x >= 0``."""
    A = np.asarray(A, dtype=float)
    b = np.asarray(b, dtype=float)
    m, n = A.shape
    x = np.zeros(n)
    passive = np.zeros(n, dtype=bool)
    w = A.T @ (b - A @ x)
    max_iter = max_iter or 3 * n + 30
    it = 0
    while (~passive).any() and (w[~passive] > tol * max(1.0, np.abs(w).max())).any():
        cand = np.where(~passive, w, -np.inf)
        passive[int(np.argmax(cand))] = True
        while True:
            it += 1
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(A[:, passive], b, rcond=None)[0]
            if (z[passive] > 0).all() or it > max_iter:
                x = np.where(passive, np.maximum(z, 0), 0.0)
                break
            neg = passive & (z <= 0)
            alpha = np.min(x[neg] / np.maximum(x[neg] - z[neg], 1e-300))
            x = x + alpha * (z - x)
            passive &= x > tol
            x[~passive] = 0.0
        w = A.T @ (b - A @ x)
        if it > max_iter:
            break
    return x


def fit_nnls_relative(X: np.ndarray, y: np.ndarray, weights: Optional[np.ndarray] = None) -> np.ndarray:
    """Non-negative coefficients minimising ``sum (w_i (X_i c - y_i) / y_i)^2`` (columns are
    rescaled internally for conditioning)."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    w = 1.0 / np.maximum(y, 1e-12)
    if weights is not None:
        w = w * weights
    A = X * w[:, None]
    scale = np.sqrt((A ** 2).sum(axis=0))
    scale[scale == 0] = 1.0
    c = nnls(A / scale, y * w)
    return c / scale


# ---------------------------------------------------------------------------------------------
# features
# ---------------------------------------------------------------------------------------------
class Columns:
    """The columns of an op table as numpy arrays (numbers as float): what the model types read
    (``table[name]``, ``name in table``, ``len(table)``, ``table.attrs``), without a DataFrame's
    cost per row subset (predicting takes a subset per op kind)."""

    def __init__(self, arrays: Dict[str, np.ndarray], n: int, attrs: Optional[dict] = None):
        self._arrays, self._n = arrays, n
        self.attrs = dict(attrs or {})

    @classmethod
    def of(cls, data, attrs: Optional[dict] = None) -> "Columns":
        """From a DataFrame or a dict of equal-length arrays."""
        arrays = {}
        for c in data.keys():
            a = np.asarray(data[c])
            arrays[c] = a.astype(float) if a.dtype.kind in "biuf" else np.asarray(a, dtype=object)
        n = len(data) if isinstance(data, pd.DataFrame) else len(next(iter(arrays.values()), ()))
        return cls(arrays, n, getattr(data, "attrs", None) if attrs is None else attrs)

    def take(self, idx: np.ndarray) -> "Columns":
        return Columns({c: a[idx] for c, a in self._arrays.items()}, len(idx), self.attrs)

    def __getitem__(self, name: str) -> np.ndarray:
        return self._arrays[name]

    def __contains__(self, name: str) -> bool:
        return name in self._arrays

    def __len__(self) -> int:
        return self._n


def _col(df, name: str) -> np.ndarray:
    if name == "one":
        return np.ones(len(df))
    v = df[name]
    return v if isinstance(v, np.ndarray) else v.to_numpy(dtype=float)


def linear_matrix(df: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    return np.stack([_col(df, f) for f in features], axis=1) if len(df) else np.zeros((0, len(features)))


def tree_features(df: pd.DataFrame) -> np.ndarray:
    l1p = lambda c: np.log1p(_col(df, c))  # noqa: E731
    cin = np.maximum(_col(df, "cin"), 1)
    groups = np.maximum(_col(df, "groups"), 1)
    cols = {
        "log_madds": l1p("madds"), "log_mac_bytes": l1p("mac_bytes"),
        "log_weight_bytes": l1p("weight_bytes"), "log_out_numel": l1p("out_numel"),
        "log_in_numel": l1p("in_numel"), "log_cin": np.log(cin),
        "log_cout": np.log(np.maximum(_col(df, "cout"), 1)),
        "log_hw_out": np.log(np.maximum(_col(df, "hw_out"), 1)),
        "kernel_area": _col(df, "kernel_area"), "stride": _col(df, "stride"),
        "log_groups": np.log(groups), "log_cin_per_group": np.log(np.maximum(cin / groups, 1)),
        "log_cout_per_group": np.log(np.maximum(np.maximum(_col(df, "cout"), 1) / groups, 1)),
        "intensity": _col(df, "madds") / np.maximum(_col(df, "mac_bytes"), 1.0),
        "n_inputs": _col(df, "n_inputs"),
        # an op-context feature (costmodel.latency.features.CONTEXT_COLUMNS); absent: 0
        "prev_same": _col(df, "prev_same") if "prev_same" in df else np.zeros(len(df)),
    }
    return np.stack([cols[f] for f in TREE_FEATURES], axis=1)


# ---------------------------------------------------------------------------------------------
# regression trees and boosting
# ---------------------------------------------------------------------------------------------
def _best_split(Z: np.ndarray, r: np.ndarray, min_leaf: int):
    """(gain, feature, threshold) of the best least-squares split, all features at once."""
    n = len(r)
    order = np.argsort(Z, axis=0, kind="stable")
    zs = np.take_along_axis(Z, order, axis=0)
    cs = np.cumsum(r[order], axis=0)
    total = cs[-1, 0]
    k = np.arange(1, n)[:, None]
    left = cs[:-1]
    valid = (zs[1:] > zs[:-1]) & (k >= min_leaf) & (n - k >= min_leaf)
    if not valid.any():
        return (0.0, -1, 0.0)
    gain = left ** 2 / k + (total - left) ** 2 / (n - k) - total ** 2 / n
    gain = np.where(valid, gain, -np.inf)
    i, j = np.unravel_index(int(np.argmax(gain)), gain.shape)
    if not gain[i, j] > 1e-12:
        return (0.0, -1, 0.0)
    return (float(gain[i, j]), int(j), float((zs[i, j] + zs[i + 1, j]) / 2))


def fit_tree(Z: np.ndarray, r: np.ndarray, depth: int = 3, min_leaf: int = 5) -> Dict[str, list]:
    """A least-squares regression tree as parallel arrays (``feature == -1`` marks a leaf)."""
    tree = {"feature": [], "threshold": [], "left": [], "right": [], "value": []}

    def grow(idx, d):
        node = len(tree["feature"])
        for k in tree:
            tree[k].append(-1 if k in ("feature", "left", "right") else 0.0)
        tree["value"][node] = float(r[idx].mean()) if len(idx) else 0.0
        if d < depth and len(idx) >= 2 * min_leaf:
            gain, j, thr = _best_split(Z[idx], r[idx], min_leaf)
            if j >= 0:
                tree["feature"][node] = j
                tree["threshold"][node] = _round(thr)
                mask = Z[idx, j] <= thr
                tree["left"][node] = grow(idx[mask], d + 1)
                tree["right"][node] = grow(idx[~mask], d + 1)
        return node

    grow(np.arange(len(r)), 0)
    tree["value"] = [_round(v) for v in tree["value"]]
    return tree


def _round(v: float) -> float:
    """6 significant digits: keeps the JSON small, far below measurement noise."""
    return float(f"{v:.6g}")


def predict_tree(tree: Dict[str, list], Z: np.ndarray) -> np.ndarray:
    feat = np.asarray(tree["feature"], dtype=int)
    thr = np.asarray(tree["threshold"], dtype=float)
    left = np.asarray(tree["left"], dtype=int)
    right = np.asarray(tree["right"], dtype=int)
    val = np.asarray(tree["value"], dtype=float)
    node = np.zeros(len(Z), dtype=int)
    for _ in range(64):
        f = feat[node]
        inner = f >= 0
        if not inner.any():
            break
        go_left = np.zeros(len(Z), dtype=bool)
        go_left[inner] = Z[inner, f[inner]] <= thr[node[inner]]
        node = np.where(inner, np.where(go_left, left[node], right[node]), node)
    return val[node]


def fit_boost(Z: np.ndarray, r: np.ndarray, n_trees: int = 40, lr: float = 0.2, depth: int = 3,
              min_leaf: int = 5) -> dict:
    init = float(np.mean(r)) if len(r) else 0.0
    pred = np.full(len(r), init)
    trees = []
    for _ in range(n_trees):
        t = fit_tree(Z, r - pred, depth, min_leaf)
        step = predict_tree(t, Z)
        if np.abs(step).max() < 1e-9:
            break
        trees.append(t)
        pred += lr * step
    return {"init": init, "lr": lr, "trees": trees}


def predict_boost(boost: dict, Z: np.ndarray) -> np.ndarray:
    """``init + lr * sum(tree(Z))`` over the boosted trees, all trees walked at once: the
    forest's arrays are built once per model (:func:`_forest`), one step per tree level."""
    feat, thr, left, right, val, depth = _forest(boost)
    out = np.full(len(Z), float(boost["init"]))
    if feat.shape[0] == 0 or len(Z) == 0:
        return out
    trees = np.arange(feat.shape[0])[None, :]
    rows = np.arange(len(Z))[:, None]
    node = np.zeros((len(Z), feat.shape[0]), dtype=np.int64)
    for _ in range(depth):
        f = feat[trees, node]
        inner = f >= 0
        if not inner.any():
            break
        go_left = Z[rows, np.maximum(f, 0)] <= thr[trees, node]
        node = np.where(inner, np.where(go_left, left[trees, node], right[trees, node]), node)
    return out + float(boost["lr"]) * val[trees, node].sum(axis=1)


#: compiled forests by ``id`` of their model dict (the dict kept beside them, so the id stays valid)
_FORESTS: Dict[int, tuple] = {}


def _forest(boost: dict):
    """(feature, threshold, left, right, value) as (trees x nodes) arrays padded with leaves,
    and the number of levels to walk (at most 64, as :func:`predict_tree`)."""
    hit = _FORESTS.get(id(boost))
    trees = boost["trees"]
    if hit is not None and hit[0] is boost and hit[1] is trees and hit[2] == len(trees):
        return hit[3]
    m = max((len(t["feature"]) for t in trees), default=1)
    shape = (len(trees), m)
    feat = np.full(shape, -1, dtype=np.int64)
    left = np.zeros(shape, dtype=np.int64)
    right = np.zeros(shape, dtype=np.int64)
    thr = np.zeros(shape)
    val = np.zeros(shape)
    for i, t in enumerate(trees):
        k = len(t["feature"])
        feat[i, :k], thr[i, :k], val[i, :k] = t["feature"], t["threshold"], t["value"]
        left[i, :k], right[i, :k] = t["left"], t["right"]
    compiled = (feat, thr, left, right, val, min(64, m))
    if len(_FORESTS) > 4096:
        _FORESTS.clear()
    _FORESTS[id(boost)] = (boost, trees, len(trees), compiled)
    return compiled


# ---------------------------------------------------------------------------------------------
# model types
# ---------------------------------------------------------------------------------------------
def fit_linear(df: pd.DataFrame, y: np.ndarray, features: Sequence[str] = LINEAR_FEATURES) -> dict:
    features = [f for f in features if f == "one" or (f in df and (df[f] != 0).any())]
    coef = fit_nnls_relative(linear_matrix(df, features), y)
    return {"type": "linear", "features": list(features), "coef": [float(c) for c in coef]}


def fit_roofline(df: pd.DataFrame, y: np.ndarray) -> dict:
    """Grid search of peak rate and bandwidth (log grid), overhead in closed form:
    ``t = max(madds / peak, mac_bytes / bandwidth) + overhead``.

    Equally good fits go to the fastest peak: where the samples do not constrain the compute term
    (a kind whose samples all have zero multiply-adds: activations, views, grouped shifts) it adds
    nothing, instead of a slowest-possible peak that an op of that kind *with* multiply-adds would
    meet.  Measured: the 12-04 EPYC profile's ``shift`` model, fitted on grouped shifts only, had
    peak 1e5 multiply-adds/ms and predicted the zoo's ASResNet (bilinear ActiveShift, predicted
    with the ``shift`` kind's model) 3.3-5.5x its measured time."""
    madds = _col(df, "madds")
    nbytes = _col(df, "mac_bytes")
    y = np.asarray(y, dtype=float)
    w = 1.0 / np.maximum(y, 1e-12)
    best = None
    # rates per ms: multiply-adds 1e5 .. 1e10 /ms (0.1 .. 10000 GMAdd/s), bytes 1e5 .. 1e9.5 /ms
    log_bws = np.linspace(5, 9.5, 37)
    tm = nbytes[:, None] / 10 ** log_bws[None, :]
    w2 = (w * w)[:, None]
    for log_peak in np.linspace(10, 5, 41):  # fastest first: ties keep it
        t = np.maximum((madds / 10 ** log_peak)[:, None], tm)
        o = np.maximum(0.0, np.sum(w2 * (y[:, None] - t), axis=0) / np.sum(w2))
        err = np.sum(w2 * (t + o[None, :] - y[:, None]) ** 2, axis=0)
        j = int(np.argmin(err))
        if best is None or err[j] < best[0]:
            best = (float(err[j]), float(log_peak), float(log_bws[j]), float(o[j]))
    _, lp, lb, o = best
    return {"type": "roofline", "peak_madds_per_ms": float(10 ** lp),
            "bandwidth_bytes_per_ms": float(10 ** lb), "overhead_ms": o}


def fit_boosted(df: pd.DataFrame, y: np.ndarray, n_trees: Optional[int] = None,
                depth: Optional[int] = None) -> dict:
    """Linear base times exp(boosted trees); bigger ensembles for kinds with many samples."""
    big = len(y) >= 300
    n_trees = n_trees or (60 if big else 40)
    depth = depth or (4 if big else 3)
    base = fit_linear(df, y)
    b = np.maximum(predict(base, df), 1e-9)
    min_leaf = max(3, min(10, len(y) // 20))
    boost = fit_boost(tree_features(df), np.log(np.maximum(y, 1e-9) / b), n_trees=n_trees,
                      lr=0.15 if big else 0.2, depth=depth, min_leaf=min_leaf)
    return {"type": "boosted", "base": base, "tree_features": list(TREE_FEATURES), **boost}


def predict(model: dict, df: pd.DataFrame) -> np.ndarray:
    """Milliseconds predicted by ``model`` for every row of ``df`` (times its ``scale``)."""
    out = _predict(model, df)
    return out * float(model["scale"]) if "scale" in model else out


def unbias(model: dict, df: pd.DataFrame, y: np.ndarray) -> dict:
    """Give ``model`` a ``scale`` so that its predictions sum to the measured total on its own
    samples.  Fits that minimise *relative* error land on the typical op, below the mean of a
    noisy, right-skewed group, and a network's time is a sum: on the calibration networks of the
    in-network method the per-op models summed to 11.6% (median) below the measured op times."""
    pred = _predict(model, df)
    total = float(np.sum(pred))
    if total > 0 and np.isfinite(total):
        model["scale"] = float(np.clip(np.sum(y) / total, 0.2, 5.0))
    return model


def _predict(model: dict, df: pd.DataFrame) -> np.ndarray:
    kind = model["type"]
    if kind == "linear":
        return linear_matrix(df, model["features"]) @ np.asarray(model["coef"], dtype=float)
    if kind == "roofline":
        t = np.maximum(_col(df, "madds") / model["peak_madds_per_ms"],
                       _col(df, "mac_bytes") / model["bandwidth_bytes_per_ms"])
        return t + model["overhead_ms"]
    if kind == "boosted":
        if not known_tree_features(model.get("tree_features", TREE_FEATURES)):
            raise ValueError("profile's boosted model uses different tree features; recalibrate")
        return _predict(model["base"], df) * np.exp(predict_boost(model, tree_features(df)))
    if kind == "constant":
        return np.full(len(df), float(model["ms"]))
    raise ValueError(f"unknown model type {kind!r}")


#: how many of :data:`TREE_FEATURES` each costmodel version fitted with: 15 before
#: ``prev_same`` (profiles of 12-04 and earlier), all of them since
TREE_FEATURE_COUNTS = (15, len(TREE_FEATURES))


def known_tree_features(names) -> bool:
    """True when a boosted model's ``tree_features`` are :data:`TREE_FEATURES` or the shorter
    list an earlier version fitted with (:data:`TREE_FEATURE_COUNTS`; features are only ever
    appended, so its trees index the same columns)."""
    names = list(names)
    return len(names) in TREE_FEATURE_COUNTS and names == TREE_FEATURES[:len(names)]


def reads_any(model: dict, columns) -> bool:
    """True when ``model`` (or its boosted base) declares any of ``columns`` among its features
    (its linear ``features`` or its trees' ``tree_features``)."""
    names = set(model.get("features") or ())
    if model.get("type") == "boosted":
        names.update(model.get("tree_features") or TREE_FEATURES)
        return bool(names & set(columns)) or reads_any(model.get("base") or {}, columns)
    return bool(names & set(columns))


FITTERS = {"roofline": fit_roofline, "linear": fit_linear, "boosted": fit_boosted}


def rel_errors(pred: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (np.asarray(pred, float) - np.asarray(y, float)) / np.maximum(np.asarray(y, float), 1e-12)


def cv_error(fitter, df: pd.DataFrame, y: np.ndarray, folds: int = 5, seed: int = 0,
             groups: Optional[np.ndarray] = None) -> float:
    """Mean absolute relative error (fraction) of ``fitter`` under k-fold cross-validation.
    With ``groups`` (e.g. the network each sample came from) whole groups are held out
    together, so the score is that of a network the fit never saw."""
    n = len(y)
    if n < 2 * folds:
        folds = max(2, n // 3)
    if n < 6:
        return float("nan")
    rng = np.random.default_rng(seed)
    if groups is not None and len(np.unique(groups)) >= folds:
        uniq = np.unique(groups)
        perm = dict(zip(uniq, rng.permutation(len(uniq)) % folds))
        fold = np.array([perm[g] for g in groups])
    else:
        fold = rng.permutation(n) % folds
    errs = np.empty(n)
    for k in range(folds):
        tr, te = fold != k, fold == k
        m = fitter(df[tr], y[tr])
        errs[te] = np.abs(rel_errors(predict(m, df[te]), y[te]))
    return float(errs.mean())


def select_model(df: pd.DataFrame, y: np.ndarray, candidates: Sequence[str] = ("roofline", "linear",
                                                                             "boosted"),
                 margin: float = 0.1, min_boost: int = 40,
                 groups: Optional[np.ndarray] = None) -> dict:
    """Fit every candidate, keep the one with the lowest cross-validated mean absolute relative
    error; a more complex candidate must beat a simpler one by ``margin`` (relative) and 0.2
    percentage points to win.
    The returned model carries its ``cv_mape`` (percent) and ``n`` (samples)."""
    y = np.asarray(y, dtype=float)
    df = df.reset_index(drop=True)
    if len(y) == 0:
        raise ValueError("no samples to fit")
    if len(y) < 4 or np.allclose(y, y.mean(), rtol=1e-3):
        return {"type": "constant", "ms": float(np.median(y)), "n": int(len(y)), "cv_mape": None}
    scores = {}
    for name in candidates:
        if name == "boosted" and len(y) < min_boost:
            continue
        scores[name] = cv_error(FITTERS[name], df, y, groups=groups)
    best_name, best = None, math.inf
    for name in candidates:  # ordered simple -> complex
        s = scores.get(name)
        if s is None or math.isnan(s):
            continue
        if best_name is None or s < best * (1 - margin) - 0.002:
            best_name, best = name, s
    best_name = best_name or "linear"
    model = FITTERS[best_name](df, y)
    model["n"] = int(len(y))
    model["cv_mape"] = None if math.isinf(best) or math.isnan(best) else round(100 * best, 3)
    model["cv_scores"] = {k: (None if math.isnan(v) else round(100 * v, 3)) for k, v in scores.items()}
    return model
