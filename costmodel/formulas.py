r"""Closed-form cost formulas: one small function per op kind, pure arithmetic on shapes.

Every formula returns a :class:`Cost` with four counts:

``params``
    learnable parameters the op owns.
``madds``
    multiply-adds (multiply-accumulate operations); what CNN papers call "FLOPs".
``flops``
    all floating-point operations: a multiply-add is 2, a bias add, comparison, exponent or
    division is 1 (``flops = 2 * madds + other element operations``).
``mac``
    memory access cost in **elements**, as ShuffleNetV2 defines it (Ma et al. 2018,
    arXiv:1807.11164, Sec. 2, G1): input activations read + weights read + outputs written, each
    counted once (an ideal cache).  Multiply by the element size for bytes (``mac_bytes``).

The formulas know nothing about tracing: they take shapes and hyper-parameters.  Handles in
:mod:`costmodel.handles` map traced ops to these functions.

Why MAC matters: for a 1x1 convolution with :math:`c_1` input and :math:`c_2` output channels on an
:math:`h \times w` map, :math:`B = hwc_1c_2` multiply-adds and
:math:`\mathrm{MAC} = hw(c_1+c_2) + c_1c_2 \ge 2\sqrt{hwB} + B/hw`, with equality when
:math:`c_1 = c_2` (ShuffleNetV2 G1).  A depthwise-separable convolution (depthwise
:math:`K\times K` + pointwise, MobileNets, Howard et al. 2017, arXiv:1704.04861, Sec. 3.1) costs

.. math::  \frac{D_K^2 M D_F^2 + M N D_F^2}{D_K^2 M N D_F^2} = \frac{1}{N} + \frac{1}{D_K^2}

of a standard convolution with :math:`M` input and :math:`N` output channels, while its MAC is
dominated by the activations it reads and writes twice.  A dilated convolution with kernel
:math:`K` and rate :math:`r` covers an effective kernel :math:`K_{eff} = (K-1)r + 1` (Yu & Koltun
2016, arXiv:1511.07122) at the multiply-adds of a :math:`K \times K` kernel.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Iterable, Sequence, Tuple

Shape = Sequence[int]


@dataclass(frozen=True)
class Cost:
    """Counts of one op. All are integers; ``mac`` is in elements."""

    params: int = 0
    madds: int = 0
    flops: int = 0
    mac: int = 0

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.params + other.params, self.madds + other.madds,
                    self.flops + other.flops, self.mac + other.mac)

    def scaled(self, k: int) -> "Cost":
        return Cost(self.params, self.madds * k, self.flops * k, self.mac * k)


ZERO = Cost()


def numel(shape: Shape) -> int:
    return math.prod(int(s) for s in shape)


# ---------------------------------------------------------------------------------------------
# convolution and matrix products
# ---------------------------------------------------------------------------------------------
def conv(x_shape: Shape, w_shape: Shape, out_shape: Shape, bias: bool = False,
         transposed: bool = False) -> Cost:
    r"""Any N-d convolution: standard, group, depthwise, pointwise, dilated and transposed.

    ``w_shape`` is PyTorch's weight shape: :math:`(C_{out}, C_{in}/g, K_1, ...)` for a convolution,
    :math:`(C_{in}, C_{out}/g, K_1, ...)` for a transposed one.

    .. math::
        \mathrm{params} &= C_{out}\,\tfrac{C_{in}}{g}\,\textstyle\prod K_i \;(+\,C_{out}) \\
        \mathrm{madds} &= N\,\textstyle\prod_i H^{out}_i \cdot C_{out} \cdot \tfrac{C_{in}}{g}
                         \prod K_i \quad\text{(transposed: } N\prod_i H^{in}_i \cdot C_{in}
                         \tfrac{C_{out}}{g}\prod K_i) \\
        \mathrm{flops} &= 2\,\mathrm{madds} \;(+\, N C_{out} \prod H^{out}_i \text{ bias adds}) \\
        \mathrm{MAC} &= |x| + \mathrm{params} + |y|

    Dilation and stride do not change the multiply-adds per output; dilation widens the
    receptive field to :math:`(K-1)r+1`.  Depthwise (:math:`g = C_{in}`) costs
    :math:`N H W C K^2`; a 1x1 convolution without bias has
    :math:`\mathrm{MAC} = hw(c_1+c_2) + c_1 c_2` (ShuffleNetV2, Ma et al. 2018, arXiv:1807.11164,
    Eq. 1).  Same convention as ``torch.utils.flop_counter`` (which reports 2 x madds) and
    fvcore (which reports madds).
    """
    n = int(x_shape[0])
    spatial = x_shape[2:] if transposed else out_shape[2:]
    weights = numel(w_shape)
    madds = n * numel(spatial) * weights
    c_out = int(out_shape[1])
    bias_params = c_out if bias else 0
    out_elems = numel(out_shape)
    return Cost(params=weights + bias_params, madds=madds,
                flops=2 * madds + (out_elems if bias else 0),
                mac=numel(x_shape) + weights + bias_params + out_elems)


def linear(x_shape: Shape, in_features: int, out_features: int, bias: bool = True) -> Cost:
    r"""Fully connected layer on the last dimension.

    .. math::
        \mathrm{params} = C_{in} C_{out} (+C_{out}),\quad
        \mathrm{madds} = \tfrac{|x|}{C_{in}} C_{in} C_{out},\quad
        \mathrm{MAC} = |x| + \mathrm{params} + |y|
    """
    rows = numel(x_shape) // int(in_features)
    madds = rows * in_features * out_features
    params = in_features * out_features + (out_features if bias else 0)
    out = rows * out_features
    return Cost(params=params, madds=madds, flops=2 * madds + (out if bias else 0),
                mac=numel(x_shape) + params + out)


def matmul(a_shape: Shape, b_shape: Shape, out_shape: Shape) -> Cost:
    r"""Batched matrix product :math:`(\ldots, m, k) \times (\ldots, k, n)`: madds :math:`= |y|\,k`.

    MAC = |a| + |b| + |y| (both operands are activations or weights read once).
    """
    k = int(a_shape[-1]) if len(a_shape) else 1
    madds = numel(out_shape) * k
    return Cost(madds=madds, flops=2 * madds, mac=numel(a_shape) + numel(b_shape) + numel(out_shape))


def _einsum_terms(equation: str, operand_shapes: Sequence[Shape]):
    """Parse an einsum equation into per-operand index strings, the output string and the size
    of every index (``...`` expanded to broadcast dimensions named by upper-case letters, which
    torch's equations cannot use in lower case)."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operand_shapes):
        raise ValueError(f"einsum {equation!r}: {len(terms)} terms for {len(operand_shapes)} operands")
    batch = max((len(s) - len(t.replace("...", "")) for t, s in zip(terms, operand_shapes)
                 if "..." in t), default=0)
    free = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in eq][:batch]
    sizes: Dict[str, int] = {}
    expanded = []
    for t, shape in zip(terms, operand_shapes):
        if "..." in t:
            n = len(shape) - len(t.replace("...", ""))
            t = t.replace("...", "".join(free[batch - n:]))
        if len(t) != len(shape):
            raise ValueError(f"einsum {equation!r}: term {t!r} does not match shape {tuple(shape)}")
        for c, d in zip(t, shape):
            sizes[c] = max(sizes.get(c, 1), int(d))
        expanded.append(t)
    if arrow:
        out = rhs.replace("...", "".join(free))
    else:  # implicit mode: broadcast dims, then the indices used once, sorted
        seen = "".join(expanded)
        out = "".join(free) + "".join(sorted(c for c in set(seen) if c not in free and seen.count(c) == 1))
    return expanded, out, sizes


