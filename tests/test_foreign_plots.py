"""The foreign validation report's plots (costmodel.latency.foreign.scatter and error_plot) on a
synthetic table with the columns :func:`costmodel.latency.foreign.evaluate` returns: every point
inside the axes (baselines included, 1 ms .. 1 s on log axes), one colour per set, the outliers
labelled."""
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.patches import Rectangle

from costmodel.latency import drift as drift_mod, foreign
from costmodel.latency.foreign import row_drift_factor as foreign_row_factor
from costmodel.plots.styles import set_color

from conftest import assert_png


def synthetic_models(seed=0):
    """Rows like evaluate()'s: 3 sets x 2 thread counts, measured 1 ms .. 1 s, a few outliers,
    and a FLOPs-proportional baseline far off at both ends (as vgg16's 904 ms was)."""
    rng = np.random.default_rng(seed)
    rows = []
    for st, n in (("foreign", 30), ("zoo", 12), ("in-space", 10)):
        for i in range(n):
            ms = float(10 ** rng.uniform(0, 3))
            for t in (1, 2):
                m = ms / t ** 0.8
                err = rng.normal(0, 4)
                if i % 9 == 4:
                    err = 25.0 if t == 1 else -30.0  # outliers
                pred = m * (1 + err / 100)
                rows.append({"name": f"timm:{st}_net_{i}" if st == "foreign" else
                             f"families:validation:{i}" if st == "in-space" else f"zoo_{i}",
                             "set": st, "family": f"fam{i % 4}", "threads": t, "measured_ms": m,
                             "pred_ms": pred / 1.02, "pred_corrected_ms": pred,
                             "flops_ms": m * 3.0, "flops_mac_ms": m * 1.3,
                             "flops_corrected_ms": m * (3.0 if i % 2 else 0.2),
                             "flops_mac_corrected_ms": m * 1.3, "madds": 1e9, "mac": 1e7,
                             "layout_spread_pct": 1.0, "repeat_spread_pct": 1.0,
                             "predict_s": 0.01})
    df = pd.DataFrame(rows)
    df["error_pct"] = 100 * (df["pred_ms"] / df["measured_ms"] - 1)
    df["error_corrected_pct"] = 100 * (df["pred_corrected_ms"] / df["measured_ms"] - 1)
    return df


@pytest.fixture(scope="module")
def models():
    return synthetic_models()


def test_scatter_covers_every_point_and_colours_sets_apart(models, tmp_path):
    path = tmp_path / "scatter.png"
    fig = foreign.scatter(models, str(path))
    assert_png(path)
    axes = fig.axes[:2]
    for ax, t in zip(axes, (1, 2)):
        g = models[models["threads"] == t]
        values = pd.concat([g["measured_ms"], g["pred_corrected_ms"], g["flops_corrected_ms"],
                            g["flops_mac_corrected_ms"]])
        lo, hi = ax.get_xlim()
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
        assert lo < values.min() and values.max() < hi  # nothing clipped at either end
        assert ax.get_ylim() == (lo, hi)
        # costmodel's points: one face colour per set
        faces = {}
        for coll in ax.collections:
            fc = coll.get_facecolors()
            if len(fc) and fc[0][3] > 0 and len(coll.get_offsets()):
                faces.setdefault(to_hex(fc[0][:3]), 0)
        assert {set_color(s) for s in ("foreign", "zoo", "in-space")} <= set(faces)
        # every model beyond +-10% is labelled with its error
        err = 100 * (g["pred_corrected_ms"] / g["measured_ms"] - 1)
        texts = [a.get_text() for a in ax.texts]
        for name, e in zip(g["name"], err):
            if abs(e) > 10:
                assert any(tx.startswith(name.split(":", 1)[-1] + " (") for tx in texts), name
        assert len(texts) == int((err.abs() > 10).sum())


def test_error_plot_shows_every_model_of_every_set(models, tmp_path):
    path = tmp_path / "errors.png"
    fig = foreign.error_plot(models, str(path))
    assert_png(path)
    for ax, t in zip(fig.axes, (1, 2)):
        g = models[models["threads"] == t]
        labels = [tl.get_text() for tl in ax.get_xticklabels()]
        assert len(labels) == len(g)
        lo, hi = ax.get_ylim()
        assert lo < g["error_corrected_pct"].min() and g["error_corrected_pct"].max() < hi
        bars = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_width() < 1]
        colours = {to_hex(p.get_facecolor()[:3]) for p in bars}
        assert colours == {set_color(s) for s in ("foreign", "zoo", "in-space")}


def test_retest_measures_every_nth_entry_again_and_counts_agreement(monkeypatch):
    """retest() times every n-th entry a second time (a fake timer stands in for the fresh
    process) and retest_stats() counts the pairs whose two times agree, by hand: 4 pairs at one
    thread whose differences are +2%, -8%, +15% and -30%."""
    second = {"a": 102.0, "c": 92.0, "e": 115.0, "g": 70.0}
    calls = []

    def fake(name, t, min_time_s, repeats, clock, min_runs):
        calls.append(name)
        return {"median": second[name], "input_shape": [1, 3, 8, 8]}

    from costmodel.latency import fresh
    monkeypatch.setattr(fresh, "time_named", fake)
    entries = [{"name": n, "threads": 1, "total_ms": 100.0} for n in "abcdefgh"]
    df = foreign.retest(entries, every=2, progress=False, interleave=False)
    assert calls == ["a", "c", "e", "g"]
    assert np.allclose(df["diff_pct"], [2.0, -8.0, 15.0, -30.0])
    st = foreign.retest_stats(df).iloc[0]
    assert st["n"] == 4 and st["within5"] == 25.0 and st["within10"] == 50.0
    assert st["median_abs"] == pytest.approx(11.5)
    text = "\n".join(foreign._repeatability(df))
    assert "| 1 | raw | 4 | 25.0 | 50.0 | 11.5 |" in text and "drift-corrected" not in text
    assert "cannot say" in "\n".join(foreign._repeatability(None))
    calls.clear()
    mixed = [{"name": n, "threads": t, "total_ms": 100.0} for n in "abcdefgh" for t in (1, 2)]
    df = foreign.retest(mixed, every=4, progress=False, interleave=False)
    assert list(zip(df["name"], df["threads"])) == [("a", 1), ("e", 1), ("a", 2), ("e", 2)]
    assert df["diff_corrected_pct"].isna().all()  # not interleaved: no corrected comparison


