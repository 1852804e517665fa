"""What every command shares: the user-error type, model arguments, output and progress helpers.

Nothing here imports torch, pandas or matplotlib at module level: building the parser must stay
fast (``costmodel --help`` under half a second), so library modules are imported inside the
functions that need them.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
from typing import Optional, Sequence, Tuple

#: what a model argument accepts (the forms :func:`costmodel.sources.load_model` knows)
MODEL_HELP = ("a zoo name (`costmodel zoo` lists them), path/to/file.py:factory, timm:NAME, "
              "torchvision:NAME or pytorchcv:NAME")
INPUT_HELP = ("input shape NxCxHxW, e.g. 1x3x224x224 (default: the model's own: the zoo entry's "
              "resolution, the library's input size, else 1x3x224x224)")


class CLIError(Exception):
    """An error caused by the user's input: printed as one line, exit status 2."""


#: exception classes (module, name) that are the user's doing: one line on stderr, exit status 2.
#: Looked up in ``sys.modules`` only, so no library is imported to tell (an exception of a class
#: can only exist once its module is loaded).
USER_ERRORS = (
    ("costmodel.analysis", "ShapeError"),
    ("costmodel.tracer", "TraceError"),
    ("costmodel.sources", "ModelSourceError"),
    ("costmodel.fileio", "OutputError"),
    ("costmodel.fileio", "InputError"),
    ("costmodel.zoo.registry", "UnknownModelError"),
    ("costmodel.latency.profile", "ProfileError"),
    ("costmodel.latency.timings", "TimingFileError"),
    ("costmodel.latency.validate", "NoModelsError"),
    ("costmodel.latency.validate", "ReportFileError"),
    ("costmodel.latency.calibrate", "SampleFileError"),
    ("costmodel.latency.fresh", "ModelMismatch"),
    ("costmodel.arm.environment", "SetupError"),
    ("costmodel.arm.runner", "EmulationError"),
    ("costmodel.arm.plugin", "PluginLogError"),
    ("costmodel.arm.published.data", "PublishedDataError"),
    ("costmodel.arm.board_timings", "BoardTimingsError"),
    ("costmodel.arm.emulation_features", "MissingEmulation"),
    ("costmodel.sweep.space", "SpaceError"),
    ("costmodel.sweep.run", "SweepError"),
    ("costmodel.sweep.pareto", "FrontError"),
    ("costmodel.sweep.ray_engine", "RayEngineError"),
)


def user_error_message(exc: BaseException) -> Optional[str]:
    """The one-line message to print for a user error, or None when ``exc`` is a bug."""
    classes = [CLIError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError]
    for module, name in USER_ERRORS:
        cls = getattr(sys.modules.get(module), name, None)
        if cls is not None:
            classes.append(cls)
    if not isinstance(exc, tuple(classes)):
        return None
    return " ".join(str(exc).split()) or type(exc).__name__


# ---------------------------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------------------------
def add_model_args(p: argparse.ArgumentParser, many: bool = False) -> None:
    """The ``MODEL`` positional (one or several) and ``--input``."""
    p.add_argument("model", nargs="+" if many else None, metavar="MODEL",
                   help=MODEL_HELP + (" (one or more)" if many else ""))
    p.add_argument("--input", "-i", default=None, metavar="SHAPE", help=INPUT_HELP)


def load_model(spec: str, input_shape: Optional[str] = None) -> Tuple[object, Tuple[int, ...]]:
    """``(model, shape)`` for a model spec: built by :func:`costmodel.sources.load_model`, shape
    ``input_shape`` or :func:`costmodel.sources.default_input_shape`."""
    from costmodel import sources
    from costmodel.analysis import parse_shape

    model = sources.load_model(spec)
    if input_shape is not None:
        return model, parse_shape(input_shape)
    return model, tuple(sources.default_input_shape(spec, model))


def add_clock_arg(p: argparse.ArgumentParser) -> None:
    """``--clock wall|cpu`` of the commands that time things."""
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="wall: elapsed time (default, quiet machine); cpu: thread CPU time, robust "
                        "to other processes, 1 thread only")


def parse_threads(values: Sequence[str]):
    """``--threads 1 2`` -> ``[1, 2]`` (positive integers)."""
    try:
        out = [int(v) for v in values]
    except ValueError:
        raise CLIError(f"--threads expects integers, got {' '.join(values)}") from None
    if not out or any(t < 1 for t in out):
        raise CLIError("--threads must be positive integers")
    return out


# ---------------------------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------------------------
#: an output file's suffix -> the format it means
SUFFIX_FORMATS = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md", ".csv": "csv",
                  ".json": "json", ".txt": "table"}


