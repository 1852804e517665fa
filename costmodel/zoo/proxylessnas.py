"""ProxylessNAS: Cai, Zhu, Han 2019, "ProxylessNAS: Direct Neural Architecture Search on Target
Task and Hardware", arXiv:1812.00332, ICLR 2019.

The mobile (Pixel 1) model.  Registered figures: MobileNetV3 (arXiv:1905.02244, ICCV 2019)
Table 3's "Proxyless" row (74.6% top-1, 320M multiply-adds, 4.0M parameters); the ProxylessNAS
paper's own table was not read.

The GPU, CPU and Mobile-14 models (the authors' released ``proxyless_gpu``, ``proxyless_cpu``,
``proxyless_mobile_14``, mit-han-lab/proxylessnas ``proxyless_nas/model_zoo.py``, whose net
configs are downloaded, not stored in the repository): block lists as pytorchcv's port of those
configs gives them (``pytorchcv/models/proxylessnas.py``, ``get_proxylessnas``), "zero" blocks
left out.  Registered figures: the authors' README (mit-han-lab/proxylessnas README.md, an
earlier version's "Mobile settings" table: ProxylessNAS (mobile_14) 76.7% top-1, 581M FLOPs;
"GPU settings" table: ProxylessNAS (GPU) 75.1%) and the PyTorch Hub page the authors wrote
(pytorch/hub ``mit-han-lab_ProxylessNAS.md``: top-1 error 24.9 GPU, 24.7 CPU, 23.3 Mobile-14).
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
_MOBILE14 = [(1, 3, 24, 1),
             (3, 5, 40, 2), (3, 3, 40, 1),
             (3, 7, 56, 2), (3, 3, 56, 1), (3, 5, 56, 1), (3, 5, 56, 1),
             (6, 7, 112, 2), (3, 5, 112, 1), (3, 5, 112, 1), (3, 5, 112, 1),
             (6, 5, 136, 1), (3, 5, 136, 1), (3, 5, 136, 1), (3, 5, 136, 1),
             (6, 7, 256, 2), (6, 7, 256, 1), (3, 7, 256, 1), (3, 7, 256, 1),
             (6, 7, 448, 1)]
_GPU = [(1, 3, 24, 1),
        (3, 5, 32, 2),
        (3, 7, 56, 2), (3, 3, 56, 1),
        (6, 7, 112, 2), (3, 5, 112, 1), (6, 5, 128, 1), (3, 3, 128, 1), (3, 5, 128, 1),
        (6, 7, 256, 2), (6, 7, 256, 1), (6, 7, 256, 1), (6, 5, 256, 1),
        (6, 7, 432, 1)]
_CPU = [(1, 3, 24, 1),
        (6, 3, 32, 2), (3, 3, 32, 1), (3, 3, 32, 1), (3, 3, 32, 1),
        (6, 3, 48, 2), (3, 3, 48, 1), (3, 3, 48, 1), (3, 5, 48, 1),
        (6, 3, 88, 2), (3, 3, 88, 1),
        (6, 5, 104, 1), (3, 3, 104, 1), (3, 3, 104, 1), (3, 3, 104, 1),
        (6, 5, 216, 2), (3, 5, 216, 1), (3, 5, 216, 1), (3, 3, 216, 1),
        (6, 5, 360, 1)]


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


_README = ("mit-han-lab/proxylessnas README.md (earlier version, 'Mobile settings' / 'GPU "
           "settings' tables) and the authors' PyTorch Hub page (pytorch/hub "
           "mit-han-lab_ProxylessNAS.md)")


@register("proxylessnas_mobile14", Published(
        params_m=None, madds_m=581, top1=76.7, resolution=224, source=_README,
        notes="pytorchcv proxylessnas_mobile14: 6,857,568 params"))
def proxylessnas_mobile14(**kwargs):
    return ProxylessNAS(_MOBILE14, stem=48, head=1792, **kwargs)


@register("proxylessnas_gpu", Published(
        params_m=None, madds_m=None, top1=75.1, resolution=224, source=_README,
        notes="pytorchcv proxylessnas_gpu: 7,119,848 params"))
def proxylessnas_gpu(**kwargs):
    return ProxylessNAS(_GPU, stem=40, head=1728, **kwargs)


@register("proxylessnas_cpu", Published(
        params_m=None, madds_m=None, top1=75.3, resolution=224, source=_README,
        notes="pytorchcv proxylessnas_cpu: 4,361,648 params; top-1 75.3 = 100 - the hub page's "
              "24.7 top-1 error"))
def proxylessnas_cpu(**kwargs):
    return ProxylessNAS(_CPU, stem=40, head=1432, **kwargs)
