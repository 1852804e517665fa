"""Hostile latency files: every reader of profiles, timing files, sample files and report folders
refuses what cannot be right with a one-line error of its module's class, never a traceback from
deep inside, a half-written file or a wrong number.

Each test builds its hostile input and checks the specific error; nothing here times anything.
"""
import json
import os
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn

from costmodel import cli, fileio
from costmodel.latency import machine, predict, timings
from costmodel.latency.profile import DeviceProfile, ProfileError
from costmodel.latency.timings import TimingFileError

DEEP = "[" * 100_000 + "]" * 100_000
needs_dev_zero = pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean((2, 3)))


def profile_dict():
    """A valid hand-made profile (one thread)."""
    return {"format": "costmodel-profile", "version": 1,
            "machine": {"cpu_model": "Test CPU", "arch": "x86_64", "torch": "0.0-test"},
            "calibration": {"seed": 1},
            "threads": {"1": {
                "ops": {"default": {"type": "linear", "features": ["one", "madds"],
                                    "coef": [1e-3, 1e-9]},
                        "conv": {"type": "roofline", "peak_madds_per_ms": 1e7,
                                 "bandwidth_bytes_per_ms": 1e7, "overhead_ms": 0.002},
                        "act:relu": {"type": "constant", "ms": 0.0005}},
                "network": {"features": ["iso", "one", "const"], "coef": [1.1, 0.001, 0.05]},
                "baselines": {"flops": {"features": ["flops"], "coef": [1e-8]},
                              "flops_mac": {"features": ["one", "flops", "mac"],
                                            "coef": [0.1, 1e-8, -1e-9]}},
                "calibration_networks": [{"index": 0, "e2e_ms": 3.5}]}}}


def timing_dict():
    return {"format": "costmodel-timings", "version": 1,
            "machine": {"cpu_model": "Test CPU", "arch": "x86_64", "isa": ["avx2"],
                        "torch": "0.0-test", "threads": 1},
            "quiet": {"wall_s": 2.0, "other_cpu_pct": 1.5, "steal_pct": 0.0, "cores": 2},
            "models": [{"name": "shufflenet_v2_x0_5", "input_shape": [1, 3, 32, 32], "threads": 1,
                        "total_ms": 1.5,
                        "total_ms_spread": {"p10": 1.4, "p90": 1.7, "runs": 20,
                                            "repeat_medians": [1.5, 1.49], "repeat_spread_pct": 2.0},
                        "layer_sum_ms": 1.2,
                        "layers": [{"name": "stem.0.0", "kind": "conv", "measured_ms": 0.1}]}]}


def write_json(path, obj):
    path.write_text(json.dumps(obj))
    return path


def bare_profile(ms):
    """A profile built in code, never validated: every op takes ``ms``."""
    return DeviceProfile({"cpu_model": "Test CPU"}, {1: {"ops": {"default": {"type": "constant",
                                                                             "ms": ms}}}})


def match(text):
    return re.escape(text)


# ------------------------------------------------------------------------ every reader and writer
def refit_samples(path):
    from costmodel.latency.calibrate import refit
    return refit(path, DeviceProfile.from_dict(profile_dict()))


def sample_error():
    from costmodel.latency.calibrate import SampleFileError
    return SampleFileError


READERS = [pytest.param(timings.load, lambda: TimingFileError, id="timing file"),
           pytest.param(DeviceProfile.load, lambda: ProfileError, id="profile"),
           pytest.param(refit_samples, sample_error, id="calibration samples")]
WRITERS = [pytest.param(lambda path: timings.save(timing_dict(), path), id="timing file"),
           pytest.param(lambda path: DeviceProfile.from_dict(profile_dict()).save(path),
                        id="profile")]


@pytest.mark.parametrize("load, error", READERS[:2])
def test_100k_deep_json_is_refused_not_a_recursion_error(tmp_path, load, error):
    p = tmp_path / "deep.json"
    p.write_text(DEEP)
    with pytest.raises(error(), match="nested deeper than"):
        load(p)


