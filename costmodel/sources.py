"""Where models come from: the zoo, a user's file, timm, torchvision and pytorchcv.

One spec string names a model in every command and in :func:`load_model`:

``shufflenet_v2_x1_0``
    a built-in zoo model (``costmodel zoo`` lists them);
``path/to/net.py:build``
    a callable in a Python file that returns an ``nn.Module``;
``timm:convnext_tiny``, ``torchvision:mobilenet_v3_large``, ``pytorchcv:diaresnet20_cifar10``
    a model of an installed library (``pip install costmodel[hub]``), built with random weights
    (nothing is downloaded).

:func:`default_input_shape` gives the input the model expects: the zoo entry's resolution, timm's
``pretrained_cfg["input_size"]``, the crop size of torchvision's default weights, pytorchcv's
``in_size``; else ``1x3x224x224``.  Every failure a user can cause (an unknown name, with close
matches; a missing package; a file that does not import; a factory that raises, returns something
else or calls ``sys.exit``) raises :class:`ModelSourceError` with a one-line message.
"""
from __future__ import annotations

import contextlib
import difflib
import importlib
import importlib.util
import os
from typing import List, Optional, Tuple

import torch
import torch.nn as nn

from costmodel.zoo import registry

#: library prefixes of a spec, and the package each needs
LIBRARIES = {"timm": "timm", "torchvision": "torchvision", "pytorchcv": "pytorchcv"}
DEFAULT_SHAPE = (1, 3, 224, 224)


class ModelSourceError(ValueError):
    """A model spec that cannot be turned into a model; the message is one line."""


def split_spec(spec: str) -> Tuple[str, str]:
    """``"timm:resnet50"`` -> ``("timm", "resnet50")``; a zoo name -> ``("zoo", name)``; a file
    spec -> ``("file", spec)``."""
    if not isinstance(spec, str) or not spec.strip():
        raise ModelSourceError(f"a model spec must be a non-empty string, got {spec!r}")
    prefix, sep, rest = spec.partition(":")
    if sep and prefix in LIBRARIES:
        if not rest:
            raise ModelSourceError(f"{spec!r}: give a model name after '{prefix}:'")
        return prefix, rest
    if sep and (prefix.endswith(".py") or os.sep in prefix):
        return "file", spec
    if spec.endswith(".py"):
        return "file", spec
    return "zoo", spec


def _import_library(name: str):
    try:
        return importlib.import_module(LIBRARIES[name])
    except ImportError as exc:
        raise ModelSourceError(
            f"{name} is not installed ({exc}); install it with `pip install costmodel[hub]` "
            f"(or `pip install {LIBRARIES[name]}`)") from None
    except Exception as exc:  # a broken install: say which
        raise ModelSourceError(f"{name} failed to import: {type(exc).__name__}: "
                               f"{_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _unknown(source: str, name: str, known: List[str]) -> ModelSourceError:
    close = difflib.get_close_matches(name, known, n=5, cutoff=0.6)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return ModelSourceError(f"unknown {source} model {name!r}.{hint} ({len(known)} {source} "
                            f"models known; `costmodel.sources.names({source!r})` lists them)")


def names(source: str) -> List[str]:
    """Every model name a source can build (classification models for the libraries)."""
    if source == "zoo":
        return registry.names()
    lib = _import_library(source)
    if source == "timm":
        return list(lib.list_models())
    if source == "torchvision":
        return sorted(lib.models.list_models())
    if source == "pytorchcv":
        from pytorchcv.model_provider import _models
        return sorted(_models)
    raise ModelSourceError(f"unknown model source {source!r}; choose zoo, file, "
                           f"{', '.join(LIBRARIES)}")


@contextlib.contextmanager
def _guarded(what: str):
    """User and library code may raise anything, or call ``sys.exit``: one clear line instead."""
    try:
        yield
    except ModelSourceError:
        raise
    except SystemExit as exc:
        raise ModelSourceError(f"{what} called sys.exit({exc.code!r})") from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        raise ModelSourceError(f"{what} raised {type(exc).__name__}: {_first_line(exc)}") from None


def _from_file(spec: str, **kwargs) -> nn.Module:
    path, _, factory_name = spec.rpartition(":") if ":" in spec else (spec, "", "")
    if not os.path.isfile(path):
        raise ModelSourceError(f"model file not found: {path}")
    mod_name = "costmodel_user_" + "".join(c if c.isalnum() else "_" for c in
                                           os.path.splitext(os.path.basename(path))[0])
    module_spec = importlib.util.spec_from_file_location(mod_name, path)
    if module_spec is None or module_spec.loader is None:
        raise ModelSourceError(f"{path} is not a Python file that can be imported")
    module = importlib.util.module_from_spec(module_spec)
    with _guarded(f"importing {path}"):
        module_spec.loader.exec_module(module)
    if not factory_name:
        candidates = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
                            and getattr(v, "__module__", None) == mod_name)
        listed = ", ".join(f"{path}:{n}" for n in candidates[:8]) or "none defined in the file"
        raise ModelSourceError(f"{path}: name the factory that builds the model, as "
                               f"path/to/file.py:factory (callables: {listed})")
    factory = getattr(module, factory_name, None)
    if factory is None or not callable(factory):
        raise ModelSourceError(f"{path} has no callable named {factory_name!r}")
    with _guarded(f"{spec}()"):
        return factory(**kwargs)


