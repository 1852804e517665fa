"""The plots beside the accuracy plots: torchvision's weights' top-1 (costmodel.plots.
torchvision_accuracy), the per-layer breakdown PNG (layer_breakdown), measured latency against
multiply-adds and MAC (latency_vs_cost), aarch64 instructions against x86 time (arm_vs_x86), the
2-thread latency accuracy plot, and their ``costmodel plot`` commands.

Every number a CSV holds is checked against its source read here directly: torchvision's weights
metadata, the timing files' JSON, costmodel's analysis of the zoo model; rank correlations are
recomputed here with numpy."""
import json
import os

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from costmodel import cli, zoo
from costmodel.plots import accuracy
from costmodel.plots.styles import kind_colors
from costmodel.zoo.table import zoo_report

from conftest import assert_png

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARM = os.path.join(ROOT, "reports", "arm")


def ranks(v):
    """Average ranks (ties share the mean of their positions), 1-based."""
    v = np.asarray(v, float)
    order = np.argsort(v, kind="mergesort")
    r = np.empty(len(v))
    r[order] = np.arange(1, len(v) + 1)
    for val in np.unique(v):
        idx = v == val
        r[idx] = r[idx].mean()
    return r


def spearman_here(x, y):
    return float(np.corrcoef(ranks(x), ranks(y))[0, 1])


# ------------------------------------------------------------------ torchvision
TV_NAMES = ["resnet18", "mobilenet_v3_small", "vit_b_16"]


@pytest.fixture(scope="module")
def tv_plot(tmp_path_factory):
    pytest.importorskip("torchvision")
    from costmodel.plots.torchvision_accuracy import plot_torchvision_accuracy

    d = tmp_path_factory.mktemp("tv")
    return d, plot_torchvision_accuracy(str(d / "tv.png"), str(d / "tv.csv"), TV_NAMES,
                                        zoo_names=["resnet50", "shufflenet_v2_x1_0"])


def test_torchvision_csv_equals_the_weights_metadata(tv_plot):
    import torchvision

    d, res = tv_plot
    assert_png(d / "tv.png")
    csv = pd.read_csv(d / "tv.csv").set_index("name")
    assert sorted(csv.index) == sorted(TV_NAMES)
    for name in TV_NAMES:
        w = torchvision.models.get_model_weights(name).DEFAULT
        row = csv.loc[name]
        assert row["top1"] == pytest.approx(w.meta["_metrics"]["ImageNet-1K"]["acc@1"], abs=1e-4)
        assert row["tv_gmadds"] == pytest.approx(w.meta["_ops"], rel=1e-5)
        assert row["tv_params"] == pytest.approx(w.meta["num_params"] / 1e6, rel=1e-5)
        assert row["crop"] == w.transforms().crop_size[0]
        assert row["ratio_counted"] == pytest.approx(row["gmadds_counted"] / row["tv_gmadds"],
                                                     rel=1e-4)
    # costmodel's counts agree with torchvision's, which are computed independently of it
    assert csv["params_ratio"].to_numpy() == pytest.approx(1.0, abs=1e-6)
    assert csv.loc["resnet18", "ratio_counted"] == pytest.approx(1.0, abs=0.01)


def test_torchvision_plot_has_both_sources_with_different_markers(tv_plot):
    _, res = tv_plot
    assert set(res.data["origin"]) == {"zoo", "torchvision"}
    ax = res.figure.axes[0]
    paths = [c for c in ax.collections if len(c.get_offsets())]
    assert len(paths) == 2
    v0, v1 = paths[0].get_paths()[0].vertices, paths[1].get_paths()[0].vertices
    assert v0.shape != v1.shape or not np.allclose(v0, v1)  # circle vs diamond
    zoo_fc = paths[0].get_facecolors()
    tv_fc = paths[1].get_facecolors()
    assert zoo_fc[0][3] > 0 and (len(tv_fc) == 0 or tv_fc[0][3] == 0)  # filled vs hollow
    assert "acc@1" in res.caption and "_ops" in res.caption


