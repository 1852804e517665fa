"""Reading and writing the files costmodel produces and consumes, safely.

* :func:`write_text` / :func:`write_bytes` write a whole file or nothing: the data goes to a
  temporary file beside the target, is flushed to disk, then renamed over it.  A full disk,
  a read-only file system or a missing directory leaves no half-written file behind and raises
  :class:`OutputError` with a one-line message.
* :func:`read_text` reads at most :data:`MAX_INPUT_BYTES` (a link to ``/dev/zero`` or a huge file
  is refused, not read forever) and raises :class:`InputError` for anything unreadable.
* :func:`loads_json` parses JSON without Python's recursion limit turning hostile nesting into a
  ``RecursionError``, and rejects ``NaN``/``Infinity`` literals.
"""
from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from typing import Any

#: the largest profile, timing or sample file costmodel reads (bytes)
MAX_INPUT_BYTES = 256 * 1024 * 1024
#: the deepest JSON nesting accepted (costmodel's own files nest a few levels)
MAX_JSON_DEPTH = 64


class OutputError(OSError):
    """An output file could not be written (the message says which and why)."""


class InputError(ValueError):
    """An input file could not be read or parsed (the message says which and why)."""


def _reason(exc: BaseException) -> str:
    return exc.strerror or str(exc) if isinstance(exc, OSError) else str(exc)


def check_writable(path) -> None:
    """Fail now, before any work, if ``path`` cannot be written (its directory missing or not
    writable, the path a directory).  Writing can still fail later (a full disk)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise OutputError(f"cannot write {path}: it is a directory")
    if not os.path.isdir(directory):
        what = "is not a directory" if os.path.exists(directory) else "does not exist"
        raise OutputError(f"cannot write {path}: {directory} {what}")
    if not os.access(directory, os.W_OK):
        raise OutputError(f"cannot write {path}: {directory} is not writable")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise OutputError(f"cannot write {path}: the file is not writable")


def write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (all or nothing)."""
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isfile(path):  # /dev/full, a fifo, a directory
        _write_special(path, data)
        return
    directory = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".costmodel-", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if os.path.exists(path):
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {_reason(exc)}") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _write_special(path: str, data: bytes) -> None:
    if os.path.isdir(path):
        raise OutputError(f"cannot write {path}: it is a directory")
    try:
        with open(path, "wb") as f:
            f.write(data)
            f.flush()
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {_reason(exc)}") from None


def write_text(path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (all or nothing)."""
    write_bytes(path, text.encode("utf-8"))


def read_bytes(path, limit: int = MAX_INPUT_BYTES) -> bytes:
    """Read a regular file of at most ``limit`` bytes (a fifo, a device or a directory is
    refused before it is opened, so nothing can block or stream forever)."""
    path = os.fspath(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise InputError(f"cannot read {path}: not a regular file")
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except InputError:
        raise
    except OSError as exc:
        raise InputError(f"cannot read {path}: {_reason(exc)}") from None
    if len(data) > limit:
        raise InputError(f"cannot read {path}: larger than {limit // (1024 * 1024)} MiB")
    return data


def read_text(path, limit: int = MAX_INPUT_BYTES) -> str:
    """Read a UTF-8 text file of at most ``limit`` bytes."""
    data = read_bytes(path, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"cannot read {os.fspath(path)}: not UTF-8 text ({exc.reason} at byte "
                         f"{exc.start})") from None


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number costmodel accepts")


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")


def json_depth_ok(text: str, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """True when no object or array in ``text`` nests deeper than ``max_depth`` (brackets in
    strings do not count); checked before parsing, so hostile nesting never reaches the parser."""
    depth = 0
    for m in _BRACKETS.finditer(_STRING.sub("", text)):
        if m.group() in "[{":
            depth += 1
            if depth > max_depth:
                return False
        else:
            depth -= 1
    return True


def loads_json(text: str, what: str = "file") -> Any:
    """Parse JSON text; hostile nesting, ``NaN``/``Infinity`` and syntax errors raise
    :class:`InputError` naming ``what``."""
    if not json_depth_ok(text):
        raise InputError(f"{what}: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{what}: not valid JSON ({_first_line(exc)})") from None


def read_json(path, limit: int = MAX_INPUT_BYTES) -> Any:
    """:func:`read_text` then :func:`loads_json`."""
    return loads_json(read_text(path, limit), os.fspath(path))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
