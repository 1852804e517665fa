"""Calibration networks from many families: the op mix and contexts real CNNs have.

The first calibration space (:mod:`costmodel.latency.space`) drew ShuffleNetV2-like and
MobileNetV2-like networks only; a predictor fitted there over-predicted dense networks by up to
37% and under-predicted others by 20%, because what an op costs *inside* a network (cache state,
the op before it, fresh output memory) differs between families.  This space draws from sixteen:

=================  =============================================================================
``resnet``         dense residual stages of 3x3-3x3 basic blocks (ResNet-18/34-like)
``bottleneck``     1x1-3x3-1x1 bottlenecks, optionally grouped (ResNeXt: a group count; RegNet-like
                   from version 4: a fixed group width, bottleneck ratio 1) and with SE
``vgg``            plain 3x3 conv stacks with max pooling, with or without batch norm, most with
                   the VGG/AlexNet classifier (6x6 or 7x7 map, two 1024-4096-wide FC layers)
``dwsep``          depthwise-separable 3x3 + 1x1 (MobileNetV1-like)
``mbconv``         inverted residuals, kernels 3-7, expansion 1-6, SE, ReLU6/h-swish/SiLU
``fused``          fused-MBConv (3x3 expansion conv, 1x1 projection) then MBConv (EfficientNetV2)
``convnext``       7x7 depthwise, LayerNorm over channels (permute), 4x MLP with GELU, layer scale
``shufflev2``      ShuffleNetV2 units (split, branch, concat, channel shuffle)
``shufflev1``      ShuffleNetV1 units (grouped 1x1, shuffle, depthwise, average-pool concat)
``dense``          DenseNet blocks (BN-ReLU-1x1-BN-ReLU-3x3, concatenation) and transitions
``inception``      four-branch Inception modules (1x1, 3x3, 5x5 or double 3x3, pool), concat
``shift``          ShiftNet Conv-Shift-Conv modules
``mixconv``        MixNet blocks (MixConv depthwise with split kernels, grouped 1x1)
``multires``       two-resolution stages fused by nearest upsampling and strided convs (HRNet-like)
``ghost``          Ghost modules (a cheap depthwise half concatenated, GhostNet-like) with SE
``plain``          bare convolution stacks as deployed networks run them (no norm, optional
                   ReLU): 1x1 pairs of unequal width, grouped 1x1, 1x1 series, parallel 1x1
                   branches concatenated, 1x1-3x3-1x1 bottlenecks with optional shortcut
                   (sampler version 4)
=================  =============================================================================

at input resolutions 96-512 and widths spanning 4x, each network a few milliseconds to ~0.2 s
at one thread (2.4-169 ms on the 12-04 Intel Xeon VM); a fifth of them in deployed form, batch
norm folded into the convolutions (:func:`fold_batch_norms`), as networks are exported for
inference, and from version 4 a quarter of the others with their batch norms written as timm
writes them (:func:`functional_norms`: ``F.batch_norm`` and the activation inside one module).  The blocks are the zoo's where it has them (:mod:`costmodel.zoo`) and small ones
written here; none is copied from a validation model (torchvision, timm).  A
:class:`FamilySpec` is frozen and hashable; networks are named ``families:calibration:I`` (the
I-th of the seeded sequence, :func:`calibration_specs`) so a fresh process can rebuild them
(:mod:`costmodel.latency.named`).
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Dict, List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from costmodel.zoo.common import ConvBNAct, SqueezeExcite
from costmodel.zoo.googlenet import Inception
from costmodel.zoo.mbconv import MBConv
from costmodel.zoo.mixnet import MixBlock
from costmodel.zoo.mobilenet_v1 import DepthwiseSeparable
from costmodel.zoo.shufflenet_v1 import ShuffleUnit as ShuffleV1Unit
from costmodel.zoo.shufflenet_v2 import ShuffleV2Unit

FAMILIES = ("resnet", "bottleneck", "vgg", "dwsep", "mbconv", "fused", "convnext", "shufflev2",
            "shufflev1", "dense", "inception", "shift", "mixconv", "multires", "ghost", "plain")
CALIBRATION_SEED = 2_000_003
#: the sampler's version: 1 until 2026-12-03 (the reports/latency, rerun and avx2 calibrations),
#: 2 adds the VGG/AlexNet heads and wider hidden heads, 3 the deployed-form networks, 4 the
#: ``plain`` family, RegNet-like group widths and timm-style functional batch norms.  A name
#: ``families:calibration:N`` means the N-th network *of one version*; :func:`resolve` takes it
#: so that older calibrations' samples can still be rebuilt (``calibrate.refit``)
SAMPLER_VERSION = 4
#: when each version entered the code (UTC): a file written before the field ``families_sampler``
#: existed (timing files of 12-04 and before) was measured with the last version before its date
SAMPLER_SINCE = ((4, "2026-12-04T03:13:00Z"), (3, "2026-12-04T00:46:00Z"), (2, "2026-12-04T00:40:00Z"), (1, ""))
#: the share of networks drawn in deployed form (:func:`fold_batch_norms`): bare convolutions
#: followed directly by the activation, the next convolution or the residual add
DEPLOY_FRACTION = 0.2
#: the share of the other networks (version 4) whose batch norms are functional (timm style)
FUNCTIONAL_NORM_FRACTION = 0.25
_ACTS = {"relu": nn.ReLU, "relu6": nn.ReLU6, "hswish": nn.Hardswish, "silu": nn.SiLU,
         "gelu": nn.GELU}


def families_of(version: int = SAMPLER_VERSION) -> Tuple[str, ...]:
    """The families sampler ``version`` draws from, in the order it takes them in turn."""
    return FAMILIES if version >= 4 else FAMILIES[:15]


def sampler_of(doc: dict) -> int:
    """The sampler version a timing document's ``families:`` networks were built with: its
    ``families_sampler`` field, else the version in the code at its ``created`` date."""
    if isinstance(doc.get("families_sampler"), int):
        return int(doc["families_sampler"])
    created = str(doc.get("created") or "")
    if not created:
        return SAMPLER_VERSION
    return next(v for v, since in SAMPLER_SINCE if created >= since)


@dataclass(frozen=True)
class FamilySpec:
    family: str
    resolution: int
    stem: int
    widths: Tuple[int, ...]
    depths: Tuple[int, ...]
    options: Tuple[Tuple[str, object], ...] = ()

    @property
    def input_shape(self) -> Tuple[int, int, int, int]:
        return (1, 3, self.resolution, self.resolution)

    def opt(self, key, default=None):
        return dict(self.options).get(key, default)

    @property
    def name(self) -> str:
        opts = "-".join(f"{k}{v}" for k, v in self.options)
        return (f"{self.family}_r{self.resolution}_s{self.stem}_w{'.'.join(map(str, self.widths))}"
                f"_d{''.join(map(str, self.depths))}" + (f"_{opts}" if opts else ""))


# ---------------------------------------------------------------------------------------------
# blocks written here (the zoo has the others)
# ---------------------------------------------------------------------------------------------
class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride, act):
        super().__init__()
        self.conv1 = ConvBNAct(cin, cout, 3, stride, act=act)
        self.conv2 = ConvBNAct(cout, cout, 3, act=None)
        self.down = ConvBNAct(cin, cout, 1, stride, act=None) if stride != 1 or cin != cout else None
        self.act = act(inplace=True) if act is not nn.GELU else act()

    def forward(self, x):
        idt = x if self.down is None else self.down(x)
        return self.act(self.conv2(self.conv1(x)) + idt)


class BottleneckBlock(nn.Module):
    """1x1-3x3-1x1 bottleneck; the 3x3 has ``groups`` groups, or with ``group_width`` > 0 groups
    of that many channels (RegNet's parametrisation: the group count grows with the width)."""

    def __init__(self, cin, cout, stride, act, groups=1, bottle=0.25, se=False, group_width=0):
        super().__init__()
        if group_width:
            mid = max(group_width, int(round(cout * bottle / group_width)) * group_width)
            groups = mid // group_width
        else:
            mid = max(groups, int(round(cout * bottle / groups)) * groups)
        self.conv1 = ConvBNAct(cin, mid, 1, act=act)
        self.conv2 = ConvBNAct(mid, mid, 3, stride, groups=groups, act=act)
        self.se = SqueezeExcite(mid, max(8, mid // 4)) if se else nn.Identity()
        self.conv3 = ConvBNAct(mid, cout, 1, act=None)
        self.down = ConvBNAct(cin, cout, 1, stride, act=None) if stride != 1 or cin != cout else None
        self.act = act(inplace=True)

    def forward(self, x):
        idt = x if self.down is None else self.down(x)
        return self.act(self.conv3(self.se(self.conv2(self.conv1(x)))) + idt)


class FusedMBConv(nn.Module):
    def __init__(self, cin, cout, stride, expansion, act):
        super().__init__()
        mid = int(cin * expansion)
        self.expand = ConvBNAct(cin, mid, 3, stride, act=act)
        self.project = ConvBNAct(mid, cout, 1, act=None)
        self.skip = stride == 1 and cin == cout

    def forward(self, x):
        y = self.project(self.expand(x))
        return x + y if self.skip else y


class ChannelsLayerNorm(nn.Module):
    """LayerNorm over the channels of an NCHW map, through a permute (as ConvNeXt does)."""

    def __init__(self, c):
        super().__init__()
        self.norm = nn.LayerNorm(c, eps=1e-6)

    def forward(self, x):
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    def __init__(self, c, kernel=7, mlp=4):
        super().__init__()
        self.dw = nn.Conv2d(c, c, kernel, padding=kernel // 2, groups=c)
        self.norm = nn.LayerNorm(c, eps=1e-6)
        self.fc1 = nn.Linear(c, mlp * c)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(mlp * c, c)
        self.gamma = nn.Parameter(torch.full((c,), 1e-6))

    def forward(self, x):
        y = self.dw(x).permute(0, 2, 3, 1)
        y = self.fc2(self.act(self.fc1(self.norm(y))))
        return x + (y * self.gamma).permute(0, 3, 1, 2)


class DenseLayer(nn.Module):
    def __init__(self, cin, growth, bottle=4):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, bottle * growth, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(bottle * growth)
        self.conv2 = nn.Conv2d(bottle * growth, growth, 3, padding=1, bias=False)

    def forward(self, feats: List[torch.Tensor]):
        x = torch.cat(feats, 1)
        y = self.conv1(F.relu(self.bn1(x)))
        return self.conv2(F.relu(self.bn2(y)))


class DenseStage(nn.Module):
    def __init__(self, cin, growth, depth):
        super().__init__()
        self.layers = nn.ModuleList(DenseLayer(cin + i * growth, growth) for i in range(depth))
        self.out_channels = cin + depth * growth

    def forward(self, x):
        feats = [x]
        for layer in self.layers:
            feats.append(layer(feats))
        return torch.cat(feats, 1)


class Transition(nn.Sequential):
    def __init__(self, cin, cout):
        super().__init__(nn.BatchNorm2d(cin), nn.ReLU(inplace=True), nn.Conv2d(cin, cout, 1, bias=False),
                         nn.AvgPool2d(2))


class MultiResStage(nn.Module):
    """A high- and a low-resolution branch of basic blocks, exchanged both ways (HRNet-like)."""

    def __init__(self, c_hi, c_lo, depth, act):
        super().__init__()
        self.hi = nn.Sequential(*[BasicBlock(c_hi, c_hi, 1, act) for _ in range(depth)])
        self.lo = nn.Sequential(*[BasicBlock(c_lo, c_lo, 1, act) for _ in range(depth)])
        self.lo_to_hi = ConvBNAct(c_lo, c_hi, 1, act=None)
        self.hi_to_lo = ConvBNAct(c_hi, c_lo, 3, 2, act=None)
        self.act = act(inplace=True)

    def forward(self, xs):
        hi, lo = self.hi(xs[0]), self.lo(xs[1])
        up = F.interpolate(self.lo_to_hi(lo), size=hi.shape[-2:], mode="nearest")
        return [self.act(hi + up), self.act(lo + self.hi_to_lo(hi))]


class GhostModule(nn.Module):
    def __init__(self, cin, cout, act=True):
        super().__init__()
        init = (cout + 1) // 2
        self.primary = ConvBNAct(cin, init, 1, act=nn.ReLU if act else None)
        self.cheap = ConvBNAct(init, init, 3, groups=init, act=nn.ReLU if act else None)
        self.cout = cout

    def forward(self, x):
        y = self.primary(x)
        return torch.cat([y, self.cheap(y)], 1)[:, :self.cout]


class GhostBottleneck(nn.Module):
    def __init__(self, cin, cout, mid, stride, se):
        super().__init__()
        self.ghost1 = GhostModule(cin, mid)
        self.dw = ConvBNAct(mid, mid, 3, stride, groups=mid, act=None) if stride > 1 else nn.Identity()
        self.se = SqueezeExcite(mid, max(8, mid // 4), gate=nn.Hardsigmoid) if se else nn.Identity()
        self.ghost2 = GhostModule(mid, cout, act=False)
        self.short = (nn.Sequential(ConvBNAct(cin, cin, 3, stride, groups=cin, act=None),
                                    ConvBNAct(cin, cout, 1, act=None))
                      if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x):
        return self.ghost2(self.se(self.dw(self.ghost1(x)))) + self.short(x)


class _Head(nn.Module):
    """Global pooling and a classifier; with ``grid`` > 0 the VGG/AlexNet-style head instead:
    the map pooled to ``grid`` x ``grid``, flattened, and two ``hidden``-wide fully connected
    layers before the classes (weights of up to ~400 MB, read once per image: a matrix-vector
    product bound by memory bandwidth, which the small heads never reach)."""

    def __init__(self, c, classes=1000, hidden=0, act=nn.ReLU, grid=0):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(grid or 1)
        if grid:
            self.fc = nn.Sequential(nn.Linear(c * grid * grid, hidden), act(), nn.Dropout(),
                                    nn.Linear(hidden, hidden), act(), nn.Dropout(),
                                    nn.Linear(hidden, classes))
        else:
            self.fc = (nn.Sequential(nn.Linear(c, hidden), act(), nn.Linear(hidden, classes))
                       if hidden else nn.Linear(c, classes))

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(x), 1))


class FamilyNet(nn.Module):
    def __init__(self, spec: FamilySpec):
        super().__init__()
        self.spec = spec
        self.body, c = _BUILDERS[spec.family](spec)
        self.head = _Head(c, hidden=spec.opt("head_hidden", 0), grid=spec.opt("head_grid", 0))

    def forward(self, x):
        y = self.body(x)
        if isinstance(y, list):  # multi-resolution: the high-resolution branch
            y = y[0]
        return self.head(y)


# ---------------------------------------------------------------------------------------------
# family builders: spec -> (body, output channels)
# ---------------------------------------------------------------------------------------------
def _act(spec, default="relu"):
    return _ACTS[spec.opt("act", default)]


def _stages(spec, make_block, cin, strides=None):
    blocks = []
    for i, (w, d) in enumerate(zip(spec.widths, spec.depths)):
        for j in range(d):
            s = (strides[i] if strides else (1 if i == 0 else 2)) if j == 0 else 1
            blocks.append(make_block(cin, w, s, i))
            cin = w
    return blocks, cin


def _resnet(spec):
    act = _act(spec)
    stem = [ConvBNAct(3, spec.stem, 7, 2, act=act), nn.MaxPool2d(3, 2, 1)]
    blocks, c = _stages(spec, lambda ci, co, s, i: BasicBlock(ci, co, s, act), spec.stem)
    return nn.Sequential(*stem, *blocks), c


def _bottleneck(spec):
    act, g, se = _act(spec), spec.opt("groups", 1), bool(spec.opt("se", False))
    stem = [ConvBNAct(3, spec.stem, 3 if spec.opt("small_stem") else 7, 2, act=act),
            nn.MaxPool2d(3, 2, 1)]
    blocks, c = _stages(spec, lambda ci, co, s, i: BottleneckBlock(
        ci, co, s, act, groups=g, bottle=spec.opt("bottle", 0.25), se=se,
        group_width=spec.opt("group_width", 0)), spec.stem)
    return nn.Sequential(*stem, *blocks), c


def _vgg(spec):
    bn = bool(spec.opt("bn", True))
    layers, c = [], 3
    for w, d in zip(spec.widths, spec.depths):
        for _ in range(d):
            layers += [nn.Conv2d(c, w, 3, padding=1, bias=not bn)] + ([nn.BatchNorm2d(w)] if bn else []) + [
                nn.ReLU(inplace=True)]
            c = w
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers), c


def _dwsep(spec):
    blocks, c = _stages(spec, lambda ci, co, s, i: DepthwiseSeparable(ci, co, s), spec.stem,
                        strides=[1] + [2] * (len(spec.widths) - 1))
    return nn.Sequential(ConvBNAct(3, spec.stem, 3, 2), *blocks), c


def _mbconv(spec):
    act, exp, k = _act(spec, "relu6"), spec.opt("expansion", 6), spec.opt("kernel", 3)
    se = spec.opt("se", False)

    def block(ci, co, s, i):
        hidden = ci * (1 if i == 0 else exp)
        return MBConv(ci, co, hidden, k if i else 3, s, act=act,
                      se_channels=max(8, hidden // 4) if se and i else None)
    blocks, c = _stages(spec, block, spec.stem, strides=[1] + [2] * (len(spec.widths) - 1))
    last = spec.opt("last", 0)
    tail = [ConvBNAct(c, last, 1, act=act)] if last else []
    return nn.Sequential(ConvBNAct(3, spec.stem, 3, 2, act=act), *blocks, *tail), (last or c)


def _fused(spec):
    act, n_fused = _act(spec, "silu"), spec.opt("fused_stages", 2)

    def block(ci, co, s, i):
        if i < n_fused:
            return FusedMBConv(ci, co, s, 1 if i == 0 else 4, act)
        return MBConv(ci, co, ci * 4, 3, s, act=act, se_channels=max(8, ci // 4), se_act=nn.SiLU)
    blocks, c = _stages(spec, block, spec.stem, strides=[1] + [2] * (len(spec.widths) - 1))
    return nn.Sequential(ConvBNAct(3, spec.stem, 3, 2, act=act), *blocks), c


def _convnext(spec):
    k = spec.opt("kernel", 7)
    layers = [nn.Conv2d(3, spec.widths[0], 4, 4), ChannelsLayerNorm(spec.widths[0])]
    c = spec.widths[0]
    for i, (w, d) in enumerate(zip(spec.widths, spec.depths)):
        if i:
            layers += [ChannelsLayerNorm(c), nn.Conv2d(c, w, 2, 2)]
        layers += [ConvNeXtBlock(w, k) for _ in range(d)]
        c = w
    return nn.Sequential(*layers, ChannelsLayerNorm(c)), c


def _shufflev2(spec):
    act = _act(spec)
    k = spec.opt("kernel", 3)
    blocks, c = _stages(spec, lambda ci, co, s, i: ShuffleV2Unit(ci, co, s, k, act), spec.stem,
                        strides=[2] * len(spec.widths))
    last = spec.opt("last", 1024)
    return nn.Sequential(ConvBNAct(3, spec.stem, 3, 2, act=act), nn.MaxPool2d(3, 2, 1), *blocks,
                         ConvBNAct(c, last, 1, act=act)), last


def _shufflev1(spec):
    g = spec.opt("groups", 3)
    blocks = []
    cin = spec.stem
    for i, (w, d) in enumerate(zip(spec.widths, spec.depths)):
        for j in range(d):
            blocks.append(ShuffleV1Unit(cin, w, 2 if j == 0 else 1, g, 1 if (i == 0 and j == 0) else g))
            cin = w
    return nn.Sequential(ConvBNAct(3, spec.stem, 3, 2), nn.MaxPool2d(3, 2, 1), *blocks), cin


def _dense(spec):
    growth = spec.opt("growth", 32)
    layers = [ConvBNAct(3, spec.stem, 7, 2), nn.MaxPool2d(3, 2, 1)]
    c = spec.stem
    for i, d in enumerate(spec.depths):
        stage = DenseStage(c, growth, d)
        layers.append(stage)
        c = stage.out_channels
        if i < len(spec.depths) - 1:
            layers.append(Transition(c, c // 2))
            c //= 2
    return nn.Sequential(*layers, nn.BatchNorm2d(c), nn.ReLU(inplace=True)), c


def _inception(spec):
    layers = [ConvBNAct(3, spec.stem, 7, 2), nn.MaxPool2d(3, 2, 1, ceil_mode=True),
              ConvBNAct(spec.stem, 2 * spec.stem, 3), nn.MaxPool2d(3, 2, 1, ceil_mode=True)]
    c = 2 * spec.stem
    big = spec.opt("big_kernel", 5)
    for i, (w, d) in enumerate(zip(spec.widths, spec.depths)):
        for _ in range(d):
            q = w // 8
            n1, n3, n5 = 2 * q, 4 * q, q
            proj = w - n1 - n3 - n5
            layers.append(Inception(c, n1, n3 // 2 + 1, n3, max(4, n5 // 2), n5, proj, big_kernel=big,
                                    batch_norm=True))
            c = w
        if i < len(spec.widths) - 1:
            layers.append(nn.MaxPool2d(3, 2, 1, ceil_mode=True))
    return nn.Sequential(*layers), c


def _shift(spec):
    from costmodel.zoo.shiftnet import CSC
    k, e = spec.opt("kernel", 3), spec.opt("expansion", 3)
    layers = [ConvBNAct(3, spec.stem, 3, 2)]
    c = spec.stem
    for i, (w, d) in enumerate(zip(spec.widths, spec.depths)):
        for j in range(d):
            s = 2 if (j == 0 and i > 0) else 1
            layers.append(CSC(c, w, s, e, k))
            c = w
    return nn.Sequential(*layers), c


def _mixconv(spec):
    swish = spec.opt("act", "silu") == "silu"
    layers = [ConvBNAct(3, spec.stem, 3, 2, act=nn.SiLU if swish else nn.ReLU)]
    c = spec.stem
    for i, (w, d) in enumerate(zip(spec.widths, spec.depths)):
        kernels = (3,) if i == 0 else tuple(range(3, 3 + 2 * min(i + 1, 4), 2))
        for j in range(d):
            s = (1 if i == 0 else 2) if j == 0 else 1
            layers.append(MixBlock(c, w, kernels, 1 if i == 0 else 2, 1 if i == 0 else 2, s,
                                   1 if i == 0 else spec.opt("expansion", 6),
                                   0.25 if i > 1 else None, swish))
            c = w
    return nn.Sequential(*layers), c


def _multires(spec):
    act = _act(spec)
    c_hi, c_lo = spec.widths[0], spec.widths[1]
    layers = [ConvBNAct(3, spec.stem, 3, 2, act=act), ConvBNAct(spec.stem, spec.stem, 3, 2, act=act),
              _Split(spec.stem, c_hi, c_lo, act)]
    layers += [MultiResStage(c_hi, c_lo, d, act) for d in spec.depths]
    return nn.Sequential(*layers), c_hi


class _Split(nn.Module):
    def __init__(self, cin, c_hi, c_lo, act):
        super().__init__()
        self.hi = ConvBNAct(cin, c_hi, 3, act=act)
        self.lo = ConvBNAct(cin, c_lo, 3, 2, act=act)

    def forward(self, x):
        return [self.hi(x), self.lo(x)]


def _ghost(spec):
    layers = [ConvBNAct(3, spec.stem, 3, 2)]
    c = spec.stem
    for i, (w, d) in enumerate(zip(spec.widths, spec.depths)):
        for j in range(d):
            s = (1 if i == 0 else 2) if j == 0 else 1
            layers.append(GhostBottleneck(c, w, c * (1 if i == 0 else 3), s, se=spec.opt("se", True) and i > 1))
            c = w
    return nn.Sequential(*layers, ConvBNAct(c, 6 * c, 1)), 6 * c


class _Concat(nn.Module):
    """``k`` 1x1 convs ``c -> c/k`` reading the same input, outputs concatenated."""

    def __init__(self, c, k, bias, relu):
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, c // k, 1, bias=bias), *([nn.ReLU(inplace=True)] if relu else []))
            for _ in range(k))

    def forward(self, x):
        return torch.cat([b(x) for b in self.branches], 1)


class _PlainBottleneck(nn.Module):
    """1x1 ``c -> c/4``, 3x3, 1x1 ``c/4 -> c`` without norms; optional ReLUs and shortcut."""

    def __init__(self, c, bias, relu, shortcut):
        super().__init__()
        mid = max(4, c // 4)
        self.convs = nn.ModuleList([nn.Conv2d(c, mid, 1, bias=bias),
                                    nn.Conv2d(mid, mid, 3, padding=1, bias=bias),
                                    nn.Conv2d(mid, c, 1, bias=bias)])
        self.relu, self.shortcut = relu, shortcut

    def forward(self, x):
        y = x
        for i, conv in enumerate(self.convs):
            y = conv(y)
            if self.relu and i < 2:
                y = F.relu(y)
        if self.shortcut:
            y = y + x
        return F.relu(y) if self.relu else y


def _plain_block(spec, c):
    """One block of the ``plain`` family (``spec.opt("block")``), width ``c`` in and out."""
    kind, bias, relu = spec.opt("block"), bool(spec.opt("bias")), bool(spec.opt("relu"))

    def conv(ci, co, groups=1):  # a 1x1 convolution, with a ReLU after it when drawn
        return [nn.Conv2d(ci, co, 1, groups=groups, bias=bias)] + ([nn.ReLU(inplace=True)] if relu else [])
    if kind == "pair":
        c2 = _round(c * spec.opt("ratio", 1), 4, 4)
        return nn.Sequential(*conv(c, c2), *conv(c2, c))
    if kind == "group":
        return nn.Sequential(*conv(c, c, spec.opt("groups")))
    if kind == "series":
        return nn.Sequential(*[m for _ in range(spec.opt("k")) for m in conv(c, c)])
    if kind == "parallel":
        return _Concat(c, spec.opt("k"), bias, relu)
    return _PlainBottleneck(c, bias, relu, bool(spec.opt("shortcut")))


def _plain(spec):
    """A stem, then per stage ``depth`` identical bare blocks of width ``w`` (a strided 1x1
    between stages): tiny repeated blocks as deployed networks and micro-benchmarks run them."""
    layers = [nn.Conv2d(3, spec.stem, 3, 2, 1), nn.ReLU(inplace=True)]
    if spec.opt("pool"):
        layers.append(nn.MaxPool2d(2))
    c = spec.stem
    for i, (w, d) in enumerate(zip(spec.widths, spec.depths)):
        if w != c or i:
            layers.append(nn.Conv2d(c, w, 1, 2 if i else 1, bias=bool(spec.opt("bias"))))
        layers += [_plain_block(spec, w) for _ in range(d)]
        c = w
    return nn.Sequential(*layers), c


def _plain_madds(o, c, hw):
    """Multiply-adds of one :func:`_plain_block` of width ``c`` at ``hw`` positions (``o``: the
    spec's options)."""
    kind = o["block"]
    if kind == "pair":
        return 2 * c * _round(c * o["ratio"], 4, 4) * hw
    if kind == "group":
        return c * c // o["groups"] * hw
    if kind == "series":
        return o["k"] * c * c * hw
    if kind == "parallel":
        return c * c * hw
    mid = max(4, c // 4)
    return (2 * c * mid + 9 * mid * mid) * hw


_BUILDERS = {"resnet": _resnet, "bottleneck": _bottleneck, "vgg": _vgg, "dwsep": _dwsep,
             "mbconv": _mbconv, "fused": _fused, "convnext": _convnext, "shufflev2": _shufflev2,
             "shufflev1": _shufflev1, "dense": _dense, "inception": _inception, "shift": _shift,
             "mixconv": _mixconv, "multires": _multires, "ghost": _ghost, "plain": _plain}


# ---------------------------------------------------------------------------------------------
# sampling
# ---------------------------------------------------------------------------------------------
def _mult(rng, lo=0.5, hi=2.0):
    return 2 ** rng.uniform(math.log2(lo), math.log2(hi))


def _round(v, m=8, lo=8):
    return max(lo, int(round(v / m)) * m)


def sample_spec(rng: random.Random, family: str, version: int = SAMPLER_VERSION) -> FamilySpec:
    """One random network of ``family`` (sizes kept to ~0.05-3 G multiply-adds), as sampler
    ``version`` (:data:`SAMPLER_VERSION`) draws it."""
    res = rng.choice([96, 128, 160, 192, 224, 224, 256, 288, 320, 384])
    if family in ("mbconv", "fused", "dwsep", "ghost", "mixconv", "shufflev2") and rng.random() < 0.15:
        res = rng.choice([448, 512])  # EfficientNet-B5/B6-like resolutions
    m = _mult(rng)
    o: Dict[str, object] = {}
    if family == "resnet":
        widths = tuple(_round(w * m) for w in (64, 128, 256, 512))
        depths = tuple(rng.choice(d) for d in ([1, 2, 3], [1, 2, 4], [1, 2, 6], [1, 2, 3]))
        stem = widths[0]
        o["act"] = rng.choice(["relu", "relu", "silu"])
    elif family == "bottleneck" and version >= 4 and rng.random() < 0.4:
        # RegNet-like: a fixed group width, bottleneck ratio 1, widths growing ~2-2.6x a stage
        gw = rng.choice([8, 16, 24, 32, 48, 64])
        w0, r = _mult(rng, 24, 128), rng.uniform(2.0, 2.6)
        widths = tuple(max(gw, int(round(w0 * r ** i / gw)) * gw) for i in range(4))
        depths = tuple(rng.choice(d) for d in ([1, 2], [2, 3, 4], [4, 7, 10], [1, 2, 4]))
        stem = rng.choice([32, 32, 48, 64])
        o.update(group_width=gw, bottle=1.0, se=rng.random() < 0.5, small_stem=True)
        res = min(res, 224)
    elif family == "bottleneck":
        g = rng.choice([1, 1, 2, 4, 8, 16, 32])
        widths = tuple(_round(w * m, 32 if g >= 8 else 8) for w in (256, 512, 1024, 2048))
        depths = tuple(rng.choice(d) for d in ([1, 2, 3], [1, 2, 4], [2, 3, 6], [1, 2, 3]))
        stem = _round(64 * m)
        o.update(groups=g, bottle=rng.choice([0.25, 0.25, 0.5]) if g > 1 else 0.25,
                 se=rng.random() < 0.3, small_stem=rng.random() < 0.3)
        res = min(res, 224)
    elif family == "vgg":
        v = _mult(rng, 0.25, 1.0)
        widths = tuple(_round(w * v) for w in (64, 128, 256, 512, 512))
        depths = tuple(rng.choice(d) for d in ([1, 2], [1, 2], [2, 3, 4], [2, 3, 4], [2, 3, 4]))
        stem = widths[0]
        o["bn"] = rng.random() < 0.6
        res = min(res, 224)
        if version >= 2 and rng.random() < 0.7:  # the VGG/AlexNet classifier: big FC layers
            o.update(head_grid=rng.choice([6, 7]), head_hidden=rng.choice([1024, 2048, 4096]))
    elif family == "dwsep":
        widths = tuple(_round(w * m) for w in (64, 128, 256, 512, 1024))
        depths = (1, 2, 2, rng.choice([2, 4, 6]), 2)
        stem = _round(32 * m)
    elif family == "mbconv":
        widths = tuple(_round(w * m) for w in (16, 24, 40, 80, 112, 192))
        depths = (1,) + tuple(rng.choice([1, 2, 3, 4]) for _ in range(5))
        stem = _round(32 * m)
        o.update(act=rng.choice(["relu6", "hswish", "silu"]), expansion=rng.choice([3, 4, 6]),
                 kernel=rng.choice([3, 5, 7]), se=rng.random() < 0.5,
                 last=rng.choice([0, 960, 1280]))
    elif family == "fused":
        widths = tuple(_round(w * m) for w in (24, 48, 64, 128, 160))
        depths = tuple(rng.choice(d) for d in ([1, 2], [2, 3], [2, 3], [2, 4], [2, 4]))
        stem = widths[0]
        o["fused_stages"] = rng.choice([2, 3])
    elif family == "convnext":
        widths = tuple(_round(w * m * 0.75) for w in (64, 128, 256, 512))
        depths = tuple(rng.choice(d) for d in ([1, 2, 3], [1, 2, 3], [2, 3, 6], [1, 2]))
        stem = widths[0]
        o["kernel"] = rng.choice([7, 7, 5, 3])
        res = min(res, 224)
    elif family == "shufflev2":
        widths = tuple(_round(w * m, 4, 16) for w in (116, 232, 464))
        depths = (rng.choice([2, 4]), rng.choice([4, 6, 8]), rng.choice([2, 4]))
        stem = rng.choice([16, 24, 32])
        o.update(kernel=rng.choice([3, 5]), act=rng.choice(["relu", "hswish"]),
                 last=rng.choice([512, 1024]))
    elif family == "shufflev1":
        g = rng.choice([2, 3, 4, 8])
        base = {2: (200, 400, 800), 3: (240, 480, 960), 4: (272, 544, 1088), 8: (384, 768, 1536)}[g]
        widths = tuple(_round(w * m, 4 * g, 4 * g) for w in base)
        depths = (rng.choice([2, 4]), rng.choice([4, 8]), rng.choice([2, 4]))
        stem = 24
        o["groups"] = g
    elif family == "dense":
        widths = ()
        depths = tuple(rng.choice(d) for d in ([2, 4, 6], [4, 8, 12], [6, 12, 16], [4, 8]))
        stem = _round(64 * m)
        o["growth"] = rng.choice([12, 16, 24, 32])
        res = min(res, 224)
    elif family == "inception":
        widths = tuple(_round(w * m, 8, 32) for w in (256, 480, 832))
        depths = (rng.choice([1, 2]), rng.choice([2, 3, 5]), rng.choice([1, 2]))
        stem = _round(64 * m)
        o["big_kernel"] = rng.choice([3, 5])
        res = min(res, 224)
    elif family == "shift":
        widths = tuple(_round(w * m) for w in (32, 64, 128, 256))
        depths = tuple(rng.choice([1, 2, 3]) for _ in range(4))
        stem = _round(32 * m)
        o.update(kernel=rng.choice([3, 3, 5]), expansion=rng.choice([1, 2, 3]))
    elif family == "mixconv":
        widths = tuple(_round(w * m) for w in (16, 24, 40, 80, 120, 200))
        depths = (1,) + tuple(rng.choice([1, 2, 3]) for _ in range(5))
        stem = _round(16 * m)
        o.update(act=rng.choice(["silu", "relu"]), expansion=rng.choice([3, 6]))
    elif family == "multires":
        widths = (_round(18 * m * 1.5), _round(36 * m * 1.5))
        depths = tuple(rng.choice([1, 2]) for _ in range(rng.choice([2, 3, 4])))
        stem = _round(32 * m)
        res = min(res, 192)
    elif family == "ghost":
        widths = tuple(_round(w * m, 4, 8) for w in (16, 24, 40, 80, 112, 160))
        depths = (1,) + tuple(rng.choice([1, 2, 3]) for _ in range(5))
        stem = _round(16 * m, 4, 8)
        o["se"] = rng.random() < 0.7
    elif family == "plain" and version >= 4:
        o.update(block=rng.choice(["pair", "pair", "group", "series", "parallel", "bottleneck"]),
                 bias=rng.random() < 0.5, relu=rng.random() < 0.5, pool=rng.random() < 0.5)
        if o["block"] == "pair":
            o["ratio"] = rng.choice([1, 1, 2, 4, 6, 12])
        elif o["block"] == "group":
            o["groups"] = rng.choice([2, 4, 8, 16])
        elif o["block"] in ("series", "parallel"):
            o["k"] = rng.choice([1, 2, 4] if o["block"] == "series" else [2, 4])
        else:
            o["shortcut"] = rng.random() < 0.5
        mult = 4 * (o.get("groups") or o.get("k") or 1)
        res = rng.choice([112, 160, 224, 224, 288])  # the blocks at 28-144 positions a side
        hw = (res // (4 if o["pool"] else 2)) ** 2
        w = _round(2 ** rng.uniform(3, 9), mult, mult)  # 8-512 channels
        n_stages = 1 if rng.random() < 0.6 else 2
        depths = tuple(rng.choice([4, 6, 8, 10, 12]) for _ in range(n_stages))

        def madds(w, depths):
            return sum(d * _plain_madds(o, _round(w * 2 ** i, mult, mult), hw // 4 ** i)
                       for i, d in enumerate(depths))
        while madds(w, depths) > 2.5e9 and w > mult:  # a few ms to ~50 ms at one thread
            if max(depths) > 4:
                depths = tuple(max(4, d - 2) for d in depths)
            else:
                w = _round(w / 1.5, mult, mult)
        widths = tuple(_round(w * 2 ** i, mult, mult) for i in range(n_stages))
        stem = _round(min(w, 64), 8)
    else:
        raise ValueError(f"unknown family {family!r}; choose from {', '.join(families_of(version))}")
    if "head_hidden" not in o and rng.random() < 0.15:
        o["head_hidden"] = rng.choice([512, 1024, 2048, 4096] if version >= 2 else [512, 1024])
    if family == "plain":  # bare already: nothing to fold or write functionally
        pass
    elif version >= 3 and rng.random() < DEPLOY_FRACTION:
        o["deploy"] = True
    elif version >= 4 and rng.random() < FUNCTIONAL_NORM_FRACTION:
        o["fn_norm"] = True
    return FamilySpec(family, res, stem, widths, depths, tuple(sorted(o.items())))


def sample_specs(n: int, seed: int = CALIBRATION_SEED, version: int = SAMPLER_VERSION
                 ) -> List[FamilySpec]:
    """``n`` distinct specs, the families taken in turn (so any prefix covers them all)."""
    rng = random.Random(seed)
    fams = families_of(version)
    out, seen = [], set()
    i = 0
    while len(out) < n:
        spec = sample_spec(rng, fams[i % len(fams)], version)
        if spec not in seen:
            seen.add(spec)
            out.append(spec)
            i += 1
    return out


VALIDATION_SEED = 2_000_029


def calibration_specs(n: int, version: int = SAMPLER_VERSION) -> List[FamilySpec]:
    return sample_specs(n, CALIBRATION_SEED, version)


def validation_specs(n: int, n_calibration: int = 400, version: int = SAMPLER_VERSION
                     ) -> List[FamilySpec]:
    """Held-out networks of the same families (another seed, none equal to the first
    ``n_calibration`` calibration specs): the in-space check, secondary to the foreign set."""
    taken = set(calibration_specs(n_calibration, version))
    return [s for s in sample_specs(n + n_calibration, VALIDATION_SEED, version)
            if s not in taken][:n]


#: the drift reference: a fixed mid-size network (~20-40 ms at one thread on a 2-core x86 VM),
#: timed interleaved with the calibration networks and again at validation / prediction
REFERENCE = FamilySpec("resnet", 160, 48, (48, 96, 192, 384), (1, 2, 2, 1), (("act", "relu"),))


def resolve(name: str, version: int = SAMPLER_VERSION) -> FamilySpec:
    """``families:calibration:I``, ``families:validation:I`` or ``families:reference``
    (the I-th network of sampler ``version``)."""
    parts = name.split(":")
    if parts == ["families", "reference"]:
        return REFERENCE
    if len(parts) != 3 or parts[0] != "families" or parts[1] not in ("calibration", "validation") \
            or not parts[2].isdigit():
        raise KeyError(f"bad family network name {name!r} (expected families:calibration:N, "
                       f"families:validation:N or families:reference)")
    i = int(parts[2])
    specs = (calibration_specs(i + 1, version) if parts[1] == "calibration"
             else validation_specs(i + 1, version=version))
    return specs[i]


def fold_batch_norms(model: nn.Module) -> nn.Module:
    """``model`` in its deployed form, in place: every ``BatchNorm2d`` that directly follows a
    ``Conv2d`` in an ``nn.Sequential`` folded into the convolution's weight and bias and removed
    (what BN folding before export, RepVGG/MobileOne re-parameterisation and
    ``torch.ao.quantization.fuse_modules`` do).  A BN after anything else (DenseNet's
    pre-activation BN-ReLU-conv) stays.  ``model`` must be in eval mode."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        names = list(seq._modules)
        for a, b in zip(names, names[1:]):
            conv, bn = seq._modules.get(a), seq._modules.get(b)
            if type(conv) is nn.Conv2d and type(bn) is nn.BatchNorm2d:
                seq._modules[a] = fuse_conv_bn_eval(conv, bn)
                del seq._modules[b]
    return model


class NormAct(nn.BatchNorm2d):
    """Batch norm computed by ``F.batch_norm`` inside the module, its activation a child module:
    the way timm writes ``BatchNormAct2d``.  The tracer traces into it (it has its own
    ``forward``), so its norm is the functional op ``norm:batch_norm``, timed as a function
    call rather than as a module."""

    def __init__(self, bn: nn.BatchNorm2d, act: nn.Module):
        super().__init__(bn.num_features, bn.eps, bn.momentum)
        self.load_state_dict(bn.state_dict())
        self.act = act

    def forward(self, x):
        return self.act(F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                     False, 0.0, self.eps))


def functional_norms(model: nn.Module) -> nn.Module:
    """``model`` with every ``BatchNorm2d`` of an ``nn.Sequential`` replaced, in place, by a
    :class:`NormAct` with the same parameters and statistics, taking in the activation that
    directly follows it (or an ``nn.Identity``).  Outputs are unchanged (eval mode)."""
    acts = tuple(_ACTS.values())
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        names = list(seq._modules)
        for i, a in enumerate(names):
            bn = seq._modules.get(a)
            if type(bn) is not nn.BatchNorm2d:
                continue
            nxt = seq._modules.get(names[i + 1]) if i + 1 < len(names) else None
            act = nxt if isinstance(nxt, acts) else None
            seq._modules[a] = NormAct(bn, act if act is not None else nn.Identity()).eval()
            if act is not None:
                del seq._modules[names[i + 1]]
    return model


def build(spec: FamilySpec) -> nn.Module:
    torch.manual_seed(0)
    net = FamilyNet(spec).eval()
    if spec.opt("deploy"):
        return fold_batch_norms(net)
    return functional_norms(net) if spec.opt("fn_norm") else net
