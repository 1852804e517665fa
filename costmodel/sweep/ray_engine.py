"""The Ray engine: the sweep's chunks as Ray tasks, each worker with its own block cache.

:func:`run_chunks` connects to a Ray cluster (``address``, e.g. ``"auto"`` or
``"ray://head:10001"``), or starts a local one with ``workers`` CPUs, ships the space and the
profile once (``ray.put``), and submits one ``ray.remote`` task per chunk.  Every task runs
:func:`costmodel.sweep.engine.evaluate_range`, the same code as the local engine, with a
:class:`~costmodel.sweep.pieces.PieceCosts` cache that lives as long as the worker process
(:data:`_CACHES`), so a worker analyzes each distinct piece once, whatever chunks it gets.  Ray
does the scheduling, transport and retries; chunks are handed to ``finished`` as they complete
(in any order), so the caller can write them at once.

Results equal the local engine's exactly: a candidate depends only on its index, and a piece's
numbers only on the piece.  Ray is optional (``pip install 'costmodel[ray]'``).
"""
from __future__ import annotations

import logging
import os
from typing import Callable, Dict, Optional, Sequence, Tuple

import pandas as pd

from costmodel.latency.profile import DeviceProfile
from costmodel.sweep.engine import SweepSettings, evaluate_range
from costmodel.sweep.pieces import PieceCosts, profile_digest
from costmodel.sweep.space import Space

#: per worker process: (space digest, profile digest) -> (space, its piece cache)
_CACHES: Dict[Tuple[str, Optional[str]], Tuple[Space, PieceCosts]] = {}


class RayEngineError(RuntimeError):
    """Ray is missing, or the cluster cannot be reached."""


def _ray():
    try:
        import ray
    except ImportError:
        raise RayEngineError("the ray engine needs Ray: pip install 'costmodel[ray]' (or "
                             "pip install 'ray[default]')") from None
    return ray


def _chunk(space_spec: dict, profile_spec: Optional[dict], key: Tuple[str, Optional[str]],
           settings: dict, start: int, stop: int) -> pd.DataFrame:
    """One chunk, in a Ray worker (the cache is kept for the worker's next chunks)."""
    entry = _CACHES.get(key)
    if entry is None:
        space = Space.from_dict(space_spec, source="space")
        profile = DeviceProfile.from_dict(profile_spec) if profile_spec is not None else None
        entry = _CACHES[key] = (space, PieceCosts(profile))
    space, cache = entry
    return evaluate_range(space, cache, SweepSettings(**settings), start, stop)


def worker_env() -> dict:
    """Ray's ``runtime_env`` for workers: this costmodel first on ``PYTHONPATH`` (so that workers
    on this machine import the same code as the driver, also from a source checkout)."""
    import costmodel

    root = os.path.dirname(os.path.dirname(os.path.abspath(costmodel.__file__)))
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    return {"env_vars": {"PYTHONPATH": path}}


def run_chunks(space: Space, profile: Optional[DeviceProfile], settings: SweepSettings,
               chunks: Sequence[Tuple[int, int, int]],
               finished: Callable[[int, pd.DataFrame], None], address: Optional[str] = None,
               workers: Optional[int] = None) -> None:
    """Evaluate ``chunks`` (``(number, start, stop)``) as Ray tasks; ``finished(number, df)``
    for each as it completes.  Uses the Ray already initialised in this process if there is one,
    else connects to ``address`` or starts a local Ray with ``workers`` CPUs (default: all),
    and shuts down what it started."""
    ray = _ray()
    started = False
    if not ray.is_initialized():
        try:
            ray.init(address=address, num_cpus=None if address else workers,
                     runtime_env=worker_env(), include_dashboard=False,
                     logging_level=logging.WARNING, log_to_driver=False)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise RayEngineError(f"cannot start or reach Ray at {address or 'a new local Ray'}: "
                                 f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                                 ) from None
        started = True
    try:
        task = ray.remote(num_cpus=1, max_retries=2)(_chunk)
        space_ref = ray.put(space.to_dict())
        profile_ref = ray.put(profile.to_dict() if profile is not None else None)
        key = (space.digest(), profile_digest(profile))
        pending = {task.remote(space_ref, profile_ref, key, settings.to_dict(), start, stop): k
                   for k, start, stop in chunks}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                finished(pending.pop(ref), ray.get(ref))
    finally:
        if started:
            ray.shutdown()
