"""Plain-text and Markdown tables shared by the reports (a table is a list of rows of strings,
the first row the header)."""
from __future__ import annotations

import textwrap
from typing import Dict, List, Optional, Sequence

#: the widest line a terminal table aims for
LINE_WIDTH = 120


def md_table(rows: Sequence[Sequence[str]]) -> str:
    """GitHub Markdown table (``|`` in cells escaped)."""
    esc = [[str(c).replace("|", "\\|") for c in r] for r in rows]
    out = ["| " + " | ".join(esc[0]) + " |", "|" + "|".join("---" for _ in esc[0]) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in esc[1:]]
    return "\n".join(out)


def _numeric(value: str) -> bool:
    v = value.replace(".", "").replace("-", "").replace("%", "").replace("+", "")
    return v.rstrip("KMGTB").isdigit() or value in ("-", "")


def split_cell(text: str, width: int) -> List[str]:
    """``text`` in lines of at most ``width`` characters: at spaces, else (a dotted layer name)
    after dots, else anywhere."""
    if len(text) <= width:
        return [text]
    if " " in text.strip():
        return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False)
    lines, line = [], ""
    for part in text.replace(".", ".\0").split("\0"):
        while len(part) > width:
            if line:
                lines.append(line)
                line = ""
            lines.append(part[:width])
            part = part[width:]
        if len(line) + len(part) > width:
            lines.append(line)
            line = part
        else:
            line += part
    return lines + ([line] if line else [])


def text_table(rows: Sequence[Sequence[str]], left: Optional[int] = None,
               wrap: Optional[Dict[int, int]] = None, width: Optional[int] = None) -> str:
    """Fixed-width table with a dashed rule under the header.

    ``left``: the first ``left`` columns are text (left-aligned), the rest numbers (right-aligned);
    ``None``: a column is right-aligned when every value in it is a number.  ``wrap``: column
    index -> the most characters it may take (longer cells continue on the next lines); with
    ``width``, the last column wraps so that lines stay within ``width`` characters.
    """
    rows = [[str(c) for c in r] for r in rows]
    n = len(rows[0])
    right = ([i >= left for i in range(n)] if left is not None else
             [all(_numeric(r[i]) for r in rows[1:]) for i in range(n)])
    caps = dict(wrap or {})
    natural = [max(len(r[i]) for r in rows) for i in range(n)]
    if width is not None:
        others = sum(min(natural[i], caps.get(i, natural[i])) for i in range(n - 1)) + 2 * (n - 1)
        caps[n - 1] = min(caps.get(n - 1, natural[n - 1]), max(width - others, 40))
    cells = [[split_cell(c, caps[i]) if i in caps else [c] for i, c in enumerate(r)]
             for r in rows]
    widths = [max(len(line) for r in cells for line in r[i]) for i in range(n)]
    lines = []
    for j, r in enumerate(cells):
        for k in range(max(len(c) for c in r)):
            parts = [(c[k] if k < len(c) else "") for c in r]
            lines.append("  ".join(p.rjust(w) if right[i] and k == 0 else p.ljust(w)
                                   for i, (p, w) in enumerate(zip(parts, widths))).rstrip())
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def wrap_line(text: str, width: int = LINE_WIDTH, indent: int = 2, sep: str = " ") -> str:
    """One line of prose, wrapped to ``width`` (continuation lines indented by ``indent``);
    ``sep``: break only after it (``"; "`` keeps each clause of a list on one line)."""
    chunks = text.split(sep)
    pieces = [c + sep.rstrip() for c in chunks[:-1]] + chunks[-1:]
    lines, line = [], ""
    for piece in pieces:
        if line.strip() and len(line) + 1 + len(piece) > width:
            lines.append(line)
            line = " " * indent + piece
        else:
            line = f"{line} {piece}" if line.strip() else line + piece
    return "\n".join(lines + [line])
