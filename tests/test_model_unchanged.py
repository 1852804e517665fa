"""analyze() leaves the user's model exactly as it was: parameters, buffers (objects, devices,
dtypes, values), training flags, hooks and attributes, also when the trace fails half way; and
the model still computes the same output afterwards."""
import copy

import pytest
import torch
import torch.nn as nn

import costmodel
from costmodel import verify

from conftest import SMALL_ZOO


def snapshot(model):
    """Values, devices and dtypes of the state dict (copies), and the module flags."""
    state = {k: (v.detach().clone(), v.device, v.dtype, v.requires_grad)
             for k, v in model.state_dict(keep_vars=True).items()}
    flags = {name: m.training for name, m in model.named_modules(remove_duplicate=False)}
    return state, flags


def assert_same(model, before):
    state, flags = snapshot(model)
    assert state.keys() == before[0].keys()
    for k, (v, dev, dt, rg) in state.items():
        v0, dev0, dt0, rg0 = before[0][k]
        assert (dev, dt, rg) == (dev0, dt0, rg0), k
        assert torch.equal(v, v0), k
    assert flags == before[1]


def real_output(model, shape):
    torch.manual_seed(0)
    x = torch.randn(shape)
    with torch.no_grad():
        return model(x)


class SharedChild(nn.Module):
    """The issue's repro: one conv shared by two parents (pytorchcv's diaresnet/sharesnet)."""

    def __init__(self):
        super().__init__()
        conv = nn.Conv2d(8, 8, 3, padding=1)
        self.a = nn.Sequential(conv, nn.ReLU())
        self.b = nn.Sequential(conv, nn.BatchNorm2d(8))

    def forward(self, x):
        return self.b(self.a(x))


def test_shared_submodule_stays_on_its_device():
    conv = nn.Conv2d(8, 8, 3, padding=1)
    m = nn.Sequential(nn.Sequential(conv), nn.Sequential(conv))
    costmodel.analyze(m, (1, 8, 16, 16))
    assert conv.weight.device.type == "cpu" and conv.bias.device.type == "cpu"
    assert all(p.device.type == "cpu" for p in m.parameters())


class CachesInForward(nn.Module):
    """Sets attributes during forward: a lazily built mask, a counter, a dict cache entry."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.cache = {}
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        if "mask" not in self.cache:
            self.cache["mask"] = torch.ones_like(x[:, :1])
        self.last_shape = tuple(x.shape)
        return self.conv(x * self.cache["mask"])


class FailsHalfWay(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(5, 2)

    def forward(self, x):
        self.seen = True
        return self.fc(self.conv(x))  # wrong feature size: fails inside fc


@pytest.mark.parametrize("make,shape", [
    (SharedChild, (1, 8, 6, 6)),
    (CachesInForward, (2, 3, 8, 8)),
], ids=["shared_child", "caches_in_forward"])
def test_model_state_identical_and_output_same(make, shape):
    torch.manual_seed(0)
    model = make().eval()
    ref = real_output(copy.deepcopy(model), shape)
    before, fp = snapshot(model), verify.fingerprint(model)
    costmodel.analyze(model, shape)
    assert_same(model, before)
    assert verify.fingerprint_changes(fp, verify.fingerprint(model)) == []
    assert torch.equal(real_output(model, shape), ref)


def test_training_flags_and_hooks_kept():
    model = SharedChild().train()
    model.a[1].eval()  # a mixed state: restored per module
    calls = []
    model.register_forward_hook(lambda *a: calls.append(1))
    before = snapshot(model)
    hooks = {n: (len(m._forward_hooks), len(m._forward_pre_hooks)) for n, m in model.named_modules()}
    costmodel.analyze(model, (1, 8, 6, 6))
    assert_same(model, before)
    assert {n: (len(m._forward_hooks), len(m._forward_pre_hooks))
            for n, m in model.named_modules()} == hooks
    model(torch.randn(1, 8, 6, 6))
    assert len(calls) == 2  # the user's hook ran during analyze (on meta) and now


def test_failing_trace_leaves_the_model_unchanged():
    model = FailsHalfWay()
    before, fp = snapshot(model), verify.fingerprint(model)
    with pytest.raises(costmodel.TraceError, match="'fc'"):
        costmodel.analyze(model, (1, 3, 8, 8))
    assert_same(model, before)
    assert verify.fingerprint_changes(fp, verify.fingerprint(model)) == []
    assert not hasattr(model, "seen")


def test_dtype_argument_keeps_model_dtype():
    model = SharedChild()
    costmodel.analyze(model, (1, 8, 6, 6), dtype=torch.float16)
    assert {p.dtype for p in model.parameters()} == {torch.float32}


@pytest.mark.parametrize("name", SMALL_ZOO)
def test_zoo_models_unchanged_and_still_compute(name):
    model = costmodel.zoo.create(name).eval()
    shape = costmodel.zoo.entry(name).input_shape
    ref = real_output(model, shape)
    before, fp = snapshot(model), verify.fingerprint(model)
    costmodel.analyze(model, shape)
    assert_same(model, before)
    assert verify.fingerprint_changes(fp, verify.fingerprint(model)) == []
    assert torch.equal(real_output(model, shape), ref)
