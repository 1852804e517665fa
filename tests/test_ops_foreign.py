"""Ops that modern networks use (attention, recurrent layers, embeddings, roll, comparisons,
math functions, casts, ops on parameters), each checked against an independent truth:
``torch.utils.flop_counter.FlopCounterMode`` on meta tensors for the multiply-adds it counts,
the module's own parameter count, and brute-force element counts for MAC."""
import math
import warnings

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

import costmodel
from costmodel import verify
from costmodel.tracer import MODEL_INPUT, MODEL_STATE


def numel(shape):
    return math.prod(shape)


def fcm_madds(model, *shapes, dtypes=None):
    """FlopCounterMode / 2 on a meta copy's forward (the model itself is untouched)."""
    dtypes = dtypes or [torch.float32] * len(shapes)
    return verify.reference_madds(model, [torch.empty(s, dtype=d) for s, d in zip(shapes, dtypes)])


def counted_madds(rep):
    df = rep.layers
    return int(df.loc[df["kind"].isin(verify.COUNTED_KINDS), "madds"].sum())


def analyze(model, *shapes, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error", costmodel.UnsupportedOpWarning)
        return costmodel.analyze(model, list(shapes) if len(shapes) > 1 else shapes[0], **kw)


class Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


# ---------------------------------------------------------------------------------------------
# attention
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("q,k,v,mask", [
    ((2, 4, 16, 8), (2, 4, 16, 8), (2, 4, 16, 8), None),
    ((1, 8, 10, 16), (1, 8, 24, 16), (1, 8, 24, 32), None),       # cross attention, E_v != E
    ((2, 4, 16, 8), (2, 4, 16, 8), (2, 4, 16, 8), (16, 16)),      # additive mask
    ((3, 16, 8), (3, 16, 8), (3, 16, 8), None),                    # no head dimension
])
def test_sdpa_matches_flop_counter(q, k, v, mask):
    def fn(a, b, c):
        m = torch.zeros(mask, device=a.device) if mask else None
        return F.scaled_dot_product_attention(a, b, c, attn_mask=m)

    model = Fn(fn)
    rep = costmodel.analyze(model, [q, k, v], warn=False)
    assert "torch.scaled_dot_product_attention" not in rep.unsupported
    row = rep.layers[rep.layers["kind"] == "attention"].iloc[0]
    assert row["madds"] == fcm_madds(model, q, k, v)
    batch, L, S = numel(q[:-2]), q[-2], k[-2]
    # unfused kernel: Q, K, V, O plus the score matrix written, read, written, read
    assert row["mac"] == numel(q) + numel(k) + numel(v) + batch * L * v[-1] + 4 * batch * L * S + (
        numel(mask) if mask else 0)


def test_sdpa_equals_its_explicit_decomposition():
    """The closed form's madds equal the traced q @ k^T, softmax, @ v of the same attention."""
    q = (2, 3, 12, 8)

    def explicit(a, b, c):
        return torch.softmax(a @ b.transpose(-2, -1) / math.sqrt(8), dim=-1) @ c

    fused = costmodel.analyze(Fn(F.scaled_dot_product_attention), [q, q, q])
    plain = costmodel.analyze(Fn(explicit), [q, q, q])
    assert fused.total["madds"] == plain.layers.loc[plain.layers["kind"] == "matmul", "madds"].sum()
    # both materialize the (2, 3, 12, 12) score matrix: same memory traffic up to the scale op
    scores = 2 * 3 * 12 * 12
    assert fused.total["mac"] == plain.total["mac"] - 2 * scores


def test_grouped_query_attention():
    q, kv = (1, 8, 16, 32), (1, 2, 16, 32)
    model = Fn(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, enable_gqa=True))
    rep = costmodel.analyze(model, [q, kv, kv])
    assert counted_madds(rep) == fcm_madds(model, q, kv, kv) == 2 * 8 * 16 * 16 * 32


