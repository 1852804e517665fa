"""ResNet-50 and ResNeXt-50 (32x4d), one bottleneck class for both.

- He, Zhang, Ren, Sun 2016, "Deep Residual Learning for Image Recognition", CVPR 2016,
  arXiv:1512.03385. Table 1: the 50-layer architecture and its "3.8 x 10^9 FLOPs"
  (multiply-adds, Sec. 3.3); Table 3: 10-crop accuracy.
- Xie, Girshick, Dollar, Tu, He 2017, "Aggregated Residual Transformations for Deep Neural
  Networks", CVPR 2017, arXiv:1611.05431. Table 1: ResNeXt-50 (32x4d) beside ResNet-50;
  Table 3: 224 single-crop top-1 error 22.2%.

Both models follow the torchvision layout ("ResNet v1.5": the stride of a down-sampling block
sits in its 3x3 conv), whose params and multiply-adds torchvision publishes exactly
(torchvision/models/resnet.py, ``_ops`` weight metadata). ``stride_in_1x1=True`` gives the
original layout of the ResNet paper and its Caffe models (stride in the first 1x1).
"""
from __future__ import annotations

import torch.nn as nn

from costmodel.zoo.common import ConvBNAct, check_width, make_divisible
from costmodel.zoo.registry import Published, register

# blocks per stage (conv2_x .. conv5_x of Table 1); bottleneck output = planes x 4
_DEPTH50 = (3, 4, 6, 3)
_EXPANSION = 4


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 (grouped for ResNeXt) -> 1x1 expand (x4), each conv + BN, ReLU after the
    first two and after the residual sum; projection shortcut (1x1 conv + BN) where the shape
    changes. Inner width = ``int(planes * base_width / 64) * groups`` (ResNet: 64 -> planes;
    ResNeXt 32x4d: 32 groups of 4 * planes / 64 channels, i.e. 128 in the first stage)."""

    def __init__(self, cin, planes, stride=1, groups=1, base_width=64, stride_in_1x1=False):
        super().__init__()
        inner = max(1, int(planes * base_width / 64)) * groups
        cout = planes * _EXPANSION
        s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = ConvBNAct(cin, inner, 1, s1)
        self.conv2 = ConvBNAct(inner, inner, 3, s3, groups=groups)
        self.conv3 = ConvBNAct(inner, cout, 1, act=None)
        self.downsample = (ConvBNAct(cin, cout, 1, stride, act=None)
                           if stride != 1 or cin != cout else None)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.act(self.conv3(self.conv2(self.conv1(x))) + shortcut)


class ResNet(nn.Module):
    """ResNet / ResNeXt with bottleneck blocks (ResNet paper Table 1, ResNeXt paper Table 1).

    Stem: 7x7/2 conv (64) + BN + ReLU, 3x3/2 max pool (padding 1). Four stages of ``layers``
    bottlenecks with planes 64, 128, 256, 512 (outputs x4); the first block of stages 2-4 has
    stride 2. Global average pooling and a 1000-way fully connected layer.

    Choices and gaps:
    - Default is torchvision's "v1.5" layout (stride in the 3x3), the one the ResNeXt paper and
      its fb.resnet.torch code use: resnet50 counts exactly torchvision's 25,557,032 params and
      4,089M multiply-adds, resnext50_32x4d its 25,028,904 / 4,230M (0.0% gap).
    - ``stride_in_1x1=True`` is the ResNet paper's original layout (Caffe models of
      KaimingHe/deep-residual-networks): same params, the first 1x1 of each down-sampling block
      runs at the reduced resolution, 3,858M multiply-adds for ResNet-50 vs the paper's
      "3.8 x 10^9" (+1.5%; the paper rounds to two digits).
    - ``width`` scales every channel count (rounded to a multiple of 8); not part of the papers.
    """

    def __init__(self, layers=_DEPTH50, groups: int = 1, base_width: int = 64,
                 stride_in_1x1: bool = False, width: float = 1.0, num_classes: int = 1000):
        super().__init__()
        width = check_width(width)

        def ch(c):
            return make_divisible(c * width, 8)

        cin = ch(64)
        self.stem = nn.Sequential(ConvBNAct(3, cin, 7, 2), nn.MaxPool2d(3, 2, 1))
        stages = []
        for i, depth in enumerate(layers):
            planes = ch(64 * 2 ** i)
            blocks = []
            for j in range(depth):
                stride = 2 if i > 0 and j == 0 else 1
                blocks.append(Bottleneck(cin, planes, stride, groups, base_width, stride_in_1x1))
                cin = planes * _EXPANSION
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        return self.fc(self.pool(self.stages(self.stem(x))).flatten(1))


_TV = "torchvision 0.28 torchvision/models/resnet.py ({} weight meta: params, _ops)"


@register("resnet50", Published(
    params_m=25.557032, madds_m=4089, top1=76.13, resolution=224,
    source=_TV.format("ResNet50_Weights.IMAGENET1K_V1") + "; architecture: He et al. 2016, "
    "ResNet, arXiv:1512.03385, Table 1",
    notes="v1.5 layout (stride in 3x3). The ResNet paper (Table 1) gives 3.8G multiply-adds for "
          "the original stride-in-1x1 layout (stride_in_1x1=True: 3858M, +1.5%) and no param "
          "count; its 77.15% top-1 (Table 3) is 10-crop, so top1 is torchvision's single crop."))
def resnet50(**kwargs):
    return ResNet(layers=_DEPTH50, **kwargs)


@register("resnext50_32x4d", Published(
    params_m=25.028904, madds_m=4230, top1=77.8, resolution=224,
    source="params/madds: " + _TV.format("ResNeXt50_32X4D_Weights.IMAGENET1K_V1")
    + "; top1: Xie et al. 2017, ResNeXt, arXiv:1611.05431, Table 3 (224 single crop)",
    notes="ResNeXt paper Table 1 params/FLOPs (25.0M / 4.2G) not re-confirmed from the text"))
def resnext50_32x4d(**kwargs):
    return ResNet(layers=_DEPTH50, groups=32, base_width=4, **kwargs)
