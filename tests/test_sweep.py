"""Design-space sweeps: a candidate's summed piece costs equal analyzing, predicting and linting
the whole network; sampling and enumeration; Pareto fronts; resumable output."""
import copy
import json
import os
import warnings

import numpy as np
import pandas as pd
import pytest

import costmodel
from costmodel.guidelines import lint
from costmodel.latency import fit
from costmodel.latency.predict import predict_latency
from costmodel.latency.profile import DeviceProfile
from costmodel.sweep import pareto, run
from costmodel.sweep.engine import SweepSettings, evaluate_range, pred_column
from costmodel.sweep.factory import grid_config, grid_size, sample_grid, sweep_factory
from costmodel.sweep.pieces import COUNTS, FINDING_COLUMNS, PieceCosts
from costmodel.sweep.space import Space, SpaceError, load_space, packaged_spaces

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROFILE = os.path.join(ROOT, "reports", "latency", "profile.json")
#: the committed profile was calibrated on another machine: predictions are for that machine
pytestmark = pytest.mark.filterwarnings("ignore::costmodel.latency.predict.OtherMachineWarning")


@pytest.fixture(scope="module")
def profile():
    return DeviceProfile.load(PROFILE)


@pytest.fixture(scope="module")
def modules_profile(profile):
    """The committed profile with a network term that also counts module calls (no committed
    profile selected that term, so the sum must get it right on its own)."""
    d = copy.deepcopy(profile.to_dict())
    for t in d["threads"].values():
        t["network"] = {"features": ["iso", "alloc_bytes", "weight_bytes", "one", "modules",
                                     "const"],
                        "coef": [1.1, 3e-8, 1e-7, 0.002, 0.0015, 0.05],
                        "weight_cap_bytes": 2097152}
    return DeviceProfile.from_dict(d)


