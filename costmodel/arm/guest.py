"""The part that runs *inside* the emulator (aarch64 Python): replay every op between markers.

``python -m costmodel.cli.arm_guest --spec SPEC.json --out OUT.json``, i.e. :func:`run` (run
by :mod:`costmodel.arm.runner` under ``qemu-aarch64`` with the counting plugin), traces each model of
the spec, replays each op in isolation (the latency package's replay: module ops run the model's
own module on random inputs of the recorded shapes and strides, functional ops call the traced
function on rebuilt arguments) and brackets every replay with marker system calls
(:mod:`costmodel.arm.plugin`).  Ops with the same replay signature (same kernel, same shapes) are
counted once and share the result.  It also brackets a few whole forward passes, and empty marker
pairs (the fixed cost of the markers themselves, subtracted by the host).

This file writes what it did (ops, their formula counts, the tags of their replays, emulated wall
times) to ``OUT.json``; the instruction counts are in the plugin's log, which the host merges.
Nothing here needs the plugin: outside QEMU the marker system call just fails with ``ENOSYS``.
Only the standard library, torch and costmodel are imported, so this also runs on a real ARM
board.
"""
from __future__ import annotations

import ctypes
import gc
import json
import os
import platform
import time
import traceback
import warnings
from typing import Dict, List

from costmodel import fileio

from costmodel.arm.plugin import BEGIN, END, MARKER_SYSCALL


class Marker:
    """``with marker.op(tag): ...`` brackets a region with the marker system calls."""

    def __init__(self, number: int = MARKER_SYSCALL):
        self.number = ctypes.c_long(number)
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            self._syscall = libc.syscall
            self._syscall.restype = ctypes.c_long
        except (OSError, AttributeError):  # no libc syscall(): markers are no-ops
            self._syscall = None
        self._begin, self._end = ctypes.c_long(BEGIN), ctypes.c_long(END)
        self.next_tag = 0

    def new_tag(self) -> int:
        t = self.next_tag
        self.next_tag += 1
        return t

    def begin(self, tag: int):
        if self._syscall is not None:
            self._syscall(self.number, self._begin, ctypes.c_long(tag))

    def end(self, tag: int):
        if self._syscall is not None:
            self._syscall(self.number, self._end, ctypes.c_long(tag))


