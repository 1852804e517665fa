"""Cost formulas checked against independent truth.

Truth sources, none of which is costmodel's own output:

* ``torch.utils.flop_counter.FlopCounterMode`` running the real op on small CPU tensors (it reports
  2 flops per multiply-add, so ``madds == total / 2``; it ignores bias adds, as papers do);
* literal counting of the multiply-adds in naive Python loop implementations of convolution and
  transposed convolution (whose outputs are checked against PyTorch first, so the reference is
  known to compute the right thing);
* fvcore's ``FlopCountAnalysis(...).by_operator()`` (which counts one multiply-add as one flop)
  on whole zoo models;
* closed forms written out in the tests from the papers (ShuffleNetV2 G1/G2, MobileNets Eq. 5,
  dilated receptive field), evaluated on shapes PyTorch itself produced.
"""
import math
from fractions import Fraction

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

import costmodel
from costmodel import formulas as fm
from costmodel import handles
from costmodel.layers import ActiveShift, GroupedShift, SparseShift
from costmodel.zoo.common import SqueezeExcite
from costmodel.zoo.mixnet import MixConv2d

from conftest import SMALL_ZOO

FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def real_madds(module, *inputs):
    """Multiply-adds PyTorch's own flop counter sees when the op really runs (flops / 2)."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = module(*inputs)
    total = counter.get_total_flops()
    assert total % 2 == 0
    return total // 2, out


def shape_str(shape):
    return "x".join(str(int(d)) for d in shape)


# ---------------------------------------------------------------------------------------------
# strategies: random but always-valid convolution configurations (tiny shapes)
# ---------------------------------------------------------------------------------------------
@st.composite
def conv_configs(draw, nd, transposed=False):
    style = draw(st.sampled_from(["dense", "grouped", "depthwise"]))
    if style == "dense":
        groups, cin_per = 1, draw(st.integers(1, 4))
    elif style == "grouped":
        groups, cin_per = draw(st.integers(2, 3)), draw(st.integers(2, 3))
    else:  # depthwise: groups == C_in, optional channel multiplier below
        groups, cin_per = draw(st.integers(2, 4)), 1
    mult = draw(st.integers(1, 3))  # output channels per group (channel multiplier)
    c_in, c_out = groups * cin_per, groups * mult
    max_k = 3 if nd < 3 else 2
    k = tuple(draw(st.integers(1, max_k)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    p = tuple(draw(st.integers(0, 2)) for _ in range(nd))
    extra = tuple(draw(st.integers(0, 4 if nd < 3 else 2)) for _ in range(nd))
    if transposed:
        op = tuple(draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d))
        size = []
        for ki, si, di, pi, opi, e in zip(k, s, d, p, op, extra):
            h = 1 + e
            while (h - 1) * si - 2 * pi + di * (ki - 1) + opi + 1 < 1:
                h += 1
            size.append(h)
    else:
        op = None
        size = [max(1, di * (ki - 1) + 1 - 2 * pi) + e for ki, di, pi, e in zip(k, d, p, extra)]
    return dict(c_in=c_in, c_out=c_out, k=k, s=s, d=d, p=p, op=op, groups=groups,
                bias=draw(st.booleans()), n=draw(st.integers(1, 2)), size=tuple(size))


def _check_conv_module(module, cfg):
    x = torch.randn(cfg["n"], cfg["c_in"], *cfg["size"])
    truth, out = real_madds(module, x)
    report = costmodel.analyze(module, tuple(x.shape))
    layers = report.layers
    assert len(layers) == 1
    assert layers["out_shape"].iloc[0] == shape_str(out.shape)  # meta shapes == real shapes
    assert layers["madds"].sum() == truth
    assert report.total["madds"] == truth
    # params column: exactly the module's parameter elements
    assert report.total["params"] == sum(p.numel() for p in module.parameters())


CONV_TYPES = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}


@pytest.mark.parametrize("nd", [1, 2, 3])
@FAST
@given(data=st.data())
def test_conv_madds_match_flop_counter(nd, data):
    cfg = data.draw(conv_configs(nd))
    m = CONV_TYPES[nd](cfg["c_in"], cfg["c_out"], cfg["k"], cfg["s"], cfg["p"], cfg["d"],
                       cfg["groups"], bias=cfg["bias"])
    _check_conv_module(m, cfg)


@FAST
@given(cfg=conv_configs(2, transposed=True))
def test_conv_transpose2d_madds_match_flop_counter(cfg):
    m = nn.ConvTranspose2d(cfg["c_in"], cfg["c_out"], cfg["k"], cfg["s"], cfg["p"], cfg["op"],
                           cfg["groups"], bias=cfg["bias"], dilation=cfg["d"])
    _check_conv_module(m, cfg)


@settings(max_examples=25, deadline=None)
@given(cfg=conv_configs(2), mode=st.sampled_from(["reflect", "circular", "replicate"]))
def test_conv_with_non_zero_padding_mode(cfg, mode):
    """Non-zero padding modes pad explicitly and run the conv with padding 0: same madds."""
    if any(pi >= si for pi, si in zip(cfg["p"], cfg["size"])):
        cfg = dict(cfg, p=(0, 0), size=tuple(max(si, di * (ki - 1) + 1) for si, di, ki in
                                               zip(cfg["size"], cfg["d"], cfg["k"])))
    m = nn.Conv2d(cfg["c_in"], cfg["c_out"], cfg["k"], cfg["s"], cfg["p"], cfg["d"], cfg["groups"],
                  bias=cfg["bias"], padding_mode=mode)
    _check_conv_module(m, cfg)


@FAST
@given(n=st.integers(1, 3), t=st.integers(1, 4), fin=st.integers(1, 9), fout=st.integers(1, 9),
       bias=st.booleans(), three_d=st.booleans())
def test_linear_madds_match_flop_counter(n, t, fin, fout, bias, three_d):
    m = nn.Linear(fin, fout, bias=bias)
    x = torch.randn(n, t, fin) if three_d else torch.randn(n, fin)
    truth, out = real_madds(m, x)
    report = costmodel.analyze(m, tuple(x.shape))
    assert report.total["madds"] == truth == n * (t if three_d else 1) * fin * fout
    assert report.layers["out_shape"].iloc[0] == shape_str(out.shape)
    assert report.total["params"] == fin * fout + (fout if bias else 0)


class Functional(nn.Module):
    """F.conv2d / F.linear / torch.matmul / @ called in forward, no leaf modules at all."""

    def __init__(self, c_in, c_out, k, stride, padding, dilation, groups, feat_out, bias):
        super().__init__()
        self.cfg = (stride, padding, dilation, groups)
        self.w = nn.Parameter(torch.randn(c_out, c_in // groups, *k))
        self.b = nn.Parameter(torch.randn(c_out)) if bias else None
        self.feat_out = feat_out
        self.lw = None  # (feat_out, L): set by the test once L (output positions) is known
        self.lb = nn.Parameter(torch.randn(feat_out)) if bias else None

    def forward(self, x):
        stride, padding, dilation, groups = self.cfg
        y = F.conv2d(x, self.w, self.b, stride, padding, dilation, groups)
        y = y.flatten(2)  # N, C, L
        z = F.linear(y, self.lw, self.lb)  # N, C, F
        a = torch.matmul(z, z.transpose(1, 2))  # N, C, C
        return a @ y  # N, C, L


@settings(max_examples=30, deadline=None)
@given(cfg=conv_configs(2), feat_out=st.integers(1, 5))
def test_functional_conv_linear_matmul_match_flop_counter(cfg, feat_out):
    m = Functional(cfg["c_in"], cfg["c_out"], cfg["k"], cfg["s"], cfg["p"], cfg["d"],
                   cfg["groups"], feat_out, cfg["bias"])
    x = torch.randn(cfg["n"], cfg["c_in"], *cfg["size"])
    positions = F.conv2d(x, m.w, None, *m.cfg).flatten(2).shape[-1]
    m.lw = nn.Parameter(torch.randn(feat_out, positions))
    truth, out = real_madds(m, x)
    report = costmodel.analyze(m, tuple(x.shape))
    kinds = report.layers.set_index("op")["kind"]
    assert report.total["madds"] == truth
    assert "unsupported" not in set(report.layers["kind"])
    assert kinds["torch.conv2d"] == expected_conv_kind(cfg["c_in"], cfg["groups"], cfg["k"],
                                                       cfg["d"], False)
    assert report.total["params"] == sum(p.numel() for p in m.parameters())
    assert report.layers["params"].sum() == report.total["params"]  # F.* calls own the weights


# ---------------------------------------------------------------------------------------------
# brute force: literal multiply-add counts of naive loop implementations
# ---------------------------------------------------------------------------------------------
def naive_conv2d(x, w, stride, padding, dilation, groups):
    """Direct convolution by nested loops; returns (output, multiply-adds performed).

    Convention (same as the papers, fvcore and torch's flop counter): a kernel tap that lands in
    the zero padding still multiplies (a zero) and is counted as a multiply-add; every tap of the
    *padded* input inside the window is counted, none is skipped.
    """
    n, c_in, h, wd = x.shape
    c_out, cin_g, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xp = torch.zeros(n, c_in, h + 2 * ph, wd + 2 * pw, dtype=torch.float64)
    xp[:, :, ph:ph + h, pw:pw + wd] = x
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = torch.zeros(n, c_out, ho, wo, dtype=torch.float64)
    cout_g = c_out // groups
    count = 0
    xp_l, w_l = xp.tolist(), w.tolist()
    for b in range(n):
        for co in range(c_out):
            g = co // cout_g
            for oy in range(ho):
                for ox in range(wo):
                    acc = 0.0
                    for ci in range(cin_g):
                        for ky in range(kh):
                            for kx in range(kw):
                                iy, ix = oy * sh + ky * dh, ox * sw + kx * dw
                                assert 0 <= iy < h + 2 * ph and 0 <= ix < wd + 2 * pw
                                acc += xp_l[b][g * cin_g + ci][iy][ix] * w_l[co][ci][ky][kx]
                                count += 1
                    out[b, co, oy, ox] = acc
    return out, count


def naive_conv_transpose2d(x, w, stride, padding, output_padding, dilation, groups):
    """Transposed convolution as a scatter: every input element times every kernel tap is added
    into the (padded) output; returns (output, multiply-adds performed). Taps that land in the
    cropped border are still performed and counted (same convention as above)."""
    n, c_in, h, wd = x.shape
    _, cout_g, kh, kw = w.shape
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = stride, padding, output_padding, dilation
    full_h = (h - 1) * sh + dh * (kh - 1) + 1 + oph
    full_w = (wd - 1) * sw + dw * (kw - 1) + 1 + opw
    full = torch.zeros(n, cout_g * groups, full_h, full_w, dtype=torch.float64)
    cin_g = c_in // groups
    count = 0
    x_l, w_l = x.tolist(), w.tolist()
    acc = [[[[0.0] * full_w for _ in range(full_h)] for _ in range(cout_g * groups)]
           for _ in range(n)]
    for b in range(n):
        for ci in range(c_in):
            g = ci // cin_g
            for iy in range(h):
                for ix in range(wd):
                    v = x_l[b][ci][iy][ix]
                    for co in range(cout_g):
                        for ky in range(kh):
                            for kx in range(kw):
                                acc[b][g * cout_g + co][iy * sh + ky * dh][ix * sw + kx * dw] += \
                                    v * w_l[ci][co][ky][kx]
                                count += 1
    full[:] = torch.tensor(acc, dtype=torch.float64)
    return full[:, :, ph:full_h - ph, pw:full_w - pw], count


BRUTE_CASES = [
    # c_in, c_out, k, stride, padding, dilation, groups, size
    (3, 4, (3, 3), (1, 1), (1, 1), (1, 1), 1, (5, 6)),      # standard, zero padding counted
    (4, 4, (3, 3), (2, 2), (1, 1), (1, 1), 4, (7, 5)),      # depthwise, strided
    (3, 6, (3, 2), (1, 2), (2, 0), (2, 1), 3, (6, 7)),      # depthwise x2 multiplier, dilated
    (6, 4, (1, 1), (1, 1), (0, 0), (1, 1), 2, (4, 3)),      # grouped pointwise
    (4, 6, (2, 3), (2, 1), (0, 2), (1, 2), 2, (5, 5)),      # grouped, mixed everything
]


@pytest.mark.parametrize("c_in,c_out,k,stride,padding,dilation,groups,size", BRUTE_CASES)
def test_conv_madds_equal_literal_loop_count(c_in, c_out, k, stride, padding, dilation, groups,
                                             size):
    torch.manual_seed(0)
    m = nn.Conv2d(c_in, c_out, k, stride, padding, dilation, groups, bias=False).double()
    x = torch.randn(2, c_in, *size, dtype=torch.float64)
    ref, count = naive_conv2d(x, m.weight.detach(), stride, padding, dilation, groups)
    torch.testing.assert_close(ref, m(x).detach())  # the reference really is this convolution
    report = costmodel.analyze(m, tuple(x.shape), dtype=torch.float64)
    assert report.total["madds"] == count


@pytest.mark.parametrize("c_in,c_out,k,stride,padding,output_padding,dilation,groups,size", [
    (2, 3, (3, 3), (2, 2), (1, 1), (1, 1), (1, 1), 1, (3, 4)),
    (4, 4, (2, 3), (1, 2), (0, 1), (0, 1), (2, 1), 2, (3, 3)),
    (3, 6, (3, 1), (3, 1), (1, 0), (2, 0), (1, 1), 3, (2, 4)),
])
def test_conv_transpose_madds_equal_literal_loop_count(c_in, c_out, k, stride, padding,
                                                       output_padding, dilation, groups, size):
    torch.manual_seed(0)
    m = nn.ConvTranspose2d(c_in, c_out, k, stride, padding, output_padding, groups, bias=False,
                           dilation=dilation).double()
    x = torch.randn(1, c_in, *size, dtype=torch.float64)
    ref, count = naive_conv_transpose2d(x, m.weight.detach(), stride, padding, output_padding,
                                        dilation, groups)
    torch.testing.assert_close(ref, m(x).detach())
    report = costmodel.analyze(m, tuple(x.shape), dtype=torch.float64)
    assert report.total["madds"] == count


# ---------------------------------------------------------------------------------------------
# whole zoo models against fvcore
# ---------------------------------------------------------------------------------------------
FVCORE_MATMUL_OPS = {"conv", "linear", "addmm", "matmul", "bmm", "einsum", "mm"}


@pytest.mark.parametrize("name", SMALL_ZOO)
def test_zoo_conv_linear_madds_match_fvcore(name, zoo_model):
    """fvcore counts one multiply-add as one 'flop' for conv / linear / matmul (by_operator keys
    'conv' and 'linear' for these models; 'addmm', 'matmul', 'bmm', 'einsum' would appear for
    functional products).  Agreement is exact."""
    fvcore_nn = pytest.importorskip("fvcore.nn")
    model = zoo_model(name)
    x = torch.randn(1, 3, 64, 64)
    fca = fvcore_nn.FlopCountAnalysis(model, x)
    fca.unsupported_ops_warnings(False)
    fca.uncalled_modules_warnings(False)
    by_op = fca.by_operator()
    theirs = sum(v for k, v in by_op.items() if k in FVCORE_MATMUL_OPS)
    layers = costmodel.analyze(model, tuple(x.shape)).layers
    mm_kinds = {"conv", "group_conv", "depthwise_conv", "pointwise_conv", "dilated_conv",
                "transposed_conv", "linear", "matmul"}
    ours = int(layers.loc[layers["kind"].isin(mm_kinds), "madds"].sum())
    assert theirs > 0
    assert ours == theirs, (name, dict(by_op))
    # conv alone too (fvcore's 'conv' bucket covers every convolution)
    conv_ours = int(layers.loc[layers["kind"].str.endswith("conv"), "madds"].sum())
    assert conv_ours == by_op["conv"]
    # fvcore counts adaptive average pooling as one flop per input element, which is also
    # costmodel's flops convention for it (window-1 adds + 1 division per output)
    pools = layers["op"].str.contains("adaptive_avg_pool|AdaptiveAvgPool")
    if "adaptive_avg_pool2d" in by_op:
        assert int(layers.loc[pools, "flops"].sum()) == by_op["adaptive_avg_pool2d"]
    # fvcore's batch_norm entry is not compared: it counts 2 per element when affine, costmodel
    # folds inference BN into one multiply-add per element (formulas.batch_norm)


# ---------------------------------------------------------------------------------------------
# memory access cost (ShuffleNetV2, Ma et al. 2018, Sec. 2 G1/G2)
# ---------------------------------------------------------------------------------------------
def _pointwise_report(h, w, c1, c2, g=1):
    return costmodel.analyze(nn.Conv2d(c1, c2, 1, groups=g, bias=False), (1, c1, h, w))


@FAST
@given(h=st.integers(1, 12), w=st.integers(1, 12), c1=st.integers(1, 48), c2=st.integers(1, 48))
def test_pointwise_mac_is_shufflenet_v2_g1(h, w, c1, c2):
    r = _pointwise_report(h, w, c1, c2)
    assert r.total["mac"] == h * w * (c1 + c2) + c1 * c2
    assert r.total["madds"] == h * w * c1 * c2
    assert r.layers["kind"].iloc[0] == "pointwise_conv"


@FAST
@given(h=st.integers(1, 10), w=st.integers(1, 10), g=st.integers(2, 6), a=st.integers(1, 6),
       b=st.integers(1, 6))
def test_group_pointwise_mac_is_shufflenet_v2_g2(h, w, g, a, b):
    c1, c2 = g * a, g * b
    r = _pointwise_report(h, w, c1, c2, g)
    expected = h * w * (c1 + c2) + Fraction(c1 * c2, g)
    assert r.total["mac"] == expected
    assert fm.group_pointwise_mac(h, w, c1, c2, g) == expected


@FAST
@given(h=st.integers(1, 10), w=st.integers(1, 10), c1=st.integers(1, 40), c2=st.integers(1, 40))
def test_pointwise_mac_never_below_g1_bound(h, w, c1, c2):
    r = _pointwise_report(h, w, c1, c2)
    bound = fm.pointwise_mac_lower_bound(h, w, r.total["madds"])
    assert r.total["mac"] >= bound * (1 - 1e-12)
    if c1 == c2:
        assert math.isclose(r.total["mac"], bound, rel_tol=1e-12)
    else:
        assert r.total["mac"] > bound * (1 + 1e-15)


@pytest.mark.parametrize("h,w,product", [(4, 4, 36), (3, 5, 64), (7, 2, 144)])
def test_g1_bound_attained_only_at_equal_channels(h, w, product):
    """Same madds (c1 * c2 fixed), every factorization: MAC is minimal, and equal to the bound,
    exactly at c1 == c2."""
    macs = {}
    for c1 in range(1, product + 1):
        if product % c1 == 0:
            macs[c1] = _pointwise_report(h, w, c1, product // c1).total["mac"]
    root = math.isqrt(product)
    bound = fm.pointwise_mac_lower_bound(h, w, h * w * product)
    assert min(macs, key=macs.get) == root
    assert math.isclose(macs[root], bound, rel_tol=1e-12)
    assert all(m > bound for c1, m in macs.items() if c1 != root)


# ---------------------------------------------------------------------------------------------
# kinds
# ---------------------------------------------------------------------------------------------
def expected_conv_kind(c_in, groups, kernel, dilation, transposed):
    """handles.conv_kind's documented rule, restated: first match wins in this order."""
    if transposed:
        return "transposed_conv"
    if groups > 1 and groups == c_in:
        return "depthwise_conv"
    if groups > 1:
        return "group_conv"
    if max(dilation) > 1:
        return "dilated_conv"
    if max(kernel) == 1:
        return "pointwise_conv"
    return "conv"


@pytest.mark.parametrize("module,kind", [
    (nn.Conv2d(8, 16, 3, padding=1), "conv"),
    (nn.Conv2d(8, 16, 1), "pointwise_conv"),
    (nn.Conv2d(8, 16, (1, 1), stride=2), "pointwise_conv"),
    (nn.Conv2d(8, 8, 3, padding=1, groups=8), "depthwise_conv"),
    (nn.Conv2d(8, 16, 3, padding=1, groups=8), "depthwise_conv"),  # channel multiplier 2
    (nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=8), "depthwise_conv"),
    (nn.Conv2d(8, 16, 3, padding=1, groups=4), "group_conv"),
    (nn.Conv2d(8, 16, 1, groups=2), "group_conv"),
    (nn.Conv2d(8, 16, 3, padding=2, dilation=2), "dilated_conv"),
    (nn.Conv2d(8, 16, 3, padding=(1, 2), dilation=(1, 2)), "dilated_conv"),
    (nn.Conv2d(8, 16, (1, 3), padding=(0, 1)), "conv"),
    (nn.ConvTranspose2d(8, 16, 2, stride=2), "transposed_conv"),
    (nn.ConvTranspose2d(8, 8, 3, groups=8), "transposed_conv"),
    (nn.Conv1d(8, 8, 5, groups=8), "depthwise_conv"),
    (nn.Conv3d(4, 4, 1), "pointwise_conv"),
])
def test_conv_kinds(module, kind):
    x_shape = (1, module.in_channels) + (9,) * (module.weight.dim() - 2)
    row = costmodel.analyze(module, x_shape).layers.iloc[0]
    assert row["kind"] == kind
    assert kind == expected_conv_kind(module.in_channels, module.groups, module.kernel_size,
                                      module.dilation, module.transposed)
    assert row["groups"] == module.groups
    assert row["kernel"] == "x".join(map(str, module.kernel_size))
    assert row["stride"] == "x".join(map(str, module.stride))
    assert row["dilation"] == "x".join(map(str, module.dilation))


