"""``sweep``: cost and predicted latency of many candidates, in resumable chunks, locally or on Ray.

:func:`sweep` splits candidates ``0 .. n-1`` into chunks of ``chunk_size``, evaluates each chunk
with :func:`costmodel.sweep.engine.evaluate_range` (in this process, or as Ray tasks with
``engine="ray"``, :mod:`costmodel.sweep.ray_engine`), and returns one DataFrame.  With ``out``
each finished chunk is written at once (atomically, :mod:`costmodel.fileio`) to the folder
``<out>.parts/``, beside a manifest naming what the chunks belong to (space, profile, seed,
``n``, chunk size); a rerun of the same sweep reads the finished chunks instead of computing
them again, and a rerun of a different sweep with the same ``out`` is refused.  When every chunk
is there, the whole result goes to ``out`` (``.parquet`` through pandas and pyarrow, or
``.csv``) and the parts folder is removed.
"""
from __future__ import annotations

import io
import json
import os
import shutil
from typing import Callable, Dict, List, Optional, Tuple

import pandas as pd

from costmodel import __version__, fileio
from costmodel.latency.predict import as_profile, warn_if_other_machine
from costmodel.sweep.engine import SweepSettings, evaluate_range, result_columns
from costmodel.sweep.pieces import PieceCosts, profile_digest
from costmodel.sweep.space import Space, load_space

#: the most candidates one sweep takes (a typo guard: 10 million rows are about 2 GB)
MAX_CANDIDATES = 10_000_000
DEFAULT_CHUNK = 5000
FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
PARTS_FORMAT = "costmodel-sweep-parts"


class SweepError(ValueError):
    """A sweep that cannot run as asked (bad n, unknown output format, foreign parts folder)."""


# ---------------------------------------------------------------------------------------------
# tables on disk
# ---------------------------------------------------------------------------------------------
def table_format(path) -> str:
    """``parquet`` or ``csv`` from the file's suffix (else :class:`SweepError`)."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in FORMATS:
        raise SweepError(f"cannot tell the table format of {os.fspath(path)!r}: use .parquet or "
                         f".csv")
    return FORMATS[ext]


def require_parquet() -> None:
    """Fail with the install line when pyarrow is missing."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise SweepError("writing or reading .parquet needs pyarrow: pip install "
                         "'costmodel[sweep]' (or pip install pyarrow), or use a .csv file") \
            from None


def write_table(df: pd.DataFrame, path) -> None:
    """``df`` to ``path`` (parquet or csv by suffix), atomically."""
    fmt = table_format(path)
    if fmt == "parquet":
        require_parquet()
        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        fileio.write_bytes(path, buf.getvalue())
    else:
        fileio.write_text(path, df.to_csv(index=False, float_format="%.17g"))


def read_table(path) -> pd.DataFrame:
    """A table written by :func:`write_table` (or any parquet / csv file)."""
    fmt = table_format(path)
    data = fileio.read_bytes(path)
    try:
        if fmt == "parquet":
            require_parquet()
            return pd.read_parquet(io.BytesIO(data))
        return pd.read_csv(io.BytesIO(data), dtype={"config": str})
    except SweepError:
        raise
    except Exception as exc:  # noqa: BLE001 - a broken file is the user's input
        raise fileio.InputError(f"cannot read {os.fspath(path)} as {fmt}: "
                                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                                ) from None


# ---------------------------------------------------------------------------------------------
# chunks
# ---------------------------------------------------------------------------------------------
def chunk_ranges(n: int, chunk_size: int) -> List[Tuple[int, int, int]]:
    """``(chunk number, start, stop)`` covering ``0 .. n-1``."""
    return [(k, s, min(n, s + chunk_size)) for k, s in enumerate(range(0, n, chunk_size))]