def einsum(equation: str, operand_shapes: Sequence[Shape]) -> Cost:
    r"""``torch.einsum``, contracted left to right one pair at a time (what torch does without
    opt_einsum; with it installed torch may pick a cheaper order, so this never undercounts).

    A pair step over the union :math:`U` of both operands' indices costs
    :math:`\prod_{i\in U} n_i` multiply-adds when it sums an index away (a batched matmul), or
    that many multiplies (flops, no multiply-adds) when it sums none (an outer or element-wise
    product).  A single operand, and the result at the end, sum the indices that are not kept:
    :math:`|x| - |y|` additions.  MAC = every step's operands read + result written.
    Checked against ``torch.utils.flop_counter`` (which sees the ``bmm`` calls) in the tests.
    """
    terms, out, sizes = _einsum_terms(equation, operand_shapes)

    def size(idx: str) -> int:  # a repeated index (a diagonal) counts once
        return math.prod(sizes[c] for c in set(idx))

    madds = flops = mac = 0
    cur = terms[0]
    for i, nxt in enumerate(terms[1:], start=1):
        later = out + "".join(terms[i + 1:])
        union = "".join(dict.fromkeys(cur + nxt))
        kept = "".join(c for c in union if c in later)
        if len(kept) < len(union):
            madds += size(union)
            flops += 2 * size(union)
        else:
            flops += size(union)
        mac += size(cur) + size(nxt) + size(kept)
        cur = kept
    if len(terms) == 1 or set(cur) != set(out):
        rest = "".join(c for c in dict.fromkeys(cur) if c in out)
        flops += size(cur) - size(rest)
        mac += size(cur) + size(rest)
    return Cost(madds=madds, flops=flops, mac=mac)


