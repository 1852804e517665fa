"""Design-space sweeps: cost, predicted latency and guideline findings of many candidates.

>>> from costmodel import sweep
>>> space = sweep.load_space("mobilenetv2")          # a packaged space, or a .json file
>>> df = sweep.sweep(space, n=100_000, profile="reports/latency/profile.json",
...                  out="results.parquet")        # resumable; engine="ray" for a cluster
>>> front = sweep.pareto_front(df, minimize=["pred_ms_1t"], maximize=["madds"])
>>> model = space.build(space.sample(seed=0, index=7))   # any candidate as an nn.Module

Modules: :mod:`~costmodel.sweep.space` (the space file: checks, sampling, enumeration),
:mod:`~costmodel.sweep.blocks` (the zoo's blocks by name), :mod:`~costmodel.sweep.pieces` (the
block cache), :mod:`~costmodel.sweep.engine` (candidates as sums of cached pieces),
:mod:`~costmodel.sweep.run` (chunks, resumable output, engines),
:mod:`~costmodel.sweep.ray_engine`, :mod:`~costmodel.sweep.pareto`,
:mod:`~costmodel.sweep.factory` (any ``(config) -> nn.Module`` factory).
Command line: ``costmodel sweep SPACE --n N --profile P --out results.parquet``.
"""
__all__ = ["Space", "SpaceError", "load_space", "packaged_spaces", "sweep", "SweepError",
           "read_table", "write_table", "pareto_front", "pareto_mask", "sweep_factory",
           "sample_grid", "grid_config", "grid_size", "BLOCK_TYPES"]

_HOMES = {"Space": "space", "SpaceError": "space", "load_space": "space",
          "packaged_spaces": "space", "sweep": "run", "SweepError": "run", "read_table": "run",
          "write_table": "run", "pareto_front": "pareto", "pareto_mask": "pareto",
          "sweep_factory": "factory", "sample_grid": "factory", "grid_config": "factory",
          "grid_size": "factory", "BLOCK_TYPES": "blocks"}


def __getattr__(name):
    """The names above, imported on first use (``import costmodel.sweep`` stays cheap)."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
