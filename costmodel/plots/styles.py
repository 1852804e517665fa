"""Colours and markers shared by the plots: one (colour, marker) per model family, one colour per
op kind, one colour per model set (foreign / zoo / in-space).

Every family gets its own colour *and* its own marker (up to :data:`MAX_FAMILIES` families), so
two families never differ only by a shade; every op kind gets its own colour (up to
``len(KIND_PALETTE)`` kinds in one figure).  Styles are assigned by position in a sorted list of
family names, so the same family looks the same in every plot that passes the same universe
(:func:`family_styles` ``universe``: the zoo's families).
"""
from __future__ import annotations

from typing import Dict, Iterable, Optional, Sequence, Tuple, Union

#: strong colours that read on white, pairwise distinct (matplotlib's tab10, then hues it lacks;
#: the tests check their CIELAB distances)
FAMILY_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                 "#7f7f7f", "#bcbd22", "#17becf", "#000080", "#ff00ff", "#3c4d03", "#ffd700",
                 "#ffb07c", "#ff0789", "#750851", "#008080", "#0add08", "#9932cc")
#: filled markers, pairwise different shapes; the tuples are matplotlib (sides, style, angle)
#: stars (4- and 6-pointed), the last three card-suit glyphs
Marker = Union[str, Tuple[int, int, int]]
FAMILY_MARKERS: Tuple[Marker, ...] = ("o", "s", "^", "D", "v", "P", "X", "h", "<", ">", "p", "*",
                                      "d", "H", "8", (4, 1, 0), (6, 1, 0),
                                      r"$\clubsuit$", r"$\spadesuit$", r"$\heartsuit$")
MAX_FAMILIES = min(len(FAMILY_COLORS), len(FAMILY_MARKERS))
#: the style of a user's own model in the accuracy plots (big, black-edged)
USER_STYLE = ("#ff1493", "*")

#: one colour per op kind; a kind not listed takes the first palette colour no listed kind uses
KIND_COLORS = {
    "conv": "#1f3d99", "pointwise_conv": "#4a90e2", "depthwise_conv": "#2ca02c",
    "group_conv": "#9edae5", "dilated_conv": "#8c564b", "transposed_conv": "#c49c94",
    "linear": "#ffd700", "matmul": "#bcbd22", "attention": "#808000", "norm": "#ff7f0e",
    "act": "#d62728", "pool": "#7f7f7f", "concat": "#e377c2", "shuffle": "#9467bd",
    "elementwise": "#98df8a", "shift": "#17becf", "copy": "#f7b6d2", "resample": "#5c3d00",
    "upsample": "#5c3d00", "reduction": "#000000", "split": "#c5b0d5", "view": "#c7c7c7",
    "identity": "#fdd0a2", "softmax": "#ff9896"}
#: colours for kinds missing from KIND_COLORS, in this order
KIND_PALETTE = ("#393b79", "#637939", "#843c39", "#7b4173", "#e7ba52", "#3182bd", "#31a354",
                "#756bb1", "#636363", "#e6550d", "#969696", "#fd8d3c")

#: the latency validation's model sets
SET_COLORS = {"foreign": "#d62728", "zoo": "#1f77b4", "in-space": "#2ca02c", "sampled": "#2ca02c",
              "other": "#7f7f7f"}


def family_styles(families: Iterable[str], universe: Optional[Sequence[str]] = None
                  ) -> Dict[str, Tuple[str, Marker]]:
    """``{family: (colour, marker)}`` for ``families`` (and ``"your model"`` ->
    :data:`USER_STYLE`).  The i-th family of ``sorted(universe | families)`` gets colour i and
    marker i, so a family looks the same in every plot with the same ``universe``; past
    :data:`MAX_FAMILIES` families they repeat (colour and marker shifted against each other so
    that the pair stays unique)."""
    fams = set(families) - {"your model"}
    order = sorted(set(universe or ()) | fams)
    styles = {}
    nc, nm = len(FAMILY_COLORS), len(FAMILY_MARKERS)
    for i, fam in enumerate(order):
        if fam in fams:
            styles[fam] = (FAMILY_COLORS[i % nc], FAMILY_MARKERS[(i + i // nm) % nm])
    styles["your model"] = USER_STYLE
    return styles


def kind_colors(kinds: Iterable[str]) -> Dict[str, str]:
    """``{kind: colour}`` for ``kinds``, every colour different (known kinds keep theirs;
    others take unused palette colours in their order, then grey)."""
    kinds = list(dict.fromkeys(kinds))
    out = {k: KIND_COLORS[k] for k in kinds if k in KIND_COLORS}
    used = set(out.values())
    spare = [c for c in KIND_PALETTE + tuple(KIND_COLORS.values()) if c not in used]
    for k in kinds:
        if k not in out:
            out[k] = spare.pop(0) if spare else "#999999"
            used.add(out[k])
    return out


def set_color(name: str) -> str:
    """The colour of a latency validation set (``foreign``, ``zoo``, ``in-space``)."""
    return SET_COLORS.get(name, SET_COLORS["other"])
