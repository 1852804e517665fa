"""MobileNetV3: Howard, Sandler, Chu, Chen, Chen, Tan, Wang, Zhu, Pang, Vasudevan, Le, Adam 2019,
"Searching for MobileNetV3", arXiv:1905.02244, ICCV 2019.

Architectures from Table 1 (Large) and Table 2 (Small); figures from Table 3 of the final (ICCV)
version: Large 1.0 219M / 5.4M, Small 1.0 56M / 2.5M.
"""
from __future__ import annotations

import torch.nn as nn

from costmodel.zoo.common import ConvBNAct, make_divisible
from costmodel.zoo.mbconv import MBConv
from costmodel.zoo.registry import Published, register

RE, HS = nn.ReLU, nn.Hardswish

# Tables 1/2 bneck rows: (kernel, expanded size, output channels, SE, nonlinearity, stride)
_LARGE = [(3, 16, 16, False, RE, 1), (3, 64, 24, False, RE, 2), (3, 72, 24, False, RE, 1),
          (5, 72, 40, True, RE, 2), (5, 120, 40, True, RE, 1), (5, 120, 40, True, RE, 1),
          (3, 240, 80, False, HS, 2), (3, 200, 80, False, HS, 1), (3, 184, 80, False, HS, 1),
          (3, 184, 80, False, HS, 1), (3, 480, 112, True, HS, 1), (3, 672, 112, True, HS, 1),
          (5, 672, 160, True, HS, 2), (5, 960, 160, True, HS, 1), (5, 960, 160, True, HS, 1)]
_SMALL = [(3, 16, 16, True, RE, 2), (3, 72, 24, False, RE, 2), (3, 88, 24, False, RE, 1),
          (5, 96, 40, True, HS, 2), (5, 240, 40, True, HS, 1), (5, 240, 40, True, HS, 1),
          (5, 120, 48, True, HS, 1), (5, 144, 48, True, HS, 1), (5, 288, 96, True, HS, 2),
          (5, 576, 96, True, HS, 1), (5, 576, 96, True, HS, 1)]


class MobileNetV3(nn.Module):
    """MobileNetV3 (Tables 1 and 2): 3x3 stride-2 conv (16, hard-swish), the bneck rows (MBConv:
    1x1 expand, kxk depthwise, optional SE, linear 1x1 projection; ReLU or hard-swish per row),
    1x1 conv to 6x the last width (960 Large / 576 Small) + BN + hard-swish, global average
    pooling, then the efficient last stage: 1x1 conv without BN to ``head`` (1280 / 1024) +
    hard-swish and the 1x1 classifier, both with bias (written as Linear layers).

    Choices, as in the official TF-slim nets/mobilenet/mobilenet_v3.py and torchvision's
    mobilenetv3.py (which this equals exactly: Large 5,483,032 params / 216.6M multiply-adds,
    Small 2,542,856 / 56.5M): SE bottleneck ``make_divisible(expanded / 4, 8)`` with ReLU and
    hard-sigmoid gate, placed after the depthwise conv; the expansion conv is omitted when the
    expanded size equals the input (first Large bneck); Table 2 marks SE on Small's final 576
    1x1 conv, which neither the official code nor torchvision has, so it is omitted; dropout
    before the classifier omitted (inference); 1000 classes (TF-slim: 1001). Only the 1.0
    models are built (no width multiplier). Gaps: Large +1.5% params vs Table 3's rounded
    "5.4M" and -1.1% multiply-adds vs its 219M (the TF-slim README says 217M); Small +1.7%
    params and +0.9% multiply-adds vs 2.5M / 56M.
    """

    def __init__(self, config, head: int, num_classes: int = 1000):
        super().__init__()
        cin = 16
        layers = [ConvBNAct(3, cin, 3, 2, act=HS)]
        for k, exp, out, se, act, stride in config:
            layers.append(MBConv(cin, out, exp, k, stride, act=act,
                                 se_channels=make_divisible(exp / 4) if se else None,
                                 se_act=nn.ReLU, se_gate=nn.Hardsigmoid))
            cin = out
        layers.append(ConvBNAct(cin, 6 * cin, 1, act=HS))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(6 * cin, head), nn.Hardswish(inplace=True),
                                        nn.Linear(head, num_classes))

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))


_SRC = "Howard et al. 2019, Searching for MobileNetV3, arXiv:1905.02244 (ICCV 2019), Table 3"


@register("mobilenet_v3_large", Published(
        params_m=5.4, madds_m=219, top1=75.2, resolution=224, source=_SRC,
        notes="torchvision mobilenet_v3_large: 5,483,032 params, 217M; TF-slim README: 217M"))
def mobilenet_v3_large(**kwargs):
    return MobileNetV3(_LARGE, head=1280, **kwargs)


@register("mobilenet_v3_small", Published(
        params_m=2.5, madds_m=56, top1=67.4, resolution=224, source=_SRC,
        notes="torchvision mobilenet_v3_small: 2,542,856 params, 57M; an earlier arXiv "
              "version of Table 3 lists 2.9M / 66M"))
def mobilenet_v3_small(**kwargs):
    return MobileNetV3(_SMALL, head=1024, **kwargs)
