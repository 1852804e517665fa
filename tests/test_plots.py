"""Accuracy plots, the zoo table, the per-layer SVG bars and the `reports` command.

The plots are checked through the data behind them (``PlotResult.data`` / the ``--data`` CSV),
which must come from costmodel's own analysis and the registry's published top-1, never pixels.
"""
import os
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
import torch.nn as nn

import costmodel
from costmodel import cli, plots, reports_folder, zoo
from costmodel.guidelines import report_files

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
SVG_NS = "{http://www.w3.org/2000/svg}"


def brute_pareto(x, y):
    """On the frontier: no other point with x' <= x has y' >= y (ties at equal x and y: the
    first one in (x, -y) order only)."""
    out = []
    for i in range(len(x)):
        dominated = False
        for j in range(len(x)):
            if j == i:
                continue
            if x[j] <= x[i] and y[j] >= y[i] and (x[j] < x[i] or y[j] > y[i] or j < i):
                dominated = True
                break
        out.append(not dominated)
    return np.array(out)


def assert_png(path):
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n", path
    assert os.path.getsize(path) > 10_000


def assert_svg(path):
    root = ET.parse(path).getroot()
    assert root.tag == SVG_NS + "svg"


@pytest.fixture(scope="module")
def madds_plot(tmp_path_factory):
    d = tmp_path_factory.mktemp("acc")
    return plots.plot_accuracy("madds", [str(d / "acc.png"), str(d / "acc.svg")],
                               data_csv=str(d / "acc.csv"))


# ------------------------------------------------------------------ Pareto frontier
def test_pareto_mask_by_hand():
    x = [1, 2, 2, 3, 4, 5, np.nan]
    y = [50, 60, 55, 58, 70, 70, 99]
    assert plots.pareto_mask(x, y).tolist() == [True, True, False, False, True, False, False]


def test_pareto_mask_matches_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(20):
        x = rng.integers(1, 15, 25).astype(float)
        y = rng.integers(50, 80, 25).astype(float)
        assert plots.pareto_mask(x, y).tolist() == brute_pareto(x, y).tolist()


# ------------------------------------------------------------------ accuracy vs madds (whole zoo)
def test_every_zoo_model_with_top1_is_a_point(madds_plot):
    d = madds_plot.data
    with_top1 = [n for n in zoo.names() if zoo.entry(n).published.top1 is not None]
    without = [n for n in zoo.names() if zoo.entry(n).published.top1 is None]
    assert sorted(d["name"]) == sorted(with_top1)
    assert [n for n, _ in madds_plot.skipped] == without
    for n in without:  # named in the caption, not dropped silently
        assert n in madds_plot.caption
    assert list(d.columns[:5]) == ["name", "family", "x", "y", "on_pareto"]
    for r in d.itertuples():
        e = zoo.entry(r.name)
        assert r.y == e.published.top1
        assert r.family == e.family
        assert r.resolution == e.published.resolution


@pytest.mark.parametrize("name", ["shufflenet_v2_x1_0", "mobilenet_v2_x1_0", "xception"])
def test_x_is_costmodels_own_madds_at_published_resolution(madds_plot, name):
    rep = costmodel.analyze(zoo.create(name), zoo.entry(name).input_shape, warn=False)
    x = madds_plot.data.set_index("name").loc[name, "x"]
    assert x == pytest.approx(rep.total["madds"] / 1e6, rel=1e-12)


def test_frontier_is_max_accuracy_at_lower_cost(madds_plot):
    d = madds_plot.data
    assert d["on_pareto"].tolist() == brute_pareto(d["x"].to_numpy(), d["y"].to_numpy()).tolist()
    front = d[d["on_pareto"]].sort_values("x")
    assert front["y"].is_monotonic_increasing and len(front) >= 3
    assert madds_plot.frontier == list(front["name"])
    # the cheapest model and the most accurate one are always on it
    assert d.loc[d["x"].idxmin(), "on_pareto"] and d.loc[d["y"].idxmax(), "on_pareto"]