# ------------------------------------------------------------------ per-layer breakdown PNG
def test_plot_layers_png_one_colour_per_kind(tmp_path):
    png, csv = tmp_path / "l.png", tmp_path / "l.csv"
    assert cli.run(["plot", "layers", "shufflenet_v2_x0_5", "--out", str(png),
                    "--data", str(csv)]) == 0
    assert_png(png)
    d = pd.read_csv(csv)
    rep = zoo_report("shufflenet_v2_x0_5").layers
    costed = rep[(rep["madds"] > 0) | (rep["mac"] > 0)].reset_index(drop=True)
    assert list(d["name"]) == list(costed["name"])
    assert d["madds"].tolist() == costed["madds"].astype(float).tolist()
    assert d["mac_share"].sum() == pytest.approx(1.0)
    colors = kind_colors(sorted(d["kind"].unique()))
    assert len(set(colors.values())) == d["kind"].nunique()


def test_layer_breakdown_legend_and_bars(tmp_path):
    from costmodel.plots.layer_breakdown import draw_layer_breakdown

    layers = zoo_report("mixnet_s").layers.copy()
    layers["pred_ms"] = np.where(layers["madds"] > 0, 0.2, 0.01)
    fig, data = draw_layer_breakdown(layers, "mixnet_s", "pred_ms")
    legend = fig.legends[0]
    labels = [t.get_text() for t in legend.get_texts()]
    assert sorted(labels) == sorted(data["kind"].unique())
    faces = [to_hex(h.get_facecolor()[:3]) for h in legend.legend_handles]
    assert len(set(faces)) == len(labels)
    assert len(fig.axes) == 4  # kind shares + madds, MAC, time per layer


def test_plot_layers_rejects_profile_with_svg(tmp_path, capsys):
    assert cli.run(["plot", "layers", "squeezenet1_1", "--out", str(tmp_path / "x.svg"),
                    "--profile", "p.json"]) == 2
    assert "--profile" in capsys.readouterr().err


# ------------------------------------------------------------------ latency vs madds and MAC
def _timings(tmp_path, rows, created="2026-01-02T03:04:05Z"):
    doc = {"format": "costmodel-timings", "version": 1, "created": created,
           "machine": {"cpu_model": "Test CPU 9000", "torch": "9.9"},
           "models": [{"name": n, "input_shape": [1, 3, 224, 224], "threads": t, "total_ms": ms,
                       "total_ms_spread": {}, "layers": []} for n, t, ms in rows]}
    p = tmp_path / "timings.json"
    p.write_text(json.dumps(doc))
    return p


def test_latency_vs_cost_points_and_spearman(tmp_path, capsys):
    rows = [("shufflenet_v2_x0_5", 1, 3.0), ("mobilenet_v2_x1_0", 1, 9.0),
            ("squeezenet1_1", 1, 4.0), ("mobilenet_v3_small", 1, 2.5), ("timm:other", 1, 5.0),
            ("shufflenet_v2_x0_5", 2, 2.0), ("mobilenet_v2_x1_0", 2, 5.0),
            ("squeezenet1_1", 2, 2.2), ("mobilenet_v3_small", 2, 1.9)]
    t = _timings(tmp_path, rows)
    png, csv = tmp_path / "lc.png", tmp_path / "lc.csv"
    assert cli.run(["plot", "latency-cost", "--timings", str(t), "--out", str(png),
                    "--data", str(csv)]) == 0
    assert_png(png)
    d = pd.read_csv(csv)
    assert "timm:other" not in set(d["name"])  # zoo models only
    assert len(d) == 8
    for r in d.itertuples():
        total = zoo_report(r.name).total
        assert r.madds_M == pytest.approx(total["madds"] / 1e6, rel=1e-5)
        assert r.mac_M == pytest.approx(total["mac"] / 1e6, rel=1e-5)
        assert r.measured_ms == dict(((n, th), ms) for n, th, ms in rows)[(r.name, r.threads)]
    out = capsys.readouterr().out
    for th in (1, 2):
        g = d[d["threads"] == th]
        rho_m = spearman_here(g["madds_M"], g["measured_ms"])
        rho_c = spearman_here(g["mac_M"], g["measured_ms"])
        assert f"{th} thread(s): Spearman rho of measured latency with multiply-adds " \
               f"{rho_m:.3f}, with MAC {rho_c:.3f}" in out


