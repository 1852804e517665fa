"""costmodel.arm: plugin log protocol, emulated timing-file fields, idempotent setup (mocked
subprocesses), clear errors when QEMU or the rootfs is missing.  Nothing here runs an emulator."""
import json
import os
import shutil
import subprocess

import pytest

from costmodel import cli
from costmodel.arm import environment as envmod
from costmodel.arm import guest, plugin, runner
from costmodel.arm.compare import (distinct, kind_table, layer_frame, model_table, op_fit_table,
                                   predictor_table)
from costmodel.latency import timings


# ------------------------------------------------------------------------------- plugin protocol
CANNED = """# costmodel-insn-plugin v1 target=aarch64 marker=32343
B 0 1000 0
E 0 6000 0
B 1 7000 0
E 1 12400 0
B 2 20000 0
E 2 1020000 0
B 3 1030000 0
E 3 2030100 0
B 4 2040000 0
E 4 3039900 0
B 5 4000000 0
E 5 4100000 0
B 6 5000000 0
X 9000000 1
"""


def test_parse_log_counts_and_exit_line():
    log = plugin.parse_log(CANNED)
    assert log.counts[0] == 5000 and log.counts[1] == 5400
    assert log.counts[2] == 1000000 and log.counts[3] == 1000100
    assert log.total == 9000000 and log.vcpus == 1 and log.complete
    assert log.unmatched == [6]  # a begin without its end (guest died inside an op)
    assert log.header.startswith("# costmodel-insn-plugin")


@pytest.mark.parametrize("text, msg", [
    ("E 3 100 0\n", "without a begin"),
    ("B 1 10 0\nB 1 20 0\n", "begun twice"),
    ("B 1 10 0\nE 1 20 0\nB 1 30 0\n", "begun twice"),
    ("B one 10\n", "cannot parse"),
    ("Q 1 2 3\n", "cannot parse"),
    ("B 1 50 0\nE 1 20 0\n", "backwards"),
])
def test_parse_log_rejects_inconsistent_logs(text, msg):
    with pytest.raises(plugin.PluginLogError, match=msg):
        plugin.parse_log(text)


def test_parse_log_without_exit_line_is_incomplete():
    log = plugin.parse_log("B 0 1 0\nE 0 11 0\n")
    assert log.counts == {0: 10} and not log.complete


def test_read_log_missing_file_is_clear(tmp_path):
    with pytest.raises(plugin.PluginLogError, match="did not load the plugin"):
        plugin.read_log(str(tmp_path / "nope.log"))


def test_plugin_source_carries_the_protocol_constants():
    src = plugin.source()
    assert f"marker = {plugin.MARKER_SYSCALL};" in src
    assert "qemu_plugin_register_vcpu_syscall_cb" in src and "qemu_plugin_version" in src
    assert "%%" not in src and len(plugin.source_hash()) == 12
    cmd = plugin.build_command("gcc", "/h", "/o.so", "/s.c", ("-I/glib",))
    assert cmd[:3] == ["gcc", "-shared", "-fPIC"] and "-I/h" in cmd and "-I/glib" in cmd


