"""Shift layers: zero-parameter / few-parameter replacements of spatial convolutions.

Three variants from the literature, each an ``nn.Module`` on NCHW tensors that keeps the input's
shape, pads with zeros at the borders and never reads tensor values into Python, so it runs on
``device='meta'`` tensors too.

Offset convention (all three layers): a channel with offset ``(dy, dx)`` produces
``out[c, y, x] = in[c, y + dy, x + dx]`` (zero where ``(y + dy, x + dx)`` falls outside the map),
i.e. each output pixel reads the input pixel ``dy`` rows below and ``dx`` columns to the right.
A 3x3 :class:`GroupedShift` therefore equals a depthwise 3x3 cross-correlation (``nn.Conv2d`` with
``groups=channels``, padding 1) whose kernel for a channel is one-hot at ``(1 + dy, 1 + dx)``.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["GroupedShift", "ActiveShift", "SparseShift", "SPARSE_SHIFT_DEFAULT_FRACTION"]

#: Fraction of channels :class:`SparseShift` shifts when ``shifted_channels`` is not given.
#: Chen et al. 2019 report that the shift penalty leaves only "a few" channels shifted in the
#: trained FE-Net; the exact ImageNet figure could not be retrieved from the paper text (only its
#: abstract and the official repository, which do not state it), so 10% (90% shift sparsity) is a
#: documented assumption, not a published number. Pass ``shifted_channels`` to override it.
SPARSE_SHIFT_DEFAULT_FRACTION = 0.10


def _neighbourhood(kernel_size: int) -> List[Tuple[int, int]]:
    """Offsets of a KxK neighbourhood in raster order (dy outer, dx inner), centre included."""
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size!r}")
    r = kernel_size // 2
    return [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1)]


def _shift2d(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``out[..., y, x] = x[..., y + dy, x + dx]`` with zeros outside (integer offsets)."""
    if dy == 0 and dx == 0:
        return x
    h, w = x.shape[-2], x.shape[-1]
    top, bottom, left, right = max(-dy, 0), max(dy, 0), max(-dx, 0), max(dx, 0)
    padded = F.pad(x, (left, right, top, bottom))
    y0, x0 = max(dy, 0), max(dx, 0)
    return padded[..., y0:y0 + h, x0:x0 + w]


def _check_channels(channels: int) -> int:
    if not isinstance(channels, int) or channels < 1:
        raise ValueError(f"channels must be a positive integer, got {channels!r}")
    return channels


