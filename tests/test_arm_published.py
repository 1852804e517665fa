"""costmodel.arm.published (data, comparison, rendering, figure) / spec_profiles: the published-figures file carries its sources, the
ranking metrics behave on toy data, and the spec-based profiles are valid latency profiles."""
import copy
import json
import math
import os

import numpy as np
import pytest
import torch.nn as nn

from costmodel import cli
from costmodel.arm.published import comparison, data, figure, rendering
from costmodel.arm import spec_profiles as sp
from costmodel.latency import DeviceProfile, predict_latency


# ------------------------------------------------------------------------------------ data file
def test_data_file_validates_and_every_figure_has_a_source():
    doc = data.load()
    df = data.figures(doc)
    assert len(df) > 80
    for col in ("citation", "table", "device", "device_text", "engine", "unit", "model"):
        assert df[col].map(lambda v: isinstance(v, str) and v.strip() != "").all(), col
    assert df["citation"].str.contains("arXiv:").all()
    # one thread, or no thread count where the source gives none (and the table says so)
    doc_t = doc["tables"]
    assert ((df["threads"] == 1) | df["threads"].isna()).all()
    for tid in set(df.loc[df["threads"].isna(), "set"]):
        assert doc_t[tid]["threads_note"].strip()
    assert (df["input_h"] > 0).all() and (df["input_w"] > 0).all()
    assert set(df["device"]) <= set(sp.DEVICES)
    # unmapped figures say why; mapped zoo names exist
    from costmodel.zoo import registry
    names = set(registry.names())
    has_value = df["value"].notna()
    assert (df.loc[has_value & df["zoo"].isna(), "note"].str.len() > 0).all()
    assert set(df["zoo"].dropna()) <= names
    for p in doc["papers"].values():
        assert p["setup"] and p["read_from"]


def test_data_file_known_figures_and_units():
    df = data.figures()
    def row(s, z, h=224):
        return df[(df["set"] == s) & (df["zoo"] == z) & (df["input_h"] == h)].iloc[0]
    r = row("snv1_table8", "alexnet")
    assert r["value"] == 184.0 and r["unit"] == "ms" and r["ms"] == 184.0
    assert row("snv1_table8", "shufflenet_v1_g3_x0_5", 720)["value"] == 260.1
    assert row("mnv2_table4", "mobilenet_v2_x1_0")["value"] == 75.0
    r = row("snv2_table8", "shufflenet_v2_x1_0")
    assert r["value"] == 24.4 and r["unit"] == "images/s"
    assert r["ms"] == pytest.approx(1000 / 24.4)
    assert r["device"] == "snapdragon_810"
    assert row("snv1_table8", "alexnet")["device"] == "snapdragon_820"
    assert row("mnv2_table4", "mobilenet_v1_x1_0")["device"] == "pixel_1"
    # MobileNetV3 (arXiv:1905.02244) Table 3, final version: V3-Large 1.0 at 51 / 61 / 44 ms and
    # V3-Small 0.75 at 12.8 / 15.6 / 11.7 ms on Pixel 1 / 2 / 3
    for s, dev, large, small in (("mnv3_table3_p1", "pixel_1", 51, 12.8),
                                 ("mnv3_table3_p2", "pixel_2", 61, 15.6),
                                 ("mnv3_table3_p3", "pixel_3", 44, 11.7)):
        assert row(s, "mobilenet_v3_large")["value"] == large
        assert row(s, "mobilenet_v3_small_x0_75")["value"] == small
        assert row(s, "mobilenet_v3_small_x0_75")["device"] == dev
    # the guideline tables are read from paper_tables.json, not duplicated
    assert "guideline_tables" in data.load() and "G1" not in data.load()["tables"]


def test_threads_may_be_null_only_with_a_note():
    doc = copy.deepcopy(data.load())
    t = doc["tables"]["fbnet_s8_fp32"]
    del t["threads_note"]
    with pytest.raises(data.PublishedDataError, match="threads_note"):
        data.validate(doc)
    t["threads"] = 0
    with pytest.raises(data.PublishedDataError, match="positive integer"):
        data.validate(doc)
    t["threads"] = True
    with pytest.raises(data.PublishedDataError, match="positive integer"):
        data.validate(doc)


