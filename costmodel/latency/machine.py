"""Describe the machine a timing was taken on: CPU model, ISA extensions, cores, torch, threads.

Every measured or calibrated number is stored with this description, because latency only means
something for one machine, one torch build and one thread count.  Nothing here may fail: on
machines without ``/proc/cpuinfo`` (macOS, some ARM boards, Windows) the fields come from
:mod:`platform` / ``sysctl`` or are left ``None``.
"""
from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
from typing import Dict, List, Optional

from costmodel.latency import allocator

#: ISA extensions that matter for CNN kernels (x86 vector/matrix units, ARM NEON/SVE/dot product)
RELEVANT_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni",
                  "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8",
                  "neon", "asimd", "asimdhp", "asimddp", "sve", "sve2", "i8mm", "bf16", "fphp")


def _read(path: str) -> Optional[str]:
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def _cpuinfo() -> Dict[str, str]:
    """First processor block of /proc/cpuinfo plus the flags line (x86 'flags', ARM 'Features')."""
    text = _read("/proc/cpuinfo")
    info: Dict[str, str] = {}
    if not text:
        return info
    for line in text.splitlines():
        if ":" not in line:
            continue
        key, _, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if key and key not in info:
            info[key] = value
    return info


def _sysctl(name: str) -> Optional[str]:
    if sys.platform != "darwin":
        return None
    try:
        out = subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=2)
        return out.stdout.strip() or None
    except Exception:
        return None


def cpu_model() -> str:
    info = _cpuinfo()
    for key in ("model name", "hardware", "cpu model", "processor"):
        v = info.get(key)
        if v and not v.isdigit():
            return v
    if "cpu implementer" in info:  # ARM without a model string
        return f"ARM implementer {info['cpu implementer']} part {info.get('cpu part', '?')}"
    return _sysctl("machdep.cpu.brand_string") or platform.processor() or platform.machine() or "unknown"


def isa_flags() -> List[str]:
    info = _cpuinfo()
    flags = set((info.get("flags") or info.get("features") or "").split())
    if sys.platform == "darwin":
        for key, flag in (("hw.optional.neon", "neon"), ("hw.optional.arm.FEAT_DotProd", "asimddp"),
                          ("hw.optional.arm.FEAT_BF16", "bf16"), ("hw.optional.avx2_0", "avx2"),
                          ("hw.optional.avx512f", "avx512f")):
            if _sysctl(key) == "1":
                flags.add(flag)
    if platform.machine().lower() in ("arm64", "aarch64") and not flags:
        flags.add("asimd")  # AArch64 mandates Advanced SIMD
    return sorted(f for f in flags if f in RELEVANT_FLAGS)


def physical_cores() -> Optional[int]:
    info = _read("/proc/cpuinfo")
    if info:
        pairs = set()
        phys = core = None
        for line in info.splitlines() + [""]:
            if line.startswith("physical id"):
                phys = line.split(":")[1].strip()
            elif line.startswith("core id"):
                core = line.split(":")[1].strip()
            elif not line.strip():
                if core is not None:
                    pairs.add((phys, core))
                phys = core = None
        if pairs:
            return len(pairs)
    v = _sysctl("hw.physicalcpu")
    return int(v) if v and v.isdigit() else None


def cache_bytes(level: int = 2) -> Optional[int]:
    """Size of CPU 0's unified/data cache of ``level`` (Linux sysfs; ``None`` elsewhere)."""
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        return None
    for e in entries:
        lvl = _read(os.path.join(base, e, "level"))
        kind = _read(os.path.join(base, e, "type"))
        size = _read(os.path.join(base, e, "size"))
        if not (lvl and kind and size) or lvl.strip() != str(level) or kind.strip() == "Instruction":
            continue
        s = size.strip().upper()
        mult = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}.get(s[-1:], 1)
        try:
            return int(float(s.rstrip("KMG")) * mult)
        except ValueError:
            return None
    return None


def describe(threads: Optional[int] = None) -> Dict[str, object]:
    """A JSON-serialisable description of this machine and torch build."""
    import torch

    try:
        capability = torch.backends.cpu.get_cpu_capability()
    except Exception:  # torch < 2.0
        capability = None
    try:
        affinity = len(os.sched_getaffinity(0))
    except Exception:
        affinity = None
    return {
        "cpu_model": cpu_model(),
        "arch": platform.machine(),
        "isa": isa_flags(),
        "torch_cpu_capability": capability,
        "logical_cpus": os.cpu_count(),
        "usable_cpus": affinity,
        "physical_cores": physical_cores(),
        "l2_cache_bytes": cache_bytes(2),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "mkldnn": bool(getattr(torch.backends, "mkldnn", None) and torch.backends.mkldnn.is_available()),
        "threads": int(threads if threads is not None else torch.get_num_threads()),
        "hostname": platform.node(),
        "allocator": allocator.state(),
        **emulation(),
    }


def emulation() -> Dict[str, object]:
    """``{"emulated": description}`` when this process runs under an emulator, else ``{}``.

    Emulation cannot be detected reliably from inside (QEMU user mode shows the guest architecture
    and, depending on the version, the host's or a made-up /proc/cpuinfo), so the launcher says
    so: costmodel's ARM runner sets ``COSTMODEL_EMULATED`` (for example
    ``"qemu-aarch64 -cpu neoverse-n1"``) in the guest's environment."""
    value = os.environ.get("COSTMODEL_EMULATED", "").strip()
    return {"emulated": value} if value else {}


def same_machine(a: Dict[str, object], b: Dict[str, object]) -> List[str]:
    """The fields (cpu_model, arch, torch, and isa where both record it) in which two
    descriptions differ.  The ISA flags tell apart CPUs that report the same generic model name
    (a VM's "Intel(R) Xeon(R) Processor" with or without AVX-512)."""
    diff = [k for k in ("cpu_model", "arch", "torch") if a.get(k) != b.get(k)]
    isa_a, isa_b = a.get("isa"), b.get("isa")
    if isinstance(isa_a, list) and isinstance(isa_b, list) and sorted(isa_a) != sorted(isa_b):
        diff.append("isa")
    return diff


@functools.lru_cache(maxsize=1)
def identity() -> Dict[str, object]:
    """This machine's fields that :func:`same_machine` compares (cheaper than :func:`describe`,
    computed once per process)."""
    import torch

    return {"cpu_model": cpu_model(), "arch": platform.machine(), "isa": isa_flags(),
            "torch": torch.__version__}
