"""ShuffleNetV2 guidelines: the paper's equations, the micro-benchmarks, the linter, the CLI."""
import json
import math
import warnings

import pytest
import torch
import torch.nn as nn

import costmodel
from costmodel import cli
from costmodel.guidelines import benchmarks as bm
from costmodel.guidelines import check, experiments as ex
from costmodel.guidelines.lint import Thresholds
from costmodel.guidelines.timing import RooflineProfile

HW = 56


def _analyze(model, shape):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return costmodel.analyze(model, shape, warn=False)


def _lint(model, shape, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return check(model, shape, **kw)


# ------------------------------------------------------------------ the paper's equations
PAPER = ex.paper_tables()["tables"]


@pytest.mark.parametrize("platform", ["gpu", "arm"])
def test_g1_tables_mac_equals_eq1_and_bound(platform):
    macs, ratios = [], []
    for r in PAPER["G1"]["rows"]:
        c1, c2 = r[f"{platform}_c"]
        net = bm.G1Net(c1, c2)
        rep = _analyze(net, net.input_shape())
        b = HW * HW * c1 * c2
        per_layer = HW * HW * (c1 + c2) + c1 * c2  # Eq. 1's MAC, each of the 20 layers
        assert rep.total["madds"] == 20 * b
        assert rep.total["mac"] == 20 * per_layer == bm.g1_analytic(c1, c2).mac
        bound = 2 * math.sqrt(HW * HW * b) + b / (HW * HW)
        assert bound == pytest.approx(costmodel.formulas.pointwise_mac_lower_bound(HW, HW, b))
        assert per_layer >= bound - 1e-6
        if c1 == c2:
            assert per_layer == pytest.approx(bound, rel=1e-12)  # equality at 1:1
        macs.append(per_layer / bound)
        ratios.append(c2 / c1)
    assert macs == sorted(macs) and macs[0] == pytest.approx(1.0)  # MAC excess grows with c2/c1


@pytest.mark.parametrize("platform", ["gpu", "arm"])
def test_g2_tables_mac_equals_eq2(platform):
    macs = []
    for r in PAPER["G2"]["rows"]:
        g, c = r["g"], r[f"{platform}_c"]
        if c % g:
            c = ex.G2_ARM_G8_X1
        net = bm.G2Net(c, g)
        rep = _analyze(net, net.input_shape())
        eq2 = HW * HW * (c + c) + c * c // g
        b = HW * HW * c * c // g
        assert rep.total["mac"] == 10 * eq2 == bm.g2_analytic(c, g).mac
        assert rep.total["madds"] == 10 * b
        # Eq. 2's second form: hw c1 + B g / c1 + B / hw
        assert eq2 == pytest.approx(HW * HW * c + b * g / c + b / (HW * HW))
        macs.append(eq2)
    assert macs == sorted(macs)  # MAC grows with g at (nearly) fixed FLOPs


def test_g3_g4_analytic_match_traced_counts():
    for s in bm.G3_STRUCTURES:
        net = bm.G3Net(s, 64)
        rep = _analyze(net, net.input_shape())
        an = bm.g3_analytic(s, 64)
        assert (rep.total["madds"], rep.total["mac"]) == (an.flops, an.mac)
    flops = {bm.g3_analytic(s, 128).flops for s in bm.G3_STRUCTURES}
    assert max(flops) / min(flops) < 1.02  # "the FLOPs is the same as 1-fragment"
    for relu in (True, False):
        for sc in (True, False):
            net = bm.G4Net(32, relu, sc)
            rep = _analyze(net, net.input_shape())
            an = bm.g4_analytic(32, relu, sc)
            assert (rep.total["madds"], rep.total["mac"]) == (an.flops, an.mac)
    assert bm.g4_analytic(64, False, False).mac < bm.g4_analytic(64, True, True).mac


def test_benchmarks_run_on_real_tensors():
    net = bm.G3Net("4-fragment-parallel", 16, repeats=2)
    y = net(torch.randn(1, 16, 8, 8))
    assert y.shape == (1, 16, 8, 8)
    y = bm.G4Net(16, True, True, repeats=1)(torch.randn(1, 16, 8, 8))
    assert y.shape == (1, 16, 8, 8) and (y >= 0).all()


# ------------------------------------------------------------------ linter, hand-built nets
def _pair(c1, c2):
    return nn.Sequential(nn.Conv2d(c1, c2, 1, bias=False), nn.Conv2d(c2, c1, 1, bias=False))


def test_g1_ratio_1_12_flagged_equal_widths_not():
    rep = _lint(_pair(36, 432), (1, 36, HW, HW))
    g1 = rep.filter("G1")
    assert len(g1) == 2 and {f.severity for f in g1} == {"high"}
    f = g1[0]
    assert f.numbers["ratio"] in ("1:12", "12:1")
    # excess of an activation-dominated layer: (1 + r) / (2 sqrt r) - 1, diluted by the weights
    b = HW * HW * 36 * 432
    mac = HW * HW * (36 + 432) + 36 * 432
    assert f.numbers["mac"] == mac
    assert f.numbers["excess"] == pytest.approx(mac / (2 * math.sqrt(HW * HW * b) + b / HW ** 2) - 1)
    assert 0.80 < f.numbers["excess"] < 13 / (2 * math.sqrt(12)) - 1 + 1e-9
    assert f.where == "0" or f.where.endswith("0")
    assert not _lint(_pair(128, 128), (1, 128, HW, HW)).filter("G1")
    # 1:6 is a warning, 1:2 passes (6%)
    assert {f.severity for f in _lint(_pair(52, 312), (1, 52, HW, HW)).filter("G1")} == {"warn"}
    assert not _lint(_pair(90, 180), (1, 90, HW, HW)).filter("G1")


def test_g2_group_conv_g8_flagged_g1_not():
    for g, expect in ((8, "high"), (2, "warn"), (1, None)):
        c = 256
        net = nn.Sequential(nn.Conv2d(c, c, 1, groups=g, bias=False))
        found = _lint(net, (1, c, HW, HW)).filter("G2")
        if expect is None:
            assert not found
        else:
            assert len(found) == 1 and found[0].severity == expect
            n = found[0].numbers
            mac_g = HW * HW * 2 * c + c * c // g  # Eq. 2
            dense = HW * HW * 2 * c / math.sqrt(g) + c * c / g  # same FLOPs, g = 1
            assert n["mac"] == mac_g and n["mac_dense_same_madds"] == pytest.approx(dense)
    # depthwise convolutions are not G2 findings (ShuffleNetV2's own building block)
    dw = nn.Sequential(nn.Conv2d(64, 64, 3, padding=1, groups=64, bias=False))
    assert not _lint(dw, (1, 64, HW, HW)).filter("G2")


class Branches(nn.Module):
    def __init__(self, c=64, k=4):
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, c // k, 1), nn.ReLU()) for _ in range(k))

    def forward(self, x):
        return torch.cat([b(x) for b in self.branches], 1)


class Residual(nn.Module):
    def __init__(self, c=64):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(c, c, 3, padding=1), nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return x + self.conv2(torch.relu(self.conv1(x)))


class Net(nn.Module):
    def __init__(self, block):
        super().__init__()
        self.stem = nn.Conv2d(3, 64, 3, padding=1)
        self.stages = nn.Sequential(block, nn.Sequential(nn.Conv2d(64, 64, 1), nn.ReLU()))

    def forward(self, x):
        return self.stages(self.stem(x))


def test_g3_four_parallel_branches_vs_one():
    rep = _lint(Net(Branches(k=4)), (1, 3, 32, 32))
    blocks = rep.blocks.set_index("block")
    assert blocks.loc["stages.0", "compute_branches"] == 4
    assert blocks.loc["stages.0", "fragments"] == 4
    assert blocks.loc["stages.0", "type"] == "Branches"
    g3 = rep.filter("G3")
    assert len(g3) == 1 and g3[0].severity == "high" and g3[0].where == "stages.0"
    # the plain Sequential of leaves inside the stage container is one block
    assert blocks.loc["stages.1", "fragments"] == 1
    one = _lint(Net(Branches(k=1)), (1, 3, 32, 32))
    assert one.blocks.set_index("block").loc["stages.0", "compute_branches"] == 1
    assert not one.filter("G3")
    three = _lint(Net(Branches(k=2)), (1, 3, 32, 32))
    assert [f.severity for f in three.filter("G3")] == ["info"]


def test_g3_residual_is_two_paths_one_with_compute():
    rep = _lint(Net(Residual()), (1, 3, 32, 32))
    row = rep.blocks.set_index("block").loc["stages.0"]
    assert (row["branches"], row["compute_branches"], row["fragments"]) == (2, 1, 2)
    assert row["serial_fragments"] == 2
    assert not rep.filter("G3")


class ManyElementwise(nn.Module):
    def __init__(self, c=32):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 1)

    def forward(self, x):
        y = self.conv(x)
        for _ in range(6):
            y = torch.relu(y + x)
        return y


