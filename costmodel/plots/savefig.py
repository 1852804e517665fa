"""Writing matplotlib figures: the format from the file's suffix, reproducible metadata."""
from __future__ import annotations

import os


def mkdir_for(path: str) -> None:
    """Create the folder ``path`` goes into."""
    d = os.path.dirname(os.path.abspath(str(path)))
    os.makedirs(d, exist_ok=True)


def save_figure(fig, path: str) -> None:
    """Save ``fig`` to ``path`` (.png, .svg, .pdf, .jpg), no date or software in its metadata."""
    import matplotlib

    mkdir_for(path)
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in ("png", "svg", "pdf", "jpg", "jpeg"):
        raise ValueError(f"cannot tell the image format of {path!r}: use .png, .svg or .pdf")
    meta = {"svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None},
            "png": {"Software": None}}.get(ext)
    with matplotlib.rc_context({"svg.hashsalt": "costmodel", "svg.fonttype": "path"}):
        fig.savefig(path, metadata=meta)
