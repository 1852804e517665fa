"""Handles: map a traced op to its cost formula and its kind (one table, like flop_counter).

A handle takes an :class:`~costmodel.tracer.OpRecord` and returns an :class:`OpCost`: the kind,
the :class:`~costmodel.formulas.Cost` and the layer's geometry for the report.  Module handles are
looked up by class (through the MRO, so subclasses of ``nn.Conv2d`` are found); function handles
by the call's short name (``cat``, ``add``, ``relu`` ...), which merges ``torch.add``,
``Tensor.add``, ``x + y`` and ``x += y``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple

import torch.nn as nn

from costmodel import formulas as fm
from costmodel import layers
from costmodel.formulas import Cost
from costmodel.tracer import OpRecord


@dataclass
class OpCost:
    kind: str
    cost: Cost
    geometry: Dict[str, object] = field(default_factory=dict)  # kernel, stride, dilation, groups


Handle = Callable[[OpRecord], OpCost]
MODULE_HANDLES: Dict[type, Handle] = {}
FUNCTION_HANDLES: Dict[str, Handle] = {}


def for_modules(*types):
    def wrap(fn):
        for t in types:
            MODULE_HANDLES[t] = fn
        return fn
    return wrap


def for_functions(*names):
    def wrap(fn):
        for n in names:
            FUNCTION_HANDLES[n] = fn
        return fn
    return wrap


def module_handle(module_type: type) -> Optional[Handle]:
    for klass in module_type.__mro__:
        if klass in MODULE_HANDLES:
            return MODULE_HANDLES[klass]
    return None


def has_module_handle(module: nn.Module) -> bool:
    """The tracer's leaf predicate: modules with a formula are recorded as one op."""
    return module_handle(type(module)) is not None


def short_name(rec: OpRecord) -> str:
    name = rec.name.rsplit(".", 1)[-1].split(":")[0]
    return name


def function_key(rec: OpRecord) -> str:
    """``Tensor.add_`` -> ``add``: the in-place and out-of-place forms share a formula."""
    key = rec.op.rsplit(".", 1)[-1]
    key = {"__getitem__": "getitem", "__setitem__": "setitem"}.get(key, key)
    return key[:-1] if key.endswith("_") and not key.endswith("__") else key


def handle_for(rec: OpRecord) -> Optional[Handle]:
    if rec.is_module:
        return module_handle(type(rec.target))
    return FUNCTION_HANDLES.get(function_key(rec))


# ---------------------------------------------------------------------------------------------
# convolution
# ---------------------------------------------------------------------------------------------
def conv_kind(c_in: int, groups: int, kernel, dilation, transposed: bool) -> str:
    """``transposed_conv``, ``depthwise_conv`` (g = C_in > 1), ``group_conv`` (1 < g),
    ``dilated_conv`` (any dilation > 1), ``pointwise_conv`` (1x1) or ``conv``."""
    if transposed:
        return "transposed_conv"
    if groups > 1 and groups == c_in:
        return "depthwise_conv"
    if groups > 1:
        return "group_conv"
    if any(d > 1 for d in dilation):
        return "dilated_conv"
    if all(k == 1 for k in kernel):
        return "pointwise_conv"
    return "conv"


def _conv_cost(x, w_shape, out, bias, groups, stride, dilation, transposed) -> OpCost:
    kernel = tuple(w_shape[2:])
    nd = len(kernel)
    stride, dilation = fm.as_tuple(stride, nd), fm.as_tuple(dilation, nd)
    c_in = int(x.shape[1])
    return OpCost(conv_kind(c_in, groups, kernel, dilation, transposed),
                  fm.conv(x.shape, w_shape, out.shape, bias=bias, transposed=transposed),
                  {"kernel": kernel, "stride": stride, "dilation": dilation, "groups": groups})


@for_modules(nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
             nn.ConvTranspose3d)
def conv_module(rec: OpRecord) -> OpCost:
    m = rec.target
    return _conv_cost(rec.input, tuple(m.weight.shape), rec.output, m.bias is not None, m.groups,
                      m.stride, m.dilation, m.transposed)


@for_functions("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
               "conv_transpose3d")
def conv_function(rec: OpRecord) -> OpCost:
    x, w = rec.args[0], rec.arg(1, "weight")
    bias = rec.arg(2, "bias")
    transposed = "transpose" in rec.op
    # F.conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation)
    pos = (3, 4, 7, 6) if transposed else (3, 4, 5, 6)  # stride, padding, dilation, groups
    return _conv_cost(x, w.shape, rec.output, bias is not None, rec.arg(pos[3], "groups", 1),
                      rec.arg(pos[0], "stride", 1), rec.arg(pos[2], "dilation", 1), transposed)


