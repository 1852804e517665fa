"""Fast shape rules for the slowest meta kernels.

On the meta device torch computes an op's output metadata with its meta kernel; for
normalization, linear layers, GELU-like activations and broadcasting arithmetic these are
Python decompositions that take 0.1-1 ms a call (``batch_norm`` ~0.5 ms, ``layer_norm`` ~0.7 ms,
``hardswish`` ~1 ms), more than everything else the tracer does.  Each rule here gives the same
output (shape, strides, dtype) in microseconds for the common case: standard-contiguous inputs
(and channels-last for batch norm), matching shapes and dtypes.  Anything else - a wrong channel
count, a dtype mix, an odd layout - returns :data:`NO_RULE` and the real kernel runs, so errors
and unusual layouts stay exactly torch's.  The tests compare every rule with the real kernel.

A rule takes the function's own arguments and returns the output, or :data:`NO_RULE` (an
argument it does not know raises ``TypeError``, which the caller treats as :data:`NO_RULE`).
"""
from __future__ import annotations

import numbers
from typing import Callable, Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

NO_RULE = object()
_META = torch.device("meta")


def _plain(t) -> bool:
    """A standard-contiguous meta tensor of the plain Tensor type."""
    return type(t) is torch.Tensor and t.device == _META and t.is_contiguous()


def _fresh(shape, dtype) -> torch.Tensor:
    return torch.empty(shape, dtype=dtype, device=_META)


def _same_as(x: torch.Tensor) -> torch.Tensor:
    return torch.empty(x.shape, dtype=x.dtype, device=_META)


def _vector_ok(t, c: int, dtype) -> bool:
    return t is None or (isinstance(t, torch.Tensor) and t.dtype == dtype and tuple(t.shape) == (c,))


# ---------------------------------------------------------------------------------------------
# normalization
# ---------------------------------------------------------------------------------------------
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    if training or type(input) is not torch.Tensor or input.device != _META or input.dim() < 2:
        return NO_RULE
    if running_mean is None or running_var is None:
        return NO_RULE
    c = input.shape[1]
    if not all(_vector_ok(t, c, input.dtype) for t in (running_mean, running_var, weight, bias)):
        return NO_RULE
    if input.is_contiguous():
        return _same_as(input)
    if input.dim() == 4 and input.is_contiguous(memory_format=torch.channels_last):
        return torch.empty_like(input)  # the kernel keeps channels-last
    return NO_RULE


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    if not _plain(input):
        return NO_RULE
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not ns or input.dim() < len(ns) or tuple(input.shape[-len(ns):]) != ns:
        return NO_RULE
    for t in (weight, bias):
        if t is not None and (not isinstance(t, torch.Tensor) or tuple(t.shape) != ns
                              or t.dtype != input.dtype):
            return NO_RULE
    return _same_as(input)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    if not _plain(input) or input.dim() < 2 or not isinstance(num_groups, int) or num_groups <= 0:
        return NO_RULE
    c = input.shape[1]
    if c % num_groups or input.numel() == 0:
        return NO_RULE
    if not all(_vector_ok(t, c, input.dtype) for t in (weight, bias)):
        return NO_RULE
    return _same_as(input)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    return layer_norm(input, normalized_shape, weight, None)


# ---------------------------------------------------------------------------------------------
# linear
# ---------------------------------------------------------------------------------------------
def linear(input, weight, bias=None):
    if not (_plain(input) and type(weight) in (torch.Tensor, torch.nn.Parameter)
            and weight.device == _META and weight.dim() == 2 and input.dim() >= 2):
        return NO_RULE
    out, inp = weight.shape
    if input.shape[-1] != inp or weight.dtype != input.dtype:
        return NO_RULE
    if bias is not None and (not isinstance(bias, torch.Tensor) or tuple(bias.shape) != (out,)
                             or bias.dtype != input.dtype):
        return NO_RULE
    return _fresh(tuple(input.shape[:-1]) + (out,), input.dtype)


