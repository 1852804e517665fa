"""Accuracy plots (costmodel.plots.accuracy), their latency figures (costmodel.plots.latency) and
``costmodel plot``.

The plots are checked through the data behind them (``PlotResult.data`` / the ``--data`` CSV),
which must come from costmodel's own analysis and the registry's published top-1, never pixels.
"""
import os

import numpy as np
import pandas as pd
import pytest
import torch.nn as nn

import costmodel
from costmodel import cli, zoo
from costmodel.plots import accuracy
from costmodel.plots import latency as latency_data
from costmodel.zoo.table import zoo_report

from conftest import assert_png, assert_svg

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


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


@pytest.fixture(scope="module")
def madds_plot(tmp_path_factory):
    d = tmp_path_factory.mktemp("acc")
    return accuracy.plot_accuracy("madds", [str(d / "acc.png"), str(d / "acc.svg")],
                               data_csv=str(d / "acc.csv"))


# ------------------------------------------------------------------ Pareto frontier
def test_pareto_mask_by_hand():
    x = [1, 2, 2, 3, 4, 5, np.nan]
    y = [50, 60, 55, 58, 70, 70, 99]
    assert accuracy.pareto_mask(x, y).tolist() == [True, True, False, False, True, False, False]


def test_pareto_mask_matches_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(20):
        x = rng.integers(1, 15, 25).astype(float)
        y = rng.integers(50, 80, 25).astype(float)
        assert accuracy.pareto_mask(x, y).tolist() == brute_pareto(x, y).tolist()


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
    res = accuracy.plot_accuracy(key, str(tmp_path / f"{key}.png"), names=names)
    assert_png(tmp_path / f"{key}.png")
    d = res.data.set_index("name")
    assert "shiftnet_c" not in d.index and res.skipped == [("shiftnet_c", "no published top-1")]
    for n in names[:3]:
        assert d.loc[n, "x"] == pytest.approx(zoo_report(n).total[key] / 1e6)


def test_latency_plot_from_given_timings(tmp_path):
    names = ["shufflenet_v2_x0_5", "mobilenet_v3_small", "squeezenet1_1"]
    ms = {"shufflenet_v2_x0_5": 4.0, "mobilenet_v3_small": 5.0}
    res = accuracy.plot_accuracy("latency_measured", str(tmp_path / "lat.svg"), names=names,
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

    up = accuracy.UserPoint.from_model(Tiny(), 99.0, name="tiny")
    res = accuracy.plot_accuracy("madds", names=["shufflenet_v2_x0_5", "mobilenet_v3_small"],
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
        raise latency_data.LatencyUnavailable("costmodel.latency is not available (test)")

    monkeypatch.setattr(latency_data, "_latency_module", missing)
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


def test_read_timings_json_and_csv(tmp_path):
    import json

    doc = {"format": "costmodel-timings", "version": 1, "machine": {},
           "models": [{"name": "a", "threads": 2, "total_ms": 1.0},
                      {"name": "a", "threads": 1, "total_ms": 2.0},
                      {"name": "b", "threads": 1, "total_ms": 3.0}]}
    (tmp_path / "t.json").write_text(json.dumps(doc))
    assert latency_data.read_timings(str(tmp_path / "t.json")) == {"latency_measured": {"a": 2.0, "b": 3.0}}
    assert latency_data.read_timings(str(tmp_path / "t.json"), threads=2) == {"latency_measured": {"a": 1.0}}
    (tmp_path / "t.csv").write_text("name,measured_ms,predicted_ms\na,2.0,1.5\nb,,2.5\n")
    assert latency_data.read_timings(str(tmp_path / "t.csv")) == {
        "latency_measured": {"a": 2.0}, "latency_predicted": {"a": 1.5, "b": 2.5}}
    (tmp_path / "bad.csv").write_text("model,ms\na,1\n")
    with pytest.raises(ValueError, match="'name' column"):
        latency_data.read_timings(str(tmp_path / "bad.csv"))