def whole_network(space, cfg, profile):
    """The independent truth: the candidate built whole and analyzed, predicted, linted."""
    model = space.build(cfg)
    shape = space.input_shape(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = costmodel.analyze(model, shape, warn=False)
        preds = {t: predict_latency(model, shape, profile, threads=t).total_ms
                 for t in profile.thread_counts}
    counts = lint.check(model, shape, report=report).counts()
    return model, report, preds, counts


@pytest.mark.parametrize("name,seed,n", [("mixed", 11, 12), ("mobilenetv2", 3, 4),
                                         ("shufflenetv2", 5, 3)])
def test_summed_pieces_equal_the_whole_network(name, seed, n, profile):
    space = load_space(name)
    df = run.sweep(space, n, profile=profile, seed=seed)
    assert list(df["candidate"]) == list(range(n))
    for row in df.itertuples(index=False):
        cfg = json.loads(row.config)
        assert cfg == space.sample(seed, row.candidate)
        model, report, preds, counts = whole_network(space, cfg, profile)
        for c in COUNTS:
            assert getattr(row, c) == report.total[c], (c, cfg)
        assert row.params == sum(p.numel() for p in model.parameters())  # independent of costmodel
        for t, ms in preds.items():
            assert getattr(row, pred_column(t)) == pytest.approx(ms, rel=1e-9, abs=1e-12)
        for c in FINDING_COLUMNS:
            assert getattr(row, c) == counts[c[:2].upper()][c[3:]], (c, cfg)
        assert row.resolution == cfg["resolution"]


def test_the_module_calls_term_is_added_once_per_candidate(modules_profile):
    space = load_space("mixed")
    df = run.sweep(space, 4, profile=modules_profile, seed=2)
    for row in df.itertuples(index=False):
        cfg = json.loads(row.config)
        _, _, preds, _ = whole_network(space, cfg, modules_profile)
        for t, ms in preds.items():
            assert getattr(row, pred_column(t)) == pytest.approx(ms, rel=1e-9)


CONTEXT_PROFILE = os.path.join(ROOT, "reports", "latency", "amx_v4", "profile.json")


@pytest.mark.parametrize("name,seed,n", [("mobilenetv2", 3, 4), ("mixed", 11, 6)])
def test_summed_pieces_stay_exact_with_a_context_reading_profile(name, seed, n):
    """A profile whose trees split on ``prev_same`` (an op's prediction depends on the kind of
    the heavy op before it, across piece boundaries too): the sums still equal the whole
    network's prediction."""
    prof = DeviceProfile.load(CONTEXT_PROFILE)
    column = fit.TREE_FEATURES.index("prev_same")
    splits = sum(f == column for t in prof.threads.values() for m in t["ops"].values()
                 if m.get("type") == "boosted" for tree in m["trees"] for f in tree["feature"])
    assert prof.reads_context() and splits > 0  # the check below is not vacuous
    assert not DeviceProfile.load(PROFILE).reads_context()
    space = load_space(name)
    df = run.sweep(space, n, profile=prof, seed=seed)
    for row in df.itertuples(index=False):
        _, _, preds, _ = whole_network(space, json.loads(row.config), prof)
        for t, ms in preds.items():
            assert getattr(row, pred_column(t)) == pytest.approx(ms, rel=1e-9)


def test_guideline_findings_occur_in_the_sample(profile):
    """The findings comparison above is not vacuous: the mixed space has candidates with G1, G2,
    G3 and G4 findings."""
    df = run.sweep("mixed", 40, seed=11)
    for g in ("g1", "g2", "g3", "g4"):
        assert df[[c for c in FINDING_COLUMNS if c.startswith(g)]].to_numpy().sum() > 0, g


def test_pieces_are_shared():
    """Each distinct (piece, input shape) is analyzed once: in the tiny space the input shape of
    a piece follows from its key and the resolution."""
    cache = PieceCosts()
    space = load_space("tiny")
    evaluate_range(space, cache, SweepSettings(300), 0, 300)
    keys = [(k, space.sample(0, i)["resolution"]) for i in range(300)
            for k in space.pieces(space.sample(0, i))]
    assert len(cache) == len(set(keys)) < len(keys) / 5


def test_results_do_not_depend_on_chunks(profile):
    a = run.sweep("tiny", 60, profile=profile, seed=4, chunk_size=7)
    b = run.sweep("tiny", 60, profile=profile, seed=4, chunk_size=60)
    pd.testing.assert_frame_equal(a, b)
    c = run.sweep("tiny", 60, profile=profile, seed=5)
    assert not a["config"].equals(c["config"])


# ------------------------------------------------------------------ the space
def test_tiny_space_enumerates_every_candidate_once():
    space = load_space("tiny")
    # resolutions 2 x stem widths 2 x head 1 x stage 1 (1 width x (4 + 4**2) block choices)
    # x stage 2 (2 widths x 3 block choices): 2 * 2 * 20 * 6
    assert space.size == 480
    configs = [json.dumps(space.config_at(i), sort_keys=True) for i in range(space.size)]
    assert len(set(configs)) == 480
    sampled = {json.dumps(space.sample(1, i), sort_keys=True) for i in range(100)}
    assert sampled <= set(configs)
    with pytest.raises(IndexError):
        space.config_at(480)
    df = run.sweep(space, enumerate_all=True)
    assert len(df) == 480 and df["config"].nunique() == 480


def test_every_packaged_space_loads_and_builds():
    assert {"mobilenetv2", "shufflenetv2", "mixed", "tiny"} <= set(packaged_spaces())
    import torch
    for name in packaged_spaces():
        space = load_space(name)
        cfg = space.sample(0, 0)
        model = space.build(cfg)
        r = cfg["resolution"] if name == "tiny" else 64
        out = model(torch.zeros(1, space.in_channels, r, r))  # a real forward runs
        assert out.shape == (1, space.classes)


def test_block_types_match_the_zoo():
    """A MobileNetV2-shaped candidate of the mbconv block equals the zoo's MobileNetV2."""
    spec = {"format": "costmodel-space", "version": 1, "name": "v2", "resolution": 224,
            "stem": {"width": 32, "kernel": 3, "stride": 2, "act": "relu6"},
            "stages": [{"width": c, "depth": n, "stride": s,
                        "blocks": [{"type": "mbconv", "kernel": 3, "expansion": t}]}
                       for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2),
                                          (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                                          (6, 320, 1, 1)]],
            "head": {"width": 1280, "act": "relu6"}}
    space = Space.from_dict(spec)
    assert space.size == 1
    df = run.sweep(space, 1)
    zoo = costmodel.analyze(costmodel.zoo.create("mobilenet_v2_x1_0"), (1, 3, 224, 224))
    assert int(df["params"][0]) == 3_504_872  # torchvision's mobilenet_v2, as the zoo states
    for c in COUNTS:
        assert int(df[c][0]) == zoo.total[c]