def _pair(v, n: int = 2):
    if isinstance(v, int):
        return (v,) * n
    if isinstance(v, (tuple, list)) and len(v) == n and all(isinstance(e, int) for e in v):
        return tuple(v)
    return None


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Batched 2-d convolution of a standard-contiguous input and weight.  An input that is also
    channels-last contiguous (a 1x1 map, one channel) runs the kernel, which picks the layout;
    a contiguous weight never changes the output's layout (checked over every small shape)."""
    if not (_plain(input) and isinstance(weight, torch.Tensor) and weight.device == _META
            and weight.is_contiguous() and input.dim() == 4 and weight.dim() == 4
            and isinstance(groups, int) and groups > 0 and weight.dtype == input.dtype):
        return NO_RULE
    if input.is_contiguous(memory_format=torch.channels_last):
        return NO_RULE  # an ambiguous layout: torch picks the memory format itself
    n, c, h, w = input.shape
    o, cg, kh, kw = weight.shape
    if c != cg * groups or o % groups or input.numel() == 0:
        return NO_RULE
    if bias is not None and (not isinstance(bias, torch.Tensor) or tuple(bias.shape) != (o,)
                             or bias.dtype != input.dtype):
        return NO_RULE
    st, dl = _pair(stride), _pair(dilation)
    if st is None or dl is None or min(st) < 1 or min(dl) < 1:
        return NO_RULE
    if padding == "valid":
        pd = (0, 0)
    elif padding == "same":
        if st != (1, 1):
            return NO_RULE
        return _fresh((n, o, h, w), input.dtype)
    else:
        pd = _pair(padding)
        if pd is None or min(pd) < 0:
            return NO_RULE
    oh = (h + 2 * pd[0] - dl[0] * (kh - 1) - 1) // st[0] + 1
    ow = (w + 2 * pd[1] - dl[1] * (kw - 1) - 1) // st[1] + 1
    if oh < 1 or ow < 1:
        return NO_RULE
    return _fresh((n, o, oh, ow), input.dtype)


