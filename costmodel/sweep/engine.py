"""Evaluate candidates: sum the cached piece costs of each, one row per candidate.

:func:`evaluate_range` is the one code path of every engine (local, Ray): it generates
candidates ``start`` to ``stop - 1`` (sampled or enumerated, :class:`SweepSettings`), looks up or
analyzes their pieces in a :class:`~costmodel.sweep.pieces.PieceCosts` cache, and sums them with
one gather per chunk.  The result depends only on the candidate indices, never on how a sweep is
split: every candidate has its own generator and every piece's numbers are the same wherever it
is analyzed.

Columns of a result (:data:`COLUMNS`, then ``pred_ms_<T>t`` per profile thread count ``T``):
``candidate`` (index), ``params``, ``madds`` (multiply-adds), ``flops``, ``mac`` (memory accesses
in elements), ``mac_bytes``, ``pred_ms_1t`` / ``pred_ms_2t`` (predicted end-to-end latency, ms),
``g1_high`` ... ``g4_info`` (guideline findings per guideline and severity, as
:func:`costmodel.guidelines.lint.check` counts them on the whole network), ``resolution``,
``blocks`` (number of blocks), ``config`` (the candidate as compact JSON).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Dict, List

import numpy as np
import pandas as pd

from costmodel.guidelines import lint
from costmodel.sweep.pieces import COUNTS, FINDING_COLUMNS, INT_COLUMNS, PieceCosts
from costmodel.sweep.space import Space, config_json

COLUMNS = ["candidate"] + COUNTS + FINDING_COLUMNS + ["resolution", "blocks", "config"]


@dataclass(frozen=True)
class SweepSettings:
    """Which candidates a sweep covers: ``n`` of them, sampled with ``seed``, or (``enumerate``)
    the first ``n`` of the full enumeration."""

    n: int
    seed: int = 0
    enumerate: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def pred_column(threads: int) -> str:
    return f"pred_ms_{threads}t"


def result_columns(threads) -> List[str]:
    """The columns of a result for a profile with these thread counts (none: no profile)."""
    i = COLUMNS.index("mac_bytes") + 1
    return COLUMNS[:i] + [pred_column(t) for t in threads] + COLUMNS[i:]


def evaluate_range(space: Space, cache: PieceCosts, settings: SweepSettings, start: int,
                   stop: int) -> pd.DataFrame:
    """One row per candidate ``start`` .. ``stop - 1`` (see the module docstring)."""
    configs = list(space.configs(start, stop, settings.seed, settings.enumerate))
    width = space.max_blocks + 2
    idx = np.zeros((len(configs), width), dtype=np.int64)
    for r, cfg in enumerate(configs):
        ids = cache.chain(space.pieces(cfg), space.input_shape(cfg))
        idx[r, :len(ids)] = ids
    ints, preds, block_mac, block_share = cache.arrays()
    summed = ints[idx].sum(axis=1)
    col = {c: summed[:, k] for k, c in enumerate(INT_COLUMNS)}
    out: Dict[str, object] = {"candidate": np.arange(start, stop, dtype=np.int64)}
    out.update({c: col[c] for c in COUNTS})
    modules = 1 + col["modules"]  # the candidate's nn.Sequential itself
    psum = preds[idx].sum(axis=1)
    for k, t in enumerate(cache.threads):
        out[pred_column(t)] = psum[:, k] + cache.network_ms(modules, t)
    out.update(_findings(col, idx, block_mac, block_share, cache.thresholds))
    out["resolution"] = np.array([c["resolution"] for c in configs], dtype=np.int64)
    out["blocks"] = np.array([sum(len(s["blocks"]) for s in c["stages"]) for c in configs],
                             dtype=np.int64)
    out["config"] = [config_json(c) for c in configs]
    return pd.DataFrame(out, columns=result_columns(cache.threads))


def _findings(col: Dict[str, np.ndarray], idx: np.ndarray, block_mac: np.ndarray,
              block_share: np.ndarray, t: lint.Thresholds) -> Dict[str, np.ndarray]:
    """Finding counts per guideline and severity.  G1-G3 are sums over the pieces; G4's are
    decided on the candidate's totals with the linter's own rules: a block finding (always
    ``high``) per flagged block, one model finding at the severity of the element-wise share."""
    n = len(idx)
    out = {c: col[c] if c in col else np.zeros(n, dtype=np.int64) for c in FINDING_COLUMNS}
    total_mac = col["mac"][:, None, None]
    macs = block_mac[idx]  # candidates x pieces x blocks (0-padded)
    flagged = (macs > 0) & lint.g4_block_flagged(macs, total_mac, block_share[idx], t)
    g4 = {s: np.zeros(n, dtype=np.int64) for s in lint.SEVERITIES}
    g4["high"] += flagged.sum(axis=(1, 2))
    shares = col["ew_mac"] / np.maximum(col["mac"], 1)
    for i, share in enumerate(shares):
        sev = lint.g4_model_severity(float(share), t)
        if sev:
            g4[sev][i] += 1
    for s in lint.SEVERITIES:
        out[f"g4_{s}"] = g4[s]
    return out


def empty_result(threads) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=object if c == "config" else
                                      float if c.startswith("pred_ms") else "int64")
                         for c in result_columns(threads)})


__all__ = ["COLUMNS", "SweepSettings", "evaluate_range", "pred_column", "result_columns"]
