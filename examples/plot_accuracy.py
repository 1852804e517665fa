"""Plot ImageNet top-1 against multiply-adds for the zoo, with your own model as a red star.

    python examples/plot_accuracy.py [OUT_DIR]   # writes OUT_DIR/accuracy_vs_madds.png/.svg/.csv
                                                 # (default: a new temporary folder)

The same from the shell:
    costmodel plot accuracy --add examples/plot_accuracy.py:my_model --top1 71.3 \
        --out accuracy_vs_madds.png accuracy_vs_madds.svg
"""
import os
import sys
import tempfile

import torch.nn as nn

from costmodel import zoo
from costmodel.plots.accuracy import UserPoint, plot_accuracy


def my_model() -> nn.Module:
    """Your design (here: a tiny MobileNet-like stack at 224x224)."""
    def dw_sep(c_in, c_out, stride):
        return [nn.Conv2d(c_in, c_in, 3, stride, 1, groups=c_in, bias=False), nn.BatchNorm2d(c_in),
                nn.ReLU(), nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

    layers = [nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU()]
    for c_in, c_out, s in [(32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2),
                           (256, 256, 1), (256, 512, 2), (512, 512, 1), (512, 1024, 2)]:
        layers += dw_sep(c_in, c_out, s)
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1024, 1000)]
    return nn.Sequential(*layers)


if __name__ == "__main__":
    out_dir = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="costmodel-example-")
    stem = os.path.join(out_dir, "accuracy_vs_madds")
    mine = UserPoint.from_model(my_model(), top1=71.3, name="my_model")
    # a few families keep the example fast; leave names=None to plot the whole zoo
    families = {"mobilenet_v1", "mobilenet_v2", "mobilenet_v3", "shufflenet_v2", "efficientnet"}
    names = [n for n in zoo.names() if zoo.entry(n).family in families]
    res = plot_accuracy("madds", [stem + ".png", stem + ".svg"], names=names, extra=[mine],
                        data_csv=stem + ".csv")
    print(res.data.sort_values("x").to_string(index=False))
    print("Pareto frontier:", " -> ".join(res.frontier))
    print("wrote", ", ".join(res.paths))