@settings(max_examples=60, deadline=None)
@given(cfg=conv_configs(2), transposed=st.booleans())
def test_conv_kind_rule(cfg, transposed):
    got = handles.conv_kind(cfg["c_in"], cfg["groups"], cfg["k"], cfg["d"], transposed)
    assert got == expected_conv_kind(cfg["c_in"], cfg["groups"], cfg["k"], cfg["d"], transposed)


def test_functional_conv_transpose_positional_geometry():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(8, 2, 3, 3))  # C_in 8, C_out/g 2, groups 4

        def forward(self, x):
            # stride 2, padding 1, output_padding 1, groups 4, dilation 1 (all positional)
            return F.conv_transpose2d(x, self.w, None, 2, 1, 1, 4, 1)

    x = torch.randn(1, 8, 5, 5)
    row = costmodel.analyze(M(), tuple(x.shape)).layers.iloc[0]
    assert row["out_shape"] == shape_str(M()(x).shape)
    assert (row["groups"], row["dilation"], row["stride"]) == (4, "1x1", "2x2")


def _shifted_grouped(channels, k):
    """GroupedShift's documented split: K^2 near-equal groups, the first C % K^2 one larger;
    the centre group (index K^2 // 2) is not shifted."""
    base, extra = divmod(channels, k * k)
    centre = k * k // 2
    return channels - (base + (1 if centre < extra else 0))


