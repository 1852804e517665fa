"""Seeded samplers: ShuffleNetV2/MobileNetV2-like networks, and single-op micro-benchmarks.

Networks (:func:`sample_specs`, :func:`build`) are built from the zoo's own blocks
(:class:`~costmodel.zoo.common.ConvBNAct`, :func:`~costmodel.zoo.common.channel_shuffle`,
:class:`~costmodel.zoo.mbconv.MBConv`) with random input resolution, stem width, stage widths,
depths, kernels, expansion ratios, activations and squeeze-excitation.  A :class:`NetSpec` is a
frozen, hashable description, so calibration networks (seed :data:`CALIBRATION_SEED`) and held-out
validation networks (seed :data:`VALIDATION_SEED`) are checked to be disjoint.

Op micro-benchmarks (:func:`sample_op_configs`) cover every kind the formulas distinguish:
standard / group / depthwise / pointwise / dilated convolution across channels, resolutions,
kernels, strides and groups; linear; batch norm; activations; pooling; element-wise add/mul;
concat; split; channel shuffle; views; the shift layers.  Each config is a tiny ``nn.Module``
plus an input shape, so calibration traces and replays it with the same code as a real model.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from costmodel import layers as shift_layers
from costmodel.zoo.common import ConvBNAct, channel_shuffle
from costmodel.zoo.mbconv import MBConv
from costmodel.zoo.shufflenet_v2 import ShuffleV2Unit

CALIBRATION_SEED = 1_000_003
VALIDATION_SEED = 7


# ---------------------------------------------------------------------------------------------
# networks
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StageSpec:
    width: int
    depth: int
    kernel: int
    stride: int
    expansion: float = 1.0  # MobileNet-like only
    se: bool = False  # MobileNet-like only


@dataclass(frozen=True)
class NetSpec:
    family: str  # "shufflenet_v2_like" | "mobilenet_v2_like"
    resolution: int
    stem: int
    stages: Tuple[StageSpec, ...]
    last: int
    act: str = "relu"

    @property
    def input_shape(self) -> Tuple[int, int, int, int]:
        return (1, 3, self.resolution, self.resolution)

    @property
    def name(self) -> str:
        tag = "-".join(f"{s.width}x{s.depth}k{s.kernel}" + (f"e{s.expansion:g}" if
                                                             self.family.startswith("mobile") else "")
                       + ("se" if s.se else "") for s in self.stages)
        return f"{self.family.split('_')[0]}_r{self.resolution}_s{self.stem}_{tag}_l{self.last}_{self.act}"


_ACTS = {"relu": nn.ReLU, "relu6": nn.ReLU6, "hswish": nn.Hardswish, "silu": nn.SiLU}


ShuffleUnit = ShuffleV2Unit  # kernel and activation are arguments of the zoo's unit


class SampledNet(nn.Module):
    def __init__(self, spec: NetSpec, num_classes: int = 1000):
        super().__init__()
        act = _ACTS[spec.act]
        blocks: List[nn.Module] = []
        if spec.family == "shufflenet_v2_like":
            blocks += [ConvBNAct(3, spec.stem, 3, 2, act=act), nn.MaxPool2d(3, 2, 1)]
            cin = spec.stem
            for st in spec.stages:
                for j in range(st.depth):
                    blocks.append(ShuffleUnit(cin, st.width, st.stride if j == 0 else 1, st.kernel, act))
                    cin = st.width
        else:
            blocks.append(ConvBNAct(3, spec.stem, 3, 2, act=act))
            cin = spec.stem
            for st in spec.stages:
                for j in range(st.depth):
                    hidden = max(8, int(round(cin * st.expansion / 8)) * 8) if st.expansion != 1 else cin
                    se = max(8, hidden // 4 // 8 * 8) if st.se else None
                    blocks.append(MBConv(cin, st.width, hidden, st.kernel, st.stride if j == 0 else 1,
                                         act=act, se_channels=se))
                    cin = st.width
        blocks.append(ConvBNAct(cin, spec.last, 1, act=act))
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(spec.last, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def sample_spec(rng: random.Random) -> NetSpec:
    res = rng.choice([128, 160, 192, 224, 224, 256])
    if rng.random() < 0.5:
        mult = rng.choice([0.5, 0.75, 1.0, 1.25, 1.5, 2.0])
        widths = [int(round(w * mult * rng.uniform(0.8, 1.25) / 4)) * 4 for w in (116, 232, 464)]
        widths = [max(16, w) for w in widths]
        stages = tuple(StageSpec(w, rng.choice([2, 3, 4, 4, 6, 8] if i == 1 else [2, 3, 4, 5]),
                                 rng.choice([3, 3, 5, 7]), 2) for i, w in enumerate(widths))
        return NetSpec("shufflenet_v2_like", res, rng.choice([16, 24, 32]), stages,
                       rng.choice([512, 768, 1024, 1024, 1280]), rng.choice(["relu", "relu", "hswish"]))
    mult = rng.choice([0.35, 0.5, 0.75, 1.0, 1.0, 1.25, 1.4])
    base = [(16, 1, 1), (24, 2, 2), (32, 3, 2), (64, 4, 2), (96, 3, 1), (160, 3, 2), (320, 1, 1)]
    stages = []
    for i, (c, n, s) in enumerate(base):
        w = max(8, int(round(c * mult * rng.uniform(0.75, 1.3) / 8)) * 8)
        depth = max(1, n + rng.choice([-1, 0, 0, 1])) if i else 1
        exp = 1.0 if i == 0 else float(rng.choice([3, 4, 6, 6]))
        stages.append(StageSpec(w, depth, rng.choice([3, 3, 5, 7]), s, exp, rng.random() < 0.25))
    return NetSpec("mobilenet_v2_like", res, max(8, int(round(32 * mult / 8)) * 8), tuple(stages),
                   rng.choice([960, 1280, 1280]), rng.choice(["relu6", "relu6", "hswish", "silu"]))


def sample_specs(n: int, seed: int, exclude: Sequence[NetSpec] = ()) -> List[NetSpec]:
    """``n`` distinct network specs from ``seed``; none equal to a spec in ``exclude``."""
    rng = random.Random(seed)
    seen = set(exclude)
    out: List[NetSpec] = []
    while len(out) < n:
        s = sample_spec(rng)
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def build(spec: NetSpec) -> nn.Module:
    torch.manual_seed(0)
    return SampledNet(spec).eval()


def calibration_specs(n: int) -> List[NetSpec]:
    return sample_specs(n, CALIBRATION_SEED)


def validation_specs(n: int, n_calibration: int = 200) -> List[NetSpec]:
    """Held-out networks: seed :data:`VALIDATION_SEED`, excluding the first ``n_calibration``
    calibration specs (disjoint by construction)."""
    return sample_specs(n, VALIDATION_SEED, exclude=calibration_specs(n_calibration))


# ---------------------------------------------------------------------------------------------
# single-op micro-benchmarks
# ---------------------------------------------------------------------------------------------
class _Fn(nn.Module):
    """Wraps a functional op so the tracer records it (``fn(x)`` or ``fn(*xs)``)."""

    def __init__(self, fn: Callable, n_inputs: int = 1):
        super().__init__()
        self.fn = fn
        self.n_inputs = n_inputs

    def forward(self, *xs):
        return self.fn(*xs)


@dataclass
class OpConfig:
    kind: str
    module: nn.Module
    input_shape: object  # one shape or a list of shapes

    @property
    def label(self) -> str:
        return f"{self.kind}:{type(self.module).__name__}:{self.input_shape}"


def _ch(rng, lo=8, hi=1024, mult=8):
    v = int(round(2 ** rng.uniform(_log2(lo), _log2(hi))))
    return max(lo, v // mult * mult) if mult > 1 else v


def _log2(v):
    import math
    return math.log2(v)


def _res(rng, choices=(7, 7, 10, 14, 14, 20, 28, 28, 40, 56, 56, 64, 80, 112, 112, 128)):
    return rng.choice(choices)


def _limit(c, r, max_numel=4_000_000):
    while c * r * r > max_numel and r > 7:
        r //= 2
    return r


def _conv_config(rng, kind: str) -> OpConfig:
    r = _res(rng)
    stride = rng.choice([1, 1, 2])
    if kind == "pointwise_conv":
        cin, cout, k, g, d = _ch(rng, 8, 2048), _ch(rng, 8, 2048), 1, 1, 1
        stride = 1 if rng.random() < 0.9 else 2
    elif kind == "depthwise_conv":
        cin = _ch(rng, 8, 2048, rng.choice([2, 8]))
        cout, k, g, d = cin, rng.choice([3, 3, 5, 7]), cin, 1
    elif kind == "group_conv":
        # ResNeXt-like (many groups, few channels each, square) to ShuffleNetV1-like (g = 2..8
        # pointwise, many channels per group, cin != cout)
        g = rng.choice([2, 3, 4, 8, 16, 32, 32, 64])
        cpg = max(2, int(round(2 ** rng.uniform(1, 8))))
        while g * cpg > 2048:
            cpg //= 2
        cin = g * max(2, cpg)
        cout = cin if rng.random() < 0.5 else g * max(2, int(round(cin / g * 2 ** rng.uniform(-2, 2))))
        cout = min(cout, g * max(2, 2048 // g))
        k, d = rng.choice([1, 1, 3, 3, 3, 5]), 1
    elif kind == "dilated_conv":
        cin, cout, k, g, d = _ch(rng, 8, 256), _ch(rng, 8, 256), 3, 1, rng.choice([2, 3, 4])
        stride = 1
    else:  # standard
        cin = rng.choice([3, 3, 8, 16]) if rng.random() < 0.3 else _ch(rng, 8, 512)
        cout = _ch(rng, 8, 512)
        k, g, d = rng.choice([3, 3, 5, 7]), 1, 1
    r = _limit(max(cin, cout), r)
    # keep every benchmark under ~0.5 G multiply-adds so one config stays well under a second
    while cin * cout // g * k * k * (r // stride) ** 2 > 5e8 and r > 7:
        r = max(7, r // 2)
    conv = nn.Conv2d(cin, cout, k, stride, (k - 1) // 2 * d, dilation=d, groups=g,
                     bias=rng.random() < 0.2)
    return OpConfig(kind, conv, (1, cin, r, r))


def _act_config(rng) -> OpConfig:
    c, r = _ch(rng, 8, 1024, rng.choice([2, 8])), _res(rng)
    if rng.random() < 0.15:
        r = 1  # SE gates
    r = _limit(c, r)
    name = rng.choice(["ReLU", "ReLU", "ReLU_inplace", "ReLU6", "Hardswish", "Hardsigmoid", "SiLU",
                       "Sigmoid", "PReLU"])
    mod = {"ReLU": lambda: nn.ReLU(), "ReLU_inplace": lambda: nn.ReLU(inplace=True),
           "ReLU6": lambda: nn.ReLU6(inplace=True), "Hardswish": lambda: nn.Hardswish(inplace=True),
           "Hardsigmoid": lambda: nn.Hardsigmoid(), "SiLU": lambda: nn.SiLU(inplace=True),
           "Sigmoid": lambda: nn.Sigmoid(), "PReLU": lambda: nn.PReLU(c)}[name]()
    return OpConfig("act", mod, (1, c, r, r))


def _pool_config(rng) -> OpConfig:
    c, r = _ch(rng, 8, 2048, rng.choice([2, 8])), _res(rng)
    r = _limit(c, r)
    choice = rng.choice(["max", "avg3", "avg2", "adaptive", "adaptive"])
    mod = {"max": lambda: nn.MaxPool2d(3, 2, 1), "avg3": lambda: nn.AvgPool2d(3, rng.choice([1, 2]), 1),
           "avg2": lambda: nn.AvgPool2d(2), "adaptive": lambda: nn.AdaptiveAvgPool2d(1)}[choice]()
    return OpConfig("pool", mod, (1, c, r, r))


def _shape(rng, lo=8, hi=1024):
    c = _ch(rng, lo, hi, rng.choice([2, 8]))
    r = _limit(c, _res(rng))
    return c, r


def _elementwise_config(rng) -> OpConfig:
    c, r = _shape(rng)
    op = rng.choice(["add", "add", "add_", "mul_bcast", "mul"])
    if op == "mul_bcast":
        return OpConfig("elementwise", _Fn(lambda a, b: a * b, 2), [(1, c, r, r), (1, c, 1, 1)])
    fn = {"add": lambda a, b: a + b, "add_": lambda a, b: a.add_(b), "mul": lambda a, b: a * b}[op]
    return OpConfig("elementwise", _Fn(fn, 2), [(1, c, r, r), (1, c, r, r)])


def _concat_config(rng) -> OpConfig:
    k = rng.choice([2, 2, 2, 3, 4])
    _, r = _shape(rng)
    cs = [_ch(rng, 4, 512, 2) for _ in range(k)]
    r = _limit(sum(cs), r)
    return OpConfig("concat", _Fn(lambda *xs: torch.cat(xs, 1), k), [(1, c, r, r) for c in cs])


def _split_config(rng) -> OpConfig:
    c, r = _shape(rng, 16, 1024)
    c -= c % 4
    if rng.random() < 0.6:
        fn = lambda x: torch.chunk(x, 2, dim=1)  # noqa: E731
    else:
        sizes = [c // 4, c // 4, c - c // 2]
        fn = lambda x: torch.split(x, sizes, dim=1)  # noqa: E731
    return OpConfig("split", _Fn(fn), (1, c, r, r))


def _shuffle_config(rng) -> OpConfig:
    c, r = _shape(rng, 16, 1024)
    g = rng.choice([2, 2, 3, 4, 8])
    c = max(g, c // g * g)
    return OpConfig("shuffle", _Fn(lambda x: channel_shuffle(x, g)), (1, c, r, r))


def _view_config(rng) -> OpConfig:
    c = _ch(rng, 8, 2048)
    r = rng.choice([1, 1, 7, 14])
    fn = rng.choice([lambda x: torch.flatten(x, 1), lambda x: x.view(x.shape[0], -1),
                     lambda x: x.flatten(1)])
    return OpConfig("view", _Fn(fn), (1, c, r, r))


def _linear_config(rng) -> OpConfig:
    cin = _ch(rng, 64, 4096)
    cout = rng.choice([10, 100, 1000, 1000, _ch(rng, 16, 4096)])
    return OpConfig("linear", nn.Linear(cin, cout), (1, cin))


def _norm_config(rng) -> OpConfig:
    c, r = _shape(rng)
    return OpConfig("norm", nn.BatchNorm2d(c).eval(), (1, c, r, r))


def _shift_config(rng) -> OpConfig:
    c, r = _shape(rng, 16, 512)
    kind = rng.choice(["grouped", "active", "sparse"])
    if kind == "grouped":
        c = max(9, c // 9 * 9)
        return OpConfig("shift", shift_layers.GroupedShift(c, 3), (1, c, r, r))
    if kind == "active":
        return OpConfig("shift", shift_layers.ActiveShift(c), (1, c, r, r))
    return OpConfig("shift", shift_layers.SparseShift(c), (1, c, r, r))


_SAMPLERS = {
    "conv": lambda rng: _conv_config(rng, "conv"),
    "pointwise_conv": lambda rng: _conv_config(rng, "pointwise_conv"),
    "depthwise_conv": lambda rng: _conv_config(rng, "depthwise_conv"),
    "group_conv": lambda rng: _conv_config(rng, "group_conv"),
    "dilated_conv": lambda rng: _conv_config(rng, "dilated_conv"),
    "linear": _linear_config, "norm": _norm_config, "act": _act_config, "pool": _pool_config,
    "elementwise": _elementwise_config, "concat": _concat_config, "split": _split_config,
    "shuffle": _shuffle_config, "view": _view_config, "shift": _shift_config,
}
#: relative sampling weight per kind (convolutions vary the most)
KIND_WEIGHTS = {"conv": 3, "pointwise_conv": 4, "depthwise_conv": 4, "group_conv": 4,
                "dilated_conv": 1, "linear": 1, "norm": 2, "act": 3, "pool": 2, "elementwise": 2,
                "concat": 1, "split": 1, "shuffle": 1, "view": 1, "shift": 1}


def iter_op_configs(seed: int = CALIBRATION_SEED, kinds: Optional[Sequence[str]] = None
                    ) -> Iterator[OpConfig]:
    """Endless op micro-benchmarks, kinds interleaved round-robin by weight (so a budget cut keeps
    every kind covered); built lazily (a 2048x2048 pointwise conv holds 16 MB of weights)."""
    rng = random.Random(seed)
    torch.manual_seed(seed % (2 ** 31))
    kinds = list(kinds or _SAMPLERS)
    cycle: List[str] = []
    for rnd in range(max(KIND_WEIGHTS.values())):
        cycle += [k for k in kinds if KIND_WEIGHTS.get(k, 1) > rnd]
    i = 0
    while True:
        yield _SAMPLERS[cycle[i % len(cycle)]](rng)
        i += 1


def sample_op_configs(n: int, seed: int = CALIBRATION_SEED, kinds: Optional[Sequence[str]] = None
                      ) -> List[OpConfig]:
    """The first ``n`` configs of :func:`iter_op_configs`."""
    it = iter_op_configs(seed, kinds)
    return [next(it) for _ in range(n)]
