"""The block cache: the cost of every distinct (piece, input shape), analyzed once.

A candidate is ``nn.Sequential(stem, *blocks, head)`` (:meth:`costmodel.sweep.space.Space.build`),
and thousands of candidates share the same pieces at the same input shapes.  :class:`PieceCosts`
analyzes each distinct one alone, wrapped in an ``nn.Sequential`` of its own so that the
guideline linter sees the same block structure as in the whole network, with
:func:`costmodel.analyze`, :func:`costmodel.latency.predict.predict_table` and
:func:`costmodel.guidelines.lint.check`, and keeps, per piece:

* ``params``, ``madds``, ``flops``, ``mac``, ``mac_bytes``: the report's totals.  They add up over
  pieces exactly: every formula depends only on an op's own shapes, and a candidate shares no
  weights between pieces;
* the summed per-op predicted times ``pred_ms`` at each thread count of the profile.  The
  profile's prediction is a sum of per-op terms (each depends on its op's features alone) plus a
  network term, a constant and a coefficient times the network's module calls
  (:meth:`costmodel.latency.profile.DeviceProfile.network_terms`); the candidate's total is the
  sum over its pieces plus that term for the candidate's own module calls;
* ``modules``: the piece's module calls (its wrapper's call not counted);
* the counts of G1, G2 and G3 findings per severity (per layer or per block: a piece's own);
  ``ew_mac``, the element-wise MAC behind G4, and the MAC and element-wise share of each of its
  linter blocks: whether a block is a G4 finding depends on the whole candidate's MAC, so that
  is decided per candidate (:func:`costmodel.guidelines.lint.g4_block_flagged`).

Tests check on random candidates that the sums equal analyzing, predicting and linting the whole
network.  A profile that reads an op's context (``prev_same``,
:data:`costmodel.latency.features.CONTEXT_COLUMNS`: whether the last heavy op before it is of its
own kind) makes a piece's first ops depend on the piece before it: such a profile's cache key
holds the entering context too (the kind of the last heavy op before the piece,
:func:`costmodel.latency.features.last_heavy`), so that the sums stay exact.
"""
from __future__ import annotations

import hashlib
import json
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
import torch.nn as nn

from costmodel.analysis import analyze
from costmodel.guidelines import lint
from costmodel.latency.features import (CONTEXT_COLUMNS, FEATURE_COLUMNS, last_heavy, op_table,
                                        prev_same)
from costmodel.latency.predict import predict_table
from costmodel.latency.profile import DeviceProfile
from costmodel.sweep.blocks import PieceKey, build_piece

COUNTS = ["params", "madds", "flops", "mac", "mac_bytes"]
#: guidelines decided per piece, and all four with their severities (result columns)
PIECE_GUIDELINES = ("G1", "G2", "G3")
FINDING_COLUMNS = [f"{g.lower()}_{s}" for g in lint.GUIDELINES for s in reversed(lint.SEVERITIES)]
#: the integer columns kept per piece
INT_COLUMNS = COUNTS + ["ew_mac", "modules"] + [c for c in FINDING_COLUMNS
                                                 if c[:2].upper() in PIECE_GUIDELINES]

Shape = Tuple[int, ...]
#: the columns of an op table (:func:`costmodel.latency.features.op_table`)
EMPTY_COLUMNS = ["name", "op", "kind"] + FEATURE_COLUMNS + CONTEXT_COLUMNS