@needs_dev_zero
@pytest.mark.parametrize("load, error", READERS)
def test_link_to_dev_zero_is_refused_not_read_forever(tmp_path, load, error):
    link = tmp_path / "endless"
    link.symlink_to("/dev/zero")
    with pytest.raises(error(), match="not a regular file"):
        load(link)


@pytest.mark.parametrize("save", WRITERS)
def test_a_failed_write_leaves_no_file(tmp_path, save):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(fileio.OutputError, match="cannot write"):
        save(blocker / "out.json")
    assert blocker.read_text() == "x" and [f.name for f in tmp_path.iterdir()] == ["file"]


# ------------------------------------------------------------------------ timing files
def test_deep_nesting_inside_a_valid_timing_file_is_refused(tmp_path):
    doc = timing_dict()
    doc["models"][0]["total_ms_spread"]["extra"] = None
    p = tmp_path / "t.json"
    p.write_text(json.dumps(doc).replace("null", DEEP))
    with pytest.raises(TimingFileError, match="nested deeper than"):
        timings.load(p)


def test_timing_file_beyond_the_size_cap_is_refused(tmp_path):
    p = tmp_path / "huge.json"
    with open(p, "wb") as f:  # sparse: nothing is written to disk
        f.truncate(fileio.MAX_INPUT_BYTES + 1)
    with pytest.raises(TimingFileError, match="larger than"):
        timings.load(p)


def test_the_valid_timing_file_loads(tmp_path):
    assert timings.load(write_json(tmp_path / "t.json", timing_dict()))["models"][0]["total_ms"] == 1.5


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["models"][0].update(total_ms=1e308), "models[0].total_ms: expected a positive number <= 1e+07, got 1e+308"),
    (lambda d: d["models"][0].update(total_ms=0), "models[0].total_ms"),
    (lambda d: d["models"][0]["total_ms_spread"].update(p10=-0.5), "total_ms_spread.p10: expected a number between 0 and 1e+07"),
    (lambda d: d["models"][0]["total_ms_spread"].update(repeat_medians=[1.5, -2]), "total_ms_spread.repeat_medians[1]"),
    (lambda d: d["models"][0]["total_ms_spread"].update(repeat_spread_pct=1e300), "repeat_spread_pct"),
    (lambda d: d["models"][0].update(layer_sum_ms=-1.0), "models[0].layer_sum_ms"),
    (lambda d: d["models"][0]["layers"][0].update(measured_ms=1e308), "layers[0].measured_ms"),
    (lambda d: d["machine"].update(isa="avx2"), "machine.isa: expected a list of strings"),
    (lambda d: d["machine"].update(threads=0), "machine.threads"),
    (lambda d: d["quiet"].update(other_cpu_pct="busy"), "quiet.other_cpu_pct"),
    (lambda d: d["quiet"].update(cores=-2), "quiet.cores"),
    (lambda d: d.update(quiet=[]), "quiet: expected an object"),
    (lambda d: d["models"][0]["layers"][0].update(instructions=-7), "layers[0].instructions"),
    (lambda d: d["models"][0]["layers"][0].update(emulated_ms=-1), "layers[0].emulated_ms"),
    (lambda d: d["models"][0].update(forward_instructions="many"), "models[0].forward_instructions"),
    (lambda d: d.update(emulation="qemu"), "emulation: expected an object"),
])
def test_impossible_timing_numbers_are_refused(tmp_path, mutate, message):
    d = timing_dict()
    mutate(d)
    p = write_json(tmp_path / "timings.json", d)
    with pytest.raises(TimingFileError, match=match("timings.json.") + ".*" + match(message)):
        timings.load(p)
    with pytest.raises(TimingFileError):
        timings.save(d, tmp_path / "out.json")  # never written either
    assert not (tmp_path / "out.json").exists()


def test_nan_times_in_timing_files_are_refused(tmp_path):
    p = tmp_path / "t.json"
    p.write_text(json.dumps(timing_dict()).replace("0.1}", "NaN}"))
    with pytest.raises(TimingFileError, match="NaN"):
        timings.load(p)
    d = timing_dict()
    d["models"][0]["layers"][0]["measured_ms"] = float("nan")  # a document built in code
    with pytest.raises(TimingFileError, match="measured_ms"):
        timings.validate(d)


