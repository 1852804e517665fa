"""The tracer's fast shape rules and meta-kernel cache give exactly what torch's own meta kernels
give (shape, strides, dtype, aliasing), or step aside and let the real kernel run."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import costmodel
from costmodel import shape_rules
from costmodel.tracer import _MetaCache


def meta(*shape, dtype=torch.float32, channels_last=False):
    t = torch.empty(*shape, dtype=dtype, device="meta")
    return t.to(memory_format=torch.channels_last) if channels_last else t


def same(a, b):
    if isinstance(a, torch.Tensor):
        return (isinstance(b, torch.Tensor) and a.shape == b.shape and a.stride() == b.stride()
                and a.dtype == b.dtype and a.device == b.device)
    return a is None and b is None


def run_real(func, args, kwargs):
    try:
        return func(*args, **kwargs), None
    except Exception as exc:
        return None, type(exc)


C = 8
X = meta(2, C, 5, 6)
XCL = meta(2, C, 5, 6, channels_last=True)
XT = X.transpose(2, 3)  # not contiguous
V = meta(C)
CASES = [
    (F.batch_norm, (X, V, V, V, V), {}),
    (F.batch_norm, (XCL, V, V, V, V), {}),
    (F.batch_norm, (XT, V, V, None, None), {}),
    (F.batch_norm, (X, meta(C + 1), meta(C + 1)), {}),                 # wrong channels: error
    (F.batch_norm, (X, V, V), {"training": True}),
    (F.batch_norm, (meta(3, C), V, V, V, V), {}),
    (F.batch_norm, (X.half(), V, V, V, V), {}),                         # dtype mix
    (F.layer_norm, (meta(2, 7, 16), (16,), meta(16), meta(16)), {}),
    (F.layer_norm, (meta(2, 7, 16), [7, 16]), {}),
    (F.layer_norm, (meta(2, 7, 16), (8,)), {}),                        # wrong shape: error
    (F.layer_norm, (meta(2, 16, 7).transpose(1, 2), (16,)), {}),
    (F.group_norm, (X, 4, V, V), {}),
    (F.group_norm, (X, 3, V, V), {}),                                  # 8 % 3: error
    (F.linear, (meta(4, 16), meta(10, 16), meta(10)), {}),
    (F.linear, (meta(2, 3, 16), meta(10, 16)), {}),
    (F.linear, (meta(2, 3, 16), meta(10, 15)), {}),                    # mismatch: error
    (F.linear, (meta(16, 3).t(), meta(10, 3)), {}),
    (F.linear, (meta(16), meta(10, 16)), {}),                          # 1-D input
    (F.gelu, (X,), {}), (F.gelu, (X,), {"approximate": "tanh"}), (F.gelu, (XT,), {}),
    (F.relu, (X,), {}), (F.relu, (XT,), {}), (F.silu, (X,), {}), (F.hardswish, (XCL,), {}),
    (F.relu6, (X,), {}), (F.hardsigmoid, (X,), {}), (F.mish, (X,), {}),
    (F.hardtanh, (X, 0.0, 6.0), {}), (F.hardtanh, (X, 0.0, 6.0, True), {}),
    (F.leaky_relu, (X, 0.1), {}), (F.elu, (XT,), {}), (F.hardtanh, (X,), {"inplace": True}),
    (torch.sigmoid, (X,), {}), (torch.Tensor.sigmoid, (X,), {}), (torch.tanh, (X,), {}),
    (torch.relu, (meta(3, 4, dtype=torch.long),), {}),
    (torch.add, (X, X), {}), (torch.add, (X, meta(1, C, 1, 1)), {"alpha": 2}),
    (torch.Tensor.__add__, (X, 1.5), {}), (torch.Tensor.__radd__, (X, 2), {}),
    (torch.Tensor.__mul__, (meta(5, 6), meta(C, 1, 1)), {}),
    (torch.Tensor.__mul__, (X, meta(3)), {}),                          # no broadcast: error
    (torch.Tensor.__rmul__, (X, 0.5), {}), (torch.mul, (X, XT), {}),
    (torch.Tensor.__truediv__, (X, 3), {}), (torch.div, (X, X), {"rounding_mode": "floor"}),
    (torch.Tensor.__truediv__, (meta(3, dtype=torch.long), 2), {}),   # int / int -> float
    (torch.Tensor.__add__, (X.half(), X), {}),                          # promotion
    (torch.Tensor.__add__, (X, meta((), dtype=torch.float64)), {}),     # 0-dim other dtype
    (torch.sub, (X, X), {}), (torch.Tensor.__sub__, (X, 1), {}),
    (F.grid_sample, (X, meta(2, 3, 4, 2)), {"align_corners": True}),
    (F.grid_sample, (X, meta(2, 3, 4, 2)), {"mode": "nearest"}),
    (F.grid_sample, (X, meta(1, 3, 4, 2)), {}),                       # batch mismatch: error
    (F.grid_sample, (XT, meta(2, 3, 4, 2)), {}),
    (torch.prelu, (X, meta(C)), {}), (torch.prelu, (X, meta(1)), {}),
    (torch.prelu, (X, meta(3)), {}),                                   # wrong count: error
    (torch.prelu, (meta(5), meta(1)), {}),
]


@pytest.mark.parametrize("func,args,kwargs", CASES, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_rule_equals_the_real_meta_kernel(func, args, kwargs):
    rule = shape_rules.RULES[func]
    real, err = run_real(func, args, kwargs)
    try:
        fast = rule(*args, **kwargs)
    except TypeError:
        fast = shape_rules.NO_RULE
    if err is not None:
        assert fast is shape_rules.NO_RULE, "a rule must not hide the kernel's error"
        return
    if fast is not shape_rules.NO_RULE:
        assert same(fast, real)


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 2), c=st.integers(1, 4), h=st.integers(1, 6), w=st.integers(1, 6),
       groups=st.sampled_from([1, 2]), o=st.integers(1, 3), k=st.integers(1, 3),
       stride=st.integers(1, 2), pad=st.sampled_from([0, 1, "same", "valid"]),
       dil=st.integers(1, 2), channels_last=st.booleans())
def test_conv2d_rule_matches_torch(n, c, h, w, groups, o, k, stride, pad, dil, channels_last):
    x = meta(n, c * groups, h, w, channels_last=channels_last)
    wt = meta(o * groups, c, k, k)
    args, kwargs = (x, wt, meta(o * groups)), {"stride": stride, "padding": pad,
                                                "dilation": dil, "groups": groups}
    real, err = run_real(F.conv2d, args, kwargs)
    fast = shape_rules.RULES[F.conv2d](*args, **kwargs)
    if err is not None:
        assert fast is shape_rules.NO_RULE
    elif fast is not shape_rules.NO_RULE:
        assert same(fast, real), (fast.stride(), real.stride())


@settings(max_examples=400, deadline=None)
@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9),
       k=st.integers(1, 4), stride=st.one_of(st.none(), st.integers(1, 3)), pad=st.integers(0, 2),
       dil=st.integers(1, 2), ceil=st.booleans(), avg=st.booleans())
def test_pool2d_rules_match_torch(n, c, h, w, k, stride, pad, dil, ceil, avg):
    x = meta(n, c, h, w)
    if avg:
        func, args = F.avg_pool2d, (x, k, stride, pad, ceil)
    else:
        func, args = F.max_pool2d, (x, k, stride, pad, dil, ceil)
    real, err = run_real(func, args, {})
    fast = shape_rules.RULES[func](*args)
    if err is not None:
        assert fast is shape_rules.NO_RULE
    elif fast is not shape_rules.NO_RULE:
        assert same(fast, real), (args[1:], fast.shape, real.shape)


@settings(max_examples=100, deadline=None)
@given(shape=st.lists(st.integers(1, 5), min_size=3, max_size=4),
       out=st.one_of(st.integers(1, 3), st.tuples(st.one_of(st.none(), st.integers(1, 3)),
                                                  st.one_of(st.none(), st.integers(1, 3)))))
def test_adaptive_avg_pool_rule_matches_torch(shape, out):
    x = meta(*shape)
    real, err = run_real(F.adaptive_avg_pool2d, (x, out), {})
    fast = shape_rules.RULES[F.adaptive_avg_pool2d](x, out)
    if err is not None:
        assert fast is shape_rules.NO_RULE
    elif fast is not shape_rules.NO_RULE:
        assert same(fast, real), (shape, out, fast.stride(), real.stride())


@settings(max_examples=200, deadline=None)
@given(shapes=st.lists(st.lists(st.integers(1, 3), min_size=4, max_size=4), min_size=1, max_size=3),
       dim=st.integers(-4, 3), layouts=st.lists(st.booleans(), min_size=3, max_size=3))
def test_cat_rule_matches_torch(shapes, dim, layouts):
    xs = [meta(*s, channels_last=cl) for s, cl in zip(shapes, layouts)]
    real, err = run_real(torch.cat, (xs, dim), {})
    fast = shape_rules.RULES[torch.cat](xs, dim)
    if err is not None:
        assert fast is shape_rules.NO_RULE
    elif fast is not shape_rules.NO_RULE:
        assert same(fast, real), (shapes, dim, fast.stride(), real.stride())


@pytest.mark.parametrize("func,extra", [(F.relu, ()), (F.silu, ()), (F.hardswish, ()),
                                        (F.relu6, ()), (F.hardtanh, (0.0, 6.0)),
                                        (F.leaky_relu, (0.1,)), (F.elu, (1.0,))])
def test_inplace_rules_return_the_input(func, extra):
    x = meta(2, 3, 4)
    assert shape_rules.RULES[func](x, *extra, inplace=True) is x
    assert shape_rules.RULES[func](x, *extra, True) is x
    assert func(x, *extra, inplace=True) is x


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=4),
       st.lists(st.integers(1, 4), min_size=1, max_size=4),
       st.sampled_from([torch.add, torch.Tensor.__mul__, torch.sub, torch.Tensor.__truediv__]))
def test_broadcasting_rule_matches_torch(a, b, func):
    x, y = meta(*a), meta(*b)
    real, err = run_real(func, (x, y), {})
    fast = shape_rules.RULES[func](x, y)
    if err is not None:
        assert fast is shape_rules.NO_RULE
    else:
        assert same(fast, real)


def test_cache_replays_fresh_outputs_and_never_views():
    cache = _MetaCache()
    x = meta(2, 8, 4, 4)
    a = cache.call(torch.flip, (x, (3,)), {})
    b = cache.call(torch.flip, (x, (3,)), {})
    assert a is not b and same(a, b) and same(a, torch.flip(x, (3,)))
    assert len(cache.table) == 1
    v = cache.call(torch.Tensor.view, (x, 2, -1), {})
    assert v.untyped_storage()._cdata == x.untyped_storage()._cdata  # a real view
    assert torch.Tensor.view in cache.always_run
    c = cache.call(torch.Tensor.contiguous, (x,), {})
    assert c is x and torch.Tensor.contiguous in cache.always_run
    # a scalar's type is part of the signature: int * int stays int, int * float does not
    ids = meta(3, dtype=torch.long)
    assert cache.call(torch.Tensor.__mul__, (ids, 2), {}).dtype == torch.long
    assert cache.call(torch.Tensor.__mul__, (ids, 2.0), {}).dtype == torch.float32


@pytest.mark.parametrize("name", ["resnet50", "mobilenet_v3_small", "shufflenet_v2_x1_0",
                                  "mixnet_s", "efficientnet_b0"])
def test_rules_and_cache_do_not_change_any_count(name, monkeypatch):
    """The whole report is identical with the fast paths and with torch's kernels alone."""
    model = costmodel.zoo.create(name).eval()
    shape = costmodel.zoo.entry(name).input_shape
    costmodel.tracer.clear_cache()
    fast = costmodel.analyze(model, shape).layers
    fast_ops = [(r.inputs, r.outputs) for r in costmodel.trace(
        model, meta(*shape), is_leaf=costmodel.handles.has_module_handle).ops]
    monkeypatch.setattr(costmodel.tracer._META_CACHE, "call",
                        lambda func, args, kwargs: func(*args, **kwargs))  # torch's kernels only
    slow = costmodel.analyze(model, shape).layers
    slow_ops = [(r.inputs, r.outputs) for r in costmodel.trace(
        model, meta(*shape), is_leaf=costmodel.handles.has_module_handle).ops]
    assert fast.equals(slow)
    assert fast_ops == slow_ops  # every tensor's shape, strides, dtype and aliasing
