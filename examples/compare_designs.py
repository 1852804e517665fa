"""Two designs with the same multiply-adds but different memory access cost (MAC).

ShuffleNetV2's guidelines G1 and G2: for a 1x1 convolution with a fixed number of multiply-adds,
MAC is smallest when input and output widths are equal (G1), and grows with the number of groups
(G2).  costmodel counts both, so the difference shows up before you train anything.

    python examples/compare_designs.py
"""
import time

import torch
import torch.nn as nn

import costmodel


def pointwise_stack(c_in: int, c_out: int, groups: int = 1, blocks: int = 4) -> nn.Sequential:
    """``blocks`` pairs of 1x1 convs c_in -> c_out -> c_in (keeps the width ratio)."""
    layers = []
    for _ in range(blocks):
        layers += [nn.Conv2d(c_in, c_out, 1, groups=groups, bias=False),
                   nn.Conv2d(c_out, c_in, 1, groups=groups, bias=False)]
    return nn.Sequential(*layers)


def cpu_ms(model: nn.Module, shape, runs: int = 20) -> float:
    """Median wall-clock ms of a forward pass (tiny budget; costmodel.latency does this properly)."""
    x = torch.randn(shape)
    torch.set_num_threads(1)
    with torch.inference_mode():
        model.eval()(x)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
    return 1000 * sorted(times)[len(times) // 2]


def compare(title: str, designs, shape=(1, 96, 28, 28)):
    print(title)
    for label, model, c_in in designs:
        s = (shape[0], c_in, *shape[2:])
        r = costmodel.analyze(model, s)
        t = r.total
        print(f"  {label:24s} madds {t['madds'] / 1e6:7.2f}M  MAC {t['mac'] / 1e6:6.2f}M  "
              f"params {t['params'] / 1e3:6.1f}K  time {cpu_ms(model, s):6.2f} ms")


if __name__ == "__main__":
    # G1: widths 1:1 (96 -> 96) versus 1:4 (48 -> 192): 96*96 == 48*192 multiply-adds per pixel
    compare("G1: equal widths minimise MAC at equal multiply-adds",
            [("1x1 convs, widths 1:1", pointwise_stack(96, 96), 96),
             ("1x1 convs, widths 1:4", pointwise_stack(48, 192), 48)])
    # G2: g=1 at 128 channels versus g=4 at 256 channels: 128*128 == 256*256/4
    compare("G2: group convolution raises MAC at equal multiply-adds",
            [("1x1 convs, g=1, c=128", pointwise_stack(128, 128), 128),
             ("1x1 convs, g=4, c=256", pointwise_stack(256, 256, groups=4), 256)])