@pytest.mark.skipif(not shutil.which("gcc"), reason="no gcc")
def test_plugin_compiles_against_a_cached_header(tmp_path):
    hdr = envmod.find_header(envmod.ArmEnv(), envmod.qemu_source_version("/usr/bin/qemu-aarch64")
                             if shutil.which("qemu-aarch64") else None)
    if hdr is None:
        pytest.skip("no qemu-plugin.h (run `costmodel arm setup`)")
    src = tmp_path / "p.c"
    src.write_text(plugin.source())
    r = subprocess.run(plugin.build_command("gcc", hdr, str(tmp_path / "p.so"), str(src)),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "warning" not in r.stderr


# ------------------------------------------------------------------------------- guest side
class RecordingMarker(guest.Marker):
    """Records the marker calls instead of making the system call; fakes a counter."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def begin(self, tag):
        self.calls.append(("B", tag))

    def end(self, tag):
        self.calls.append(("E", tag))


def test_real_marker_is_harmless_outside_qemu():
    m = guest.Marker()
    m.begin(m.new_tag())
    m.end(0)  # the unused system call fails with ENOSYS natively; nothing raises


def _guest_run(tmp_path, monkeypatch, repeats=2):
    path = tmp_path / "tiny_model.py"
    path.write_text("import torch.nn as nn\n"
                    "def make():\n"
                    "    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), "
                    "nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), "
                    "nn.Conv2d(8, 8, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), "
                    "nn.Linear(8, 4))\n")
    marker = RecordingMarker()
    res = guest.run_model({"model": f"{path}:make", "input": "1x3x16x16"}, marker,
                          repeats=repeats, forward_repeats=2)
    return res, marker


def test_guest_brackets_every_replay_and_dedupes_identical_ops(tmp_path, monkeypatch):
    res, marker = _guest_run(tmp_path, monkeypatch)
    # markers come in B/E pairs with increasing tags
    assert [c[0] for c in marker.calls] == ["B", "E"] * (len(marker.calls) // 2)
    tags = [c[1] for c in marker.calls]
    assert tags[::2] == tags[1::2] and tags[::2] == sorted(set(tags[::2]))
    ops = res["ops"]
    assert [o["name"] for o in ops][:3] == ["0", "1", "2"]
    assert len(res["forward"]["tags"]) == 2
    counted = [o for o in ops if "same_as" not in o]
    assert all(len(o["tags"]) == 2 and "error" not in o for o in counted)
    # conv 3 (8->8) has the same kernel and shapes as conv 1 (8->8): replayed once
    same = {o["name"]: o["same_as"] for o in ops if "same_as" in o}
    assert same.get("6") == 3
    assert ops[0]["kind"] == "conv" and ops[0]["madds"] == 3 * 8 * 9 * 16 * 16


def _fake_log_for(guest_doc, per_tag):
    lines, counter = [], 0
    for t in sorted(per_tag):
        lines.append(f"B {t} {counter} 0")
        counter += per_tag[t]
        lines.append(f"E {t} {counter} 0")
        counter += 17
    lines.append(f"X {counter} 1")
    return plugin.parse_log("\n".join(lines))


def test_emulated_timing_document_fields(tmp_path, monkeypatch):
    res, marker = _guest_run(tmp_path, monkeypatch, repeats=3)
    overhead_tags = [1000, 1001, 1002]
    gdoc = {"torch": "2.10.0+cpu", "python": "3.11.2", "omp_num_threads": "1",
            "vector": {"vector": "NEON 128-bit", "vector_bits": 128,
                       "torch_cpu_capability": "DEFAULT"},
            "overhead_tags": overhead_tags, "models": [res]}
    per_tag = {t: 5000 for t in overhead_tags}
    for o in res["ops"]:
        for k, t in enumerate(o.get("tags", [])):
            per_tag[t] = 5000 + 1000 * (o["index"] + 1) + k  # repeat k adds k instructions
    for t in res["forward"]["tags"]:
        per_tag[t] = 5000 + 123456
    log = _fake_log_for(gdoc, per_tag)
    doc = runner.build_document(gdoc, log, {"cpu": "cortex-a76", "qemu_version": "7.2.22",
                                            "plugin": "p.so", "wall_s": 1.0})
    timings.validate(doc)
    assert doc["emulated"] is True and doc["machine"]["emulated"] is True
    assert doc["emulation"]["cpu"] == "cortex-a76" and doc["machine"]["emulated_cpu"] == "cortex-a76"
    assert doc["machine"]["arch"] == "aarch64" and "QEMU" in doc["machine"]["cpu_model"]
    assert doc["emulation"]["vector"] == "NEON 128-bit"
    assert doc["emulation"]["marker_overhead_instructions"] == 5000
    m = doc["models"][0]
    assert m["emulated"] and "NOT aarch64 latency" in m["time_is"]
    assert m["forward_instructions"] == 123456
    by_name = {l["name"]: l for l in m["layers"]}
    first = by_name["0"]
    assert first["measured_ms"] is None  # emulated time is never reported as latency
    assert first["instructions_repeats"] == [1000, 1001, 1002]
    assert first["instructions"] == 1001
    assert first["instructions_spread_pct"] == pytest.approx(100 * 2 / 1001)
    assert first["emulated_ms"] is not None and first["madds"] == 3 * 8 * 9 * 16 * 16
    dup = by_name["6"]
    assert dup["same_replay_as"] == "3" and dup["instructions"] == by_name["3"]["instructions"]
    # round trip through the latency package's writer/reader
    path = tmp_path / "arm.json"
    timings.save(doc, path)
    back = timings.load(path)
    assert back["emulated"] is True and back["models"][0]["layers"][0]["instructions"] == 1001


def test_build_document_without_any_finished_model_is_an_error():
    with pytest.raises(runner.EmulationError, match="no model finished"):
        runner.build_document({"models": [{"model": "x", "error": "SIGILL"}]},
                              plugin.parse_log(""), {"cpu": "neoverse-n1"})


def test_compare_tables_from_a_document(tmp_path, monkeypatch):
    res, _ = _guest_run(tmp_path, monkeypatch)
    gdoc = {"vector": {}, "overhead_tags": [], "models": [res]}
    per_tag = {t: 100 * (i + 1) for i, t in enumerate(
        [t for o in res["ops"] for t in o.get("tags", [])] + res["forward"]["tags"])}
    doc = runner.build_document(gdoc, _fake_log_for(gdoc, per_tag), {"cpu": "neoverse-n1"})
    x86 = json.loads(json.dumps(doc))
    x86.pop("emulated")
    for l in x86["models"][0]["layers"]:
        l["measured_ms"] = 0.01
    df = layer_frame([doc], [x86])
    assert df["x86_ms"].notna().all()
    kt = kind_table(df)
    assert set(kt["kind"]) >= {"conv", "norm", "act"}
    assert kt["instr_share"].sum() == pytest.approx(1.0)
    assert kt["x86_time_share"].sum() == pytest.approx(1.0)
    conv = kt.set_index("kind").loc["conv"]
    assert conv["instr_per_madd"] == pytest.approx(conv["instr_M"] / conv["madds_M"])
    mt = model_table(df, [doc])
    assert len(mt) == 1 and mt["ops"].iloc[0] == len(res["ops"])
    ft = op_fit_table(df, min_layers=2)
    assert set(ft["per"]) <= {"madd", "MAC"} and (ft["fixed_instr"] >= 0).all()
    pt = predictor_table(distinct(df))
    assert len(pt) == 6 and (pt["layers"] == len(distinct(df))).all()
    assert len(distinct(df)) < len(df)  # the repeated conv is one distinct replay
    # two x86 files of the same model: the per-layer median
    x86b = json.loads(json.dumps(x86))
    for l in x86b["models"][0]["layers"]:
        l["measured_ms"] = 0.03
    df2 = layer_frame([doc], [x86, x86b])
    assert df2["x86_ms"].iloc[0] == pytest.approx(0.02) and df2["x86_runs"].iloc[0] == 2
    # a 2-thread run of the same model (as in a validation report's timings.json) is left out
    x86c = json.loads(json.dumps(x86b))
    x86c["models"][0]["threads"] = 2
    for l in x86c["models"][0]["layers"]:
        l["measured_ms"] = 5.0
    df3 = layer_frame([doc], [x86, x86c])
    assert df3["x86_ms"].iloc[0] == pytest.approx(0.01) and df3["x86_runs"].iloc[0] == 1


# ------------------------------------------------------------------------------- setup logic
class FakeShell:
    """Stands in for run_cmd: records commands and fakes their effects on the file system."""

    def __init__(self):
        self.calls = []

    def __call__(self, cmd, **kwargs):
        cmd = list(cmd)
        self.calls.append(cmd)
        out = ""
        if cmd[0] == "debootstrap":
            target = cmd[-2]
            arch = os.path.join(target, "var", "cache", "apt", "archives")
            os.makedirs(arch, exist_ok=True)
            for n in ("python3.11_arm64.deb", "libc6_arm64.deb"):
                open(os.path.join(arch, n), "w").close()
        elif cmd[0] == "sh":  # dpkg-deb | tar for one package
            target = cmd[-1]
            os.makedirs(os.path.join(target, "usr", "bin"), exist_ok=True)
            open(os.path.join(target, "usr", "bin", "python3"), "w").close()
        elif cmd[1:4] == ["-m", "pip", "download"]:
            dest = cmd[cmd.index("-d") + 1]
            torch_req = next(a for a in cmd if a.startswith("torch=="))
            ver = torch_req.split("==")[1]
            open(os.path.join(dest, f"torch-{ver}-cp311-cp311-manylinux_2_28_aarch64.whl"),
                 "w").close()
            for p in envmod.GUEST_PACKAGES:
                open(os.path.join(dest, f"{p.replace('-', '_')}-1.0-py3-none-any.whl"),
                     "w").close()
        elif cmd[1:4] == ["-m", "pip", "install"]:
            os.makedirs(cmd[cmd.index("--target") + 1], exist_ok=True)
        elif cmd[0].endswith("qemu-aarch64") and cmd[1] == "--version":
            out = "qemu-aarch64 version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\n"
        return subprocess.CompletedProcess(cmd, 0, stdout=out, stderr="")

    def count(self, prog):
        return sum(1 for c in self.calls if c[0] == prog or c[1:4] == ["-m", "pip", prog])


@pytest.fixture
def fake_shell(monkeypatch):
    sh = FakeShell()
    monkeypatch.setattr(envmod, "run_cmd", sh)
    monkeypatch.setattr(envmod, "which", lambda n: f"/usr/bin/{n}")
    monkeypatch.setattr(envmod, "is_root", lambda: True)
    return sh


def test_rootfs_setup_is_idempotent(tmp_path, fake_shell):
    env = envmod.ArmEnv(str(tmp_path / "cache"))
    info = envmod.ensure_rootfs(env, mirror="http://mirror.example/debian")
    assert not info["skipped"] and info["packages"] == 2
    assert envmod.rootfs_ready(env) and not os.path.exists(env.p("rootfs.partial"))
    deb = next(c for c in fake_shell.calls if c[0] == "debootstrap")
    assert "--foreign" in deb and "--arch=arm64" in deb and "--variant=minbase" in deb
    assert "--include=python3,python3-venv,python3-pip" in deb and deb[-1].endswith("/debian")
    # the downloaded .deb files were unpacked keeping the merged-/usr symlinks, then removed
    assert any("--keep-directory-symlink" in " ".join(c) for c in fake_shell.calls)
    n = len(fake_shell.calls)
    again = envmod.ensure_rootfs(env)
    assert again["skipped"] and len(fake_shell.calls) == n  # nothing ran the second time


def test_interrupted_rootfs_is_redone(tmp_path, fake_shell):
    env = envmod.ArmEnv(str(tmp_path / "cache"))
    os.makedirs(env.p("rootfs.partial", "junk"))
    os.makedirs(env.rootfs)  # a rootfs without its stamp (an earlier run died)
    assert not envmod.rootfs_ready(env)
    envmod.ensure_rootfs(env, mirror="http://mirror.example/debian")
    assert envmod.rootfs_ready(env) and not os.path.exists(env.p("rootfs.partial"))


def test_no_mirror_is_a_clear_error(tmp_path, fake_shell, monkeypatch):
    monkeypatch.setattr(envmod, "debian_mirror", lambda root="/etc/apt": None)
    with pytest.raises(envmod.SetupError, match="--mirror"):
        envmod.ensure_rootfs(envmod.ArmEnv(str(tmp_path / "cache")))
    assert fake_shell.calls == []


def test_site_setup_is_idempotent_per_torch_version(tmp_path, fake_shell):
    env = envmod.ArmEnv(str(tmp_path / "cache"))
    info = envmod.ensure_site(env, "2.10.0")
    assert not info["skipped"] and envmod.site_ready(env, "2.10.0")
    assert any(w.startswith("torch-2.10.0") for w in info["wheels"])
    dl = next(c for c in fake_shell.calls if c[1:4] == ["-m", "pip", "download"])
    assert "--no-deps" in dl and "manylinux_2_28_aarch64" in dl and "3.11" in dl
    assert fake_shell.count("download") == 1
    assert envmod.ensure_site(env, "2.10.0")["skipped"] and fake_shell.count("download") == 1
    # another torch version is a different site: set up again
    assert not envmod.ensure_site(env, "2.9.1")["skipped"] and fake_shell.count("download") == 2


def test_plugin_build_is_skipped_when_built(tmp_path, fake_shell):
    env = envmod.ArmEnv(str(tmp_path / "cache"))
    so = envmod.plugin_path(env, "7.2.22")
    os.makedirs(os.path.dirname(so))
    open(so, "w").close()
    info = envmod.ensure_plugin(env, "/usr/bin/qemu-aarch64", "7.2.22")
    assert info["skipped"] and fake_shell.calls == []


def test_ensure_all_second_run_runs_nothing(tmp_path, fake_shell, monkeypatch):
    env = envmod.ArmEnv(str(tmp_path / "cache"))
    monkeypatch.setattr(envmod, "host_can_compile", lambda: False)
    so = envmod.plugin_path(env, "7.2.22")
    os.makedirs(os.path.dirname(so))
    open(so, "w").close()
    first = envmod.ensure_all(env, qemu=None, mirror="http://mirror.example/debian")
    assert [s["step"] for s in first["steps"]] == ["rootfs", "site", "bytecode", "plugin"]
    before = [c for c in fake_shell.calls if "--version" not in c]
    second = envmod.ensure_all(env, qemu=None, mirror="http://mirror.example/debian")
    after = [c for c in fake_shell.calls if "--version" not in c]
    assert all(s["skipped"] for s in second["steps"]) and after == before
    assert envmod.status(env)["ready"]


def test_missing_qemu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(envmod, "which", lambda n: None)
    with pytest.raises(envmod.SetupError, match="apt-get install qemu-user"):
        envmod.find_qemu()
    monkeypatch.setattr(envmod, "which",
                        lambda n: "/usr/bin/qemu-aarch64-static" if n == "qemu-aarch64-static" else None)
    with pytest.raises(envmod.SetupError, match="cannot load TCG plugins"):
        envmod.find_qemu()
    with pytest.raises(envmod.SetupError, match="not found at"):
        envmod.find_qemu("/nonexistent/qemu-aarch64")


def test_missing_rootfs_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(envmod, "which", lambda n: f"/usr/bin/{n}")
    monkeypatch.setattr(envmod, "run_cmd", FakeShell())
    env = envmod.ArmEnv(str(tmp_path / "empty"))
    with pytest.raises(envmod.SetupError, match="costmodel arm setup"):
        envmod.require_ready(env)


def test_cli_without_rootfs_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(envmod, "which", lambda n: f"/usr/bin/{n}")
    monkeypatch.setattr(envmod, "run_cmd", FakeShell())
    rc = cli.run(["arm", "run", "mobilenet_v2_x0_35", "--no-setup", "--cache-dir",
                  str(tmp_path / "empty"), "--out", str(tmp_path / "x.json")])
    err = capsys.readouterr().err
    assert rc == 2 and "no aarch64 root filesystem" in err and "Traceback" not in err
    assert not (tmp_path / "x.json").exists()
    assert cli.run(["arm", "status", "--cache-dir", str(tmp_path / "empty")]) == 1


def test_cli_without_qemu_exits_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(envmod, "which", lambda n: None)
    rc = cli.run(["arm", "run", "mobilenet_v2_x0_35", "--no-setup", "--cache-dir", str(tmp_path)])
    assert rc == 2 and "qemu-aarch64 not found" in capsys.readouterr().err


def test_bad_cpu_models_are_refused(tmp_path, capsys):
    with pytest.raises(envmod.SetupError, match="SIGILL"):
        runner.check_cpu("cortex-a72")
    runner.check_cpu("neoverse-n1")
    runner.check_cpu("cortex-a76,sve=off")
    rc = cli.run(["arm", "run", "mobilenet_v2_x0_35", "--cpu", "cortex-a72", "--no-setup",
                  "--cache-dir", str(tmp_path)])
    assert rc == 2 and "SIGILL" in capsys.readouterr().err


def test_cache_dir_defaults_outside_the_repo(monkeypatch, tmp_path):
    monkeypatch.delenv("COSTMODEL_ARM_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert envmod.default_cache_dir() == str(tmp_path / "xdg" / "costmodel" / "arm")
    monkeypatch.setenv("COSTMODEL_ARM_CACHE", str(tmp_path / "c"))
    assert envmod.ArmEnv().cache_dir == str(tmp_path / "c")


def test_apt_sources_both_formats(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb [arch=amd64] http://mirror.one/debian bookworm main contrib\n"
        "deb-src http://mirror.one/debian bookworm main\n")
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://deb.two/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\n\nTypes: deb\nURIs: http://deb.two/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n\nTypes: deb\nEnabled: no\n"
        "URIs: http://off/debian\nSuites: x\nComponents: main\n")
    (tmp_path / "sources.list.d" / "other.list.disabled").write_text("deb http://x/debian y main\n")
    entries = envmod.apt_entries(str(tmp_path))
    assert ("http://mirror.one/debian", "bookworm", ["main", "contrib"]) in entries
    assert ("http://deb.two/debian", "bookworm-updates", ["main"]) in entries
    assert not any(u.startswith("http://off") or u.startswith("http://x/") for u, _, _ in entries)
    assert envmod.debian_mirror(str(tmp_path)) == "http://mirror.one/debian"
    assert envmod.debian_mirror(str(tmp_path / "none")) is None


def test_qemu_command_pins_cpu_and_plugin():
    env = envmod.ArmEnv("/c")
    cmd = runner.qemu_command("/usr/bin/qemu-aarch64", env, "neoverse-n1", ["-m", "x"],
                              plugin="/p.so", log="/l.txt", nice=10)
    assert cmd[:3] == ["nice", "-n", "10"]
    assert cmd[cmd.index("-cpu") + 1] == "neoverse-n1"
    assert cmd[cmd.index("-plugin") + 1] == "/p.so,out=/l.txt"
    assert cmd[cmd.index("-L") + 1] == "/c/rootfs" and "/c/rootfs/usr/bin/python3" in cmd
    genv = runner.guest_environment(env, "/c/src")
    assert genv["OMP_NUM_THREADS"] == "1" and genv["PYTHONPATH"] == "/c/site:/c/src"
    assert genv["COSTMODEL_EMULATED"] == "qemu-aarch64 -cpu neoverse-n1"
    assert "LD_LIBRARY_PATH" not in genv


# ------------------------------------------------------------------------------- real emulation
@pytest.mark.skipif(os.environ.get("COSTMODEL_ARM_SMOKE") != "1",
                    reason="set COSTMODEL_ARM_SMOKE=1 (needs root, qemu-user, debootstrap, gcc, "
                           "network; about 2-4 minutes the first time)")
def test_smoke_emulated_run(tmp_path):
    """Sets up the aarch64 userland (idempotent) and counts a tiny model's layers."""
    out = tmp_path / "arm.json"
    assert cli.run(["arm", "setup"]) == 0
    assert cli.run(["arm", "run", "mobilenet_v2_x0_35", "-i", "1x3x32x32", "--out", str(out)]) == 0
    doc = timings.load(out)
    assert doc["emulated"] is True and doc["emulation"]["cpu"] == "neoverse-n1"
    assert doc["emulation"]["vcpus_seen"] == 1 and doc["emulation"]["plugin_complete"]
    m = doc["models"][0]
    assert m["input_shape"] == [1, 3, 32, 32] and m["replay_errors"] == 0
    convs = [l for l in m["layers"] if l["kind"] in ("conv", "pointwise_conv")
             and "same_replay_as" not in l]
    assert convs and all(l["instructions"] > 0 for l in convs)
    assert max(l["instructions_spread_pct"] for l in convs) < 2.0
    assert m["forward_instructions_spread_pct"] < 0.5
    assert abs(m["layer_sum_vs_forward_pct"]) < 25


def test_document_from_a_killed_run_lists_unfinished_models(tmp_path, monkeypatch):
    res, _ = _guest_run(tmp_path, monkeypatch)
    gdoc = {"vector": {}, "overhead_tags": [], "models": [res]}
    tags = [t for o in res["ops"] for t in o.get("tags", [])] + res["forward"]["tags"]
    run = tmp_path / "run"
    run.mkdir()
    (run / "guest.json").write_text(json.dumps(gdoc))
    lines = []
    for i, t in enumerate(tags):
        lines += [f"B {t} {1000 * i} 0", f"E {t} {1000 * i + 500} 0"]
    (run / "plugin.log").write_text("\n".join(lines) + "\n")  # no X line: killed
    (run / "spec.json").write_text(json.dumps({"models": [{"model": res["model"]},
                                                          {"model": "resnet50"}]}))
    (run / "meta.json").write_text(json.dumps({"cpu": "neoverse-n1", "exit_code": -9}))
    doc = runner.document_from_run_dir(str(run), str(tmp_path / "out.json"))
    assert [m["name"] for m in doc["models"]] == [res["model"]]
    assert "resnet50" in doc["emulation"]["failed_models"]
    assert doc["emulation"]["plugin_complete"] is False
    assert timings.load(tmp_path / "out.json")["emulated"] is True
    with pytest.raises(runner.EmulationError, match="no guest.json"):
        runner.document_from_run_dir(str(tmp_path / "nothing"))


def test_compare_cli_rejects_non_emulated_and_bad_files(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert cli.run(["arm", "compare", str(bad)]) == 2
    assert "not a costmodel timing file" in capsys.readouterr().err
    doc = {"format": "costmodel-timings", "version": 1, "machine": {"cpu_model": "x"},
           "models": [{"name": "m", "input_shape": [1, 3, 8, 8], "threads": 1, "total_ms": 1.0,
                       "total_ms_spread": {}, "layers": []}]}
    x86 = tmp_path / "x86.json"
    x86.write_text(json.dumps(doc))
    assert cli.run(["arm", "compare", str(x86)]) == 2
    assert "not an emulated run" in capsys.readouterr().err


def test_merge_keeps_each_model_once_and_refuses_other_setups(tmp_path, monkeypatch):
    res, _ = _guest_run(tmp_path, monkeypatch)
    gdoc = {"vector": {"vector": "NEON 128-bit"}, "overhead_tags": [], "models": [res]}
    tags = [t for o in res["ops"] for t in o.get("tags", [])] + res["forward"]["tags"]
    log = _fake_log_for(gdoc, {t: 100 for t in tags})
    a = runner.build_document(gdoc, log, {"cpu": "neoverse-n1", "qemu_version": "7.2.22"})
    b = json.loads(json.dumps(a))
    b["models"][0]["name"] = "other"
    merged = runner.merge_documents([a, b, a])
    assert [m["name"] for m in merged["models"]] == [res["model"], "other"]
    assert [m["run"] for m in merged["models"]] == [0, 1] and len(merged["emulation"]["runs"]) == 3
    c = json.loads(json.dumps(a))
    c["emulation"]["cpu"] = "a64fx"
    with pytest.raises(runner.EmulationError, match="differ in cpu"):
        runner.merge_documents([a, c])
    p1, p2 = tmp_path / "a.json", tmp_path / "b.json"
    timings.save(a, p1)
    timings.save(b, p2)
    assert cli.run(["arm", "merge", str(p1), str(p2), "--out", str(tmp_path / "m.json")]) == 0
    assert len(timings.load(tmp_path / "m.json")["models"]) == 2
