"""The MobileNetV3 Table 3 networks added for its Pixel columns (V3-Large 0.75, V3-Small 0.75,
MnasNet-small) against independent implementations: parameter counts equal timm's (and
pytorchcv's MnasNet-small), conv + linear multiply-adds equal torch's FlopCounterMode, and
MnasNet-small's shortcuts follow the official block strings. The paper's figures themselves
(params within 2%, multiply-adds within 3%) are checked for every zoo model in test_zoo.py."""
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import costmodel.zoo as zoo
from costmodel.analysis import analyze
from costmodel.zoo.mbconv import MBConv

#: (zoo name, timm name): the 1.0 models too, so that the width rule leaves them unchanged
TIMM = [("mobilenet_v3_large", "mobilenetv3_large_100"),
        ("mobilenet_v3_small", "mobilenetv3_small_100"),
        ("mobilenet_v3_large_x0_75", "mobilenetv3_large_075"),
        ("mobilenet_v3_small_x0_75", "mobilenetv3_small_075"),
        ("mnasnet_small", "mnasnet_small")]


def _params(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("ours,ref", TIMM)
def test_params_equal_timm(ours, ref):
    timm = pytest.importorskip("timm")
    assert _params(zoo.create(ours)) == _params(timm.create_model(ref, pretrained=False))


def test_mnasnet_small_params_equal_pytorchcv():
    provider = pytest.importorskip("pytorchcv.model_provider")
    ref = provider.get_model("mnasnet_small", pretrained=False)
    assert _params(zoo.create("mnasnet_small")) == _params(ref)


@pytest.mark.parametrize("name", ["mobilenet_v3_large_x0_75", "mobilenet_v3_small_x0_75",
                                  "mnasnet_small"])
def test_conv_linear_madds_equal_flop_counter(name):
    model = zoo.create(name).eval()
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        model(torch.randn(1, 3, 224, 224))
    layers = analyze(model, (1, 3, 224, 224), warn=False).layers
    conv_linear = layers[layers["kind"].str.endswith("conv") | (layers["kind"] == "linear")]
    # FlopCounterMode counts 2 flops per multiply-add of conv and linear layers only
    assert int(conv_linear["madds"].sum()) == fc.get_total_flops() // 2


def test_mnasnet_small_shortcuts_follow_the_official_block_strings():
    """tensorflow/tpu mnasnet_model.py adds the shortcut when the block's stride is 1 and its
    declared input and output filters agree. The strings r1_k3_s11_e1_i16_o8 (declared 16 in, 8
    out: none), r1_s22 (none), r2_s22 16->16 (1), r4_s22 16->32 (3), r3_s11 32->32 (3), r3_s22
    32->88 (2), r1_s11 88->144 (none) give 9; timm's mnasnet_small has 10."""
    blocks = [m for m in zoo.create("mnasnet_small").modules() if isinstance(m, MBConv)]
    assert len(blocks) == 1 + 1 + 2 + 4 + 3 + 3 + 1
    assert sum(b.use_residual for b in blocks) == 9
    assert not blocks[0].use_residual


def test_width_out_of_range_is_a_clear_error():
    from costmodel.zoo.mobilenet_v3 import _LARGE, MobileNetV3
    with pytest.raises(ValueError, match="width"):
        MobileNetV3(_LARGE, head=1280, width=0)
