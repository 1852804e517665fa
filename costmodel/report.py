"""Per-layer cost report: a DataFrame of ops and its exports. Formatting only, no cost logic."""
from __future__ import annotations

import html
import json
from typing import Dict, List, Optional, Sequence

import numpy as np
import pandas as pd

from costmodel import fileio
from costmodel.numfmt import human  # noqa: F401 - also costmodel.report.human
from costmodel.plots.layer_bars import layer_bars_section
from costmodel.tables import md_table, text_table, wrap_line
from costmodel.tracer import Graph

COUNTS = ["params", "madds", "flops", "mac", "mac_bytes"]
#: what ``top`` can rank layers by, and how a report names it
TOP_BY = {"madds": "multiply-adds (madds)", "mac": "memory accesses (MAC)"}
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
    ops = graph.ops
    geos = [oc.geometry for oc in costs]
    cost = [oc.cost for oc in costs]
    itemsizes = [rec.outputs[0].itemsize if rec.outputs else 4 for rec in ops]
    cols = {
        "name": [r.name for r in ops], "op": [r.op for r in ops],
        "kind": [oc.kind for oc in costs], "scope": [r.scope for r in ops],
        "in_shape": [_shape_str(t.shape for t in r.inputs) for r in ops],
        "out_shape": [_shape_str(t.shape for t in r.outputs) for r in ops],
        "kernel": [_geo(g.get("kernel")) for g in geos],
        "stride": [_geo(g.get("stride")) for g in geos],
        "dilation": [_geo(g.get("dilation")) for g in geos],
        "groups": [g.get("groups") for g in geos],
        "params": [r.new_params for r in ops], "madds": [c.madds for c in cost],
        "flops": [c.flops for c in cost], "mac": [c.mac for c in cost],
        "mac_bytes": [c.mac * i for c, i in zip(cost, itemsizes)],
        "parents": [" ".join(map(str, r.parents)) for r in ops],
    }
    unused = sum(graph.unused_params.values())
    if unused:
        extra = {"name": "(parameters not used in forward)", "op": "", "kind": "unused",
                 "scope": "", "in_shape": "", "out_shape": "", "kernel": None, "stride": None,
                 "dilation": None, "groups": None, "params": unused, "madds": 0, "flops": 0,
                 "mac": 0, "mac_bytes": 0, "parents": ""}
        for col, v in extra.items():
            cols[col].append(v)
    for col in COUNTS:
        cols[col] = np.array(cols[col], dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        cols["intensity"] = np.where(cols["mac"] > 0, cols["flops"] / np.maximum(cols["mac_bytes"], 1),
                                     np.nan)
    cols["groups"] = pd.array(cols["groups"], dtype="Int64")
    return pd.DataFrame(cols, columns=COLUMNS)


def cost_totals(graph: Graph, costs: Sequence) -> Dict[str, int]:
    """The report's totals straight from the op costs (what :func:`layer_rows` would sum)."""
    total = dict.fromkeys(COUNTS, 0)
    for rec, oc in zip(graph.ops, costs):
        c = oc.cost
        total["madds"] += c.madds
        total["flops"] += c.flops
        total["mac"] += c.mac
        total["mac_bytes"] += c.mac * (rec.outputs[0].itemsize if rec.outputs else 4)
    total["params"] = graph.total_params
    return total


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

    def __init__(self, layers, graph: Graph, model_name: str = "model",
                 unsupported: Sequence[str] = (), total: Optional[Dict[str, int]] = None):
        # ``layers``: the DataFrame, or a function that builds it on first use (a caller that
        # only reads the totals never pays for the table)
        self._layers = layers if isinstance(layers, pd.DataFrame) else None
        self._build_layers = None if self._layers is not None else layers
        self.graph = graph
        self.model_name = model_name
        self.unsupported = list(unsupported)
        self.input_shapes = [t.shape for t in graph.inputs]
        if total is None:
            total = {c: int(self.layers[c].sum()) for c in COUNTS}
        self.total: Dict[str, int] = dict(total)
        self.total["params"] = graph.total_params

    @property
    def layers(self) -> pd.DataFrame:
        if self._layers is None:
            self._layers = self._build_layers()
            self._build_layers = None
        return self._layers

    @layers.setter
    def layers(self, df: pd.DataFrame) -> None:
        self._layers, self._build_layers = df, None

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
        with params, madds, flops, MAC and shares of the total.  Rows form a tree in execution
        order: each module row is followed by its children (each with its own subtree, in the
        order they first run).

        With ``self_rows``, a module shallower than ``max_depth`` that has child rows and also
        runs ops in its own ``forward`` (a ``torch.cat``, a residual add, a channel shuffle) gets a
        row ``"<module> (self)"`` one level down (``is_self`` true) holding those ops, placed
        directly after the module's other children, so every module row equals the sum of its
        child rows and its self row (self rows of zero cost, e.g. a lone ``flatten``, are left
        out)."""
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
                         "mac_share": counts["mac"] / max(self.total["mac"], 1)})

        children: Dict[str, List[str]] = {}
        for key in sums:
            if key:
                children.setdefault(key.rpartition(".")[0], []).append(key)
        stack = [("", False)]
        while stack:  # depth-first: a module, its children's subtrees, its self row
            key, is_self = stack.pop()
            if is_self:
                add(key + " (self)", depth_of(key) + 1, own[key], True)
                continue
            add(key, depth_of(key), sums[key], False)
            if key in parents and any(own.get(key, {}).values()):  # own ops next to child rows
                stack.append((key, True))
            stack += [(k, False) for k in sorted(children.get(key, []), key=order.get,
                                                 reverse=True)]
        df = pd.DataFrame(rows)
        df["module"] = df["module"].replace({"": "(model)", " (self)": "(model) (self)"})
        return df

    # ------------------------------------------------------------------ exports
    # ``top``/``by`` (every export): only the ``top`` layers with the most ``by`` ("madds" or
    # "mac"), most expensive first; ``max_depth``: depth of the by-module roll-up.
    def top_layers(self, top: Optional[int] = None, by: str = "madds") -> pd.DataFrame:
        """The ``top`` layers with the most ``by`` (``"madds"`` or ``"mac"``), most expensive
        first (ties in execution order); all layers, in execution order, without ``top``."""
        if by not in TOP_BY:
            raise ValueError(f"cannot rank layers by {by!r}; choose one of {', '.join(TOP_BY)}")
        layers = self.layers.reset_index(drop=True)
        if top is None:
            return layers
        if top < 1:
            raise ValueError(f"top must be a positive number of layers, got {top}")
        return layers.sort_values(by, ascending=False, kind="stable").head(top)

    def _top_note(self, top: Optional[int], by: str) -> str:
        if top is None:
            return ""
        shown = min(top, len(self.layers))
        return (f"Only the {shown} layers with the most {TOP_BY[by]}, most expensive first, of "
                f"{len(self.layers)} (# is the layer's position in execution order).")

    def to_dict(self, top: Optional[int] = None, by: str = "madds") -> dict:
        out = {
            "model": self.model_name,
            "input_shapes": [list(s) for s in self.input_shapes],
            "units": UNITS,
            "total": self.total,
            "unsupported_ops": self.unsupported,
            "layers": json.loads(self.top_layers(top, by).to_json(orient="records")),
        }
        if top is not None:
            out["layers_shown"] = {"top": top, "by": by, "of": len(self.layers)}
        return out

    def to_json(self, path=None, indent: int = 1, top: Optional[int] = None,
                by: str = "madds") -> str:
        text = json.dumps(self.to_dict(top, by), indent=indent)
        return _write(path, text)

    def to_csv(self, path=None, top: Optional[int] = None, by: str = "madds") -> str:
        return _write(path, self.top_layers(top, by).to_csv(index=False))

    def to_markdown(self, path=None, max_depth: int = 2, top: Optional[int] = None,
                    by: str = "madds") -> str:
        lines = [f"# Cost report: {self.model_name}", "",
                 f"Input {_shape_str(self.input_shapes)}. " + self._total_line(), ""]
        lines += ["## By module", "", "Each `·` is one level below the model.", "",
                  md_table(self._module_table(max_depth, indent="· ")), "",
                  "## By kind", "", md_table(self._kind_table()), "", "## Layers", ""]
        lines += [self._top_note(top, by), ""] if top is not None else []
        lines += [md_table(self._layer_table(top, by)), "", "Units:", ""]
        lines += [f"- `{k}`: {v}" for k, v in UNITS.items()]
        return _write(path, "\n".join(lines) + "\n")

    def to_html(self, path=None, max_depth: int = 2, top: Optional[int] = None,
                by: str = "madds") -> str:
        note = self._top_note(top, by)
        modules = self.by_module(max_depth)
        body = [f"<h1>Cost report: {html.escape(self.model_name)}</h1>",
                f"<p>Input {_shape_str(self.input_shapes)}. {html.escape(self._total_line())}</p>",
                "<h2>By module</h2>",
                _html_table(self._module_table(max_depth, "", modules), left=1,
                            depths=[0] + list(modules["depth"])),
                "<h2>By kind</h2>", _html_table(self._kind_table(), left=1),
                layer_bars_section(self.layers.reset_index(drop=True),
                                   only=None if top is None else list(self.top_layers(top, by).index)),
                "<h2>Layers</h2>" + (f"<p>{html.escape(note)}</p>" if note else ""),
                _html_table(self._layer_table(top, by), left=3),
                "<h2>Units</h2><ul>" + "".join(
                    f"<li><code>{k}</code>: {html.escape(v)}</li>" for k, v in UNITS.items()) + "</ul>"]
        style = ("body{font-family:sans-serif;font-size:15px;margin:2em;color:#222}"
                 "table{border-collapse:collapse;font-size:14px;margin-bottom:1em}"
                 "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
                 "td.text,th.text{text-align:left}tr:nth-child(even){background:#f6f6f6}"
                 "th{background:#eee}svg.cm-layer-bars{display:block;min-width:720px}")
        doc = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>costmodel: "
               f"{html.escape(self.model_name)}</title><style>{style}</style></head><body>"
               + "\n".join(body) + "</body></html>\n")
        return _write(path, doc)

    def to_table(self, max_depth: int = 2, layers: bool = True, top: Optional[int] = None,
                 by: str = "madds") -> str:
        """Readable fixed-width terminal table."""
        parts = [f"{self.model_name}  input {_shape_str(self.input_shapes)}", self._total_line(), "",
                 text_table(self._module_table(max_depth)), "", text_table(self._kind_table())]
        if layers:
            parts += [""] + ([wrap_line(self._top_note(top, by))] if top is not None else [])
            parts += [text_table(self._layer_table(top, by), left=3)]
        if self.unsupported:
            parts += ["", "unsupported ops (no formula, counted as zero): " + ", ".join(self.unsupported)]
        return "\n".join(parts) + "\n"

    def export(self, fmt: str, path=None, max_depth: int = 2, top: Optional[int] = None,
               by: str = "madds") -> str:
        """The report in ``fmt`` (``table``, ``csv``, ``json``, ``md``, ``html``); also written to
        ``path`` when given.  ``max_depth`` (table, md, html): depth of the by-module roll-up;
        ``top``/``by``: only the ``top`` layers with the most ``by`` (see :meth:`top_layers`)."""
        fmt = {"md": "markdown", "txt": "table"}.get(fmt, fmt)
        if fmt == "table":
            return _write(path, self.to_table(max_depth, top=top, by=by))
        if fmt in ("markdown", "html"):
            return getattr(self, f"to_{fmt}")(path, max_depth, top=top, by=by)
        if fmt in ("csv", "json"):
            return getattr(self, f"to_{fmt}")(path, top=top, by=by)
        raise ValueError(f"unknown format {fmt!r}; choose one of table, csv, json, md, html")

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

    def _module_table(self, max_depth, indent: str = "  ", modules=None):
        """Rows of the by-module table (``modules``: :meth:`by_module` already computed); a
        module's name is prefixed by ``indent`` once per level below the model."""
        df = self.by_module(max_depth) if modules is None else modules
        return [["module", "params", "madds", "flops", "mac", "madds %", "mac %"]] + [
            [indent * r.depth + r.module, human(r.params), human(r.madds), human(r.flops), human(r.mac),
             f"{100 * r.madds_share:.1f}", f"{100 * r.mac_share:.1f}"] for r in df.itertuples()]

    def _kind_table(self):
        df = self.by_kind()
        return [["kind", "ops", "params", "madds", "mac", "madds %", "mac %"]] + [
            [r.Index, str(r.ops), human(r.params), human(r.madds), human(r.mac),
             f"{100 * r.madds_share:.1f}", f"{100 * r.mac_share:.1f}"] for r in df.itertuples()]

    def _layer_table(self, top: Optional[int] = None, by: str = "madds"):
        timed = "pred_ms" in self.layers.columns
        head = ["#", "name", "kind", "out_shape", "kernel", "stride", "groups", "params", "madds",
                "mac", "intensity"] + (["pred_ms"] if timed else [])
        rows = [head]
        for r in self.top_layers(top, by).itertuples():
            i = r.Index
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


def _html_table(rows: List[List[str]], left: int = 1,
                depths: Optional[Sequence[int]] = None) -> str:
    """An HTML table; the first ``left`` columns are text (class ``text``, left-aligned);
    ``depths`` (one per row, header included): the first cell of each row indented by CSS
    padding, one step per level."""
    def cells(r, tag, depth):
        out = []
        for i, c in enumerate(r):
            attrs = ' class="text"' if i < left else ""
            if i == 0 and depth:
                attrs += f' style="padding-left:{0.5 + 1.5 * depth:.1f}em"'
            out.append(f"<{tag}{attrs}>{html.escape(str(c))}</{tag}>")
        return "".join(out)

    depths = list(depths) if depths is not None else [0] * len(rows)
    head = cells(rows[0], "th", 0)
    body = "".join(f"<tr>{cells(r, 'td', d)}</tr>" for r, d in zip(rows[1:], depths[1:]))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