def test_files_written(madds_plot):
    png, svg, csv = [p for p in madds_plot.paths if p.endswith(".png")][0], \
        [p for p in madds_plot.paths if p.endswith(".svg")][0], \
        [p for p in madds_plot.paths if p.endswith(".csv")][0]
    assert_png(png)
    assert_svg(svg)
    back = pd.read_csv(csv)
    pd.testing.assert_frame_equal(back[["name", "x", "y", "on_pareto"]],
                                  madds_plot.data[["name", "x", "y", "on_pareto"]].reset_index(drop=True))


def test_every_point_is_labelled(madds_plot):
    texts = {t.get_text() for t in madds_plot.figure.axes[0].texts}
    for r in madds_plot.data.itertuples():
        assert any(t.startswith(r.name) for t in texts), r.name


@pytest.mark.parametrize("key", ["params", "mac"])
def test_companion_metrics(key, tmp_path):
    names = ["shufflenet_v2_x0_5", "mobilenet_v3_small", "squeezenet1_1", "shiftnet_c"]
    res = plots.plot_accuracy(key, str(tmp_path / f"{key}.png"), names=names)
    assert_png(tmp_path / f"{key}.png")
    d = res.data.set_index("name")
    assert "shiftnet_c" not in d.index and res.skipped == [("shiftnet_c", "no published top-1")]
    for n in names[:3]:
        assert d.loc[n, "x"] == pytest.approx(plots.zoo_report(n).total[key] / 1e6)


def test_latency_plot_from_given_timings(tmp_path):
    names = ["shufflenet_v2_x0_5", "mobilenet_v3_small", "squeezenet1_1"]
    ms = {"shufflenet_v2_x0_5": 4.0, "mobilenet_v3_small": 5.0}
    res = plots.plot_accuracy("latency_measured", str(tmp_path / "lat.svg"), names=names,
                              x_values=ms)
    assert_svg(tmp_path / "lat.svg")
    assert dict(zip(res.data["name"], res.data["x"])) == ms
    assert ("squeezenet1_1", "no latency measured") in res.skipped
    assert "squeezenet1_1" in res.caption


def test_user_point_joins_the_frontier_computation():
    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 8, 3, stride=4)
            self.fc = nn.Linear(8, 1000)

        def forward(self, x):
            return self.fc(self.c(x).mean((2, 3)))

    up = plots.UserPoint.from_model(Tiny(), 99.0, name="tiny")
    res = plots.plot_accuracy("madds", names=["shufflenet_v2_x0_5", "mobilenet_v3_small"],
                              extra=[up])
    row = res.data.set_index("name").loc["tiny"]
    assert row["family"] == "your model" and row["origin"] == "user" and row["y"] == 99.0
    assert row["x"] == pytest.approx(up.report.total["madds"] / 1e6)
    assert bool(row["on_pareto"])  # cheapest and most accurate: dominates both
    assert res.data["on_pareto"].sum() == 1


# ------------------------------------------------------------------ CLI
def test_cli_plot_accuracy_with_own_model(tmp_path, capsys):
    png, svg, csv = tmp_path / "a.png", tmp_path / "a.svg", tmp_path / "a.csv"
    spec = os.path.join(EXAMPLES, "plot_accuracy.py") + ":my_model"
    rc = cli.run(["plot", "accuracy", "--families", "shufflenet_v2", "mobilenet_v2",
                  "--add", spec, "--top1", "71.3", "--add-name", "mine",
                  "--out", str(png), str(svg), "--data", str(csv)])
    assert rc == 0
    assert_png(png)
    assert_svg(svg)
    d = pd.read_csv(csv).set_index("name")
    fams = {zoo.entry(n).family for n in d.index if n != "mine"}
    assert fams == {"shufflenet_v2", "mobilenet_v2"}
    assert d.loc["mine", "family"] == "your model" and d.loc["mine", "y"] == 71.3
    out = capsys.readouterr().out
    assert "your model mine:" in out and "Pareto frontier:" in out


