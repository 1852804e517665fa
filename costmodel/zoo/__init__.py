"""Built-in architectures, one file per family, behind :func:`create` and :func:`names`.

Besides the family files: :mod:`~costmodel.zoo.registry` (names, published figures),
:mod:`~costmodel.zoo.common` and :mod:`~costmodel.zoo.mbconv` (shared blocks) and
:mod:`~costmodel.zoo.table` (the summary table of costmodel's counts beside the papers').
"""
import importlib
import pkgutil

from costmodel.zoo.registry import ModelEntry, Published, UnknownModelError, create, entry, names, register

# import every family module so that its @register calls run
for _mod in pkgutil.iter_modules(__path__):
    if _mod.name not in ("registry", "common", "table"):
        importlib.import_module(f"{__name__}.{_mod.name}")

__all__ = ["ModelEntry", "Published", "UnknownModelError", "create", "entry", "names", "register"]
