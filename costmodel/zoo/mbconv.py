"""Inverted-residual ("MBConv") block shared by MobileNetV2/V3, MnasNet and EfficientNet.

Sandler et al. 2018 (MobileNetV2, arXiv:1801.04381, CVPR 2018) introduced the block: 1x1
expansion, kxk depthwise convolution, linear 1x1 projection, identity shortcut when the shape is
unchanged. MnasNet (arXiv:1807.11626), MobileNetV3 (arXiv:1905.02244) and EfficientNet
(arXiv:1905.11946) add an optional squeeze-and-excitation module after the depthwise conv and
change the activation. This module registers no model.
"""
from __future__ import annotations

from typing import Optional

import torch.nn as nn

from costmodel.zoo.common import ConvBNAct, SqueezeExcite


class MBConv(nn.Module):
    """Inverted residual: [1x1 expand + BN + act] -> kxk depthwise + BN + act -> [SE] -> 1x1 + BN.

    ``hidden`` is the expanded width; the expansion conv is omitted when ``hidden == cin``
    (expansion ratio 1, as in most reference implementations) unless ``expand_always`` is true
    (FBNet's expansion-1 blocks keep their 1x1 conv). ``se_channels`` is the SE
    bottleneck width (``None``: no SE); SE uses ``se_act`` and the gate ``se_gate``. The
    projection is linear (no activation). The shortcut is an identity added when
    ``stride == 1``, ``cin == cout`` and ``skip`` is true.
    """

    def __init__(self, cin: int, cout: int, hidden: int, kernel_size: int = 3, stride: int = 1,
                 act: type = nn.ReLU6, se_channels: Optional[int] = None, se_act: type = nn.ReLU,
                 se_gate: type = nn.Sigmoid, skip: bool = True, expand_always: bool = False):
        super().__init__()
        layers = []
        if hidden != cin or expand_always:
            layers.append(ConvBNAct(cin, hidden, 1, act=act))
        layers.append(ConvBNAct(hidden, hidden, kernel_size, stride, groups=hidden, act=act))
        if se_channels:
            layers.append(SqueezeExcite(hidden, se_channels, act=se_act, gate=se_gate))
        layers.append(ConvBNAct(hidden, cout, 1, act=None))
        self.block = nn.Sequential(*layers)
        self.use_residual = skip and stride == 1 and cin == cout

    def forward(self, x):
        y = self.block(x)
        return x + y if self.use_residual else y