def _build(source: str, name: str, **kwargs) -> nn.Module:
    if source == "zoo":
        try:
            return registry.create(name, **kwargs)
        except registry.UnknownModelError as exc:
            raise ModelSourceError(str(exc)) from None
    if source == "file":
        return _from_file(name, **kwargs)
    lib = _import_library(source)
    if source == "timm":
        if not lib.is_model(name):
            raise _unknown("timm", name, names("timm"))
        with _guarded(f"timm.create_model({name!r})"):
            return lib.create_model(name, pretrained=False, **kwargs)
    if source == "torchvision":
        known = names("torchvision")
        if name not in known:
            raise _unknown("torchvision", name, known)
        with _guarded(f"torchvision.models.get_model({name!r})"):
            return lib.models.get_model(name, weights=None, **kwargs)
    known = names("pytorchcv")
    if name not in known:
        raise _unknown("pytorchcv", name, known)
    from pytorchcv.model_provider import get_model
    with _guarded(f"pytorchcv get_model({name!r})"):
        return get_model(name, pretrained=False, **kwargs)


def load_model(spec: str, device: Optional[str] = None, **kwargs) -> nn.Module:
    """Build the model a spec names (see the module docstring), in eval mode.

    ``device="meta"`` builds it on the meta device (no weight memory, fast for huge models);
    a model whose constructor reads tensor values cannot be built so and raises.
    """
    source, name = split_spec(spec)
    ctx = torch.device(device) if device is not None else contextlib.nullcontext()
    with ctx:
        model = _build(source, name, **kwargs)
    if not isinstance(model, nn.Module):
        raise ModelSourceError(f"{spec} gave {type(model).__name__}, not a torch.nn.Module")
    return model.eval()


def default_input_shape(spec: str, model: Optional[nn.Module] = None) -> Tuple[int, ...]:
    """The input shape the model is made for (see the module docstring)."""
    source, name = split_spec(spec)
    if source == "zoo":
        try:
            return registry.entry(name).input_shape
        except registry.UnknownModelError:
            return DEFAULT_SHAPE
    if source == "timm" and model is not None:
        size = (getattr(model, "pretrained_cfg", None) or {}).get("input_size")
        if size and len(size) == 3:
            return (1,) + tuple(int(s) for s in size)
    if source == "torchvision":
        size = getattr(model, "image_size", None)  # ViTs are built for one size (224 unweighted)
        if isinstance(size, int):
            return (1, 3, size, size)
        return _torchvision_shape(name)
    if source == "pytorchcv" and model is not None:
        size = getattr(model, "in_size", None)
        channels = int(getattr(model, "in_channels", 0) or _first_conv_channels(model))
        if isinstance(size, (tuple, list)) and len(size) == 2:
            return (1, channels) + tuple(int(s) for s in size)
    return DEFAULT_SHAPE


def _first_conv_channels(model: nn.Module, default: int = 3) -> int:
    """1 when the first convolution takes one channel (a grayscale model), else ``default`` (a
    first convolution after a space-to-depth step takes 3 x 16 channels, not its input's)."""
    for m in model.modules():
        if isinstance(m, nn.modules.conv._ConvNd):
            return 1 if int(m.in_channels) == 1 else default
    return default


def _torchvision_shape(name: str) -> Tuple[int, ...]:
    import torchvision
    try:
        weights = torchvision.models.get_model_weights(name).DEFAULT
    except Exception:
        return DEFAULT_SHAPE
    crop = getattr(weights.transforms, "keywords", {}).get("crop_size")
    if crop is None:
        return DEFAULT_SHAPE
    crop = tuple(crop) if isinstance(crop, (tuple, list)) else (crop, crop)
    if len(crop) == 1:
        crop = crop * 2
    if "video" in type(weights).__module__:  # (N, C, T, H, W): 16 frames, as in its reference
        return (1, 3, 16) + tuple(int(c) for c in crop)
    return (1, 3) + tuple(int(c) for c in crop)


def torchvision_classification() -> List[str]:
    """torchvision's image-classification models (``torchvision.models``, not its detection,
    segmentation, video, optical-flow or quantized sub-packages)."""
    import torchvision
    return sorted(torchvision.models.list_models(module=torchvision.models))