@pytest.mark.parametrize("kwargs,call", [
    (dict(embed_dim=32, num_heads=4), "self"),
    (dict(embed_dim=32, num_heads=4, batch_first=True), "self"),
    (dict(embed_dim=32, num_heads=2, kdim=16, vdim=24), "cross"),
    (dict(embed_dim=32, num_heads=4, bias=False, add_bias_kv=True, add_zero_attn=True), "self"),
    (dict(embed_dim=32, num_heads=4), "no_weights"),
])
def test_multihead_attention_matches_flop_counter(kwargs, call):
    mha = nn.MultiheadAttention(**kwargs).eval()
    e = kwargs["embed_dim"]
    bf = kwargs.get("batch_first", False)
    q = (3, 7, e) if bf else (7, 3, e)
    k = (3, 9, kwargs.get("kdim", e)) if bf else (9, 3, kwargs.get("kdim", e))
    v = (3, 9, kwargs.get("vdim", e)) if bf else (9, 3, kwargs.get("vdim", e))

    class Wrap(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = mha

        def forward(self, a, b=None, c=None):
            if call == "self":
                return self.mha(a, a, a)[0]
            if call == "no_weights":
                return self.mha(a, a, a, need_weights=False)[0]
            return self.mha(a, b, c)[0]

    model = Wrap()
    shapes = [q] if call != "cross" else [q, k, v]
    rep = analyze(model, *shapes)
    assert counted_madds(rep) == fcm_madds(model, *shapes)
    assert rep.total["params"] == sum(p.numel() for p in mha.parameters())


@pytest.mark.parametrize("layer", [
    lambda: nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, batch_first=True),
    lambda: nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, norm_first=True, activation="gelu"),
    lambda: nn.TransformerDecoderLayer(32, 4, dim_feedforward=64, batch_first=True),
])
def test_transformer_layers_match_flop_counter(layer):
    m = layer().eval()
    shape = (2, 10, 32)
    if isinstance(m, nn.TransformerDecoderLayer):
        model = Fn(lambda x: m(x, x))
        model.m = m
    else:
        model = m
    rep = analyze(model, shape)
    assert counted_madds(rep) == fcm_madds(model, shape)
    assert rep.total["params"] == sum(p.numel() for p in m.parameters())


# ---------------------------------------------------------------------------------------------
# recurrent layers
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make,shape", [
    (lambda: nn.LSTM(16, 32), (5, 3, 16)),
    (lambda: nn.LSTM(16, 32, num_layers=2, bidirectional=True), (5, 3, 16)),
    (lambda: nn.LSTM(16, 32, num_layers=2, batch_first=True, proj_size=8), (3, 5, 16)),
    (lambda: nn.LSTM(16, 32, bias=False), (7, 16)),  # unbatched
    (lambda: nn.GRU(16, 24, num_layers=3), (6, 2, 16)),
    (lambda: nn.GRU(16, 24, bidirectional=True, batch_first=True), (2, 6, 16)),
    (lambda: nn.RNN(16, 24, nonlinearity="relu", num_layers=2), (6, 2, 16)),
    (lambda: nn.LSTMCell(16, 32), (4, 16)),
    (lambda: nn.GRUCell(16, 32), (4, 16)),
    (lambda: nn.RNNCell(16, 32), (4, 16)),
])
def test_recurrent_layers_match_flop_counter_and_params(make, shape):
    m = make().eval()
    model = Fn(lambda x: m(x)[0] if isinstance(m, nn.RNNBase) else m(x))
    model.m = m
    rep = analyze(model, shape)
    row = rep.layers[rep.layers["kind"] == "rnn"]
    assert len(row) == 1
    assert int(row["madds"].iloc[0]) == fcm_madds(model, shape)
    params = sum(p.numel() for p in m.parameters())
    assert rep.total["params"] == params
    assert costmodel.handles.cost_of(rep.graph.ops[0])[0].cost.params == params


# ---------------------------------------------------------------------------------------------
# embeddings
# ---------------------------------------------------------------------------------------------
class TokenModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(1000, 16)
        self.pos = nn.Parameter(torch.zeros(1, 12, 16))
        self.head = nn.Linear(16, 1000)

    def forward(self, ids):
        return self.head(self.emb(ids) + self.pos)


def test_embedding_model_with_token_ids():
    model = TokenModel()
    rep = analyze(model, (2, 12), input_dtype=torch.long)
    assert [p.dtype for p in model.parameters()] == [torch.float32] * 4  # parameters stay float
    emb = rep.layers.set_index("name").loc["emb"]
    assert emb["kind"] == "embedding" and emb["madds"] == 0
    assert emb["mac"] == 24 + 2 * 24 * 16  # indices, rows read, rows written
    assert rep.total["params"] == sum(p.numel() for p in model.parameters())
    assert counted_madds(rep) == fcm_madds(model, (2, 12), dtypes=[torch.long])


def test_functional_embedding_and_bag():
    model = Fn(lambda ids: F.embedding(ids, model.w))
    model.w = nn.Parameter(torch.zeros(50, 8))
    rep = analyze(model, (3, 4), input_dtype=torch.long)
    assert rep.layers["kind"].tolist() == ["embedding"]
    assert rep.total["mac"] == 12 + 2 * 12 * 8
    bag = nn.EmbeddingBag(50, 8, mode="sum")
    rep = analyze(bag, (3, 4), input_dtype=torch.long)
    # 12 rows read, 3 bag sums written, 12 - 3 row additions of 8 elements
    assert rep.total["mac"] == 12 + 12 * 8 + 3 * 8
    assert rep.total["flops"] == (12 - 3) * 8