def test_interleaved_measurement_drift_corrects_each_model_by_its_own_reference(monkeypatch):
    """measure() with interleaving asks the fresh process for the model and the drift reference
    together; each entry's reference time is a reference row, evaluate() divides it by the
    reference's calibration time for that model's factor, and retest() compares the
    model/reference ratios.  By hand: the machine runs 1.5x slower for model "b" (reference 15 ms
    against 10 ms at calibration), so b's corrected prediction is 1.5x its raw one, while "a"
    (reference 10 ms) keeps its raw prediction; b measured again at ratio 4.36 against 4.0 differs
    by +9% corrected though its raw time moved +30.8%."""
    first = {"a": (30.0, 10.0), "b": (60.0, 15.0)}
    again = {"b": (78.48, 18.0)}
    calls = []

    def fake(name, t, reference, min_time_s, clock, min_runs):
        calls.append((name, reference, min_time_s))
        ms, ref = (again if len(calls) > 2 else first)[name]
        return {"median": ms, "reference_ms": ref, "ratio": ms / ref, "input_shape": [1, 3, 8, 8]}

    def no_alone(*a, **k):
        raise AssertionError("an interleaved run times no reference on its own")

    import importlib
    from costmodel.latency import fresh
    calibrate = importlib.import_module("costmodel.latency.calibrate")
    monkeypatch.setattr(fresh, "time_interleaved_named", fake)
    monkeypatch.setattr(fresh, "time_named", no_alone)
    monkeypatch.setattr(calibrate, "_time_reference", no_alone)
    entries, refs = foreign.measure(["a", "b"], threads=(1,), e2e_time_s=2.0, progress=False)
    assert [c[1] for c in calls] == [foreign.REFERENCE_NAME] * 2 and calls[0][2] == 2.0
    assert [r["ms"] for r in refs] == [10.0, 15.0] and [r["model"] for r in refs] == ["a", "b"]
    assert entries[1]["total_ms"] == 60.0 and entries[1]["total_ms_spread"]["ratio"] == 4.0

    from costmodel.latency.profile import DeviceProfile
    prof = DeviceProfile({}, {1: {"ops": {}, "reference": {"ms": 10.0, "spread_pct": 1.0}}})
    drift = drift_mod.factors(prof, pd.DataFrame(refs))
    assert drift[1]["factor"] == pytest.approx(1.25) and drift[1]["n"] == 2

    rows = []
    for e in entries:
        spread = e["total_ms_spread"]
        f, src = foreign_row_factor(spread, drift, 1)
        rows.append((e["name"], f, src))
    assert rows == [("a", 1.0, "interleaved"), ("b", 1.5, "interleaved")]
    assert foreign_row_factor({}, drift, 1) == (1.25, "run")
    assert foreign_row_factor({}, {}, 1) == (1.0, "none")

    df = foreign.retest(entries[1:], every=1, progress=False)
    assert df["diff_pct"].iloc[0] == pytest.approx(30.8)
    assert df["diff_corrected_pct"].iloc[0] == pytest.approx(9.0)
    st = foreign.retest_stats(df, "diff_corrected_pct").iloc[0]
    assert st["within10"] == 100.0 and foreign.retest_stats(df).iloc[0]["within10"] == 0.0
    text = "\n".join(foreign._repeatability(df))
    assert "| 1 | raw | 1 | 0.0 | 0.0 | 30.8 |" in text
    assert "| 1 | drift-corrected | 1 | 0.0 | 100.0 | 9.0 |" in text


def test_evaluation_log_keeps_old_notes_and_marks_only_the_finished_run(tmp_path):
    """The frozen set's evaluation log (reports/latency/foreign_evaluations.csv has a 'note'
    column): a new run is appended as 'started' before it measures, and only a finished run is
    marked as this report's."""
    class Prof:
        calibration = {"created": "2026-12-02T12:52:00Z"}
    path = tmp_path / foreign.EVALUATIONS_LOG
    path.write_text("date,commit,profile_created,note\n"
                    "2026-12-01 10:00,abc,P0,interrupted: no figures\n"
                    "2026-12-01 12:00,abc,P0,complete (this report)\n")
    assert foreign._log_evaluation(str(tmp_path), Prof()) == 3
    rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(rows["note"][:2]) == ["interrupted: no figures", "complete (this report)"]
    assert rows["note"][2].startswith("started") and rows["profile_created"][2] == Prof.calibration["created"]
    foreign._mark_complete(str(tmp_path))
    rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(rows["note"]) == ["interrupted: no figures", "complete (an earlier report)",
                                  "complete (this report)"]
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert foreign._log_evaluation(str(fresh), Prof()) == 1
    assert list(pd.read_csv(fresh / foreign.EVALUATIONS_LOG).columns) == list(foreign.EVALUATION_COLUMNS)
