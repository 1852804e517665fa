"""The reports folder (costmodel.reports_folder) and ``costmodel reports``: what is written, what
is skipped and said, and that --skip-latency / --reuse-latency time nothing."""
import json

import numpy as np
import pandas as pd

from costmodel import cli, reports_folder
from costmodel.guidelines import report_files
from costmodel.plots import latency as latency_data
from costmodel.zoo.table import zoo_report

from conftest import assert_png, assert_svg


def test_reports_command_skip_latency(tmp_path, capsys):
    names = ["shufflenet_v2_x0_5", "squeezenet1_1", "shiftnet_c"]
    rc = cli.run(["reports", "--out", str(tmp_path), "--skip-latency", "--no-progress",
                  "--models"] + names)
    assert rc == 0
    for n in names:
        for ext in ("md", "html", "csv"):
            assert (tmp_path / "models" / f"{n}.{ext}").is_file()
        assert 'id="layer-bars"' in (tmp_path / "models" / f"{n}.html").read_text()
    for key in ("madds", "params", "mac"):
        assert_png(tmp_path / f"accuracy_vs_{key}.png")
        assert_svg(tmp_path / f"accuracy_vs_{key}.svg")
        d = pd.read_csv(tmp_path / f"accuracy_vs_{key}.csv")
        assert sorted(d["name"]) == ["shufflenet_v2_x0_5", "squeezenet1_1"]
    assert not (tmp_path / "accuracy_vs_latency_measured.png").exists()
    zoo_md = (tmp_path / "zoo.md").read_text()
    assert all(f"`{n}`" in zoo_md for n in names)
    assert len(pd.read_csv(tmp_path / "zoo.csv")) == 3
    index = (tmp_path / "README.md").read_text()
    assert "## Skipped" in index and "--skip-latency" in index  # said, not silent
    assert "skipped" in capsys.readouterr().err


def test_reports_latency_unavailable_is_reported(tmp_path, monkeypatch):
    def missing():
        raise latency_data.LatencyUnavailable("costmodel.latency is not available (test)")

    calls = []
    monkeypatch.setattr(latency_data, "_latency_module", missing)
    monkeypatch.setattr(report_files, "run_report", lambda *a, **k: calls.append(a))
    out = reports_folder.generate_reports(str(tmp_path), ["squeezenet1_1"], quick=True,
                                       progress=False, message=lambda s: None)
    reasons = " ".join(why for _, why in out.skipped)
    assert "not available (test)" in reasons
    assert not out.latency
    assert (tmp_path / "accuracy_vs_madds.png").exists()
    assert not (tmp_path / "accuracy_vs_latency_measured.png").exists()
    assert "not available (test)" in (tmp_path / "README.md").read_text()


def test_reports_guideline_hook(tmp_path, monkeypatch):
    calls = []

    def fake_render(results, out, *args, **kwargs):
        calls.append(("render", results, out))
        with open(out, "w") as f:
            f.write("# guidelines\n")

    def no_run(*args, **kwargs):
        raise AssertionError("--skip-latency must not run the experiments")

    monkeypatch.setattr(report_files, "render_saved", fake_render)
    monkeypatch.setattr(report_files, "run_report", no_run)
    # --skip-latency and no saved results: nothing to re-render, said so
    out = reports_folder.generate_reports(str(tmp_path), ["squeezenet1_1"], skip_latency=True,
                                          progress=False, message=lambda s: None)
    assert calls == []
    assert any(p == "guideline report" and "no saved results" in why for p, why in out.skipped)
    # with saved results, --skip-latency re-renders them without timing anything
    (tmp_path / "guidelines.json").write_text("{}")
    out = reports_folder.generate_reports(str(tmp_path), ["squeezenet1_1"], skip_latency=True,
                                          progress=False, message=lambda s: None)
    assert calls == [("render", str(tmp_path / "guidelines.json"), str(tmp_path / "guidelines.md"))]
    assert str(tmp_path / "guidelines.md") in out.written
    assert "[guidelines.md](guidelines.md)" in (tmp_path / "README.md").read_text()


