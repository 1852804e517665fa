"""Xception: Francois Chollet 2017, "Xception: Deep Learning with Depthwise Separable
Convolutions", arXiv:1610.02357, CVPR 2017.

Architecture from Figure 5 (entry flow, middle flow repeated 8 times, exit flow); parameter count
22,855,952 from Table 3, top-1/top-5 79.0/94.5 (single crop, 299x299) from Table 1. The paper
gives no multiply-add count.
"""
from __future__ import annotations

import torch.nn as nn

from costmodel.zoo.common import ConvBNAct, check_width, make_divisible
from costmodel.zoo.registry import Published, register


class SeparableConvBN(nn.Sequential):
    """[ReLU] -> 3x3 depthwise conv -> 1x1 pointwise conv -> BN (no BN or activation between the
    depthwise and pointwise convs, paper Sec. 3 / Fig. 5)."""

    def __init__(self, cin, cout, pre_relu=True):
        layers = [nn.ReLU()] if pre_relu else []  # not in-place: the block input feeds the shortcut
        layers += [nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False),
                   nn.Conv2d(cin, cout, 1, bias=False),
                   nn.BatchNorm2d(cout)]
        super().__init__(*layers)


class XceptionBlock(nn.Module):
    """Residual block of separable convs.  With ``reduce``: a 3x3 stride-2 max pool at the end
    and a 1x1 stride-2 conv + BN shortcut; otherwise an identity shortcut (middle flow)."""

    def __init__(self, cin, widths, reduce, relu_first=True):
        super().__init__()
        convs, c = [], cin
        for i, w in enumerate(widths):
            convs.append(SeparableConvBN(c, w, pre_relu=relu_first or i > 0))
            c = w
        if reduce:
            convs.append(nn.MaxPool2d(3, 2, 1))
            self.shortcut = nn.Sequential(nn.Conv2d(cin, c, 1, 2, bias=False), nn.BatchNorm2d(c))
        else:
            self.shortcut = nn.Identity()
        self.body = nn.Sequential(*convs)

    def forward(self, x):
        return self.body(x) + self.shortcut(x)


# (separable conv widths, reduce, ReLU before the first conv) per residual block
_BLOCKS = ([((128, 128), True, False), ((256, 256), True, True), ((728, 728), True, True)]  # entry
           + [((728, 728, 728), False, True)] * 8                                          # middle
           + [((728, 1024), True, True)])                                                  # exit


class Xception(nn.Module):
    """Xception (Fig. 5) at 299x299.  Entry flow: 3x3/2 conv 32 and 3x3 conv 64 (unpadded, each
    + BN + ReLU), then three residual blocks of two separable convs (128, 256, 728) ending in a
    3x3/2 max pool with a 1x1/2 conv shortcut.  Middle flow: 8 blocks of three ReLU-separable
    conv 728 with identity shortcuts.  Exit flow: a block (728, 1024) + pool + 1x1/2 shortcut,
    separable conv 1536 and 2048 (each + BN + ReLU), global average pooling, 1000-way Linear.

    Feature maps 149 -> 147 -> 74 -> 37 -> 19 (middle flow) -> 10.  Every conv has BN and no
    bias; BN (gamma, beta) sits after each separable conv, as in Keras ``applications.Xception``
    (the author's reference code), whose trainable-parameter count is Table 3's 22,855,952.
    ``width`` (not in the paper) scales every channel count, rounded to a multiple of 8.
    Choices: symmetric padding 1 for the stride-2 pools/pads where Keras uses "same" (same
    output sizes); the optional fully connected layers and dropout of Sec. 4.3 are not used
    (the reported model has none).

    Parameters: 22,855,952, exactly Table 3.  Multiply-adds (conv + linear, 299x299): 8,357.4M;
    the paper publishes none (timm lists 8.4 GMACs for its port).
    """

    def __init__(self, width: float = 1.0, num_classes: int = 1000):
        super().__init__()
        width = check_width(width)

        def ch(c):
            return make_divisible(c * width, 8)

        self.stem = nn.Sequential(ConvBNAct(3, ch(32), 3, 2, padding=0),
                                  ConvBNAct(ch(32), ch(64), 3, 1, padding=0))
        cin, blocks = ch(64), []
        for widths, reduce, relu_first in _BLOCKS:
            widths = [ch(w) for w in widths]
            blocks.append(XceptionBlock(cin, widths, reduce, relu_first))
            cin = widths[-1]
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(SeparableConvBN(cin, ch(1536), pre_relu=False), nn.ReLU(inplace=True),
                                  SeparableConvBN(ch(1536), ch(2048), pre_relu=False), nn.ReLU(inplace=True))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(ch(2048), num_classes)

    def forward(self, x):
        x = self.head(self.blocks(self.stem(x)))
        return self.classifier(self.pool(x).flatten(1))


@register("xception", Published(params_m=22.855952, madds_m=None, top1=79.0, resolution=299,
                                source="Chollet 2017, Xception, arXiv:1610.02357 (CVPR 2017), "
                                       "Table 3 (params) and Table 1 (top-1)",
                                notes="paper gives no FLOP count"))
def xception(width: float = 1.0, **kwargs):
    return Xception(width=width, **kwargs)