def test_inputs_of_different_dtypes():
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 4)

        def forward(self, ids, x):
            return self.emb(ids) * x

    rep = analyze(Two(), (2, 3), (2, 3, 4), input_dtype=[torch.long, torch.float16])
    assert [t.dtype for t in rep.graph.inputs] == [torch.long, torch.float16]
    with pytest.raises(costmodel.ShapeError):
        costmodel.analyze(Two(), [(2, 3), (2, 3, 4)], input_dtype=[torch.long])


# ---------------------------------------------------------------------------------------------
# element-wise, data movement and casts
# ---------------------------------------------------------------------------------------------
SHAPE = (2, 3, 4, 5)
N = numel(SHAPE)


@pytest.mark.parametrize("fn,kind,mac,flops", [
    (lambda x: torch.roll(x, shifts=(1, -1), dims=(2, 3)), "shift", 2 * N, 0),
    (lambda x: x == x, "elementwise", 3 * N, N),
    (lambda x: x.ne(0.5), "elementwise", 2 * N, N),
    (lambda x: ~(x > 0), "elementwise", 4 * N, N),       # a comparison, then a logical not
    (lambda x: torch.sin(x) + torch.cos(x), "elementwise", 7 * N, 3 * N),
    (lambda x: 2 ** x, "elementwise", 2 * N, N),
    (lambda x: x ** 2, "elementwise", 2 * N, N),
    (lambda x: torch.cumsum(x, dim=1), "reduction", 2 * N, N),
    (lambda x: torch.triu(x), "copy", 2 * N, 0),
    (lambda x: x.long(), "copy", 2 * N, 0),
    (lambda x: x.to(torch.float16), "copy", 2 * N, 0),
    (lambda x: x.float(), "view", 0, 0),                   # already float: the input itself
    (lambda x: x.data, "view", 0, 0),
    (lambda x: x.repeat_interleave(2, dim=1), "copy", N + 2 * N, 0),
    (lambda x: torch.flip(x, dims=(3,)), "copy", 2 * N, 0),
])
def test_elementwise_and_data_movement(fn, kind, mac, flops):
    rep = analyze(Fn(fn), SHAPE)
    kinds = set(rep.layers["kind"])
    assert kind in kinds
    assert rep.total["mac"] == mac and rep.total["flops"] == flops
    assert rep.total["madds"] == 0


