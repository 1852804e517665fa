"""The zoo summary table (costmodel.zoo.table): costmodel's counts beside the published figures."""
import numpy as np
import pytest

from costmodel.zoo import table


def test_zoo_table_and_markdown():
    names = ["shufflenet_v1_g1_x1_0", "mobilenet_v2_x1_0", "shiftnet_c"]
    t = table.zoo_table(names)
    assert list(t["name"]) == names
    for col in ["family", "resolution", "params", "madds", "madds_conv_linear", "mac",
                "pub_params_m", "pub_madds_m", "top1", "params_gap_pct", "madds_gap_pct", "source"]:
        assert col in t.columns
    r = t.set_index("name").loc["mobilenet_v2_x1_0"]
    rep = table.zoo_report("mobilenet_v2_x1_0")
    conv_fc = rep.layers.loc[rep.layers["kind"].str.endswith("conv") | (rep.layers["kind"] == "linear"),
                             "madds"].sum()
    assert r["madds_conv_linear"] == conv_fc < r["madds"]
    assert r["params_gap_pct"] == pytest.approx(100 * (rep.total["params"] / 1e6 - 3.4) / 3.4)
    assert r["madds_gap_pct"] == pytest.approx(100 * (conv_fc / 1e6 - 300) / 300)
    assert np.isnan(t.set_index("name").loc["shufflenet_v1_g1_x1_0", "params_gap_pct"])
    md = table.zoo_table_markdown(t).strip().splitlines()
    assert len(md) == 2 + len(names)
    assert md[0].startswith("| model | family | res | params (M)")
    v1 = next(line for line in md if "shufflenet_v1_g1_x1_0" in line)
    assert "| - |" in v1  # no published params
    assert "`mobilenet_v2_x1_0`" in md[3] and "72" in md[3]