def test_latency_vs_cost_caption_names_machine_date_threads(tmp_path):
    from costmodel.plots.latency_vs_cost import plot_latency_vs_cost

    t = _timings(tmp_path, [("shufflenet_v2_x0_5", 1, 3.0), ("squeezenet1_1", 1, 4.0),
                            ("mobilenet_v3_small", 1, 2.5)])
    data, rho, caption, _ = plot_latency_vs_cost(str(t))
    assert "Test CPU 9000" in caption and "2026-01-02" in caption and "1 thread" in caption
    assert list(rho) == [1]
    _, _, caption, _ = plot_latency_vs_cost(str(_timings(tmp_path, [("squeezenet1_1", 1, 4.0)],
                                                         created=None)))
    assert "date not recorded" in caption


def test_latency_vs_cost_bad_file(tmp_path, capsys):
    (tmp_path / "t.json").write_text("{}")
    assert cli.run(["plot", "latency-cost", "--timings", str(tmp_path / "t.json"),
                    "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "not a costmodel-timings" in err and "Traceback" not in err


# ------------------------------------------------------------------ ARM instructions vs x86 time
@pytest.mark.skipif(not os.path.isfile(os.path.join(ARM, "arm_neoverse-n1_zoo.json")),
                    reason="no committed ARM files")
def test_arm_vs_x86_joins_the_files_layer_by_layer(tmp_path):
    arm = os.path.join(ARM, "arm_neoverse-n1_zoo.json")
    x86 = [os.path.join(ARM, "x86_1thread_run1.json"), os.path.join(ARM, "x86_1thread_run2.json")]
    png, csv = tmp_path / "a.png", tmp_path / "a.csv"
    assert cli.run(["plot", "arm-x86", "--arm", arm, "--x86"] + x86 +
                   ["--out", str(png), "--data", str(csv)]) == 0
    assert_png(png)
    d = pd.read_csv(csv)
    with open(arm) as f:
        a = json.load(f)
    xs = []
    for p in x86:
        with open(p) as f:
            xs.append(json.load(f))
    # a few layers straight from the JSON: instructions from the ARM file, the median x86 time
    model = a["models"][0]
    checked = 0
    for layer in model["layers"]:
        if layer.get("same_replay_as") or not layer.get("instructions"):
            continue
        times = [l["measured_ms"] for doc in xs for m in doc["models"]
                 if m["name"] == model["name"] and m.get("threads", 1) == 1
                 for l in m["layers"] if l["name"] == layer["name"] and l.get("measured_ms")]
        if not times:
            continue
        row = d[(d["model"] == model["name"]) & (d["name"] == layer["name"])]
        assert len(row) == 1
        assert row["instructions"].iat[0] == pytest.approx(layer["instructions"], rel=1e-5)
        assert row["x86_ms"].iat[0] == pytest.approx(float(np.median(times)), rel=1e-5)
        checked += 1
        if checked == 8:
            break
    assert checked == 8
    assert (d["instructions"] > 0).all() and (d["x86_ms"] > 0).all()


# ------------------------------------------------------------------ 2-thread latency accuracy plot
def test_accuracy_vs_latency_at_2_threads_from_a_timing_file(tmp_path):
    t = _timings(tmp_path, [("shufflenet_v2_x0_5", 1, 3.0), ("shufflenet_v2_x0_5", 2, 1.8),
                            ("mobilenet_v3_small", 1, 2.5), ("mobilenet_v3_small", 2, 1.6)])
    csv = tmp_path / "a.csv"
    assert cli.run(["plot", "accuracy", "--x", "latency-measured-2t", "--timings", str(t),
                    "--models", "shufflenet_v2_x0_5", "mobilenet_v3_small",
                    "--out", str(tmp_path / "a.png"), "--data", str(csv)]) == 0
    d = pd.read_csv(csv)
    assert dict(zip(d["name"], d["x"])) == {"shufflenet_v2_x0_5": 1.8, "mobilenet_v3_small": 1.6}


def test_latency_captions_name_the_threads():
    for key, th in (("latency_predicted", 1), ("latency_predicted_2t", 2),
                    ("latency_measured_2t", 2)):
        res = accuracy.plot_accuracy(key, names=["shufflenet_v2_x0_5"],
                                     x_values={"shufflenet_v2_x0_5": 3.0}, x_note="profile p.json")
        assert f"at {th} thread" in res.caption and "profile p.json" in res.caption
    assert accuracy.metric("latency-predicted-2t").threads == 2
    assert "conv+fc" in accuracy.metric("madds").label


def test_zoo_entries_carry_families():
    assert len(accuracy.zoo_families()) == len({zoo.entry(n).family for n in zoo.names()})