def test_g4_many_relus_and_adds_flagged():
    rep = _lint(ManyElementwise(), (1, 32, 28, 28))
    model_level = [f for f in rep.filter("G4") if f.scope == "model"]
    assert len(model_level) == 1 and model_level[0].severity == "high"
    assert rep.summary["ew_mac_share"] > 0.8
    plain = nn.Sequential(nn.Conv2d(32, 32, 3, padding=1), nn.Conv2d(32, 32, 3, padding=1))
    assert not _lint(plain, (1, 32, 28, 28)).filter("G4")


def test_g4_time_share_with_profile():
    prof = RooflineProfile(threads=1, peak_gflops=50, depthwise_gflops=5, bandwidth_gbs=10,
                           overhead_us=5)
    rep = _lint(ManyElementwise(), (1, 32, 28, 28), profile=prof)
    assert 0 < rep.summary["ew_time_share"] < 1
    assert "ew_time_share" in rep.blocks
    assert "predicted time" in rep.filter("G4")[0].message


def test_thresholds_are_configurable():
    loose = Thresholds(g1_info=2.0, g1_warn=3.0, g1_high=4.0)
    assert not _lint(_pair(36, 432), (1, 36, HW, HW), thresholds=loose).filter("G1")


# ------------------------------------------------------------------ linter on the zoo
def test_zoo_shufflenet_v1_group_convs_violate_g2(zoo_model):
    g8 = _lint(zoo_model("shufflenet_v1_g8_x1_0"), (1, 3, 224, 224))
    assert g8.count("G2", "high") >= 20
    g3 = _lint(zoo_model("shufflenet_v1_g3_x1_0"), (1, 3, 224, 224))
    assert g3.count("G2", "warn") >= 20


