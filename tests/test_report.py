"""CostReport: parameter totals, unsupported ops, exports (CSV / JSON / Markdown / HTML),
the by-module roll-up and element sizes."""
import html
import io
import json
import math
import warnings

import pandas as pd
import pytest
import torch
import torch.nn as nn

import costmodel

from conftest import SMALL_ZOO

REQUIRED_COLUMNS = ["name", "op", "kind", "in_shape", "out_shape", "kernel", "stride", "dilation",
                    "groups", "params", "madds", "flops", "mac", "mac_bytes", "intensity"]
COUNTS = ["params", "madds", "flops", "mac", "mac_bytes"]


class Small(nn.Module):
    """A little of everything: conv kinds, BN, in-place act, residual, concat, shuffle, pool,
    linear, a module called twice."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8),
                                  nn.ReLU(inplace=True))
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
        self.pw = nn.Conv2d(8, 8, 1)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 5))

    def forward(self, x):
        x = self.stem(x)
        y = self.pw(self.dw(x)) + x
        y = self.pw(y)
        z = torch.cat([x, y], 1)
        n, c, h, w = z.shape
        z = z.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, c, h, w)
        return self.head(z)


@pytest.fixture(scope="module")
def small_report():
    return costmodel.analyze(Small(), (2, 3, 16, 16))


# ---------------------------------------------------------------------------------------------
# params
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SMALL_ZOO)
def test_zoo_params_equal_module_parameters(name, zoo_model):
    model = zoo_model(name)
    rep = costmodel.analyze(model, (1, 3, 64, 64))
    expected = sum(p.numel() for p in model.parameters())
    assert rep.total["params"] == expected
    assert rep.layers["params"].sum() == expected
    assert (rep.layers["params"] >= 0).all()
    # MAC always includes reading the weights at least once
    assert rep.total["mac"] >= expected


def test_unused_parameters_get_their_own_row():
    class Unused(nn.Module):
        def __init__(self):
            super().__init__()
            self.used = nn.Linear(4, 3)
            self.aux = nn.Linear(4, 7)  # never called in forward

        def forward(self, x):
            return self.used(x)

    model = Unused()
    rep = costmodel.analyze(model, (2, 4))
    assert rep.total["params"] == sum(p.numel() for p in model.parameters()) == 15 + 35
    assert rep.layers["params"].sum() == rep.total["params"]
    unused = rep.layers[rep.layers["kind"] == "unused"]
    assert len(unused) == 1 and unused["params"].iloc[0] == 35
    assert rep.graph.unused_params == {"aux.weight": 28, "aux.bias": 7}


def test_shared_module_params_once_madds_twice():
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = nn.Conv2d(6, 6, 3, padding=1, bias=False)
            self.alias = self.block

        def forward(self, x):
            return self.alias(self.block(x))

    model = Shared()
    rep = costmodel.analyze(model, (1, 6, 5, 5))
    single = costmodel.analyze(nn.Conv2d(6, 6, 3, padding=1, bias=False), (1, 6, 5, 5))
    assert rep.total["params"] == single.total["params"] == 6 * 6 * 9
    assert rep.total["madds"] == 2 * single.total["madds"] == 2 * 25 * 6 * 6 * 9
    assert list(rep.layers["name"]) == ["block", "block:2"]


# ---------------------------------------------------------------------------------------------
# unsupported ops
# ---------------------------------------------------------------------------------------------
class Exotic(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 1)

    def forward(self, x):
        x = self.conv(x)
        a = torch.special.bessel_j0(x)
        b = torch.special.bessel_j0(a)
        c = torch.special.bessel_j0(b)
        f = torch.fft.fft2(c)
        f = torch.fft.fft2(f)
        return f.abs() + c


def test_unsupported_ops_are_reported_and_warned_once_per_op():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rep = costmodel.analyze(Exotic(), (1, 2, 4, 4))
    mine = [w for w in caught if issubclass(w.category, costmodel.UnsupportedOpWarning)]
    messages = [str(w.message) for w in mine]
    assert len(mine) == 2, messages
    assert sum("bessel_j0" in m for m in messages) == 1
    assert sum("fft" in m for m in messages) == 1
    unsup = rep.layers[rep.layers["kind"] == "unsupported"]
    assert sorted(unsup["op"]) == sorted(["torch.special_bessel_j0"] * 3 + ["torch.fft_fft2"] * 2)
    assert (unsup[["madds", "flops", "mac"]] == 0).all().all()
    assert sorted(rep.unsupported) == sorted(set(unsup["op"]))
    assert "3 call(s)" in next(m for m in messages if "bessel_j0" in m)
    # the supported ops around them are still costed
    assert rep.layers.set_index("name").loc["conv", "madds"] == 16 * 2 * 2


def test_unsupported_warning_can_be_silenced():
    with warnings.catch_warnings():
        warnings.simplefilter("error", costmodel.UnsupportedOpWarning)
        rep = costmodel.analyze(Exotic(), (1, 2, 4, 4), warn=False)
    assert "unsupported" in set(rep.layers["kind"])


# ---------------------------------------------------------------------------------------------
# exports
# ---------------------------------------------------------------------------------------------
def test_csv_round_trip(small_report, tmp_path):
    path = tmp_path / "r.csv"
    text = small_report.to_csv(path)
    assert path.read_text() == text
    back = pd.read_csv(path)
    assert set(REQUIRED_COLUMNS) <= set(back.columns)
    assert len(back) == len(small_report.layers)
    assert list(back["name"]) == list(small_report.layers["name"])
    for col in COUNTS:
        assert list(back[col]) == list(small_report.layers[col]), col
    assert list(back["kind"]) == list(small_report.layers["kind"])
    assert list(back["out_shape"]) == list(small_report.layers["out_shape"])
    got = back["intensity"].to_numpy()
    want = small_report.layers["intensity"].to_numpy(dtype=float)
    assert all((math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9)
               for a, b in zip(got, want))
    assert pd.read_csv(io.StringIO(small_report.export("csv"))).shape == back.shape


def test_json_totals_equal_dataframe_sums(small_report, tmp_path):
    path = tmp_path / "r.json"
    small_report.to_json(path)
    data = json.loads(path.read_text())
    df = pd.DataFrame(data["layers"])
    assert set(REQUIRED_COLUMNS) <= set(df.columns)
    for col in COUNTS:
        assert data["total"][col] == int(df[col].sum()), col
    assert data["total"]["params"] == sum(p.numel() for p in Small().parameters())
    assert data["input_shapes"] == [[2, 3, 16, 16]]
    assert [r["name"] for r in data["layers"]] == list(small_report.layers["name"])


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_markdown_and_html_list_every_layer(small_report, tmp_path, fmt):
    path = tmp_path / f"r.{fmt}"
    text = small_report.export(fmt, path)
    assert path.read_text() == text
    for name in small_report.layers["name"]:
        assert (html.escape(name) if fmt == "html" else name) in text, name
    if fmt == "html":
        assert text.lstrip().lower().startswith("<!doctype html>")
        assert text.count("<table>") == text.count("</table>") == 3
    else:
        assert text.startswith("# Cost report")
        # every table row has the header's column count
        for block in text.split("\n\n"):
            rows = [r for r in block.splitlines() if r.startswith("|")]
            if rows:
                assert len({r.replace("\\|", "").count("|") for r in rows}) == 1


def test_export_rejects_unknown_format(small_report):
    with pytest.raises(ValueError, match="unknown format"):
        small_report.export("xlsx")


def _scope_depth(scope):
    return 0 if not scope else scope.count(".") + 1


@pytest.mark.parametrize("max_depth", [0, 1, 2, 3])
@pytest.mark.parametrize("which", ["small", "mobilenet_v2_x0_35"])
def test_by_module_rollup_sums_to_total(max_depth, which, small_report, zoo_model):
    """Depth 0 is the whole model.  A row at depth d sums every op whose scope lies under that
    module; ops that run in a shallower module's own forward (a root-level flatten, a residual
    add in a block's forward, a leaf module at depth < d) belong to no row at depth d, so:
    rows at depth d + layers with scope depth < d == total."""
    rep = small_report if which == "small" else costmodel.analyze(zoo_model(which), (1, 3, 32, 32))
    full = rep.by_module(max_depth)
    bm = full[~full["is_self"]]
    assert bm.equals(rep.by_module(max_depth, self_rows=False)[bm.columns].set_axis(bm.index))
    assert bm["depth"].max() <= max_depth
    root = bm[bm["depth"] == 0].iloc[0]
    assert root["module"] == "(model)"
    for col in COUNTS:
        assert root[col] == rep.total[col], col
    depths = rep.layers["scope"].map(_scope_depth)
    for d in range(1, max_depth + 1):
        rows = bm[bm["depth"] == d]
        for col in ["madds", "flops", "mac", "mac_bytes"]:
            shallower = rep.layers.loc[depths < d, col].sum()
            assert rows[col].sum() + shallower == rep.total[col], (d, col)
        # and each row equals the sum of the layers under it
        for r in rows.itertuples():
            under = rep.layers["scope"].map(lambda s: s == r.module or s.startswith(r.module + "."))
            assert r.madds == rep.layers.loc[under, "madds"].sum()
            assert r.mac == rep.layers.loc[under, "mac"].sum()
    # with the self rows, every module with child rows is the sum of its children and itself
    for r in full[~full["is_self"] & (full["depth"] < max_depth)].itertuples():
        key = "" if r.module == "(model)" else r.module
        kids = full[(full["depth"] == r.depth + 1) & full["module"].map(lambda m: _parent_of(m) == key)]
        if len(kids):
            for col in ["madds", "flops", "mac"]:
                assert kids[col].sum() == getattr(r, col), (r.module, col)
    for r in full[full["is_self"]].itertuples():
        scope = "" if r.module == "(model) (self)" else r.module[:-len(" (self)")]
        assert r.madds == rep.layers.loc[rep.layers["scope"] == scope, "madds"].sum()
        assert r.mac == rep.layers.loc[rep.layers["scope"] == scope, "mac"].sum()


def _parent_of(module):
    """The by_module row a row rolls up into ('' = the model)."""
    if module.endswith(" (self)"):
        name = module[:-len(" (self)")]
        return "" if name == "(model)" else name
    return module.rpartition(".")[0] if "." in module else ""


def test_by_kind_shares(small_report):
    bk = small_report.by_kind()
    assert bk["madds"].sum() == small_report.total["madds"]
    assert bk["mac"].sum() == small_report.total["mac"]
    assert math.isclose(bk["madds_share"].sum(), 1.0) and math.isclose(bk["mac_share"].sum(), 1.0)
    assert bk["ops"].sum() == len(small_report.layers)
    assert {"conv", "depthwise_conv", "pointwise_conv", "norm", "act", "elementwise", "concat",
            "shuffle", "view", "pool", "linear"} <= set(bk.index)


def test_mac_bytes_float32(small_report):
    df = small_report.layers
    assert (df["mac_bytes"] == 4 * df["mac"]).all()
    assert small_report.total["mac_bytes"] == 4 * small_report.total["mac"]
    costed = df[df["mac"] > 0]
    assert all(math.isclose(i, f / (4 * m)) for i, f, m in
               zip(costed["intensity"], costed["flops"], costed["mac"]))


@pytest.mark.parametrize("dtype,size", [(torch.float16, 2), (torch.bfloat16, 2),
                                        (torch.float64, 8)])
def test_mac_bytes_follow_dtype(dtype, size):
    model = Small().to(dtype)
    rep = costmodel.analyze(model, (2, 3, 16, 16), dtype=dtype)
    ref = costmodel.analyze(Small(), (2, 3, 16, 16))
    assert (rep.layers["mac_bytes"] == size * rep.layers["mac"]).all()
    assert list(rep.layers["mac"]) == list(ref.layers["mac"])  # elements do not depend on dtype
    assert rep.total["mac_bytes"] == size * ref.total["mac"]


@pytest.mark.parametrize("bias", [True, False])
def test_float16_analysis_of_a_float32_model(bias):
    model = nn.Sequential(nn.Conv2d(3, 8, 3, bias=bias), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))
    rep = costmodel.analyze(model, (2, 3, 16, 16), dtype=torch.float16)
    assert (rep.layers["mac_bytes"] == 2 * rep.layers["mac"]).all()


def test_report_repr_and_table(small_report):
    text = small_report.to_table()
    for name in small_report.layers["name"]:
        assert name in text
    assert "Small" in repr(small_report)


# ---------------------------------------------------------------------------------------------
# the by-module tree, and how Markdown and HTML show it
# ---------------------------------------------------------------------------------------------
def _parent_row(rows, k):
    """Index of the nearest row above ``k`` one level shallower (its parent in the tree)."""
    return next(j for j in range(k - 1, -1, -1) if rows[j]["depth"] == rows[k]["depth"] - 1)


@pytest.mark.parametrize("max_depth", [1, 2, 3])
@pytest.mark.parametrize("which", ["small", "mobilenet_v2_x0_35", "shufflenet_v2_x0_5"])
def test_by_module_is_a_tree_with_self_rows_after_their_siblings(max_depth, which, small_report,
                                                                 zoo_model):
    rep = small_report if which == "small" else costmodel.analyze(zoo_model(which), (1, 3, 32, 32))
    rows = rep.by_module(max_depth).to_dict("records")
    first_op = {}
    for i, scope in enumerate(rep.layers["scope"]):
        parts = scope.split(".") if scope else []
        for d in range(1, len(parts) + 1):
            first_op.setdefault(".".join(parts[:d]), i)
    assert rows[0]["module"] == "(model)" and rows[0]["depth"] == 0
    n_self = 0
    for k in range(1, len(rows)):
        parent = rows[_parent_row(rows, k)]["module"]
        name = rows[k]["module"]
        if rows[k]["is_self"]:
            n_self += 1
            assert name == f"{parent} (self)"
            # nothing of its module follows the self row: the next row is shallower
            if k + 1 < len(rows):
                assert rows[k + 1]["depth"] < rows[k]["depth"], (name, rows[k + 1]["module"])
        else:
            assert parent == "(model)" and "." not in name or name.rpartition(".")[0] == parent
    # siblings in the order they first run
    for k in range(1, len(rows)):
        later = [j for j in range(k + 1, len(rows)) if rows[j]["depth"] == rows[k]["depth"]
                 and _parent_row(rows, j) == _parent_row(rows, k) and not rows[j]["is_self"]]
        if not rows[k]["is_self"] and later:
            assert first_op[rows[k]["module"]] < first_op[rows[later[0]]["module"]]
    if which == "small":  # the model's own add, cat and shuffle
        assert n_self >= 1 and rows[-1]["module"] == "(model) (self)"


def test_markdown_marks_module_depth_visibly(small_report):
    text = small_report.to_markdown(max_depth=2)
    section = text[text.index("## By module"):text.index("## By kind")]
    cells = [line.split("|")[1].strip() for line in section.splitlines()
             if line.startswith("| ") and not line.startswith("| module")]
    modules = small_report.by_module(2)
    assert len(cells) == len(modules)
    for cell, r in zip(cells, modules.itertuples()):
        assert cell == "· " * r.depth + r.module


def _module_cells(html_text):
    """(padding-left in em, text) of the first cell of each by-module body row."""
    import re
    table = html_text[html_text.index("<h2>By module</h2>"):html_text.index("<h2>By kind</h2>")]
    out = []
    for row in re.findall(r"<tr><td([^>]*)>([^<]*)</td>", table):
        pad = re.search(r"padding-left:([\d.]+)em", row[0])
        out.append((float(pad.group(1)) if pad else 0.0, html.unescape(row[1])))
    return out


def test_html_shows_hierarchy_alignment_and_a_wide_bar_chart(small_report):
    import re
    text = small_report.to_html(max_depth=2)
    modules = small_report.by_module(2)
    cells = _module_cells(text)
    assert [c for _, c in cells] == list(modules["module"])
    by_depth = {}
    for (pad, _), depth in zip(cells, modules["depth"]):
        by_depth.setdefault(depth, set()).add(pad)
    assert len(by_depth) == 3 and all(len(v) == 1 for v in by_depth.values())  # one per level
    levels = [by_depth[d].pop() for d in sorted(by_depth)]
    assert levels == sorted(levels) and len(set(levels)) == len(levels)  # deeper, further in
    # the layer table's #, name and kind columns are text (left-aligned), the rest numbers
    layers = text[text.index("<h2>Layers</h2>"):]
    head = re.search(r"<thead><tr>(.*?)</tr></thead>", layers).group(1)
    assert re.findall(r'<th class="text">([^<]*)</th>', head) == ["#", "name", "kind"]
    assert "td.text,th.text{text-align:left}" in text
    sizes = [int(s) for s in re.findall(r"font-size:(\d+)px", text)]
    assert sizes and min(sizes) >= 13
    svg = re.search(r"<svg [^>]*class=\"cm-layer-bars\"[^>]*>", text).group(0)
    assert 'width="100%"' in svg and "viewBox" not in svg and 'font-size="13"' in svg
