"""One registry for every built-in architecture (one file per family, timm-style).

A family file declares each variant with :func:`register`::

    @register("shufflenet_v2_x1_0", Published(params_m=2.3, madds_m=146, top1=69.4,
              resolution=224, source="Ma et al. 2018, ShuffleNet V2, arXiv:1807.11164, Table 5/8"))
    def shufflenet_v2_x1_0(**kwargs):
        return ShuffleNetV2(width=1.0, **kwargs)

and users call :func:`costmodel.zoo.create` by name.  The registry is full whenever this module
can be used: importing it runs ``costmodel/zoo/__init__.py`` first, which imports every family
file (so this module never imports its package back).
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import torch.nn as nn


@dataclass(frozen=True)
class Published:
    """Figures a paper (or the authors' repository) published for one variant.

    ``params_m`` is millions of parameters, ``madds_m`` millions of multiply-adds (what the papers
    call FLOPs), ``top1`` ImageNet top-1 accuracy in percent (single crop), ``resolution`` the
    input side in pixels.  ``None`` means no source confirmed the figure.  ``source`` names the
    paper and table (or the repository file) each figure comes from.  ``gap``: one line, taken
    from the model's docstring, on why costmodel's count differs from a published figure beyond
    the zoo tests' tolerance (the "Gaps" list of ``reports/zoo.md``).
    """

    params_m: Optional[float] = None
    madds_m: Optional[float] = None
    top1: Optional[float] = None
    resolution: int = 224
    source: str = ""
    notes: str = ""
    gap: str = ""


@dataclass(frozen=True)
class ModelEntry:
    name: str
    family: str
    factory: Callable[..., nn.Module]
    published: Published = field(default_factory=Published)

    @property
    def input_shape(self):
        r = self.published.resolution
        return (1, 3, r, r)


_REGISTRY: Dict[str, ModelEntry] = {}


def register(name: str, published: Published = Published(), family: Optional[str] = None):
    """Decorator: register ``factory`` under ``name`` with its paper's figures."""

    def wrap(factory):
        if name in _REGISTRY:
            raise ValueError(f"zoo model {name!r} registered twice")
        fam = family or factory.__module__.rsplit(".", 1)[-1]
        _REGISTRY[name] = ModelEntry(name, fam, factory, published)
        return factory

    return wrap


class UnknownModelError(KeyError):
    """Raised for a model name that is not in the zoo; the message lists close matches."""

    def __str__(self):  # KeyError quotes its message; print it plainly
        return str(self.args[0])


def names() -> List[str]:
    """All registered model names, sorted."""
    return sorted(_REGISTRY)


def entry(name: str) -> ModelEntry:
    """The registry entry (factory, family, published figures) for ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=5, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownModelError(
            f"unknown model {name!r}.{hint} `costmodel zoo` lists all {len(_REGISTRY)} names."
        ) from None


def create(name: str, **kwargs) -> nn.Module:
    """Build the zoo model ``name`` (keyword arguments go to its factory)."""
    return entry(name).factory(**kwargs)