def test_reports_reuse_latency_times_nothing(tmp_path, monkeypatch, capsys):
    from costmodel.latency import timings
    # without an earlier validation run, --reuse-latency says what is missing
    assert cli.run(["reports", "--out", str(tmp_path), "--reuse-latency", "--no-progress",
                    "--models", "squeezenet1_1"]) == 2
    assert "timings.json" in capsys.readouterr().err
    lat = tmp_path / "latency"
    lat.mkdir()
    profile = {"format": "costmodel-profile", "version": 1, "machine": {"cpu_model": "Test CPU"},
               "calibration": {}, "threads": {"1": {
                   "ops": {"default": {"type": "linear", "features": ["one", "madds"],
                                       "coef": [0.001, 1e-9]}},
                   "network": {"features": ["iso", "const"], "coef": [1.0, 0.1]},
                   "baselines": {}}}}
    (lat / "profile.json").write_text(json.dumps(profile))
    doc = {"format": "costmodel-timings", "version": 1, "machine": {"cpu_model": "Test CPU"},
           "models": [{"name": "squeezenet1_1", "input_shape": [1, 3, 224, 224], "threads": 1,
                       "total_ms": 7.5, "total_ms_spread": {}, "layers": []}]}
    timings.save(doc, lat / "timings.json")

    def no_timing(*a, **k):
        raise AssertionError("--reuse-latency must not time anything")

    monkeypatch.setattr(reports_folder, "_validation_report", no_timing)
    monkeypatch.setattr(latency_data, "measured_ms", no_timing)
    monkeypatch.setattr(report_files, "run_report", no_timing)
    calls = []
    monkeypatch.setattr(report_files, "render_saved", lambda *a, **k: calls.append(a))
    assert cli.run(["reports", "--out", str(tmp_path), "--reuse-latency", "--no-progress",
                    "--models", "squeezenet1_1", "shufflenet_v2_x0_5"]) == 0
    lat_csv = pd.read_csv(tmp_path / "latency.csv").set_index("name")
    assert lat_csv.loc["squeezenet1_1", "measured_ms"] == 7.5
    assert np.isnan(lat_csv.loc["shufflenet_v2_x0_5", "measured_ms"])
    assert lat_csv["predicted_ms"].gt(0).all()
    index = (tmp_path / "README.md").read_text()
    assert "--reuse-latency: not in" in index  # the missing measurement is said, not silent
    assert calls == []  # no saved guideline results here: nothing rendered, nothing run
    assert "no saved results" in index


def test_html_report_carries_layer_bars_once(tmp_path):
    reports_folder.write_model_report("squeezenet1_1", str(tmp_path))
    html_text = (tmp_path / "models" / "squeezenet1_1.html").read_text()
    assert html_text.count('id="layer-bars"') == 1
    assert html_text.index('id="layer-bars"') < html_text.index("<h2>Layers</h2>")


def test_model_report_carries_predicted_layer_times(tmp_path):
    rep = zoo_report("squeezenet1_1")
    per_layer = pd.DataFrame({"name": rep.layers["name"], "pred_ms": 0.01})
    reports_folder.write_model_report("squeezenet1_1", str(tmp_path), per_layer)
    html_text = (tmp_path / "models" / "squeezenet1_1.html").read_text()
    assert "predicted time share" in html_text
    assert "pred_ms" not in zoo_report("squeezenet1_1").layers  # cache left untouched


def test_reports_only_zoo_writes_the_zoo_table_and_its_gaps(tmp_path, capsys, monkeypatch):
    """``costmodel reports --only zoo`` rewrites zoo.md / zoo.csv and nothing else, timing nothing."""
    def no_timing(*a, **k):
        raise AssertionError("--only zoo must not time anything")

    monkeypatch.setattr(reports_folder, "_latency", no_timing)
    monkeypatch.setattr(reports_folder, "_guideline_report", no_timing)
    names = ["mobilenet_v2_x1_4", "shufflenet_v2_x1_0"]
    assert cli.run(["reports", "--out", str(tmp_path), "--only", "zoo", "--models"] + names) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zoo.csv", "zoo.md"]
    md = (tmp_path / "zoo.md").read_text()
    gaps = md.split("\n## Gaps\n", 1)[1]
    # MobileNetV2 1.4: 6.11M params against Table 4's 6.9M, with its reason; ShuffleNetV2 1.0x
    # matches Table 5 to rounding and is not listed
    assert "`mobilenet_v2_x1_4` params -11.5%" in gaps and "6.06M" in gaps
    assert "shufflenet_v2_x1_0" not in gaps
    assert "nothing timed" in capsys.readouterr().out


def test_reports_extra_plots_from_committed_data(tmp_path):
    """The layer breakdown, latency-vs-cost and ARM plots come from files already in OUT (no
    timing); the torchvision plot only with the whole zoo; what is not drawn is said."""
    from costmodel.latency import timings

    lat = tmp_path / "latency"
    lat.mkdir()
    doc = {"format": "costmodel-timings", "version": 1, "created": "2026-01-02T00:00:00Z",
           "machine": {"cpu_model": "Test CPU"},
           "models": [{"name": n, "input_shape": [1, 3, 224, 224], "threads": 1, "total_ms": ms,
                       "total_ms_spread": {}, "layers": []}
                      for n, ms in (("shufflenet_v2_x0_5", 3.0), ("squeezenet1_1", 4.0))]}
    timings.save(doc, lat / "timings.json")
    out = reports_folder.generate_reports(str(tmp_path), ["shufflenet_v2_x0_5", "squeezenet1_1"],
                                          skip_latency=True, progress=False,
                                          message=lambda s: None)
    assert_png(tmp_path / "layers_shufflenet_v2_x0_5.png")
    assert_png(tmp_path / "latency_vs_madds_mac.png")
    d = pd.read_csv(tmp_path / "latency_vs_madds_mac.csv")
    assert sorted(d["name"]) == ["shufflenet_v2_x0_5", "squeezenet1_1"]
    parts = dict(out.skipped)
    assert "whole zoo" in parts["accuracy_vs_madds_torchvision"]
    assert "arm_instructions_vs_x86" in parts
    index = (tmp_path / "README.md").read_text()
    assert "[latency_vs_madds_mac.png](latency_vs_madds_mac.png)" in index
    assert "[layers_shufflenet_v2_x0_5.png](layers_shufflenet_v2_x0_5.png)" in index