class GroupedShift(nn.Module):
    """ShiftNet's grouped shift (Wu et al. 2018, "Shift: A Zero FLOP, Zero Parameter Alternative to
    Spatial Convolutions", arXiv:1711.08141, CVPR 2018).

    The ``channels`` are split into ``kernel_size**2`` contiguous groups of nearly equal size (the
    first ``channels % kernel_size**2`` groups get one channel more). Group ``i`` is shifted by the
    ``i``-th offset ``(dy, dx)`` of the KxK neighbourhood in raster order, multiplied by
    ``dilation``; the centre group keeps offset (0, 0). Zero padding at the borders; no
    parameters and no multiply-adds (only memory movement).

    Attributes: ``channels``, ``kernel_size``, ``dilation``, ``shifted_channels`` (channels with a
    non-zero offset), ``groups`` (list of ``(start, stop, dy, dx)``, offsets already dilated).
    """

    def __init__(self, channels: int, kernel_size: int = 3, dilation: int = 1):
        super().__init__()
        self.channels = _check_channels(channels)
        offsets = _neighbourhood(kernel_size)
        if not isinstance(dilation, int) or dilation < 1:
            raise ValueError(f"dilation must be a positive integer, got {dilation!r}")
        self.kernel_size = kernel_size
        self.dilation = dilation
        n = len(offsets)
        base, extra = divmod(channels, n)
        groups, start = [], 0
        for i, (dy, dx) in enumerate(offsets):
            size = base + (1 if i < extra else 0)
            if size:
                groups.append((start, start + size, dy * dilation, dx * dilation))
            start += size
        self.groups: List[Tuple[int, int, int, int]] = groups
        self.shifted_channels = sum(b - a for a, b, dy, dx in groups if (dy, dx) != (0, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([_shift2d(x[:, a:b], dy, dx) for a, b, dy, dx in self.groups], dim=1)

    def extra_repr(self) -> str:
        return (f"{self.channels}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"shifted_channels={self.shifted_channels}")


class ActiveShift(nn.Module):
    """Active Shift Layer, ASL (Jeon & Kim 2018, "Constructing Fast Network through Deconstruction
    of Convolution", arXiv:1806.07370, NeurIPS 2018).

    Each channel ``c`` has a learnable real-valued shift ``self.shift[c] = (dy, dx)`` and is
    resampled at ``(y + dy, x + dx)`` by bilinear interpolation: every output pixel is a weighted
    sum of the 4 input pixels around the sampling point, with zeros outside the map. Implemented
    with ``F.grid_sample`` (``align_corners=True``, ``padding_mode='zeros'``), one sampling grid per
    channel built from the parameter, so it traces on meta tensors. An integer shift reproduces the
    exact integer shift. Parameters: exactly ``2 * channels`` (initialised to zero shift).
    Limitation of the grid formulation: along a dimension of size 1 the shift is ignored.

    Attributes: ``channels``.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.channels = _check_channels(channels)
        self.shift = nn.Parameter(torch.zeros(channels, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        shift = self.shift.to(dtype=x.dtype)
        # pixel coordinate p maps to normalised 2p/(size-1) - 1 under align_corners=True
        ys = torch.linspace(-1.0, 1.0, h, device=x.device, dtype=x.dtype)
        xs = torch.linspace(-1.0, 1.0, w, device=x.device, dtype=x.dtype)
        gy = ys.view(1, h, 1) + (2.0 / max(h - 1, 1)) * shift[:, 0].view(c, 1, 1)
        gx = xs.view(1, 1, w) + (2.0 / max(w - 1, 1)) * shift[:, 1].view(c, 1, 1)
        grid = torch.stack([gx.expand(c, h, w), gy.expand(c, h, w)], dim=-1)  # (C, H, W, [x, y])
        grid = grid.unsqueeze(0).expand(n, c, h, w, 2).reshape(n * c, h, w, 2)
        out = F.grid_sample(x.reshape(n * c, 1, h, w), grid, mode="bilinear",
                            padding_mode="zeros", align_corners=True)
        return out.view(n, c, h, w)

    def extra_repr(self) -> str:
        return f"{self.channels}"


class SparseShift(nn.Module):
    """FE-Net's Sparse Shift Layer at inference (Chen et al. 2019, "All You Need is a Few Shifts:
    Designing Efficient Convolutional Neural Networks for Image Classification", arXiv:1903.05285,
    CVPR 2019).

    Training with an L1 penalty on the displacements and quantisation-aware shift learning leaves
    integer shifts, most of them zero. This module is the deployed form: the shifted channels and
    their integer offsets are fixed Python data decided at construction by a deterministic rule -
    the first ``shifted_channels`` channels get the non-zero offsets of the KxK neighbourhood in
    raster order, cycling; all other channels have offset (0, 0). ``shifted_channels`` defaults to
    ``round(SPARSE_SHIFT_DEFAULT_FRACTION * channels)`` (see that constant: an assumption, the
    paper's exact trained sparsity was not retrieved). Forward touches only the shifted channels
    (shifted slices written into a new block, concatenated with the untouched rest). No parameters.

    Attributes: ``channels``, ``kernel_size``, ``shifted_channels``; buffer ``offsets``
    (``channels x 2`` int64, rows ``(dy, dx)``).
    """

    def __init__(self, channels: int, kernel_size: int = 3, shifted_channels: Optional[int] = None):
        super().__init__()
        self.channels = _check_channels(channels)
        nonzero = [o for o in _neighbourhood(kernel_size) if o != (0, 0)]
        if shifted_channels is None:
            shifted_channels = int(round(SPARSE_SHIFT_DEFAULT_FRACTION * channels))
        if not isinstance(shifted_channels, int) or not 0 <= shifted_channels <= channels:
            raise ValueError(f"shifted_channels must be an integer in [0, {channels}], "
                             f"got {shifted_channels!r}")
        if kernel_size == 1 and shifted_channels:
            raise ValueError("kernel_size=1 has no non-zero offset to shift by")
        self.kernel_size = kernel_size
        self.shifted_channels = shifted_channels
        offsets = [nonzero[i % len(nonzero)] for i in range(shifted_channels)]
        offsets += [(0, 0)] * (channels - shifted_channels)
        self.register_buffer("offsets", torch.tensor(offsets, dtype=torch.int64).view(channels, 2))
        # the same assignment as Python data, so forward never reads the buffer's values:
        # channels j, j+m, j+2m, ... (< shifted_channels) share offset nonzero[j]
        m = len(nonzero)
        self._slots = [(j, nonzero[j]) for j in range(min(m, shifted_channels))]
        self._period = m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.shifted_channels
        if s == 0:
            return x
        block = x.new_empty((x.shape[0], s, x.shape[2], x.shape[3]))
        for j, (dy, dx) in self._slots:
            block[:, j::self._period] = _shift2d(x[:, j:s:self._period], dy, dx)
        if s == self.channels:
            return block
        return torch.cat([block, x[:, s:]], dim=1)

    def extra_repr(self) -> str:
        return (f"{self.channels}, kernel_size={self.kernel_size}, "
                f"shifted_channels={self.shifted_channels}")
