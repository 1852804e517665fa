"""MnasNet: Tan, Chen, Pang, Vasudevan, Sandler, Howard, Le 2019, "MnasNet: Platform-Aware Neural
Architecture Search for Mobile", arXiv:1807.11626, CVPR 2019.

MnasNet-A1 from Figure 7(a); figures from Sec. 6.1 / Table 1 (75.2% top-1, 3.9M parameters,
312M multiply-adds). torchvision's ``mnasnet1_0`` is the B1 variant (no SE) and is not this model.
Depth-multiplier variants (0.35, 0.5, 0.75, 1.4; paper Sec. 6.2 / Figure 5) take their figures
from the authors' README table "details of Mnasnet-A1 on ImageNet" (tensorflow/tpu
models/official/mnasnet/README.md, commit 009812fbbb2a8f787b63c40502a02fc9aef273be).
"""
from __future__ import annotations

import torch.nn as nn

from costmodel.zoo.common import ConvBNAct, check_width, make_divisible
from costmodel.zoo.mbconv import MBConv
from costmodel.zoo.registry import Published, register

# Figure 7(a) stages: (expansion, kernel, SE ratio, output channels, repeats, first stride)
_A1 = [(1, 3, 0.0, 16, 1, 1), (6, 3, 0.0, 24, 2, 2), (3, 5, 0.25, 40, 3, 2),
       (6, 3, 0.0, 80, 4, 2), (6, 3, 0.25, 112, 2, 1), (6, 5, 0.25, 160, 3, 2),
       (6, 3, 0.0, 320, 1, 1)]
# MnasNet-small: tensorflow/tpu mnasnet_models.py mnasnet_small (stem 8), timm mnasnet_small
_SMALL = [(1, 3, 0.0, 8, 1, 1), (3, 3, 0.0, 16, 1, 2), (6, 3, 0.0, 16, 2, 2),
          (6, 5, 0.25, 32, 4, 2), (6, 3, 0.25, 32, 3, 1), (6, 5, 0.25, 88, 3, 2),
          (6, 3, 0.0, 144, 1, 1)]
# MnasNet-B1 (no SE): tensorflow/tpu mnasnet_models.py mnasnet_b1, timm mnasnet_100
_B1 = [(1, 3, 0.0, 16, 1, 1), (3, 3, 0.0, 24, 3, 2), (3, 5, 0.0, 40, 3, 2),
       (6, 5, 0.0, 80, 3, 2), (6, 3, 0.0, 96, 2, 1), (6, 5, 0.0, 192, 4, 2),
       (6, 3, 0.0, 320, 1, 1)]


class MnasNet(nn.Module):
    """MnasNet-A1 (Figure 7a): 3x3 stride-2 conv (32), SepConv 3x3 (16), then MBConv6 3x3 (24, x2),
    MBConv3 5x5 SE (40, x3), MBConv6 3x3 (80, x4), MBConv6 3x3 SE (112, x2), MBConv6 5x5 SE
    (160, x3), MBConv6 3x3 (320, x1); 1x1 conv to 1280, global average pooling, FC. ReLU
    throughout, BN after every conv.

    Details the figure leaves open follow the official tensorflow/tpu
    models/official/mnasnet/mnasnet_model.py: SepConv is an MBConv with expansion 1 (depthwise
    3x3 + BN + ReLU, linear 1x1 + BN, no shortcut); SE sits after the depthwise conv, its
    bottleneck is ``max(1, int(block input channels * 0.25))`` (of the block *input*, not the
    expanded width), reduce/expand 1x1 convs with bias, ReLU, sigmoid gate; identity shortcut
    when stride 1 and channels equal; the 1280 head is a 1x1 conv without bias + BN + ReLU.
    Dropout omitted (inference). ``act`` is ReLU for MnasNet (EfficientNet reuses this class
    with SiLU). Gaps: params -0.3% vs the paper's 3.9M; multiply-adds -0.1% vs
    the paper's 312M and -1.1% vs the official README's 315.2M.

    ``width`` is the depth multiplier of mnasnet_model.py ``round_filters`` (depth_divisor 8,
    min_depth 8, never more than 10% below the scaled count): it scales the stem and every
    block's input and output channels (so the expanded width and the SE bottleneck follow),
    not the 1280-wide head, nor the repeats. Parameters equal timm's ``semnasnet_050/075/100/
    140`` and its MnasNet-A1 generator at 0.35 exactly (2,082,006 / 2,912,278 / 3,887,038 /
    6,105,992 / 1,747,018). Against the README's multiply-adds (5 widths x 5 inputs), the
    conv + linear count is 0.9-2.7% below and costmodel's total (with BN) 0.4-1.8% above, at
    every one of the 25 entries: the README's convention lies between the two.

    ``first_skip=False`` drops the identity shortcut of the first (SepConv) block even where
    its input and output widths agree: MnasNet-small's stem is 8 wide and so is that block's
    output, but the official block string 'r1_k3_s11_e1_i16_o8' declares 16 input filters and
    mnasnet_model.py decides the shortcut from the declared widths (16 != 8: none). timm's
    mnasnet_small adds it; an 8 x 112 x 112 addition, no parameters.
    """

    def __init__(self, config=_A1, act: type = nn.ReLU, stem: int = 32, head: int = 1280,
                 num_classes: int = 1000, width: float = 1.0, first_skip: bool = True):
        super().__init__()
        width = check_width(width)

        def ch(c):
            return make_divisible(c * width, 8)

        cin = ch(stem)
        layers = [ConvBNAct(3, cin, 3, 2, act=act)]
        for j, (t, k, se, cout, n, s) in enumerate(config):
            cout = ch(cout)
            for i in range(n):
                layers.append(MBConv(cin, cout, cin * t, k, s if i == 0 else 1, act=act,
                                     se_channels=max(1, int(cin * se)) if se else None,
                                     se_act=act, skip=first_skip or j + i > 0))
                cin = cout
        layers.append(ConvBNAct(cin, head, 1, act=act))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(head, num_classes)

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))