def attention(q_shape: Shape, k_shape: Shape, v_shape: Shape, mask_shape: Shape = None) -> Cost:
    r"""Scaled dot-product attention :math:`O = \mathrm{softmax}(QK^T/\sqrt{E} + M)\,V`
    (Vaswani et al. 2017, arXiv:1706.03762, Eq. 1) on :math:`Q: (\ldots, L, E)`,
    :math:`K: (\ldots, S, E)`, :math:`V: (\ldots, S, E_v)`, batch dimensions :math:`B` taken from
    :math:`Q` (grouped-query attention broadcasts fewer key/value heads).

    .. math::
        \mathrm{madds} &= B L S E + B L S E_v \quad (QK^T \text{ and } PV) \\
        \mathrm{flops} &= 2\,\mathrm{madds} + 6 B L S \quad (\text{scale, softmax's max, exp, sum,
                         divide; the mask add}) \\
        \mathrm{MAC} &= |Q| + |K| + |V| + |O| + 4 B L S \,(+ |M|)

    The MAC is that of the unfused (math) kernel, which materializes the score matrix: it writes
    :math:`S = QK^T`, reads it for the softmax, writes :math:`P` and reads it for :math:`PV`.  A
    fused kernel (FlashAttention, Dao et al. 2022, arXiv:2205.14135) keeps the scores on chip and
    reads :math:`Q, K, V` and writes :math:`O` only, :math:`|Q|+|K|+|V|+|O|` in one pass (it
    re-reads :math:`K, V` once per query tile).  A causal mask does not lower the count here (as
    in ``torch.utils.flop_counter``, which this matches: its ``sdpa_flop_count`` is
    :math:`2\,\mathrm{madds}`).
    """
    batch = numel(q_shape[:-2])
    L, E = int(q_shape[-2]), int(q_shape[-1])
    S, Ev = int(k_shape[-2]), int(v_shape[-1])
    scores = batch * L * S
    madds = scores * (E + Ev)
    out = batch * L * Ev
    mask = numel(mask_shape) if mask_shape is not None else 0
    return Cost(madds=madds, flops=2 * madds + 5 * scores + (scores if mask_shape is not None else 0),
                mac=numel(q_shape) + numel(k_shape) + numel(v_shape) + out + 4 * scores + mask)


#: gates per recurrent cell: LSTM i, f, g, o (Hochreiter & Schmidhuber 1997); GRU r, z, n
#: (Cho et al. 2014, arXiv:1406.1078); Elman RNN one
RNN_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}
#: element-wise flops per hidden unit and step besides the matrix products and the gates'
#: pre-activation adds (one per gate, two more with biases): LSTM 3 sigmoids (3 each, as in
#: :data:`ACTIVATION_FLOPS`) and a tanh (5) on the gates, c = f*c + i*g (3), o*tanh(c) (6);
#: GRU 2 sigmoids, r*(W_hn h + b_hn) (1), a tanh, h = (1-z)*n + z*h (4); RNN its activation
RNN_STEP_FLOPS = {"LSTM": 3 * 3 + 5 + 3 + 6, "GRU": 2 * 3 + 1 + 5 + 4, "RNN_TANH": 5, "RNN_RELU": 1}