class PieceCosts:
    """Costs of distinct (piece key, input shape) pairs; :meth:`lookup` analyzes a new one.

    Index 0 is the empty piece (all zero), used to pad candidates with fewer pieces."""

    def __init__(self, profile: Optional[DeviceProfile] = None,
                 thresholds: lint.Thresholds = lint.THRESHOLDS):
        self.profile = profile
        self.threads: List[int] = profile.thread_counts if profile is not None else []
        self.thresholds = thresholds
        #: whether predictions depend on the kind of op entering a piece (part of the key then)
        self.context = profile is not None and profile.reads_context()
        self._index: Dict[Tuple[PieceKey, Shape, Optional[str]], int] = {}
        self._out: List[Optional[Shape]] = [None]
        self._exit: List[Optional[str]] = [None]
        self._ints: List[np.ndarray] = [np.zeros(len(INT_COLUMNS), dtype=np.int64)]
        self._preds: List[np.ndarray] = [np.zeros(len(self.threads))]
        self._blocks: List[List[Tuple[int, float]]] = [[]]
        self._arrays = None

    def __len__(self) -> int:
        return len(self._ints) - 1

    def lookup(self, key: PieceKey, shape: Shape,
               entering: Optional[str] = None) -> Tuple[int, Shape]:
        """(index of the piece's costs, its output shape); analyzes it on first use.
        ``entering``: the kind of the last heavy op before the piece (:func:`last_heavy`), which
        matters only to a profile that reads context (:attr:`context`)."""
        entering = entering if self.context else None
        i = self._index.get((key, shape, entering))
        if i is None:
            i = self._add(key, shape, entering)
        return i, self._out[i]

    def chain(self, keys: Sequence[PieceKey], shape: Shape) -> List[int]:
        """Indices of a candidate's pieces, each at the shape the previous one outputs and in
        the context it leaves."""
        out = []
        entering = None
        for key in keys:
            i, shape = self.lookup(key, shape, entering)
            entering = self._exit[i]
            out.append(i)
        return out

    def _add(self, key: PieceKey, shape: Shape, entering: Optional[str]) -> int:
        module = nn.Sequential(build_piece(key))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = analyze(module, shape, warn=False)
        ints = dict(report.total)
        ints["modules"] = report.graph.module_calls - 1
        found = lint.check(module, shape, thresholds=self.thresholds, report=report)
        for f in found.findings:
            if f.guideline in PIECE_GUIDELINES:
                col = f"{f.guideline.lower()}_{f.severity}"
                ints[col] = ints.get(col, 0) + 1
        ints["ew_mac"] = int(found.summary["ew_mac"])
        blocks = ([(int(r.mac), float(r.ew_mac_share))
                   for r in found.blocks.itertuples(index=False)] if len(found.blocks) else [])
        preds = []
        if self.profile is not None:
            table, _ = op_table(None, None, report=report)
            table["prev_same"] = prev_same(table["kind"], entering)
            for t in self.threads:
                layers, _, _ = predict_table(table, self.profile, t)
                preds.append(float(layers["pred_ms"].sum()))
        self._ints.append(np.array([int(ints.get(c, 0)) for c in INT_COLUMNS], dtype=np.int64))
        self._preds.append(np.array(preds, dtype=float))
        self._blocks.append(blocks)
        self._out.append(tuple(int(d) for d in report.graph.outputs[0].shape))
        self._exit.append(last_heavy(table["kind"], entering) if self.context else None)
        self._index[(key, shape, entering)] = len(self._ints) - 1
        self._arrays = None
        return len(self._ints) - 1

    def arrays(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(ints: pieces x :data:`INT_COLUMNS`; preds: pieces x threads; block_mac and
        block_share: pieces x B, the MAC and element-wise share of MAC of each linter block of a
        piece, 0-padded)."""
        if self._arrays is None:
            width = max(1, max(len(b) for b in self._blocks))
            mac = np.zeros((len(self._blocks), width), dtype=np.int64)
            share = np.zeros((len(self._blocks), width))
            for i, blocks in enumerate(self._blocks):
                for j, (m, s) in enumerate(blocks):
                    mac[i, j], share[i, j] = m, s
            self._arrays = (np.stack(self._ints), np.stack(self._preds), mac, share)
        return self._arrays

    def network_ms(self, module_calls: np.ndarray, threads: int) -> np.ndarray:
        """The profile's per-network term at ``threads`` for each count of module calls."""
        calls = np.asarray(module_calls)
        out = np.zeros(len(calls))
        for m in np.unique(calls):
            empty = pd.DataFrame({c: pd.Series([], dtype=object if c in ("name", "op", "kind")
                                               else "int64") for c in EMPTY_COLUMNS})
            empty.attrs["module_calls"] = int(m)
            _, const = self.profile.network_terms(empty, np.zeros(0), threads)
            out[calls == m] = const
        return out


def profile_digest(profile: Optional[DeviceProfile]) -> Optional[str]:
    """A hash of a profile's content (None for no profile): part of a cache's and a resumed
    sweep's identity."""
    if profile is None:
        return None
    text = json.dumps(profile.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