class Parts:
    """The parts folder of a resumable sweep: a manifest plus one file per finished chunk."""

    def __init__(self, out: str, manifest: dict):
        self.out = os.fspath(out)
        self.dir = self.out + ".parts"
        self.fmt = table_format(self.out)
        self.manifest = manifest

    def path(self, k: int) -> str:
        return os.path.join(self.dir, f"chunk-{k:06d}.{self.fmt}")

    def open(self) -> None:
        """Create the folder, or check that the one there belongs to this sweep."""
        mpath = os.path.join(self.dir, "manifest.json")
        if os.path.isdir(self.dir) and os.path.exists(mpath):
            old = fileio.read_json(mpath)
            if old != self.manifest:
                raise SweepError(f"{self.dir} holds the chunks of another sweep (different "
                                 f"space, profile, seed, n or chunk size); delete it or choose "
                                 f"another --out")
            return
        try:
            os.makedirs(self.dir, exist_ok=True)
        except OSError as exc:
            raise fileio.OutputError(f"cannot create {self.dir}: {exc.strerror or exc}") \
                from None
        fileio.write_text(mpath, json.dumps(self.manifest, indent=1) + "\n")

    def done(self, k: int) -> Optional[pd.DataFrame]:
        """Chunk ``k`` if it is finished (a file that does not read back is computed again)."""
        p = self.path(k)
        if not os.path.exists(p):
            return None
        try:
            return read_table(p)
        except (fileio.InputError, SweepError):
            return None

    def save(self, k: int, df: pd.DataFrame) -> None:
        write_table(df, self.path(k))

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# the sweep
# ---------------------------------------------------------------------------------------------
def check_n(n, space: Space, enumerate_all: bool) -> int:
    """The number of candidates to evaluate (``None`` with ``enumerate_all``: the whole
    space)."""
    if enumerate_all:
        if n is None:
            n = space.size
        if n > space.size:
            raise SweepError(f"--n {n} is more than the space's {space.size} candidates")
    if n is None:
        raise SweepError("give the number of candidates (n), or enumerate the whole space")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise SweepError(f"the number of candidates must be a positive integer, got {n!r}")
    if n > MAX_CANDIDATES:
        what = f"the space has {space.size:.3g} candidates; " if enumerate_all else ""
        raise SweepError(f"{what}{n:,} candidates are more than the {MAX_CANDIDATES:,} one sweep "
                         f"takes; split it (--seed) or use a smaller n")
    return n


def sweep(space, n: Optional[int] = None, profile=None, seed: int = 0,
          enumerate_all: bool = False, out=None, chunk_size: int = DEFAULT_CHUNK,
          engine: str = "local", address: Optional[str] = None, workers: Optional[int] = None,
          on_progress: Optional[Callable[[int], None]] = None,
          cache: Optional[PieceCosts] = None) -> pd.DataFrame:
    """Evaluate ``n`` candidates of ``space`` (a :class:`Space`, dict, file or packaged name):
    sampled with ``seed``, or with ``enumerate_all`` the first ``n`` (default all) of the
    enumeration.  ``profile`` (a :class:`DeviceProfile` or its file) adds predicted latency at
    each of its thread counts.  ``out``: resumable output file (.parquet or .csv, see the module
    docstring).  ``engine``: ``"local"`` or ``"ray"`` (``address``: an existing cluster, else
    a local Ray with ``workers`` CPUs).  ``on_progress(k)`` is called with the number of
    candidates each finished chunk adds.  Returns the result (columns:
    :func:`costmodel.sweep.engine.result_columns`), ordered by candidate."""
    space = load_space(space)
    n = check_n(n, space, enumerate_all)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise SweepError(f"chunk size must be a positive integer, got {chunk_size!r}")
    if engine not in ("local", "ray"):
        raise SweepError(f"unknown engine {engine!r} (local or ray)")
    prof = as_profile(profile) if profile is not None else None
    if prof is not None:
        warn_if_other_machine(prof)
    settings = SweepSettings(n, int(seed), bool(enumerate_all))
    parts = None
    if out is not None:
        table_format(out)
        if table_format(out) == "parquet":
            require_parquet()
        fileio.check_writable(out)
        parts = Parts(out, {"format": PARTS_FORMAT, "costmodel": __version__,
                            "space": space.digest(), "profile": profile_digest(prof),
                            "settings": settings.to_dict(), "chunk_size": chunk_size})
        parts.open()
    chunks = chunk_ranges(n, chunk_size)
    results: Dict[int, pd.DataFrame] = {}
    todo = []
    for k, start, stop in chunks:
        df = parts.done(k) if parts is not None else None
        if df is not None and len(df) == stop - start:
            results[k] = df
            if on_progress:
                on_progress(stop - start)
        else:
            todo.append((k, start, stop))

    def finished(k: int, df: pd.DataFrame) -> None:
        if parts is not None:
            parts.save(k, df)
        results[k] = df
        if on_progress:
            on_progress(len(df))

    if todo and engine == "local":
        cache = cache if cache is not None else PieceCosts(prof)
        for k, start, stop in todo:
            finished(k, evaluate_range(space, cache, settings, start, stop))
    elif todo:
        from costmodel.sweep import ray_engine
        ray_engine.run_chunks(space, prof, settings, todo, finished, address=address,
                              workers=workers)
    columns = result_columns(prof.thread_counts if prof is not None else [])
    df = pd.concat([results[k] for k, _, _ in chunks], ignore_index=True)[columns]
    if out is not None:
        write_table(df, out)
        parts.remove()
    return df


__all__ = ["MAX_CANDIDATES", "SweepError", "read_table", "sweep", "write_table"]
