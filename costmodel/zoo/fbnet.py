"""FBNet: Wu, Dai, Zhang, Wang, Sun, Wu, Tian, Vajda, Jia, Keutzer 2019, "FBNet: Hardware-Aware
Efficient ConvNet Design via Differentiable Neural Architecture Search", arXiv:1812.03443,
CVPR 2019.

FBNet-C.  Registered figures: 5.5M parameters and 74.9% top-1 as a third-party table citing the
paper gives them; the paper's own multiply-add count and S8 latency were not confirmed from a
transcription of the paper (costmodel counts 391.5M multiply-adds at 224x224).

FBNet-A and FBNet-B follow the authors' definitions in facebookresearch/mobile-vision
``mobile_cv/arch/fbnet_v2/fbnet_modeldef_cls_fbnet.py`` (``fbnet_a``, ``fbnet_b``; commit
42fb08a5a50b1e786d9d9dfd26e751335753dfa6) and its ``IRFBlock`` (``irf_block.py``): an
expansion-1 block has no 1x1 expansion conv, and a ``_g2`` block has group-2 1x1 convs with a
channel shuffle after the first.  Registered figures: the authors' README (same repository,
README.md, "Pre-trained Models" table: FBNet-A 249.4M FLOPs / 4.3M params, FBNet-B 295.6M /
4.8M, fp32 top-1 73.3 / 74.1).  Note that ``fbnet_c`` keeps timm's expansion-1 convs, which the
authors' ``fbnet_c`` omits (+6.8M multiply-adds, +1.8%).
"""
from __future__ import annotations

import torch.nn as nn

from costmodel.zoo.common import ConvBNAct, channel_shuffle
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

# FBNet-A and FBNet-B (authors' fbnet_a / fbnet_b): (expansion, kernel, output channels, stride,
# 1x1 groups); the searched "skip" blocks are left out (identities at stride 1, equal channels)
_A = [(3, 3, 24, 2, 1), (1, 3, 24, 1, 1),
      (6, 5, 32, 2, 1), (3, 3, 32, 1, 1), (1, 5, 32, 1, 1), (3, 3, 32, 1, 1),
      (6, 5, 64, 2, 1), (3, 5, 64, 1, 1), (1, 5, 64, 1, 2), (6, 5, 64, 1, 1),
      (6, 3, 112, 1, 1), (1, 5, 112, 1, 2), (3, 5, 112, 1, 1), (1, 3, 112, 1, 2),
      (6, 5, 184, 2, 1), (6, 5, 184, 1, 1), (3, 5, 184, 1, 1), (6, 5, 184, 1, 1),
      (6, 5, 352, 1, 1)]
_B = [(1, 3, 16, 1, 1),
      (6, 3, 24, 2, 1), (1, 5, 24, 1, 1), (1, 3, 24, 1, 1), (1, 3, 24, 1, 1),
      (6, 5, 32, 2, 1), (3, 5, 32, 1, 1), (6, 3, 32, 1, 1), (6, 5, 32, 1, 1),
      (6, 5, 64, 2, 1), (6, 5, 64, 1, 1), (3, 5, 64, 1, 1),
      (6, 5, 112, 1, 1), (1, 3, 112, 1, 1), (1, 5, 112, 1, 1), (3, 5, 112, 1, 1),
      (6, 5, 184, 2, 1), (1, 5, 184, 1, 1), (6, 5, 184, 1, 1), (6, 5, 184, 1, 1),
      (6, 3, 352, 1, 1)]


class GroupedIRF(nn.Module):
    """The authors' IRF block with grouped 1x1 convs (``ir_k*_g2``): [1x1 group conv + BN +
    ReLU] -> channel shuffle -> kxk depthwise + BN + ReLU -> 1x1 group conv + BN, identity
    shortcut at stride 1 with equal channels.  The expansion conv is omitted when the expanded
    width equals the input width (as the authors' ``IRFBlock`` does); the shuffle is kept."""

    def __init__(self, cin: int, cout: int, hidden: int, kernel_size: int, stride: int,
                 groups: int):
        super().__init__()
        self.pw = ConvBNAct(cin, hidden, 1, groups=groups) if hidden != cin else None
        self.groups = groups
        self.dw = ConvBNAct(hidden, hidden, kernel_size, stride, groups=hidden)
        self.pwl = ConvBNAct(hidden, cout, 1, groups=groups, act=None)
        self.use_residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.pw(x) if self.pw is not None else x
        y = self.pwl(self.dw(channel_shuffle(y, self.groups)))
        return x + y if self.use_residual else y


class FBNet(nn.Module):
    """FBNet (Figure 4): 3x3 stride-2 conv (16), the searched blocks, 1x1 conv to 1984, global
    average pooling, FC.  Every block is 1x1 expansion + kxk depthwise + linear 1x1 projection
    with BN and ReLU, identity shortcut at stride 1 with equal channels; an expansion-1 block
    keeps its 1x1 expansion conv (the paper's block of Figure 3 always has it).

    Choices follow timm's ``fbnetc_100`` (rwightman's gen-efficientnet port), which this equals
    parameter for parameter (5,572,200): no group convolutions or channel shuffle (FBNet-C
    picks none), the 1984-channel head (timm: "paper suggests this, but is not 100% clear").
    Dropout omitted (inference).

    ``expand_always=False`` drops the 1x1 expansion conv of expansion-1 blocks, as the authors'
    mobile-vision ``IRFBlock`` does (FBNet-A/B); a config entry with a fifth field ``groups`` > 1
    is a :class:`GroupedIRF` block.
    """

    def __init__(self, config=_C, stem: int = 16, head: int = 1984, num_classes: int = 1000,
                 expand_always: bool = True):
        super().__init__()
        cin = stem
        layers = [ConvBNAct(3, cin, 3, 2)]
        for t, k, cout, s, *g in config:
            if g and g[0] > 1:
                layers.append(GroupedIRF(cin, cout, cin * t, k, s, g[0]))
            else:
                layers.append(MBConv(cin, cout, cin * t, k, s, act=nn.ReLU,
                                     expand_always=expand_always))
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


_FBNET_README = ("facebookresearch/mobile-vision README.md, 'Pre-trained Models' table (commit "
                 "4826a08ff4e93ffc53749c481f7d1cbeede474ee); architecture from "
                 "mobile_cv/arch/fbnet_v2/fbnet_modeldef_cls_fbnet.py")


@register("fbnet_a", Published(
        params_m=4.3, madds_m=249.4, top1=73.3, resolution=224, source=_FBNET_README,
        notes="the README's 'Flops (M)' and fp32 top-1; the paper's 249M FLOPs and 73.0% top-1 "
              "(as quoted in a scraped copy of its Sec. 4.2 text) not confirmed from a full "
              "transcription"))
def fbnet_a(**kwargs):
    return FBNet(_A, head=1504, expand_always=False, **kwargs)


@register("fbnet_b", Published(
        params_m=4.8, madds_m=295.6, top1=74.1, resolution=224, source=_FBNET_README,
        notes="the README's 'Flops (M)' and fp32 top-1; the paper's abstract gives 295M FLOPs "
              "and 74.1% top-1 (arXiv:1812.03443 abstract)"))
def fbnet_b(**kwargs):
    return FBNet(_B, head=1984, expand_always=False, **kwargs)