@pytest.mark.parametrize("channels,k,dilation", [(9, 3, 1), (20, 3, 1), (20, 5, 2), (4, 3, 1),
                                                 (50, 7, 1)])
def test_grouped_shift_kind_and_mac(channels, k, dilation):
    n, h, w = 2, 5, 6
    r = costmodel.analyze(GroupedShift(channels, k, dilation), (n, channels, h, w))
    assert list(r.layers["kind"]) == ["shift"]
    assert r.total["params"] == 0 and r.total["madds"] == 0 and r.total["flops"] == 0
    assert r.total["mac"] == 2 * n * h * w * _shifted_grouped(channels, k)


@pytest.mark.parametrize("channels,shifted", [(20, None), (20, 7), (8, 8), (10, 0)])
def test_sparse_shift_kind_and_mac(channels, shifted):
    n, h, w = 1, 4, 7
    r = costmodel.analyze(SparseShift(channels, 3, shifted), (n, channels, h, w))
    moved = round(0.10 * channels) if shifted is None else shifted  # documented 10% default
    assert list(r.layers["kind"]) == ["shift"]
    assert r.total["params"] == 0 and r.total["madds"] == 0
    assert r.total["mac"] == 2 * n * h * w * moved


def test_active_shift_kind_and_mac():
    n, c, h, w = 2, 6, 5, 4
    r = costmodel.analyze(ActiveShift(c), (n, c, h, w))
    assert list(r.layers["kind"]) == ["shift"]
    x = n * c * h * w
    # bilinear: 4 taps per output; params: one (dy, dx) per channel
    assert r.total["params"] == 2 * c == sum(p.numel() for p in ActiveShift(c).parameters())
    assert r.total["madds"] == 4 * x
    assert r.total["mac"] == 2 * x + 2 * c


