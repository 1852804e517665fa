"""Analyze your own CNN: per-layer params, multiply-adds and memory access cost (MAC).

    python examples/analyze_own_model.py [OUT_DIR]   # prints the report, writes
                                                     # OUT_DIR/my_cnn_costs.csv (default: a new
                                                     # temporary folder)
"""
import os
import sys
import tempfile

import torch.nn as nn

import costmodel


class MyCNN(nn.Module):
    """A small CNN: stem, two depthwise-separable blocks, classifier."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 32, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 32, 3, stride=2, padding=1, groups=32, bias=False), nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.Conv2d(32, 64, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        return self.fc(self.pool(self.features(x)).flatten(1))


def main(out_dir: str = None):
    report = costmodel.analyze(MyCNN(), (1, 3, 64, 64))  # traced on meta tensors: no compute
    report.model_name = "MyCNN"
    print(report.to_table(max_depth=1))
    t = report.total
    print(f"total: {t['params']:,} params, {t['madds']:,} multiply-adds, {t['mac']:,} MAC elements")
    # the five layers that move the most memory
    top = report.layers.nlargest(5, "mac")[["name", "kind", "madds", "mac", "intensity"]]
    print("\nlargest MAC:\n" + top.to_string(index=False))
    out_dir = out_dir or tempfile.mkdtemp(prefix="costmodel-example-")
    csv_path = os.path.join(out_dir, "my_cnn_costs.csv")
    report.to_csv(csv_path)
    print(f"\nwrote {csv_path}")


if __name__ == "__main__":
    main(*sys.argv[1:])