def test_zoo_mobilenet_v2_inverted_bottleneck_violates_g1(zoo_model):
    rep = _lint(zoo_model("mobilenet_v2_x1_0"), (1, 3, 224, 224))
    g1 = rep.filter("G1", "warn")
    assert len(g1) >= 16  # expansion (1:6) and projection (6:1) of the 16 expanding blocks
    assert any(f.numbers["ratio"] == "1:6" for f in g1)
    assert any(f.numbers["ratio"] == "6:1" for f in g1)


def test_zoo_shufflenet_v2_is_clean_for_g1_g2(zoo_model):
    rep = _lint(zoo_model("shufflenet_v2_x1_0"), (1, 3, 224, 224))
    assert rep.count("G1", "warn") == 0 and rep.count("G2", "warn") == 0
    assert rep.count("G3", "warn") == 0
    assert len(rep.blocks) >= 16  # stem, 16 units, conv5, pool, fc


def test_zoo_googlenet_inception_is_fragmented():
    rep = _lint(costmodel.zoo.create("googlenet"), (1, 3, 224, 224))
    g3 = rep.filter("G3", "high")
    assert len(g3) == 9 and all(f.numbers["compute_branches"] == 4 for f in g3)


# ------------------------------------------------------------------ outputs and CLI
def test_outputs_table_markdown_json():
    rep = _lint(_pair(36, 432), (1, 36, HW, HW))
    assert "G1" in rep.to_table() and "high" in rep.to_table()
    md = rep.to_markdown()
    assert md.startswith("# Guideline lint") and "| G1 | high |" in md
    d = json.loads(rep.to_json())
    assert d["counts"]["G1"]["high"] == 2
    f = d["findings"][0]
    assert {"guideline", "severity", "where", "message", "numbers"} <= set(f)
    with pytest.raises(ValueError):
        rep.export("xml")