# ---------------------------------------------------------------------------------------------
# composite closed forms == traced sums
# ---------------------------------------------------------------------------------------------
@FAST
@given(n=st.integers(1, 2), c=st.integers(1, 24), r=st.integers(1, 8), h=st.integers(1, 7),
       w=st.integers(1, 7))
def test_squeeze_excite_closed_form_equals_traced_block(n, c, r, h, w):
    block = SqueezeExcite(c, r)
    rep = costmodel.analyze(block, (n, c, h, w))
    closed = fm.squeeze_excite(n, c, r, h, w)
    traced = {k: rep.total[k] for k in ("params", "madds", "flops", "mac")}
    assert traced == {"params": closed.params, "madds": closed.madds, "flops": closed.flops,
                      "mac": closed.mac}
    # independent of both: SE params and madds from the paper's closed form
    assert closed.params == 2 * c * r + r + c == sum(p.numel() for p in block.parameters())
    assert closed.madds == 2 * n * c * r
    # MAC written out op by op (read inputs + weights, write outputs; ShuffleNetV2's MAC):
    # pool NCHW + NC, reduce NC + (Cr C + Cr) + N Cr, act 2 N Cr, expand N Cr + (C Cr + C) + NC,
    # gate 2 NC, multiply NCHW + NC + NCHW
    x = n * c * h * w
    assert rep.total["mac"] == 3 * x + 2 * c * r + r + c + 6 * n * c + 4 * n * r


