"""costmodel: per-layer cost (params, multiply-adds, memory access) and latency of PyTorch CNNs.

>>> import costmodel
>>> report = costmodel.analyze(costmodel.zoo.create("shufflenet_v2_x1_0"), (1, 3, 224, 224))
>>> report.total["madds"]  # multiply-adds
"""
__version__ = "0.1.0"

from costmodel import formulas, zoo  # noqa: E402
from costmodel.analysis import ShapeError, UnsupportedOpWarning, analyze, parse_shape  # noqa: E402
from costmodel.report import CostReport  # noqa: E402
from costmodel.tracer import TraceError, trace  # noqa: E402
from costmodel.latency import (DeviceProfile, calibrate, measure_latency,  # noqa: E402
                               predict_latency)

__all__ = ["analyze", "CostReport", "DeviceProfile", "ShapeError", "TraceError",
           "UnsupportedOpWarning", "calibrate", "formulas", "measure_latency", "parse_shape",
           "predict_latency", "trace", "zoo"]