def _pool_size(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """torch's pooling output size (``pooling_output_shape``)."""
    num = size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = num // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _pool2d(input, kernel_size, stride, padding, dilation, ceil_mode):
    if not _plain(input) or input.dim() != 4 or input.numel() == 0 or not isinstance(ceil_mode, bool):
        return NO_RULE
    if input.is_contiguous(memory_format=torch.channels_last):
        return NO_RULE
    k = _pair(kernel_size)
    st = k if stride is None or stride == () or stride == [] else _pair(stride)
    pd, dl = _pair(padding), _pair(dilation)
    if None in (k, st, pd, dl) or min(k) < 1 or min(st) < 1 or min(dl) < 1 or min(pd) < 0:
        return NO_RULE
    if any(p > kk // 2 for p, kk in zip(pd, k)):
        return NO_RULE  # torch's error: pad should be at most half of the kernel
    oh = _pool_size(input.shape[2], k[0], st[0], pd[0], dl[0], ceil_mode)
    ow = _pool_size(input.shape[3], k[1], st[1], pd[1], dl[1], ceil_mode)
    if oh < 1 or ow < 1:
        return NO_RULE
    return _fresh((input.shape[0], input.shape[1], oh, ow), input.dtype)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    if return_indices:
        return NO_RULE
    return _pool2d(input, kernel_size, stride, padding, dilation, ceil_mode)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    return _pool2d(input, kernel_size, stride, padding, 1, ceil_mode)


def adaptive_avg_pool2d(input, output_size):
    if not _plain(input) or input.dim() not in (3, 4) or input.numel() == 0:
        return NO_RULE
    if input.is_contiguous(memory_format=torch.channels_last) and input.dim() == 4:
        return NO_RULE
    size = (output_size, output_size) if isinstance(output_size, int) else output_size
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        return NO_RULE
    size = tuple(input.shape[-2 + i] if s is None else s for i, s in enumerate(size))
    if not all(isinstance(s, int) and s > 0 for s in size):
        return NO_RULE
    return _fresh(tuple(input.shape[:-2]) + size, input.dtype)


def cat(tensors, dim=0, *, out=None):
    """Concatenation of standard-contiguous tensors of one dtype (4-d tensors that are also
    channels-last contiguous, where torch picks the layout itself, run the kernel)."""
    if out is not None or not isinstance(tensors, (list, tuple)) or not tensors or not isinstance(dim, int):
        return NO_RULE
    first = tensors[0]
    if not all(_plain(t) and t.dtype == first.dtype and t.dim() == first.dim() for t in tensors):
        return NO_RULE
    nd = first.dim()
    if nd == 0 or not -nd <= dim < nd:
        return NO_RULE
    dim %= nd
    if nd == 4 and any(t.is_contiguous(memory_format=torch.channels_last) for t in tensors):
        return NO_RULE
    shape = list(first.shape)
    for t in tensors[1:]:
        if any(a != b for i, (a, b) in enumerate(zip(t.shape, shape)) if i != dim):
            return NO_RULE
        shape[dim] += t.shape[dim]
    return _fresh(tuple(shape), first.dtype)


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """4-d sampling of a contiguous input at a contiguous grid: (N, C, H_g, W_g)."""
    if not (_plain(input) and _plain(grid) and input.dim() == 4 and grid.dim() == 4
            and grid.shape[0] == input.shape[0] and grid.shape[3] == 2
            and grid.dtype == input.dtype and input.dtype.is_floating_point
            and mode in ("bilinear", "nearest", "bicubic")
            and padding_mode in ("zeros", "border", "reflection") and input.numel() > 0):
        return NO_RULE
    return _fresh((input.shape[0], input.shape[1], grid.shape[1], grid.shape[2]), input.dtype)


def prelu(input, weight):
    """PReLU with one slope or one per channel (dimension 1)."""
    if not (_plain(input) and isinstance(weight, torch.Tensor) and weight.device == _META
            and weight.dtype == input.dtype and weight.dim() == 1 and input.dim() >= 1):
        return NO_RULE
    c = input.shape[1] if input.dim() >= 2 else 1
    if weight.numel() not in (1, c):
        return NO_RULE
    return _same_as(input)


# ---------------------------------------------------------------------------------------------
# element-wise
# ---------------------------------------------------------------------------------------------
def _unary(input, *args, inplace=False, **kwargs):
    if args or kwargs or not _plain(input) or not input.dtype.is_floating_point:
        return NO_RULE
    return input if inplace else _same_as(input)


def _unary_positional_inplace(index: int) -> Callable:
    """A unary activation whose ``inplace`` flag may come positionally at ``index``."""
    def rule(input, *args, **kwargs):
        inplace = kwargs.pop("inplace", args[index - 1] if len(args) >= index else False)
        if not isinstance(inplace, bool):
            return NO_RULE
        return _unary(input, inplace=inplace)
    return rule


def gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        return NO_RULE
    return _unary(input)


def _scalar_ok(v) -> bool:
    return isinstance(v, numbers.Number) and not isinstance(v, complex)


def _broadcast(a: Sequence[int], b: Sequence[int]) -> Optional[Tuple[int, ...]]:
    n = max(len(a), len(b))
    a = (1,) * (n - len(a)) + tuple(a)
    b = (1,) * (n - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            return None
    return tuple(out)


def _binary(a, b):
    """Out-of-place arithmetic of contiguous float tensors (or a tensor and a scalar)."""
    ta, tb = isinstance(a, torch.Tensor), isinstance(b, torch.Tensor)
    if ta and not _plain(a) or tb and not _plain(b) or not (ta or tb):
        return NO_RULE
    if (not ta and not _scalar_ok(a)) or (not tb and not _scalar_ok(b)):
        return NO_RULE
    for t in (a, b):
        if isinstance(t, torch.Tensor) and not t.dtype.is_floating_point:
            return NO_RULE
    if ta and tb:
        if a.dtype != b.dtype:
            return NO_RULE
        shape = _broadcast(a.shape, b.shape)
        if shape is None:
            return NO_RULE
        return _fresh(shape, a.dtype)
    t = a if ta else b
    return _same_as(t)


def add(input, other, *, alpha=1, out=None):
    if out is not None or not _scalar_ok(alpha):
        return NO_RULE
    return _binary(input, other)


def binary(input, other, *, out=None):
    if out is not None:
        return NO_RULE
    return _binary(input, other)


def reflected(self, other):
    return _binary(other, self)


#: function -> rule; the Tensor method, the torch function and the operator share a rule
RULES: Dict[Callable, Callable] = {
    F.batch_norm: batch_norm, F.layer_norm: layer_norm, F.group_norm: group_norm,
    F.linear: linear, torch._C._nn.linear: linear, torch.conv2d: conv2d, torch.cat: cat,
    torch.concat: cat, torch.concatenate: cat,
    F.adaptive_avg_pool2d: adaptive_avg_pool2d, torch._C._nn.adaptive_avg_pool2d: adaptive_avg_pool2d,
    F.grid_sample: grid_sample, torch.prelu: prelu, F.prelu: prelu,
    F.max_pool2d: max_pool2d, torch.max_pool2d: max_pool2d, F.avg_pool2d: avg_pool2d,
    F.gelu: gelu, torch._C._nn.gelu: gelu,
    F.relu: _unary_positional_inplace(1), F.relu6: _unary_positional_inplace(1),
    F.hardtanh: _unary_positional_inplace(3), F.leaky_relu: _unary_positional_inplace(2),
    F.elu: _unary_positional_inplace(2),
    F.silu: _unary_positional_inplace(1), F.hardswish: _unary_positional_inplace(1),
    F.hardsigmoid: _unary_positional_inplace(1), F.mish: _unary_positional_inplace(1),
    torch.relu: _unary, torch.Tensor.relu: _unary, torch.sigmoid: _unary,
    torch.Tensor.sigmoid: _unary, torch.tanh: _unary, torch.Tensor.tanh: _unary,
    torch.add: add, torch.Tensor.add: add, torch.Tensor.__add__: add,
    torch.sub: add, torch.Tensor.sub: add, torch.Tensor.__sub__: add,
    torch.mul: binary, torch.Tensor.mul: binary, torch.Tensor.__mul__: binary,
    torch.Tensor.__rmul__: reflected, torch.Tensor.__radd__: reflected,
    torch.div: binary, torch.Tensor.div: binary, torch.Tensor.__truediv__: binary,
}
if hasattr(F, "rms_norm"):
    RULES[F.rms_norm] = rms_norm
