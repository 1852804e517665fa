"""The command line: ``costmodel.cli.run([...])`` returns the exit code; user errors exit 2 with
one clear line on stderr and never a traceback."""
import io
import json
import textwrap

import pandas as pd
import pytest

from costmodel.cli import run

MODEL = "shufflenet_v2_x0_5"
SHAPE = "1x3x32x32"


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "my_models.py"
    path.write_text(textwrap.dedent("""
        import torch.nn as nn

        def good(width=4):
            return nn.Sequential(nn.Conv2d(3, width, 3, padding=1, bias=False), nn.ReLU())

        def not_a_module():
            return "definitely not a model"

        def returns_none():
            return None

        def raises():
            raise RuntimeError("factory exploded")

        class Head(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(5, 2)      # expects 5 features, gets 3 * 8 * 8

            def forward(self, x):
                return self.fc(x.flatten(1))

        def broken():
            return nn.Sequential(nn.Conv2d(3, 3, 1), Head())

        CONSTANT = 3
    """))
    return path


def no_traceback(captured):
    assert "Traceback" not in captured.out and "Traceback" not in captured.err


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "md", "html"])
def test_report_each_format_to_file(fmt, tmp_path, capsys):
    out = tmp_path / f"report.{fmt}"
    code = run(["report", MODEL, "--input", SHAPE, "--format", fmt, "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    no_traceback(captured)
    text = out.read_text()
    assert text
    assert str(out) in captured.err  # "wrote <path>"
    if fmt == "csv":
        df = pd.read_csv(io.StringIO(text))
        assert {"name", "kind", "madds", "mac", "params"} <= set(df.columns)
        assert len(df) > 50
    elif fmt == "json":
        data = json.loads(text)
        assert data["model"] == MODEL
        assert data["input_shapes"] == [[1, 3, 32, 32]]
        assert data["total"]["madds"] == sum(r["madds"] for r in data["layers"])
    elif fmt == "md":
        assert text.startswith("# Cost report: " + MODEL)
    elif fmt == "html":
        assert "<table>" in text and MODEL in text
    else:
        assert MODEL in text and "madds" in text


def test_report_to_stdout(capsys):
    assert run(["report", MODEL, "-i", SHAPE, "-f", "csv"]) == 0
    captured = capsys.readouterr()
    df = pd.read_csv(io.StringIO(captured.out))
    assert df["name"].is_unique


def test_file_factory(model_file, capsys):
    code = run(["report", f"{model_file}:good", "-i", "2x3x8x8", "-f", "json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    data = json.loads(captured.out)
    # conv 3->4, 3x3, 'same' padding, no bias, on 2x3x8x8: params and madds by hand
    assert data["total"]["params"] == 4 * 3 * 9
    assert data["total"]["madds"] == 2 * 8 * 8 * 4 * 3 * 9
    assert [r["kind"] for r in data["layers"]] == ["conv", "act"]


def _error(capsys, argv, *needles):
    code = run(argv)
    captured = capsys.readouterr()
    assert code == 2, (captured.out, captured.err)
    no_traceback(captured)
    lines = [l for l in captured.err.splitlines() if l.strip()]
    assert lines and lines[-1].startswith("costmodel report: error:"), captured.err
    for needle in needles:
        assert needle in captured.err, (needle, captured.err)
    return captured.err


def test_unknown_model_suggests_close_match(capsys):
    err = _error(capsys, ["report", "shufflenet_v2_x05"], "unknown model", "shufflenet_v2_x0_5")
    assert "Did you mean" in err


def test_unknown_model_far_from_anything(capsys):
    _error(capsys, ["report", "zzzzqqqq"], "unknown model", "zzzzqqqq")


@pytest.mark.parametrize("shape", ["1x3xabc", "0x3x8x8", "1x3x-8x8", "1.5x3x8x8", "x"])
def test_bad_shape(shape, capsys):
    _error(capsys, ["report", MODEL, "--input", shape], "bad input shape")


def test_empty_shape_is_an_error(capsys):
    _error(capsys, ["report", MODEL, "--input", ""], "bad input shape")


def test_bad_shape_superscript_digit(capsys):
    _error(capsys, ["report", MODEL, "--input", "1x3x\u00b2x8"], "bad input shape")


@pytest.mark.parametrize("factory,needle", [("not_a_module", "str"), ("returns_none", "NoneType"),
                                            ("CONSTANT", "no callable")])
def test_factory_returning_a_non_module(model_file, factory, needle, capsys):
    err = _error(capsys, ["report", f"{model_file}:{factory}", "-i", "1x3x8x8"], needle)
    if needle != "no callable":
        assert "not a torch.nn.Module" in err


def test_factory_that_raises(model_file, capsys):
    _error(capsys, ["report", f"{model_file}:raises"], "factory exploded")


def test_missing_factory_and_missing_file(model_file, tmp_path, capsys):
    _error(capsys, ["report", f"{model_file}:nope"], "nope")
    _error(capsys, ["report", f"{tmp_path / 'absent.py'}:good"], "not found")


def test_forward_failure_names_the_layer(model_file, capsys):
    err = _error(capsys, ["report", f"{model_file}:broken", "-i", "1x3x8x8"],
                 "'1.fc'", "Linear", "(1, 3, 8, 8)")
    assert len([l for l in err.splitlines() if l.strip()]) == 1


def test_zoo_forward_failure_at_tiny_resolution(capsys):
    """A zoo model given a map too small for its stride-2 stages fails inside a named layer."""
    err = _error(capsys, ["report", "squeezenet1_1", "-i", "1x3x4x4"], "forward failed in layer")
    assert "'features" in err


def test_zoo_lists_models(capsys):
    assert run(["zoo"]) == 0
    out = capsys.readouterr().out
    assert MODEL in out and "vgg16" in out

