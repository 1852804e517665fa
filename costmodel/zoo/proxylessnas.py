"""ProxylessNAS: Cai, Zhu, Han 2019, "ProxylessNAS: Direct Neural Architecture Search on Target
Task and Hardware", arXiv:1812.00332, ICLR 2019.

The mobile (Pixel 1) model.  Registered figures: MobileNetV3 (arXiv:1905.02244, ICCV 2019)
Table 3's "Proxyless" row (74.6% top-1, 320M multiply-adds, 4.0M parameters); the ProxylessNAS
paper's own table was not read.
"""
from __future__ import annotations

import torch.nn as nn

from costmodel.zoo.common import ConvBNAct
from costmodel.zoo.mbconv import MBConv
from costmodel.zoo.registry import Published, register

# Mobile blocks after the 32-channel stem: (expansion, kernel, output channels, stride); the
# searched "zero" (skip) blocks are left out: they are identities.
_MOBILE = [(1, 3, 16, 1),
           (3, 5, 32, 2), (3, 3, 32, 1),
           (3, 7, 40, 2), (3, 3, 40, 1), (3, 5, 40, 1), (3, 5, 40, 1),
           (6, 7, 80, 2), (3, 5, 80, 1), (3, 5, 80, 1), (3, 5, 80, 1),
           (6, 5, 96, 1), (3, 5, 96, 1), (3, 5, 96, 1), (3, 5, 96, 1),
           (6, 7, 192, 2), (6, 7, 192, 1), (3, 7, 192, 1), (3, 7, 192, 1),
           (6, 7, 320, 1)]


class ProxylessNAS(nn.Module):
    """ProxylessNAS (Figure 4): 3x3 stride-2 conv, MBConv blocks (1x1 expansion, kxk depthwise,
    linear 1x1 projection; BN and ReLU6; the expansion-1 first block has no expansion conv),
    1x1 conv to 1280, global average pooling, FC.  Identity shortcut at stride 1 with equal
    channels.  Configuration as in the authors' released net (mit-han-lab/proxylessnas) and
    pytorchcv's ``proxylessnas_mobile``, which this equals parameter for parameter (4,080,512).
    """

    def __init__(self, config=_MOBILE, stem: int = 32, head: int = 1280, num_classes: int = 1000):
        super().__init__()
        cin = stem
        layers = [ConvBNAct(3, cin, 3, 2, act=nn.ReLU6)]
        for t, k, cout, s in config:
            layers.append(MBConv(cin, cout, cin * t, k, s, act=nn.ReLU6))
            cin = cout
        layers.append(ConvBNAct(cin, head, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(head, num_classes)

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))


@register("proxylessnas_mobile", Published(
        params_m=4.0, madds_m=320, top1=74.6, resolution=224,
        source="Howard et al. 2019, MobileNetV3, arXiv:1905.02244 (ICCV 2019), Table 3, row Proxyless",
        notes="pytorchcv proxylessnas_mobile: 4,080,512 params"))
def proxylessnas_mobile(**kwargs):
    return ProxylessNAS(_MOBILE, **kwargs)
