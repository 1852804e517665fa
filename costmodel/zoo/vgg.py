"""VGG-16: Simonyan & Zisserman 2015, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015, arXiv:1409.1556. Table 1: configuration D (13 conv + 3 FC layers);
Table 2: 138M parameters. The paper gives no multiply-add count: the figures are torchvision's
(torchvision/models/vgg.py, ``VGG16_Weights.IMAGENET1K_V1`` meta); MobileNets (Howard et al.
2017, arXiv:1704.04861) Table 8 quotes 15,300M multiply-adds / 138M / 71.5%.
"""
from __future__ import annotations

import torch.nn as nn

from costmodel.zoo.common import check_width, make_divisible
from costmodel.zoo.registry import Published, register

# Table 1, column D: conv3 filter counts, "M" = 2x2/2 max pool
_CONFIGS = {"D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                  512, 512, 512, "M"]}
_HIDDEN = 4096


class VGG(nn.Module):
    """VGG: stacks of 3x3 stride-1 convs (padding 1, biases) + ReLU separated by 2x2/2 max pools,
    then FC 4096 / ReLU / dropout 0.5 / FC 4096 / ReLU / dropout 0.5 / FC 1000 (Sec. 2.1).

    Choices and gaps: as torchvision, an ``nn.AdaptiveAvgPool2d((7, 7))`` sits before the
    classifier (identity at 224, so other resolutions work; the paper instead converts the FC
    layers to convolutions for dense evaluation, Sec. 3.2). No BN (the paper has none). Counts
    exactly torchvision's 138,357,544 params and 15,470M multiply-adds at 224 (0.0% gap; Table
    2's "138" matches, MobileNets Table 8's 15,300M is 1.1% lower). ``width`` scales every conv
    and hidden FC width (rounded to a multiple of 8); not part of the paper.
    """

    def __init__(self, config: str = "D", width: float = 1.0, num_classes: int = 1000):
        super().__init__()
        width = check_width(width)

        def ch(c):
            return make_divisible(c * width, 8)

        layers, cin = [], 3
        for item in _CONFIGS[config]:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, ch(item), 3, padding=1), nn.ReLU(inplace=True)]
                cin = ch(item)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d((7, 7))
        hidden = ch(_HIDDEN)
        self.classifier = nn.Sequential(
            nn.Linear(cin * 49, hidden), nn.ReLU(inplace=True), nn.Dropout(0.5),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(0.5),
            nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))


@register("vgg16", Published(
    params_m=138.357544, madds_m=15470, top1=71.592, resolution=224,
    source="torchvision 0.28 torchvision/models/vgg.py (VGG16_Weights.IMAGENET1K_V1 meta: "
           "params, _ops, acc@1); architecture: Simonyan & Zisserman 2015, arXiv:1409.1556, "
           "Table 1 (D) and Table 2 (138M params)",
    notes="MobileNets Table 8 quotes 15300M multiply-adds, 138M params, 71.5% top-1"))
def vgg16(**kwargs):
    return VGG(config="D", **kwargs)
