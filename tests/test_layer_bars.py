"""Per-layer share bars (costmodel.plots.layer_bars): one SVG row per costed layer, bars of its
madds / MAC (/ predicted time) share."""
import xml.etree.ElementTree as ET

import numpy as np

from costmodel.plots import layer_bars
from costmodel.zoo.table import zoo_report

from conftest import SVG_NS


def _layer_groups(svg):
    root = ET.fromstring(svg)
    return [g for g in root.iter(SVG_NS + "g") if "cm-layer" in g.get("class", "")]


def test_layer_bars_svg():
    rep = zoo_report("shufflenet_v2_x0_5")
    svg = layer_bars.layer_bars_svg(rep.layers)
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
    layers = zoo_report("squeezenet1_1").layers.copy()
    layers["pred_ms"] = np.where(layers["madds"] > 0, 0.5, 0.1)
    section = layer_bars.layer_bars_section(layers)  # auto-detects pred_ms
    assert 'id="layer-bars"' in section and "predicted time share" in section
    groups = _layer_groups(section[section.index("<svg"):])
    assert all(len([r for r in g.iter(SVG_NS + "rect") if r.get("height") == "10"]) == 3
               for g in groups)
