"""Calibrate a latency profile of this machine (tiny budget), predict a model's latency from its
per-layer costs, and compare with a measurement.

    python examples/calibrate_and_predict.py

A real calibration takes minutes and is saved once (``costmodel calibrate --out profile.json``,
then ``DeviceProfile.load("profile.json")``); this example uses a budget of a few seconds, so
expect a rough profile.
"""
import sys

import torch.nn as nn

try:
    from costmodel.latency import calibrate, measure_latency, predict_latency
except ImportError as exc:  # the latency package is optional while it is being built
    sys.exit(f"this example needs costmodel.latency (calibrate, predict_latency, "
             f"measure_latency): {exc}")


def small_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 24, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(24), nn.ReLU(),
        nn.Conv2d(24, 24, 3, padding=1, groups=24, bias=False), nn.BatchNorm2d(24),
        nn.Conv2d(24, 96, 1, bias=False), nn.BatchNorm2d(96), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(96, 10))


BUDGET_S = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0

if __name__ == "__main__":
    shape = (1, 3, 96, 96)
    # tiny budget, one thread: a rough profile (pass out="profile.json" to keep it)
    profile = calibrate(budget_s=BUDGET_S, threads=(1,), progress=False)
    print(profile)
    model = small_net().eval()
    pred = predict_latency(model, shape, profile=profile, threads=1)
    meas = measure_latency(model, shape, threads=1, per_layer=False, min_time_s=0.2, repeats=2)
    print(f"predicted {pred.total_ms:.3f} ms, measured {meas.total_ms:.3f} ms "
          f"({100 * (pred.total_ms - meas.total_ms) / meas.total_ms:+.0f}%)")
    print("slowest predicted layers:")
    print(pred.layers.nlargest(5, "pred_ms")[["name", "kind", "pred_ms"]].to_string(index=False))
