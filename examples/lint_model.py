"""Lint a model against ShuffleNetV2's four practical guidelines (G1-G4) before training it.

    python examples/lint_model.py
"""
import torch
import torch.nn as nn

from costmodel import guidelines


class Block(nn.Module):
    """A deliberately guideline-unfriendly bottleneck: 1:6 width ratio (G1), g=8 group conv (G2)
    and four parallel branches concatenated (G3). It also ends in an element-wise add + ReLU,
    but those stay below the G4 threshold here (about 13% of MAC)."""

    def __init__(self, c: int = 48):
        super().__init__()
        self.expand = nn.Conv2d(c, 6 * c, 1, bias=False)                   # G1: 1:6
        self.group = nn.Conv2d(6 * c, 6 * c, 3, padding=1, groups=8, bias=False)  # G2: g=8
        self.branches = nn.ModuleList(nn.Conv2d(6 * c, c // 4, 1) for _ in range(4))  # G3
        self.relu = nn.ReLU()

    def forward(self, x):
        y = self.group(self.expand(x))
        y = torch.cat([b(y) for b in self.branches], dim=1)
        return self.relu(x + y)                                               # G4


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 48, 3, stride=2, padding=1)
        self.blocks = nn.Sequential(Block(), Block())
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(48, 10))

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))


if __name__ == "__main__":
    lint = guidelines.check(Net(), (1, 3, 64, 64), model_name="Net")
    print(lint.to_table(min_severity="info"))
    print("worst finding:", lint.worst())