def rnn(mode: str, seq_len: int, batch: int, input_size: int, hidden_size: int,
        num_layers: int = 1, bidirectional: bool = False, bias: bool = True,
        proj_size: int = 0) -> Cost:
    r"""Multi-layer LSTM / GRU / Elman RNN over a whole sequence (``torch.nn.LSTM`` ...).

    Per layer :math:`l`, direction and time step, with :math:`G` gates (:data:`RNN_GATES`),
    hidden size :math:`H`, layer input :math:`I_l` (:math:`I` for the first layer,
    :math:`D\,H_o` after, :math:`D` directions) and recurrent width :math:`H_o` (``proj_size`` or
    :math:`H`):

    .. math::
        \mathrm{madds} &= \sum_l D\,T N\,(G H I_l + G H H_o \;[+\, H H_o \text{ projection}]) \\
        \mathrm{params} &= \sum_l D\,(G H I_l + G H H_o \,[+ 2 G H \text{ biases}]
                           \,[+ H_o H])

    flops :math:`= 2\,\mathrm{madds} + \sum_l T N D H (f + G(1 + 2[\text{bias}]))` with
    :math:`f` from :data:`RNN_STEP_FLOPS` and the gates' pre-activation adds.
    MAC (ideal cache, weights read once): the sequence in, every layer's
    output sequence written and read by the next, the weights, and the recurrent state read and
    written at each step (:math:`2 T N D H_o` per layer, twice for the LSTM's cell state).
    The matrix-product count equals ``torch.utils.flop_counter``'s (which sees the ``addmm``
    calls of the decomposed kernel).
    """
    gates = RNN_GATES[mode]
    dirs = 2 if bidirectional else 1
    h_out = proj_size or hidden_size
    madds = params = mac = flops = 0
    steps = seq_len * batch
    for layer in range(num_layers):
        in_l = input_size if layer == 0 else dirs * h_out
        w = gates * hidden_size * (in_l + h_out) + (hidden_size * h_out if proj_size else 0)
        b = 2 * gates * hidden_size if bias else 0
        madds += dirs * steps * w
        params += dirs * (w + b)
        flops += dirs * steps * hidden_size * (RNN_STEP_FLOPS[mode] + gates * (3 if bias else 1))
        state = 2 * steps * dirs * (h_out + (hidden_size if mode == "LSTM" else 0))
        mac += steps * in_l + steps * dirs * h_out + state
    mac += params
    return Cost(params=params, madds=madds, flops=2 * madds + flops, mac=mac)


# ---------------------------------------------------------------------------------------------
# normalization
# ---------------------------------------------------------------------------------------------
def batch_norm(x_shape: Shape, affine: bool = True) -> Cost:
    r"""Inference batch norm (Ioffe & Szegedy 2015, arXiv:1502.03167): a per-channel affine map.

    :math:`y = (x-\mu)/\sqrt{\sigma^2+\epsilon}\cdot\gamma + \beta = a_c x + b_c`, one multiply-add
    per element.  params :math:`= 2C` (:math:`\gamma, \beta`; running statistics are buffers);
    MAC :math:`= 2|x| + 4C` (read :math:`\mu, \sigma^2, \gamma, \beta`).  A deployment that
    folds BN into the preceding convolution removes it entirely.
    """
    c = int(x_shape[1]) if len(x_shape) > 1 else int(x_shape[0])
    n = numel(x_shape)
    stats = 4 * c if affine else 2 * c
    return Cost(params=2 * c if affine else 0, madds=n, flops=2 * n, mac=2 * n + stats)


def norm_with_statistics(x_shape: Shape, affine_params: int = 0) -> Cost:
    r"""Layer / group / instance norm: statistics computed at inference.

    Mean (1 add per element), variance (a subtract and a multiply-add), normalize and affine
    (a subtract, a multiply and a multiply-add): madds :math:`= 2|x|`, flops :math:`= 7|x|`.
    MAC :math:`= 2|x| + \mathrm{params}` (one pass to read, one to write, ideal cache).
    """
    n = numel(x_shape)
    return Cost(params=affine_params, madds=2 * n, flops=7 * n, mac=2 * n + affine_params)


def rms_norm(x_shape: Shape, affine_params: int = 0) -> Cost:
    r"""RMS norm (Zhang & Sennrich 2019, arXiv:1910.07467):
    :math:`y = x / \sqrt{\overline{x^2} + \epsilon} \cdot g`.  The mean of squares is one
    multiply-add per element, the normalization a multiply, the gain another:
    madds :math:`= |x|`, flops :math:`= 3|x|` (+ :math:`|x|` with a gain),
    MAC :math:`= 2|x| + \mathrm{params}`."""
    n = numel(x_shape)
    return Cost(params=affine_params, madds=n, flops=3 * n + (n if affine_params else 0),
                mac=2 * n + affine_params)


