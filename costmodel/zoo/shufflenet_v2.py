"""ShuffleNet V2.

Ma, Zhang, Zheng and Sun, "ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture
Design", 2018, arXiv:1807.11164, ECCV 2018.

Architecture and figures: Table 5 (layer widths, FLOPs and #weights per width multiplier) and
Table 8 (top-1 error).  The paper's "FLOPs" are multiply-adds (footnote: the definition follows
ShuffleNet V1).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from costmodel.zoo.common import ConvBNAct, channel_shuffle, check_width
from costmodel.zoo.registry import Published, register

STEM_CHANNELS = 24
STAGE_REPEATS = (4, 8, 4)
# Table 5: output channels of Stage 2, 3, 4 and Conv5 per width multiplier.
STAGE_WIDTHS = {
    0.5: (48, 96, 192, 1024),
    1.0: (116, 232, 464, 1024),
    1.5: (176, 352, 704, 1024),
    2.0: (244, 488, 976, 2048),
}


class ShuffleV2Unit(nn.Module):
    """ShuffleNet V2 unit (Fig. 3c/d), followed by a 2-group channel shuffle.

    Stride 1: split the channels in half; one half passes through, the other goes through
    1x1 Conv-BN-ReLU, 3x3 DWConv-BN, 1x1 Conv-BN-ReLU; concat.  Stride 2: no split; the input goes
    through both the right branch (as above, DWConv with stride 2) and a left branch
    (3x3/2 DWConv-BN, 1x1 Conv-BN-ReLU); concat doubles the channels.  ``kernel`` and ``act``
    (default 3 and ReLU, the paper's) let design-space samplers vary the unit.
    """

    def __init__(self, cin, cout, stride, kernel=3, act=nn.ReLU):
        super().__init__()
        half = cout // 2
        self.stride = stride
        if stride == 2:
            self.left = nn.Sequential(ConvBNAct(cin, cin, kernel, 2, groups=cin, act=None),
                                      ConvBNAct(cin, half, 1, act=act))
        else:
            self.left = nn.Identity()
        self.right = nn.Sequential(ConvBNAct(cin if stride == 2 else half, half, 1, act=act),
                                   ConvBNAct(half, half, kernel, stride, groups=half, act=None),
                                   ConvBNAct(half, half, 1, act=act))

    def forward(self, x):
        if self.stride == 2:
            out = torch.cat([self.left(x), self.right(x)], 1)
        else:
            keep, x2 = torch.chunk(x, 2, dim=1)
            out = torch.cat([keep, self.right(x2)], 1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """ShuffleNet V2, Table 5 of Ma et al. 2018.

    Conv1 3x3/2 (24 ch) + BN + ReLU, MaxPool 3x3/2, Stages 2-4 of 4/8/4 units (the first of each
    with stride 2) with Table 5's widths, Conv5 1x1 + BN + ReLU, global average pool, FC (with
    bias).  ``width`` must be one of Table 5's multipliers (0.5, 1, 1.5, 2).

    This is the structure of torchvision's ``shufflenet_v2_x*`` models, which reproduces Table 5
    exactly; the count here equals torchvision's published metadata (1,366,792 / 2,278,604 /
    3,503,624 / 7,393,996 parameters; 40 / 145 / 296 / 583 M conv+linear multiply-adds).  Choices
    where the paper is open: the stride-2 left branch is DWConv-BN then 1x1 Conv-BN-ReLU (no ReLU
    after the DWConv, Fig. 3d); the shuffle is applied after the concat of every unit.
    Differences from the official megvii-model/ShuffleNet-Series ShuffleNetV2: that code shuffles
    at the start of each unit (by taking even/odd channels) instead of after the concat, has a
    bias-free FC and adds Dropout(0.2) before the FC of the 2x model (inference no-op; omitted).
    Gaps: parameters match Table 5 to rounding; multiply-adds are 1-2% under Table 5 (paper
    41 / 146 / 299 / 591 M; the paper's counting convention is not stated further).
    """

    def __init__(self, width: float = 1.0, num_classes: int = 1000):
        super().__init__()
        width = check_width(width)
        if width not in STAGE_WIDTHS:
            raise ValueError(f"width must be one of Table 5's multipliers {sorted(STAGE_WIDTHS)}, "
                             f"got {width!r}")
        *stages, last = STAGE_WIDTHS[width]
        self.stem = nn.Sequential(ConvBNAct(3, STEM_CHANNELS, 3, 2), nn.MaxPool2d(3, 2, 1))
        units, cin = [], STEM_CHANNELS
        for cout, repeats in zip(stages, STAGE_REPEATS):
            for j in range(repeats):
                units.append(ShuffleV2Unit(cin, cout, 2 if j == 0 else 1))
                cin = cout
        self.features = nn.Sequential(*units)
        self.conv5 = ConvBNAct(cin, last, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(last, num_classes)

    def forward(self, x):
        x = self.pool(self.conv5(self.features(self.stem(x))))
        return self.fc(torch.flatten(x, 1))


_SOURCE = ("Ma et al. 2018, ShuffleNet V2, arXiv:1807.11164 (ECCV 2018), "
           "Table 5 (FLOPs, #weights) + Table 8 (top-1)")

# name -> (width, params_m, madds_m, top1, torchvision params, torchvision madds_m)
_VARIANTS = {
    "shufflenet_v2_x0_5": (0.5, 1.4, 41, 60.3, "1,366,792", 40),
    "shufflenet_v2_x1_0": (1.0, 2.3, 146, 69.4, "2,278,604", 145),
    "shufflenet_v2_x1_5": (1.5, 3.5, 299, 72.6, "3,503,624", 296),
    "shufflenet_v2_x2_0": (2.0, 7.4, 591, 74.9, "7,393,996", 583),
}


def _make(name, width, params_m, madds_m, top1, tv_params, tv_madds):
    notes = (f"torchvision {name} (IMAGENET1K_V1 meta): {tv_params} params, {tv_madds}M "
             "conv+linear multiply-adds, same structure as this model")

    @register(name, Published(params_m=params_m, madds_m=madds_m, top1=top1, resolution=224,
                              source=_SOURCE, notes=notes), family="shufflenet_v2")
    def factory(**kwargs):
        return ShuffleNetV2(width=width, **kwargs)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = f"ShuffleNet V2 {width}x (Ma et al. 2018, Table 5)."
    return factory


for _name, _cfg in _VARIANTS.items():
    globals()[_name] = _make(_name, *_cfg)