@for_modules(nn.Linear, nn.Bilinear)
def linear_module(rec: OpRecord) -> OpCost:
    m = rec.target
    if isinstance(m, nn.Bilinear):  # y = x1^T A x2 + b: madds = N * in1 * in2 * out
        rows = rec.inputs[0].numel // m.in1_features
        madds = rows * m.in1_features * m.in2_features * m.out_features
        params = m.weight.numel() + (m.out_features if m.bias is not None else 0)
        mac = sum(t.numel for t in rec.inputs) + params + rec.output.numel
        return OpCost("linear", Cost(params, madds, 2 * madds, mac))
    return OpCost("linear", fm.linear(rec.input.shape, m.in_features, m.out_features,
                                      m.bias is not None))


@for_functions("linear")
def linear_function(rec: OpRecord) -> OpCost:
    w = rec.arg(1, "weight")
    return OpCost("linear", fm.linear(rec.args[0].shape, w.shape[1], w.shape[0],
                                      rec.arg(2, "bias") is not None))


@for_functions("matmul", "mm", "bmm")
def matmul_function(rec: OpRecord) -> OpCost:
    a, b = rec.args[0], rec.args[1]
    return OpCost("matmul", fm.matmul(a.shape, b.shape, rec.output.shape))


@for_functions("einsum")
def einsum_function(rec: OpRecord) -> OpCost:
    return OpCost("matmul", fm.einsum(rec.args[0], [t.shape for t in rec.inputs]))


@for_functions("addmm", "baddbmm", "addbmm")
def add_matmul_function(rec: OpRecord) -> OpCost:
    """``beta * c + alpha * (a @ b)``: the product plus one add per output (reads c once)."""
    c, a, b = rec.args[0], rec.args[1], rec.args[2]
    prod = fm.matmul(a.shape, b.shape, rec.output.shape)
    return OpCost("matmul", prod + fm.Cost(flops=rec.output.numel, mac=c.numel))


# ---------------------------------------------------------------------------------------------
# normalization
# ---------------------------------------------------------------------------------------------
@for_modules(nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)
def batch_norm_module(rec: OpRecord) -> OpCost:
    return OpCost("norm", fm.batch_norm(rec.input.shape, rec.target.affine))


@for_functions("batch_norm")
def batch_norm_function(rec: OpRecord) -> OpCost:
    return OpCost("norm", fm.batch_norm(rec.input.shape, rec.arg(3, "weight") is not None))


@for_modules(nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d,
             nn.LocalResponseNorm)
def norm_module(rec: OpRecord) -> OpCost:
    params = sum(p.numel() for p in rec.target.parameters())
    return OpCost("norm", fm.norm_with_statistics(rec.input.shape, params))


@for_functions("layer_norm", "group_norm", "instance_norm", "local_response_norm", "normalize")
def norm_function(rec: OpRecord) -> OpCost:
    return OpCost("norm", fm.norm_with_statistics(rec.input.shape,
                                                  sum(fm.numel(s) for s in rec.params.values())))


# ---------------------------------------------------------------------------------------------
# activations
# ---------------------------------------------------------------------------------------------
_ACT_MODULES = {nn.ReLU: "relu", nn.ReLU6: "relu6", nn.Hardtanh: "hardtanh",
                nn.LeakyReLU: "leaky_relu", nn.ELU: "elu", nn.PReLU: "prelu",
                nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.Hardsigmoid: "hardsigmoid",
                nn.SiLU: "silu", nn.Hardswish: "hardswish", nn.Mish: "mish", nn.GELU: "gelu",
                nn.Softplus: "softplus", nn.Softmax: "softmax", nn.LogSoftmax: "log_softmax"}


@for_modules(*_ACT_MODULES)
def activation_module(rec: OpRecord) -> OpCost:
    kind = next(v for k, v in _ACT_MODULES.items() if isinstance(rec.target, k))
    if isinstance(rec.target, nn.ReLU6):  # ReLU6 subclasses Hardtanh
        kind = "relu6"
    params = sum(p.numel() for p in rec.target.parameters())
    return OpCost("act", fm.activation(rec.input.shape, kind, params))


@for_functions("relu", "relu6", "hardtanh", "leaky_relu", "elu", "prelu", "sigmoid", "tanh",
               "hardsigmoid", "silu", "hardswish", "mish", "gelu", "softplus", "softmax",
               "log_softmax")
