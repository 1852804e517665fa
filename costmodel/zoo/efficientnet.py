"""EfficientNet: Tan & Le 2019, "EfficientNet: Rethinking Model Scaling for Convolutional Neural
Networks", arXiv:1905.11946, ICML 2019.

EfficientNet-B0 from Table 1; figures from Table 2 (arXiv v5): 5.3M parameters, 0.39B FLOPs
(multiply-adds in Google's convention), 77.1% top-1.
"""
from __future__ import annotations

import torch.nn as nn

from costmodel.zoo.mnasnet import MnasNet
from costmodel.zoo.registry import Published, register

# Table 1 stages 2-8: (expansion, kernel, SE ratio, output channels, layers, first stride)
_B0 = [(1, 3, 0.25, 16, 1, 1), (6, 3, 0.25, 24, 2, 2), (6, 5, 0.25, 40, 2, 2),
       (6, 3, 0.25, 80, 3, 2), (6, 5, 0.25, 112, 3, 1), (6, 5, 0.25, 192, 4, 2),
       (6, 3, 0.25, 320, 1, 1)]


class EfficientNet(MnasNet):
    """EfficientNet-B0 (Table 1): 3x3 stride-2 conv (32), MBConv1 3x3 (16, x1), MBConv6 3x3
    (24, x2), MBConv6 5x5 (40, x2), MBConv6 3x3 (80, x3), MBConv6 5x5 (112, x3), MBConv6 5x5
    (192, x4), MBConv6 3x3 (320, x1), 1x1 conv to 1280, global average pooling, FC. Every MBConv
    has squeeze-and-excitation (ratio 0.25); SiLU (swish) everywhere, BN after every conv.

    Built with the MnasNet network class (same macro structure), following the official
    tensorflow/tpu models/official/efficientnet/efficientnet_model.py and torchvision's
    efficientnet.py: SE bottleneck ``max(1, int(block input channels * 0.25))`` with SiLU and a
    sigmoid gate, after the depthwise conv; no expansion conv for MBConv1; identity shortcut
    when stride 1 and channels equal. Inference structure: stochastic depth (drop-connect) and
    dropout omitted. Equals torchvision's efficientnet_b0 (5,288,548 params, 385.8M
    multiply-adds). Gaps: params -0.2% vs Table 2's 5.3M, multiply-adds -1.1% vs its 0.39B.
    """

    def __init__(self, config=_B0, num_classes: int = 1000):
        super().__init__(config, act=nn.SiLU, num_classes=num_classes)


@register("efficientnet_b0", Published(
        params_m=5.3, madds_m=390, top1=77.1, resolution=224,
        source="Tan & Le 2019, EfficientNet, arXiv:1905.11946v5 (ICML 2019), Table 2",
        notes="torchvision efficientnet_b0: 5,288,548 params, 386M; arXiv v1 Table 2 top-1 76.3"))
def efficientnet_b0(**kwargs):
    return EfficientNet(_B0, **kwargs)
