"""MobileNetV2: Sandler, Howard, Zhu, Zhmoginov, Chen 2018, "MobileNetV2: Inverted Residuals and
Linear Bottlenecks", arXiv:1801.04381, CVPR 2018.

Architecture from Table 2; figures for widths 1.0 and 1.4 from Table 4. The paper tabulates no
other width: 0.75 and 0.5 come from the official TF-slim checkpoint table
(tensorflow/models research/slim/nets/mobilenet/README.md), 0.35 from the MobileNetV3 paper
(Howard et al. 2019, arXiv:1905.02244, Table 3, row "V2 0.35").
"""
from __future__ import annotations

import torch.nn as nn

from costmodel.zoo.common import ConvBNAct, check_width, make_divisible
from costmodel.zoo.mbconv import MBConv
from costmodel.zoo.registry import Published, register

# Table 2 bottleneck rows: (expansion t, output channels c, repeats n, first stride s)
_BOTTLENECKS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


class MobileNetV2(nn.Module):
    """MobileNetV2 (Table 2): 3x3 stride-2 conv (32), 17 inverted-residual bottlenecks (ReLU6,
    linear projection, identity shortcut when stride 1 and channels equal), 1x1 conv to 1280,
    global average pooling, classifier.

    Width ``width`` scales every channel count with ``make_divisible(c * width, 8)`` (the
    reference code's rounding), except the last 1x1 conv: it stays 1280 for width < 1 and
    becomes ``make_divisible(1280 * width, 8)`` above 1 (paper Sec. 6.1: "we apply width
    multiplier to all layers except the very last convolutional layer"; TF-slim
    ``finegrain_classification_mode``, torchvision ``last_channel``). Expanded width is
    ``cin * t``. Choices: the classifier is a Linear layer with bias and 1000 classes (Table 2's
    final 1x1 conv; TF-slim has 1001 classes), dropout omitted (inference). At 1.0 this equals
    torchvision's mobilenet_v2 (3,504,872 params, 300.8M multiply-adds). Gaps vs the figures
    registered (multiply-adds agree within 0.5% at every width): params at 1.0 are +3.1% over
    Table 4's rounded "3.4M"; at 1.4 -11% under Table 4's "6.9M", which is inconsistent with the
    architecture (the official 1.4 checkpoint has 6.06M, ours 6.11M); at 0.35 +4.8% over the
    MobileNetV3 paper's "1.6M" (official checkpoint 1.66M). Against the official checkpoint table
    every width is within 1% (1.0: 3.47M, 0.75: 2.61M, 0.5: 1.95M).
    """

    def __init__(self, width: float = 1.0, num_classes: int = 1000):
        super().__init__()
        width = check_width(width)
        cin = make_divisible(32 * width)
        layers = [ConvBNAct(3, cin, 3, 2, act=nn.ReLU6)]
        for t, c, n, s in _BOTTLENECKS:
            cout = make_divisible(c * width)
            for i in range(n):
                layers.append(MBConv(cin, cout, cin * t, 3, s if i == 0 else 1, act=nn.ReLU6))
                cin = cout
        last = make_divisible(1280 * max(1.0, width))
        layers.append(ConvBNAct(cin, last, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(last, num_classes)

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))


_PAPER = "Sandler et al. 2018, MobileNetV2, arXiv:1801.04381, Table 4"
_REPO = ("tensorflow/models research/slim/nets/mobilenet/README.md (commit 0ba83cf0), "
         "'Mobilenet V2 Imagenet Checkpoints'")


@register("mobilenet_v2_x1_0", Published(params_m=3.4, madds_m=300, top1=72.0, resolution=224,
                                         source=_PAPER,
                                         notes="torchvision mobilenet_v2: 3,504,872 params, 301M",
                                         gap="Table 4's 3.4M is rounded down: the architecture "
                                             "(= torchvision's) has 3,504,872 params, the "
                                             "official checkpoint table 3.47M"))
def mobilenet_v2_x1_0(**kwargs):
    return MobileNetV2(width=1.0, **kwargs)


@register("mobilenet_v2_x1_4", Published(params_m=6.9, madds_m=585, top1=74.7, resolution=224,
                                         source=_PAPER,
                                         notes="official checkpoint table: 6.06M / 582M",
                                         gap="Table 4's 6.9M does not fit the architecture: the "
                                             "official 1.4 checkpoint has 6.06M (ours 6.11M)"))
def mobilenet_v2_x1_4(**kwargs):
    return MobileNetV2(width=1.4, **kwargs)


@register("mobilenet_v2_x0_75", Published(params_m=2.61, madds_m=209, top1=69.8, resolution=224,
                                          source=_REPO))
def mobilenet_v2_x0_75(**kwargs):
    return MobileNetV2(width=0.75, **kwargs)


@register("mobilenet_v2_x0_5", Published(params_m=1.95, madds_m=97, top1=65.4, resolution=224,
                                         source=_REPO))
def mobilenet_v2_x0_5(**kwargs):
    return MobileNetV2(width=0.5, **kwargs)


@register("mobilenet_v2_x0_35", Published(
        params_m=1.6, madds_m=59.2, top1=60.8, resolution=224,
        source="Howard et al. 2019, MobileNetV3, arXiv:1905.02244, Table 3 (row 'V2 0.35')",
        notes="official checkpoint table: 1.66M / 59M",
        gap="the MobileNetV3 paper's 1.6M is below the official checkpoint's 1.66M (ours "
            "1.68M)"))
def mobilenet_v2_x0_35(**kwargs):
    return MobileNetV2(width=0.35, **kwargs)