def test_cli_plot_latency_from_timings_csv(tmp_path, capsys):
    t = tmp_path / "t.csv"
    pd.DataFrame({"name": ["shufflenet_v2_x0_5", "mobilenet_v3_small"],
                  "measured_ms": [3.0, 4.5]}).to_csv(t, index=False)
    rc = cli.run(["plot", "accuracy", "--x", "latency-measured", "--timings", str(t),
                  "--models", "shufflenet_v2_x0_5", "mobilenet_v3_small", "squeezenet1_1",
                  "--out", str(tmp_path / "l.png"), "--data", str(tmp_path / "l.csv")])
    assert rc == 0
    d = pd.read_csv(tmp_path / "l.csv")
    assert dict(zip(d["name"], d["x"])) == {"shufflenet_v2_x0_5": 3.0, "mobilenet_v3_small": 4.5}
    assert "squeezenet1_1 (no latency measured)" in capsys.readouterr().out


@pytest.mark.parametrize("argv, msg", [
    (["--add", "resnet50"], "one --top1 per --add"),
    (["--add", "resnet50", "--top1", "150"], "percentage"),
    (["--x", "speed"], "unknown metric"),
    (["--models", "resnet_50"], "unknown model"),
    (["--families", "nonesuch"], "no zoo model"),
    (["--add", "nonexistent.py:f", "--top1", "70"], "model file not found"),
])
def test_cli_user_errors(argv, msg, tmp_path, capsys):
    rc = cli.run(["plot", "accuracy", "--out", str(tmp_path / "x.png")] + argv)
    assert rc == 2
    assert msg in capsys.readouterr().err