# ---------------------------------------------------------------------------------------------
# element-wise
# ---------------------------------------------------------------------------------------------
#: floating-point operations per element of each activation (documented convention: each
#: compare, add, multiply, division or transcendental counts one).
ACTIVATION_FLOPS: Dict[str, int] = {
    "relu": 1,          # max(x, 0)
    "relu6": 2,         # min(max(x, 0), 6)
    "hardtanh": 2,      # clamp
    "leaky_relu": 2,    # compare, multiply
    "elu": 4,           # compare, exp, subtract, multiply
    "prelu": 2,         # compare, multiply
    "sigmoid": 3,       # exp(-x), add 1, divide
    "tanh": 5,          # two exps, add, subtract, divide
    "hardsigmoid": 4,   # relu6(x + 3) / 6: add, max, min, multiply
    "silu": 4,          # x * sigmoid(x) (swish)
    "hardswish": 5,     # x * hardsigmoid(x)
    "mish": 7,          # x * tanh(softplus(x))
    "gelu": 8,          # tanh approximation
    "softplus": 3,      # log(1 + exp(x))
    "softmax": 4,       # exp, sum, divide (+ max for stability)
    "log_softmax": 5,
    "softmin": 5,       # softmax of -x
    "selu": 5,          # compare, exp, subtract, two multiplies
    "celu": 5,          # compare, divide, exp, subtract, multiply
    "logsigmoid": 4,    # -softplus(-x)
    "softsign": 3,      # x / (1 + |x|)
    "hardshrink": 2,    # two compares
    "softshrink": 3,    # compares, add
    "tanhshrink": 6,    # x - tanh(x)
    "threshold": 1,     # compare (and select)
    "rrelu": 2,         # leaky ReLU with the mean slope at inference
}


def activation(x_shape: Shape, kind: str, params: int = 0) -> Cost:
    r"""Point-wise activation: flops :math:`= f \cdot |x|` with :math:`f` from
    :data:`ACTIVATION_FLOPS`; no multiply-adds; MAC :math:`= 2|x| + \mathrm{params}` (read, write).

    Sources: ReLU6 and hard-swish :math:`x\,\mathrm{ReLU6}(x+3)/6` (MobileNetV3, Howard et al.
    2019, arXiv:1905.02244, Sec. 5.2), swish :math:`x\sigma(x)` (Ramachandran et al. 2017),
    PReLU (He et al. 2015, arXiv:1502.01852: one learnable slope per channel).  Element-wise
    ops are ShuffleNetV2's G4: no multiply-adds, but a full read and write of the tensor.
    """
    n = numel(x_shape)
    return Cost(params=params, flops=ACTIVATION_FLOPS[kind] * n, mac=2 * n + params)


#: floating-point operations per output element of the element-wise ops that do more than one
#: (default 1: an add, multiply, divide, comparison or transcendental such as ``exp``, ``sin``,
#: ``pow``); logical and bitwise ops on booleans and integers are no floating-point work (0)
ELEMENTWISE_FLOPS: Dict[str, int] = {
    "addcmul": 3, "addcdiv": 3,     # x + v * a * b, x + v * a / b
    "lerp": 3,                      # a + w * (b - a)
    "hypot": 4,                     # sqrt(a*a + b*b)
    "logaddexp": 4,                 # log(exp(a) + exp(b)), stably: max, sub, exp, log1p
    "xlogy": 2,                     # x * log(y)
    "logit": 3,                     # log(p / (1 - p))
    "logical_and": 0, "logical_or": 0, "logical_xor": 0, "logical_not": 0,
    "bitwise_and": 0, "bitwise_or": 0, "bitwise_xor": 0, "bitwise_not": 0,
    "bitwise_left_shift": 0, "bitwise_right_shift": 0,
}


def elementwise(in_shapes: Iterable[Shape], out_shape: Shape, flops_per_element: int = 1) -> Cost:
    r"""Add, subtract, multiply, divide, compare, ``exp``, ``sin`` ... (with broadcasting):
    flops :math:`= f\,|y|` (:math:`f` from :data:`ELEMENTWISE_FLOPS`, else 1),
    MAC :math:`= \sum_i |x_i| + |y|`.

    ShuffleNetV2 G4 (Ma et al. 2018, Sec. 2): element-wise ops have small FLOPs but a large MAC
    relative to it; a residual add reads two tensors and writes one.  A broadcast operand (the
    SE gate of shape :math:`N\times C\times1\times1`) is read once.
    """
    n = numel(out_shape)
    return Cost(flops=flops_per_element * n, mac=sum(numel(s) for s in in_shapes) + n)


def reduction(x_shape: Shape, out_shape: Shape) -> Cost:
    r"""Sum / mean / max over some dimensions: flops :math:`= |x|` (one add or compare per
    input, plus the mean's divisions folded in), MAC :math:`= |x| + |y|`."""
    return Cost(flops=numel(x_shape), mac=numel(x_shape) + numel(out_shape))