@register("mnasnet_a1", Published(
        params_m=3.9, madds_m=312, top1=75.2, resolution=224,
        source="Tan et al. 2019, MnasNet, arXiv:1807.11626 (CVPR 2019), Sec. 6.1 / Table 1",
        notes="MobileNetV3 Table 3 lists 315M; tensorflow/tpu mnasnet README: 3.9M / 315.2M"))
def mnasnet_a1(**kwargs):
    return MnasNet(_A1, **kwargs)


# Depth-multiplier variants: figures of the README table's 224 rows (params M, multiply-adds M,
# top-1 %); the table's other inputs (192/160/128/96) are in costmodel/arm/published_arm.json
_README = ("tensorflow/tpu models/official/mnasnet/README.md "
           "@009812fbbb2a8f787b63c40502a02fc9aef273be, table 'details of Mnasnet-A1 on ImageNet', "
           "input 224 (Tan et al. 2019, MnasNet, arXiv:1807.11626)")


@register("mnasnet_a1_x0_35", Published(
        params_m=1.7, madds_m=63.2, top1=64.1, resolution=224, source=_README,
        notes="paper Table 4: 1.7M, 63M MAdds, 64.1%, 22.8 ms (README: 22 ms); 1,747,018 "
              "params round to 1.7M"))
def mnasnet_a1_x0_35(**kwargs):
    return MnasNet(_A1, width=0.35, **kwargs)


@register("mnasnet_a1_x0_5", Published(
        params_m=2.1, madds_m=105.2, top1=68.9, resolution=224, source=_README))
def mnasnet_a1_x0_5(**kwargs):
    return MnasNet(_A1, width=0.5, **kwargs)


@register("mnasnet_a1_x0_75", Published(
        params_m=2.9, madds_m=226.7, top1=73.3, resolution=224, source=_README))
def mnasnet_a1_x0_75(**kwargs):
    return MnasNet(_A1, width=0.75, **kwargs)


@register("mnasnet_a1_x1_4", Published(
        params_m=6.1, madds_m=591.5, top1=77.2, resolution=224, source=_README))
def mnasnet_a1_x1_4(**kwargs):
    return MnasNet(_A1, width=1.4, **kwargs)


@register("mnasnet_b1", Published(
        params_m=None, madds_m=None, top1=None, resolution=224,
        source="tensorflow/tpu models/official/mnasnet mnasnet_models.py (mnasnet_b1)",
        notes="the B1 variant without SE; timm mnasnet_100: 4,383,312 params; torchvision "
              "mnasnet1_0 is the same network"))
def mnasnet_b1(**kwargs):
    """MnasNet-B1: the A1 layout without SE and with B1's widths and kernels (see ``_B1``)."""
    return MnasNet(_B1, **kwargs)


@register("mnasnet_small", Published(
        params_m=2.0, madds_m=68, top1=66, resolution=224,
        source="tensorflow/tpu models/official/mnasnet/README.md ('mnasnet-small has ~66% top-1 "
               "ImageNet accuracy with 2.0M parameters and 68M Multiply-Adds'); layout: "
               "mnasnet_models.py mnasnet_small (commit 7dc921f846c9)",
        notes="timm and pytorchcv mnasnet_small: 2,030,264 params (equal); MobileNetV3 "
              "(arXiv:1905.02244) Table 3 'Mnas-small [43]' lists 1.9M / 65.1M / 64.9%, which "
              "this released layout does not meet (+7% params, +5% conv+linear multiply-adds)"))
def mnasnet_small(**kwargs):
    """MnasNet-small (official block strings): stem 3x3 conv 8, SepConv 3x3 (8), MBConv3 3x3
    (16), MBConv6 3x3 (16, x2), MBConv6 5x5 SE (32, x4), MBConv6 3x3 SE (32, x3), MBConv6 5x5
    SE (88, x3), MBConv6 3x3 (144); 1x1 conv to 1280, pooling, FC; ReLU; no shortcut on the
    SepConv block (see :class:`MnasNet`)."""
    return MnasNet(_SMALL, stem=8, first_skip=False, **kwargs)
