"""Command-line habits: --version, a fast --help, help on every command and option, the output
format from the file suffix, progress on stderr, the zoo listing, lint lines that fit a
terminal, and report --depth / --top."""
import argparse
import io
import json
import os
import re
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

import costmodel
from costmodel import cli
from costmodel.cli import build_parser

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAVY = ("torch", "pandas", "numpy", "matplotlib")


def python(*args, timeout=120):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


# ------------------------------------------------------------------ --version, entry point
def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.run(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"costmodel {costmodel.__version__}"
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        assert f'version = "{costmodel.__version__}"' in f.read()


def test_console_script_points_at_main():
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        scripts = f.read().split("[project.scripts]", 1)[1].split("\n[", 1)[0]
    target = re.search(r'^costmodel\s*=\s*"([^"]+)"', scripts, re.M).group(1)
    module, _, name = target.partition(":")
    assert (module, name) == ("costmodel.cli", "main")
    assert getattr(__import__(module, fromlist=[name]), name) is cli.main
    proc = python("-m", "costmodel.cli", "--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"costmodel {costmodel.__version__}"


# ------------------------------------------------------------------ a fast --help
def test_building_the_parser_imports_nothing_heavy():
    proc = python("-c", "import sys\nfrom costmodel.cli import build_parser\nbuild_parser()\n"
                        f"print([m for m in {HEAVY!r} if m in sys.modules])")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_import_time_of_the_cli():
    """``python -X importtime``: importing costmodel.cli costs well under half a second and
    loads none of the heavy packages."""
    proc = python("-X", "importtime", "-c", "import costmodel.cli")
    assert proc.returncode == 0, proc.stderr
    rows = [line.split("|") for line in proc.stderr.splitlines() if line.startswith("import time:")
            and "self [us]" not in line]
    cumulative = {r[2].strip(): int(r[1]) for r in rows}
    assert not [m for m in cumulative if m.split(".")[0] in HEAVY]
    assert cumulative["costmodel.cli"] < 500_000  # microseconds


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_are_fast(flag):
    python("-m", "costmodel.cli", "--version")  # warm the file cache
    t0 = time.perf_counter()
    proc = python("-m", "costmodel.cli", flag)
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    assert elapsed < 2.0, f"costmodel {flag} took {elapsed:.2f} s"


# ------------------------------------------------------------------ help everywhere
def _parsers(parser, path=("costmodel",)):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            listed = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield path + (name,), sub, listed.get(name)
                yield from _parsers(sub, path + (name,))


def test_every_command_and_option_has_help():
    missing = []
    for path, sub, listed in _parsers(build_parser()):
        if not listed:
            missing.append(f"{' '.join(path)}: no help in its parent's list")
        if not sub.description:
            missing.append(f"{' '.join(path)}: no description")
        for action in sub._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            if not action.help:
                missing.append(f"{' '.join(path)} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, "\n".join(missing)


def test_help_shows_defaults_read_from_the_library(capsys):
    from costmodel.latency.calibrate import DEFAULT_BUDGET_S
    from costmodel.latency.space import CALIBRATION_SEED
    with pytest.raises(SystemExit):
        cli.run(["calibrate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"(default {DEFAULT_BUDGET_S})" in text and f"(default {CALIBRATION_SEED};" in text
    with pytest.raises(SystemExit):
        cli.run(["lint", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "this severity: info, warn, high (default: warn)" in text


# ------------------------------------------------------------------ the format from --out
@pytest.mark.parametrize("suffix, check", [
    (".html", lambda t: t.lstrip().lower().startswith("<!doctype html>")),
    (".md", lambda t: t.startswith("# Cost report: squeezenet1_1")),
    (".csv", lambda t: list(pd.read_csv(io.StringIO(t)).columns[:3]) == ["name", "op", "kind"]),
    (".json", lambda t: json.loads(t)["model"] == "squeezenet1_1"),
    (".txt", lambda t: t.startswith("squeezenet1_1  input 1x3x32x32")),
])
def test_report_format_from_the_suffix(suffix, check, tmp_path, capsys):
    out = tmp_path / f"r{suffix}"
    assert cli.run(["report", "squeezenet1_1", "-i", "1x3x32x32", "-o", str(out)]) == 0
    assert check(out.read_text())


def test_explicit_format_wins_over_the_suffix(tmp_path):
    out = tmp_path / "r.md"
    assert cli.run(["report", "squeezenet1_1", "-i", "1x3x32x32", "-f", "csv", "-o", str(out)]) == 0
    assert pd.read_csv(out)["name"].is_unique


def test_lint_format_from_the_suffix(tmp_path, capsys):
    md, js = tmp_path / "l.md", tmp_path / "l.json"
    assert cli.run(["lint", "squeezenet1_1", "-i", "1x3x64x64", "-o", str(md)]) == 0
    assert md.read_text().startswith("# Guideline lint: squeezenet1_1")
    assert cli.run(["lint", "squeezenet1_1", "-i", "1x3x64x64", "-o", str(js)]) == 0
    assert json.loads(js.read_text())["model"] == "squeezenet1_1"
    capsys.readouterr()
    assert cli.run(["lint", "squeezenet1_1", "-o", str(tmp_path / "l.csv")]) == 2
    err = capsys.readouterr().err
    assert "cannot write csv" in err and "table, md, json" in err
    assert not (tmp_path / "l.csv").exists()


# ------------------------------------------------------------------ progress on stderr
def write_profile(path):
    """A hand-made profile: every op 0.01 ms alone, x1.2 in the network."""
    prof = {"format": "costmodel-profile", "version": 1, "machine": {"cpu_model": "x"},
            "calibration": {}, "threads": {"1": {
                "ops": {"default": {"type": "linear", "features": ["one"], "coef": [0.01]}},
                "network": {"features": ["iso", "const"], "coef": [1.2, 0.0]}, "baselines": {}}}}
    path.write_text(json.dumps(prof))


def test_validate_shows_progress(tmp_path, capsys):
    from costmodel.latency import timings
    write_profile(tmp_path / "p.json")
    doc = {"format": "costmodel-timings", "version": 1, "machine": {"cpu_model": "x"},
           "models": [{"name": "squeezenet1_1", "input_shape": [1, 3, 32, 32], "threads": 1,
                       "total_ms": 1.0, "total_ms_spread": {}, "layers": []}]}
    timings.save(doc, tmp_path / "t.json")
    assert cli.run(["validate", str(tmp_path / "t.json"), "-p", str(tmp_path / "p.json")]) == 0
    assert "predict" in capsys.readouterr().err  # the bar, one model done
    assert cli.run(["validate", str(tmp_path / "t.json"), "-p", str(tmp_path / "p.json"),
                    "-q"]) == 0
    assert "predict" not in capsys.readouterr().err


def test_bench_shows_progress(tmp_path, capsys):
    argv = ["bench", "squeezenet1_1", "-i", "1x3x32x32", "--threads", "1", "--time", "0.001",
            "--no-layers", "--out", str(tmp_path / "t.json")]
    assert cli.run(argv) == 0
    assert re.search(r"bench: 100%.*1/1", capsys.readouterr().err)
    assert cli.run(argv + ["-q"]) == 0
    assert "bench:" not in capsys.readouterr().err


def test_plot_accuracy_shows_progress(tmp_path, capsys):
    assert cli.run(["plot", "accuracy", "--models", "squeezenet1_1", "shufflenet_v2_x0_5",
                    "--out", str(tmp_path / "a.svg")]) == 0
    assert re.search(r"analyzing the zoo: 100%.*2/2", capsys.readouterr().err)


# ------------------------------------------------------------------ costmodel zoo
def test_zoo_listing_has_a_header_dashes_and_fixed_decimals(capsys):
    from costmodel.zoo import registry
    assert cli.run(["zoo"]) == 0
    out = capsys.readouterr().out
    assert "-M" not in out
    lines = out.splitlines()
    assert lines[0].split() == ["model", "family", "res", "params", "(M)", "madds", "(M)",
                                "top-1", "(%)"]
    rows = {line.split()[0]: line.split() for line in lines[2:2 + len(registry.names())]}
    assert sorted(rows) == registry.names()
    decimals = {3: 2, 4: 1, 5: 2}  # params, madds, top-1
    for name, cells in rows.items():
        p = registry.entry(name).published
        assert cells[1] == registry.entry(name).family and cells[2] == str(p.resolution)
        for col, value in ((3, p.params_m), (4, p.madds_m), (5, p.top1)):
            if value is None:
                assert cells[col] == "-", (name, col)
            else:
                assert re.fullmatch(r"\d+\.\d{%d}" % decimals[col], cells[col]), (name, cells)
                assert abs(float(cells[col]) - value) <= 0.5 * 10 ** -decimals[col] + 1e-9
    assert "'-': the paper gives no figure" in " ".join(out.split())


# ------------------------------------------------------------------ lint line width
LONG_NAMES = textwrap.dedent("""
    import torch
    import torch.nn as nn

    class ABlockWithAVeryLongDescriptiveClassName(nn.Module):
        def __init__(self):
            super().__init__()
            self.an_expansion_pointwise_convolution_with_a_long_name = nn.Conv2d(8, 96, 1)
            self.a_grouped_three_by_three_convolution_with_eight_groups = nn.Conv2d(96, 96, 3,
                                                                                 padding=1, groups=8)
            self.branches_of_the_fragmented_part = nn.ModuleList(nn.Conv2d(96, 2, 1) for _ in range(4))

        def forward(self, x):
            y = self.a_grouped_three_by_three_convolution_with_eight_groups(
                self.an_expansion_pointwise_convolution_with_a_long_name(x))
            return torch.cat([b(y) for b in self.branches_of_the_fragmented_part], 1) + x

    def build():
        return nn.Sequential(nn.Sequential(nn.Sequential(ABlockWithAVeryLongDescriptiveClassName(),
                                                         ABlockWithAVeryLongDescriptiveClassName())))
""")


def _finding_table(text):
    """(where, finding) of each row of the findings table, continuation lines joined back."""
    lines = text.splitlines()
    head = next(i for i, l in enumerate(lines) if l.split()[:4] == ["guideline", "severity",
                                                                    "where", "finding"])
    spans, col = [], 0
    for dashes in lines[head + 1].split("  "):
        if dashes:
            spans.append((col, col + len(dashes)))
        col += len(dashes) + 2
    rows = []
    for line in lines[head + 2:]:
        if not line.strip():
            break
        cells = [line[a:b + (0 if k < len(spans) - 1 else 10 ** 6)].strip()
                 for k, (a, b) in enumerate(spans)]
        if cells[0]:
            rows.append([cells[2], cells[3]])
        else:
            rows[-1][0] += cells[2]
            rows[-1][1] += " " + cells[3] if cells[3] else ""
    return [tuple(r) for r in rows]


@pytest.mark.parametrize("spec", ["mixnet_s", "googlenet", "shufflenet_v1_g3_x1_0", "long-names"])
def test_lint_lines_fit_and_keep_every_finding(spec, tmp_path, capsys):
    from costmodel.guidelines import check
    from costmodel.sources import load_model
    if spec == "long-names":
        path = tmp_path / "long_names.py"
        path.write_text(LONG_NAMES)
        spec = f"{path}:build"
    assert cli.run(["lint", spec, "-i", "1x8x32x32" if spec.endswith(":build") else "1x3x224x224",
                    "--min-severity", "info"]) == 0
    text = capsys.readouterr().out
    assert max(len(line) for line in text.splitlines()) <= 120
    shape = (1, 8, 32, 32) if spec.endswith(":build") else (1, 3, 224, 224)
    rep = check(load_model(spec), shape, model_name=spec)
    assert _finding_table(text) == [(f.where or "(model)", f.message) for f in rep.findings]
    legend = " ".join(text[text.index("fragments: "):].split())
    assert "compute br.: " in legend and "launches: " in legend and "small: launches under" in legend


# ------------------------------------------------------------------ report --depth / --top
def test_report_depth(capsys):
    from costmodel.cli.common import load_model
    from costmodel.analysis import analyze
    assert cli.run(["report", "mobilenet_v2_x0_35", "-i", "1x3x32x32", "--depth", "1"]) == 0
    text = capsys.readouterr().out
    modules = text.split("\n\n")[1].splitlines()[2:]
    rep = analyze(load_model("mobilenet_v2_x0_35")[0], (1, 3, 32, 32))
    assert [m.split()[0] for m in modules] == list(rep.by_module(1)["module"].str.split().str[0])
    assert cli.run(["report", "mobilenet_v2_x0_35", "-f", "csv", "--depth", "1"]) == 2
    assert "--depth" in capsys.readouterr().err


@pytest.mark.parametrize("by, what", [("madds", "multiply-adds"), ("mac", "memory accesses")])
def test_report_top(by, what, tmp_path, capsys):
    from costmodel.analysis import analyze
    from costmodel.cli.common import load_model
    rep = analyze(load_model("mobilenet_v2_x0_35")[0], (1, 3, 32, 32))
    expected = list(rep.layers.sort_values(by, ascending=False, kind="stable")["name"][:5])
    assert cli.run(["report", "mobilenet_v2_x0_35", "-i", "1x3x32x32", "--top", "5", "--by",
                    by]) == 0
    text = capsys.readouterr().out
    assert f"Only the 5 layers with the most {what}" in " ".join(text.split())
    layer_lines = text[text.index("#    name"):].splitlines()[2:]
    assert [l.split()[1] for l in layer_lines] == expected
    csv = tmp_path / "top.csv"
    assert cli.run(["report", "mobilenet_v2_x0_35", "-i", "1x3x32x32", "--top", "3", "--by", by,
                    "-o", str(csv)]) == 0
    assert list(pd.read_csv(csv)["name"]) == expected[:3]
    js = tmp_path / "top.json"
    assert cli.run(["report", "mobilenet_v2_x0_35", "-i", "1x3x32x32", "--top", "3", "--by", by,
                    "-o", str(js)]) == 0
    data = json.loads(js.read_text())
    assert data["layers_shown"] == {"top": 3, "by": by, "of": len(rep.layers)}
    assert [r["name"] for r in data["layers"]] == expected[:3]
    assert data["total"]["madds"] == rep.total["madds"]  # totals stay the model's


def test_predict_explains_its_columns(tmp_path, capsys):
    write_profile(tmp_path / "p.json")
    assert cli.run(["predict", "squeezenet1_1", "-i", "1x3x32x32", "-p", str(tmp_path / "p.json"),
                    "--layers"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "isolated ms in-net ms" in text
    assert "isolated ms: the op alone" in text and "in-net ms: its share of the end-to-end" in text


def test_ctrl_c_is_one_line_and_status_130(monkeypatch, capsys):
    import costmodel.zoo.table

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(costmodel.zoo.table, "published_text", interrupted)
    assert cli.run(["zoo"]) == 130
    assert capsys.readouterr().err == "costmodel zoo: interrupted\n"