def scan(x_shape: Shape) -> Cost:
    r"""A running reduction along one dimension (``cumsum``, ``cumprod``, ``cummax``,
    ``logcumsumexp``): :math:`y_i = y_{i-1} \oplus x_i`, one operation per element,
    flops :math:`= |x|`, MAC :math:`= |x| + |y| = 2|x|`."""
    n = numel(x_shape)
    return Cost(flops=n, mac=2 * n)


# ---------------------------------------------------------------------------------------------
# pooling and resampling
# ---------------------------------------------------------------------------------------------
def pool(x_shape: Shape, out_shape: Shape, window: int, mode: str = "max") -> Cost:
    r"""Max or average pooling with a window of ``window`` elements (:math:`K_h K_w`).

    Max: :math:`|y|(K_hK_w - 1)` comparisons.  Average: :math:`|y|(K_hK_w - 1)` adds and
    :math:`|y|` multiplies by :math:`1/K_hK_w`: :math:`|y| K_hK_w` flops.  No weights, so no
    multiply-adds (papers' FLOP counts leave pooling out).  MAC :math:`= |x| + |y|`.
    """
    out = numel(out_shape)
    flops = out * (window - 1) if mode == "max" else out * window
    return Cost(flops=flops, mac=numel(x_shape) + out)


