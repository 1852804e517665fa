"""Benchmark scripts under benchmarks/: their arithmetic, with the timing faked."""
import importlib.util
import os

import numpy as np
import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..")


def _load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "benchmarks", name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_op_kind_errors_scales_ops_to_the_corrected_end_to_end(monkeypatch, tmp_path):
    from costmodel.latency import fresh
    from costmodel.latency.features import op_table
    from costmodel.latency.named import resolve_model
    from costmodel.latency.profile import DeviceProfile
    ok = _load("op_kind_errors")
    prof = DeviceProfile.load(os.path.join(ROOT, "reports", "latency", "profile.json"))
    cal = prof.threads[1]["reference"]["ms"]
    name = "shufflenet_v2_x0_5"
    model, shape = resolve_model(name)
    table, _ = op_table(model, shape)
    iso = prof.predict_isolated(table, 1)
    truth = 2.0 * iso  # a machine on which every op takes twice the prediction at calibration speed

    # now the machine runs 1.5x slower than at calibration; the timed child 1.2x slower again
    e2e = 1.5 * (truth.sum() + 0.3)
    monkeypatch.setattr(fresh, "time_interleaved_named", lambda n, t, ref, **kw: {
        "median": e2e, "p25": e2e, "p75": e2e, "min": e2e, "max": e2e, "runs": 6,
        "reference_ms": 1.5 * cal, "ratio": e2e / (1.5 * cal), "ratio_spread_pct": 0.0})
    monkeypatch.setattr(fresh, "time_ops_named", lambda n, t, n_ops, ov, s: {
        "op_ms": list(1.8 * truth), "e2e_ms": 1.8 * (truth.sum() + 0.3)})
    df = ok.measure(name, 1, prof, e2e_time_s=0.1, op_time_s=0.1)
    assert df.attrs["drift"] == pytest.approx(1.5)
    assert df.attrs["e2e_ms"] == pytest.approx(truth.sum() + 0.3)
    assert np.allclose(df["measured_ms"], truth) and df.attrs["glue_ms"] == pytest.approx(0.3)
    assert np.allclose(df["pred_ms"], iso)
    ops, nets = ok.run([name], [1], prof, progress=False)
    keys = ok.by_key(ops, nets)
    assert np.allclose(keys["pred_over_measured"], 0.5)
    assert keys["share_of_e2e_pct"].sum() == pytest.approx(100 * truth.sum() / (truth.sum() + 0.3))
    assert keys["error_share_pct"].sum() == pytest.approx(-50 * truth.sum() / (truth.sum() + 0.3))
    text = ok.render(ops, nets, {"command": "c", "date": "d", "wall_s": 1.0, "machine": "m",
                                 "quiet": "q."})
    assert "| shufflenet_v2_x0_5 |" in text and "predicted / measured" in text


def test_timing_noise_statistics_on_a_synthetic_trace():
    """A machine that runs 2x slower every other 2 s: the plain median of short windows
    disagrees between windows, the model / reference ratio never does."""
    tn = _load("timing_noise")
    t = np.arange(0.0, 24.0, 0.01)  # one model run every 10 ms for 24 s
    slow = np.where((t // 2.0) % 2 == 0, 1.0, 2.0)
    tr = {"t": t, "ms": 3.0 * slow, "ref_t": t + 0.005, "ref_ms": 5.0 * slow}
    rng = np.random.default_rng(0)
    vals = tn.window_values(tr, 0.5, rng)
    assert set(vals) == set(tn.COLUMNS) and len(vals["ratio"]) == tn.STARTS
    assert np.allclose(vals["ratio"], 0.6)
    ratio = tn.agreement(vals["ratio"], rng)
    assert ratio["agree10"] == 100.0 and ratio["cv"] == pytest.approx(0.0, abs=1e-9)
    median = tn.agreement(vals["median"], rng)
    assert 30.0 < median["agree10"] < 70.0  # about half the pairs fall in different halves
    assert np.allclose(tn.two_second_medians(tr), np.tile([3.0, 6.0], 6))
    assert tn.window_values(tr, 30.0, rng)["median"].size == 0  # a window longer than the trace
    assert np.isnan(tn.agreement(np.array([1.0]), rng)["agree10"])
