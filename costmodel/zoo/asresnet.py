"""AS-ResNet: Jeon & Kim 2018, "Constructing Fast Network through Deconstruction of Convolution",
arXiv:1806.07370, NeurIPS 2018.

Figures (params, top-1/top-5) come from the official repository jyh2986/Active-Shift,
models/ASL_Model/ImageNet/test_model/Readme.md; the architecture from the deploy prototxts beside it
(``[AS-ResNet-w32|w50|w68]deploy.prototxt``). No source publishes AS-ResNet multiply-adds: the
figures this model reports are computed from the re-implementation.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from costmodel.layers import ActiveShift
from costmodel.zoo.common import ConvBNAct, check_width
from costmodel.zoo.registry import Published, register

# (width as a multiple of the base width, repeats, stride of the first block)
STAGES = ((1, 1, 1), (1, 3, 2), (2, 4, 2), (4, 6, 2), (8, 3, 2))


class ASBlock(nn.Module):
    """Pre-activation block: BN - ReLU - 1x1 conv - BN - ReLU - ActiveShift - 1x1 conv (stride),
    added to the shortcut: the un-activated input (identity), or a strided 1x1 conv of the
    pre-activated input when the shape changes (as in the deploy prototxt). The hidden width equals
    the output width. The deploy file applies the stride inside the ASL (shift, then sample every
    second pixel); a 1x1 conv with stride 2 after a stride-1 shift computes the same thing.
    """

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.preact = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(inplace=True))
        self.conv1 = ConvBNAct(cin, cout, 1)
        self.shift = ActiveShift(cout)
        self.conv2 = nn.Conv2d(cout, cout, 1, stride=stride, bias=False)
        self.shortcut = (nn.Conv2d(cin, cout, 1, stride=stride, bias=False)
                         if stride != 1 or cin != cout else None)

    def forward(self, x):
        a = self.preact(x)
        out = self.conv2(self.shift(self.conv1(a)))
        return out + (x if self.shortcut is None else self.shortcut(a))


class ASResNet(nn.Module):
    """AS-ResNet-w<base> for ImageNet, as in the official deploy prototxts.

    Architecture: 3x3/2 conv (w, no BN of its own: the first block's pre-activation BN follows it),
    then pre-activation ASL blocks in five stages of widths w, w, 2w, 4w, 8w with 1, 3, 4, 6, 3
    blocks at strides 2, 4, 8, 16, 32 (the first block of stages 2-5 downsamples), final BN - ReLU,
    global average pool, 1000-way FC. Every block is 1x1 conv -> ASL -> 1x1 conv with no
    expansion. ``width`` scales the base width (rounded to an integer).

    BN layers are kept (the deploy files fold them into Scale layers). Parameter counts include the
    2 shift parameters per ASL channel; they match the repository's 0.9M / 1.96M / 3.42M to within
    0.2%. Multiply-adds are our own count (FlopCounter: conv + linear); the bilinear interpolation
    of the ASL (4 multiply-adds per output element) is not a conv and is not included there.
    """

    def __init__(self, base_width: int = 32, width: float = 1.0, num_classes: int = 1000, stages=STAGES):
        super().__init__()
        w = max(1, int(round(base_width * check_width(width))))
        self.stem = nn.Conv2d(3, w, 3, stride=2, padding=1, bias=False)
        blocks, cin = [], w
        for mult, repeats, stride in stages:
            cout = mult * w
            for i in range(repeats):
                blocks.append(ASBlock(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1))
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.head(self.features(self.stem(x)))
        return self.fc(torch.flatten(x, 1))


_SRC = ("jyh2986/Active-Shift models/ASL_Model/ImageNet/test_model/Readme.md (official code of "
        "Jeon & Kim 2018, arXiv:1806.07370, NeurIPS 2018); architecture from the w32/w50/w68 deploy.prototxt")
_NOTE = "no published multiply-adds in any source found"


@register("asresnet_w32", Published(params_m=0.9, madds_m=None, top1=64.1, resolution=224, source=_SRC, notes=_NOTE))
def asresnet_w32(**kwargs):
    return ASResNet(base_width=32, **kwargs)


@register("asresnet_w50", Published(params_m=1.96, madds_m=None, top1=69.9, resolution=224, source=_SRC, notes=_NOTE))
def asresnet_w50(**kwargs):
    return ASResNet(base_width=50, **kwargs)


@register("asresnet_w68", Published(params_m=3.42, madds_m=None, top1=72.2, resolution=224, source=_SRC, notes=_NOTE))
def asresnet_w68(**kwargs):
    return ASResNet(base_width=68, **kwargs)
