"""Writing matplotlib figures: rendered into memory, then written atomically
(:func:`costmodel.fileio.write_bytes`: the whole file or nothing); the format follows the
file's suffix; no date or software version in the file, so a figure drawn twice is the same."""
from __future__ import annotations

import io
import os
from typing import Optional

from costmodel import fileio

FORMATS = ("png", "svg", "pdf", "jpg", "jpeg")


def mkdir_for(path: str) -> None:
    """Create the folder ``path`` goes into."""
    d = os.path.dirname(os.path.abspath(str(path)))
    os.makedirs(d, exist_ok=True)


def figure_bytes(fig, fmt: str, dpi: Optional[float] = None) -> bytes:
    """``fig`` rendered as ``fmt`` (one of :data:`FORMATS`)."""
    import matplotlib

    meta = {"svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None},
            "png": {"Software": None}}.get(fmt)
    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "costmodel", "svg.fonttype": "path"}):
        fig.savefig(buf, format=fmt, metadata=meta, dpi=dpi if dpi is not None else "figure")
    return buf.getvalue()


def save_figure(fig, path: str, dpi: Optional[float] = None, mkdir: bool = True) -> None:
    """Save ``fig`` to ``path`` (.png, .svg, .pdf, .jpg); ``mkdir``: create its folder."""
    ext = os.path.splitext(str(path))[1].lower().lstrip(".")
    if ext not in FORMATS:
        raise ValueError(f"cannot tell the image format of {str(path)!r}: use .png, .svg or .pdf")
    data = figure_bytes(fig, ext, dpi)
    if mkdir:
        mkdir_for(path)
    fileio.write_bytes(path, data)
