"""Pin the C allocator's behaviour so that a forward pass costs the same whatever ran before it.

glibc's malloc adapts at run time: an allocation above the *mmap threshold* (128 KiB at start)
gets fresh pages from ``mmap`` and page-faults them in on every call, and the threshold and the
heap-trim threshold move up whenever such a block is freed.  Which activations of a network are
served from recycled heap memory and which page-fault therefore depends on everything the
process allocated before.  Measured on the 2-core x86 machine of ``reports/latency``: the same
design-space network timed 17.3 ms early in a calibration run and 22.0 ms twenty minutes later in
the same process (4,300 minor page faults per forward pass against none), and re-measurements of
calibration networks drifted by a median 24% between calibration and validation.

:func:`pin` fixes both thresholds (``mallopt(M_MMAP_THRESHOLD, 32 MiB)``, the largest glibc
accepts, and ``mallopt(M_TRIM_THRESHOLD, 2 GiB)``): allocations up to 32 MiB come from the heap
and freed memory is kept for reuse, so a warmed-up forward pass does not page-fault, as in a
long-running inference process.  Every costmodel measurement calls it first (calibration,
``measure_latency``, ``bench``); the machine description records the result
(:func:`state`).  ``COSTMODEL_MALLOC=default`` leaves the allocator alone.  Elsewhere (macOS,
musl, Windows) nothing is changed and the state says so.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's HEAP_MAX_SIZE / 2 on 64-bit: the largest value it accepts
TRIM_THRESHOLD = 2 ** 31 - 1

_state = None


def _glibc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        version = libc.gnu_get_libc_version
        version.restype = ctypes.c_char_p
        return libc, version().decode()
    except (OSError, AttributeError, TypeError):
        return None, None


def pin() -> str:
    """Fix glibc malloc's mmap and trim thresholds (once per process); returns :func:`state`."""
    global _state
    if _state is not None:
        return _state
    if os.environ.get("COSTMODEL_MALLOC", "").strip().lower() == "default":
        _state = "default (COSTMODEL_MALLOC=default)"
        return _state
    libc, version = _glibc()
    if libc is None:
        _state = "default (not glibc: left unchanged)"
        return _state
    ok = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    ok = libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
    _state = (f"glibc {version} malloc pinned: mmap threshold {MMAP_THRESHOLD >> 20} MiB, no trim"
              if ok else f"default (glibc {version} refused mallopt)")
    return _state


def state() -> str:
    """How the allocator behaves in this process: pinned by :func:`pin`, or why not."""
    return _state if _state is not None else "default (not pinned yet)"