def test_negative_layer_sum_vs_forward_is_allowed():
    d = timing_dict()
    d["models"][0]["layer_sum_vs_forward_pct"] = -12.5  # a difference, may be negative
    timings.validate(d)


# ------------------------------------------------------------------------ profiles
def test_nan_literal_in_a_profile_is_refused(tmp_path):
    text = json.dumps(profile_dict()).replace("0.002", "NaN")
    p = tmp_path / "profile.json"
    p.write_text(text)
    with pytest.raises(ProfileError, match="NaN"):
        DeviceProfile.load(p)


def with_thread_value(path, value):
    """:func:`profile_dict` with ``threads["1"][path...] = value``."""
    d = profile_dict()
    obj = d["threads"]["1"]
    for k in path[:-1]:
        obj = obj[k]
    obj[path[-1]] = value
    return d


def test_the_valid_profile_loads(tmp_path):
    prof = DeviceProfile.load(write_json(tmp_path / "p.json", profile_dict()))
    assert prof.thread_counts == [1]


@pytest.mark.parametrize("where, value, field", [
    (("network", "features", 0), "gflops", "network.features[0]"),
    (("baselines", "flops", "features", 0), "gflops", "baselines['flops'].features[0]"),  # was a KeyError
    (("ops", "default", "features", 1), "madds_per_second", "ops['default'].features[1]"),
])
def test_unknown_feature_name_is_refused_at_load(tmp_path, where, value, field):
    d = with_thread_value(where, value)
    with pytest.raises(ProfileError, match=match(field) + ".*unknown feature.*" + value):
        DeviceProfile.load(write_json(tmp_path / "p.json", d))


@pytest.mark.parametrize("path, value, message", [
    (("ops", "default", "coef", 1), -1e-3, "ops['default'].coef[1]: expected a number between 0"),
    (("ops", "default", "coef", 0), 1e308, "ops['default'].coef[0]"),
    (("ops", "conv", "overhead_ms"), -100.0, "ops['conv'].overhead_ms"),
    (("ops", "conv", "peak_madds_per_ms"), 1e-300, "ops['conv'].peak_madds_per_ms"),
    (("ops", "conv", "bandwidth_bytes_per_ms"), 0, "ops['conv'].bandwidth_bytes_per_ms"),
    (("ops", "act:relu", "ms"), -100.0, "ops['act:relu'].ms"),
    (("ops", "act:relu", "ms"), float("nan"), "ops['act:relu'].ms"),
    (("network", "coef", 2), -100.0, "network.coef[2]"),
    (("network", "coef", 0), float("inf"), "network.coef[0]"),
    (("baselines", "flops_mac", "coef", 0), 1e300, "baselines['flops_mac'].coef[0]"),
    (("calibration_networks", 0, "e2e_ms"), -3.0, "calibration_networks[0].e2e_ms"),
    (("network", "weight_cap_bytes"), "2 MiB", "network.weight_cap_bytes"),
])
def test_impossible_profile_numbers_are_refused(tmp_path, path, value, message):
    d = with_thread_value(path, value)
    with pytest.raises(ProfileError, match=match(message)):
        DeviceProfile.from_dict(d, source="p.json")
    if not (isinstance(value, float) and not np.isfinite(value)):  # JSON cannot hold NaN/inf
        p = write_json(tmp_path / "p.json", d)
        with pytest.raises(ProfileError, match=match(str(p)) + ".*" + match(message)):
            DeviceProfile.load(p)


def boosted(init=0.1, lr=0.2, trees=None):
    leaf = {"feature": [-1], "threshold": [0.0], "left": [-1], "right": [-1], "value": [0.1]}
    return {"type": "boosted", "base": {"type": "linear", "features": ["one"], "coef": [0.01]},
            "init": init, "lr": lr, "trees": trees if trees is not None else [leaf]}