@FAST
@given(n=st.integers(1, 2), groups=st.integers(2, 4), per=st.integers(1, 4),
       h=st.integers(1, 9), w=st.integers(1, 9), stride=st.integers(1, 2),
       data=st.data())
def test_mixconv_closed_form_equals_traced_module(n, groups, per, h, w, stride, data):
    kernels = data.draw(st.lists(st.sampled_from([1, 3, 5, 7, 9]), min_size=groups,
                                 max_size=groups))
    c = groups * per + data.draw(st.integers(0, groups - 1))
    module = MixConv2d(c, c, kernels, stride)
    rep = costmodel.analyze(module, (n, c, h, w))
    splits = module.splits
    closed = fm.mixconv(n, splits, kernels, h, w, stride)
    assert {k: rep.total[k] for k in ("params", "madds", "flops", "mac")} == {
        "params": closed.params, "madds": closed.madds, "flops": closed.flops, "mac": closed.mac}
    # the paper's closed form, written out independently
    ho, wo = (h - 1) // stride + 1, (w - 1) // stride + 1
    assert closed.madds == n * ho * wo * sum(ci * k * k for ci, k in zip(splits, kernels))
    assert closed.params == sum(ci * k * k for ci, k in zip(splits, kernels))
    assert rep.total["params"] == sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("n,c,h,w,k", [(1, 3, 8, 8, 4), (2, 2, 6, 9, 3), (1, 1, 5, 5, 5)])
