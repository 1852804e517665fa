"""Making and writing matplotlib figures: a figure on its own canvas (:func:`new_figure`), rendered
into memory and written atomically (:func:`costmodel.fileio.write_bytes`: the whole file or
nothing); the format follows the file's suffix; no date or software version in the file, so a
figure drawn twice is the same."""
from __future__ import annotations

import io
import os
from typing import List, Optional, Sequence, Union

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


def new_figure(figsize=(12, 7.5), dpi: float = 150):
    """A matplotlib Figure on its own Agg canvas (no pyplot: no global state, any backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def save_figures(fig, out: Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]]
                 ) -> List[str]:
    """Save ``fig`` to one path or to each of several (the format from each suffix); returns the
    paths written."""
    outs = [out] if isinstance(out, (str, os.PathLike)) else list(out)
    for path in outs:
        save_figure(fig, str(path))
    return [str(p) for p in outs]


def write_csv(path: str, data, float_format: str = "%.6g") -> str:
    """Write the DataFrame ``data`` (no index) to ``path`` atomically, creating its folder;
    returns the path."""
    mkdir_for(path)
    fileio.write_text(path, data.to_csv(index=False, float_format=float_format))
    return str(path)


def add_caption(fig, text: str, left: float = 0.06, bottom: float = 0.012,
                fontsize: float = 7.0) -> None:
    """``text`` under the axes, wrapped to the figure's width from ``left`` (by characters:
    deterministic, never cut at the right edge)."""
    import textwrap

    width_pt = fig.get_figwidth() * 72 * (1 - left - 0.01)
    chars = max(40, int(width_pt / (0.6 * fontsize)))
    fig.text(left, bottom, textwrap.fill(text, chars), fontsize=fontsize, va="bottom", ha="left",
             color="0.2")