def test_cli_latency_without_timings_says_why(tmp_path, capsys, monkeypatch):
    def missing():
        raise plots.LatencyUnavailable("costmodel.latency is not available (test)")

    monkeypatch.setattr(plots, "_latency_module", missing)
    rc = cli.run(["plot", "accuracy", "--x", "latency-predicted", "--models", "squeezenet1_1",
                  "--out", str(tmp_path / "x.png")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "not available (test)" in err and "--timings" in err


def test_cli_plot_layers(tmp_path):
    for ext in ("svg", "html"):
        out = tmp_path / f"l.{ext}"
        assert cli.run(["plot", "layers", "shufflenet_v2_x0_5", "--out", str(out)]) == 0
        text = out.read_text()
        assert "cm-layer" in text
    assert_svg(tmp_path / "l.svg")


# ------------------------------------------------------------------ zoo table
def test_zoo_table_and_markdown():
    names = ["shufflenet_v1_g1_x1_0", "mobilenet_v2_x1_0", "shiftnet_c"]
    t = plots.zoo_table(names)
    assert list(t["name"]) == names
    for col in ["family", "resolution", "params", "madds", "madds_conv_linear", "mac",
                "pub_params_m", "pub_madds_m", "top1", "params_gap_pct", "madds_gap_pct", "source"]:
        assert col in t.columns
    r = t.set_index("name").loc["mobilenet_v2_x1_0"]
    rep = plots.zoo_report("mobilenet_v2_x1_0")
    conv_fc = rep.layers.loc[rep.layers["kind"].str.endswith("conv") | (rep.layers["kind"] == "linear"),
                             "madds"].sum()
    assert r["madds_conv_linear"] == conv_fc < r["madds"]
    assert r["params_gap_pct"] == pytest.approx(100 * (rep.total["params"] / 1e6 - 3.4) / 3.4)
    assert r["madds_gap_pct"] == pytest.approx(100 * (conv_fc / 1e6 - 300) / 300)
    assert np.isnan(t.set_index("name").loc["shufflenet_v1_g1_x1_0", "params_gap_pct"])
    md = plots.zoo_table_markdown(t).strip().splitlines()
    assert len(md) == 2 + len(names)
    assert md[0].startswith("| model | family | res | params (M)")
    v1 = next(line for line in md if "shufflenet_v1_g1_x1_0" in line)
    assert "| - |" in v1  # no published params
    assert "`mobilenet_v2_x1_0`" in md[3] and "72" in md[3]


# ------------------------------------------------------------------ per-layer SVG bars
def _layer_groups(svg):
    root = ET.fromstring(svg)
    return [g for g in root.iter(SVG_NS + "g") if "cm-layer" in g.get("class", "")]


def test_layer_bars_svg():
    rep = plots.zoo_report("shufflenet_v2_x0_5")
    svg = plots.layer_bars_svg(rep.layers)
    groups = _layer_groups(svg)
    costly = rep.layers[(rep.layers["madds"] > 0) | (rep.layers["mac"] > 0)]
    assert len(groups) == len(costly)
    assert "predicted time share" not in svg
    # ReLUs move memory and do no multiply-adds: flagged memory-bound; the stem conv is not
    by_name = {g.find(SVG_NS + "title").text.split(" ")[0]: g.get("class") for g in groups}
    assert "cm-mem" in by_name["stem.0.2"] and "cm-cmp" in by_name["stem.0.0"]
    # each row has one bar per metric, widths proportional to the shares
    bars = [r for r in groups[0].iter(SVG_NS + "rect") if r.get("height") == "10"]
    assert len(bars) == 2


def test_layer_bars_with_predicted_time_column():
    layers = plots.zoo_report("squeezenet1_1").layers.copy()
    layers["pred_ms"] = np.where(layers["madds"] > 0, 0.5, 0.1)
    section = plots.layer_bars_section(layers)  # auto-detects pred_ms
    assert 'id="layer-bars"' in section and "predicted time share" in section
    groups = _layer_groups(section[section.index("<svg"):])
    assert all(len([r for r in g.iter(SVG_NS + "rect") if r.get("height") == "10"]) == 3
               for g in groups)


# ------------------------------------------------------------------ the reports command
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
        raise plots.LatencyUnavailable("costmodel.latency is not available (test)")

    calls = []
    monkeypatch.setattr(plots, "_latency_module", missing)
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
    import json
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
    monkeypatch.setattr(plots, "measured_ms", no_timing)
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
    rep = plots.zoo_report("squeezenet1_1")
    per_layer = pd.DataFrame({"name": rep.layers["name"], "pred_ms": 0.01})
    reports_folder.write_model_report("squeezenet1_1", str(tmp_path), per_layer)
    html_text = (tmp_path / "models" / "squeezenet1_1.html").read_text()
    assert "predicted time share" in html_text
    assert "pred_ms" not in plots.zoo_report("squeezenet1_1").layers  # cache left untouched


def test_read_timings_json_and_csv(tmp_path):
    import json

    doc = {"format": "costmodel-timings", "version": 1, "machine": {},
           "models": [{"name": "a", "threads": 2, "total_ms": 1.0},
                      {"name": "a", "threads": 1, "total_ms": 2.0},
                      {"name": "b", "threads": 1, "total_ms": 3.0}]}
    (tmp_path / "t.json").write_text(json.dumps(doc))
    assert plots.read_timings(str(tmp_path / "t.json")) == {"latency_measured": {"a": 2.0, "b": 3.0}}
    assert plots.read_timings(str(tmp_path / "t.json"), threads=2) == {"latency_measured": {"a": 1.0}}
    (tmp_path / "t.csv").write_text("name,measured_ms,predicted_ms\na,2.0,1.5\nb,,2.5\n")
    assert plots.read_timings(str(tmp_path / "t.csv")) == {
        "latency_measured": {"a": 2.0}, "latency_predicted": {"a": 1.5, "b": 2.5}}
    (tmp_path / "bad.csv").write_text("model,ms\na,1\n")
    with pytest.raises(ValueError, match="'name' column"):
        plots.read_timings(str(tmp_path / "bad.csv"))
