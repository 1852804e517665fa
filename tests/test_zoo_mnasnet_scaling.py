"""MnasNet-A1 depth-multiplier variants against the authors' README table and independent
implementations.

Truth: tensorflow/tpu models/official/mnasnet/README.md (commit
009812fbbb2a8f787b63c40502a02fc9aef273be), table "details of Mnasnet-A1 on ImageNet", transcribed
below by hand; timm's MnasNet-A1 (``semnasnet_*`` and its generator at 0.35) for parameter
counts; torch's FlopCounterMode for multiply-adds.
"""
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import costmodel.zoo as zoo
from costmodel.analysis import analyze
from costmodel.arm.published import data

WIDTHS = {1.4: "mnasnet_a1_x1_4", 1.0: "mnasnet_a1", 0.75: "mnasnet_a1_x0_75",
          0.5: "mnasnet_a1_x0_5", 0.35: "mnasnet_a1_x0_35"}
#: README "Parameters(M)" column (the same at every input size)
README_PARAMS_M = {1.4: 6.1, 1.0: 3.9, 0.75: 2.9, 0.5: 2.1, 0.35: 1.7}
#: README (input, depth multiplier) -> (multiply-adds M, Pixel 1 latency ms)
README = {
    (224, 1.4): (591.5, 135), (224, 1.0): (315.2, 78), (224, 0.75): (226.7, 61),
    (224, 0.5): (105.2, 32), (224, 0.35): (63.2, 22),
    (192, 1.4): (435.1, 99), (192, 1.0): (232.0, 57), (192, 0.75): (166.9, 45),
    (192, 0.5): (77.6, 24), (192, 0.35): (46.8, 17),
    (160, 1.4): (302.8, 72), (160, 1.0): (161.6, 41), (160, 0.75): (116.4, 33),
    (160, 0.5): (54.4, 18), (160, 0.35): (32.9, 13),
    (128, 1.4): (194.5, 49), (128, 1.0): (104.1, 29), (128, 0.75): (75.0, 23),
    (128, 0.5): (35.3, 12), (128, 0.35): (21.6, 8.5),
    (96, 1.4): (110.3, 32), (96, 1.0): (59.3, 18), (96, 0.75): (42.9, 17),
    (96, 0.5): (20.5, 7.4), (96, 0.35): (12.7, 5.4),
}
TIMM = {0.5: "semnasnet_050", 0.75: "semnasnet_075", 1.0: "semnasnet_100", 1.4: "semnasnet_140"}


def _params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _timm_a1(width: float):
    timm = pytest.importorskip("timm")
    if width in TIMM:
        return timm.create_model(TIMM[width], pretrained=False)
    # timm registers no 0.35 model; its MnasNet-A1 generator takes any multiplier
    gen = getattr(timm.models.efficientnet, "_gen_mnasnet_a1", None)
    if gen is None:
        pytest.skip("timm has no MnasNet-A1 generator")
    return gen("semnasnet_100", channel_multiplier=width, pretrained=False)


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_params_equal_timm_mnasnet_a1(width):
    assert _params(zoo.create(WIDTHS[width])) == _params(_timm_a1(width))


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_params_round_to_the_readme_figure(width):
    # the README prints one decimal: the count must round to it (+-0.05M)
    assert abs(_params(zoo.create(WIDTHS[width])) / 1e6 - README_PARAMS_M[width]) <= 0.05


@pytest.mark.parametrize("res,width", sorted(README))
def test_madds_bracket_the_readme_figure_and_equal_flop_counter(res, width):
    """The README's multiply-adds lie between costmodel's conv+linear count (which equals
    FlopCounterMode's) and its total (conv+linear plus BN): the README counts conv and linear
    and some, not all, of the rest. The conv+linear count is within 3% (the zoo tests'
    tolerance) at all 25 entries."""
    model = zoo.create(WIDTHS[width]).eval()
    report = analyze(model, (1, 3, res, res), warn=False)
    layers = report.layers
    conv_linear = layers[layers["kind"].str.endswith("conv") | (layers["kind"] == "linear")]
    conv_linear = conv_linear["madds"].sum() / 1e6
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        model(torch.randn(1, 3, res, res))
    assert conv_linear == pytest.approx(fc.get_total_flops() / 2e6, rel=1e-9)
    readme_madds = README[(res, width)][0]
    assert conv_linear < readme_madds < report.total["madds"] / 1e6
    assert conv_linear == pytest.approx(readme_madds, rel=0.03)


def test_published_table_carries_the_readme_rows():
    """costmodel/arm/published_arm.json's table equals the hand transcription above (two
    transcriptions of the same README), every row mapped to the zoo model of its width."""
    df = data.figures()
    t = df[df["set"] == "mnasnet_readme_scaling"]
    assert len(t) == len(README) == 25
    by_zoo = {v: k for k, v in WIDTHS.items()}
    got = {(int(r.input_h), by_zoo[r.zoo]): (r.mflops, r.value) for r in t.itertuples()}
    assert got == README
    assert (t["input_h"] == t["input_w"]).all()
    assert set(t["device"]) == {"pixel_1"} and set(t["threads"]) == {1}
    assert set(t["unit"]) == {"ms"}
