"""costmodel: per-layer cost (params, multiply-adds, memory access) and latency of PyTorch CNNs.

>>> import costmodel
>>> report = costmodel.analyze(costmodel.zoo.create("shufflenet_v2_x1_0"), (1, 3, 224, 224))
>>> report.total["madds"]  # multiply-adds

``import costmodel`` is cheap (it imports neither torch nor pandas): the names below and the
subpackages (``costmodel.zoo``, ``costmodel.latency``, ``costmodel.guidelines``, ...) are imported
on first use.
"""
import importlib

__version__ = "0.1.0"

#: subpackages and modules reachable as attributes after a plain ``import costmodel``
SUBMODULES = ("analysis", "arm", "fileio", "formulas", "guidelines", "handles", "latency",
              "layers", "numfmt", "plots", "report", "reports_folder", "shape_rules", "sources",
              "sweep", "tables", "tracer", "verify", "zoo")

__all__ = ["analyze", "CostReport", "DeviceProfile", "ModelSourceError", "ShapeError",
           "TraceError", "UnsupportedOpWarning", "calibrate", "formulas", "load_model",
           "measure_latency", "parse_shape", "predict_latency", "trace", "verify", "zoo"]


def __getattr__(name):
    if name in ("analyze", "parse_shape", "ShapeError", "UnsupportedOpWarning"):
        from costmodel import analysis as module
    elif name == "CostReport":
        from costmodel import report as module
    elif name in ("load_model", "ModelSourceError"):
        from costmodel import sources as module
    elif name in ("trace", "TraceError"):
        from costmodel import tracer as module
    elif name in ("DeviceProfile", "calibrate", "measure_latency", "predict_latency"):
        from costmodel import latency as module
    elif name in SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(SUBMODULES))