def activation_function(rec: OpRecord) -> OpCost:
    name = function_key(rec)
    params = sum(fm.numel(s) for s in rec.params.values())
    return OpCost("act", fm.activation(rec.input.shape, name, params))


# ---------------------------------------------------------------------------------------------
# pooling and resampling
# ---------------------------------------------------------------------------------------------
def _pool_geometry(kernel, stride, nd):
    kernel = fm.as_tuple(kernel, nd)
    stride = fm.as_tuple(stride if stride not in (None, ()) else kernel, nd)
    return kernel, stride


@for_modules(nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
def pool_module(rec: OpRecord) -> OpCost:
    m = rec.target
    nd = len(rec.output.shape) - 2
    kernel, stride = _pool_geometry(m.kernel_size, m.stride, nd)
    mode = "max" if "Max" in type(m).__name__ else "avg"
    dilation = fm.as_tuple(getattr(m, "dilation", 1), nd)
    return OpCost("pool", fm.pool(rec.input.shape, rec.output.shape, fm.numel(kernel), mode),
                  {"kernel": kernel, "stride": stride, "dilation": dilation})


@for_functions("max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
               "max_pool2d_with_indices")
def pool_function(rec: OpRecord) -> OpCost:
    nd = len(rec.output.shape) - 2
    kernel, stride = _pool_geometry(rec.arg(1, "kernel_size"), rec.arg(2, "stride"), nd)
    mode = "max" if "max" in rec.op else "avg"
    return OpCost("pool", fm.pool(rec.input.shape, rec.output.shape, fm.numel(kernel), mode),
                  {"kernel": kernel, "stride": stride})


@for_modules(nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
             nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)
def adaptive_pool_module(rec: OpRecord) -> OpCost:
    mode = "max" if "Max" in type(rec.target).__name__ else "avg"
    return OpCost("pool", fm.adaptive_pool(rec.input.shape, rec.output.shape, mode))


@for_functions("adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
               "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d")
def adaptive_pool_function(rec: OpRecord) -> OpCost:
    mode = "max" if "max" in rec.op else "avg"
    return OpCost("pool", fm.adaptive_pool(rec.input.shape, rec.output.shape, mode))


@for_modules(nn.Upsample, nn.UpsamplingNearest2d, nn.UpsamplingBilinear2d)
def upsample_module(rec: OpRecord) -> OpCost:
    return OpCost("upsample", fm.upsample(rec.input.shape, rec.output.shape, rec.target.mode))


@for_functions("interpolate", "upsample", "upsample_nearest", "upsample_bilinear")
def upsample_function(rec: OpRecord) -> OpCost:
    mode = rec.arg(3, "mode", "nearest")
    if function_key(rec) == "upsample_bilinear":
        mode = "bilinear"
    return OpCost("upsample", fm.upsample(rec.input.shape, rec.output.shape, mode))


@for_functions("grid_sample")
def grid_sample_function(rec: OpRecord) -> OpCost:
    mode = rec.arg(2, "mode", "bilinear")
    cost = fm.upsample(rec.input.shape, rec.output.shape, mode)
    grid = rec.arg(1, "grid")
    return OpCost("resample", Cost(cost.params, cost.madds, cost.flops, cost.mac + grid.numel))


# ---------------------------------------------------------------------------------------------
# element-wise arithmetic and reductions
# ---------------------------------------------------------------------------------------------
@for_functions("add", "sub", "mul", "div", "true_divide", "rsub", "maximum", "minimum", "where",
               "neg", "abs", "clamp", "clip", "pow", "sqrt", "rsqrt", "exp", "log", "reciprocal",
               "square", "sign", "floor", "ceil", "round", "frac", "addcmul")
def elementwise_function(rec: OpRecord) -> OpCost:
    return OpCost("elementwise", fm.elementwise([t.shape for t in rec.inputs], rec.output.shape))


@for_functions("sum", "mean", "amax", "amin", "max", "min", "prod", "var", "std", "norm",
               "logsumexp", "argmax", "argmin")
def reduction_function(rec: OpRecord) -> OpCost:
    return OpCost("reduction", fm.reduction(rec.input.shape, rec.output.shape))


# ---------------------------------------------------------------------------------------------
# data movement
# ---------------------------------------------------------------------------------------------
@for_functions("cat", "concat", "concatenate", "stack", "hstack", "vstack")
def concat_function(rec: OpRecord) -> OpCost:
    return OpCost("concat", fm.concat([t.shape for t in rec.inputs], rec.output.shape))


@for_functions("split", "chunk", "unbind", "tensor_split", "split_with_sizes", "narrow", "select",
               "getitem", "unfold")
def split_function(rec: OpRecord) -> OpCost:
    if all(o.aliases_input for o in rec.outputs):
        return OpCost("split", fm.view())
    return OpCost("copy", fm.copy(rec.output.shape))  # advanced indexing gathers


_VIEWS = ("view", "view_as", "reshape", "reshape_as", "flatten", "unflatten", "squeeze",
          "unsqueeze", "transpose", "permute", "t", "T", "mT", "expand", "expand_as", "contiguous",
          "movedim", "swapaxes", "detach", "alias", "as_strided", "channel_shuffle",
          "pixel_shuffle", "pixel_unshuffle", "clone", "to", "float", "half", "type_as", "repeat")


@for_functions(*_VIEWS)
def layout_function(rec: OpRecord) -> OpCost:
    """Views are free; a call that materializes a permuted layout is a shuffle (copy)."""
    if all(o.aliases_input for o in rec.outputs):
        return OpCost("view", fm.view())
    key = function_key(rec)
    kind = "shuffle" if (not rec.input.contiguous or key in ("channel_shuffle", "pixel_shuffle",
                                                            "pixel_unshuffle")) else "copy"
    return OpCost(kind, fm.copy(rec.output.shape) if kind == "shuffle" or key != "repeat" else
                  Cost(mac=rec.input.numel + rec.output.numel))


@for_functions("pad", "constant_pad_nd")
def pad_function(rec: OpRecord) -> OpCost:
    return OpCost("copy", Cost(mac=rec.input.numel + rec.output.numel))


@for_functions("setitem", "copy", "fill", "zero", "masked_fill", "index_put", "scatter")
def write_function(rec: OpRecord) -> OpCost:
    written = rec.inputs[1].numel if len(rec.inputs) > 1 else rec.output.numel
    return OpCost("copy", Cost(mac=2 * written))


@for_functions("zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like",
               "full_like", "arange", "tensor", "as_tensor", "new_zeros", "new_ones", "new_empty",
               "new_full", "linspace", "eye")
def constant_function(rec: OpRecord) -> OpCost:
    return OpCost("constant", Cost(mac=rec.output.numel))


@for_modules(nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
             nn.Flatten, nn.Unflatten)
def identity_module(rec: OpRecord) -> OpCost:
    if isinstance(rec.target, (nn.Flatten, nn.Unflatten)) and not rec.output.aliases_input:
        return OpCost("shuffle", fm.copy(rec.output.shape))
    return OpCost("view" if isinstance(rec.target, (nn.Flatten, nn.Unflatten)) else "identity",
                  fm.view())


@for_functions("dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "identity")
def identity_function(rec: OpRecord) -> OpCost:
    return OpCost("identity", fm.view())


@for_modules(nn.ChannelShuffle, nn.PixelShuffle, nn.PixelUnshuffle)
def shuffle_module(rec: OpRecord) -> OpCost:
    return OpCost("shuffle", fm.channel_shuffle(rec.input.shape))


# ---------------------------------------------------------------------------------------------
# shift operations (costmodel.layers)
# ---------------------------------------------------------------------------------------------
@for_modules(layers.GroupedShift)
def grouped_shift_module(rec: OpRecord) -> OpCost:
    m = rec.target
    k = (m.kernel_size, m.kernel_size)
    return OpCost("shift", fm.grouped_shift(rec.input.shape, m.shifted_channels),
                  {"kernel": k, "dilation": (m.dilation, m.dilation)})


@for_modules(layers.ActiveShift)
def active_shift_module(rec: OpRecord) -> OpCost:
    return OpCost("shift", fm.active_shift(rec.input.shape))


@for_modules(layers.SparseShift)
def sparse_shift_module(rec: OpRecord) -> OpCost:
    m = rec.target
    return OpCost("shift", fm.sparse_shift(rec.input.shape, m.shifted_channels),
                  {"kernel": (m.kernel_size, m.kernel_size)})


def unsupported(rec: OpRecord) -> OpCost:
    """No formula: the op is reported as ``unsupported`` with zero counts (and warned about)."""
    return OpCost("unsupported", fm.ZERO)


def cost_of(rec: OpRecord) -> Tuple[OpCost, bool]:
    """(cost, supported) of one traced op."""
    handle = handle_for(rec)
    if handle is None:
        return unsupported(rec), False
    return handle(rec), True
