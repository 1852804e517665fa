"""The latency and ARM modules' file access, through :mod:`costmodel.fileio`.

Readers turn :class:`costmodel.fileio.InputError` (unreadable, too large, not a regular file,
not UTF-8, hostile JSON nesting, NaN/Infinity) into the caller's own error class, so each command
reports one kind of error per file type; writers are atomic and create the parent folder.
"""
from __future__ import annotations

import io
import json
import os
from typing import Any, Type

import pandas as pd

from costmodel import fileio


def read_text(path, error: Type[Exception]) -> str:
    """The UTF-8 text of ``path`` (at most :data:`costmodel.fileio.MAX_INPUT_BYTES`)."""
    try:
        return fileio.read_text(path)
    except fileio.InputError as exc:
        raise error(str(exc)) from None


def read_json(path, error: Type[Exception]) -> Any:
    """``path`` parsed as JSON (see :func:`costmodel.fileio.loads_json`)."""
    text = read_text(path, error)
    try:
        return fileio.loads_json(text, os.fspath(path))
    except fileio.InputError as exc:
        raise error(str(exc)) from None


def read_csv(path, error: Type[Exception]) -> pd.DataFrame:
    """``path`` parsed as CSV (an empty file is an empty table)."""
    text = read_text(path, error)
    if not text.strip():
        return pd.DataFrame()
    try:
        return pd.read_csv(io.StringIO(text))
    except (pd.errors.ParserError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise error(f"{os.fspath(path)}: not a valid CSV file ({first})") from None


def _make_parent(path) -> None:
    directory = os.path.dirname(os.path.abspath(os.fspath(path)))
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise fileio.OutputError(f"cannot write {os.fspath(path)}: cannot create {directory} "
                                 f"({exc.strerror or exc})") from None


def write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, creating its folder first; failures raise
    :class:`costmodel.fileio.OutputError` and leave no partial file."""
    _make_parent(path)
    fileio.write_text(path, text)


def write_json(path, obj: Any) -> None:
    """``obj`` as indented JSON (NaN/Infinity refused), written with :func:`write_text`."""
    write_text(path, json.dumps(obj, indent=1, allow_nan=False) + "\n")


def write_csv(path, df: pd.DataFrame, **kwargs) -> None:
    write_text(path, df.to_csv(index=False, **kwargs))
