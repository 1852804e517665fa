r"""The four micro-benchmark networks of ShuffleNetV2's Section 2 (Ma et al. 2018, arXiv:1807.11164)
and their analytic FLOPs / MAC from the paper's equations.

Every network is a plain stack of ``repeats`` (10 in the paper) identical blocks on an
``N x C x 56 x 56`` input, with no BN and no bias (the paper times "fully optimized" networks with
tensor fusion on; BN would be folded into the convolutions):

``G1Net(c1, c2)``  (Table 1)
    each block: 1x1 conv :math:`c_1 \to c_2`, then 1x1 conv :math:`c_2 \to c_1` ("the first
    contains :math:`c_1` input channels and :math:`c_2` output channels, and the second otherwise").
``G2Net(c, g)``  (Table 2)
    each block: one 1x1 group conv :math:`c \to c` with ``g`` groups.
``G3Net(structure, c)``  (Table 3, blocks of the paper's Appendix Fig. 1)
    ``1-fragment``: one 1x1 conv :math:`c \to c`; ``k-fragment-series``: ``k`` 1x1 convs
    :math:`c' \to c'` in sequence with :math:`c' = \mathrm{round}(c/\sqrt{k})` ("the channel number
    in other fragmented structures is adjusted so that the FLOPs is the same as 1-fragment");
    ``k-fragment-parallel``: ``k`` 1x1 convs :math:`c \to c/k` reading the same input, outputs
    concatenated (same FLOPs as 1-fragment without changing ``c``).  **Assumption:** Appendix
    Fig. 1 is an image that could not be retrieved as text; that the parallel branches are joined
    by a concatenation (Inception style, the multi-path structure G3 discusses) rather than by a
    sum is our reading, not a quoted fact.
``G4Net(c, relu, shortcut)``  (Table 4)
    each block: the ResNet bottleneck :math:`c \to c/4` (1x1), :math:`c/4 \to c/4` (3x3),
    :math:`c/4 \to c` (1x1), ReLU after the first two convs and after the (optional) residual add.
    **Assumptions:** the paper gives neither the resolution nor the bottleneck width of Table 4;
    we use 56 x 56 like Tables 1-3, ``c`` as the unit's input/output width ("c is the number of
    channels in unit") and ResNet's expansion 4 (bottleneck ``c/4``).  A throughput check on the
    paper's own ARM figures supports this reading: with ``c/4`` bottlenecks the ARM column implies
    2-3 GMAC/s, in line with the 5 GMAC/s the 1x1 benchmarks of Tables 1-3 imply, whereas ``4c``
    expansions would need an impossible 31 GMAC/s from one Cortex-A57 core.

The analytic functions below implement the paper's Eq. 1 and Eq. 2 (per 1x1 layer,
:math:`B = hwc_1c_2/g` multiply-adds, :math:`\mathrm{MAC} = hw(c_1+c_2) + c_1c_2/g`), summed over
the network; tests check them against :func:`costmodel.analyze`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import torch
import torch.nn as nn

RESOLUTION = 56
REPEATS = 10

G3_STRUCTURES = ("1-fragment", "2-fragment-series", "4-fragment-series", "2-fragment-parallel",
                 "4-fragment-parallel")


def _conv1x1(cin: int, cout: int, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 1, groups=groups, bias=False)


class G1Block(nn.Sequential):
    """1x1 conv c1 -> c2, then 1x1 conv c2 -> c1 (Table 1)."""

    def __init__(self, c1: int, c2: int):
        super().__init__(_conv1x1(c1, c2), _conv1x1(c2, c1))


class G1Net(nn.Sequential):
    """``repeats`` G1 blocks; input ``N x c1 x 56 x 56``."""

    def __init__(self, c1: int, c2: int, repeats: int = REPEATS):
        super().__init__(*[G1Block(c1, c2) for _ in range(repeats)])
        self.c1, self.c2, self.repeats = c1, c2, repeats

    def input_shape(self, batch: int = 1, resolution: int = RESOLUTION) -> Tuple[int, ...]:
        return (batch, self.c1, resolution, resolution)


class G2Net(nn.Sequential):
    """``repeats`` 1x1 group convs c -> c with ``g`` groups (Table 2)."""

    def __init__(self, c: int, g: int, repeats: int = REPEATS):
        if c % g:
            raise ValueError(f"c={c} is not divisible by g={g}")
        super().__init__(*[_conv1x1(c, c, g) for _ in range(repeats)])
        self.c, self.g, self.repeats = c, g, repeats

    def input_shape(self, batch: int = 1, resolution: int = RESOLUTION) -> Tuple[int, ...]:
        return (batch, self.c, resolution, resolution)


def fragment_width(structure: str, c: int) -> int:
    """Channel width of the block input for a Table 3 structure with 1-fragment width ``c``."""
    k, arrangement = _parse_structure(structure)
    if arrangement == "series":
        return int(round(c / math.sqrt(k)))
    return c


def _parse_structure(structure: str) -> Tuple[int, str]:
    if structure not in G3_STRUCTURES:
        raise ValueError(f"unknown structure {structure!r}; one of {', '.join(G3_STRUCTURES)}")
    if structure == "1-fragment":
        return 1, "single"
    k, _, arrangement = structure.split("-")
    return int(k), arrangement


class ParallelFragments(nn.Module):
    """``k`` 1x1 convs c -> c/k on the same input, concatenated (Appendix Fig. 1 (d)/(e))."""

    def __init__(self, c: int, k: int):
        super().__init__()
        if c % k:
            raise ValueError(f"c={c} is not divisible by {k} branches")
        self.branches = nn.ModuleList(_conv1x1(c, c // k) for _ in range(k))

    def forward(self, x):
        return torch.cat([b(x) for b in self.branches], 1)


class G3Net(nn.Sequential):
    """``repeats`` Table 3 blocks of one ``structure`` with 1-fragment width ``c``."""

    def __init__(self, structure: str, c: int, repeats: int = REPEATS):
        k, arrangement = _parse_structure(structure)
        width = fragment_width(structure, c)
        blocks: List[nn.Module] = []
        for _ in range(repeats):
            if arrangement == "parallel":
                blocks.append(ParallelFragments(width, k))
            else:
                blocks.append(nn.Sequential(*[_conv1x1(width, width) for _ in range(k)]))
        super().__init__(*blocks)
        self.structure, self.c, self.width, self.k, self.repeats = structure, c, width, k, repeats

    def input_shape(self, batch: int = 1, resolution: int = RESOLUTION) -> Tuple[int, ...]:
        return (batch, self.width, resolution, resolution)


class Bottleneck(nn.Module):
    """ResNet bottleneck c -> c/4 (1x1) -> c/4 (3x3) -> c (1x1), optional ReLUs and shortcut."""

    def __init__(self, c: int, relu: bool = True, shortcut: bool = True):
        super().__init__()
        if c % 4:
            raise ValueError(f"c={c} is not divisible by 4")
        mid = c // 4
        self.conv1 = nn.Conv2d(c, mid, 1, bias=False)
        self.conv2 = nn.Conv2d(mid, mid, 3, padding=1, bias=False)
        self.conv3 = nn.Conv2d(mid, c, 1, bias=False)
        self.relu, self.shortcut = relu, shortcut

    def forward(self, x):
        out = self.conv1(x)
        if self.relu:
            out = torch.relu(out)
        out = self.conv2(out)
        if self.relu:
            out = torch.relu(out)
        out = self.conv3(out)
        if self.shortcut:
            out = out + x
        if self.relu:
            out = torch.relu(out)
        return out


class G4Net(nn.Sequential):
    """``repeats`` bottlenecks of width ``c`` (Table 4)."""

    def __init__(self, c: int, relu: bool = True, shortcut: bool = True, repeats: int = REPEATS):
        super().__init__(*[Bottleneck(c, relu, shortcut) for _ in range(repeats)])
        self.c, self.relu, self.shortcut, self.repeats = c, relu, shortcut, repeats

    def input_shape(self, batch: int = 1, resolution: int = RESOLUTION) -> Tuple[int, ...]:
        return (batch, self.c, resolution, resolution)


# ---------------------------------------------------------------------------------------------
# the networks by name, so a fresh process can build them (costmodel.latency.named)
# ---------------------------------------------------------------------------------------------
#: prefix of a micro-benchmark's name: ``guidelines:G1:c1:c2``, ``guidelines:G2:c:g``,
#: ``guidelines:G3:structure:c``, ``guidelines:G4:c:relu:shortcut`` (relu, shortcut 0 or 1)
NAME_PREFIX = "guidelines"


def net_name(table: str, *params) -> str:
    """The name of one micro-benchmark network (see :data:`NAME_PREFIX`)."""
    return ":".join([NAME_PREFIX, table] + [str(int(p)) if isinstance(p, bool) else str(p)
                                              for p in params])


def build_named(name: str) -> nn.Module:
    """The network called ``name`` (:func:`net_name`); KeyError for a malformed name."""
    parts = name.split(":")
    try:
        if parts[0] != NAME_PREFIX or len(parts) < 2:
            raise ValueError
        table, args = parts[1], parts[2:]
        if table == "G1" and len(args) == 2:
            return G1Net(int(args[0]), int(args[1]))
        if table == "G2" and len(args) == 2:
            return G2Net(int(args[0]), int(args[1]))
        if table == "G3" and len(args) == 2:
            return G3Net(args[0], int(args[1]))
        if table == "G4" and len(args) == 3 and set(args[1:]) <= {"0", "1"}:
            return G4Net(int(args[0]), args[1] == "1", args[2] == "1")
        raise ValueError
    except ValueError as exc:
        detail = f": {exc}" if str(exc) else ""
        raise KeyError(f"bad guideline network name {name!r}{detail} (expected "
                       f"{NAME_PREFIX}:G1:C1:C2, :G2:C:G, :G3:STRUCTURE:C or :G4:C:RELU:SHORTCUT)"
                       ) from None


# ---------------------------------------------------------------------------------------------
# the paper's equations
# ---------------------------------------------------------------------------------------------
def pointwise_flops(h: int, w: int, c1: int, c2: int, g: int = 1) -> int:
    """Multiply-adds ("FLOPs" in the paper) of one 1x1 (group) conv: :math:`B = hwc_1c_2/g`."""
    return h * w * c1 * c2 // g


def pointwise_mac(h: int, w: int, c1: int, c2: int, g: int = 1) -> int:
    """MAC of one 1x1 (group) conv: Eq. 2, :math:`hw(c_1+c_2) + c_1c_2/g` (Eq. 1's case g=1)."""
    return h * w * (c1 + c2) + c1 * c2 // g


def g1_bound(h: int, w: int, flops: int) -> float:
    """Eq. 1's lower bound :math:`2\\sqrt{hwB} + B/hw` for one 1x1 conv."""
    return 2 * math.sqrt(h * w * flops) + flops / (h * w)


@dataclass
class Analytic:
    """Paper-equation totals of one benchmark network (batch 1)."""

    flops: int  # multiply-adds, the paper's FLOPs
    mac: int  # elements, the paper's MAC (activations read + weights + activations written)
    mac_bound: float = float("nan")  # G1: sum of the Eq. 1 bounds
    parts: Dict[str, int] = field(default_factory=dict)


def g1_analytic(c1: int, c2: int, repeats: int = REPEATS, hw: int = RESOLUTION) -> Analytic:
    f = pointwise_flops(hw, hw, c1, c2)
    per_layer = pointwise_mac(hw, hw, c1, c2)
    n = 2 * repeats
    return Analytic(n * f, n * per_layer, n * g1_bound(hw, hw, f))


def g2_analytic(c: int, g: int, repeats: int = REPEATS, hw: int = RESOLUTION) -> Analytic:
    return Analytic(repeats * pointwise_flops(hw, hw, c, c, g), repeats * pointwise_mac(hw, hw, c, c, g))


def g3_analytic(structure: str, c: int, repeats: int = REPEATS, hw: int = RESOLUTION) -> Analytic:
    """Series: ``k`` layers of Eq. 1 each.  Parallel: ``k`` layers :math:`c \\to c/k` (each reads
    the whole input: MAC :math:`hw(c + c/k) + c^2/k`) plus the concat, which reads and writes the
    block output (:math:`2hwc`)."""
    k, arrangement = _parse_structure(structure)
    width = fragment_width(structure, c)
    if arrangement == "parallel":
        convs = k * pointwise_mac(hw, hw, width, width // k)
        concat = 2 * hw * hw * width
        f = k * pointwise_flops(hw, hw, width, width // k)
        return Analytic(repeats * f, repeats * (convs + concat),
                        parts={"conv_mac": repeats * convs, "concat_mac": repeats * concat})
    f = k * pointwise_flops(hw, hw, width, width)
    return Analytic(repeats * f, repeats * k * pointwise_mac(hw, hw, width, width))


def g4_analytic(c: int, relu: bool, shortcut: bool, repeats: int = REPEATS,
                hw: int = RESOLUTION) -> Analytic:
    """Convs: :math:`hw(c + c/4) + c^2/4` twice plus the 3x3 :math:`2hw\\,c/4 + 9(c/4)^2`;
    ReLU (read + write) :math:`2hw\\,c/4` twice and :math:`2hwc` once; the add reads two tensors
    and writes one: :math:`3hwc`."""
    m = c // 4
    a = hw * hw
    conv = 2 * pointwise_mac(hw, hw, c, m) + (2 * a * m + 9 * m * m)
    flops = 2 * pointwise_flops(hw, hw, c, m) + a * m * m * 9
    relu_mac = (2 * (2 * a * m) + 2 * a * c) if relu else 0
    add_mac = 3 * a * c if shortcut else 0
    return Analytic(repeats * flops, repeats * (conv + relu_mac + add_mac),
                    parts={"conv_mac": repeats * conv, "relu_mac": repeats * relu_mac,
                           "shortcut_mac": repeats * add_mac})
