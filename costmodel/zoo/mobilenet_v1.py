"""MobileNetV1: Howard, Zhu, Chen, Kalenichenko, Wang, Andreyetto, Adam 2017, "MobileNets:
Efficient Convolutional Neural Networks for Mobile Vision Applications", arXiv:1704.04861.

Body from Table 1; width multiplier alpha from Sec. 3.3; figures (params, mult-adds, top-1) from
Table 6 (width 1.0/0.75/0.5/0.25 at 224). The resolution multiplier rho (Table 7) is just the
input side: build the model once and feed a 192/160/128 input.
"""
from __future__ import annotations

import torch.nn as nn

from costmodel.zoo.common import ConvBNAct, check_width
from costmodel.zoo.registry import Published, register

# Table 1 after the stem: (pointwise output channels, depthwise stride)
_BODY = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
         (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]


class DepthwiseSeparable(nn.Sequential):
    """3x3 depthwise conv + BN + ReLU, then 1x1 pointwise conv + BN + ReLU (paper Fig. 3)."""

    def __init__(self, cin, cout, stride):
        super().__init__(ConvBNAct(cin, cin, 3, stride, groups=cin),
                         ConvBNAct(cin, cout, 1))


class MobileNetV1(nn.Module):
    """MobileNetV1 (Table 1): 3x3 stride-2 conv (32) + BN + ReLU, 13 depthwise-separable blocks
    (64, 128x2, 256x2, 512x6, 1024x2; stride 2 at the 2nd, 4th, 6th and 12th), global average
    pooling and a 1000-way fully connected layer.

    Width ``alpha`` scales every layer's channels as the TF-slim reference does,
    ``max(int(c * alpha), 8)``. Choices and gaps: activation ReLU as the paper states (the
    TF-slim code uses ReLU6; no effect on cost); the last depthwise conv has stride 1 (Table 1
    prints "s2", a known typo: the output stays 7x7); the classifier is a Linear with bias and
    1000 classes (TF-slim: a 1x1 conv with bias, 1001 classes incl. background, +1025 params);
    TF-slim's dropout before the classifier is omitted (inference). Table 6 rounds params to
    0.1M: x0.25 counts 0.470M (paper "0.5M", -6%; TF-slim README 0.47M) and x0.5 1.332M (paper
    "1.3M", +2.4%; README 1.34M); multiply-adds match Table 6 within 0.4% at every width.
    """

    def __init__(self, width: float = 1.0, num_classes: int = 1000):
        super().__init__()
        width = check_width(width)

        def ch(c):
            return max(int(c * width), 8)

        cin = ch(32)
        layers = [ConvBNAct(3, cin, 3, 2)]
        for cout, stride in _BODY:
            layers.append(DepthwiseSeparable(cin, ch(cout), stride))
            cin = ch(cout)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(cin, num_classes)

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))


_SRC = "Howard et al. 2017, MobileNets, arXiv:1704.04861, Table 6"
_ROUNDED = "paper rounds params to 0.1M; TF-slim nets/mobilenet_v1.md lists {}"


@register("mobilenet_v1_x1_0", Published(params_m=4.2, madds_m=569, top1=70.6, resolution=224,
                                         source=_SRC + " (and Table 7 for rho)",
                                         notes="MobileNetV2 Table 4 quotes 575M"))
def mobilenet_v1_x1_0(**kwargs):
    return MobileNetV1(width=1.0, **kwargs)


@register("mobilenet_v1_x0_75", Published(params_m=2.6, madds_m=325, top1=68.4, resolution=224,
                                          source=_SRC))
def mobilenet_v1_x0_75(**kwargs):
    return MobileNetV1(width=0.75, **kwargs)


@register("mobilenet_v1_x0_5", Published(params_m=1.3, madds_m=149, top1=63.7, resolution=224,
                                         source=_SRC, notes=_ROUNDED.format("1.34M / 150M"),
                                         gap="TF-slim's README lists 1.34M"))
def mobilenet_v1_x0_5(**kwargs):
    return MobileNetV1(width=0.5, **kwargs)


@register("mobilenet_v1_x0_25", Published(params_m=0.5, madds_m=41, top1=50.6, resolution=224,
                                          source=_SRC, notes=_ROUNDED.format("0.47M / 41M"),
                                          gap="TF-slim's README lists 0.47M"))
def mobilenet_v1_x0_25(**kwargs):
    return MobileNetV1(width=0.25, **kwargs)