def add_format_args(p: argparse.ArgumentParser, formats: Sequence[str]) -> None:
    """``--format`` (default: from ``--out``'s suffix, else table) and ``--out``."""
    p.add_argument("--format", "-f", default=None, choices=formats,
                   help="output format (default: from the --out file's suffix: "
                        + ", ".join(f"{s} {f}" for s, f in SUFFIX_FORMATS.items() if f in formats)
                        + "; else table)")
    p.add_argument("--out", "-o", default=None, metavar="PATH",
                   help="write to this file instead of stdout (written whole or not at all)")


def output_format(fmt: Optional[str], out: Optional[str], formats: Sequence[str],
                  default: str = "table") -> str:
    """``--format`` if given, else the one ``--out``'s suffix names, else ``default``."""
    if fmt is not None:
        return fmt
    guessed = SUFFIX_FORMATS.get(os.path.splitext(out or "")[1].lower())
    if guessed is None:
        return default
    if guessed not in formats:
        raise CLIError(f"cannot write {guessed} to {out}: this command writes "
                       f"{', '.join(formats)}; give -f FORMAT or another suffix")
    return guessed


def emit(text: str, out: Optional[str], what: str = "") -> None:
    """``text`` to stdout, or (atomically) to the file ``out`` with a "wrote" line on stderr."""
    if out is None:
        sys.stdout.write(text)
        return
    from costmodel import fileio

    fileio.write_text(out, text)
    print(f"wrote {out}" + (f" ({what})" if what else ""), file=sys.stderr)


def json_text(obj) -> str:
    """costmodel's JSON layout (indent 1), with a final newline; NaN and infinities (which JSON
    cannot hold) become null, as in timing files."""
    from costmodel.latency.timings import nan_to_null

    return json.dumps(nan_to_null(obj), indent=1, allow_nan=False) + "\n"


def check_writable(*paths: Optional[str]) -> None:
    """Fail now, before any long work, if an output file cannot be written (``None``: none)."""
    from costmodel import fileio

    for path in paths:
        if path is not None:
            fileio.check_writable(path)


def prepare_out_dir(path: str) -> None:
    """An output folder: created if missing, and writable (else
    :class:`~costmodel.fileio.OutputError`)."""
    from costmodel import fileio

    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise fileio.OutputError(f"cannot create the folder {path}: {exc.strerror or exc}") \
            from None
    fileio.check_writable(os.path.join(path, "README.md"))


def keep_in_temp(data: bytes, name: str) -> Optional[str]:
    """Save ``data`` to a new file in the system temp folder (name ending in ``-name``); its
    path, or None when that fails too."""
    path = None
    try:
        fd, path = tempfile.mkstemp(prefix="costmodel-", suffix="-" + os.path.basename(name))
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return path
    except OSError:
        if path is not None:
            try:
                os.unlink(path)
            except OSError:
                pass
        return None


def save_measurements(path: str, text: str, what: str) -> None:
    """Write ``text`` (results that took long to measure) to ``path``.  When that fails, they are
    not lost: saved to a file in the system temp folder (else printed on stdout), and the error
    says where (exit status 2)."""
    from costmodel import fileio

    try:
        fileio.write_text(path, text)
        print(f"wrote {path}", file=sys.stderr)
        return
    except fileio.OutputError as exc:
        error = exc
    kept = keep_in_temp(text.encode("utf-8"), path)
    if kept is not None:
        raise CLIError(f"{error}; the {what} are saved in {kept}")
    sys.stdout.write(text)
    sys.stdout.flush()
    raise CLIError(f"{error}; the {what} are printed on stdout instead")


def progress(iterable=None, total: Optional[int] = None, desc: str = "", unit: str = "it",
             quiet: bool = False):
    """A tqdm progress bar on stderr (``quiet``: none, but ``.write``, ``.update`` and
    ``.close`` still work)."""
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=quiet, file=sys.stderr,
                dynamic_ncols=True)


# ---------------------------------------------------------------------------------------------
# parser values that live in heavy library modules
# ---------------------------------------------------------------------------------------------
class LazyChoices:
    """argparse ``choices`` read from ``module.attr`` when first needed (the argument is parsed or
    its help printed), so that building the parser imports nothing heavy.  Give the argument a
    ``metavar``: argparse lists the choices of one without it while building the parser."""

    def __init__(self, module: str, attr: str):
        self.module, self.attr = module, attr

    def _values(self):
        return list(getattr(importlib.import_module(self.module), self.attr))

    def __contains__(self, value) -> bool:
        return value in self._values()

    def __iter__(self):
        return iter(self._values())


class LazyDefault:
    """A default read from ``module.attr`` when first needed: ``str()`` of it (``%(default)s`` in
    a help text) imports the module; :func:`value_of` turns it into the value."""

    def __init__(self, module: str, attr: str):
        self.module, self.attr = module, attr

    def value(self):
        return getattr(importlib.import_module(self.module), self.attr)

    def __str__(self) -> str:
        return str(self.value())


def value_of(arg):
    """An argument's value, :class:`LazyDefault` resolved."""
    return arg.value() if isinstance(arg, LazyDefault) else arg