def test_adaptive_avg_pool_matches_equivalent_fixed_pool(n, c, h, w, k):
    """An adaptive pool whose windows tile the input exactly is the fixed KxK average pool:
    same flops and MAC (|x| + |y|), and pools have no multiply-adds."""
    adaptive = costmodel.analyze(nn.AdaptiveAvgPool2d((h // k, w // k)), (n, c, h // k * k,
                                                                            w // k * k))
    fixed = costmodel.analyze(nn.AvgPool2d(k), (n, c, h // k * k, w // k * k))
    out = n * c * (h // k) * (w // k)
    assert adaptive.total["mac"] == fixed.total["mac"] == n * c * (h // k * k) * (w // k * k) + out
    assert adaptive.total["flops"] == fixed.total["flops"]
    assert adaptive.total["madds"] == fixed.total["madds"] == 0


@pytest.mark.parametrize("k,r", [(3, 1), (3, 2), (3, 4), (5, 3), (2, 5), (1, 7)])
def test_effective_kernel_matches_dilated_conv_geometry(k, r):
    """With padding 0 and stride 1, H_out = H - K_eff + 1, so K_eff = H - H_out + 1 from the
    traced output shape; the madds are those of a dense K x K kernel, not K_eff x K_eff."""
    h = 40
    conv = nn.Conv2d(2, 3, k, dilation=r, bias=False)
    row = costmodel.analyze(conv, (1, 2, h, h)).layers.iloc[0]
    h_out = int(row["out_shape"].split("x")[2])
    assert fm.effective_kernel(k, r) == h - h_out + 1
    assert row["madds"] == h_out * h_out * 3 * 2 * k * k


@pytest.mark.parametrize("m_in,n_out,k", [(8, 16, 3), (16, 32, 5), (3, 7, 3), (32, 64, 7)])
def test_separable_ratio_matches_traced_madds(m_in, n_out, k):
    """MobileNets Eq. 5: depthwise KxK + pointwise, over a standard KxK conv, = 1/N + 1/K^2."""
    shape = (1, m_in, 12, 12)
    sep = nn.Sequential(nn.Conv2d(m_in, m_in, k, padding=k // 2, groups=m_in, bias=False),
                        nn.Conv2d(m_in, n_out, 1, bias=False))
    std = nn.Conv2d(m_in, n_out, k, padding=k // 2, bias=False)
    sep_madds = costmodel.analyze(sep, shape).total["madds"]
    std_madds = costmodel.analyze(std, shape).total["madds"]
    ratio = Fraction(sep_madds, std_madds)
    assert ratio == Fraction(1, n_out) + Fraction(1, k * k)
    assert math.isclose(fm.separable_ratio(n_out, k), float(ratio), rel_tol=1e-12)


# ---------------------------------------------------------------------------------------------
# einsum: multiply-adds against torch's flop counter (which sees the bmm calls einsum makes)
# ---------------------------------------------------------------------------------------------
class Einsum(nn.Module):
    def __init__(self, equation, as_list=False):
        super().__init__()
        self.equation, self.as_list = equation, as_list

    def forward(self, *xs):
        return torch.einsum(self.equation, list(xs)) if self.as_list else \
            torch.einsum(self.equation, *xs)


@pytest.mark.parametrize("equation,shapes", [
    ("bchw,bdhw->bcd", [(2, 8, 4, 4), (2, 6, 4, 4)]),   # a Gram matrix, as in attention blocks
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij,jk", [(3, 4), (4, 5)]),                        # implicit output
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,...jk->...ik", [(2, 5, 3, 4), (5, 4, 6)]),  # broadcast batch dimensions
    ("i,i->", [(7,), (7,)]),
    ("ij,jk,kl->il", [(3, 40), (40, 50), (50, 2)]),     # left to right: 3*40*50 + 3*50*2
    ("nchw,oc->nohw", [(1, 6, 5, 5), (4, 6)]),          # a 1x1 convolution written as einsum
])
@pytest.mark.parametrize("as_list", [False, True])
def test_einsum_madds_match_flop_counter(equation, shapes, as_list):
    xs = [torch.randn(s) for s in shapes]
    m = Einsum(equation, as_list)
    truth, out = real_madds(m, *xs)
    report = costmodel.analyze(m, [tuple(s) for s in shapes])
    assert list(report.layers["kind"]) == ["matmul"]
    assert report.total["madds"] == truth
    if out.dim():
        assert report.layers["out_shape"].iloc[0] == shape_str(out.shape)


@pytest.mark.parametrize("equation,shapes,adds,muls", [
    ("bij->bj", [(2, 3, 4)], 2 * 3 * 4 - 2 * 4, 0),    # a reduction: |x| - |y| additions
    ("ii->i", [(4, 4)], 0, 0),                         # a diagonal: no arithmetic
    ("ij,ij->ij", [(3, 4), (3, 4)], 0, 12),            # an element-wise product
    ("i,j->ij", [(3,), (5,)], 0, 15),                  # an outer product
])
def test_einsum_without_contraction_counts_plain_flops(equation, shapes, adds, muls):
    xs = [torch.randn(s) for s in shapes]
    assert real_madds(Einsum(equation), *xs)[0] == 0  # torch's counter sees no matmul either
    cost = fm.einsum(equation, shapes)
    assert cost.madds == 0 and cost.flops == adds + muls


def test_einsum_rejects_mismatched_terms():
    with pytest.raises(ValueError, match="does not match shape"):
        fm.einsum("ij,jk->ik", [(3, 4), (4, 5, 6)])
    with pytest.raises(ValueError, match="2 terms for 1 operands"):
        fm.einsum("ij,jk->ik", [(3, 4)])