def test_nas_tables_known_figures_and_int8_rows_never_evaluated():
    """ProxylessNAS (authors' README / Hub page, Pixel 1) and FBNet (authors' README, S8):
    figures as transcribed; int8 tables map no row to a zoo model, so the fp32 emulation
    counts never meet an int8 time."""
    doc = data.load()
    df = data.figures(doc)
    def ms(s, z):
        return float(df[(df["set"] == s) & (df["zoo"] == z)].iloc[0]["ms"])
    assert ms("proxyless_pixel1", "proxylessnas_mobile") == 78
    assert ms("proxyless_pixel1", "proxylessnas_gpu") == 124
    assert ms("proxyless_pixel1", "proxylessnas_cpu") == 116
    assert ms("fbnet_s8_fp32", "fbnet_b") == 167.7
    assert set(df.loc[df["set"] == "fbnet_s8_fp32", "device"]) == {"samsung_s8"}
    int8 = [tid for tid, t in doc["tables"].items() if t.get("precision") == "int8"]
    assert {"fbnet_s8_int8", "fbnet_abstract_s8"} <= set(int8)
    for tid in int8:
        rows = doc["tables"][tid]["rows"]
        assert all(r["zoo"] is None and r["note"] for r in rows), tid
    # the same network's int8 time is far below its fp32 time (not a transcription mix-up)
    fp32 = {r["model"]: r["value"] for r in doc["tables"]["fbnet_s8_fp32"]["rows"]}
    for r in doc["tables"]["fbnet_s8_int8"]["rows"]:
        assert r["value"] < fp32[r["model"]] / 3, r["model"]


def test_guideline_figures_come_from_paper_tables():
    g, builders = data.guideline_figures()
    assert set(g["guideline"]) == {"G1", "G2", "G3", "G4"}
    first = g[(g["guideline"] == "G1") & (g["group"] == "G1 ARM x1")].iloc[0]
    assert first["value"] == 76.2 and first["unit"] == "images/s"
    assert set(g["builder"]) == set(builders)


@pytest.mark.parametrize("mutate, msg", [
    (lambda d: d["papers"]["mobilenet_v2"].pop("citation"), "citation"),
    (lambda d: d["papers"]["mobilenet_v2"].update(citation="no id"), "arXiv"),
    (lambda d: d["tables"]["mnv2_table4"].pop("device"), "device"),
    (lambda d: d["tables"]["mnv2_table4"].update(device="nokia"), "device"),
    (lambda d: d["tables"]["mnv2_table4"].update(unit="fps"), "unit"),
    (lambda d: d["tables"]["mnv2_table4"]["rows"][0].update(value=-1), "value"),
    (lambda d: d["tables"]["mnv2_table4"]["rows"][3].update(note=""), "note"),
    (lambda d: d["tables"]["mnv2_table4"].update(input=None), "input"),
    (lambda d: d.update(format="x"), "format"),
])
def test_validate_rejects_sourceless_or_malformed(mutate, msg):
    doc = copy.deepcopy(data.load())
    mutate(doc)
    with pytest.raises(data.PublishedDataError):
        data.validate(doc)


