"""ESPNetv2.

Mehta, Rastegari, Shapiro and Hajishirzi, "ESPNetv2: A Light-weight, Power Efficient, and General
Purpose Convolutional Neural Network", 2019, arXiv:1811.11431, CVPR 2019.

Architecture: Section 3 (the EESP unit; the strided EESP with input reinforcement) and Table 1
(the ImageNet network), with the widths and receptive-field limits of the authors' code
(sacmehta/ESPNetv2, ``imagenet/Model.py``, ``imagenet/cnn_utils.py``).  Figures: the official repository's
``imagenet/README.md`` table (params, "FLOPs", top-1 per scale ``s``); its "FLOPs" are
conv + linear multiply-adds (see ``/work/shared/reference/README.md``).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from costmodel.zoo.common import ConvBNAct, check_width
from costmodel.zoo.registry import Published, register

BRANCHES = 4                      # K: parallel depth-wise branches of every EESP unit
BASE = 32                         # stem width at s = 1
REPEATS = (0, 3, 7, 3)            # stride-1 EESP units after the strided unit of levels 2..5
R_LIM_DOWN = (13, 11, 9, 7)       # receptive-field limit of the strided unit of levels 2..5
R_LIM_UNIT = (13, 9, 7, 5)        # ... and of the stride-1 units of levels 2..5 (level 2 has none)
REINFORCE = (True, True, True, False)  # input reinforcement on the strided unit of levels 2..5


def conv_bn_prelu(cin, cout, kernel_size, stride=1, groups=1):
    """Conv-BN-PReLU with one PReLU slope per channel (the official ``CBR``)."""
    return nn.Sequential(*ConvBNAct(cin, cout, kernel_size, stride, groups, act=None), nn.PReLU(cout))


def espnetv2_widths(s: float):
    """Output widths of levels 1..5 and of the final 1x1 expansion for scale ``s``."""
    base_s = math.ceil(int(BASE * s) / BRANCHES) * BRANCHES
    widths = [min(BASE, base_s)] + [base_s * 2 ** i for i in range(1, 5)]
    return widths, (1024 if s <= 1.5 else 1280)


class EESP(nn.Module):
    """Extremely Efficient Spatial Pyramid unit (Section 3; the official ``EESP``).

    Grouped 1x1 Conv-BN-PReLU (K groups) reducing to ``cout/K`` channels; K parallel 3x3 depth-wise
    convs whose kernel sizes 3, 5, 7, ... (dilations 1, 2, 3, ...) are capped at the receptive-field
    limit ``r_lim`` (larger ones fall back to 3x3, dilation 1) and sorted ascending; hierarchical
    feature fusion (branch i += branch i-1); concat; BN-PReLU; grouped 1x1 Conv-BN (K groups).
    Stride 1: residual add then PReLU.  Stride 2 (``strided=True``): the depth-wise convs have
    stride 2 and the expanded map is returned as is (the strided unit concatenates and activates).
    """

    def __init__(self, cin, cout, stride=1, r_lim=7, k=BRANCHES):
        super().__init__()
        n = cout // k
        ksizes = sorted(ks if ks <= r_lim else 3 for ks in range(3, 3 + 2 * k, 2))
        self.strided = stride == 2
        self.reduce = conv_bn_prelu(cin, n, 1, groups=k)
        self.branches = nn.ModuleList(
            nn.Conv2d(n, n, 3, stride, padding=(ks - 1) // 2, dilation=(ks - 1) // 2, groups=n, bias=False)
            for ks in ksizes)
        self.bn_act = nn.Sequential(nn.BatchNorm2d(cout), nn.PReLU(cout))
        self.expand = ConvBNAct(cout, cout, 1, groups=k, act=None)
        self.act = None if self.strided else nn.PReLU(cout)

    def forward(self, x):
        y = self.reduce(x)
        outs = [self.branches[0](y)]
        for branch in self.branches[1:]:
            outs.append(branch(y) + outs[-1])          # hierarchical feature fusion
        out = self.expand(self.bn_act(torch.cat(outs, 1)))
        if self.strided:
            return out
        return self.act(out + x)


class StridedEESP(nn.Module):
    """Strided EESP with input reinforcement (Section 3; the official ``DownSampler``).

    concat(AvgPool 3x3/2 of the input, stride-2 EESP to ``cout - cin`` channels); where enabled,
    plus the input image average-pooled to the same size and passed through 3x3 Conv-BN-PReLU (3 ch)
    and 1x1 Conv-BN (``cout`` ch); PReLU.
    """

    def __init__(self, cin, cout, r_lim, reinforce=True):
        super().__init__()
        self.pool = nn.AvgPool2d(3, 2, padding=1)
        self.eesp = EESP(cin, cout - cin, stride=2, r_lim=r_lim)
        self.reinforce = (nn.Sequential(conv_bn_prelu(3, 3, 3), ConvBNAct(3, cout, 1, act=None))
                          if reinforce else None)
        self.act = nn.PReLU(cout)

    def forward(self, x, image=None):
        out = torch.cat([self.pool(x), self.eesp(x)], 1)
        if self.reinforce is not None:
            out = out + self.reinforce(image)
        return self.act(out)


class ESPNetV2(nn.Module):
    """ESPNetv2 ImageNet classifier (Table 1 of Mehta et al. 2019; official ``EESPNet``).

    Level 1: 3x3/2 Conv-BN-PReLU (widths from ``espnetv2_widths``: 32*s rounded up to a multiple of
    4, capped at 32).  Levels 2..5: a strided EESP unit (each doubles ``32*s``), followed at levels
    3, 4, 5 by 3, 7, 3 stride-1 EESP units; K = 4 branches everywhere, receptive-field limits
    13/11/9/7 for the strided units and 9/7/5 for the stride-1 units of levels 3/4/5.  Input
    reinforcement on the strided units of levels 2-4 (image avg-pooled 3x3/2 repeatedly to 56, 28,
    14).  Head: 3x3 depth-wise Conv-BN-PReLU, grouped (K) 1x1 Conv-BN-PReLU to 1024 (1280 for
    s > 1.5), global average pool, Dropout(0.2), FC with bias.

    Choices following the official code: PReLU with per-channel slopes everywhere; the level-5
    strided unit has no input reinforcement in forward.  Differences from it: the official code
    also builds an input-reinforcement branch for level 5 and a final PReLU inside every strided
    EESP that its forward never uses (for s = 1: 2,650 + 480 parameters); they are left out here.
    The image pyramid for input reinforcement is pooled incrementally (224 -> 112 -> 56 -> 28 ->
    14) instead of from the full image at every level (same values, fewer pooling ops).

    Gaps: parameters equal the README's to its rounding (1,239,722 / 1,666,942 / 2,310,190 /
    3,491,934; counting the unused modules would give 3.50M for s = 2, not the README's 3.49M).
    Multiply-adds exceed the README by exactly the classifier (1024 x 1000, or 1280 x 1000 for
    s = 2): the README's "FLOPs" count the conv layers only (conv madds here: 28.38 / 85.72 /
    168.60 / 284.81 M), which is +3.6% / +1.2% / +0.6% / +0.5% in conv + linear terms.  ``s`` must
    give EESP widths divisible by 16 (s = 0.5, 1, 1.25, 1.5, 2 are the published scales).
    """

    def __init__(self, s: float = 1.0, num_classes: int = 1000, dropout: float = 0.2):
        super().__init__()
        s = check_width(s, "s", low=0.5, high=2.0)
        widths, head = espnetv2_widths(s)
        cin = widths[0]
        for cout in widths[1:]:
            if (cout - cin) % (4 * BRANCHES) or cout % (4 * BRANCHES):
                raise ValueError(f"s={s} gives EESP widths ({cout - cin}, {cout}) that are not "
                                 f"multiples of {4 * BRANCHES}; use e.g. s = 0.5, 1, 1.25, 1.5 or 2")
            cin = cout
        self.stem = conv_bn_prelu(3, widths[0], 3, 2)
        self.image_pool = nn.AvgPool2d(3, 2, padding=1)
        self.downs, self.levels = nn.ModuleList(), nn.ModuleList()
        for i, cout in enumerate(widths[1:]):
            self.downs.append(StridedEESP(widths[i], cout, R_LIM_DOWN[i], REINFORCE[i]))
            self.levels.append(nn.Sequential(*(EESP(cout, cout, 1, R_LIM_UNIT[i]) for _ in range(REPEATS[i]))))
        last = widths[-1]
        self.head = nn.Sequential(conv_bn_prelu(last, last, 3, groups=last),
                                  conv_bn_prelu(last, head, 1, groups=BRANCHES))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(head, num_classes)

    def forward(self, x):
        image = x
        x = self.stem(x)
        for down, level in zip(self.downs, self.levels):
            if down.reinforce is not None:
                out_size = (x.shape[-1] - 1) // 2 + 1          # spatial size after the 3x3/2 pool
                while image.shape[-1] > out_size:
                    image = self.image_pool(image)
            x = level(down(x, image))
        x = self.pool(self.head(x))
        return self.fc(self.dropout(torch.flatten(x, 1)))


_SOURCE = ("Mehta et al. 2019, ESPNetv2, arXiv:1811.11431 (CVPR 2019); figures: official repo "
           "sacmehta/ESPNetv2 imagenet/README.md (Params, FLOPs, top-1 per s)")
_GAP = ("the README's 'FLOPs' count the conv layers only (conv madds here: 28.38 / 85.72 / "
        "168.60 / 284.81M); conv+fc adds the classifier's 1.02M (1.28M for s=2)")
_NOTES = ("README 'FLOPs' are the conv layers' multiply-adds without the final FC (conv+linear is "
          "1.02M higher, 1.28M for s=2); imgclsmob's counter gives 29.44/86.82/169.75/286.24M MACs")

# name -> (s, params_m, madds_m, top1)
_VARIANTS = {
    "espnetv2_s0_5": (0.5, 1.24, 28.37, 57.7),
    "espnetv2_s1_0": (1.0, 1.67, 85.72, 66.1),
    "espnetv2_s1_5": (1.5, 2.31, 168.6, 69.2),
    "espnetv2_s2_0": (2.0, 3.49, 284.8, 72.1),
}


def _make(name, s, params_m, madds_m, top1):
    @register(name, Published(params_m=params_m, madds_m=madds_m, top1=top1, resolution=224,
                              source=_SOURCE, notes=_NOTES, gap=_GAP), family="espnetv2")
    def factory(**kwargs):
        return ESPNetV2(s=s, **kwargs)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = f"ESPNetv2 at scale s={s} (Mehta et al. 2019; official imagenet/Model.py)."
    return factory


for _name, _cfg in _VARIANTS.items():
    globals()[_name] = _make(_name, *_cfg)