BASE = {"format": "costmodel-space", "version": 1, "name": "t", "resolution": [32],
        "stem": {"width": [8]}, "head": {"width": [0]},
        "stages": [{"width": [16], "depth": [1], "stride": 2,
                    "blocks": [{"type": "mbconv", "kernel": [3]}]}]}


def _with(path, value):
    spec = copy.deepcopy(BASE)
    d = spec
    for k in path[:-1]:
        d = d[k]
    d[path[-1]] = value
    return spec


@pytest.mark.parametrize("path,value,words", [
    (("stages", 0, "blocks", 0, "type"), "mbconvv", "unknown block type"),
    (("stages", 0, "blocks", 0, "kernel"), [], "empty list of choices"),
    (("stages", 0, "blocks", 0, "kernel"), [4], "odd integer"),
    (("stages", 0, "blocks", 0, "kernal"), [3], "unknown field 'kernal'"),
    (("stages", 0, "width"), "wide", "expected an integer"),
    (("stages", 0, "width"), [16.5], "expected an integer"),
    (("stages", 0, "depth"), [0], "expected an integer in [1, 32]"),
    (("stages",), [], "non-empty list of stages"),
    (("resolution",), [True], "expected an integer"),
    (("stem", "act"), "gelu", "expected one of"),
    (("version",), 2, "unsupported space version"),
    (("stages", 0), {"width": [16], "depth": [1], "stride": 1, "blocks": [{"type": "shufflev2"}]},
     "a stride-1 unit keeps its width"),
    (("stages", 0), {"width": [18], "depth": [1], "stride": 2, "blocks": [{"type": "bottleneck"}]},
     "divisible by 4"),
])
def test_malformed_spaces_name_the_field(path, value, words):
    with pytest.raises(SpaceError) as exc:
        Space.from_dict(_with(path, value))
    assert words in str(exc.value)
    assert "\n" not in str(exc.value)


def test_space_files_are_read_safely(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 20 + "]" * 20)
    with pytest.raises(SpaceError, match="nested deeper"):
        Space.load(deep)
    with pytest.raises(SpaceError, match="no space file"):
        load_space(str(tmp_path / "missing.json"))


# ------------------------------------------------------------------ Pareto fronts
def brute_force_front(points):
    """O(n^2) dominance, the definition itself (all objectives minimized)."""
    keep = []
    for i, p in enumerate(points):
        dominated = any(np.all(q <= p) and np.any(q < p) for j, q in enumerate(points) if j != i)
        keep.append(not dominated)
    return np.array(keep)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_pareto_mask_is_the_non_dominated_set(k):
    rng = np.random.default_rng(k)
    pts = rng.integers(0, 12, size=(300, k)).astype(float)  # many ties and duplicates
    df = pd.DataFrame(pts, columns=[f"c{i}" for i in range(k)])
    df["c0"] = -df["c0"]
    mask = pareto.pareto_mask(df, minimize=[f"c{i}" for i in range(1, k)], maximize=["c0"])
    expect = brute_force_front(np.column_stack([-df["c0"]] + [df[f"c{i}"] for i in range(1, k)]))
    assert (mask == expect).all()


