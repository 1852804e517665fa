"""FBNet: Wu, Dai, Zhang, Wang, Sun, Wu, Tian, Vajda, Jia, Keutzer 2019, "FBNet: Hardware-Aware
Efficient ConvNet Design via Differentiable Neural Architecture Search", arXiv:1812.03443,
CVPR 2019.

FBNet-C.  Registered figures: 5.5M parameters and 74.9% top-1 as a third-party table citing the
paper gives them; the paper's own multiply-add count and S8 latency were not confirmed from a
transcription of the paper (costmodel counts 391.5M multiply-adds at 224x224).
"""
from __future__ import annotations

import torch.nn as nn

from costmodel.zoo.common import ConvBNAct
from costmodel.zoo.mbconv import MBConv
from costmodel.zoo.registry import Published, register

# FBNet-C blocks after the 16-channel stem: (expansion, kernel, output channels, stride)
_C = [(1, 3, 16, 1),
      (6, 3, 24, 2), (1, 3, 24, 1), (1, 3, 24, 1),
      (6, 5, 32, 2), (3, 5, 32, 1), (6, 5, 32, 1), (6, 3, 32, 1),
      (6, 5, 64, 2), (3, 5, 64, 1), (6, 5, 64, 1), (6, 5, 64, 1),
      (6, 5, 112, 1), (6, 5, 112, 1), (6, 5, 112, 1), (3, 5, 112, 1),
      (6, 5, 184, 2), (6, 5, 184, 1), (6, 5, 184, 1), (6, 5, 184, 1),
      (6, 3, 352, 1)]


class FBNet(nn.Module):
    """FBNet (Figure 4): 3x3 stride-2 conv (16), the searched blocks, 1x1 conv to 1984, global
    average pooling, FC.  Every block is 1x1 expansion + kxk depthwise + linear 1x1 projection
    with BN and ReLU, identity shortcut at stride 1 with equal channels; an expansion-1 block
    keeps its 1x1 expansion conv (the paper's block of Figure 3 always has it).

    Choices follow timm's ``fbnetc_100`` (rwightman's gen-efficientnet port), which this equals
    parameter for parameter (5,572,200): no group convolutions or channel shuffle (FBNet-C
    picks none), the 1984-channel head (timm: "paper suggests this, but is not 100% clear").
    Dropout omitted (inference).
    """

    def __init__(self, config=_C, stem: int = 16, head: int = 1984, num_classes: int = 1000):
        super().__init__()
        cin = stem
        layers = [ConvBNAct(3, cin, 3, 2)]
        for t, k, cout, s in config:
            layers.append(MBConv(cin, cout, cin * t, k, s, act=nn.ReLU, expand_always=True))
            cin = cout
        layers.append(ConvBNAct(cin, head, 1))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(head, num_classes)

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))


@register("fbnet_c", Published(
        params_m=5.5, madds_m=None, top1=74.9, resolution=224,
        source="Wu et al. 2019, FBNet, arXiv:1812.03443 (CVPR 2019); figures as cited by a "
               "third-party comparison table, not confirmed from the paper's text",
        notes="timm fbnetc_100: 5,572,200 params"))
def fbnet_c(**kwargs):
    return FBNet(_C, **kwargs)
