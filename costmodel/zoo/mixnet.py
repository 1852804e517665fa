"""MixNet: Mingxing Tan, Quoc V. Le 2019, "MixConv: Mixed Depthwise Convolutional Kernels",
arXiv:1907.09595, BMVC 2019.

Layouts of MixNet-S/M (Figure 5 of the paper) as released in the authors' code
(tensorflow/tpu, models/official/mnasnet/mixnet/mixnet_builder.py, block strings of ``mixnet_s``
and ``mixnet_m``; MixNet-L = MixNet-M with channel multiplier 1.3, ``mixnet_l`` there).
Figures (params, multiply-adds, top-1 at 224) from Table 2 of the paper (the paper's "FLOPS" are
multiply-adds, Google's convention); the table itself was read through secondary copies (PaddleClas
MixNet doc, linksense/MixNet-PyTorch README, OpenVINO mixnet-l spec), see published.csv.
"""
from __future__ import annotations

from typing import List, Sequence

import torch
import torch.nn as nn

from costmodel.zoo.common import ConvBNAct, SqueezeExcite, check_width, make_divisible
from costmodel.zoo.registry import Published, register


def split_channels(total: int, groups: int, mode: str = "equal") -> List[int]:
    """Partition ``total`` channels into ``groups`` parts.

    ``"equal"``: ``total // groups`` each, the remainder added to the first group (the official
    TF code's ``_split_channels``; what the released MixNets use).  ``"exponential"``: the paper's
    alternative (Sec. 3), group ``i`` gets ``total // 2**(i+1)`` and the last group the rest,
    e.g. 32 channels in 4 groups -> 16, 8, 4, 4.
    """
    if not isinstance(groups, int) or groups < 1:
        raise ValueError(f"groups must be a positive integer, got {groups!r}")
    if mode == "equal":
        parts = [total // groups] * groups
        parts[0] += total - sum(parts)
    elif mode == "exponential":
        parts = [total // 2 ** (i + 1) for i in range(groups - 1)]
        parts.append(total - sum(parts))
    else:
        raise ValueError(f"split mode must be 'equal' or 'exponential', got {mode!r}")
    if min(parts) < 1:
        raise ValueError(f"cannot split {total} channels into {groups} non-empty {mode} groups")
    return parts


class MixConv2d(nn.Module):
    """Mixed-kernel convolution: the channels are split into ``len(kernel_sizes)`` groups
    (:func:`split_channels`), each group runs through its own ``nn.Conv2d`` with its own kernel
    size, and the outputs are concatenated.

    ``depthwise=True`` is MixConv (MDConv in the official code): each piece is a depthwise conv,
    ``out_channels`` must equal ``in_channels``.  ``depthwise=False`` is the official
    ``GroupedConv2D``: input and output channels are both split and each piece is a dense conv
    (MixNet's grouped 1x1 expand/project convs; pieces may differ in size, unlike ``groups=``).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_sizes: Sequence[int],
                 stride: int = 1, depthwise: bool = True, split: str = "equal"):
        super().__init__()
        if depthwise and out_channels != in_channels:
            raise ValueError("depthwise MixConv2d needs out_channels == in_channels")
        self.splits = split_channels(in_channels, len(kernel_sizes), split)
        outs = self.splits if depthwise else split_channels(out_channels, len(kernel_sizes), split)
        self.convs = nn.ModuleList(
            nn.Conv2d(ci, co, k, stride, k // 2, groups=ci if depthwise else 1, bias=False)
            for ci, co, k in zip(self.splits, outs, kernel_sizes))

    def forward(self, x):
        pieces = torch.split(x, self.splits, dim=1)
        return torch.cat([conv(p) for conv, p in zip(self.convs, pieces)], dim=1)


def _conv_bn(cin, cout, kernel_sizes, stride=1, depthwise=False, act=None, split="equal"):
    """A (mixed) conv + BN + optional activation; a single kernel size gives a plain Conv2d."""
    if len(kernel_sizes) == 1:
        k = kernel_sizes[0]
        conv = nn.Conv2d(cin, cout, k, stride, k // 2, groups=cin if depthwise else 1, bias=False)
    else:
        conv = MixConv2d(cin, cout, kernel_sizes, stride, depthwise, split)
    layers = [conv, nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act(inplace=True))
    return nn.Sequential(*layers)


class MixBlock(nn.Module):
    """MixNet inverted bottleneck: [grouped 1x1 expand + BN + act] -> MixConv depthwise + BN +
    act -> [SE] -> grouped 1x1 project + BN, identity shortcut when stride 1 and cin == cout."""

    def __init__(self, cin, cout, kernels, exp_groups, proj_groups, stride, expand, se_ratio,
                 swish, split="equal"):
        super().__init__()
        act = nn.SiLU if swish else nn.ReLU
        mid = cin * expand
        self.expand = _conv_bn(cin, mid, [1] * exp_groups, act=act) if expand != 1 else nn.Identity()
        self.dw = _conv_bn(mid, mid, kernels, stride, depthwise=True, act=act, split=split)
        # official: reduced width from the block's *input* channels, SE act = block act
        self.se = SqueezeExcite(mid, max(1, int(cin * se_ratio)), act=act) if se_ratio else nn.Identity()
        self.project = _conv_bn(mid, cout, [1] * proj_groups)
        self.use_skip = stride == 1 and cin == cout

    def forward(self, x):
        y = self.project(self.se(self.dw(self.expand(x))))
        return x + y if self.use_skip else y


# (repeat, dw kernel sizes, expand groups, project groups, stride, expand ratio, out channels,
#  SE ratio, swish) -- the official block strings r_k_a_p_s_e_o_se_sw, input channels implied.
_S = dict(stem=16, dropout=0.2, blocks=[
    (1, (3,), 1, 1, 1, 1, 16, None, False),
    (1, (3,), 2, 2, 2, 6, 24, None, False),
    (1, (3,), 2, 2, 1, 3, 24, None, False),
    (1, (3, 5, 7), 1, 1, 2, 6, 40, 0.5, True),
    (3, (3, 5), 2, 2, 1, 6, 40, 0.5, True),
    (1, (3, 5, 7), 1, 2, 2, 6, 80, 0.25, True),
    (2, (3, 5), 1, 2, 1, 6, 80, 0.25, True),
    (1, (3, 5, 7), 2, 2, 1, 6, 120, 0.5, True),
    (2, (3, 5, 7, 9), 2, 2, 1, 3, 120, 0.5, True),
    (1, (3, 5, 7, 9, 11), 1, 1, 2, 6, 200, 0.5, True),
    (2, (3, 5, 7, 9), 1, 2, 1, 6, 200, 0.5, True),
])
_M = dict(stem=24, dropout=0.25, blocks=[
    (1, (3,), 1, 1, 1, 1, 24, None, False),
    (1, (3, 5, 7), 2, 2, 2, 6, 32, None, False),
    (1, (3,), 2, 2, 1, 3, 32, None, False),
    (1, (3, 5, 7, 9), 1, 1, 2, 6, 40, 0.5, True),
    (3, (3, 5), 2, 2, 1, 6, 40, 0.5, True),
    (1, (3, 5, 7), 1, 1, 2, 6, 80, 0.25, True),
    (3, (3, 5, 7, 9), 2, 2, 1, 6, 80, 0.25, True),
    (1, (3,), 1, 1, 1, 6, 120, 0.5, True),
    (3, (3, 5, 7, 9), 2, 2, 1, 3, 120, 0.5, True),
    (1, (3, 5, 7, 9), 1, 1, 2, 6, 200, 0.5, True),
    (3, (3, 5, 7, 9), 1, 2, 1, 6, 200, 0.5, True),
])


class MixNet(nn.Module):
    """MixNet: 3x3 stride-2 stem conv + BN + ReLU, a stack of :class:`MixBlock` (mixed-kernel
    depthwise convs, grouped 1x1 expand/project convs, SE with ratio 0.25/0.5 of the block input
    and swish in the later stages, ReLU without SE in the first three), 1x1 head conv to 1536 +
    BN + ReLU, global average pooling, dropout and a 1000-way Linear.

    Choices, all following the official TF code: channel groups of MixConv and of the grouped
    1x1 convs use the *equal* split with the remainder in the first group (``_split_channels``),
    not the paper's exponential partition (available as ``split="exponential"`` for the depthwise
    MixConvs only); SE reduced width ``max(1, int(block_in * se_ratio))`` and SE activation =
    block activation; the multiplier ``width`` rounds stem and block channels to multiples of 8
    (``round_filters``), leaves the 1536-wide head and the repeats unchanged (MixNet-L = M at
    1.3; the class accepts up to 5.2 so that the L factory's own width can reach 4.0).
    Other gaps: symmetric padding ``k // 2`` instead of TF "same" (identical output sizes and
    cost at 224); BN eps/momentum at PyTorch defaults and dropout inactive (no cost effect).

    Parameters match independent implementations exactly (4,134,606 / 5,014,382 / 7,329,252 for
    S/M/L, the counts asserted in osmr/imgclsmob pytorchcv mixnet.py; timm lists 4.13/5.01/7.33M)
    and Table 2 within 0.9%.  Conv + linear multiply-adds are 239.2M / 339.2M / 555.3M at 224,
    i.e. -6.6% / -5.8% / -1.7% against Table 2's 256 / 360 / 565M.  No counting convention closes
    this: adding every BN, activation, SE gate and residual add (13.6 / 17.7 / 23.4M) gives
    252.8 / 356.9 / 578.7M -- PaddleClas's published 253.0 / 357.1 / 579.0M -- which is still
    below the paper for S/M and above it for L; the paper's L/M ratio (1.57) also differs from
    that of the released layouts (1.64), so the paper's FLOPS were presumably measured on the
    models before their final release.  The gap is documented, not tuned away.
    """

    def __init__(self, config: dict, width: float = 1.0, num_classes: int = 1000,
                 split: str = "equal"):
        super().__init__()
        width = check_width(width, high=5.2)

        def ch(c):
            return make_divisible(c * width, 8)

        cin = ch(config["stem"])
        self.stem = ConvBNAct(3, cin, 3, 2)
        blocks = []
        for repeat, kernels, eg, pg, stride, expand, cout, se, swish in config["blocks"]:
            for i in range(repeat):
                blocks.append(MixBlock(cin, ch(cout), kernels, eg, pg, stride if i == 0 else 1,
                                       expand, se, swish, split))
                cin = ch(cout)
        self.blocks = nn.Sequential(*blocks)
        self.head = ConvBNAct(cin, 1536, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(config["dropout"])
        self.classifier = nn.Linear(1536, num_classes)

    def forward(self, x):
        x = self.head(self.blocks(self.stem(x)))
        return self.classifier(self.dropout(self.pool(x).flatten(1)))


_SRC = "Tan & Le 2019, MixConv/MixNet, arXiv:1907.09595 (BMVC 2019), Table 2"
_NOTE = "Table 2 read via secondary copies (PaddleClas, linksense/MixNet-PyTorch, OpenVINO)"
_GAP = ("the released layout (params equal to independent implementations) counts {}M conv+fc "
        "madds; no counting convention reaches the paper's {}M, presumably measured on the model "
        "before its release")


@register("mixnet_s", Published(params_m=4.1, madds_m=256, top1=75.8, resolution=224,
                                source=_SRC, notes=_NOTE, gap=_GAP.format("239", "256")))
def mixnet_s(width: float = 1.0, **kwargs):
    return MixNet(_S, width=check_width(width), **kwargs)


@register("mixnet_m", Published(params_m=5.0, madds_m=360, top1=77.0, resolution=224,
                                source=_SRC, notes=_NOTE, gap=_GAP.format("339", "360")))
def mixnet_m(width: float = 1.0, **kwargs):
    return MixNet(_M, width=check_width(width), **kwargs)


@register("mixnet_l", Published(params_m=7.3, madds_m=565, top1=78.9, resolution=224,
                                source=_SRC + "; L = M x1.3 per tensorflow/tpu mixnet_builder.py",
                                notes=_NOTE))
def mixnet_l(width: float = 1.0, **kwargs):
    return MixNet(_M, width=1.3 * check_width(width), **kwargs)
