"""The QEMU TCG plugin that counts executed guest instructions between markers, and its log format.

Protocol
--------
The guest (Python under ``qemu-aarch64``) brackets each op with a system call that Linux does not
define, ``syscall(MARKER_SYSCALL, cmd, tag)``: QEMU's plugin API sees every system call before it
is executed, the guest gets ``-ENOSYS`` back and nothing else happens.  ``cmd`` is
:data:`BEGIN` or :data:`END`, ``tag`` a non-negative integer the guest chooses (one per replay of
one op).  The plugin keeps one counter of executed guest instructions (an inline add of each
translation block's instruction count when the block runs: no helper call, the guest runs at
almost its un-instrumented speed) and, for every marker, writes one line to its log::

    B <tag> <counter>
    E <tag> <counter>

At exit it writes ``X <total instructions> <vcpus seen>``.  The instructions of an op are
``E - B`` of its tag, minus the fixed cost of the marker pair itself (measured by empty pairs,
see :func:`costmodel.arm.guest.marker_overhead`).

The counter is the sum over all guest threads.  With ``OMP_NUM_THREADS=1`` torch runs every op on
the calling thread and the counts repeat within a few hundredths of a percent; with more threads
the count includes the workers' spinning and is not repeatable (the log says how many vCPUs, i.e.
guest threads, were seen).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from costmodel import fileio

#: an aarch64 Linux system call number no kernel (and no QEMU) implements
MARKER_SYSCALL = 0x7E57
BEGIN = 1
END = 2

PLUGIN_SOURCE = r"""
/* costmodel instruction-count plugin: counts executed guest instructions and logs the counter at
 * marker system calls (see costmodel/arm/plugin.py for the protocol). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

static int64_t marker = %(marker)d;
static FILE *out;
static unsigned int vcpus;

#if QEMU_PLUGIN_VERSION >= 2
/* QEMU >= 9.0: one counter per vCPU in a scoreboard, summed when read */
static struct qemu_plugin_scoreboard *board;
static qemu_plugin_u64 counter;
static uint64_t read_counter(void) { return qemu_plugin_u64_sum(counter); }
static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(
        tb, QEMU_PLUGIN_INLINE_ADD_U64, counter, qemu_plugin_tb_n_insns(tb));
}
#else
/* QEMU <= 8.x: one global counter (exact for a single guest thread) */
static uint64_t insns;
static uint64_t read_counter(void) { return insns; }
static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &insns,
                                             qemu_plugin_tb_n_insns(tb));
}
#endif

static void on_syscall(qemu_plugin_id_t id, unsigned int vcpu, int64_t num, uint64_t a1,
                       uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6,
                       uint64_t a7, uint64_t a8)
{
    if (num != marker)
        return;
    uint64_t now = read_counter();
    fprintf(out, "%%c %%" PRIu64 " %%" PRIu64 " %%u\n", a1 == %(begin)d ? 'B' : (a1 == %(end)d ? 'E' : '?'),
            a2, now, vcpu);
    fflush(out);
}

static void on_vcpu_init(qemu_plugin_id_t id, unsigned int vcpu)
{
    if (vcpu + 1 > vcpus)
        vcpus = vcpu + 1;
}

static void on_plugin_exit(qemu_plugin_id_t id, void *p)
{
    fprintf(out, "X %%" PRIu64 " %%u\n", read_counter(), vcpus);
    fclose(out);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "out=", 4) == 0)
            path = argv[i] + 4;
        else if (strncmp(argv[i], "marker=", 7) == 0)
            marker = strtoll(argv[i] + 7, NULL, 0);
    }
    out = path ? fopen(path, "w") : stderr;
    if (!out) {
        fprintf(stderr, "costmodel plugin: cannot open %%s\n", path);
        return -1;
    }
    fprintf(out, "# costmodel-insn-plugin v1 target=%%s marker=%%" PRId64 "\n",
            info->target_name, marker);
#if QEMU_PLUGIN_VERSION >= 2
    board = qemu_plugin_scoreboard_new(sizeof(uint64_t));
    counter = qemu_plugin_scoreboard_u64(board);
#endif
    qemu_plugin_register_vcpu_init_cb(id, on_vcpu_init);
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_vcpu_syscall_cb(id, on_syscall);
    qemu_plugin_register_atexit_cb(id, on_plugin_exit, NULL);
    return 0;
}
"""


def source() -> str:
    """The plugin's C source with the protocol constants filled in."""
    return PLUGIN_SOURCE % {"marker": MARKER_SYSCALL, "begin": BEGIN, "end": END}


def source_hash() -> str:
    return hashlib.sha256(source().encode()).hexdigest()[:12]


class PluginLogError(ValueError):
    """The plugin log is missing, truncated or inconsistent."""


@dataclass
class PluginLog:
    """Parsed plugin output: instructions per tag (``E - B``), the exit total and vCPU count."""

    counts: Dict[int, int] = field(default_factory=dict)
    vcpus_at_marker: Dict[int, int] = field(default_factory=dict)
    total: Optional[int] = None
    vcpus: Optional[int] = None
    header: str = ""
    unmatched: List[int] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """The emulated program exited normally (the plugin wrote its exit line)."""
        return self.total is not None


def parse_log(text: str) -> PluginLog:
    """Parse the plugin's log (see the module docstring).  A ``B`` without its ``E`` (the guest
    crashed inside an op) is listed in ``unmatched``; an ``E`` without a ``B``, a tag seen twice
    or a malformed line raises :class:`PluginLogError`."""
    log = PluginLog()
    open_: Dict[int, int] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            log.header = log.header or line
            continue
        parts = line.split()
        try:
            kind = parts[0]
            if kind in ("B", "E"):
                tag, value = int(parts[1]), int(parts[2])
                vcpu = int(parts[3]) if len(parts) > 3 else 0
            elif kind == "X":
                log.total, log.vcpus = int(parts[1]), int(parts[2])
                continue
            else:
                raise ValueError(kind)
        except (IndexError, ValueError):
            raise PluginLogError(f"plugin log line {lineno}: cannot parse {line!r}") from None
        if kind == "B":
            if tag in open_ or tag in log.counts:
                raise PluginLogError(f"plugin log line {lineno}: tag {tag} begun twice")
            open_[tag] = value
        else:
            if tag not in open_:
                raise PluginLogError(f"plugin log line {lineno}: end of tag {tag} without a begin")
            start = open_.pop(tag)
            if value < start:
                raise PluginLogError(f"plugin log line {lineno}: counter went backwards for tag {tag}")
            log.counts[tag] = value - start
            log.vcpus_at_marker[tag] = vcpu
    log.unmatched = sorted(open_)
    return log


def read_log(path: str) -> PluginLog:
    if not os.path.exists(path):
        raise PluginLogError(f"no plugin log at {path}: the emulator did not load the plugin "
                             f"or could not start")
    try:
        raw = fileio.read_bytes(path)
    except fileio.InputError as exc:
        raise PluginLogError(str(exc)) from None
    return parse_log(raw.decode("utf-8", errors="replace"))


def build_command(cc: str, header_dir: str, out_path: str, src_path: str,
                  extra_cflags: Tuple[str, ...] = ()) -> List[str]:
    """The compiler command line that builds the plugin (a shared object)."""
    return [cc, "-shared", "-fPIC", "-O2", "-std=gnu99", "-Wall", f"-I{header_dir}",
            *extra_cflags, "-o", out_path, src_path]
