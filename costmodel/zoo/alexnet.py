"""AlexNet: Krizhevsky, Sutskever, Hinton 2012, "ImageNet Classification with Deep Convolutional
Neural Networks", NIPS 2012 (no arXiv id). Sec. 3.5 / Figure 2: five conv layers and three
fully connected layers split over two GPUs, "60 million parameters"; Table 2: accuracy.

The registered ``alexnet`` is torchvision's single-tower variant (torchvision/models/alexnet.py,
which cites Krizhevsky 2014, "One weird trick for parallelizing convolutional neural networks",
arXiv:1404.5997): 61,100,840 params and 714M multiply-adds (``_ops`` weight metadata).
``two_tower=True`` builds the 2012 original instead.
"""
from __future__ import annotations

import torch.nn as nn

from costmodel.zoo.common import check_width, make_divisible
from costmodel.zoo.registry import Published, register

# conv layers: (filters, kernel, stride, padding, groups, LRN after ReLU, 3x3/2 max pool after)
_LAYOUTS = {
    "single_tower": [(64, 11, 4, 2, 1, False, True), (192, 5, 1, 2, 1, False, True),
                     (384, 3, 1, 1, 1, False, False), (256, 3, 1, 1, 1, False, False),
                     (256, 3, 1, 1, 1, False, True)],
    # Figure 2: conv2, conv4 and conv5 see only the kernel maps on their own GPU (groups=2)
    "two_tower": [(96, 11, 4, 0, 1, True, True), (256, 5, 1, 2, 2, True, True),
                  (384, 3, 1, 1, 1, False, False), (384, 3, 1, 1, 2, False, False),
                  (256, 3, 1, 1, 2, False, True)],
}
_HIDDEN = 4096


class AlexNet(nn.Module):
    """AlexNet: five conv layers with ReLU (biases, no BN), 3x3/2 max pools after conv1, conv2
    and conv5, adaptive average pooling to 6x6, then dropout 0.5 / FC 4096 / ReLU / dropout 0.5 /
    FC 4096 / ReLU / FC 1000.

    Default (torchvision, single tower): conv filters 64, 192, 384, 256, 256, no LRN, padding 2
    in conv1; exactly torchvision's 61,100,840 params and 714M multiply-adds at 224 (0.0% gap).
    It differs from Krizhevsky 2012's two-tower original (96, 256, 384, 384, 256 filters,
    conv2/4/5 split into two groups, local response normalization after conv1 and conv2),
    whose 60,965,224 params the paper rounds to "60 million" (torchvision: +1.8%).

    ``two_tower=True`` builds that original (Caffe bvlc_alexnet structure: conv1 without
    padding, so feed 227x227 to get the 55x55 map of Figure 2; LRN n=5, alpha=1e-4, beta=0.75,
    k=2 from Sec. 3.3): 60,965,224 params and 724M multiply-adds at 227, near the 720M that
    MobileNets Table 9 quotes for AlexNet. ``width`` scales every conv and hidden FC width
    (rounded to a multiple of 8); not part of the paper.
    """

    def __init__(self, two_tower: bool = False, width: float = 1.0, num_classes: int = 1000):
        super().__init__()
        width = check_width(width)

        def ch(c):
            return make_divisible(c * width, 8)

        layers, cin = [], 3
        for filters, k, s, p, groups, lrn, pool in _LAYOUTS["two_tower" if two_tower else
                                                            "single_tower"]:
            cout = ch(filters)
            layers += [nn.Conv2d(cin, cout, k, s, p, groups=groups), nn.ReLU(inplace=True)]
            if lrn:
                layers.append(nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0))
            if pool:
                layers.append(nn.MaxPool2d(3, 2))
            cin = cout
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d((6, 6))
        hidden = ch(_HIDDEN)
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Linear(cin * 36, hidden), nn.ReLU(inplace=True),
            nn.Dropout(0.5), nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))


@register("alexnet", Published(
    params_m=61.10084, madds_m=714, top1=56.522, resolution=224,
    source="torchvision 0.28 torchvision/models/alexnet.py (AlexNet_Weights.IMAGENET1K_V1 meta: "
           "params, _ops, acc@1); original: Krizhevsky et al. 2012, NIPS, Sec. 3.5",
    notes="single-tower torchvision variant; the 2012 two-tower original (two_tower=True) has "
          "'60 million' params (60.97M counted), 59.3% top-1 (Table 2, 10-patch averaging); "
          "MobileNets Table 9 quotes 60M / 720M / 57.2%"))
def alexnet(**kwargs):
    return AlexNet(**kwargs)
