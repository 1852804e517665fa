"""SqueezeNet 1.0 and 1.1: Iandola, Han, Moskewicz, Ashraf, Dally, Keutzer 2016, "SqueezeNet:
AlexNet-level accuracy with 50x fewer parameters and <0.5MB model size", arXiv:1602.07360.

SqueezeNet 1.0 is the paper's Table 1 / Figure 2 (left) macro-architecture (1,248,424 params
before pruning; Table 2: 57.5% top-1 at a 227x227 crop). SqueezeNet 1.1 comes from the
authors' repository (forresti/SqueezeNet, SqueezeNet_v1.1/README.md): a 3x3 stem with 64 filters
and the max pools moved earlier, "2.4x less computation" with the same accuracy. Multiply-adds
are torchvision's figures at 224 (torchvision/models/squeezenet.py ``_ops``); the repository's
"1.72 / 0.72 GFLOPS" are about twice the multiply-adds (computed at 227).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from costmodel.zoo.common import check_width, make_divisible
from costmodel.zoo.registry import Published, register

# (stem filters, stem kernel), then the body: "M" = 3x3/2 max pool (ceil mode, as Caffe),
# (s, e) = Fire module with s squeeze 1x1 filters and e expand 1x1 + e expand 3x3 filters
_CONFIGS = {
    "1_0": ((96, 7), ["M", (16, 64), (16, 64), (32, 128), "M", (32, 128), (48, 192), (48, 192),
                      (64, 256), "M", (64, 256)]),
    "1_1": ((64, 3), ["M", (16, 64), (16, 64), "M", (32, 128), (32, 128), "M", (48, 192),
                      (48, 192), (64, 256), (64, 256)]),
}


class Fire(nn.Module):
    """Fire module (paper Sec. 3.2): squeeze 1x1 conv + ReLU, then expand 1x1 and expand 3x3
    (padding 1) convs + ReLU in parallel, concatenated along channels. Convs have biases, no BN."""

    def __init__(self, cin, squeeze, expand):
        super().__init__()
        self.squeeze = nn.Conv2d(cin, squeeze, 1)
        self.squeeze_act = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze, expand, 1)
        self.expand1x1_act = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze, expand, 3, padding=1)
        self.expand3x3_act = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.squeeze_act(self.squeeze(x))
        return torch.cat([self.expand1x1_act(self.expand1x1(x)),
                          self.expand3x3_act(self.expand3x3(x))], 1)


class SqueezeNet(nn.Module):
    """SqueezeNet: stride-2 stem conv + ReLU, 8 Fire modules (fire2-fire9) with three 3x3/2 max
    pools, dropout 0.5, 1x1 conv10 to the classes + ReLU, global average pooling (no FC layer).
    1.0: 7x7 stem with 96 filters, pools after conv1, fire4 and fire8; 1.1: 3x3 stem with 64
    filters, pools after conv1, fire3 and fire5.

    Choices and gaps: structure as the authors' Caffe prototxts and torchvision (max pools in
    ceil mode, no padding in the stem); no simple bypass connections (the paper's Table 1
    model has none). Params equal Table 1's 1,248,424 (1.0) and torchvision's 1,235,496 (1.1);
    multiply-adds equal torchvision's 819M / 349M at 224 (0.0% gap). The paper trains and tests
    at 227x227, where the same model does 833M / 388M multiply-adds (convolution sizes differ by
    one pixel); the zoo uses 224 so the figures can be cross-checked. ``width`` scales every
    channel count (rounded to a multiple of 8); not part of the paper.
    """

    def __init__(self, version: str = "1_0", width: float = 1.0, num_classes: int = 1000):
        super().__init__()
        width = check_width(width)

        def ch(c):
            return make_divisible(c * width, 8)

        (stem, kernel), body = _CONFIGS[version]
        cin = ch(stem)
        layers = [nn.Conv2d(3, cin, kernel, stride=2), nn.ReLU(inplace=True)]
        for item in body:
            if item == "M":
                layers.append(nn.MaxPool2d(3, 2, ceil_mode=True))
            else:
                squeeze, expand = ch(item[0]), ch(item[1])
                layers.append(Fire(cin, squeeze, expand))
                cin = 2 * expand
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(cin, num_classes, 1),
                                        nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1))

    def forward(self, x):
        return self.classifier(self.features(x)).flatten(1)


_TV = "torchvision 0.28 torchvision/models/squeezenet.py ({} meta _ops, 224)"


@register("squeezenet1_0", Published(
    params_m=1.248424, madds_m=819, top1=57.5, resolution=224,
    source="params/top1: Iandola et al. 2016, SqueezeNet, arXiv:1602.07360, Table 1 (params "
           "before pruning) and Table 2 (top-1); madds: " + _TV.format("SqueezeNet1_0_Weights"),
    notes="paper top-1 is at a 227 crop (833M madds there); forresti/SqueezeNet's '1.72 GFLOPS' "
          "and MobileNets Table 9's '1700M Mult-Adds' are ~2x multiply-adds"))
def squeezenet1_0(**kwargs):
    return SqueezeNet(version="1_0", **kwargs)


@register("squeezenet1_1", Published(
    params_m=1.235496, madds_m=349, top1=58.178, resolution=224,
    source=_TV.format("SqueezeNet1_1_Weights.IMAGENET1K_V1") + "; architecture: "
           "forresti/SqueezeNet SqueezeNet_v1.1/README.md",
    notes="not in the paper; the repo's '0.72 GFLOPS' (at 227) is ~2x multiply-adds (388M at "
          "227); the repo states accuracy only as '>= 80.3% top-5', top1 is torchvision's"))
def squeezenet1_1(**kwargs):
    return SqueezeNet(version="1_1", **kwargs)