@pytest.mark.parametrize("model, message", [
    (boosted(init=1000.0), "init"),
    (boosted(lr=0.0), "lr"),
    (boosted(trees=[{"feature": [0], "threshold": [1.0], "left": [0], "right": [0],
                     "value": [0.0]}]), "node 0 has children"),
    (boosted(trees=[{"feature": [99], "threshold": [1.0], "left": [-1], "right": [-1],
                     "value": [0.0]}]), "feature[0]"),
    (boosted(trees=[{"feature": [-1], "threshold": [0.0], "left": [-1], "right": [-1],
                     "value": [500.0]}]), "value[0]"),
    (dict(boosted(), tree_features=["log_madds"]), "tree_features"),
])
def test_broken_boosted_models_are_refused(model, message):
    d = profile_dict()
    d["threads"]["1"]["ops"]["conv"] = model
    with pytest.raises(ProfileError, match=match(message)):
        DeviceProfile.from_dict(d)


def test_wrong_types_in_a_profile_are_refused():
    for mutate, message in (
            (lambda d: d["machine"].update(isa="avx2"), "machine.isa"),
            (lambda d: d["machine"].update(torch=2.1), "machine.torch"),
            (lambda d: d.update(calibration=[1, 2]), "'calibration' must be an object"),
            (lambda d: d["calibration"].update(quiet={"other_cpu_pct": "busy"}),
             "calibration.quiet.other_cpu_pct"),
            (lambda d: d["threads"]["1"].update(baselines=[]), "baselines"),
            (lambda d: d["threads"]["1"].update(stats="fine"), "stats"),
            (lambda d: d["threads"]["1"]["network"]["features"].__setitem__(1, "iso"),
             "appears twice")):
        d = profile_dict()
        mutate(d)
        with pytest.raises(ProfileError, match=match(message)):
            DeviceProfile.from_dict(d)


def test_a_profile_that_would_not_load_is_never_written(tmp_path):
    p = tmp_path / "p.json"
    DeviceProfile.from_dict(profile_dict()).save(p)
    before = p.read_bytes()
    with pytest.raises(ProfileError, match=r"ms: expected"):
        bare_profile(-1.0).save(p)
    assert p.read_bytes() == before
    assert [f.name for f in tmp_path.iterdir()] == ["p.json"]  # no temporary left behind


