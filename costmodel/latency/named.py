"""Models by name, for timing in a fresh process (:mod:`costmodel.latency.fresh`) and in
timing files: any :mod:`costmodel.sources` spec (a zoo name, ``timm:...``,
``torchvision:...``, ``pytorchcv:...``) at its default input, ``families:calibration:I`` /
``families:validation:I`` / ``families:reference`` (:mod:`costmodel.latency.families`), or
``space:validation:I`` / ``space:calibration:I`` (the I-th network of the first design space),
``sweep:SPACE:SEED:I`` (candidate I of seed SEED of a packaged sweep space,
:mod:`costmodel.sweep.space`), ``guidelines:G1:C1:C2`` ... (a ShuffleNetV2 guideline
micro-benchmark, :func:`costmodel.guidelines.benchmarks.build_named`).  Names are looked up,
never imported from a path or executed: a ``path/file.py:factory`` spec is refused."""
from __future__ import annotations

import os
from typing import Optional, Tuple

import torch.nn as nn

from costmodel.latency import space


def resolve_model(name: str, sampler: Optional[int] = None) -> Tuple[nn.Module, Tuple[int, ...]]:
    """(model in eval mode, its input shape) for ``name`` (see the module docstring); a
    ``families:`` name as sampler version ``sampler`` builds it (default: the current one,
    :data:`costmodel.latency.families.SAMPLER_VERSION`)."""
    from costmodel import sources

    if name.startswith("families:"):
        from costmodel.latency import families
        spec = families.resolve(name, families.SAMPLER_VERSION if sampler is None else sampler)
        return families.build(spec), spec.input_shape
    if name.startswith("space:"):
        parts = name.split(":")
        if len(parts) != 3 or parts[1] not in ("validation", "calibration") or not parts[2].isdigit():
            raise KeyError(f"bad design-space name {name!r} (expected space:validation:N or "
                           f"space:calibration:N)")
        i = int(parts[2])
        specs = space.validation_specs(i + 1) if parts[1] == "validation" else space.calibration_specs(i + 1)
        spec = specs[i]
        return space.build(spec).eval(), spec.input_shape
    if name.startswith("guidelines:"):
        from costmodel.guidelines import benchmarks
        net = benchmarks.build_named(name)
        return net.eval(), net.input_shape()
    if name.startswith("sweep:"):
        parts = name.split(":")
        if len(parts) != 4 or not parts[2].isdigit() or not parts[3].isdigit():
            raise KeyError(f"bad sweep candidate name {name!r} (expected sweep:SPACE:SEED:INDEX, "
                           f"SPACE a packaged space)")
        from costmodel.sweep.space import SPACES_DIR, Space, packaged_spaces
        if parts[1] not in packaged_spaces():
            raise KeyError(f"{name!r}: no packaged space {parts[1]!r} "
                           f"({', '.join(packaged_spaces())})")
        sweep_space = Space.load(os.path.join(SPACES_DIR, parts[1] + ".json"))
        config = sweep_space.sample(int(parts[2]), int(parts[3]))
        return sweep_space.build(config).eval(), sweep_space.input_shape(config)
    try:
        kind, _ = sources.split_spec(name)
        if kind == "file":
            raise KeyError(f"{name!r}: timing by name takes zoo, timm, torchvision or pytorchcv "
                           f"models, not files")
        model = sources.load_model(name)
        return model, tuple(sources.default_input_shape(name, model))
    except sources.ModelSourceError as exc:
        raise KeyError(str(exc)) from None
