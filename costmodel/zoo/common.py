"""Building blocks shared by several zoo families (plain PyTorch, traceable on meta tensors)."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn


def make_divisible(value: float, divisor: int = 8, min_value: Optional[int] = None) -> int:
    """Round a scaled channel count to a multiple of ``divisor`` without losing more than 10%.

    The rule of the TF-slim MobileNetV2/V3 and EfficientNet reference code.
    """
    min_value = min_value or divisor
    new = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return new


def check_width(width: float, name: str = "width", low: float = 0.1, high: float = 4.0) -> float:
    """Reject a width multiplier outside ``[low, high]`` with a clear message."""
    if not isinstance(width, (int, float)) or not (low <= float(width) <= high):
        raise ValueError(f"{name} multiplier must be a number in [{low}, {high}], got {width!r}")
    return float(width)


class ConvBNAct(nn.Sequential):
    """Conv2d (no bias) + BatchNorm2d + optional activation."""

    def __init__(self, cin, cout, kernel_size=3, stride=1, groups=1, dilation=1,
                 act: Optional[type] = nn.ReLU, padding=None):
        if padding is None:
            padding = (kernel_size - 1) // 2 * dilation
        layers = [nn.Conv2d(cin, cout, kernel_size, stride, padding, dilation=dilation,
                            groups=groups, bias=False),
                  nn.BatchNorm2d(cout)]
        if act is not None:
            layers.append(act(inplace=True) if act in (nn.ReLU, nn.ReLU6, nn.SiLU, nn.Hardswish) else act())
        super().__init__(*layers)


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2018): global pool, reduce 1x1 conv, act, expand, gate."""

    def __init__(self, channels, reduced, act=nn.ReLU, gate=nn.Sigmoid):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(channels, reduced, 1)
        self.act = act(inplace=True) if act in (nn.ReLU, nn.SiLU) else act()
        self.expand = nn.Conv2d(reduced, channels, 1)
        self.gate = gate()

    def forward(self, x):
        s = self.gate(self.expand(self.act(self.reduce(self.pool(x)))))
        return x * s


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet's channel shuffle: reshape to (g, c/g), transpose, flatten back."""
    n, c, h, w = x.shape
    x = x.view(n, groups, c // groups, h, w)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(n, c, h, w)
