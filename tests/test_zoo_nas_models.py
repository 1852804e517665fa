"""The NAS-searched zoo models (FBNet-C, ProxylessNAS mobile, MnasNet-B1) against independent
implementations: parameter counts equal timm's / pytorchcv's, and costmodel's multiply-adds agree
with torch's own FlopCounterMode (which counts 2 flops per multiply-add of conv and linear)."""
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import costmodel.zoo as zoo
from costmodel.analysis import analyze

CASES = [("fbnet_c", "timm", "fbnetc_100"), ("mnasnet_b1", "timm", "mnasnet_100"),
         ("proxylessnas_mobile", "pytorchcv", "proxylessnas_mobile")]


def _reference(source, name):
    if source == "timm":
        timm = pytest.importorskip("timm")
        return timm.create_model(name, pretrained=False)
    provider = pytest.importorskip("pytorchcv.model_provider")
    return provider.get_model(name, pretrained=False)


def _params(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("ours,source,ref", CASES)
def test_params_equal_reference_implementation(ours, source, ref):
    assert _params(zoo.create(ours)) == _params(_reference(source, ref))


@pytest.mark.parametrize("ours,source,ref", CASES)
def test_madds_agree_with_flop_counter(ours, source, ref):
    model = zoo.create(ours).eval()
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        model(torch.randn(1, 3, 224, 224))
    torch_madds = fc.get_total_flops() / 2
    ours_madds = analyze(model, (1, 3, 224, 224), warn=False).total["madds"]
    # FlopCounterMode counts only conv/linear; costmodel's madds add BN/SE/pool terms
    assert ours_madds == pytest.approx(torch_madds, rel=0.02)
