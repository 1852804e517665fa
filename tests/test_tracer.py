"""The meta-tensor tracer: data-flow edges on networks whose structure is known by construction,
naming, in-place ops, memory (nothing is computed), and errors."""
import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.fx
import torch.nn as nn

import costmodel
from costmodel.tracer import MODEL_INPUT


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def by_name(report):
    """name -> layer row (a dict) and name -> OpRecord."""
    rows = {r["name"]: r for r in report.layers.to_dict("records")}
    recs = {rec.name: rec for rec in report.graph.ops}
    return rows, recs


def idx(recs, name):
    return recs[name].index


# ---------------------------------------------------------------------------------------------
# residual block
# ---------------------------------------------------------------------------------------------
class Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + x)  # the same ReLU module, called a second time


class StemResidual(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.block = Residual(8)

    def forward(self, x):
        return self.block(self.stem(x))


def test_residual_block_edges():
    shape = (2, 3, 6, 5)
    rep = costmodel.analyze(StemResidual(), shape)
    rows, recs = by_name(rep)
    assert list(recs) == ["stem", "block.conv1", "block.bn1", "block.relu", "block.conv2",
                          "block.bn2", "block.add", "block.relu:2"]
    chain = [("stem", [MODEL_INPUT]), ("block.conv1", ["stem"]), ("block.bn1", ["block.conv1"]),
             ("block.relu", ["block.bn1"]), ("block.conv2", ["block.relu"]),
             ("block.bn2", ["block.conv2"]),
             # the residual add: branch output and block input
             ("block.add", ["block.bn2", "stem"]),
             ("block.relu:2", ["block.add"])]
    for name, parents in chain:
        want = [p if p == MODEL_INPUT else idx(recs, p) for p in parents]
        assert recs[name].parents == want, name
    assert rep.graph.output_parents == [idx(recs, "block.relu:2")]
    children = rep.graph.children()
    assert sorted(children[idx(recs, "stem")]) == [idx(recs, "block.conv1"), idx(recs, "block.add")]
    # the add reads two tensors and writes one
    n = numel((2, 8, 6, 5))
    assert rows["block.add"]["kind"] == "elementwise"
    assert rows["block.add"]["mac"] == 3 * n
    assert rows["block.add"]["flops"] == n
    assert recs["block.add"].scope == "block"


# ---------------------------------------------------------------------------------------------
# ShuffleNetV2-style unit
# ---------------------------------------------------------------------------------------------
class ShuffleUnit(nn.Module):
    """ShuffleNetV2 basic unit (Ma et al. 2018, Fig. 3c): channel split, branch, concat,
    channel shuffle written out as view -> transpose -> contiguous -> view."""

    def __init__(self, c):
        super().__init__()
        h = c // 2
        self.stem = nn.Conv2d(3, c, 1, bias=False)
        self.branch = nn.Sequential(
            nn.Conv2d(h, h, 1, bias=False), nn.BatchNorm2d(h), nn.ReLU(inplace=True),
            nn.Conv2d(h, h, 3, padding=1, groups=h, bias=False), nn.BatchNorm2d(h),
            nn.Conv2d(h, h, 1, bias=False), nn.BatchNorm2d(h), nn.ReLU(inplace=True))

    def forward(self, x):
        x = self.stem(x)
        a, b = x.chunk(2, dim=1)
        out = torch.cat((a, self.branch(b)), dim=1)
        n, c, h, w = out.shape
        out = out.view(n, 2, c // 2, h, w)
        out = torch.transpose(out, 1, 2).contiguous()
        return out.view(n, c, h, w)


def test_shufflenet_v2_unit_edges_and_mac():
    n, c, h, w = 1, 8, 5, 4
    rep = costmodel.analyze(ShuffleUnit(c), (n, 3, h, w))
    rows, recs = by_name(rep)
    names = list(recs)
    assert names == ["stem", "chunk", "branch.0", "branch.1", "branch.2", "branch.3", "branch.4",
                     "branch.5", "branch.6", "branch.7", "cat", "view", "transpose",
                     "contiguous", "view:2"]
    assert recs["chunk"].parents == [idx(recs, "stem")]
    assert recs["branch.0"].parents == [idx(recs, "chunk")]
    # concat of the untouched half (straight from the split) and the branch output
    assert recs["cat"].parents == [idx(recs, "chunk"), idx(recs, "branch.7")]
    assert recs["view"].parents == [idx(recs, "cat")]
    assert recs["transpose"].parents == [idx(recs, "view")]
    assert recs["contiguous"].parents == [idx(recs, "transpose")]
    assert recs["view:2"].parents == [idx(recs, "contiguous")]
    assert rep.graph.output_parents == [idx(recs, "view:2")]
    full = n * c * h * w
    assert rows["chunk"]["kind"] == "split" and rows["chunk"]["mac"] == 0
    for view in ("view", "transpose", "view:2"):
        assert rows[view]["kind"] == "view" and rows[view]["mac"] == 0, view
    assert rows["contiguous"]["kind"] == "shuffle"
    assert rows["contiguous"]["mac"] == 2 * full
    assert rows["cat"]["kind"] == "concat"
    assert rows["cat"]["mac"] == 2 * full
    assert rows["cat"]["in_shape"] == "1x4x5x4 1x4x5x4"
    assert rows["branch.3"]["kind"] == "depthwise_conv"
    assert recs["branch.2"].inplace and recs["branch.7"].inplace


@pytest.mark.parametrize("make", [
    lambda x: x.view(x.shape[0], -1), lambda x: x.reshape(x.shape[0], -1),
    lambda x: x.flatten(1), lambda x: x.transpose(2, 3), lambda x: x.permute(0, 2, 3, 1),
    lambda x: x.unsqueeze(0), lambda x: x[:, 1:3], lambda x: x[:, :, ::2],
    lambda x: torch.split(x, 2, dim=1)[0], lambda x: x.contiguous(),
    lambda x: x.expand(3, -1, -1, -1), lambda x: x.narrow(1, 0, 2),
], ids=["view", "reshape", "flatten", "transpose", "permute", "unsqueeze", "slice",
        "strided_slice", "split", "contiguous_noop", "expand", "narrow"])
def test_views_cost_nothing(make):
    class M(nn.Module):
        def forward(self, x):
            return make(x)

    rep = costmodel.analyze(M(), (1, 4, 6, 6))
    assert len(rep.layers) >= 1
    assert rep.total["mac"] == 0 and rep.total["flops"] == 0 and rep.total["madds"] == 0
    assert set(rep.layers["kind"]) <= {"view", "split"}


@pytest.mark.parametrize("make", [
    lambda x: x.transpose(1, 2).contiguous(), lambda x: x.permute(0, 2, 3, 1).contiguous(),
    lambda x: x.transpose(1, 3).reshape(-1),
], ids=["transpose_contiguous", "permute_contiguous", "transpose_reshape"])
def test_materializing_a_permuted_layout_is_a_shuffle(make):
    shape = (2, 4, 3, 5)

    class M(nn.Module):
        def forward(self, x):
            return make(x)

    rep = costmodel.analyze(M(), shape)
    rows = rep.layers.to_dict("records")
    assert [r["kind"] for r in rows] == ["view", "shuffle"]
    assert rows[0]["mac"] == 0
    assert rows[1]["mac"] == 2 * numel(shape)


def test_cat_mac_is_twice_output():
    class M(nn.Module):
        def forward(self, x):
            return torch.cat([x, x * 2, x[:, :1]], dim=1)

    shape = (2, 3, 4, 5)
    rows, _ = by_name(costmodel.analyze(M(), shape))
    out = numel((2, 7, 4, 5))
    assert rows["cat"]["mac"] == 2 * out
    assert rows["cat"]["kind"] == "concat"


# ---------------------------------------------------------------------------------------------
# MixConv-style Python loop over torch.split, where torch.fx fails
# ---------------------------------------------------------------------------------------------
class LoopMix(nn.Module):
    """Split sizes computed from x.shape at run time, a Python loop over the pieces."""

    def __init__(self, c, kernels=(3, 5, 7)):
        super().__init__()
        self.kernels = kernels
        sizes = self.sizes(c)
        self.convs = nn.ModuleList(nn.Conv2d(ci, ci, k, padding=k // 2, groups=ci, bias=False)
                                   for ci, k in zip(sizes, kernels))

    def sizes(self, c):
        g = len(self.kernels)
        s = [c // g] * g
        s[0] += c - sum(s)
        return s

    def forward(self, x):
        pieces = torch.split(x, self.sizes(x.shape[1]), dim=1)
        outs = []
        for conv, p in zip(self.convs, pieces):
            outs.append(conv(p))
        return torch.cat(outs, dim=1)


def test_mixconv_loop_traces_where_fx_fails():
    model = LoopMix(14)
    with pytest.raises(Exception):
        torch.fx.symbolic_trace(model)
    rep = costmodel.analyze(model, (2, 14, 7, 6))
    rows, recs = by_name(rep)
    assert list(recs) == ["split", "convs.0", "convs.1", "convs.2", "cat"]
    assert recs["split"].parents == [MODEL_INPUT]
    assert rows["split"]["out_shape"] == "2x6x7x6 2x4x7x6 2x4x7x6"
    assert rows["split"]["mac"] == 0
    for i, (ci, k) in enumerate(zip([6, 4, 4], [3, 5, 7])):
        row = rows[f"convs.{i}"]
        assert recs[f"convs.{i}"].parents == [idx(recs, "split")]
        assert row["in_shape"] == f"2x{ci}x7x6"
        assert row["kernel"] == f"{k}x{k}"
        assert row["kind"] == "depthwise_conv"
        assert row["madds"] == 2 * 7 * 6 * ci * k * k
    assert recs["cat"].parents == [idx(recs, f"convs.{i}") for i in range(3)]
    assert rows["cat"]["mac"] == 2 * numel((2, 14, 7, 6))
    real = model(torch.randn(2, 14, 7, 6))
    assert rep.graph.outputs[0].shape == tuple(real.shape)


# ---------------------------------------------------------------------------------------------
# in-place ops
# ---------------------------------------------------------------------------------------------
class InPlace(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(4, 4, 1)
        self.b = nn.Conv2d(4, 4, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.c = nn.Conv2d(4, 2, 1)

    def forward(self, x):
        y = self.a(x)
        y += self.b(x)
        y = self.relu(y)
        x2 = x.clone()
        x2 *= 2
        return self.c(y) + x2[:, :2]


def test_inplace_ops_keep_the_data_flow():
    shape = (1, 4, 5, 5)
    rep = costmodel.analyze(InPlace(), shape)
    rows, recs = by_name(rep)
    add = next(r for r in rep.graph.ops if r.op.endswith("add_"))
    assert add.inplace
    assert add.parents == [idx(recs, "a"), idx(recs, "b")]
    assert rows[add.name]["kind"] == "elementwise"
    assert rows[add.name]["mac"] == 3 * numel(shape)
    assert recs["relu"].parents == [add.index]  # the in-place add is the tensor's new producer
    assert recs["relu"].inplace
    assert recs["c"].parents == [idx(recs, "relu")]
    mul = next(r for r in rep.graph.ops if r.op.endswith("mul_"))
    assert mul.inplace
    clone = next(r for r in rep.graph.ops if r.op.endswith("clone"))
    assert clone.parents == [MODEL_INPUT]
    assert mul.parents == [clone.index]
    last = rep.graph.ops[-1]
    getitem = recs["getitem"]  # x2[:, :2] (op Tensor.__getitem__)
    assert getitem.parents == [mul.index]
    assert sorted(last.parents) == sorted([idx(recs, "c"), getitem.index])


# ---------------------------------------------------------------------------------------------
# names: modules called twice, shared modules, stability
# ---------------------------------------------------------------------------------------------
class Twice(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.other = self.conv  # a second attribute pointing at the same module

    def forward(self, x):
        return self.other(self.conv(self.conv(x)))


def test_module_called_twice_names_and_cost():
    shape = (1, 4, 6, 6)
    rep = costmodel.analyze(Twice(), shape)
    rows, recs = by_name(rep)
    assert list(recs) == ["conv", "conv:2", "conv:3"]
    assert recs["conv:2"].parents == [idx(recs, "conv")]
    assert recs["conv:3"].parents == [idx(recs, "conv:2")]
    once = 6 * 6 * 4 * 4 * 9
    assert list(rep.layers["madds"]) == [once] * 3
    assert rep.total["params"] == 4 * 4 * 9 + 4  # counted once
    assert list(rep.layers["params"]) == [4 * 4 * 9 + 4, 0, 0]  # at first use


def test_tied_parameters_counted_once():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Linear(6, 6, bias=False)
            self.dec = nn.Linear(6, 6, bias=True)
            self.dec.weight = self.enc.weight

        def forward(self, x):
            return self.dec(self.enc(x))

    model = Tied()
    rep = costmodel.analyze(model, (3, 6))
    assert rep.total["params"] == 36 + 6 == sum(p.numel() for p in model.parameters())
    assert rep.total["madds"] == 2 * 3 * 36
    assert rep.layers["params"].sum() == rep.total["params"]


def test_names_are_stable_across_traces():
    a = costmodel.analyze(StemResidual(), (1, 3, 8, 8))
    b = costmodel.analyze(StemResidual(), (1, 3, 8, 8))
    c = costmodel.analyze(costmodel.zoo.create("shufflenet_v2_x0_5"), (1, 3, 32, 32))
    d = costmodel.analyze(costmodel.zoo.create("shufflenet_v2_x0_5"), (1, 3, 32, 32))
    assert list(a.layers["name"]) == list(b.layers["name"])
    assert list(c.layers["name"]) == list(d.layers["name"])
    assert c.layers["name"].is_unique


def test_trace_restores_mode_and_leaves_no_hooks():
    model = StemResidual().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    costmodel.analyze(model, (2, 3, 8, 8))
    assert all(m.training for m in model.modules())
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN statistics untouched
    assert all(p.device.type == "cpu" for p in model.parameters())


# ---------------------------------------------------------------------------------------------
# nothing is computed: no activation memory
# ---------------------------------------------------------------------------------------------
_MEMORY_SCRIPT = textwrap.dedent("""
    import json, resource, time, torch, costmodel
    torch.set_num_threads(1)
    model = costmodel.zoo.create("vgg16")
    costmodel.analyze(model, (1, 3, 32, 32))  # warm up imports and lazy initialisation
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # peak so far, KiB
    t0 = time.perf_counter()
    report = costmodel.analyze(model, (1, 3, 1024, 1024))
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    acts = sum(int(r.outputs[0].numel) for r in report.graph.ops) * 4
    # an eager forward needs at least one op's input and output alive at the same time
    live = max(sum(t.numel for t in r.inputs) + r.outputs[0].numel for r in report.graph.ops) * 4
    print(json.dumps({"growth_mb": (peak - base) / 1024, "seconds": seconds,
                      "activation_mb": acts / 2**20, "min_live_mb": live / 2**20,
                      "madds": report.total["madds"]}))
""")


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB is Linux's convention")
def test_vgg16_at_1024_allocates_no_activations():
    """In a fresh process (so the peak-RSS high-water mark is this test's alone): analyzing
    VGG-16 at 1024x1024 must not grow peak RSS by anything near the activations' size."""
    out = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    # fp32 activations had they existed: > 2 GB in all, and an eager run keeps at least 512 MiB
    # live at once (conv1_2 reads and writes 64 x 1024 x 1024 maps of 256 MiB each)
    assert res["activation_mb"] > 2000 and res["min_live_mb"] >= 512, res
    assert res["growth_mb"] < 300, res
    assert res["seconds"] < 10, res
    # VGG-16's ~15.3G conv multiply-adds at 224^2 scale by (1024/224)^2 ~ 20.9: ~320G
    assert 3.0e11 < res["madds"] < 3.4e11


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("thing", ["resnet", lambda x: x, nn.Conv2d, None, 3])
def test_non_module_is_a_type_error(thing):
    with pytest.raises(TypeError) as info:
        costmodel.analyze(thing, (1, 3, 8, 8))
    msg = str(info.value)
    assert "nn.Module" in msg
    assert type(thing).__name__ in msg


@pytest.mark.parametrize("shape", ["abc", "", "1x3x-4x4", "1x0x8x8", "1.5x3x8x8", "x",
                                   "1;3;8;8", (1, 3, 0, 8), (1, 3, -2, 8), (1, 3.5, 8, 8), [],
                                   None, 7, (1, True, 8, 8), ("a", "b")])
def test_bad_shapes_raise_shape_error(shape):
    with pytest.raises(costmodel.ShapeError):
        costmodel.analyze(nn.Conv2d(3, 3, 1), shape)


@pytest.mark.parametrize("shape,expected", [("1x3x8x8", (1, 3, 8, 8)), ("1,3,8,8", (1, 3, 8, 8)),
                                            (" 2 x 3 x 4 x 5 ", (2, 3, 4, 5)),
                                            ([1, 3, 8, 8], (1, 3, 8, 8))])
def test_good_shapes_parse(shape, expected):
    assert costmodel.parse_shape(shape) == expected


def test_superscript_digit_shape_is_a_shape_error():
    with pytest.raises(costmodel.ShapeError):
        costmodel.parse_shape("1x3x\u00b2x8")


class Body(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU())
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(10, 2))  # wrong in_features

    def forward(self, x):
        return self.head(self.features(x))


class BadView(nn.Module):
    def forward(self, x):
        return x.view(-1, 7)


class Outer(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 6, 1)
        self.blocks = nn.Sequential(nn.Identity(), BadView())

    def forward(self, x):
        return self.blocks(self.stem(x))


@pytest.mark.parametrize("model,path,cls", [(Body(), "head.1", "Linear"),
                                            (Outer(), "blocks.1", "BadView")])
def test_failing_forward_names_the_layer(model, path, cls):
    model.train()
    with pytest.raises(costmodel.TraceError) as info:
        costmodel.analyze(model, (1, 3, 8, 8))
    msg = str(info.value)
    assert f"'{path}'" in msg and cls in msg
    assert "1, 3, 8, 8" in msg
    assert info.value.__cause__ is not None
    # the failed trace leaves the model as it was
    assert all(m.training for m in model.modules())
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


@pytest.mark.parametrize("value", ["a string", None, 3, ["x", "y"], {"k": 1.0}])
def test_non_tensor_output_is_a_trace_error(value):
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 1)

        def forward(self, x):
            self.conv(x)
            return value

    with pytest.raises(costmodel.TraceError, match="tensor"):
        costmodel.analyze(M(), (1, 3, 4, 4))


def test_trace_with_custom_leaf_predicate():
    """costmodel.trace on its own: default leaves are modules without children; a predicate
    can make a whole block one op (and then the stem, no longer a leaf, shows its F.conv2d)."""
    model = StemResidual()
    g = costmodel.trace(model, torch.empty(1, 3, 4, 4))
    assert [r.name for r in g.ops][:2] == ["stem", "block.conv1"]
    g2 = costmodel.trace(model, torch.empty(1, 3, 4, 4), is_leaf=lambda m: isinstance(m, Residual))
    assert [r.name for r in g2.ops] == ["stem.conv2d", "block"]
    assert g2.ops[0].params == {"stem.weight": (8, 3, 3, 3), "stem.bias": (8,)}
    assert g2.ops[0].new_params == 8 * 3 * 9 + 8
    assert g2.ops[1].parents == [0]
    assert g2.ops[1].new_params == sum(p.numel() for p in model.block.parameters())


def test_leaf_module_called_with_keyword_tensor():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 1)

        def forward(self, x):
            return self.conv(input=x)

    rep = costmodel.analyze(M(), (1, 3, 4, 4))
    assert rep.total["madds"] == 16 * 3 * 4
    assert rep.graph.ops[0].parents == [MODEL_INPUT]


@pytest.mark.parametrize("prop", ["mT", "T"])
def test_tensor_property_keeps_the_edge(prop):
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(getattr(self.fc(x), prop))

    rep = costmodel.analyze(M(), (4, 4))
    first = rep.graph.ops[0]
    last = rep.graph.ops[-1]
    assert last.name == "fc:2"
    assert first.index in last.parents or any(
        r.parents == [first.index] and last.parents == [r.index] for r in rep.graph.ops)
