"""The building blocks a design space can choose from: the zoo's own modules, by name.

Every block type maps ``(cin, cout, stride, params)`` to an ``nn.Module`` from
:mod:`costmodel.zoo` and says which parameters it takes (:class:`Param`: type, range, default)
and which channel counts it cannot build (:meth:`BlockType.problem`), so that a space file is
checked once, when it is loaded, and never fails half way through a sweep.

======================  ===========================================  ==========================
type                    module                                       parameters (default)
======================  ===========================================  ==========================
``mbconv``              :class:`costmodel.zoo.mbconv.MBConv`          kernel (3), expansion (6),
                        (MobileNetV2 inverted residual)               se (false), act (relu6)
``shufflev2``           :class:`costmodel.zoo.shufflenet_v2.          kernel (3), act (relu)
                        ShuffleV2Unit`
``bottleneck``          :class:`costmodel.zoo.resnet.Bottleneck`      groups (1),
                        (ResNet / ResNeXt grouped bottleneck)         bottleneck_width (64)
``shift``               :class:`costmodel.zoo.shiftnet.CSC`           kernel (3), expansion (3)
                        (ShiftNet conv-shift-conv)
``mixconv``             :class:`costmodel.zoo.mixnet.MixBlock`        kernels ([3, 5]),
                        (MixNet block, MixConv depthwise)             expansion (6), se_ratio (0),
                                                                      swish (false), groups (1)
======================  ===========================================  ==========================

The stem (:func:`build_stem`: a conv-BN-act, optionally a 3x3/2 max pool) and the head
(:func:`build_head`: optional 1x1 conv-BN-act, global average pool, flatten, linear) are pieces
too: a candidate network is ``nn.Sequential(stem, *blocks, head)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Tuple

import torch.nn as nn

from costmodel.zoo.common import ConvBNAct
from costmodel.zoo.mbconv import MBConv
from costmodel.zoo.mixnet import MixBlock
from costmodel.zoo.resnet import Bottleneck
from costmodel.zoo.shiftnet import CSC
from costmodel.zoo.shufflenet_v2 import ShuffleV2Unit

#: activations a space may name
ACTS = {"relu": nn.ReLU, "relu6": nn.ReLU6, "hswish": nn.Hardswish, "silu": nn.SiLU}
#: the largest kernel size a space may use
MAX_KERNEL = 11


@dataclass(frozen=True)
class Param:
    """One block parameter: ``kind`` is ``int``, ``number``, ``bool``, ``act`` or ``kernels`` (a
    list of odd kernel sizes); ints and numbers lie in ``[lo, hi]``; ``odd``: odd ints only."""

    kind: str
    default: Any
    lo: float = 0
    hi: float = 0
    odd: bool = False

    def problem(self, value) -> Optional[str]:
        """Why ``value`` is not a valid value of this parameter (None when it is)."""
        if self.kind == "bool":
            return None if isinstance(value, bool) else "expected true or false"
        if self.kind == "act":
            return None if value in ACTS else f"expected one of {', '.join(ACTS)}"
        if self.kind == "kernels":
            if not isinstance(value, list) or not value or len(value) > 8:
                return "expected a list of 1 to 8 odd kernel sizes"
            bad = [self._int_problem(v, 1, MAX_KERNEL, True) for v in value]
            return next((b for b in bad if b), None)
        if self.kind == "int":
            return self._int_problem(value, self.lo, self.hi, self.odd)
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not (self.lo <= value <= self.hi):
            return f"expected a number in [{self.lo:g}, {self.hi:g}]"
        return None

    @staticmethod
    def _int_problem(value, lo, hi, odd) -> Optional[str]:
        if isinstance(value, bool) or not isinstance(value, int) or not (lo <= value <= hi) \
                or (odd and value % 2 == 0):
            return f"expected {'an odd' if odd else 'an'} integer in [{lo:g}, {hi:g}]"
        return None


@dataclass(frozen=True)
class BlockType:
    """A block type: its parameters, a builder ``(cin, cout, stride, params) -> nn.Module`` and
    a check ``(cin, cout, stride, params) -> reason or None``."""

    name: str
    params: Dict[str, Param]
    builder: Callable[..., nn.Module]
    checker: Callable[..., Optional[str]]

    def full(self, params: Dict[str, Any]) -> Dict[str, Any]:
        """``params`` with every missing parameter at its default."""
        return {k: params.get(k, p.default) for k, p in self.params.items()}

    def build(self, cin: int, cout: int, stride: int, params: Dict[str, Any]) -> nn.Module:
        return self.builder(cin, cout, stride, self.full(params))

    def problem(self, cin: int, cout: int, stride: int, params: Dict[str, Any]) -> Optional[str]:
        return self.checker(cin, cout, stride, self.full(params))


def mbconv_hidden(cin: int, expansion: float) -> int:
    """MBConv's expanded width: ``cin`` at expansion 1 (no expansion conv), else
    ``round(cin * expansion)`` (MobileNetV2's ``cin * t`` for integer ``t``)."""
    return cin if expansion == 1 else max(1, int(round(cin * expansion)))


def _mbconv(cin, cout, stride, p):
    hidden = mbconv_hidden(cin, p["expansion"])
    se = max(8, hidden // 4) if p["se"] else None
    return MBConv(cin, cout, hidden, p["kernel"], stride, act=ACTS[p["act"]], se_channels=se)


def _shufflev2(cin, cout, stride, p):
    return ShuffleV2Unit(cin, cout, stride, p["kernel"], ACTS[p["act"]])


def _shufflev2_problem(cin, cout, stride, p):
    if cout % 2:
        return f"needs an even output width, got {cout}"
    if stride == 1 and cin != cout:
        return f"a stride-1 unit keeps its width, got {cin} -> {cout}"
    return None


def _bottleneck(cin, cout, stride, p):
    return Bottleneck(cin, cout // 4, stride, p["groups"], p["bottleneck_width"])


def _bottleneck_problem(cin, cout, stride, p):
    if cout % 4:
        return f"needs an output width divisible by 4 (bottleneck x4), got {cout}"
    return None


def _shift(cin, cout, stride, p):
    return CSC(cin, cout, stride, p["expansion"], p["kernel"])


def _shift_problem(cin, cout, stride, p):
    concat = stride != 1 or cin != cout
    branch = cout - cin if concat else cout
    if branch < 1:
        return (f"a strided or widening shift block concatenates its input, so its output width "
                f"must exceed its input width, got {cin} -> {cout}")
    if int(branch * p["expansion"]) < 1:
        return f"expansion {p['expansion']} leaves no hidden channels"
    return None


def _mixconv(cin, cout, stride, p):
    g = p["groups"]
    return MixBlock(cin, cout, p["kernels"], g, g, stride, p["expansion"], p["se_ratio"],
                    p["swish"])


def _mixconv_problem(cin, cout, stride, p):
    mid = cin * p["expansion"]
    if mid < len(p["kernels"]):
        return f"{mid} hidden channels cannot be split into {len(p['kernels'])} kernel groups"
    if p["groups"] > 1 and min(cin, cout) < p["groups"]:
        return f"{min(cin, cout)} channels cannot be split into {p['groups']} groups"
    return None


def _none(*_args):
    return None


BLOCK_TYPES: Dict[str, BlockType] = {b.name: b for b in (
    BlockType("mbconv", {"kernel": Param("int", 3, 1, MAX_KERNEL, odd=True),
                         "expansion": Param("number", 6, 1, 8),
                         "se": Param("bool", False), "act": Param("act", "relu6")},
              _mbconv, _none),
    BlockType("shufflev2", {"kernel": Param("int", 3, 1, MAX_KERNEL, odd=True),
                            "act": Param("act", "relu")},
              _shufflev2, _shufflev2_problem),
    BlockType("bottleneck", {"groups": Param("int", 1, 1, 64),
                             "bottleneck_width": Param("int", 64, 1, 256)},
              _bottleneck, _bottleneck_problem),
    BlockType("shift", {"kernel": Param("int", 3, 3, MAX_KERNEL, odd=True),
                        "expansion": Param("number", 3, 0.25, 8)},
              _shift, _shift_problem),
    BlockType("mixconv", {"kernels": Param("kernels", [3, 5]),
                          "expansion": Param("int", 6, 1, 8),
                          "se_ratio": Param("number", 0, 0, 1), "swish": Param("bool", False),
                          "groups": Param("int", 1, 1, 4)},
              _mixconv, _mixconv_problem),
)}


def build_stem(width: int, kernel: int, stride: int, act: str, pool: bool,
               in_channels: int = 3) -> nn.Module:
    """Conv ``kernel``x``kernel``/``stride`` + BN + act (a :class:`ConvBNAct`), followed by a
    3x3/2 max pool when ``pool`` (ShuffleNet's stem)."""
    conv = ConvBNAct(in_channels, width, kernel, stride, act=ACTS[act])
    return nn.Sequential(conv, nn.MaxPool2d(3, 2, 1)) if pool else conv


def build_head(cin: int, width: int, classes: int, act: str) -> nn.Module:
    """[1x1 conv + BN + act to ``width``] (none when ``width`` is 0), global average pool,
    flatten, linear classifier with bias."""
    layers = []
    if width:
        layers.append(ConvBNAct(cin, width, 1, act=ACTS[act]))
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(width or cin, classes)]
    return nn.Sequential(*layers)


def block_type(name: str) -> Optional[BlockType]:
    return BLOCK_TYPES.get(name)


PieceKey = Tuple[Any, ...]


def build_piece(key: PieceKey) -> nn.Module:
    """The module a piece key (:func:`costmodel.sweep.space.Space.pieces`) describes."""
    if key[0] == "stem":
        _, width, kernel, stride, act, pool, cin = key
        return build_stem(width, kernel, stride, act, pool, cin)
    if key[0] == "head":
        _, cin, width, classes, act = key
        return build_head(cin, width, classes, act)
    _, name, cin, cout, stride, params = key
    return BLOCK_TYPES[name].build(cin, cout, stride, dict(params))