# ------------------------------------------------------------------------ predictions
def test_prediction_that_overflows_raises_instead_of_returning_inf():
    # every number is within its bound, but 40 corrections of +30 with lr 1 overflow exp()
    leaf = {"feature": [-1], "threshold": [0.0], "left": [-1], "right": [-1], "value": [30.0]}
    d = profile_dict()
    d["threads"]["1"]["ops"]["conv"] = boosted(init=30.0, lr=1.0, trees=[leaf] * 40)
    prof = DeviceProfile.from_dict(d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", predict.OtherMachineWarning)
        warnings.simplefilter("error", RuntimeWarning)  # no numpy overflow noise either
        with pytest.raises(ProfileError, match=r"predicts inf ms .*'conv'"):
            predict.predict_latency(Small(), (1, 3, 8, 8), prof)


def test_negative_prediction_of_an_unvalidated_profile_raises():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", predict.OtherMachineWarning)
        with pytest.raises(ProfileError, match=r"predicts -5\.0 ms"):
            predict.predict_latency(Small(), (1, 3, 8, 8), bare_profile(-5.0))
        with pytest.raises(ProfileError, match="predicts nan ms"):
            predict.predict_latency(Small(), (1, 3, 8, 8), bare_profile(float("nan")))
        pred = predict.predict_latency(Small(), (1, 3, 8, 8), bare_profile(0.5))
        assert pred.total_ms == pytest.approx(0.5 * len(pred.layers))  # the sane case still works


def test_predict_warns_when_the_profile_comes_from_another_machine():
    d = profile_dict()
    d["machine"] = dict(machine.identity())
    here = DeviceProfile.from_dict(d)
    with warnings.catch_warnings():
        warnings.simplefilter("error", predict.OtherMachineWarning)
        predict.predict_latency(Small(), (1, 3, 8, 8), here)  # same machine: silent
    d["machine"]["cpu_model"] = "Some Other CPU"
    d["machine"]["isa"] = ["avx512f"] if "avx512f" not in here.machine["isa"] else []
    with pytest.warns(predict.OtherMachineWarning, match="differs in cpu_model, isa.*Some Other CPU"):
        predict.predict_latency(Small(), (1, 3, 8, 8), DeviceProfile.from_dict(d))


def test_spec_profiles_describe_another_device_on_purpose():
    from costmodel.arm.spec_profiles import spec_profile
    with warnings.catch_warnings():
        warnings.simplefilter("error", predict.OtherMachineWarning)
        predict.predict_latency(Small(), (1, 3, 8, 8), spec_profile("snapdragon_810", "roofline"))


def test_same_machine_compares_isa_flags_where_both_have_them():
    a = {"cpu_model": "Intel(R) Xeon(R) Processor", "arch": "x86_64", "torch": "2.1",
         "isa": ["avx2", "avx512f"]}
    assert machine.same_machine(a, dict(a, isa=["avx512f", "avx2"])) == []
    assert machine.same_machine(a, dict(a, isa=["avx2"])) == ["isa"]
    assert machine.same_machine(a, {k: v for k, v in a.items() if k != "isa"}) == []


def test_cli_predict_warns_about_another_machine(tmp_path, capsys):
    p = write_json(tmp_path / "p.json", profile_dict())
    with pytest.warns(predict.OtherMachineWarning, match="calibrated on another machine"):
        assert cli.run(["predict", "shufflenet_v2_x0_5", "-p", str(p), "-i", "1x3x32x32"]) == 0
    assert "predicted end-to-end" in capsys.readouterr().out


# ------------------------------------------------------------------------ validate
def test_validate_with_every_model_skipped_raises_no_models(tmp_path):
    from costmodel.latency.validate import NoModelsError, evaluate
    d = timing_dict()
    d["models"][0]["threads"] = 4
    d["models"].append(dict(d["models"][0], name="not-a-zoo-model", threads=1))
    prof = DeviceProfile.from_dict(profile_dict())
    with pytest.raises(NoModelsError, match=r"all 2 skipped: shufflenet_v2_x0_5: profile has no "
                                            r"4-thread model.*not-a-zoo-model"):
        evaluate(timings.validate(d), prof)
    assert issubclass(NoModelsError, ValueError)


def test_render_with_every_model_skipped_writes_nothing(tmp_path, capsys):
    d = timing_dict()
    d["models"][0]["threads"] = 4
    timings.save(d, tmp_path / "timings.json")
    DeviceProfile.from_dict(profile_dict()).save(tmp_path / "profile.json")
    assert cli.run(["validate-report", "--set", "in-space", "--render", "--out", str(tmp_path)]) == 2
    assert "no model of the timing file could be compared" in capsys.readouterr().err
    assert sorted(f.name for f in tmp_path.iterdir()) == ["profile.json", "timings.json"]


def test_cli_validate_with_every_model_skipped_writes_nothing(tmp_path, capsys):
    d = timing_dict()
    d["models"][0]["threads"] = 4
    timings.save(d, tmp_path / "timings.json")
    DeviceProfile.from_dict(profile_dict()).save(tmp_path / "profile.json")
    out = tmp_path / "models.csv"
    code = cli.run(["validate", str(tmp_path / "timings.json"), "--profile",
                    str(tmp_path / "profile.json"), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "skipped" in err and "Traceback" not in err
    assert not out.exists()


def test_cli_refuses_a_profile_linked_to_dev_zero(tmp_path, capsys):
    link = tmp_path / "profile.json"
    link.symlink_to("/dev/zero")
    code = cli.run(["predict", "shufflenet_v2_x0_5", "--profile", str(link)])
    err = capsys.readouterr().err
    assert code == 2 and "not a regular file" in err and len(err.strip().splitlines()) == 1


def test_hostile_report_folder_files_are_refused(tmp_path):
    from costmodel.latency.validate import ReportFileError, read_drift, read_run
    run = tmp_path / "run.json"
    run.write_text(DEEP)
    with pytest.raises(ReportFileError, match="nested deeper"):
        read_run(run)
    write_json(run, {"command": "c", "quiet": {"measurement": {"other_cpu_pct": -5}}})
    with pytest.raises(ReportFileError, match=match("quiet.measurement.other_cpu_pct")):
        read_run(run)
    write_json(run, {"durations_s": {"total": "long"}})
    with pytest.raises(ReportFileError, match="durations_s.total"):
        read_run(run)
    drift = tmp_path / "drift.csv"
    drift.write_text("threads,index,calibration_ms,now_ms,diff_pct\n1,0,10.0,11.0,10.0\n"
                     "1,1,5.0,nan,nan\n")
    with pytest.raises(ReportFileError, match=r"row 2, column 'now_ms'"):
        read_drift(drift)


# ------------------------------------------------------------------------ calibration samples
def op_samples(n=30):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"kind": "conv", "op": "Conv2d", "threads": 1,
                       "madds": rng.integers(10 ** 4, 10 ** 8, n),
                       "mac_bytes": rng.integers(10 ** 3, 10 ** 6, n), "weight_bytes": 100,
                       "alloc_bytes": 10, "in_numel": 10, "out_numel": 10, "cin": 3, "cout": 8,
                       "hw_out": 64, "kernel_area": 9, "stride": 1, "groups": 1, "n_inputs": 1})
    df["measured_ms"] = 0.002 + 1e-8 * df["madds"]
    return df


@pytest.mark.parametrize("column, value, message", [
    ("measured_ms", float("nan"), "column 'measured_ms': expected a positive number"),
    ("measured_ms", -0.5, "column 'measured_ms'"),
    ("measured_ms", 1e308, "column 'measured_ms'"),
    ("madds", -10, "column 'madds': expected a number between 0"),
    ("madds", "lots", "column 'madds'"),
    ("threads", 0, "column 'threads': expected a whole number between 1"),
    ("threads", 1.5, "column 'threads'"),
    ("kind", None, "column 'kind' is empty"),
])
def test_impossible_calibration_samples_are_refused(tmp_path, column, value, message):
    from costmodel.latency.calibrate import SampleFileError, refit
    ops = op_samples()
    ops[column] = ops[column].astype(object)
    ops.loc[4, column] = value
    samples = tmp_path / "samples.csv"
    ops.to_csv(samples, index=False)
    with pytest.raises(SampleFileError, match=match("samples.csv: row 5, " if column != "kind"
                                                    else "samples.csv: row 5") + ".*" + match(message)):
        refit(samples, DeviceProfile.from_dict(profile_dict()))
    assert issubclass(SampleFileError, ValueError)


def test_impossible_network_samples_are_refused(tmp_path):
    from costmodel.latency.calibrate import SampleFileError, networks_path, refit
    samples = tmp_path / "samples.csv"
    op_samples().to_csv(samples, index=False)
    nets = pd.DataFrame({"threads": 1, "index": range(4), "e2e_ms": [3.0, 4.0, 5.0, 6.0],
                         "iso": [2.0, 3.0, 4.0, 5.0], "const": 1.0, "flops": 1e8, "mac": 1e6,
                         "repeat_spread_pct": 1.0, "replays_disturbed": False})
    prof = DeviceProfile.from_dict(profile_dict())
    for column, value, message in (("e2e_ms", 1e308, "column 'e2e_ms'"),
                                   ("iso", -1.0, "column 'iso'"),
                                   ("replays_disturbed", "maybe", "column 'replays_disturbed'")):
        bad = nets.astype(object)
        bad.loc[2, column] = value
        bad.to_csv(networks_path(samples), index=False)
        with pytest.raises(SampleFileError, match=r"row 3, " + match(message)):
            refit(samples, prof)
    nets.drop(columns=["repeat_spread_pct"]).to_csv(networks_path(samples), index=False)
    with pytest.raises(SampleFileError, match="missing.*repeat_spread_pct"):
        refit(samples, prof)
    nets.to_csv(networks_path(samples), index=False)
    assert refit(samples, prof).threads[1]["network"]["n"] == 4  # the clean files still fit


def test_calibration_samples_missing_tree_features_are_refused(tmp_path):
    from costmodel.latency.calibrate import SampleFileError, refit
    samples = tmp_path / "samples.csv"
    op_samples().drop(columns=["cin", "hw_out"]).to_csv(samples, index=False)
    with pytest.raises(SampleFileError, match=r"missing \['cin', 'hw_out'\]"):
        refit(samples, DeviceProfile.from_dict(profile_dict()))


# ------------------------------------------------------------------------ ARM files
def guest_result():
    """A guest.json as costmodel.arm.guest writes it: one model, one op counted once."""
    return {"vector": {}, "overhead_tags": [],
            "models": [{"model": "m", "input_shape": [1, 3, 8, 8], "wall_s": 1.0,
                        "forward": {"tags": [1], "emulated_s": [0.5]},
                        "ops": [{"index": 0, "name": "conv", "kind": "conv", "op": "Conv2d",
                                 "madds": 10, "flops": 20, "mac": 5, "mac_bytes": 20,
                                 "tags": [2], "emulated_s": [0.1]},
                                {"index": 1, "name": "conv2", "kind": "conv", "op": "Conv2d",
                                 "madds": 10, "flops": 20, "mac": 5, "mac_bytes": 20,
                                 "same_as": 0}]}]}


def run_folder(tmp_path, guest):
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    (run / "guest.json").write_text(guest if isinstance(guest, str) else json.dumps(guest))
    (run / "plugin.log").write_text("B 1 0 0\nE 1 900 0\nB 2 1000 0\nE 2 1100 0\nX 5000 1\n")
    return run


@pytest.mark.parametrize("mutate, message", [
    (lambda g: g["models"][0]["ops"][0].update(madds=-10), "models[0].ops[0].madds"),
    (lambda g: g["models"][0]["ops"][0].update(tags=["2"]), "ops[0].tags[0]"),
    (lambda g: g["models"][0]["ops"][0].update(emulated_s=[-0.1]), "ops[0].emulated_s[0]"),
    (lambda g: g["models"][0]["ops"][1].update(same_as=7), "ops[1].same_as"),
    (lambda g: g["models"][0].update(input_shape="1x3x8x8"), "models[0].input_shape"),
    (lambda g: g["models"][0].update(forward=[]), "'forward' must be an object"),
    (lambda g: g["models"][0].pop("model"), "models[0]: expected an object with a \"model\""),
    (lambda g: g.update(models={}), "models: expected a list"),
])
def test_hostile_guest_results_are_refused(tmp_path, mutate, message):
    from costmodel.arm import runner
    assert runner.document_from_run_dir(str(run_folder(tmp_path, guest_result())))["models"]
    g = guest_result()
    mutate(g)
    with pytest.raises(runner.EmulationError, match=match("guest.json: ") + ".*" + match(message)):
        runner.document_from_run_dir(str(run_folder(tmp_path, g)))


def test_deep_or_endless_arm_inputs_are_refused(tmp_path):
    from costmodel.arm import plugin, runner
    from costmodel.arm.published import data as published
    run = run_folder(tmp_path, DEEP)
    with pytest.raises(runner.EmulationError, match="nested deeper"):
        runner.document_from_run_dir(str(run))
    run_folder(tmp_path, guest_result())
    (run / "spec.json").write_text(json.dumps({"models": [{"input": "1x3x8x8"}]}))
    with pytest.raises(runner.EmulationError, match=match("spec.json: models[0]")):
        runner.document_from_run_dir(str(run))
    deep = tmp_path / "published.json"
    deep.write_text(DEEP)
    with pytest.raises(published.PublishedDataError, match="nested deeper"):
        published.load(str(deep))
    if os.path.exists("/dev/zero"):
        log = tmp_path / "plugin.log"
        log.symlink_to("/dev/zero")
        with pytest.raises(plugin.PluginLogError, match="not a regular file"):
            plugin.read_log(str(log))


def test_emulated_files_without_their_emulation_record_are_refused(tmp_path):
    from costmodel.arm import compare, runner
    d = timing_dict()
    d["emulated"] = True
    p = write_json(tmp_path / "arm.json", d)
    with pytest.raises(TimingFileError, match="needs its \"emulation\" object"):
        compare.compare_files([str(p)])
    with pytest.raises(runner.EmulationError, match="without its \"emulation\" object"):
        runner.merge_documents([timings.load(p)])
