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
from costmodel.tracer import OpRecord, TensorInfo


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
        _RESOLVED.clear()
        return fn
    return wrap


def for_functions(*names):
    def wrap(fn):
        for n in names:
            FUNCTION_HANDLES[n] = fn
        return fn
    return wrap


#: the methods that define what a registered module computes: a subclass that overrides one of
#: them runs something else, so the registered formula does not describe it
BEHAVIOUR_METHODS = ("forward", "_conv_forward")
_RESOLVED: Dict[type, Optional[Handle]] = {}


def module_handle(module_type: type) -> Optional[Handle]:
    """The handle of a module class: that of the nearest registered class in its MRO, provided
    the class still runs that class's own computation (it overrides none of
    :data:`BEHAVIOUR_METHODS`).  A subclass with its own ``forward`` (OctConv, a
    weight-standardized conv, timm's ``BatchNormAct2d``) has no handle unless it is registered
    itself: the tracer traces into it."""
    if module_type in _RESOLVED:
        return _RESOLVED[module_type]
    handle = None
    for klass in module_type.__mro__:
        if klass in MODULE_HANDLES:
            if all(getattr(module_type, m, None) is getattr(klass, m, None) for m in BEHAVIOUR_METHODS):
                handle = MODULE_HANDLES[klass]
            break
    _RESOLVED[module_type] = handle
    return handle


def has_module_handle(module: nn.Module) -> bool:
    """The tracer's leaf predicate: modules with a formula are recorded as one op (not one whose
    instance has its own ``forward`` attribute)."""
    return "forward" not in vars(module) and module_handle(type(module)) is not None


def short_name(rec: OpRecord) -> str:
    name = rec.name.rsplit(".", 1)[-1].split(":")[0]
    return name


#: Python operators as the tensor methods they call (``x == y`` -> ``eq``, ``~m`` -> ``bitwise_not``)
OPERATOR_KEYS = {
    "__eq__": "eq", "__ne__": "ne", "__lt__": "lt", "__le__": "le", "__gt__": "gt", "__ge__": "ge",
    "__invert__": "bitwise_not", "__and__": "bitwise_and", "__rand__": "bitwise_and",
    "__iand__": "bitwise_and", "__or__": "bitwise_or", "__ror__": "bitwise_or",
    "__ior__": "bitwise_or", "__xor__": "bitwise_xor", "__rxor__": "bitwise_xor",
    "__ixor__": "bitwise_xor", "__lshift__": "bitwise_left_shift",
    "__rlshift__": "bitwise_left_shift", "__ilshift__": "bitwise_left_shift",
    "__rshift__": "bitwise_right_shift", "__rrshift__": "bitwise_right_shift",
    "__irshift__": "bitwise_right_shift", "__pow__": "pow", "__rpow__": "pow", "__ipow__": "pow",
    "__floordiv__": "floor_divide", "__rfloordiv__": "floor_divide",
    "__ifloordiv__": "floor_divide", "__mod__": "remainder", "__rmod__": "remainder",
    "__imod__": "remainder", "__add__": "add", "__radd__": "add", "__iadd__": "add",
    "__sub__": "sub", "__rsub__": "sub", "__isub__": "sub", "__mul__": "mul", "__rmul__": "mul",
    "__imul__": "mul", "__truediv__": "div", "__rtruediv__": "div", "__itruediv__": "div",
    "__div__": "div", "__rdiv__": "div", "__matmul__": "matmul", "__rmatmul__": "matmul",
    "__neg__": "neg", "__pos__": "positive", "__abs__": "abs",
    "__getitem__": "getitem", "__setitem__": "setitem"}
_ALIASES = {"greater": "gt", "greater_equal": "ge", "less": "lt", "less_equal": "le",
            "not_equal": "ne", "multiply": "mul", "divide": "div", "subtract": "sub",
            "absolute": "abs", "arccos": "acos", "arcsin": "asin", "arctan": "atan",
            "arctan2": "atan2", "negative": "neg", "fix": "trunc"}