def vector_info() -> Dict[str, object]:
    """What the (emulated) CPU offers torch's kernels: NEON only or SVE and its vector length."""
    info: Dict[str, object] = {"machine": platform.machine()}
    try:
        import torch
        info["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    except Exception:
        info["torch_cpu_capability"] = None
    hwcap = None
    try:
        libc = ctypes.CDLL(None)
        libc.getauxval.restype = ctypes.c_ulong
        hwcap = int(libc.getauxval(ctypes.c_ulong(16)))  # AT_HWCAP
    except Exception:
        pass
    info["hwcap"] = hwcap
    sve = bool(hwcap is not None and platform.machine() == "aarch64" and hwcap & (1 << 22))
    info["sve"] = sve
    vl_bits = 128 if platform.machine() == "aarch64" else None
    if sve:
        try:
            libc = ctypes.CDLL(None)
            r = libc.prctl(51, 0, 0, 0, 0)  # PR_SVE_GET_VL
            if r > 0:
                vl_bits = (r & 0xFFFF) * 8
        except Exception:
            pass
    info["vector_bits"] = vl_bits
    info["vector"] = (f"SVE {vl_bits}-bit" if sve else "NEON 128-bit") \
        if platform.machine() == "aarch64" else platform.machine()
    return info


def marker_overhead(marker: Marker, n: int = 9) -> List[int]:
    """Tags of ``n`` empty marker pairs (their count is the markers' own cost)."""
    tags = []
    for _ in range(n):
        t = marker.new_tag()
        marker.begin(t)
        marker.end(t)
        tags.append(t)
    return tags


def run_model(spec: dict, marker: Marker, repeats: int, forward_repeats: int) -> dict:
    import torch
    from costmodel import analyze
    from costmodel.analysis import parse_shape
    from costmodel.sources import load_model

    t_start = time.perf_counter()
    name = spec["model"]
    shape = parse_shape(spec["input"])
    model = load_model(name)
    model.eval()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = analyze(model, shape, warn=False)
    trace_s = time.perf_counter() - t0
    graph = report.graph
    layers = report.layers.iloc[:len(graph.ops)]
    ops, by_sig = [], {}
    out = {"model": name, "input_shape": list(shape), "trace_s": trace_s, "ops": ops,
           "threads": torch.get_num_threads(), "repeats": repeats}
    gc.collect()
    gc_was = gc.isenabled()
    gc.disable()  # no collection inside a counted region
    try:
        _counted(model, shape, graph, layers, ops, by_sig, out, marker, repeats, forward_repeats)
    finally:
        if gc_was:
            gc.enable()
    out["wall_s"] = time.perf_counter() - t_start
    return out


def _counted(model, shape, graph, layers, ops, by_sig, out, marker, repeats, forward_repeats):
    import torch
    from costmodel.latency.replay import build_replay, replay_signature, threads_pinned

    with threads_pinned(1), torch.inference_mode():
        # whole forward passes (first one warms up: allocations, kernel selection)
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
        t0 = time.perf_counter()
        model(x)
        fwd = {"warmup_emulated_s": time.perf_counter() - t0, "tags": [], "emulated_s": []}
        for _ in range(forward_repeats):
            tag = marker.new_tag()
            t0 = time.perf_counter()
            marker.begin(tag)
            model(x)
            marker.end(tag)
            fwd["emulated_s"].append(time.perf_counter() - t0)
            fwd["tags"].append(tag)
        out["forward"] = fwd
        del x
        t_ops = time.perf_counter()
        for rec, row in zip(graph.ops, layers.itertuples(index=False)):
            entry = {"index": rec.index, "name": rec.name, "op": rec.op, "kind": row.kind,
                     "madds": int(row.madds), "flops": int(row.flops), "mac": int(row.mac),
                     "mac_bytes": int(row.mac_bytes), "in_shape": row.in_shape,
                     "out_shape": row.out_shape}
            sig = replay_signature(rec)
            if sig in by_sig:
                entry["same_as"] = by_sig[sig]
                ops.append(entry)
                continue
            by_sig[sig] = rec.index
            entry["tags"], entry["emulated_s"] = [], []
            try:
                rp = build_replay(rec)
                rp.fn()  # warm-up, not counted
                for _ in range(repeats):
                    tag = marker.new_tag()
                    t0 = time.perf_counter()
                    marker.begin(tag)
                    rp.fn()
                    marker.end(tag)
                    entry["emulated_s"].append(time.perf_counter() - t0)
                    entry["tags"].append(tag)
                del rp
            except Exception as exc:  # an op that cannot be replayed is reported, not fatal
                entry["error"] = f"{type(exc).__name__}: {exc}"
            ops.append(entry)
        out["ops_emulated_s"] = time.perf_counter() - t_ops


def run(spec_path: str, out_path: str) -> int:
    """Count every model of the spec (JSON: ``{models: [{model, input}], repeats, ...}``) and
    write what was done to ``out_path`` (after each model); 0, or 1 when a model failed."""
    t_start = time.perf_counter()
    spec = fileio.read_json(spec_path)  # written by the host's runner
    import torch

    marker = Marker(int(spec.get("marker", MARKER_SYSCALL)))
    result = {"format": "costmodel-arm-guest/1", "python": platform.python_version(),
              "torch": torch.__version__, "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
              "vector": vector_info(), "import_s": time.perf_counter() - t_start,
              "overhead_tags": marker_overhead(marker), "models": []}
    status = 0

    def save():  # atomic: a run killed while saving keeps the previous, complete file
        fileio.write_text(out_path, json.dumps(result))

    for m in spec["models"]:
        try:
            result["models"].append(run_model(m, marker, int(spec.get("repeats", 3)),
                                              int(spec.get("forward_repeats", 2))))
        except Exception as exc:
            traceback.print_exc()
            result["models"].append({"model": m["model"], "error": f"{type(exc).__name__}: {exc}"})
            status = 1
        result.setdefault("overhead_tags_after", []).extend(marker_overhead(marker, 3))
        save()  # after each model, so a killed run keeps what it finished
        print(f"[guest] {m['model']} done after {time.perf_counter() - t_start:.0f}s", flush=True)
    save()
    return status
