"""Per-layer cost report: a DataFrame of ops and its exports. Formatting only, no cost logic."""
from __future__ import annotations

import html
import json
from typing import Dict, List, Optional, Sequence

import pandas as pd

from costmodel import fileio
from costmodel.numfmt import human  # noqa: F401 - also costmodel.report.human
from costmodel.plots.layer_bars import layer_bars_section
from costmodel.tracer import Graph

COUNTS = ["params", "madds", "flops", "mac", "mac_bytes"]
COLUMNS = ["name", "op", "kind", "scope", "in_shape", "out_shape", "kernel", "stride", "dilation",
           "groups", "params", "madds", "flops", "mac", "mac_bytes", "intensity", "parents"]
UNITS = {
    "params": "learnable parameters (shared weights counted once, at first use)",
    "madds": "multiply-adds (what CNN papers call FLOPs)",
    "flops": "floating-point operations (a multiply-add counts 2)",
    "mac": "memory accesses in elements: inputs read + weights read + outputs written "
           "(ShuffleNetV2's MAC)",
    "mac_bytes": "mac x element size, bytes",
    "intensity": "flops per byte of mac_bytes (arithmetic intensity)",
}


def _shape_str(shapes) -> str:
    return " ".join("x".join(str(d) for d in s) if len(s) else "scalar" for s in shapes)


def layer_rows(graph: Graph, costs: Sequence) -> pd.DataFrame:
    """One row per traced op (plus one for parameters no op read, if any)."""
    rows = []
    for rec, oc in zip(graph.ops, costs):
        c = oc.cost
        itemsize = rec.outputs[0].itemsize if rec.outputs else 4
        geo = oc.geometry
        rows.append({
            "name": rec.name, "op": rec.op, "kind": oc.kind, "scope": rec.scope,
            "in_shape": _shape_str(t.shape for t in rec.inputs),
            "out_shape": _shape_str(t.shape for t in rec.outputs),
            "kernel": _geo(geo.get("kernel")), "stride": _geo(geo.get("stride")),
            "dilation": _geo(geo.get("dilation")),
            "groups": geo.get("groups"),
            "params": rec.new_params, "madds": c.madds, "flops": c.flops, "mac": c.mac,
            "mac_bytes": c.mac * itemsize,
            "intensity": c.flops / (c.mac * itemsize) if c.mac else float("nan"),
            "parents": " ".join(str(p) for p in rec.parents),
        })
    unused = sum(graph.unused_params.values())
    if unused:
        rows.append({"name": "(parameters not used in forward)", "op": "", "kind": "unused",
                     "scope": "", "in_shape": "", "out_shape": "", "params": unused, "madds": 0,
                     "flops": 0, "mac": 0, "mac_bytes": 0, "intensity": float("nan"),
                     "parents": ""})
    df = pd.DataFrame(rows, columns=COLUMNS)
    for col in COUNTS:
        df[col] = df[col].astype("int64")
    df["groups"] = df["groups"].astype("Int64")
    return df


def _geo(v) -> Optional[str]:
    if v is None:
        return None
    return "x".join(str(int(e)) for e in v)


