"""Every script in examples/ runs (as a user would run it) and produces what it says.

Each runs as a subprocess in a temporary working directory (nothing may appear there: examples
write into the folder they are given, else into a new temporary one).  Examples that need an
optional package that is not importable yet are skipped with the reason.
"""
import importlib
import os
import shutil
import subprocess
import sys
import tempfile

import pandas as pd
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")


def _missing(module: str, names) -> str:
    """'' when ``from module import names`` works, else why not."""
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        return f"{module} is not importable ({exc})"
    lacking = [n for n in names if not hasattr(mod, n)]
    return f"{module} has no {', '.join(lacking)} yet" if lacking else ""


def run_example(name, cwd, *args, timeout=180):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, name), *map(str, args)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    assert os.listdir(cwd) == [], f"{name} wrote into its working directory"
    return proc.stdout


def test_every_example_is_tested():
    tested = {"analyze_own_model.py", "compare_designs.py", "calibrate_and_predict.py",
              "lint_model.py", "plot_accuracy.py"}
    assert {f for f in os.listdir(EXAMPLES) if f.endswith(".py")} == tested


def test_analyze_own_model(tmp_path):
    work, out_dir = tmp_path / "cwd", tmp_path / "out"
    work.mkdir()
    out_dir.mkdir()
    out = run_example("analyze_own_model.py", work, out_dir)
    assert "MyCNN" in out and "largest MAC" in out
    assert os.listdir(work) == [] and os.listdir(out_dir) == ["my_cnn_costs.csv"]
    df = pd.read_csv(out_dir / "my_cnn_costs.csv")
    assert {"name", "kind", "params", "madds", "mac"} <= set(df.columns)
    assert int(df["params"].sum()) == 4394  # the CNN's parameter count


def test_analyze_own_model_without_a_folder_writes_to_a_new_temporary_one(tmp_path):
    out = run_example("analyze_own_model.py", tmp_path)
    path = out.strip().splitlines()[-1].removeprefix("wrote ")
    try:
        assert os.path.dirname(os.path.dirname(path)) == tempfile.gettempdir()
        assert pd.read_csv(path)["params"].sum() == 4394
    finally:
        shutil.rmtree(os.path.dirname(path))


def test_compare_designs(tmp_path):
    out = run_example("compare_designs.py", tmp_path)
    rows = [line.split() for line in out.splitlines() if line.startswith("  1x1 convs")]
    assert len(rows) == 4

    def figure(row, key):
        return float(row[row.index(key) + 1].rstrip("MK"))

    for a, b in (rows[0:2], rows[2:4]):
        assert figure(a, "madds") == figure(b, "madds")  # same multiply-adds ...
        assert figure(a, "MAC") < figure(b, "MAC")      # ... different memory access cost


def test_plot_accuracy(tmp_path):
    work, out_dir = tmp_path / "cwd", tmp_path / "out"
    work.mkdir()
    out_dir.mkdir()
    out = run_example("plot_accuracy.py", work, out_dir)
    assert os.listdir(work) == []
    for ext in ("png", "svg", "csv"):
        assert (out_dir / f"accuracy_vs_madds.{ext}").stat().st_size > 0
    d = pd.read_csv(out_dir / "accuracy_vs_madds.csv").set_index("name")
    assert d.loc["my_model", "family"] == "your model" and d.loc["my_model", "y"] == 71.3
    assert "Pareto frontier:" in out


LATENCY_API = ["calibrate", "predict_latency", "measure_latency"]


@pytest.mark.skipif(bool(_missing("costmodel.latency", LATENCY_API)),
                    reason=_missing("costmodel.latency", LATENCY_API) or "available")
def test_calibrate_and_predict(tmp_path):
    out = run_example("calibrate_and_predict.py", tmp_path, timeout=300)
    assert "<DeviceProfile" in out
    line = next(line for line in out.splitlines() if line.startswith("predicted "))
    predicted, measured = float(line.split()[1]), float(line.split()[4])
    assert predicted > 0 and measured > 0
    assert "slowest predicted layers:" in out


@pytest.mark.skipif(bool(_missing("costmodel.guidelines", ["check"])),
                    reason=_missing("costmodel.guidelines", ["check"]) or "available")
def test_lint_model(tmp_path):
    out = run_example("lint_model.py", tmp_path)
    for g in ("G1", "G2", "G3"):
        assert f"\n{g}" in out
    assert "worst finding: high" in out