def test_cli_lint(capsys, tmp_path):
    assert cli.run(["lint", "shufflenet_v2_x0_5", "-f", "json", "--min-severity", "warn"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["model"] == "shufflenet_v2_x0_5" and d["counts"]["G1"]["warn"] == 0
    assert cli.run(["lint", "shufflenet_v1_g8_x1_0", "--fail-on", "high"]) == 1
    out = capsys.readouterr().out
    assert "G2" in out and "high" in out
    path = tmp_path / "lint.md"
    assert cli.run(["lint", "mobilenet_v2_x0_35", "-f", "md", "-o", str(path)]) == 0
    assert "| G1 | warn |" in path.read_text()
    assert cli.run(["lint", "no_such_model"]) == 2
    assert "unknown model" in capsys.readouterr().err


# ------------------------------------------------------------------ experiments
def test_plan_matches_paper_tables():
    quick = ex.plan(quick=True)
    assert [sum(v.table == t for v in quick) for t in ex.TABLES] == [4, 4, 5, 4]
    default = ex.plan()
    assert sum(v.table == "G1" for v in default) == 4 * 3 + 4  # ARM x1/x2/x4 + GPU x1
    g1 = {(v.column, v.label): v.channels for v in default if v.table == "G1"}
    assert g1[("ARM x1", "1:12")] == "(9,108)" and g1[("GPU x1", "1:6")] == "(52,312)"
    assert g1[("ARM x4", "1:1")] == "(128,128)"
    g2 = [v for v in default if v.table == "G2" and v.column == "ARM x1"]
    assert [v.channels for v in g2] == ["c=64", "c=90", "c=128", f"c={ex.G2_ARM_G8_X1}"]
    assert all(v.paper_arm and v.paper_gpu for v in default)
    assert len(ex.plan(full=True)) > len(default)


def test_compare_order_verdicts():
    paper = [100, 90, 80, 70]
    assert ex.compare_order(paper, [10, 9, 8, 7], [0.0] * 4)["verdict"] == "holds"
    c = ex.compare_order(paper, [10, 9, 7, 8], [0.0] * 4)
    assert c["verdict"] == "partly" and c["reversed"] == 1
    assert ex.compare_order(paper, [7, 8, 9, 10], [0.0] * 4)["verdict"] == "does not hold"
    # within noise is a tie, not a reversal
    assert ex.compare_order(paper, [10, 10.1, 8, 7], [0.05] * 4)["verdict"] == "holds"
    # everything within a large noise: no verdict either way
    assert ex.compare_order(paper, [10, 9.5, 9.4, 9.3], [0.2] * 4)["verdict"] == "inconclusive"
    assert ex.kendall_tau([1, 2, 3], [3, 2, 1]) == -1


def test_run_and_render_with_fake_timer(tmp_path):
    def fake_measure(model, shape, threads, min_time_s):
        rep = _analyze(model, shape)  # a "machine" that is purely memory bound
        ms = rep.total["mac"] / 1e6
        return {"median": ms, "p25": ms * 0.99, "p75": ms * 1.01, "min": ms, "max": ms,
                "runs": 5, "backend": "fake"}

    prof = RooflineProfile(threads=1, peak_gflops=100, depthwise_gflops=10, bandwidth_gbs=20,
                           overhead_us=2)
    res = ex.run("quick", threads=[1], profile=prof, measure_fn=fake_measure, rounds=1)
    assert len(res.rows) == 17 and res.backend == "fake"
    assert (res.rows["paper_mac"] == res.rows["mac"]).all()
    assert res.rows["pred_ms_1t"].gt(0).all()
    o = ex.orderings(res)
    g2 = o[(o["table"] == "G2") & (o["series"] == "measured 1T")]
    assert g2["verdict"].iloc[0] == "holds"  # MAC grows with g: a MAC-bound machine agrees
    # Table 1's rows differ in FLOPs by up to 6%: a per-FLOP ordering is checked as well
    assert (o[o["table"] == "G1"]["series"] == "measured 1T, per FLOP").any()
    assert not (o[o["table"] == "G4"]["series"] == "measured 1T, per FLOP").any()
    back = ex.ExperimentResult.from_dict(json.loads(json.dumps(res.to_dict())))
    from costmodel.guidelines import render
    text = render.render(back, str(tmp_path / "guidelines.md"), plots=True)
    assert "quick mode" in text and "Table 1" in text and "Table 4" in text
    assert (tmp_path / "guidelines_g1.png").stat().st_size > 1000
    assert "1480" in text and "76.2" in text  # the paper's figures side by side
    # the machine load line: measured CPU use of other processes, busy above 10% of a core
    assert set(back.extra["quiet"]) == {"wall_s", "other_cpu_pct", "steal_pct", "cores"}
    back.extra.update(loadavg_start=1.9, loadavg_end=1.8, cpu_count=2)  # a lagging load average
    back.extra["quiet"].update(other_cpu_pct=0.4, steal_pct=0.0)
    text = render.render(back, str(tmp_path / "guidelines.md"), plots=False)
    line = next(x for x in text.splitlines() if x.startswith("- Machine load"))
    assert "other processes used 0.4% of one core" in line and "busy" not in line
    back.extra["quiet"]["other_cpu_pct"] = 60.0
    text = render.render(back, str(tmp_path / "guidelines.md"), plots=False)
    assert "The machine was busy with other processes" in text
    del back.extra["quiet"]  # results saved before the CPU was measured: the load average
    text = render.render(back, str(tmp_path / "guidelines.md"), plots=False)
    assert "1-min load average) at start / end: 1.9 / 1.8" in text


def test_run_device_and_merge_on_cpu():
    dev = ex.run_device("cpu", tables=["G4"], rounds=1, min_time_s=0.0, min_runs=2, widths=[0])
    assert dev["device"] == "cpu" and len(dev["rows"]) == 4  # Table 4, c=32: 4 variants
    prof = RooflineProfile(threads=1, peak_gflops=100, depthwise_gflops=10, bandwidth_gbs=20,
                           overhead_us=2)
    fake = lambda m, s, th, mt: {"median": 1.0, "p25": 1.0, "p75": 1.0, "runs": 1}  # noqa: E731
    res = ex.run("quick", threads=[1], tables=["G4"], profile=prof, measure_fn=fake, rounds=1)
    merged = ex.merge_device(res, dev)
    assert len(merged.rows) == 4 and merged.rows["gpu_ms"].gt(0).all()
    # rows the CPU run did not have (the paper's GPU x2 configuration) are appended
    dev2 = {"device": "x", "batch": 1, "rows": [
        {"table": "G1", "column": "GPU x2", "variant": r["ratio"], "ms": 1.0 + i, "p25": 1.0 + i,
         "p75": 1.0 + i, "rounds_min": 1.0 + i, "rounds_max": 1.0 + i, "runs": 3}
        for i, r in enumerate(PAPER["G1"]["rows"])]}
    m2 = ex.merge_device(res, dev2)
    g1 = m2.rows[m2.rows["table"] == "G1"]
    assert list(g1["channels"]) == ["(256,256)", "(180,360)", "(104,624)", "(72,864)"]
    o2 = ex.orderings(m2)
    assert o2[o2["table"] == "G1"]["verdict"].iloc[0] == "holds"
    o = ex.orderings(merged)
    assert (o["series"] == "measured GPU").any()
    assert set(o[o["series"] == "measured GPU"]["reference"]) == {"GPU"}


def test_own_timer_clocks():
    from costmodel.guidelines import timing
    net = nn.Sequential(nn.Conv2d(8, 8, 1))
    for clock in ("wall", "cpu"):
        t = timing.time_model(net, (1, 8, 8, 8), threads=1, min_time_s=0.0, min_runs=3,
                              clock=clock)
        assert t["runs"] >= 3 and 0 < t["min"] <= t["median"] <= t["max"]
    with pytest.raises(ValueError):
        timing.time_model(net, (1, 8, 8, 8), threads=2, clock="cpu")


def test_cli_guidelines_user_errors(capsys, tmp_path):
    assert cli.run(["guidelines", "run", "--tables", "G9", "--out", str(tmp_path / "g.md")]) == 2
    assert "unknown table" in capsys.readouterr().err
    assert cli.run(["guidelines", "run", "--clock", "cpu", "--threads", "1", "2",
                    "--out", str(tmp_path / "g.md")]) == 2
    assert cli.run(["guidelines", "render", str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert not (tmp_path / "g.md").exists()


def test_every_planned_network_builds_from_its_name():
    from costmodel.latency.named import resolve_model
    for v in ex.plan(full=True):
        net, shape = resolve_model(v.net)  # how a fresh process builds it
        built = v.build()
        assert tuple(shape) == tuple(v.input_shape), v.net
        assert [p.shape for p in net.parameters()] == [p.shape for p in built.parameters()], v.net
        assert str(net) == str(built), v.net
    assert bm.net_name("G4", 64, True, False) == "guidelines:G4:64:1:0"
    for bad in ("guidelines:G1:8", "guidelines:G5:8:8", "guidelines:G2:x:2", "guidelines:G4:64:2:0",
                "guidelines:G3:3-fragment-series:64", "nonsense"):
        with pytest.raises(KeyError, match="guideline network name"):
            bm.build_named(bad)


def _committed_profile():
    import os
    from costmodel.latency.profile import DeviceProfile
    return DeviceProfile.load(os.path.join(os.path.dirname(__file__), "..", "reports", "latency",
                                           "profile.json"))


def test_interleaved_run_corrects_each_round_with_the_reference(monkeypatch, tmp_path):
    """A machine that runs every other request 2x slower: the reference moves with it, so the
    corrected time is the same in every round and equals the machine's time at calibration."""
    from costmodel.latency import fresh
    from costmodel.latency.named import resolve_model
    prof = _committed_profile()
    cal = prof.threads[1]["reference"]["ms"]
    calls = []

    def fake(name, threads, reference, **kw):
        assert reference == "families:reference" and threads == 1 and kw["min_time_s"] == 0.4
        net, shape = resolve_model(name)
        true_ms = _analyze(net, shape).total["mac"] / 1e6  # a memory-bound "machine"
        slow = 2.0 if len(calls) % 2 else 1.0
        calls.append(name)
        return {"median": true_ms * slow, "p25": true_ms * slow * 0.9, "p75": true_ms * slow * 1.1,
                "min": true_ms * slow * 0.8, "max": true_ms * slow * 1.2, "runs": 7,
                "reference_ms": cal * slow, "ratio": true_ms / cal, "ratio_spread_pct": 1.5}

    monkeypatch.setattr(fresh, "time_interleaved_named", fake)
    res = ex.run("quick", threads=[1], tables=["G2"], profile=prof, rounds=2, min_time_s=0.4)
    assert res.extra["interleaved"] is True and len(calls) == 2 * len(res.rows)
    for r, v in zip(res.rows.itertuples(), ex.plan(quick=True, tables=["G2"])):
        true_ms = r.mac / 1e6
        assert r.ms_1t == pytest.approx(true_ms) and r.p25_1t == pytest.approx(0.9 * true_ms)
        assert r.rounds_min_1t == pytest.approx(r.rounds_max_1t)  # both rounds agree after it
        assert r.raw_ms_1t == pytest.approx(1.5 * true_ms)  # median of 1x and 2x
        assert r.drift_1t == pytest.approx(1.5) and r.ratio_spread_pct_1t == 1.5
        assert r.runs_1t == 14
    from costmodel.guidelines import render
    text = render.render(res, str(tmp_path / "g.md"), plots=False)
    assert "alternating run by run with the latency profile's drift reference" in text
    assert "1T 1.50-1.50 (median 1.50)" in text
    # no interleaving where it cannot be corrected, or where the caller measures
    fake_measure = lambda m, s, th, mt: {"median": 1.0, "p25": 1.0, "p75": 1.0, "runs": 1}  # noqa
    rp = RooflineProfile(threads=1, peak_gflops=100, depthwise_gflops=10, bandwidth_gbs=20,
                         overhead_us=2)
    with pytest.raises(ValueError, match="drift reference"):
        ex.run("quick", threads=[1], tables=["G2"], profile=rp, interleave=True)
    with pytest.raises(ValueError, match="measure_fn"):
        ex.run("quick", threads=[1], tables=["G2"], profile=prof, measure_fn=fake_measure,
               interleave=True)
    again = ex.run("quick", threads=[1], tables=["G2"], profile=prof, measure_fn=fake_measure,
                   rounds=1)
    assert again.extra["interleaved"] is False and "drift_1t" not in again.rows
