"""Run costmodel under ``qemu-aarch64`` with the counting plugin and write an emulated timing file.

:func:`run_emulated` stages the costmodel package into the cache, writes a spec, runs
``python3 -m costmodel.cli.arm_guest`` in the aarch64 userland under QEMU (``OMP_NUM_THREADS=1``,
pinned ``-cpu``, the plugin logging the instruction counter at every marker), then merges the
guest's op list with the plugin's counts (:func:`build_document`).

The result is a ``costmodel-timings`` file (:mod:`costmodel.latency.timings`) marked
``"emulated": true`` at the top level, in ``machine`` and in every model, whose per-layer
``measured_ms`` are ``null``: QEMU's time per guest instruction varies 30-fold with the
instruction mix, so emulated wall time is *not* aarch64 latency.  What the file carries per layer
is ``instructions`` (median executed aarch64 instructions of the op replayed alone, the markers'
own cost subtracted), ``instructions_spread_pct`` ((max - min) / median over the repeats),
``instructions_repeats``, the formula counts (``madds``, ``flops``, ``mac``) and, for reference
only, ``emulated_ms``.  ``total_ms`` (required by the format) is the emulated wall time of a
whole forward pass and is labelled as such in ``time_is``.
"""
from __future__ import annotations

import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional, Sequence

from costmodel import fileio
from costmodel.arm import environment as envmod
from costmodel.arm.plugin import PluginLog, read_log
from costmodel.latency import checks, files
from costmodel.latency.timings import nan_to_null

TIME_IS = ("emulated wall time of QEMU user mode on the x86-64 host, NOT aarch64 latency "
           "(QEMU spends 1.7-49 ns per guest instruction depending on the mix); use "
           "'instructions' per layer")


class EmulationError(RuntimeError):
    """The emulated run failed (the message has the end of its output)."""