def test_pareto_front_skips_missing_metrics():
    df = pd.DataFrame({"candidate": [0, 1, 2], "pred_ms_1t": [1.0, 2.0, 3.0]})
    metrics = pd.DataFrame({"candidate": [1, 2], "top1": [70.0, 72.0]})
    merged = pareto.with_metric(df, metrics, "top1")
    front = pareto.pareto_front(merged, ["pred_ms_1t"], ["top1"])
    assert list(front["candidate"]) == [1, 2]
    with pytest.raises(pareto.FrontError, match="no column"):
        pareto.pareto_front(df, ["nope"], [])


# ------------------------------------------------------------------ resumable output
def test_an_interrupted_sweep_resumes_where_it_stopped(tmp_path, monkeypatch, profile):
    out = str(tmp_path / "r.csv")
    calls = []
    interrupt = [True]
    real = run.evaluate_range

    def counting(space, cache, settings, start, stop):
        calls.append(start)
        if interrupt[0] and len(calls) == 3:
            raise KeyboardInterrupt
        return real(space, cache, settings, start, stop)

    monkeypatch.setattr(run, "evaluate_range", counting)
    with pytest.raises(KeyboardInterrupt):
        run.sweep("tiny", 50, profile=profile, seed=2, out=out, chunk_size=10)
    assert sorted(os.listdir(out + ".parts")) == ["chunk-000000.csv", "chunk-000001.csv",
                                                 "manifest.json"]
    assert not os.path.exists(out)
    calls.clear()
    interrupt[0] = False
    df = run.sweep("tiny", 50, profile=profile, seed=2, out=out, chunk_size=10)
    assert calls == [20, 30, 40]  # the two finished chunks were read back, not recomputed
    assert not os.path.exists(out + ".parts")
    monkeypatch.setattr(run, "evaluate_range", real)
    whole = run.sweep("tiny", 50, profile=profile, seed=2)
    pd.testing.assert_frame_equal(df, whole)
    pd.testing.assert_frame_equal(run.read_table(out), whole)


def test_a_parts_folder_of_another_sweep_is_refused(tmp_path, monkeypatch):
    out = str(tmp_path / "r.csv")
    real = run.evaluate_range

    def stop_after_one(space, cache, settings, start, stop):
        if start:
            raise KeyboardInterrupt
        return real(space, cache, settings, start, stop)

    monkeypatch.setattr(run, "evaluate_range", stop_after_one)
    with pytest.raises(KeyboardInterrupt):
        run.sweep("tiny", 20, seed=1, out=out, chunk_size=10)
    with pytest.raises(run.SweepError, match="another sweep"):
        run.sweep("tiny", 20, seed=2, out=out, chunk_size=10)


# ------------------------------------------------------------------ any factory
def test_factory_sweeps_equal_the_space_sweep(profile):
    space = load_space("tiny")
    configs = [space.sample(3, i) for i in range(5)]
    got = sweep_factory(space.build, configs, space.input_shape, profile)
    want = run.sweep(space, 5, profile=profile, seed=3)
    for c in COUNTS + FINDING_COLUMNS:
        assert list(got[c]) == list(want[c]), c
    for t in profile.thread_counts:
        np.testing.assert_allclose(got[pred_column(t)], want[pred_column(t)], rtol=1e-9)


def test_grids():
    choices = {"a": [1, 2, 3], "b": ["x", "y"]}
    assert grid_size(choices) == 6
    assert {tuple(grid_config(choices, i).values()) for i in range(6)} == \
        {(a, b) for a in (1, 2, 3) for b in "xy"}
    assert sample_grid(choices, 5, seed=1) == sample_grid(choices, 5, seed=1)
    with pytest.raises(ValueError, match="non-empty"):
        grid_size({"a": []})