def test_gathers_read_only_what_they_address():
    idx = torch.tensor([0, 2])

    class G(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("idx", idx)

        def forward(self, x):
            a = torch.index_select(x, 1, self.idx)              # (2, 2, 4, 5)
            b = torch.gather(x, 3, torch.zeros(2, 3, 4, 2, dtype=torch.long, device=x.device))
            c = x[:, self.idx]                                  # advanced indexing
            return a.sum() + b.sum() + c.sum()

    rep = analyze(G(), SHAPE)
    rows = rep.layers.set_index("name")
    assert rows.loc["index_select", "mac"] == 2 + 2 * 80
    assert rows.loc["gather", "mac"] == 48 + 2 * 48
    assert rows.loc["getitem", "mac"] == 2 + 2 * 80


@pytest.mark.parametrize("fn", [
    lambda x: x[x > 0], lambda x: torch.nonzero(x), lambda x: x.sum().item() * x,
    lambda x: x * int(x.max()),
], ids=["mask_index", "nonzero", "item", "int"])
def test_ops_that_read_values_are_a_clear_trace_error(fn):
    with pytest.raises(costmodel.TraceError) as err:
        costmodel.analyze(Fn(fn), SHAPE)
    assert "\n" not in str(err.value)


# ---------------------------------------------------------------------------------------------
# ops whose inputs are parameters and buffers
# ---------------------------------------------------------------------------------------------
class TokensAndScale(nn.Module):
    """ViT class token, ConvNeXt layer scale, a transposed weight, a cloned buffer and a softmax
    over architecture weights (the ops the tracer once crashed on)."""

    def __init__(self):
        super().__init__()
        self.cls = nn.Parameter(torch.zeros(1, 1, 8))
        self.gamma = nn.Parameter(torch.ones(8))
        self.w = nn.Parameter(torch.zeros(8, 8))
        self.alpha = nn.Parameter(torch.zeros(3))
        self.register_buffer("pos", torch.zeros(1, 5, 8))

    def forward(self, x):  # x: (B, 4, 8)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos.clone()
        x = x @ self.w.t()
        x = x * self.gamma.view(1, 1, -1)
        return x * torch.softmax(self.alpha, 0)[0]


def test_ops_on_parameters_and_buffers():
    model = TokensAndScale()
    rep = analyze(model, (2, 4, 8))
    recs = {r.name: r for r in rep.graph.ops}
    assert recs["expand"].parents == [MODEL_STATE] and recs["expand"].inputs[0].state
    assert recs["clone"].parents == [MODEL_STATE]
    assert recs["cat"].parents == [recs["expand"].index, MODEL_INPUT]
    rows = rep.layers.set_index("name")
    assert rows.loc["clone", "mac"] == 2 * 40                  # a copy of the buffer
    assert rows.loc["softmax", "mac"] == 2 * 3                 # on the 3 architecture weights
    assert rows.loc["mul", "mac"] == 80 + 8 + 80               # reads the 8 layer-scale values
    assert rows.loc["matmul", "madds"] == 2 * 5 * 8 * 8
    assert rep.total["params"] == sum(p.numel() for p in model.parameters())
    assert counted_madds(rep) == fcm_madds(model, (2, 4, 8))


# ---------------------------------------------------------------------------------------------
# the leaf rule: a registered class's subclass with its own forward is traced into
# ---------------------------------------------------------------------------------------------
class OctConv(nn.Conv2d):
    """Octave convolution (Chen et al. 2019, arXiv:1904.05049): high / low frequency paths."""

    def __init__(self, c_in, c_out, alpha=0.5):
        super().__init__(c_in, c_out, 3, padding=1, bias=False)
        self.lo_in, self.lo_out = int(alpha * c_in), int(alpha * c_out)

    def forward(self, x):
        hi, lo = x[:, :-self.lo_in], F.avg_pool2d(x[:, -self.lo_in:], 2)
        w = self.weight
        h2h = F.conv2d(hi, w[:-self.lo_out, :-self.lo_in], padding=1)
        l2l = F.conv2d(lo, w[-self.lo_out:, -self.lo_in:], padding=1)
        h2l = F.conv2d(F.avg_pool2d(hi, 2), w[-self.lo_out:, :-self.lo_in], padding=1)
        l2h = F.interpolate(F.conv2d(lo, w[:-self.lo_out, -self.lo_in:], padding=1), scale_factor=2)
        return torch.cat([h2h + l2h, F.interpolate(l2l + h2l, scale_factor=2)], dim=1)


class StdConv(nn.Conv2d):
    """Weight standardization (timm's StdConv2d): a BN over the weight, then the conv."""

    def forward(self, x):
        w = F.batch_norm(self.weight.reshape(1, self.out_channels, -1), None, None,
                         training=True, momentum=0.0, eps=1e-6).reshape_as(self.weight)
        return F.conv2d(x, w, self.bias, self.stride, self.padding)


@pytest.mark.parametrize("make", [lambda: OctConv(16, 16), lambda: StdConv(8, 16, 3, padding=1)])
def test_subclass_with_own_forward_is_traced_into(make):
    m = make().eval()
    shape = (1, m.in_channels, 16, 16)
    rep = analyze(m, shape)
    assert len(rep.layers) > 1  # its ops, not one Conv2d row
    assert counted_madds(rep) == fcm_madds(m, shape)
    assert rep.total["params"] == sum(p.numel() for p in m.parameters())


def test_subclass_without_own_forward_keeps_the_formula():
    class Named(nn.Conv2d):
        pass

    rep = analyze(Named(3, 8, 3), (1, 3, 8, 8))
    assert rep.layers["kind"].tolist() == ["conv"]


# ---------------------------------------------------------------------------------------------
# inputs given the way other tools take them
# ---------------------------------------------------------------------------------------------
def test_example_tensor_gives_shape_and_dtype():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU())
    a = costmodel.analyze(model, torch.randn(2, 3, 16, 16))
    b = costmodel.analyze(model, (2, 3, 16, 16))
    assert a.total == b.total and a.graph.inputs[0].shape == (2, 3, 16, 16)
    ids = costmodel.analyze(TokenModel(), torch.zeros(2, 12, dtype=torch.long))
    assert ids.graph.inputs[0].dtype == torch.long


def test_missing_batch_dimension_gets_a_hint():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten(), nn.Linear(8 * 14 * 14, 10))
    with pytest.raises(costmodel.TraceError, match="no batch dimension: did you mean 1x3x16x16"):
        costmodel.analyze(model, (3, 16, 16))


def test_a_shape_whose_storage_would_overflow_is_a_shape_error():
    with pytest.raises(costmodel.ShapeError, match="more than"):
        costmodel.analyze(nn.Identity(), (1, 3, 10 ** 8, 10 ** 8))
    with pytest.raises(costmodel.ShapeError, match="more than"):
        costmodel.analyze(nn.Identity(), "1x3x224x" + "9" * 40)