def function_key(rec: OpRecord) -> str:
    """``Tensor.add_`` -> ``add``, ``Tensor.__eq__`` -> ``eq``: in-place, out-of-place and
    operator forms share a formula."""
    key = rec.op.rsplit(".", 1)[-1]
    if key.startswith("__"):
        return OPERATOR_KEYS.get(key, key)
    key = key[:-1] if key.endswith("_") else key
    return _ALIASES.get(key, key)


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
    x, w = rec.arg(0, "input"), rec.arg(1, "weight")
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
    return OpCost("linear", fm.linear(rec.arg(0, "input").shape, w.shape[1], w.shape[0],
                                      rec.arg(2, "bias") is not None))


@for_functions("matmul", "mm", "bmm")
def matmul_function(rec: OpRecord) -> OpCost:
    a, b = rec.inputs[0], rec.inputs[1]  # the operands, however they were passed
    return OpCost("matmul", fm.matmul(a.shape, b.shape, rec.output.shape))


@for_functions("einsum")
def einsum_function(rec: OpRecord) -> OpCost:
    return OpCost("matmul", fm.einsum(rec.args[0], [t.shape for t in rec.inputs]))


@for_functions("addmm", "baddbmm", "addbmm")
def add_matmul_function(rec: OpRecord) -> OpCost:
    """``beta * c + alpha * (a @ b)``: the product plus one add per output (reads c once)."""
    c, a, b = rec.inputs[0], rec.inputs[1], rec.inputs[2]
    prod = fm.matmul(a.shape, b.shape, rec.output.shape)
    return OpCost("matmul", prod + fm.Cost(flops=rec.output.numel, mac=c.numel))


@for_functions("scaled_dot_product_attention")
def sdpa_function(rec: OpRecord) -> OpCost:
    q, k, v = rec.arg(0, "query"), rec.arg(1, "key"), rec.arg(2, "value")
    mask = rec.arg(3, "attn_mask")
    return OpCost("attention", fm.attention(q.shape, k.shape, v.shape,
                                            mask.shape if isinstance(mask, TensorInfo) else None))


def _shape_or_none(x):
    return x.shape if isinstance(x, TensorInfo) else None


@for_functions("multi_head_attention_forward")
def multi_head_attention_function(rec: OpRecord) -> OpCost:
    """``F.multi_head_attention_forward`` (what ``nn.MultiheadAttention`` runs): the query, key
    and value projections, scaled dot-product attention per head, the output projection."""
    q, k, v = rec.arg(0, "query"), rec.arg(1, "key"), rec.arg(2, "value")
    heads = int(rec.arg(4, "num_heads"))
    e = int(q.shape[-1])
    batch = int(q.shape[1]) if len(q.shape) == 3 else 1
    tgt, src_len = int(q.shape[0]), int(k.shape[0])
    in_bias = rec.arg(6, "in_proj_bias") is not None
    static_k, static_v = rec.arg(21, "static_k"), rec.arg(22, "static_v")
    cost = fm.linear((tgt * batch, e), e, e, in_bias)
    if static_k is None:
        cost = cost + fm.linear((src_len * batch, int(k.shape[-1])), int(k.shape[-1]), e, in_bias)
    if static_v is None:
        cost = cost + fm.linear((src_len * batch, int(v.shape[-1])), int(v.shape[-1]), e, in_bias)
    if isinstance(static_k, TensorInfo):
        src_len = int(static_k.shape[1])
    else:
        src_len += int(rec.arg(7, "bias_k") is not None) + int(bool(rec.arg(9, "add_zero_attn")))
    d = e // heads
    bh = batch * heads
    cost = cost + fm.attention((bh, tgt, d), (bh, src_len, d), (bh, src_len, d),
                               _shape_or_none(rec.arg(16, "attn_mask")))
    out_bias = rec.arg(12, "out_proj_bias") is not None
    return OpCost("attention", cost + fm.linear((tgt * batch, e), e, e, out_bias))


@for_modules(nn.LSTM, nn.GRU, nn.RNN)
def rnn_module(rec: OpRecord) -> OpCost:
    m = rec.target
    steps = rec.input.numel // m.input_size  # T x N, batched, unbatched or packed alike
    return OpCost("rnn", fm.rnn(m.mode, steps, 1, m.input_size, m.hidden_size, m.num_layers,
                                m.bidirectional, m.bias, getattr(m, "proj_size", 0)))


