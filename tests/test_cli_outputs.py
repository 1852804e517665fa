"""Every file a command writes is written whole or not at all, to real paths that cannot be
written: a full device, a path under a regular file, a missing folder and a file system that
refuses new files.  The command exits 2 with one line on stderr, leaves no partial file behind,
and commands that measure for long check ``--out`` before measuring and keep their measurements
when the final write fails anyway.
"""
import importlib
import json
import os
import tempfile
import textwrap

import pytest

from costmodel import cli
from costmodel.latency import timings

#: (path, why it cannot be written, whether costmodel can tell before writing)
BAD_OUTPUTS = [
    ("/dev/full", "a full device", False),
    ("/etc/hostname/x.json", "a path under a regular file", True),
    ("/nonexistent-dir/x.json", "a folder that does not exist", True),
    ("/proc/costmodel-test.json", "a file system that refuses new files", False),
]


def _usable(path):
    """Why the environment cannot give this failure, or ''."""
    if path == "/dev/full" and not os.path.exists(path):
        return "no /dev/full here"
    if path.startswith("/etc/hostname/") and not os.path.isfile("/etc/hostname"):
        return "/etc/hostname is not a regular file here"
    if path.startswith("/nonexistent-dir/") and os.path.exists("/nonexistent-dir"):
        return "/nonexistent-dir exists here"
    if path.startswith("/proc/") and not os.path.isdir("/proc"):
        return "no /proc here"
    return ""


def bad_outputs():
    return [pytest.param(p, early, id=why.replace(" ", "-"),
                         marks=pytest.mark.skipif(bool(_usable(p)), reason=_usable(p) or "-"))
            for p, why, early in BAD_OUTPUTS]


def _leftovers(path):
    """Files a failed write could have left next to ``path``: the target itself (unless it is
    a device) and any atomic-write temporary."""
    d = os.path.dirname(path)
    if not os.path.isdir(d):
        return []
    names = os.listdir(d)
    out = [n for n in names if n.startswith(".costmodel-")]
    if not path.startswith("/dev/") and os.path.basename(path) in names:
        out.append(os.path.basename(path))
    return out


def _fails_cleanly(capsys, argv, path, command):
    rc = cli.run(argv)
    captured = capsys.readouterr()
    assert rc == 2, (captured.out, captured.err)
    assert "Traceback" not in captured.err
    lines = [l for l in captured.err.splitlines() if l.strip() and not l.startswith("\r")]
    error = [l for l in lines if l.startswith(f"costmodel {command}: error:")]
    assert len(error) == 1 and error[0] == lines[-1], captured.err
    assert f"cannot write {path}" in error[0]
    assert _leftovers(path) == []
    return error[0], captured


@pytest.fixture
def tiny_file(tmp_path):
    path = tmp_path / "tiny_net.py"
    path.write_text(textwrap.dedent("""
        import torch.nn as nn

        def tiny():
            return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
    """))
    return f"{path}:tiny"


def _profile_dict():
    ops = {"default": {"type": "linear", "features": ["one", "madds"], "coef": [1e-3, 1e-9]}}
    return {"format": "costmodel-profile", "version": 1,
            "machine": {"cpu_model": "Test CPU", "torch": "2.1.0"}, "calibration": {},
            "threads": {"1": {"ops": ops, "network": {"features": ["iso", "const"],
                                                      "coef": [1.0, 0.1], "cv_mape": 5.0},
                              "baselines": {}, "stats": {"op_samples": 1, "network_samples": 1}}}}


@pytest.fixture
def profile(tmp_path):
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(_profile_dict()))
    return str(path)


@pytest.fixture
def timing_file(tmp_path):
    doc = {"format": "costmodel-timings", "version": 1,
           "machine": {"cpu_model": "Test CPU", "torch": "2.1.0"},
           "models": [{"name": "squeezenet1_1", "input_shape": [1, 3, 32, 32], "threads": 1,
                       "total_ms": 2.0, "total_ms_spread": {}, "layers": []}]}
    path = tmp_path / "timings.json"
    path.write_text(json.dumps(doc))
    return str(path)


# ------------------------------------------------------------------ quick commands
@pytest.mark.parametrize("path, early", bad_outputs())
def test_report(path, early, tiny_file, capsys):
    _fails_cleanly(capsys, ["report", tiny_file, "-i", "1x3x8x8", "-f", "json", "-o", path],
                   path, "report")


@pytest.mark.parametrize("path, early", bad_outputs())
def test_predict(path, early, tiny_file, profile, capsys):
    _fails_cleanly(capsys, ["predict", tiny_file, "-i", "1x3x8x8", "-p", profile, "-o", path],
                   path, "predict")


@pytest.mark.parametrize("path, early", bad_outputs())
def test_validate(path, early, profile, timing_file, capsys, monkeypatch):
    if early:  # told before the timing file is evaluated
        def refuse(*args, **kwargs):
            raise AssertionError("evaluated although --out cannot be written")
        monkeypatch.setattr(_latency_module("validate"), "evaluate", refuse)
    _fails_cleanly(capsys, ["validate", timing_file, "-p", profile, "-q", "-o", path], path,
                   "validate")


