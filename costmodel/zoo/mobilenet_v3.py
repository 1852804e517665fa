"""MobileNetV3: Howard, Sandler, Chu, Chen, Chen, Tan, Wang, Zhu, Pang, Vasudevan, Le, Adam 2019,
"Searching for MobileNetV3", arXiv:1905.02244, ICCV 2019.

Architectures from Table 1 (Large) and Table 2 (Small); figures from Table 3 of the final (ICCV)
version: Large 1.0 219M / 5.4M, Large 0.75 155M / 4.0M, Small 1.0 56M / 2.5M, Small 0.75
44M / 2.0M.
"""
from __future__ import annotations

import torch.nn as nn

from costmodel.zoo.common import ConvBNAct, check_width, make_divisible
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
    before the classifier omitted (inference); 1000 classes (TF-slim: 1001). Gaps: Large +1.5% params vs Table 3's rounded
    "5.4M" and -1.1% multiply-adds vs its 219M (the TF-slim README says 217M); Small +1.7%
    params and +0.9% multiply-adds vs 2.5M / 56M.

    ``width`` (the paper's multiplier, Table 3 "V3-Large 0.75" / "V3-Small 0.75") scales the
    stem, every bneck output and the last 1x1 conv by ``make_divisible(c * width, 8)``; each
    expanded size is the *scaled* input times the table's expansion ratio (exp size / input at
    1.0), rounded the same way, as the TF-slim definition does (``expand_input_by_factor``;
    timm's ``mobilenetv3_*_075``, which load the official checkpoints, do the same); the head
    (1280 / 1024) is not scaled (timm ``num_features``). At 1.0 this is the unscaled network.
    torchvision scales the absolute exp sizes instead (184 x 0.75 -> 136, not 144). At 0.75
    (Table 3: Large 4.0M / 155M, Small 2.0M / 44M) this counts Large 3,993,528 params / 154.6M
    conv+linear multiply-adds and Small 2,041,872 / 43.4M (+2.1% params vs the rounded 2.0M).
    """

    def __init__(self, config, head: int, width: float = 1.0, num_classes: int = 1000):
        super().__init__()
        width = check_width(width)
        base = 16
        cin = make_divisible(base * width)
        layers = [ConvBNAct(3, cin, 3, 2, act=HS)]
        for k, exp, out, se, act, stride in config:
            hidden = make_divisible(cin * exp / base)  # exp / base: the table's expansion ratio
            cout = make_divisible(out * width)
            layers.append(MBConv(cin, cout, hidden, k, stride, act=act,
                                 se_channels=make_divisible(hidden / 4) if se else None,
                                 se_act=nn.ReLU, se_gate=nn.Hardsigmoid))
            cin, base = cout, out
        last = make_divisible(6 * base * width)
        layers.append(ConvBNAct(cin, last, 1, act=HS))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(last, head), nn.Hardswish(inplace=True),
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


@register("mobilenet_v3_large_x0_75", Published(
        params_m=4.0, madds_m=155, top1=73.3, resolution=224, source=_SRC,
        notes="width 0.75; timm mobilenetv3_large_075 (the same network): 3,993,528 params"))
def mobilenet_v3_large_x0_75(**kwargs):
    return MobileNetV3(_LARGE, head=1280, width=0.75, **kwargs)


@register("mobilenet_v3_small_x0_75", Published(
        params_m=2.0, madds_m=44, top1=65.4, resolution=224, source=_SRC,
        notes="width 0.75; timm mobilenetv3_small_075 (the same network): 2,041,872 params; an "
              "earlier arXiv version of Table 3 lists 2.4M / 44M"))
def mobilenet_v3_small_x0_75(**kwargs):
    return MobileNetV3(_SMALL, head=1024, width=0.75, **kwargs)