@for_modules(nn.LSTMCell, nn.GRUCell, nn.RNNCell)
def rnn_cell_module(rec: OpRecord) -> OpCost:
    m = rec.target
    mode = {nn.LSTMCell: "LSTM", nn.GRUCell: "GRU"}.get(type(m)) or (
        "RNN_RELU" if getattr(m, "nonlinearity", "tanh") == "relu" else "RNN_TANH")
    steps = rec.input.numel // m.input_size
    return OpCost("rnn", fm.rnn(mode, steps, 1, m.input_size, m.hidden_size, bias=m.bias))


@for_modules(nn.Embedding)
def embedding_module(rec: OpRecord) -> OpCost:
    m = rec.target
    return OpCost("embedding", fm.embedding(rec.input.shape, m.num_embeddings, m.embedding_dim))


@for_functions("embedding")
def embedding_function(rec: OpRecord) -> OpCost:
    w = rec.arg(1, "weight")
    return OpCost("embedding", fm.embedding(rec.arg(0, "input").shape, w.shape[0], w.shape[1]))


def _bag_size(index: TensorInfo, offsets) -> int:
    if len(index.shape) == 2:
        return int(index.shape[1])
    bags = int(offsets.shape[0]) if isinstance(offsets, TensorInfo) else 1
    return max(index.numel // max(bags, 1), 1)


@for_modules(nn.EmbeddingBag)
def embedding_bag_module(rec: OpRecord) -> OpCost:
    m = rec.target
    offsets = rec.inputs[1] if len(rec.inputs) > 1 else None
    return OpCost("embedding", fm.embedding(rec.input.shape, m.num_embeddings, m.embedding_dim,
                                            _bag_size(rec.input, offsets)))


@for_functions("embedding_bag")
def embedding_bag_function(rec: OpRecord) -> OpCost:
    w, idx = rec.arg(1, "weight"), rec.arg(0, "input")
    return OpCost("embedding", fm.embedding(idx.shape, w.shape[0], w.shape[1],
                                            _bag_size(idx, rec.arg(2, "offsets"))))


# ---------------------------------------------------------------------------------------------
# normalization
# ---------------------------------------------------------------------------------------------
def _operand_numel(rec: OpRecord) -> int:
    """Elements of a functional op's tensor operands after its input (a norm's weight and bias,
    PReLU's slopes): what it reads besides the data."""
    return sum(t.numel for t in rec.inputs[1:])


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
    return OpCost("norm", fm.norm_with_statistics(rec.arg(0, "input").shape, _operand_numel(rec)))


@for_modules(*([nn.RMSNorm] if hasattr(nn, "RMSNorm") else []))
def rms_norm_module(rec: OpRecord) -> OpCost:
    return OpCost("norm", fm.rms_norm(rec.input.shape, sum(p.numel() for p in rec.target.parameters())))


@for_functions("rms_norm")
def rms_norm_function(rec: OpRecord) -> OpCost:
    return OpCost("norm", fm.rms_norm(rec.arg(0, "input").shape, _operand_numel(rec)))


# ---------------------------------------------------------------------------------------------
# activations
# ---------------------------------------------------------------------------------------------
_ACT_MODULES = {nn.ReLU: "relu", nn.ReLU6: "relu6", nn.Hardtanh: "hardtanh",
                nn.LeakyReLU: "leaky_relu", nn.ELU: "elu", nn.PReLU: "prelu",
                nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.Hardsigmoid: "hardsigmoid",
                nn.SiLU: "silu", nn.Hardswish: "hardswish", nn.Mish: "mish", nn.GELU: "gelu",
                nn.Softplus: "softplus", nn.Softmax: "softmax", nn.LogSoftmax: "log_softmax",
                nn.Softmin: "softmin", nn.Softmax2d: "softmax", nn.SELU: "selu", nn.CELU: "celu",
                nn.LogSigmoid: "logsigmoid", nn.Softsign: "softsign", nn.Hardshrink: "hardshrink",
                nn.Softshrink: "softshrink", nn.Tanhshrink: "tanhshrink",
                nn.Threshold: "threshold", nn.RReLU: "rrelu"}


@for_modules(*_ACT_MODULES)
def activation_module(rec: OpRecord) -> OpCost:
    kind = next(v for k, v in _ACT_MODULES.items() if isinstance(rec.target, k))
    if isinstance(rec.target, nn.ReLU6):  # ReLU6 subclasses Hardtanh
        kind = "relu6"
    params = sum(p.numel() for p in rec.target.parameters())
    return OpCost("act", fm.activation(rec.input.shape, kind, params))


@for_functions(*fm.ACTIVATION_FLOPS)
def activation_function(rec: OpRecord) -> OpCost:
    return OpCost("act", fm.activation(rec.arg(0, "input").shape, function_key(rec),
                                       _operand_numel(rec)))


@for_functions("glu")
def glu_function(rec: OpRecord) -> OpCost:
    """GLU :math:`a \\otimes \\sigma(b)` on the two halves: a sigmoid and a multiply per output."""
    return OpCost("act", fm.elementwise([rec.input.shape], rec.output.shape, 4))


@for_modules(nn.GLU)
def glu_module(rec: OpRecord) -> OpCost:
    return glu_function(rec)


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
#: element-wise ops (flops per element in :data:`costmodel.formulas.ELEMENTWISE_FLOPS`, else 1)
ELEMENTWISE_OPS = (
    "add", "sub", "mul", "div", "true_divide", "rsub", "maximum", "minimum", "fmax", "fmin",
    "where", "neg", "positive", "abs", "sgn", "sign", "signbit", "clamp", "clip", "clamp_min",
    "clamp_max", "pow", "float_power", "sqrt", "rsqrt", "square", "exp", "exp2", "expm1", "log",
    "log2", "log10", "log1p", "reciprocal", "floor", "ceil", "round", "trunc", "frac",
    "floor_divide", "remainder", "fmod", "copysign", "addcmul", "addcdiv", "lerp", "hypot",
    "logaddexp", "xlogy", "logit", "nan_to_num", "sin", "cos", "tan", "asin", "acos", "atan",
    "atan2", "sinh", "cosh", "asinh", "acosh", "atanh", "erf", "erfc", "erfinv", "sinc",
    "deg2rad", "rad2deg", "heaviside", "lgamma", "digamma", "i0",
    # comparisons (a compare per element) and logical / bitwise ops (no floating-point work)
    "eq", "ne", "lt", "le", "gt", "ge", "isnan", "isinf", "isfinite", "isposinf", "isneginf",
    "isclose", "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and",
    "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift",
    "outer", "ger")


@for_functions(*ELEMENTWISE_OPS)
def elementwise_function(rec: OpRecord) -> OpCost:
    return OpCost("elementwise", fm.elementwise([t.shape for t in rec.inputs], rec.output.shape,
                                                fm.ELEMENTWISE_FLOPS.get(function_key(rec), 1)))


@for_functions("cumsum", "cumprod", "cummax", "cummin", "logcumsumexp")
def scan_function(rec: OpRecord) -> OpCost:
    return OpCost("reduction", fm.scan(rec.input.shape))


@for_functions("sum", "mean", "amax", "amin", "max", "min", "prod", "var", "std", "norm",
               "logsumexp", "argmax", "argmin", "var_mean", "std_mean", "vector_norm", "all", "any",
               "count_nonzero", "nansum", "nanmean", "aminmax")
def reduction_function(rec: OpRecord) -> OpCost:
    return OpCost("reduction", fm.reduction(rec.input.shape, rec.output.shape))


# ---------------------------------------------------------------------------------------------
# data movement
# ---------------------------------------------------------------------------------------------
@for_functions("cat", "concat", "concatenate", "stack", "hstack", "vstack")
def concat_function(rec: OpRecord) -> OpCost:
    return OpCost("concat", fm.concat([t.shape for t in rec.inputs], rec.output.shape))


def _index_numel(rec: OpRecord) -> int:
    """Elements of the integer / boolean index tensors an indexing op reads."""
    return sum(t.numel for t in rec.inputs[1:] if not t.dtype.is_floating_point)


@for_functions("split", "chunk", "unbind", "tensor_split", "split_with_sizes", "narrow", "select",
               "getitem", "unfold")
def split_function(rec: OpRecord) -> OpCost:
    if all(o.aliases_input for o in rec.outputs):
        return OpCost("split", fm.view())
    index = _index_numel(rec)
    if index:  # advanced indexing x[idx]: a gather
        return OpCost("copy", fm.gather(index, rec.output.shape))
    return OpCost("copy", fm.copy(rec.output.shape))


@for_functions("index_select", "gather", "take_along_dim", "take")
def gather_function(rec: OpRecord) -> OpCost:
    return OpCost("copy", fm.gather(_index_numel(rec), rec.output.shape))


@for_functions("roll")
def roll_function(rec: OpRecord) -> OpCost:
    return OpCost("shift", fm.cyclic_shift(rec.input.shape))


@for_functions("fold")
def fold_function(rec: OpRecord) -> OpCost:
    """``F.fold`` (col2im, VOLO's outlook attention): every block element is accumulated into
    the zero-initialized output, one add each (those landing in the padding included):
    flops |x|, MAC |x| + |y|."""
    return OpCost("copy", Cost(flops=rec.input.numel, mac=rec.input.numel + rec.output.numel))


@for_functions("flip", "fliplr", "flipud", "rot90")
def flip_function(rec: OpRecord) -> OpCost:
    """Reverse (or rotate) along some dimensions: every element moved, MAC 2|x|."""
    return OpCost("copy", fm.copy(rec.input.shape))


@for_functions("nonzero", "argwhere")
def nonzero_function(rec: OpRecord) -> OpCost:
    """The indices of the non-zero elements (only possible on a real tensor, e.g. a constant a
    forward builds on the CPU): a compare per element, the index list written:
    flops |x|, MAC |x| + |y|."""
    return OpCost("copy", Cost(flops=rec.input.numel, mac=rec.input.numel + rec.output.numel))


@for_functions("one_hot")
def one_hot_function(rec: OpRecord) -> OpCost:
    """Read each class index, write its one-hot row: MAC |idx| + |y|."""
    return OpCost("copy", Cost(mac=rec.input.numel + rec.output.numel))


@for_functions("triu", "tril")
def triangle_function(rec: OpRecord) -> OpCost:
    """Keep one triangle, zero the other: a masked copy, MAC 2|x|."""
    return OpCost("copy", fm.copy(rec.input.shape))


@for_functions("repeat_interleave")
def repeat_interleave_function(rec: OpRecord) -> OpCost:
    """Each element read once (and the repeat counts, if a tensor), every copy written."""
    return OpCost("copy", Cost(mac=sum(t.numel for t in rec.inputs) + rec.output.numel))


#: dtype conversions (a copy unless the dtype already matches)
CASTS = ("to", "float", "half", "double", "bfloat16", "long", "int", "short", "bool", "byte",
         "char", "type", "type_as")


@for_functions(*CASTS)
def cast_function(rec: OpRecord) -> OpCost:
    if all(o.aliases_input for o in rec.outputs):
        return OpCost("view", fm.view())
    if rec.output.dtype == rec.input.dtype:  # .to(memory_format=...): a layout change
        return layout_function(rec)
    return OpCost("copy", fm.cast(rec.input.shape))


_VIEWS = ("view", "view_as", "reshape", "reshape_as", "flatten", "unflatten", "squeeze",
          "unsqueeze", "transpose", "permute", "t", "T", "mT", "expand", "expand_as", "contiguous",
          "movedim", "swapaxes", "detach", "alias", "as_strided", "channel_shuffle",
          "pixel_shuffle", "pixel_unshuffle", "clone", "repeat", "data", "view_as_real",
          "view_as_complex", "H", "mH", "adjoint", "moveaxis", "swapdims", "ravel", "tile",
          "atleast_1d", "atleast_2d", "atleast_3d", "squeeze_copy", "broadcast_to", "meshgrid",
          "broadcast_tensors")


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


def cost_of(rec: OpRecord) -> Tuple[OpCost, Optional[str]]:
    """(cost, why unsupported): ``None`` when a formula costed the op; otherwise the op is
    ``unsupported`` with zero counts and the reason says why (no formula, or a formula that
    could not read this call: never a crash, never a silent guess)."""
    handle = handle_for(rec)
    if handle is None:
        return unsupported(rec), "no cost formula"
    try:
        return handle(rec), None
    except Exception as exc:  # a call form the formula does not understand
        return unsupported(rec), f"its formula failed on this call ({type(exc).__name__}: {exc})"