def adaptive_window_sum(in_size: int, out_size: int) -> int:
    r"""Sum of the window lengths of an adaptive pool along one axis: window :math:`i` spans
    :math:`[\lfloor i\,I/O \rfloor, \lceil (i+1)\,I/O \rceil)` (PyTorch's definition)."""
    return sum(-(-((i + 1) * in_size) // out_size) - (i * in_size) // out_size for i in range(out_size))


def adaptive_pool(x_shape: Shape, out_shape: Shape, mode: str = "avg") -> Cost:
    r"""Adaptive (e.g. global) pooling, counted exactly from PyTorch's window rule.

    Average: flops :math:`= N C \prod_d W_d` where :math:`W_d` is the summed window length along
    axis :math:`d` (the window's adds, with its one division standing in for the first add, as in
    :func:`pool`) - for global pooling :math:`|x|`, the same as fvcore's count.
    Max: the adds become comparisons, one fewer per window.  MAC :math:`= |x| + |y|`.
    """
    lead = numel(out_shape[:2])
    summed = lead * math.prod(adaptive_window_sum(int(i), int(o))
                              for i, o in zip(x_shape[2:], out_shape[2:]))
    out = numel(out_shape)
    flops = summed if mode == "avg" else summed - out
    return Cost(flops=flops, mac=numel(x_shape) + out)


def upsample(x_shape: Shape, out_shape: Shape, mode: str = "nearest") -> Cost:
    r"""Resize: nearest copies (no flops); (bi/tri)linear interpolation makes each output a
    weighted sum of :math:`2^d` inputs (:math:`d` spatial dims): madds :math:`= 2^d |y|`.
    MAC :math:`= |x| + |y|`."""
    out = numel(out_shape)
    taps = 2 ** (len(out_shape) - 2) if mode in ("linear", "bilinear", "trilinear", "bicubic") else 0
    if mode == "bicubic":
        taps = 16
    return Cost(madds=taps * out, flops=2 * taps * out, mac=numel(x_shape) + out)


# ---------------------------------------------------------------------------------------------
# data movement: concat, split, shuffle, views
# ---------------------------------------------------------------------------------------------
def concat(in_shapes: Iterable[Shape], out_shape: Shape) -> Cost:
    r"""``torch.cat`` materializes a new tensor: MAC :math:`= \sum_i |x_i| + |y| = 2|y|`, no flops.
    (ShuffleNetV2's unit replaces the residual add by a concat; both cost memory traffic.)"""
    return Cost(mac=sum(numel(s) for s in in_shapes) + numel(out_shape))


def copy(x_shape: Shape) -> Cost:
    r"""A materializing copy (``contiguous`` / ``reshape`` of a permuted layout, ``clone``,
    padding): MAC :math:`= |x| + |y| = 2|x|`."""
    return Cost(mac=2 * numel(x_shape))


def gather(index_numel: int, out_shape: Shape) -> Cost:
    r"""An indexed read (``index_select``, ``gather``, ``take_along_dim``, advanced indexing
    ``x[idx]``, an embedding lookup): only the addressed elements are read.
    MAC :math:`= |\mathrm{idx}| + 2|y|` (the indices, the gathered elements, the output
    written), no flops."""
    return Cost(mac=int(index_numel) + 2 * numel(out_shape))


def embedding(index_shape: Shape, num_embeddings: int, dim: int, bag_size: int = 1) -> Cost:
    r"""Embedding lookup (``nn.Embedding``, ``F.embedding``): a gather of one row of the
    :math:`V \times D` table per index.  params :math:`= VD` (the table); no multiply-adds;
    MAC :math:`= |\mathrm{idx}| + 2\,|\mathrm{idx}|\,D` (the indices, the rows read, the rows
    written) - the rest of the table is never touched, which is why a large vocabulary costs
    memory, not time.  An ``EmbeddingBag`` of bags of :math:`b` indices sums each bag:
    :math:`|\mathrm{idx}|\,D` reads, :math:`(|\mathrm{idx}| - |\mathrm{idx}|/b)\,D` adds and
    :math:`|\mathrm{idx}|\,D/b` writes."""
    n_idx = numel(index_shape)
    rows = n_idx * int(dim)
    out = rows // max(int(bag_size), 1)
    return Cost(params=int(num_embeddings) * int(dim), flops=rows - out, mac=n_idx + rows + out)


def cyclic_shift(x_shape: Shape) -> Cost:
    r"""``torch.roll``: every element moves by a fixed offset along some dimensions (Swin's
    shifted windows, Liu et al. 2021, arXiv:2103.14030, Sec. 3.2): the same data movement as a
    shift layer (:func:`grouped_shift`) applied to every channel.  Zero params and flops,
    MAC :math:`= 2|x|` (torch materializes the result)."""
    return Cost(mac=2 * numel(x_shape))


def cast(x_shape: Shape) -> Cost:
    r"""A dtype conversion (``x.float()``, ``x.long()``, ``x.to(torch.half)``): a copy,
    MAC :math:`= |x| + |y| = 2|x|` elements, no flops (a same-dtype ``to`` returns the input
    itself and is a view)."""
    return copy(x_shape)


def view() -> Cost:
    """A view (``view``, ``transpose``, ``split``, ``chunk``, slicing, ``flatten`` of contiguous
    data, dropout and identity at inference) copies nothing: zero cost."""
    return ZERO


def channel_shuffle(x_shape: Shape) -> Cost:
    r"""ShuffleNet's channel shuffle (Zhang et al. 2018, arXiv:1707.01083, Sec. 3.1):
    reshape :math:`(N, g, C/g, H, W)`, transpose to :math:`(N, C/g, g, H, W)`, flatten.  The
    reshape and transpose are views; the ``contiguous`` copy that materializes the new channel
    order reads and writes every element once: MAC :math:`= 2NCHW`, zero flops."""
    return copy(x_shape)


# ---------------------------------------------------------------------------------------------
# shift operations (zero-multiply spatial mixing)
# ---------------------------------------------------------------------------------------------
def grouped_shift(x_shape: Shape, shifted_channels: int) -> Cost:
    r"""ShiftNet's shift (Wu et al. 2018, arXiv:1711.08141, Sec. 3): channels are divided into
    :math:`K^2` groups, each moved by one offset of the :math:`K \times K` neighbourhood; zero
    params, zero flops ("a zero FLOP, zero parameter alternative to spatial convolutions").
    Memory is the cost: every shifted channel is read and written,
    MAC :math:`= 2 N H W C_{shifted}` with :math:`C_{shifted} = C - \lceil C/K^2 \rceil`-ish (the
    centre group does not move; an unshifted channel is an alias, not a copy)."""
    per_channel = numel(x_shape) // int(x_shape[1])
    return Cost(mac=2 * per_channel * int(shifted_channels))


def active_shift(x_shape: Shape) -> Cost:
    r"""Active Shift Layer (Jeon & Kim 2018, arXiv:1806.07370, Sec. 3): a learnable real shift
    :math:`(\alpha_c, \beta_c)` per channel, applied by bilinear interpolation,
    :math:`y_{c,i,j} = \sum_{(p,q)\in\{0,1\}^2} w_{pq}\, x_{c,\,i+\lfloor\alpha_c\rfloor+p,\,
    j+\lfloor\beta_c\rfloor+q}`: params :math:`2C`, madds :math:`4|x|` (4 taps per output),
    MAC :math:`= 2|x| + 2C` (every channel moves; neighbours come from cache)."""
    n = numel(x_shape)
    c = int(x_shape[1])
    return Cost(params=2 * c, madds=4 * n, flops=8 * n, mac=2 * n + 2 * c)


def sparse_shift(x_shape: Shape, shifted_channels: int) -> Cost:
    r"""Sparse Shift Layer (Chen et al. 2019, FE-Net, arXiv:1903.05285, Sec. 3): integer shifts
    learned with an L1 penalty so that most channels have zero displacement; at inference only
    the shifted channels move: MAC :math:`= 2 N H W C_{shifted}`, zero params (the offsets are
    fixed integers), zero flops."""
    return grouped_shift(x_shape, shifted_channels)


# ---------------------------------------------------------------------------------------------
# composite blocks, in closed form (checked against the traced sum of their parts)
# ---------------------------------------------------------------------------------------------
def squeeze_excite(n: int, c: int, reduced: int, h: int, w: int, act: str = "relu",
                   gate: str = "sigmoid") -> Cost:
    r"""Squeeze-and-excitation (Hu et al. 2018, arXiv:1709.01507): global average pool,
    1x1 conv :math:`C \to C_r` (+bias), activation, 1x1 conv :math:`C_r \to C` (+bias), gate,
    channel-wise multiply.

    .. math::
        \mathrm{params} = 2 C C_r + C_r + C, \quad
        \mathrm{madds} = 2 N C C_r, \quad
        \mathrm{MAC} \approx 3NCHW + 2CC_r + \ldots

    The multiply-adds are tiny; the MAC of reading :math:`x` twice (pool, multiply) and writing
    it once is what SE costs on real hardware.
    """
    x = (n, c, h, w)
    pooled = (n, c, 1, 1)
    mid = (n, reduced, 1, 1)
    return (adaptive_pool(x, pooled)
            + conv(pooled, (reduced, c, 1, 1), mid, bias=True)
            + activation(mid, act)
            + conv(mid, (c, reduced, 1, 1), pooled, bias=True)
            + activation(pooled, gate)
            + elementwise([x, pooled], x))


def mixconv(n: int, c_splits: Sequence[int], kernels: Sequence[int], h: int, w: int,
            stride: int = 1) -> Cost:
    r"""MixConv (Tan & Le 2019, arXiv:1907.09595, Sec. 3): the channels are split into groups
    :math:`c_1 + \dots + c_g = C`, group :math:`i` gets a :math:`k_i \times k_i` depthwise
    convolution, outputs are concatenated:

    .. math::  \mathrm{madds} = N\,H_{out} W_{out} \sum_i c_i k_i^2,\quad
               \mathrm{params} = \sum_i c_i k_i^2

    (without bias), plus the concat's :math:`2|y|` MAC; the split is a view.  With a single group
    it is a plain depthwise convolution.
    """
    ho, wo = -(-h // stride), -(-w // stride)
    total = ZERO
    for ci, k in zip(c_splits, kernels):
        total = total + conv((n, ci, h, w), (ci, 1, k, k), (n, ci, ho, wo))
    out = (n, sum(c_splits), ho, wo)
    if len(c_splits) > 1:
        total = total + concat([(n, ci, ho, wo) for ci in c_splits], out)
    return total


def pointwise_mac_lower_bound(h: int, w: int, madds: int) -> float:
    r"""ShuffleNetV2 G1 bound for a 1x1 convolution with :math:`B` multiply-adds on an
    :math:`h\times w` map: :math:`\mathrm{MAC} \ge 2\sqrt{hwB} + B/(hw)` (equality at
    :math:`c_1 = c_2`)."""
    return 2 * math.sqrt(h * w * madds) + madds / (h * w)


def group_pointwise_mac(h: int, w: int, c1: int, c2: int, g: int) -> int:
    r"""ShuffleNetV2 G2 (Eq. 2): MAC of a 1x1 group convolution,
    :math:`hw(c_1+c_2) + c_1c_2/g`."""
    return h * w * (c1 + c2) + c1 * c2 // g


def effective_kernel(kernel: int, dilation: int) -> int:
    """Receptive field of a dilated kernel: ``(K - 1) * r + 1``."""
    return (kernel - 1) * dilation + 1


def separable_ratio(n_out: int, kernel: int) -> float:
    """Depthwise-separable / standard convolution cost ratio, ``1/N + 1/K^2`` (MobileNets Eq. 5)."""
    return 1.0 / n_out + 1.0 / kernel ** 2


def as_tuple(v, n: int = 2) -> Tuple[int, ...]:
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n
