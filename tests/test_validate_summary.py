"""`costmodel validate`'s summary: one line per set (zoo, held-out in-space, ...), never a share
over zoo and held-out networks together (issue 14)."""
import pandas as pd

from costmodel.latency.validate import doc_summary


def _models():
    rows = []
    # zoo: one of two predictions 20% off -> 50% within +-10%
    for name, pred in (("mobilenet_v2_x1_0", 10.0), ("resnet50", 12.0)):
        rows.append({"name": name, "group": "zoo", "threads": 1, "measured_ms": 10.0,
                     "pred_ms": pred, "flops_ms": 10.0, "flops_mac_ms": 10.0})
    # held-out in-space: all six exact -> 100%; together the sets would give 7 of 8 = 88%
    for i in range(6):
        rows.append({"name": f"space:validation:{i}", "group": "sampled", "threads": 1,
                     "measured_ms": 5.0, "pred_ms": 5.0, "flops_ms": 5.0, "flops_mac_ms": 5.0})
    return pd.DataFrame(rows)


def test_validate_summary_prints_one_line_per_set():
    text = doc_summary(_models())
    lines = [ln for ln in text.splitlines() if "costmodel" in ln and "within +-10%" in ln]
    assert len(lines) == 2
    zoo, held = lines
    assert zoo.startswith("zoo models,") and "n 2," in zoo and "within +-10% 50%" in zoo
    assert held.startswith("held-out in-space networks,") and "n 6," in held
    assert "within +-10% 100%" in held
    assert "88%" not in text  # the mixed share of issue 14 is not printed
    assert "reports/latency/README.md" in text and "Latency section" in text
