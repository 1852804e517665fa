"""ShuffleNet (V1).

Zhang, Zhou, Lin and Sun, "ShuffleNet: An Extremely Efficient Convolutional Neural Network for
Mobile Devices", 2018, arXiv:1707.01083, CVPR 2018.

Architecture: Table 1 (stage widths per group count g, 1x).  Figures: Table 1 (complexity per g at
1x), Table 2 (top-1 error per width and g), Table 5 (1.5x / 2x complexity and error); the paper
gives no parameter counts, so ``params_m`` comes from the official megvii-model/ShuffleNet-Series
ShuffleNetV1/README.md where that README lists the variant.  The paper's "FLOPs" are
multiply-adds.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from costmodel.zoo.common import ConvBNAct, channel_shuffle, check_width, make_divisible
from costmodel.zoo.registry import Published, register

# Table 1: Stage 2 output channels at 1x per group count g (Stage 3/4 double each time).
STAGE2_WIDTHS = {1: 144, 2: 200, 3: 240, 4: 272, 8: 384}
STAGE_REPEATS = (4, 8, 4)
# Stem (Conv1) width per multiplier in the official repository's network.py; the paper's Table 1
# uses 24 at 1x.  Other multipliers use round(24 * width).
STEM_WIDTHS = {0.5: 12, 1.0: 24, 1.5: 24, 2.0: 48}


class ShuffleUnit(nn.Module):
    """ShuffleNet unit (Fig. 2b/c): 1x1 GConv-BN-ReLU, channel shuffle, 3x3 DWConv-BN, 1x1 GConv-BN.

    Stride 1: ``relu(x + branch(x))``.  Stride 2: ``cat(avgpool3x3s2(x), relu(branch(x)))`` so the
    branch produces ``cout - cin`` channels.  The bottleneck is ``cout // 4`` channels.
    ``first_groups`` is the group count of the first 1x1 conv (1 for the first unit of Stage 2).
    """

    def __init__(self, cin, cout, stride, groups, first_groups):
        super().__init__()
        mid = cout // 4
        self.stride = stride
        self.shuffle_groups = first_groups
        self.gconv1 = ConvBNAct(cin, mid, 1, groups=first_groups)
        self.dwconv = ConvBNAct(mid, mid, 3, stride, groups=mid, act=None)
        branch_out = cout - cin if stride == 2 else cout
        self.gconv2 = ConvBNAct(mid, branch_out, 1, groups=groups, act=None)
        self.shortcut = nn.AvgPool2d(3, 2, 1) if stride == 2 else nn.Identity()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.gconv1(x)
        if self.shuffle_groups > 1:
            out = channel_shuffle(out, self.shuffle_groups)
        out = self.gconv2(self.dwconv(out))
        if self.stride == 2:
            return torch.cat([self.shortcut(x), self.relu(out)], 1)
        return self.relu(x + out)


class ShuffleNetV1(nn.Module):
    """ShuffleNet V1, Table 1 of Zhang et al. 2018.

    Conv1 3x3/2 (24 ch) + BN + ReLU, MaxPool 3x3/2, Stages 2-4 of 4/8/4 ShuffleUnits (the first of
    each with stride 2) whose widths are Table 1's per-g widths times ``width`` (rounded to a
    multiple of ``4 * groups`` so the bottleneck splits into groups), global average pool, FC.

    Choices where the paper is open, following the official megvii-model/ShuffleNet-Series
    ShuffleNetV1 (network.py / blocks.py):
    - Stem width per multiplier: 12 / 24 / 24 / 48 for 0.5x / 1x / 1.5x / 2x (not 24*s), rounded
      up to a multiple of g (gives the official 16 for g=8 at 0.5x).
    - Bottleneck = 1/4 of the unit's full output width (also in stride-2 units, where the branch
      itself outputs ``cout - cin``).
    - Only the very first unit of Stage 2 has an ungrouped first 1x1 conv (paper, Sec. 3.3).
    - The classifier FC has no bias (official code; the paper does not say).
    - BN after every conv; ReLU after the first 1x1 conv and after the add/concat, none after the
      depthwise conv (paper, Sec. 3.2).
    Choices where this follows the paper rather than the official code:
    - Channel shuffle sits right after the first 1x1 GConv-BN-ReLU (Fig. 2); the official code
      shuffles after the depthwise conv (same counts, smaller tensor in stride-2 units).  No
      shuffle follows the ungrouped first conv of Stage 2 (a shuffle after a dense conv is only a
      permutation of its filters); the official code shuffles there too.
    Gaps: the paper gives no parameter counts; every official README count (0.7 / 1.9 / 3.4 /
    5.4M for g=3 at 0.5x / 1x / 1.5x / 2x, 2.4M for g=8 at 1x) is matched to its rounding;
    multiply-adds are within 1.1% of Tables 1 / 2 / 5 (g=4 and g=8 at 1x count 134 / 138M against
    133 / 137M; the official README also gives 138M for g=8).
    """

    def __init__(self, groups: int = 3, width: float = 1.0, num_classes: int = 1000):
        super().__init__()
        width = check_width(width, low=0.25, high=4.0)
        if groups not in STAGE2_WIDTHS:
            raise ValueError(f"groups must be one of {sorted(STAGE2_WIDTHS)} (Table 1), "
                             f"got {groups!r}")
        stem = STEM_WIDTHS.get(width, round(24 * width))
        stem = math.ceil(stem / groups) * groups
        self.stem = nn.Sequential(ConvBNAct(3, stem, 3, 2), nn.MaxPool2d(3, 2, 1))
        units, cin = [], stem
        for i, repeats in enumerate(STAGE_REPEATS):
            cout = make_divisible(STAGE2_WIDTHS[groups] * width * 2 ** i, 4 * groups)
            for j in range(repeats):
                first_groups = 1 if i == 0 and j == 0 else groups
                units.append(ShuffleUnit(cin, cout, 2 if j == 0 else 1, groups, first_groups))
                cin = cout
        self.features = nn.Sequential(*units)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes, bias=False)

    def forward(self, x):
        x = self.pool(self.features(self.stem(x)))
        return self.fc(torch.flatten(x, 1))


_PAPER = "Zhang et al. 2018, ShuffleNet, arXiv:1707.01083 (CVPR 2018)"
_REPO = "megvii-model/ShuffleNet-Series ShuffleNetV1/README.md (params)"
_NO_PARAMS = ("the paper gives no parameter counts and the official README does not list this "
              "variant")

# name -> (groups, width, params_m, madds_m, top1, source tables, notes)
_T12 = "Table 1 (complexity) + Table 2 (top-1)"
_VARIANTS = {
    "shufflenet_v1_g1_x1_0": (1, 1.0, None, 143, 66.4, _T12, _NO_PARAMS),
    "shufflenet_v1_g2_x1_0": (2, 1.0, None, 140, 67.3, _T12, _NO_PARAMS),
    "shufflenet_v1_g3_x1_0": (3, 1.0, 1.9, 137, 67.4, f"{_T12}; {_REPO}",
                              "official README: 138M, 1.9M, 67.8% (re-trained)"),
    "shufflenet_v1_g4_x1_0": (4, 1.0, None, 133, 67.2, _T12, _NO_PARAMS),
    "shufflenet_v1_g8_x1_0": (8, 1.0, 2.4, 137, 67.6, f"{_T12}; {_REPO}",
                              "official README: 138M, 2.4M, 68.0% (re-trained)"),
    "shufflenet_v1_g3_x0_5": (3, 0.5, 0.7, 38, 56.8, "Table 2; " + _REPO,
                              "official README: 38M, 0.7M, 57.3% (re-trained)"),
    "shufflenet_v1_g3_x1_5": (3, 1.5, 3.4, 292, 71.5, "Table 5; " + _REPO,
                              "official README: 292M, 3.4M, 71.6% (re-trained); "
                              "MobileNetV2 Table 4 also quotes 3.4M"),
    "shufflenet_v1_g3_x2_0": (3, 2.0, 5.4, 524, 73.7, "Table 5; " + _REPO,
                              "official README: 524M, 5.4M, 74.1% (re-trained); "
                              "MobileNetV2 Table 4 also quotes 5.4M"),
}


def _make(name, groups, width, params_m, madds_m, top1, tables, notes):
    @register(name, Published(params_m=params_m, madds_m=madds_m, top1=top1, resolution=224,
                              source=f"{_PAPER}, {tables}", notes=notes), family="shufflenet_v1")
    def factory(**kwargs):
        return ShuffleNetV1(groups=groups, width=width, **kwargs)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = f"ShuffleNet V1 {width}x, g={groups} (Zhang et al. 2018)."
    return factory


for _name, _cfg in _VARIANTS.items():
    globals()[_name] = _make(_name, *_cfg)