class CostReport:
    """The result of :func:`costmodel.analyze`.

    ``layers``: DataFrame, one row per op (see :data:`COLUMNS`, units in :data:`UNITS`).
    ``total``: dict with ``params`` (the model's unique parameter count), ``madds``, ``flops``,
    ``mac``, ``mac_bytes``.  ``graph``: the traced graph with data-flow edges.
    """

    def __init__(self, layers: pd.DataFrame, graph: Graph, model_name: str = "model",
                 unsupported: Sequence[str] = ()):
        self.layers = layers
        self.graph = graph
        self.model_name = model_name
        self.unsupported = list(unsupported)
        self.input_shapes = [t.shape for t in graph.inputs]
        self.total: Dict[str, int] = {c: int(layers[c].sum()) for c in COUNTS}
        self.total["params"] = graph.total_params

    # ------------------------------------------------------------------ views
    def by_kind(self) -> pd.DataFrame:
        """Totals per op kind, with each kind's share of madds and MAC."""
        g = self.layers.groupby("kind", sort=False)[COUNTS].sum()
        g.insert(0, "ops", self.layers.groupby("kind", sort=False).size().astype("int64"))
        for c in ("madds", "mac"):
            g[f"{c}_share"] = g[c] / max(self.total[c], 1)
        return g.sort_values("mac", ascending=False)

    def by_module(self, max_depth: int = 2, self_rows: bool = True) -> pd.DataFrame:
        """fvcore-style roll-up: one row per module down to ``max_depth`` (the model is depth 0),
        in execution order, with params, madds, flops, MAC and shares of the total.

        With ``self_rows``, a module shallower than ``max_depth`` that has child rows and also
        runs ops in its own ``forward`` (a ``torch.cat``, a residual add, a channel shuffle) gets a
        row ``"<module> (self)"`` one level down (``is_self`` true) holding those ops, so every
        module row equals the sum of its child rows and its self row (self rows of zero cost,
        e.g. a lone ``flatten``, are left out)."""
        order: Dict[str, int] = {"": 0}
        sums: Dict[str, Dict[str, int]] = {}
        own: Dict[str, Dict[str, int]] = {}
        for i, row in enumerate(self.layers.itertuples(index=False)):
            parts = row.scope.split(".") if row.scope else []
            for d in range(0, min(len(parts), max_depth) + 1):
                key = ".".join(parts[:d])
                order.setdefault(key, i)
                acc = sums.setdefault(key, dict.fromkeys(COUNTS, 0))
                for c in COUNTS:
                    acc[c] += getattr(row, c)
            if self_rows and len(parts) < max_depth:
                acc = own.setdefault(row.scope, dict.fromkeys(COUNTS, 0))
                order.setdefault(row.scope + " (self)", i)
                for c in COUNTS:
                    acc[c] += getattr(row, c)
        sums.setdefault("", dict.fromkeys(COUNTS, 0))["params"] = self.total["params"]
        parents = {k.rpartition(".")[0] if "." in k else "" for k in sums if k}
        rows = []

        def depth_of(key):
            return 0 if key == "" else key.count(".") + 1

        def add(module, depth, counts, is_self):
            rows.append({"module": module, "depth": depth, **counts, "is_self": is_self,
                         "madds_share": counts["madds"] / max(self.total["madds"], 1),
                         "mac_share": counts["mac"] / max(self.total["mac"], 1),
                         "_order": order[module]})

        for key in sums:
            add(key, depth_of(key), sums[key], False)
        for key, counts in own.items():
            if key in parents and any(counts.values()):  # own ops next to child rows: a row
                add(key + " (self)", depth_of(key) + 1, counts, True)
        df = pd.DataFrame(rows)
        df = df.sort_values(["_order", "depth", "module"], kind="stable").drop(columns="_order")
        df["module"] = df["module"].replace({"": "(model)", " (self)": "(model) (self)"})
        return df.reset_index(drop=True)

    # ------------------------------------------------------------------ exports
    def to_dict(self) -> dict:
        return {
            "model": self.model_name,
            "input_shapes": [list(s) for s in self.input_shapes],
            "units": UNITS,
            "total": self.total,
            "unsupported_ops": self.unsupported,
            "layers": json.loads(self.layers.to_json(orient="records")),
        }

    def to_json(self, path=None, indent: int = 1) -> str:
        text = json.dumps(self.to_dict(), indent=indent)
        return _write(path, text)

    def to_csv(self, path=None) -> str:
        return _write(path, self.layers.to_csv(index=False))

    def to_markdown(self, path=None, max_depth: int = 2) -> str:
        lines = [f"# Cost report: {self.model_name}", "",
                 f"Input {_shape_str(self.input_shapes)}. " + self._total_line(), ""]
        lines += ["## By module", "", _md_table(self._module_table(max_depth)), "",
                  "## By kind", "", _md_table(self._kind_table()), "",
                  "## Layers", "", _md_table(self._layer_table()), "", "Units:", ""]
        lines += [f"- `{k}`: {v}" for k, v in UNITS.items()]
        return _write(path, "\n".join(lines) + "\n")

    def to_html(self, path=None, max_depth: int = 2) -> str:
        body = [f"<h1>Cost report: {html.escape(self.model_name)}</h1>",
                f"<p>Input {_shape_str(self.input_shapes)}. {html.escape(self._total_line())}</p>",
                "<h2>By module</h2>", _html_table(self._module_table(max_depth)),
                "<h2>By kind</h2>", _html_table(self._kind_table()),
                "<h2>Layers</h2>", _html_table(self._layer_table()),
                "<h2>Units</h2><ul>" + "".join(
                    f"<li><code>{k}</code>: {html.escape(v)}</li>" for k, v in UNITS.items()) + "</ul>"]
        body.insert(body.index("<h2>Layers</h2>"), layer_bars_section(self.layers))
        style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
                 "font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
                 "td:first-child,th:first-child{text-align:left}tr:nth-child(even){background:#f6f6f6}")
        doc = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>costmodel: "
               f"{html.escape(self.model_name)}</title><style>{style}</style></head><body>"
               + "\n".join(body) + "</body></html>\n")
        return _write(path, doc)

    def to_table(self, max_depth: int = 2, layers: bool = True) -> str:
        """Readable fixed-width terminal table."""
        parts = [f"{self.model_name}  input {_shape_str(self.input_shapes)}", self._total_line(), "",
                 _text_table(self._module_table(max_depth)), "", _text_table(self._kind_table())]
        if layers:
            parts += ["", _text_table(self._layer_table(), left=3)]
        if self.unsupported:
            parts += ["", "unsupported ops (no formula, counted as zero): " + ", ".join(self.unsupported)]
        return "\n".join(parts) + "\n"

    def export(self, fmt: str, path=None) -> str:
        fmt = {"md": "markdown", "txt": "table"}.get(fmt, fmt)
        writers = {"table": lambda p: _write(p, self.to_table()), "csv": self.to_csv,
                   "json": self.to_json, "markdown": self.to_markdown, "html": self.to_html}
        if fmt not in writers:
            raise ValueError(f"unknown format {fmt!r}; choose one of table, csv, json, md, html")
        return writers[fmt](path)

    def __repr__(self):
        return f"<CostReport {self.model_name}: {self._total_line()}>"

    # ------------------------------------------------------------------ formatting helpers
    def _total_line(self) -> str:
        t = self.total
        line = (f"params {human(t['params'])}, madds {human(t['madds'])}, flops {human(t['flops'])}, "
                f"MAC {human(t['mac'])} elements ({human(t['mac_bytes'], 'B')})")
        if "pred_ms" in t:
            line += f", predicted {t['pred_ms']:.2f} ms"
        return line

    def _module_table(self, max_depth):
        df = self.by_module(max_depth)
        return [["module", "params", "madds", "flops", "mac", "madds %", "mac %"]] + [
            ["  " * r.depth + r.module, human(r.params), human(r.madds), human(r.flops), human(r.mac),
             f"{100 * r.madds_share:.1f}", f"{100 * r.mac_share:.1f}"] for r in df.itertuples()]

    def _kind_table(self):
        df = self.by_kind()
        return [["kind", "ops", "params", "madds", "mac", "madds %", "mac %"]] + [
            [r.Index, str(r.ops), human(r.params), human(r.madds), human(r.mac),
             f"{100 * r.madds_share:.1f}", f"{100 * r.mac_share:.1f}"] for r in df.itertuples()]

    def _layer_table(self):
        timed = "pred_ms" in self.layers.columns
        head = ["#", "name", "kind", "out_shape", "kernel", "stride", "groups", "params", "madds",
                "mac", "intensity"] + (["pred_ms"] if timed else [])
        rows = [head]
        for i, r in enumerate(self.layers.itertuples(index=False)):
            rows.append([str(i), r.name, r.kind, r.out_shape, _text(r.kernel), _text(r.stride),
                         "" if pd.isna(r.groups) else str(r.groups), human(r.params), human(r.madds),
                         human(r.mac), "-" if pd.isna(r.intensity) else f"{r.intensity:.2f}"]
                        + ([("-" if pd.isna(r.pred_ms) else f"{r.pred_ms:.4f}")] if timed else []))
        return rows


def _text(v) -> str:
    return v if isinstance(v, str) else ""


def _write(path, text: str) -> str:
    """``text``, also written (atomically) to ``path`` when one is given."""
    if path is not None:
        fileio.write_text(path, text)
    return text


def _md_table(rows: List[List[str]]) -> str:
    esc = [[str(c).replace("|", "\\|") for c in r] for r in rows]
    out = ["| " + " | ".join(esc[0]) + " |", "|" + "|".join("---" for _ in esc[0]) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in esc[1:]]
    return "\n".join(out)


def _html_table(rows: List[List[str]]) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>"
                   for r in rows[1:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _text_table(rows: List[List[str]], left: int = 1) -> str:
    """Fixed-width table; the first ``left`` columns are text (left-aligned), the rest numbers."""
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for j, r in enumerate(rows):
        cells = [str(c).ljust(w) if i < left else str(c).rjust(w)
                 for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("  ".join(cells).rstrip())
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
