"""Point labels that do not overlap and sit by their own marker (matplotlib).

:func:`place_labels` tries, for each label, offsets next to its point and then farther away on
rings (drawn with a thin leader line to the point), scoring each candidate box by its overlap
with labels already placed, with other markers and with drawn lines, by leaving the axes, and by
*ambiguity*: a box nearer to another marker than to its own is what makes a reader pair a label
with the wrong point, so it costs as much as an overlap.  The best candidate wins.
"""
from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple

import numpy as np

Box = Tuple[float, float, float, float]

#: next to the point: (dx, dy) in points, horizontal and vertical alignment
_NEAR = [(4, 2, "left", "bottom"), (4, -2, "left", "top"), (-4, 2, "right", "bottom"),
         (-4, -2, "right", "top"), (0, 5, "center", "bottom"), (0, -5, "center", "top"),
         (6, 0, "left", "center"), (-6, 0, "right", "center")]


def _far() -> List[Tuple[float, float, str, str]]:
    out = []
    for radius in (14, 22, 32, 44, 58):
        for ang in range(0, 360, 20):
            dx = radius * math.cos(math.radians(ang))
            dy = 0.6 * radius * math.sin(math.radians(ang))
            out.append((round(dx, 1), round(dy, 1),
                        "left" if dx > 1 else "right" if dx < -1 else "center",
                        "bottom" if dy > 1 else "top" if dy < -1 else "center"))
    return out


_FAR = _far()


def _overlap(box: Box, arr: np.ndarray) -> float:
    """Summed overlap area of ``box`` with the boxes in the rows of ``arr`` (n x 4)."""
    if not len(arr):
        return 0.0
    w = np.minimum(box[2], arr[:, 2]) - np.maximum(box[0], arr[:, 0])
    h = np.minimum(box[3], arr[:, 3]) - np.maximum(box[1], arr[:, 1])
    return float((np.clip(w, 0, None) * np.clip(h, 0, None)).sum())


def _dist(q: np.ndarray, box: Box) -> np.ndarray:
    """Distances from the points in the rows of ``q`` (n x 2) to a box (0 inside)."""
    dx = np.maximum(np.maximum(box[0] - q[:, 0], 0.0), q[:, 0] - box[2])
    dy = np.maximum(np.maximum(box[1] - q[:, 1], 0.0), q[:, 1] - box[3])
    return np.hypot(dx, dy)


def _box(px, py, dx, dy, ha, va, w, h) -> Box:
    x = px + dx
    y = py + dy
    x0 = x if ha == "left" else x - w if ha == "right" else x - w / 2
    y0 = y if va == "bottom" else y - h if va == "top" else y - h / 2
    return (x0 - 1, y0 - 1, x0 + w + 1, y0 + h + 1)


def place_labels(ax, x: Sequence[float], y: Sequence[float], labels: Sequence[str],
                 order: Optional[Sequence[int]] = None, fontsize: float = 5.5,
                 lines: Sequence[Tuple[np.ndarray, np.ndarray]] = (), marker_pt: float = 3.5,
                 color: str = "0.15",
                 others: Optional[Tuple[Sequence[float], Sequence[float]]] = None) -> List[object]:
    """Annotate point ``i`` at (``x[i]``, ``y[i]``) with ``labels[i]``; ``order``: the points
    labelled first get the best places (default: as given).  ``lines``: ``(xs, ys)`` of drawn
    lines to keep labels off; ``others``: ``(xs, ys)`` of unlabelled markers to keep labels off
    (and not to be mistaken for the labelled point).  Call it after the axes' limits and scales
    are final.  Returns the annotations (matplotlib ``Annotation``; None for a point that is
    not finite), in the order of the points."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    pts = ax.transData.transform(np.c_[np.asarray(x, float), np.asarray(y, float)])
    px_per_pt = fig.dpi / 72.0
    r = marker_pt * px_per_pt
    if others is not None and len(others[0]):
        pts = np.vstack([pts, ax.transData.transform(np.c_[np.asarray(others[0], float),
                                                            np.asarray(others[1], float)])])
    finite = np.isfinite(pts).all(axis=1)
    marker_boxes = np.c_[pts - r, pts + r]
    line_boxes = []
    for lx, ly in lines:  # sample the lines as small obstacles
        lp = ax.transData.transform(np.c_[lx, ly])
        for (x0, y0), (x1, y1) in zip(lp[:-1], lp[1:]):
            n = int(max(abs(x1 - x0), abs(y1 - y0)) // 3) + 1
            f = np.linspace(0, 1, n + 1)
            q = np.c_[x0 + f * (x1 - x0), y0 + f * (y1 - y0)]
            line_boxes.append(np.c_[q - 0.5, q + 0.5])
    line_arr = np.vstack(line_boxes) if line_boxes else np.zeros((0, 4))
    axbox = ax.get_window_extent(renderer)
    sizes = []
    for label in labels:  # the text's size, measured once
        t = ax.text(0, 0, label, fontsize=fontsize)
        bb = t.get_window_extent(renderer)
        sizes.append((bb.width, bb.height))
        t.remove()
    placed = np.zeros((0, 4))
    out: List[object] = [None] * len(labels)
    for i in (range(len(labels)) if order is None else order):
        if not finite[i]:
            continue
        px, py = pts[i]
        w, h = sizes[i]
        keep = finite.copy()
        keep[i] = False
        obstacles, rivals = marker_boxes[keep], pts[keep]
        best = None
        for j, (dx, dy, ha, va) in enumerate(_NEAR + _FAR):
            box = _box(px, py, dx * px_per_pt, dy * px_per_pt, ha, va, w, h)
            score = _overlap(box, placed) + _overlap(box, obstacles) + 0.3 * _overlap(box, line_arr)
            if not (box[0] >= axbox.x0 and box[2] <= axbox.x1 and box[1] >= axbox.y0
                    and box[3] <= axbox.y1):
                score += 1e6
            own = float(_dist(pts[i:i + 1], box)[0])
            nearest_other = float(_dist(rivals, box).min()) if len(rivals) else math.inf
            if nearest_other < own + r:  # a reader would pair it with that other marker
                score += (40.0 if j < len(_NEAR) else 15.0) * (own + r - nearest_other + 1)
            score += 0.02 * math.hypot(dx, dy)  # prefer close places
            if best is None or score < best[0]:
                best = (score, j, dx, dy, ha, va, box)
            if j < len(_NEAR) and score < 1:
                break
        _, j, dx, dy, ha, va, box = best
        kw = {}
        if j >= len(_NEAR):
            kw["arrowprops"] = dict(arrowstyle="-", lw=0.4, color="0.45", shrinkA=0,
                                    shrinkB=marker_pt * 0.8)
        out[i] = ax.annotate(labels[i], (x[i], y[i]), xytext=(dx, dy), textcoords="offset points",
                             ha=ha, va=va, fontsize=fontsize, color=color, zorder=5, **kw)
        placed = np.vstack([placed, np.asarray(box)[None, :]])
    return out
