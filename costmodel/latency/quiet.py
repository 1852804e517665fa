"""How quiet the machine was while something was timed: CPU used by *other* processes.

A timing is only as good as the machine was idle.  On the 2-core x86 machine of
``reports/latency`` a process busy on the other core slows a 1-thread network by several percent
(shared caches and memory bandwidth) and stalls 2-thread ops by a whole scheduler time slice
(the second OpenMP worker waits for a core): in one calibration run 14 of 60 networks had
2-thread op replays of 5-8 ms for ops that take 15-40 us.  :class:`CpuWatch` measures, over a
span, the CPU time the whole machine was busy (``/proc/stat``: user, nice, system, irq, softirq)
minus the CPU time of this process tree (this process, its live descendants, e.g. the
fresh-process timing server of :mod:`costmodel.latency.fresh`, and the children they reaped), and
the hypervisor's steal time.  Reports print it next to every result, so a reader can tell a quiet
run from a disturbed one.  Linux only; elsewhere the fields are ``None``.
"""
from __future__ import annotations

import os
import time
from typing import Dict, Iterable, Optional, Tuple

#: Other processes using more than this share of one core (percent) over a timed span make the
#: reports call the timings disturbed.
BUSY_PCT = 10.0

_BUSY = (0, 1, 2, 5, 6)  # user nice system irq softirq (fields after "cpu")
_STEAL = 7


def _clock_ticks() -> float:
    try:
        return float(os.sysconf("SC_CLK_TCK"))
    except (AttributeError, ValueError, OSError):
        return 100.0


def system_jiffies() -> Optional[Tuple[int, int]]:
    """(busy, steal) jiffies summed over all CPUs since boot, or ``None`` without /proc."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    v = [int(x) for x in fields[1:]]
    v += [0] * (8 - len(v))
    return sum(v[i] for i in _BUSY), v[_STEAL]


def _proc_stat(pid: str) -> Optional[Tuple[int, int]]:
    """(parent pid, utime+stime+cutime+cstime jiffies) of a process, or ``None``."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    rest = text[text.rfind(")") + 2:].split()  # the command name may contain spaces
    try:
        return int(rest[1]), sum(int(x) for x in rest[11:15])
    except (IndexError, ValueError):
        return None


def tree_jiffies(root: Optional[int] = None, procs: Optional[Iterable[str]] = None) -> Optional[int]:
    """CPU jiffies of process ``root`` (default: this one) and all its live descendants,
    including the children they have reaped."""
    root = os.getpid() if root is None else root
    try:
        names = list(procs) if procs is not None else os.listdir("/proc")
    except OSError:
        return None
    stats = {}
    for name in names:
        if name.isdigit():
            s = _proc_stat(name)
            if s is not None:
                stats[int(name)] = s
    if root not in stats:
        return None
    children: Dict[int, list] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += stats[pid][1]
        todo.extend(children.get(pid, ()))
    return total


class CpuWatch:
    """Context manager (or ``start()``/``stop()``): CPU used by other processes over a span.

    ``result()`` gives ``wall_s``, ``other_cpu_pct`` (other processes' CPU time as a percentage
    of the span's wall time: 100 means one core fully busy), ``steal_pct`` (time the hypervisor
    gave this VM's CPUs to someone else, same unit) and ``cores``; the percentages are ``None``
    where ``/proc`` is missing."""

    def __init__(self):
        self.t0 = self.t1 = None
        self.sys0 = self.sys1 = self.own0 = self.own1 = None

    def start(self) -> "CpuWatch":
        self.sys0, self.own0, self.t0 = system_jiffies(), tree_jiffies(), time.perf_counter()
        return self

    def stop(self) -> Dict[str, Optional[float]]:
        self.sys1, self.own1, self.t1 = system_jiffies(), tree_jiffies(), time.perf_counter()
        return self.result()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def result(self) -> Dict[str, Optional[float]]:
        wall = (self.t1 or time.perf_counter()) - self.t0
        out = {"wall_s": round(wall, 3), "other_cpu_pct": None, "steal_pct": None,
               "cores": os.cpu_count()}
        if None in (self.sys0, self.sys1, self.own0, self.own1) or wall <= 0:
            return out
        hz = _clock_ticks()
        busy = (self.sys1[0] - self.sys0[0]) / hz
        own = (self.own1 - self.own0) / hz
        out["other_cpu_pct"] = round(100.0 * max(0.0, busy - own) / wall, 1)
        out["steal_pct"] = round(100.0 * (self.sys1[1] - self.sys0[1]) / hz / wall, 1)
        return out


def describe(watch: Optional[Dict[str, Optional[float]]]) -> str:
    """One line for a report."""
    if not watch or watch.get("other_cpu_pct") is None:
        return "CPU use of other processes: not measured (no /proc)"
    return (f"other processes used {watch['other_cpu_pct']:.1f}% of one core on average "
            f"(hypervisor steal {watch['steal_pct']:.1f}%) over {watch['wall_s'] / 60:.1f} min "
            f"on {watch['cores']} logical CPUs")


def is_busy(watch: Optional[Dict[str, Optional[float]]]) -> bool:
    """Whether other processes used more than :data:`BUSY_PCT` of a core over the span."""
    pct = (watch or {}).get("other_cpu_pct")
    return isinstance(pct, (int, float)) and not isinstance(pct, bool) and pct > BUSY_PCT