def stage_source(env: envmod.ArmEnv, root: Optional[str] = None) -> str:
    """Copy this costmodel package to ``ROOT/costmodel`` (default ``CACHE/src``): what the guest
    imports (never the repository itself, so no aarch64 run writes into it)."""
    import costmodel

    root = root or env.src
    pkg = os.path.dirname(os.path.abspath(costmodel.__file__))
    dest = os.path.join(root, "costmodel")
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(pkg, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.so"))
    if envmod.host_can_compile():
        envmod.run_cmd(envmod.compile_command([dest]))
    return root


def set_cpu_identity(env: envmod.ArmEnv, cpu: str):
    """A sysfs MIDR_EL1 file in the rootfs for the emulated core (oneDNN reads it to name the
    core; QEMU user mode passes the host's /sys through otherwise)."""
    d = os.path.join(env.rootfs, "sys", "devices", "system", "cpu", "cpu0", "regs", "identification")
    midr = envmod.CPUS.get(cpu.split(",")[0], {}).get("midr")
    path = os.path.join(d, "midr_el1")
    if midr is None:
        if os.path.exists(path):
            os.remove(path)
        return
    os.makedirs(d, exist_ok=True)
    with open(path, "w") as f:
        f.write(f"0x{midr:016x}\n")


def guest_environment(env: envmod.ArmEnv, src: str, threads: int = 1,
                      cpu: str = envmod.DEFAULT_CPU) -> Dict[str, str]:
    """A clean environment for the guest (no host LD_LIBRARY_PATH/PYTHONHOME leaking in).

    ``COSTMODEL_EMULATED`` tells code in the guest that it runs under QEMU: QEMU user mode shows
    the guest the *host's* /proc/cpuinfo, so a machine description taken inside reads an x86 CPU
    name with ``arch`` aarch64."""
    return {"COSTMODEL_EMULATED": f"qemu-aarch64 -cpu {cpu}", "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8", "PYTHONPATH": f"{env.site}:{src}", "PYTHONNOUSERSITE": "1", "OMP_NUM_THREADS": str(threads),
            "OPENBLAS_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
            "TQDM_DISABLE": "1"}


def qemu_command(qemu: str, env: envmod.ArmEnv, cpu: str, args: Sequence[str],
                 plugin: Optional[str] = None, log: Optional[str] = None,
                 nice: int = 10) -> List[str]:
    cmd = ["nice", "-n", str(nice)] if nice and shutil.which("nice") else []
    cmd += [qemu, "-cpu", cpu]
    if plugin:
        cmd += ["-plugin", f"{plugin},out={log}"]
    return cmd + ["-L", env.rootfs, env.python, *args]


def check_cpu(cpu: str):
    base = cpu.split(",")[0]
    if base in envmod.BAD_CPUS:
        raise envmod.SetupError(f"-cpu {base}: {envmod.BAD_CPUS[base]}; use neoverse-n1 or "
                                f"cortex-a76")


def run_emulated(models: Sequence[str], inputs: Sequence[Optional[str]], out: Optional[str],
                 env: Optional[envmod.ArmEnv] = None, cpu: str = envmod.DEFAULT_CPU,
                 repeats: int = 3, forward_repeats: int = 2, qemu: Optional[str] = None,
                 torch_version: str = envmod.DEFAULT_TORCH, setup: bool = True,
                 timeout_s: Optional[float] = None, nice: int = 10,
                 echo: bool = True) -> dict:
    """Emulate ``models`` and return (and, with ``out``, save) the emulated timing document."""
    from costmodel.sources import default_input_shape

    env = env or envmod.ArmEnv()
    check_cpu(cpu)
    if setup:
        info = envmod.ensure_all(env, qemu, torch_version)
        q, qv, so = info["qemu"], info["qemu_version"], info["plugin"]
    else:
        st = envmod.require_ready(env, qemu, torch_version)
        q, qv, so = st["qemu"], st["qemu_version"], st["plugin"]
    stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"
    run_dir = os.path.join(env.runs, stamp)
    os.makedirs(run_dir, exist_ok=True)
    src = stage_source(env, os.path.join(run_dir, "src"))
    set_cpu_identity(env, cpu)
    spec = {"models": [{"model": m, "input": i or "x".join(map(str, default_input_shape(m)))} for m, i in zip(models, inputs)],
            "repeats": int(repeats), "forward_repeats": int(forward_repeats)}
    spec_path, guest_out, log = (os.path.join(run_dir, n) for n in
                                 ("spec.json", "guest.json", "plugin.log"))
    files.write_json(spec_path, spec)
    meta = {"cpu": cpu, "qemu": q, "qemu_version": qv, "plugin": os.path.basename(so),
            "run_dir": run_dir, "rootfs": env.read_stamp(os.path.join(env.rootfs, envmod.STAMP_ROOTFS))}
    files.write_json(os.path.join(run_dir, "meta.json"), meta)
    cmd = qemu_command(q, env, cpu, ["-m", "costmodel.cli.arm_guest", "--spec", spec_path,
                                     "--out", guest_out], so, log, nice)
    t0 = time.time()
    with open(os.path.join(run_dir, "output.txt"), "w") as console:
        try:
            proc = subprocess.Popen(cmd, env=guest_environment(env, src, cpu=cpu), stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, cwd=run_dir)
        except OSError as exc:
            raise EmulationError(f"could not start {cmd[0]}: {exc}") from None
        lines: List[str] = []
        timer = threading.Timer(timeout_s, proc.kill) if timeout_s else None
        if timer:
            timer.start()
        try:
            for line in proc.stdout:
                console.write(line)
                lines.append(line)
                if echo and line.startswith("[guest]"):
                    print(line.rstrip(), file=sys.stderr, flush=True)
            rc = proc.wait()
            if timer:
                timer.cancel()
        except KeyboardInterrupt:
            proc.kill()
            raise
        finally:
            proc.stdout.close()
    wall = time.time() - t0
    if not os.path.isfile(guest_out):
        raise EmulationError(f"the emulated run wrote no result (exit {rc}); see "
                             f"{run_dir}/output.txt: {''.join(lines[-8:]).strip()[-800:]}")
    meta.update({"wall_s": round(wall, 1), "exit_code": rc})
    files.write_json(os.path.join(run_dir, "meta.json"), meta)
    return document_from_run_dir(run_dir, out)


def document_from_run_dir(run_dir: str, out: Optional[str] = None) -> dict:
    """Build (and save) the emulated timing document from a run folder (also one whose emulator
    was killed: the guest saves its results after every model)."""
    paths = {n: os.path.join(run_dir, n) for n in ("guest.json", "plugin.log", "meta.json")}
    if not os.path.exists(paths["guest.json"]):
        raise EmulationError(f"{run_dir} has no guest.json (no model finished)")
    guest = check_guest(files.read_json(paths["guest.json"], EmulationError), paths["guest.json"])
    meta = {}
    if os.path.exists(paths["meta.json"]):
        meta = _json_object(paths["meta.json"])
    spec_path = os.path.join(run_dir, "spec.json")
    if os.path.exists(spec_path):  # models the emulator never finished (killed, crashed)
        wanted = [m["model"] for m in _models_of(_json_object(spec_path), spec_path)]
        done = {m.get("model") for m in guest.get("models", [])}
        for name in wanted:
            if name not in done:
                guest.setdefault("models", []).append(
                    {"model": name, "error": f"not finished: the emulator exited with code "
                                             f"{meta.get('exit_code')}"})
    doc = build_document(guest, read_log(paths["plugin.log"]), meta)
    if out:
        from costmodel.latency import timings
        fileio.write_text(out, json.dumps(timings.validate(doc), indent=1, allow_nan=False) + "\n")
    return doc


def _json_object(path: str) -> dict:
    doc = files.read_json(path, EmulationError)
    if not isinstance(doc, dict):
        raise EmulationError(f"{path}: expected a JSON object, got {checks.show(doc)}")
    return doc


def _models_of(doc: dict, path: str) -> list:
    models = doc.get("models", [])
    if not isinstance(models, list):
        raise EmulationError(f"{path}: models: expected a list, got {checks.show(models)}")
    for i, m in enumerate(models):
        if not (isinstance(m, dict) and isinstance(m.get("model"), str)):
            raise EmulationError(f"{path}: models[{i}]: expected an object with a \"model\" name, "
                                 f"got {checks.show(m)}")
    return models


def _tags_and_times(obj: dict, where: str) -> None:
    for key in ("tags", "emulated_s"):
        v = obj.get(key, [])
        if not isinstance(v, list):
            raise EmulationError(f"{where}.{key}: expected a list, got {checks.show(v)}")
        for i, e in enumerate(v):
            if key == "tags" and not checks.is_int(e):
                raise EmulationError(f"{where}.tags[{i}]: expected an integer tag, got "
                                     f"{checks.show(e)}")
            if key == "emulated_s":
                checks.number(e, f"{where}.emulated_s[{i}]", EmulationError, hi=1e7)


def check_guest(guest, path: str) -> dict:
    """The guest's result file (``guest.json``, :func:`costmodel.arm.guest.main`): the fields
    :func:`build_document` reads, with their types and non-negative counts and times; anything
    else raises :class:`EmulationError` naming the file and the field."""
    if not isinstance(guest, dict):
        raise EmulationError(f"{path}: expected a JSON object, got {checks.show(guest)}")
    for key in ("overhead_tags", "overhead_tags_after"):
        _tags_and_times({"tags": guest.get(key, [])}, f"{path}: {key}")
    if not isinstance(guest.get("vector") or {}, dict):
        raise EmulationError(f"{path}: vector: expected an object, got {checks.show(guest['vector'])}")
    for i, g in enumerate(_models_of(guest, path)):
        where = f"{path}: models[{i}]"
        if "ops" not in g:
            continue
        shape = g.get("input_shape")
        if not (isinstance(shape, list) and shape and all(checks.is_int(d) and d > 0 for d in shape)):
            raise EmulationError(f"{where}.input_shape: expected a list of positive integers, got "
                                 f"{checks.show(shape)}")
        if not isinstance(g.get("forward", {}), dict) or not isinstance(g["ops"], list):
            raise EmulationError(f"{where}: 'forward' must be an object and 'ops' a list")
        _tags_and_times(g.get("forward", {}), f"{where}.forward")
        if "wall_s" in g:
            checks.number(g["wall_s"], f"{where}.wall_s", EmulationError, hi=1e9)
        indices = set()
        for j, op in enumerate(g["ops"]):
            ow = f"{where}.ops[{j}]"
            if not isinstance(op, dict) or not checks.is_int(op.get("index")) or not all(
                    isinstance(op.get(k), str) for k in ("name", "kind", "op")):
                raise EmulationError(f"{ow}: expected an object with an integer 'index' and "
                                     f"'name', 'kind', 'op' strings, got {checks.show(op)}")
            for k in ("madds", "flops", "mac", "mac_bytes"):
                if not (checks.is_int(op.get(k)) and op[k] >= 0):
                    raise EmulationError(f"{ow}.{k}: expected a non-negative integer, got "
                                         f"{checks.show(op.get(k))}")
            if "same_as" in op and not (checks.is_int(op["same_as"]) and op["same_as"] in indices):
                raise EmulationError(f"{ow}.same_as: expected the index of an earlier op, got "
                                     f"{checks.show(op['same_as'])}")
            _tags_and_times(op, ow)
            indices.add(op["index"])
    return guest


# ------------------------------------------------------------------------------------------------
def _median_int(xs: Sequence[int]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def _spread_pct(xs: Sequence[float]) -> Optional[float]:
    if len(xs) < 2:
        return None
    m = statistics.median(xs)
    return 100.0 * (max(xs) - min(xs)) / m if m > 0 else None


def build_document(guest: dict, log: PluginLog, meta: dict) -> dict:
    """Merge the guest's op list with the plugin's counts into a ``costmodel-timings`` document."""
    from costmodel.latency.timings import FORMAT, VERSION, validate

    over_tags = list(guest.get("overhead_tags", [])) + list(guest.get("overhead_tags_after", []))
    over = [log.counts[t] for t in over_tags if t in log.counts]
    overhead = int(statistics.median(over)) if over else 0
    cpu = meta.get("cpu", envmod.DEFAULT_CPU)
    base = cpu.split(",")[0]
    vec = guest.get("vector", {}) or {}
    machine = {
        "cpu_model": f"{base} (QEMU {meta.get('qemu_version', '?')} user-mode emulation)",
        "arch": "aarch64", "isa": list(envmod.CPUS.get(base, {}).get("isa", [])),
        "torch_cpu_capability": vec.get("torch_cpu_capability"),
        "vector": vec.get("vector"), "vector_bits": vec.get("vector_bits"),
        "torch": guest.get("torch", "?"), "python": guest.get("python"), "threads": 1,
        "emulated": True, "emulator": "qemu-aarch64", "emulated_cpu": cpu,
        "os": "Debian " + str((meta.get("rootfs") or {}).get("suite", "bookworm")) + " arm64",
    }
    models = []
    for g in guest.get("models", []):
        if "error" in g and "ops" not in g:
            continue
        models.append(_model_entry(g, log, overhead))
    if not models:
        errs = "; ".join(f"{g.get('model')}: {g.get('error')}" for g in guest.get("models", []))
        raise EmulationError(f"no model finished under emulation ({errs or 'no models'})")
    doc = {
        "format": FORMAT, "version": VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "emulated": True,
        "emulation": {
            "emulator": "qemu-aarch64 (user mode, TCG)", "qemu_version": meta.get("qemu_version"),
            "cpu": cpu, "vector": vec.get("vector"), "vector_bits": vec.get("vector_bits"),
            "plugin": meta.get("plugin"), "omp_num_threads": guest.get("omp_num_threads"),
            "marker_overhead_instructions": overhead,
            "marker_overhead_spread": [min(over), max(over)] if over else None,
            "vcpus_seen": log.vcpus, "plugin_complete": log.complete,
            "total_instructions": log.total, "wall_s": meta.get("wall_s"),
            "guest_import_s": guest.get("import_s"), "time_is": TIME_IS,
            "instructions_are": "executed aarch64 instructions of each op replayed alone on the "
                                "guest's single thread (median of the repeats, marker cost "
                                "subtracted), counted by a QEMU TCG plugin",
        },
        "machine": machine, "models": models,
    }
    failed = [g.get("model") for g in guest.get("models", []) if "error" in g and "ops" not in g]
    if failed:
        doc["emulation"]["failed_models"] = {g["model"]: g["error"] for g in guest["models"]
                                             if "error" in g and "ops" not in g}
    return validate(nan_to_null(doc))


def _model_entry(g: dict, log: PluginLog, overhead: int) -> dict:
    ops = g["ops"]
    first = {op["index"]: op for op in ops if "same_as" not in op}
    layers = []
    for op in ops:
        src = first.get(op.get("same_as", op["index"]), op)
        counts = [max(0, log.counts[t] - overhead) for t in src.get("tags", []) if t in log.counts]
        em = [1e3 * s for s in src.get("emulated_s", [])]
        layer = {"name": op["name"], "kind": op["kind"], "measured_ms": None, "op": op["op"],
                 "madds": op["madds"], "flops": op["flops"], "mac": op["mac"],
                 "mac_bytes": op["mac_bytes"], "in_shape": op.get("in_shape"),
                 "out_shape": op.get("out_shape"),
                 "instructions": _median_int(counts) if counts else None,
                 "instructions_spread_pct": _spread_pct(counts),
                 "instructions_repeats": counts,
                 "emulated_ms": statistics.median(em) if em else None}
        if "same_as" in op:
            layer["same_replay_as"] = first[op["same_as"]]["name"] if op["same_as"] in first else None
        if "error" in src:
            layer["error"] = src["error"]
        layers.append(layer)
    fwd = g.get("forward", {})
    fwd_counts = [max(0, log.counts[t] - overhead) for t in fwd.get("tags", []) if t in log.counts]
    fwd_ms = [1e3 * s for s in fwd.get("emulated_s", [])]
    total_ms = statistics.median(fwd_ms) if fwd_ms else 1e3 * g.get("wall_s", 1.0)
    inst = [l["instructions"] for l in layers if l["instructions"] is not None]
    layer_sum = float(sum(inst)) if inst else None
    fwd_inst = _median_int(fwd_counts) if fwd_counts else None
    return {
        "name": g["model"], "input_shape": list(g["input_shape"]), "threads": 1,
        "emulated": True, "time_is": TIME_IS,
        "total_ms": total_ms,
        "total_ms_spread": {"min": min(fwd_ms) if fwd_ms else None,
                            "max": max(fwd_ms) if fwd_ms else None, "runs": len(fwd_ms),
                            "repeat_medians": fwd_ms,
                            "repeat_spread_pct": _spread_pct(fwd_ms)},
        "layer_sum_ms": None,
        "forward_instructions": fwd_inst,
        "forward_instructions_spread_pct": _spread_pct(fwd_counts),
        "forward_instructions_repeats": fwd_counts,
        "layer_sum_instructions": layer_sum,
        "layer_sum_vs_forward_pct": (100.0 * (layer_sum - fwd_inst) / fwd_inst
                                     if layer_sum and fwd_inst else None),
        "madds": int(sum(l["madds"] for l in layers)), "mac": int(sum(l["mac"] for l in layers)),
        "repeats": g.get("repeats"), "emulation_wall_s": g.get("wall_s"),
        "trace_s": g.get("trace_s"),
        "replay_errors": sum(1 for l in layers if "error" in l),
        "layers": layers,
    }


def merge_documents(docs: Sequence[dict]) -> dict:
    """One emulated timing document from several runs of the same set-up (same emulated CPU,
    vector length, QEMU and torch).  A model (name and input shape) seen in several runs is kept
    from the first; each model says which run it comes from (``run``, an index into
    ``emulation.runs``)."""
    from costmodel.latency.timings import validate

    if not docs:
        raise EmulationError("nothing to merge")
    key = ("cpu", "vector", "qemu_version")
    first = docs[0]
    for d in docs:
        if not d.get("emulated"):
            raise EmulationError("only emulated timing files (costmodel arm run) can be merged")
        if not isinstance(d.get("emulation"), dict):
            raise EmulationError("an emulated timing file without its \"emulation\" object "
                                 "cannot be merged")
        diff = [k for k in key if d["emulation"].get(k) != first["emulation"].get(k)]
        if d["machine"].get("torch") != first["machine"].get("torch"):
            diff.append("torch")
        if diff:
            raise EmulationError(f"cannot merge runs that differ in {', '.join(diff)}")
    out = json.loads(json.dumps(first))
    out["emulation"] = {k: v for k, v in first["emulation"].items()}
    out["emulation"]["runs"] = []
    out["models"] = []
    seen = set()
    for i, d in enumerate(docs):
        run = {k: v for k, v in d["emulation"].items() if k != "runs"}
        run["created"] = d.get("created")
        out["emulation"]["runs"].append(run)
        for m in d["models"]:
            k = (m["name"], tuple(m["input_shape"]))
            if k in seen:
                continue
            seen.add(k)
            m = dict(m)
            m["run"] = i
            out["models"].append(m)
    for k in ("wall_s", "total_instructions", "marker_overhead_instructions",
              "marker_overhead_spread", "failed_models", "guest_import_s", "vcpus_seen",
              "plugin_complete"):
        out["emulation"].pop(k, None)
    out["emulation"]["wall_s_all_runs"] = round(sum(r.get("wall_s") or 0 for r in
                                                    out["emulation"]["runs"]), 1)
    return validate(out)


def exec_in_guest(argv: Sequence[str], env: Optional[envmod.ArmEnv] = None,
                  cpu: str = envmod.DEFAULT_CPU, qemu: Optional[str] = None,
                  torch_version: str = envmod.DEFAULT_TORCH, threads: int = 1,
                  nice: int = 10) -> int:
    """Run ``python3 -m costmodel.cli ARGV`` (any costmodel command) in the aarch64 userland
    without the plugin; files it writes outside the rootfs land on the host unchanged."""
    env = env or envmod.ArmEnv()
    check_cpu(cpu)
    st = envmod.require_ready(env, qemu, torch_version)
    src = stage_source(env)
    set_cpu_identity(env, cpu)
    cmd = qemu_command(st["qemu"], env, cpu, ["-m", "costmodel.cli", *argv], nice=nice)
    return subprocess.call(cmd, env=guest_environment(env, src, threads, cpu))