# ------------------------------------------------------------------------------------ metrics
def test_kendall_tau_b_and_pairwise_accuracy_toy():
    assert comparison.kendall_tau_b([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert comparison.kendall_tau_b([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # one discordant pair out of 6
    assert comparison.kendall_tau_b([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)
    # a predictor that ties everything: tau undefined, accuracy one half
    assert math.isnan(comparison.kendall_tau_b([1, 2, 3], [5, 5, 5]))
    acc, n, ties = comparison.pairwise_accuracy([1, 2, 3], [5, 5, 5])
    assert (acc, n, ties) == (0.5, 3, 3)
    acc, n, ties = comparison.pairwise_accuracy([1, 2, 3, 4], [1, 3, 2, 4])
    assert acc == pytest.approx(5 / 6) and n == 6 and ties == 0
    # published ties are not judged; a 2% tolerance ties close values
    acc, n, _ = comparison.pairwise_accuracy([1.0, 1.01, 2.0], [2.0, 1.0, 3.0], rel_tie=0.02)
    assert n == 2 and acc == 1.0


def test_metrics_pair_only_within_groups():
    pub = [1, 2, 10, 20]
    pred = [2, 1, 10, 20]   # wrong inside group a, right inside group b
    groups = ["a", "a", "b", "b"]
    acc, n, _ = comparison.pairwise_accuracy(pub, pred, groups)
    assert n == 2 and acc == 0.5
    assert comparison.kendall_tau_b(pub, pred, groups) == pytest.approx(0.0)
    acc_all, n_all, _ = comparison.pairwise_accuracy(pub, pred)
    assert n_all == 6 and acc_all == pytest.approx(5 / 6)


def test_ratio_errors_scale_fit_and_mape_toy():
    pub = np.array([10.0, 20.0, 40.0])
    assert np.allclose(comparison.pair_ratio_errors(pub, pub * 3.0), 0.0)
    err = comparison.pair_ratio_errors([10, 20], [10, 30])  # predicted ratio 3 vs published 2
    assert err == pytest.approx([0.5])
    assert comparison.scale_fit(pub, pub / 4) == pytest.approx(4.0)
    assert comparison.mape(pub, pub) == 0.0
    m = comparison.metrics(pub, pub / 2)
    assert m["tau_b"] == pytest.approx(1.0) and m["pair_acc"] == 1.0
    assert m["mape"] == pytest.approx(0.0) and m["scale"] == pytest.approx(2.0)
    assert m["frac_of_spec"] == pytest.approx(0.5) and m["ratio_err_med"] == pytest.approx(0.0)
    m = comparison.metrics([10, 20, 30], [10, 20, 60])
    assert m["mape"] > 0 and m["ratio_err_max"] > 0


# ------------------------------------------------------------------------------- spec profiles
class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 16, 3, 2, 1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.dw = nn.Conv2d(16, 16, 3, 1, 1, groups=16, bias=False)
        self.pw = nn.Conv2d(16, 32, 1, bias=False)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = self.bn(self.c1(x)).relu()
        x = self.pw(self.dw(x)).relu()
        return self.fc(self.pool(x).flatten(1))


@pytest.mark.parametrize("device", list(sp.DEVICES))
@pytest.mark.parametrize("variant", sp.VARIANTS)
def test_spec_profile_is_a_device_profile_and_totals_are_layer_sums(device, variant, tmp_path):
    prof = sp.spec_profile(device, variant)
    assert isinstance(prof, DeviceProfile) and prof.thread_counts == [1]
    path = tmp_path / "p.json"
    prof.save(path)
    again = DeviceProfile.load(path)  # round-trips through the profile file format
    p = predict_latency(Tiny(), (1, 3, 64, 64), profile=again)
    assert p.total_ms > 0
    assert p.total_ms == pytest.approx(float(p.layers["pred_ms"].sum()) + p.network_const_ms)
    assert p.network_const_ms == 0.0
    assert (p.layers["pred_ms"] >= 0).all()
    assert (p.layers.loc[p.layers["kind"] == "norm", "pred_ms"] == 0).all()  # BN folded
    assert p.baselines["flops_ms"] > 0


def test_spec_profile_numbers_follow_the_specs():
    d = sp.profile_dict("snapdragon_810", "roofline")
    m = d["threads"]["1"]["ops"]["default"]
    assert m["peak_madds_per_ms"] == pytest.approx(4 * 1.958e9 / 1e3)
    assert m["bandwidth_bytes_per_ms"] == pytest.approx(24.8e9 / 1e3)
    for dev, dd in sp.DEVICES.items():
        for k in ("clock_ghz", "madds_per_cycle", "dram_gbps"):
            assert dd["sources"].get(k), (dev, k)
    # emu: the reference kind runs at the NEON peak, depthwise slower, linear much slower
    ops = sp.profile_dict("snapdragon_820", "emu")["threads"]["1"]["ops"]
    peak = 4 * 2.15e9 / 1e3
    assert ops["pointwise_conv"]["peak_madds_per_ms"] == pytest.approx(peak, rel=1e-6)
    assert ops["depthwise_conv"]["peak_madds_per_ms"] < 0.3 * peak
    assert ops["linear"]["peak_madds_per_ms"] < 0.15 * peak
    assert ops["pointwise_conv"]["overhead_ms"] == 0.0
    call = sp.profile_dict("snapdragon_820", "emu_call")["threads"]["1"]["ops"]
    assert call["depthwise_conv"]["overhead_ms"] > call["pointwise_conv"]["overhead_ms"] > 0


def test_spec_profile_variants_order_a_depthwise_net():
    tot = {v: predict_latency(Tiny(), (1, 3, 64, 64),
                              profile=sp.spec_profile("pixel_1", v)).total_ms for v in sp.VARIANTS}
    assert tot["roofline"] < tot["emu"] < tot["emu_call"]


def test_spec_profile_rejects_unknown_device_and_variant():
    with pytest.raises(KeyError):
        sp.spec_profile("snapdragon_999")
    with pytest.raises(ValueError):
        sp.spec_profile("pixel_1", "magic")


@pytest.mark.skipif(not all(os.path.isfile(p) for p in sp.EMULATION_FILES),
                    reason="emulated timing files not in this checkout")
def test_embedded_emulation_fits_match_the_timing_files():
    """The fits come from every committed emulated zoo file merged (48 models), not one file."""
    assert all(os.path.basename(p) in sp.EMULATION_SOURCE for p in sp.EMULATION_FILES)
    fits = sp.derive_emulation_fits()
    assert set(fits) == set(sp.EMULATION_FITS)
    for k, f in fits.items():
        e = sp.EMULATION_FITS[k]
        assert f["per"] == e["per"] and f["layers"] == e["layers"]
        assert f["per_unit"] == pytest.approx(e["per_unit"], rel=2e-3, abs=1e-3)
        assert f["fixed"] == pytest.approx(e["fixed"], rel=1e-3, abs=1.0)


# --------------------------------------------------------------------------- comparison, CLI
def test_compare_on_one_small_table(tmp_path):
    doc = copy.deepcopy(data.load())
    doc["tables"] = {"mnv2_table4": doc["tables"]["mnv2_table4"]}
    cmp = comparison.compare(doc, guidelines=False)
    assert [cs.key for cs in cmp.sets] == ["mnv2_table4"]
    s = cmp.summary.set_index("predictor")
    assert set(s.index) == set(comparison.PREDICTORS)
    assert (s["n"] == 3).all() and (s["pairs"] == 3).all()
    assert (s["mape"] >= 0).all() and (s["frac_of_spec"] > 0).all()
    f = cmp.frame[cmp.frame["pred_flops"].notna()]
    assert len(f) == 3 and (f[[f"pred_{p}" for p in comparison.PREDICTORS]] > 0).all().all()
    text = rendering.render_markdown(cmp, "x.png", shares=False)
    assert "MobileNetV2 Table 4" in text and "arXiv:1801.04381" in text
    png = tmp_path / "p.png"
    figure.plot(cmp, str(png))
    assert png.stat().st_size > 1000
    js = rendering.to_json(cmp)
    assert len(js["figures"]) == 3 and json.dumps(js)


def test_cli_spec_profile(tmp_path, capsys):
    assert cli.run(["arm", "spec-profile", "--list"]) == 0
    assert "snapdragon_810" in capsys.readouterr().out
    out = tmp_path / "sd820.json"
    assert cli.run(["arm", "spec-profile", "snapdragon_820", "--variant", "roofline",
                    "--out", str(out)]) == 0
    assert DeviceProfile.load(out).machine["device"] == "snapdragon_820"
    assert cli.run(["arm", "spec-profile"]) == 2
    assert cli.run(["predict", "mobilenet_v2_x0_35", "-i", "1x3x96x96", "--profile", str(out)]) == 0


# --------------------------------------------------------------- what the report claims (issue 14)
def _toy_comparison(flops_mape, emu_call_mape, published_ratio, emu_ratio):
    from types import SimpleNamespace

    import pandas as pd
    summary = pd.DataFrame([
        {"set": "t8", "predictor": p, "mape": m, "ratio_err_med": 10.0}
        for p, m in (("flops", flops_mape), ("roofline", flops_mape), ("emu", flops_mape - 1),
                     ("emu_call", emu_call_mape))])
    claims = pd.DataFrame([{"claim": "x", "slower": "a_net", "faster": "b_net",
                            "published": published_ratio, "madds": 1.0, "flops": 1.0,
                            "roofline": 1.0, "emu": emu_ratio, "emu_call": emu_ratio}])
    return SimpleNamespace(summary=summary, claims=claims,
                           sets=[SimpleNamespace(key="t8", title="Table 8")])


def test_findings_say_where_the_emulated_rates_do_worse_and_what_they_reverse():
    worse = rendering._worse_than_flops(_toy_comparison(19.0, 21.7, 1.57, 0.63))
    assert worse[0].startswith("* **Not better than FLOPs-only everywhere**")
    assert "Table 8: emu+call MAPE 21.7% vs FLOPs 19.0%" in worse[0] and "emu MAPE" not in worse[0]
    assert "a_net / b_net (published 1.57; emu 0.63, emu+call 0.63)" in \
        rendering._reversed_claims(_toy_comparison(19.0, 21.7, 1.57, 0.63))[0]
    # better everywhere, order kept: said so, nothing reversed
    assert "at least as well" in rendering._worse_than_flops(_toy_comparison(19.0, 18.0, 1.5, 1.4))[0]
    assert rendering._reversed_claims(_toy_comparison(19.0, 18.0, 1.5, 1.4)) == []


def test_committed_published_report_names_its_emulation_files_and_what_fails():
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "reports", "arm", "published.md")
    if not os.path.isfile(path):
        pytest.skip("no committed report")
    text = open(path).read()
    # the rates come from all three emulated zoo files, not the 19-model one alone
    assert all(f"`reports/arm/{os.path.basename(p)}`" in text for p in sp.EMULATION_FILES)
    assert "all 48 zoo models" in text
    assert "**Not better than FLOPs-only everywhere**" in text
    # ShuffleNetV2 Table 8's 40M pair: 0.25 MobileNet v1 at 36.4 images/s, ShuffleNet v2 0.5x at
    # 57.0 (arXiv:1807.11164 Table 8): published time ratio 1.57
    rev = next(ln for ln in text.splitlines() if ln.startswith("* **Reversed**"))
    assert f"mobilenet_v1_x0_25 / shufflenet_v2_x0_5 (published {57.0 / 36.4:.2f};" in rev
