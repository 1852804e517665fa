"""Networks nobody on this project wrote: every torchvision classification model at its default
input, the smallest timm architecture of every timm model family (module), and pytorchcv models
of the families that once broke the tracer.  Each must have params equal to the model's own
unique count, conv + linear + matmul + attention + recurrent multiply-adds equal to
``torch.utils.flop_counter.FlopCounterMode`` / 2 on meta tensors within 0.1%, no unsupported
op, and be unchanged afterwards (``costmodel.verify``).  Models are built on the meta device
(no weight memory); a few small ones are also built on the CPU and must compute the same output
after the analysis as before.

The whole population (all of timm up to 150M parameters, pytorchcv) is checked by
``python benchmarks/coverage.py`` into reports/coverage.md.
"""
import json
import os
import warnings

import pytest
import torch

import costmodel
from costmodel import sources, verify

torchvision = pytest.importorskip("torchvision", reason="the foreign-zoo tests need torchvision")
timm = pytest.importorskip("timm", reason="the foreign-zoo tests need timm")

HERE = os.path.dirname(__file__)
#: the smallest timm model of each timm module, chosen by benchmarks/coverage.py --families
with open(os.path.join(HERE, "foreign_families.json")) as f:
    TIMM_FAMILIES = json.load(f)

#: models with a known, explained deviation: spec -> reason (none today)
EXCEPTIONS = {}


def build(spec):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return sources.load_model(spec, device="meta")
        except sources.ModelSourceError:  # a constructor that reads tensor values
            return sources.load_model(spec)


def check_spec(spec):
    model = build(spec)
    shape = sources.default_input_shape(spec, model)
    result = verify.check(model, shape, name=spec)
    if spec in EXCEPTIONS:
        pytest.xfail(EXCEPTIONS[spec])
    assert result.error is None, result.error
    assert result.ref_error is None, result.ref_error
    assert result.params == result.true_params
    assert abs(result.madds_error) <= verify.MADDS_TOLERANCE, (result.madds, result.ref_madds)
    assert result.unsupported == []
    assert result.changes == []
    assert result.ref_madds > 0


@pytest.mark.parametrize("name", sources.torchvision_classification())
def test_torchvision(name):
    check_spec(f"torchvision:{name}")


@pytest.mark.parametrize("family", sorted(TIMM_FAMILIES))
def test_timm_family(family):
    check_spec(f"timm:{TIMM_FAMILIES[family]}")


def test_every_timm_family_is_listed():
    """A timm upgrade that adds a family must add it to the list (rerun the coverage script)."""
    assert sorted(timm.list_modules()) == sorted(TIMM_FAMILIES)


@pytest.mark.parametrize("name", [
    "diaresnet20_cifar10", "sharesnet18", "octresnet10_ad2", "diapreresnet20_cifar10",
    "sharesnet50b", "octresnet50b_ad2"])
def test_pytorchcv_shared_modules_and_octave_convs(name):
    """diaresnet / sharesnet share a submodule between parents (analyze once left its weights
    on the meta device); OctConv subclasses nn.Conv2d with its own forward (once costed as one
    plain conv, +48%)."""
    pytest.importorskip("pytorchcv")
    check_spec(f"pytorchcv:{name}")


@pytest.mark.parametrize("spec", [
    "torchvision:shufflenet_v2_x0_5", "torchvision:swin_t", "timm:vit_tiny_patch16_224",
    "timm:convnext_atto", "timm:efficientformer_l1", "timm:mobilevit_xxs",
    "pytorchcv:diaresnet20_cifar10"])
def test_real_model_computes_the_same_after_analysis(spec):
    if spec.startswith("pytorchcv"):
        pytest.importorskip("pytorchcv")
    torch.manual_seed(0)
    model = sources.load_model(spec)
    shape = sources.default_input_shape(spec, model)
    x = torch.randn(shape)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        before = model(x)
    fp = verify.fingerprint(model)
    costmodel.analyze(model, shape, warn=False)
    assert verify.fingerprint_changes(fp, verify.fingerprint(model)) == []
    after_state = model.state_dict()
    assert all(torch.equal(after_state[k], v) and after_state[k].device == v.device
               for k, v in state.items())
    with torch.no_grad():
        assert torch.equal(model(x), before)