def test_good_output_is_the_only_file_written(tiny_file, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    assert cli.run(["report", tiny_file, "-i", "1x3x8x8", "-f", "json", "-o",
                    str(out / "r.json")]) == 0
    assert os.listdir(out) == ["r.json"]
    assert json.loads((out / "r.json").read_text())["total"]["params"] == 4 * 3 * 9 + 4


# ------------------------------------------------------------------ commands that measure
def _latency_module(name):
    # costmodel.latency re-exports a function `calibrate`, which hides the submodule attribute
    return importlib.import_module(f"costmodel.latency.{name}")


def _no_measuring(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("measured although --out cannot be written")

    monkeypatch.setattr(_latency_module("measure"), "measure_latency", refuse)
    monkeypatch.setattr(_latency_module("calibrate"), "calibrate", refuse)


def _kept_file(error):
    """The temp file the error line says the measurements are in."""
    assert "are saved in " in error, error
    kept = error.split("are saved in ", 1)[1].strip()
    assert os.path.dirname(kept) == tempfile.gettempdir()
    return kept


@pytest.mark.parametrize("path, early", bad_outputs())
def test_bench(path, early, tiny_file, capsys, monkeypatch):
    argv = ["bench", tiny_file, "-i", "1x3x8x8", "--threads", "1", "--time", "0.001",
            "--no-layers", "-q", "--out", path]
    if early:  # told before anything is timed
        _no_measuring(monkeypatch)
        error, _ = _fails_cleanly(capsys, argv, path, "bench")
        assert "are saved in" not in error
        return
    error, _ = _fails_cleanly(capsys, argv, path, "bench")
    kept = _kept_file(error)
    try:
        doc = timings.load(kept)
        assert [m["name"] for m in doc["models"]] == [tiny_file] and doc["models"][0]["total_ms"] > 0
    finally:
        os.unlink(kept)


def test_bench_measurements_go_to_stdout_when_no_temp_file_can_be_made(tiny_file, capsys,
                                                                      monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", "/nonexistent-dir/tmp")
    error, captured = _fails_cleanly(capsys, ["bench", tiny_file, "-i", "1x3x8x8", "--threads",
                                              "1", "--time", "0.001", "--no-layers", "-q",
                                              "--out", "/dev/full"], "/dev/full", "bench")
    assert "printed on stdout" in error
    doc = json.loads(captured.out)
    assert doc["format"] == "costmodel-timings" and doc["models"][0]["name"] == tiny_file


def _fake_calibrate(calls):
    from costmodel.latency.profile import DeviceProfile

    def calibrate(budget_s, threads, seed, progress, samples_out, clock, method="in-network"):
        calls.append(samples_out)
        if samples_out is not None:
            with open(samples_out, "w") as f:
                f.write("kind,ms\nconv,0.5\n")
        return DeviceProfile.from_dict(_profile_dict())
    return calibrate


@pytest.mark.parametrize("path, early", bad_outputs())
def test_calibrate(path, early, capsys, monkeypatch, tmp_path):
    argv = ["calibrate", "--out", path, "--threads", "1", "--budget", "5", "-q"]
    if early:
        _no_measuring(monkeypatch)
        error, _ = _fails_cleanly(capsys, argv, path, "calibrate")
        assert "are saved in" not in error
        return
    calls = []
    monkeypatch.setattr(_latency_module("calibrate"), "calibrate", _fake_calibrate(calls))
    samples = tmp_path / "samples.csv"
    error, _ = _fails_cleanly(capsys, argv + ["--samples", str(samples)], path, "calibrate")
    kept = _kept_file(error)
    try:
        with open(kept) as f:
            assert json.load(f)["format"] == "costmodel-profile"
    finally:
        os.unlink(kept)
    # the samples, measured in the same run, reached their own (writable) path
    assert len(calls) == 1 and samples.read_text() == "kind,ms\nconv,0.5\n"
    assert not os.path.exists(os.path.dirname(calls[0]))


def test_calibrate_samples_unwritable_is_told_before_measuring(capsys, monkeypatch, tmp_path):
    _no_measuring(monkeypatch)
    _fails_cleanly(capsys, ["calibrate", "--out", str(tmp_path / "p.json"), "--samples",
                            "/nonexistent-dir/s.csv", "--budget", "5"],
                   "/nonexistent-dir/s.csv", "calibrate")


def test_guidelines_run_checks_its_outputs_before_measuring(capsys, monkeypatch):
    from costmodel.guidelines import report_files

    def refuse(*args, **kwargs):
        raise AssertionError("measured although --out cannot be written")

    monkeypatch.setattr(report_files, "run_report", refuse)
    _fails_cleanly(capsys, ["guidelines", "run", "--quick", "--out", "/nonexistent-dir/g.md"],
                   "/nonexistent-dir/g.md", "guidelines")
