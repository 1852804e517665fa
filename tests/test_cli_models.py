"""Every command that takes a model builds it through costmodel.sources: zoo names, files, timm,
torchvision and pytorchcv specs, with the model's own input unless --input says otherwise; a spec
that names no model is a one-line user error (exit 2)."""
import importlib.util
import json

import pytest

from costmodel import cli, sources

TIMM = pytest.mark.skipif(importlib.util.find_spec("timm") is None, reason="timm not installed")
TORCHVISION = pytest.mark.skipif(importlib.util.find_spec("torchvision") is None,
                                 reason="torchvision not installed")


def _report_json(capsys, argv):
    assert cli.run(["report", *argv, "-f", "json"]) == 0
    return json.loads(capsys.readouterr().out)


@TIMM
def test_report_takes_the_library_models_own_input(capsys):
    """timm's mobilevit_xxs is made for 256x256: the report's default input is that one."""
    spec = "timm:mobilevit_xxs"
    expected = sources.default_input_shape(spec, sources.load_model(spec))
    assert expected == (1, 3, 256, 256)
    data = _report_json(capsys, [spec])
    assert data["input_shapes"] == [list(expected)] and data["model"] == spec
    assert _report_json(capsys, [spec, "-i", "1x3x64x64"])["input_shapes"] == [[1, 3, 64, 64]]


@TORCHVISION
def test_report_of_a_torchvision_model_at_its_weights_crop(capsys):
    spec = "torchvision:efficientnet_b1"  # its default weights crop 240x240
    assert _report_json(capsys, [spec])["input_shapes"] == [[1, 3, 240, 240]]


SPEC = "torchvision:mobilenet_v3_small"


def _bench_file_names(tmp, out):
    with open(f"{tmp}/t.json") as f:
        return [m["name"] for m in json.load(f)["models"]]


@TORCHVISION
@pytest.mark.parametrize("argv, check", [
    (["lint", SPEC], lambda tmp, out: f"{SPEC}  input 1x3x224x224" in out),
    (["predict", SPEC, "-i", "1x3x64x64", "-p", "{tmp}/p.json"],
     lambda tmp, out: f"{SPEC}  input 1x3x64x64" in out),
    (["plot", "layers", SPEC, "--out", "{tmp}/l.svg"],
     lambda tmp, out: 'class="cm-layer ' in open(f"{tmp}/l.svg").read()),
    (["bench", SPEC, "-i", "1x3x32x32", "--threads", "1", "--time", "0.001", "--no-layers", "-q",
      "--out", "{tmp}/t.json"], lambda tmp, out: _bench_file_names(tmp, out) == [SPEC]),
    (["plot", "accuracy", "--models", "squeezenet1_1", "--add", SPEC, "--top1", "67.7", "--out",
      "{tmp}/a.svg"], lambda tmp, out: "your model mobilenet_v3_small: " in out),
], ids=["lint", "predict", "plot-layers", "bench", "plot-accuracy-add"])
def test_every_model_command_takes_library_specs(argv, check, tmp_path, capsys):
    profile = {"format": "costmodel-profile", "version": 1, "machine": {"cpu_model": "x"},
               "calibration": {}, "threads": {"1": {
                   "ops": {"default": {"type": "linear", "features": ["one"], "coef": [0.01]}},
                   "network": {"features": ["iso", "const"], "coef": [1.0, 0.0]},
                   "baselines": {}}}}
    (tmp_path / "p.json").write_text(json.dumps(profile))
    assert cli.run([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 0
    assert check(tmp_path, capsys.readouterr().out)


@pytest.mark.parametrize("command", [["report"], ["lint"], ["plot", "layers"]])
@pytest.mark.parametrize("spec, needle", [("timm:no_such_model_xyz", "unknown timm model"),
                                          ("torchvision:no_such_model", "unknown torchvision"),
                                          ("nonexistent_dir/net.py:build", "model file not found")])
def test_a_spec_that_names_no_model_is_a_user_error(command, spec, needle, tmp_path, capsys):
    pytest.importorskip(spec.split(":")[0] if not spec.endswith(":build") else "os")
    argv = command + [spec] + (["--out", str(tmp_path / "x.svg")] if command[0] == "plot" else [])
    assert cli.run(argv) == 2
    err = capsys.readouterr().err
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"costmodel {command[0]}: error: ")
    assert needle in lines[0] and "Traceback" not in err
