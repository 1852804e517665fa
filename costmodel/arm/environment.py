"""Set up (idempotently) an aarch64 userland that runs costmodel under QEMU user mode.

Everything lives under one cache directory (``--cache-dir``, else ``$COSTMODEL_ARM_CACHE``, else
``$XDG_CACHE_HOME/costmodel/arm``, else ``~/.cache/costmodel/arm``), never inside the repository::

    rootfs/            Debian bookworm arm64 (debootstrap --variant=minbase, python3 3.11)
    site/              aarch64 wheels: torch (CPU build), numpy, pandas, tqdm and their deps
    wheels/            the downloaded wheel files
    qemu-src/VERSION/  qemu-plugin.h from Debian's qemu source package of the installed QEMU
    plugin/            the compiled counting plugin (costmodel/arm/plugin.py)
    src/               a copy of the costmodel package the guest imports (refreshed every run)
    runs/              one folder per emulated run (spec, guest output, plugin log)

Each step leaves a small JSON stamp when it completes and is skipped when its stamp matches, so
``costmodel arm setup`` can be rerun at will; an interrupted step is redone from scratch (it
works in a ``*.partial`` folder that is renamed at the end).

Host requirements (Debian/Ubuntu): ``apt-get install qemu-user debootstrap gcc`` (``qemu-user``
is the dynamically linked QEMU: ``qemu-user-static`` cannot load plugins), root for
debootstrap, and the network path to a Debian mirror and to PyPI.  No binfmt_misc and no chroot
are needed: debootstrap runs its first stage only (``--foreign``), and the packages it downloaded
are unpacked on the host (``dpkg-deb --fsys-tarfile | tar --keep-directory-symlink``), which is
all a Python interpreter needs (no maintainer scripts run).
"""
from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from costmodel import fileio
from costmodel.arm import plugin as plugin_mod

SUITE = "bookworm"
INCLUDE = ("python3", "python3-venv", "python3-pip")
#: newest PyPI torch release whose aarch64 wheel is a CPU-only build (2.11+ are CUDA builds that
#: cannot import without NVIDIA libraries); override with --torch
DEFAULT_TORCH = "2.10.0"
#: every wheel the guest imports (costmodel's core dependencies and torch's), downloaded without
#: dependency resolution because pip evaluates markers for the host, not the target platform
GUEST_PACKAGES = ("filelock", "typing-extensions", "sympy", "mpmath", "networkx", "jinja2",
                  "markupsafe", "fsspec", "numpy", "pandas", "python-dateutil", "six", "tzdata",
                  "pytz", "tqdm")
WHEEL_PLATFORMS = ("manylinux_2_28_aarch64", "manylinux_2_27_aarch64", "manylinux_2_26_aarch64",
                   "manylinux_2_24_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64")
GUEST_PYTHON = "3.11"  # bookworm's python3

#: emulated CPUs: MIDR_EL1 (what torch's oneDNN reads from sysfs to name the core) and notes
CPUS: Dict[str, Dict[str, object]] = {
    "neoverse-n1": {"midr": 0x414FD0C1, "isa": ["asimd", "asimddp", "asimdhp", "fphp"],
                    "note": "Armv8.2-A, NEON 128-bit (AWS Graviton2, Ampere Altra)"},
    "cortex-a76": {"midr": 0x414FD0B1, "isa": ["asimd", "asimddp", "asimdhp", "fphp"],
                   "note": "Armv8.2-A, NEON 128-bit (Raspberry Pi 5, many phones)"},
    "a64fx": {"midr": 0x461F0010, "isa": ["asimd", "asimdhp", "fphp", "sve"],
              "note": "Armv8.2-A + SVE 512-bit (Fujitsu A64FX)"},
    "max": {"midr": None, "isa": [], "note": "every feature QEMU implements, SVE included"},
}
#: CPU models known not to run torch >= 2.10 (SIGILL: its kernels need Armv8.2 instructions)
BAD_CPUS = {"cortex-a72": "dies with SIGILL under torch 2.10 (Armv8.0 core)",
            "cortex-a57": "Armv8.0 core: torch 2.10 needs Armv8.2 instructions (SIGILL)",
            "cortex-a53": "Armv8.0 core: torch 2.10 needs Armv8.2 instructions (SIGILL)",
            "cortex-a35": "Armv8.0 core: torch 2.10 needs Armv8.2 instructions (SIGILL)"}
DEFAULT_CPU = "neoverse-n1"

STAMP_ROOTFS = ".costmodel-rootfs.json"
STAMP_SITE = ".costmodel-site.json"
STAMP_BYTECODE = ".costmodel-bytecode.json"


class SetupError(RuntimeError):
    """A missing host tool, a failed download or an unusable cache (message says what to do)."""


# --- indirections the tests replace -------------------------------------------------------------
def run_cmd(cmd: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
    """subprocess.run with captured text output (tests monkeypatch this)."""
    kwargs.setdefault("capture_output", "stdout" not in kwargs)
    kwargs.setdefault("text", True)
    return subprocess.run(list(cmd), **kwargs)


def which(name: str) -> Optional[str]:
    return shutil.which(name)


def is_root() -> bool:
    return not hasattr(os, "geteuid") or os.geteuid() == 0


def _log(msg: str):
    print(f"[costmodel arm] {msg}", file=sys.stderr, flush=True)


def default_cache_dir() -> str:
    env = os.environ.get("COSTMODEL_ARM_CACHE")
    if env:
        return os.path.abspath(os.path.expanduser(env))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "costmodel", "arm")


@dataclass
class ArmEnv:
    """Paths of one cache directory (nothing is created by constructing it)."""

    cache_dir: str = field(default_factory=default_cache_dir)

    def __post_init__(self):
        self.cache_dir = os.path.abspath(os.path.expanduser(self.cache_dir))

    def p(self, *parts) -> str:
        return os.path.join(self.cache_dir, *parts)

    @property
    def rootfs(self) -> str:
        return self.p("rootfs")

    @property
    def python(self) -> str:
        return os.path.join(self.rootfs, "usr", "bin", "python3")

    @property
    def site(self) -> str:
        return self.p("site")

    @property
    def wheels(self) -> str:
        return self.p("wheels")

    @property
    def src(self) -> str:
        return self.p("src")

    @property
    def runs(self) -> str:
        return self.p("runs")

    def read_stamp(self, path: str) -> Optional[dict]:
        try:
            stamp = fileio.read_json(path)
        except fileio.InputError:
            return None
        return stamp if isinstance(stamp, dict) else None


def _write_json(path: str, obj: dict):
    fileio.write_text(path, json.dumps(obj, indent=1) + "\n")


# --- host tools ---------------------------------------------------------------------------------
def find_qemu(explicit: Optional[str] = None) -> str:
    """Path of a ``qemu-aarch64`` that can load plugins (the dynamic build)."""
    if explicit:
        if not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
            raise SetupError(f"QEMU not found at {explicit}")
        return explicit
    q = which("qemu-aarch64")
    if q:
        return q
    if which("qemu-aarch64-static"):
        raise SetupError("only qemu-aarch64-static is installed, which cannot load TCG plugins; "
                         "install the dynamic build: apt-get install qemu-user")
    raise SetupError("qemu-aarch64 not found: install QEMU user mode (Debian/Ubuntu: "
                     "apt-get install qemu-user), or pass --qemu PATH")


def qemu_version(qemu: str) -> str:
    r = run_cmd([qemu, "--version"])
    m = re.search(r"version\s+([0-9][^\s,]*)", (r.stdout or "") + (r.stderr or ""))
    return m.group(1) if m else "unknown"


def require_tools(names: Sequence[str], why: str):
    missing = [n for n in names if not which(n)]
    if missing:
        raise SetupError(f"{', '.join(missing)} not found (needed to {why}); on Debian/Ubuntu: "
                         f"apt-get install {' '.join(_APT_FOR.get(n, n) for n in missing)}")


_APT_FOR = {"debootstrap": "debootstrap", "dpkg-deb": "dpkg", "tar": "tar", "gcc": "gcc",
            "cc": "gcc", "apt-get": "apt", "dpkg-query": "dpkg"}


# --- mirror -------------------------------------------------------------------------------------
def apt_entries(root: str = "/etc/apt") -> List[Tuple[str, str, List[str]]]:
    """(uri, suite, components) of every enabled ``deb`` entry in the host's apt sources
    (one-line ``.list`` and deb822 ``.sources`` formats)."""
    out: List[Tuple[str, str, List[str]]] = []
    files = [os.path.join(root, "sources.list")] + sorted(
        glob.glob(os.path.join(root, "sources.list.d", "*.list")))
    for fn in files:
        try:
            with open(fn) as fh:
                text = fh.read()
        except OSError:
            continue
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if not line.startswith("deb "):
                continue
            parts = [p for p in re.sub(r"\[[^\]]*\]", "", line).split()[1:]]
            if len(parts) >= 3:
                out.append((parts[0], parts[1], parts[2:]))
    for fn in sorted(glob.glob(os.path.join(root, "sources.list.d", "*.sources"))):
        try:
            with open(fn) as fh:
                text = fh.read()
        except OSError:
            continue
        for block in re.split(r"\n\s*\n", text):
            fields: Dict[str, str] = {}
            for line in block.splitlines():
                if line.startswith("#") or ":" not in line or line[:1].isspace():
                    continue
                k, _, v = line.partition(":")
                fields[k.strip().lower()] = v.strip()
            if "deb" not in fields.get("types", "").split():
                continue
            if fields.get("enabled", "yes").lower() == "no":
                continue
            for uri in fields.get("uris", "").split():
                for suite in fields.get("suites", "").split():
                    out.append((uri, suite, fields.get("components", "main").split()))
    return out


def debian_mirror(root: str = "/etc/apt") -> Optional[str]:
    """The Debian archive this machine's apt uses (not the security archive), or None."""
    for uri, suite, _ in apt_entries(root):
        if "security" not in uri and "security" not in suite and "debian" in uri:
            return uri.rstrip("/")
    return None


# --- rootfs -------------------------------------------------------------------------------------
def rootfs_ready(env: ArmEnv) -> bool:
    stamp = env.read_stamp(os.path.join(env.rootfs, STAMP_ROOTFS))
    return bool(stamp) and os.path.exists(env.python)


def ensure_rootfs(env: ArmEnv, mirror: Optional[str] = None, force: bool = False) -> dict:
    """debootstrap (first stage) an arm64 bookworm with python3 and unpack its packages."""
    stamp_path = os.path.join(env.rootfs, STAMP_ROOTFS)
    if not force and rootfs_ready(env):
        return {"step": "rootfs", "skipped": True, **(env.read_stamp(stamp_path) or {})}
    require_tools(["debootstrap", "dpkg-deb", "tar"], "build the aarch64 root filesystem")
    if not is_root():
        raise SetupError("debootstrap needs root (run `sudo costmodel arm setup`, or build the "
                         "rootfs once as root into the same --cache-dir)")
    mirror = mirror or debian_mirror()
    if not mirror:
        raise SetupError("no Debian mirror in /etc/apt/sources.list*: pass --mirror URL (a Debian "
                         "archive that has bookworm arm64)")
    partial = env.p("rootfs.partial")
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(env.cache_dir, exist_ok=True)
    t0 = time.time()
    _log(f"debootstrap --foreign arm64 {SUITE} from {mirror} into {partial} (a few minutes)")
    r = run_cmd(["debootstrap", "--foreign", "--arch=arm64", "--variant=minbase",
                 "--include=" + ",".join(INCLUDE), SUITE, partial, mirror])
    if r.returncode != 0:
        raise SetupError(f"debootstrap failed ({r.returncode}): {_tail(r)}")
    debs = sorted(glob.glob(os.path.join(partial, "var", "cache", "apt", "archives", "*.deb")))
    if not debs:
        raise SetupError(f"debootstrap left no packages in {partial}/var/cache/apt/archives")
    _log(f"unpacking {len(debs)} packages")
    for deb in debs:
        # keep the merged-/usr symlinks (/lib -> usr/lib ...) that debootstrap created
        r = run_cmd(["sh", "-c", 'dpkg-deb --fsys-tarfile "$1" | tar -x --keep-directory-symlink '
                     '-C "$2"', "sh", deb, partial])
        if r.returncode != 0:
            raise SetupError(f"unpacking {os.path.basename(deb)} failed: {_tail(r)}")
    for deb in debs:
        os.remove(deb)
    if not os.path.exists(os.path.join(partial, "usr", "bin", "python3")):
        raise SetupError(f"{partial} has no usr/bin/python3 after unpacking")
    stamp = {"suite": SUITE, "arch": "arm64", "include": list(INCLUDE), "mirror": mirror,
             "packages": len(debs), "seconds": round(time.time() - t0, 1),
             "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    _write_json(os.path.join(partial, STAMP_ROOTFS), stamp)
    shutil.rmtree(env.rootfs, ignore_errors=True)
    os.rename(partial, env.rootfs)
    return {"step": "rootfs", "skipped": False, **stamp}


def _tail(r, n: int = 600) -> str:
    text = ((r.stderr or "") + (r.stdout or "")).strip() if not isinstance(r.stderr, bytes) else ""
    return text[-n:] or "(no output)"


# --- wheels -------------------------------------------------------------------------------------
def site_ready(env: ArmEnv, torch_version: str = DEFAULT_TORCH) -> bool:
    stamp = env.read_stamp(os.path.join(env.site, STAMP_SITE))
    return bool(stamp) and stamp.get("torch") == torch_version


def wheel_download_command(dest: str, requirements: Sequence[str]) -> List[str]:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--python-version", GUEST_PYTHON, "--implementation", "cp", "-d", dest]
    for plat in WHEEL_PLATFORMS:
        cmd += ["--platform", plat]
    return cmd + list(requirements)


def ensure_site(env: ArmEnv, torch_version: str = DEFAULT_TORCH, force: bool = False) -> dict:
    """Download aarch64 wheels (torch ``torch_version`` and the rest) and unpack them into
    ``site/`` with ``pip install --no-deps --target``."""
    stamp_path = os.path.join(env.site, STAMP_SITE)
    if not force and site_ready(env, torch_version):
        return {"step": "site", "skipped": True, **(env.read_stamp(stamp_path) or {})}
    t0 = time.time()
    os.makedirs(env.wheels, exist_ok=True)
    reqs = [f"torch=={torch_version}", *GUEST_PACKAGES]
    _log(f"pip download (aarch64, cp311): {' '.join(reqs)}")
    r = run_cmd(wheel_download_command(env.wheels, reqs))
    if r.returncode != 0:
        raise SetupError(f"pip download of the aarch64 wheels failed: {_tail(r)}")
    wheels = _pick_wheels(env.wheels, torch_version)
    partial = env.p("site.partial")
    shutil.rmtree(partial, ignore_errors=True)
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--only-binary=:all:",
           "--python-version", GUEST_PYTHON, "--implementation", "cp", "--target", partial,
           "--no-compile"]
    for plat in WHEEL_PLATFORMS:
        cmd += ["--platform", plat]
    _log(f"pip install --target {partial} ({len(wheels)} wheels)")
    r = run_cmd(cmd + wheels)
    if r.returncode != 0:
        raise SetupError(f"pip install --target failed: {_tail(r)}")
    stamp = {"torch": torch_version, "wheels": sorted(os.path.basename(w) for w in wheels),
             "seconds": round(time.time() - t0, 1), "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    _write_json(os.path.join(partial, STAMP_SITE), stamp)
    shutil.rmtree(env.site, ignore_errors=True)
    os.rename(partial, env.site)
    return {"step": "site", "skipped": False, **stamp}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _pick_wheels(folder: str, torch_version: str) -> List[str]:
    """The newest wheel of each wanted package in ``folder`` (torch: exactly ``torch_version``)."""
    by_pkg: Dict[str, List[str]] = {}
    for w in glob.glob(os.path.join(folder, "*.whl")):
        name = _norm(os.path.basename(w).split("-")[0])
        by_pkg.setdefault(name, []).append(w)
    picked = []
    for pkg in ["torch", *GUEST_PACKAGES]:
        cands = by_pkg.get(_norm(pkg), [])
        if pkg == "torch":
            cands = [w for w in cands if os.path.basename(w).split("-")[1].split("+")[0]
                     == torch_version.split("+")[0]]
        if not cands:
            raise SetupError(f"no aarch64 wheel for {pkg} in {folder}")
        picked.append(max(cands, key=os.path.getmtime))
    return picked


# --- bytecode -----------------------------------------------------------------------------------
def host_can_compile() -> bool:
    """Bytecode is portable across CPUs; the host's Python writes .pyc files the guest's reads
    when both are the same minor version (no dpkg postinst ran to compile the rootfs's stdlib)."""
    return sys.version_info[:2] == tuple(int(x) for x in GUEST_PYTHON.split("."))


def compile_command(paths: Sequence[str]) -> List[str]:
    return [sys.executable, "-m", "compileall", "-q", "-j", "0", *paths]


def ensure_bytecode(env: ArmEnv, force: bool = False) -> dict:
    """Precompile the guest's stdlib and wheels on the host (an emulated import of torch compiles
    thousands of files otherwise, every run).  Skipped when the host Python is not 3.11: the guest
    then writes its own .pyc files on its first run."""
    stamp_path = os.path.join(env.site, STAMP_BYTECODE)
    if not force and env.read_stamp(stamp_path):
        return {"step": "bytecode", "skipped": True}
    if not host_can_compile():
        return {"step": "bytecode", "skipped": True,
                "reason": f"host Python {sys.version_info[0]}.{sys.version_info[1]} != guest "
                          f"{GUEST_PYTHON}: the guest compiles on first use"}
    stdlib = os.path.join(env.rootfs, "usr", "lib", "python" + GUEST_PYTHON)
    _log("precompiling the guest's Python files (host compileall)")
    r = run_cmd(compile_command([stdlib, env.site]))
    # compileall exits 1 when some file does not compile (test fixtures with bad syntax): fine
    stamp = {"python": GUEST_PYTHON, "exit_code": r.returncode,
             "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    _write_json(stamp_path, stamp)
    return {"step": "bytecode", "skipped": False, **stamp}


# --- plugin -------------------------------------------------------------------------------------
def qemu_source_version(qemu: str) -> Optional[str]:
    """Debian source version of the package that installed ``qemu`` (``1:7.2+dfsg-7+deb12u18``)."""
    if not which("dpkg-query"):
        return None
    r = run_cmd(["dpkg-query", "-S", os.path.realpath(qemu)])
    pkg = (r.stdout or "").split(":", 1)[0].strip() if r.returncode == 0 else ""
    for cand in ([pkg] if pkg else []) + ["qemu-user", "qemu-user-static"]:
        r = run_cmd(["dpkg-query", "-W", "-f", "${source:Version}", cand])
        if r.returncode == 0 and (r.stdout or "").strip():
            return r.stdout.strip()
    return None


def find_header(env: ArmEnv, version: Optional[str]) -> Optional[str]:
    """Folder with ``qemu-plugin.h``: $COSTMODEL_QEMU_PLUGIN_H's folder, the cache, or the system."""
    explicit = os.environ.get("COSTMODEL_QEMU_PLUGIN_H")
    if explicit:
        return os.path.dirname(os.path.abspath(explicit)) if os.path.isfile(explicit) else None
    if version:
        d = env.p("qemu-src", _safe(version))
        if os.path.isfile(os.path.join(d, "qemu-plugin.h")):
            return d
    for d in ("/usr/include", "/usr/include/qemu", "/usr/local/include"):
        if os.path.isfile(os.path.join(d, "qemu-plugin.h")):
            return d
    return None


def _safe(version: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]", "_", version)


def ensure_header(env: ArmEnv, qemu: str, mirror_root: str = "/etc/apt") -> dict:
    """Fetch ``qemu-plugin.h`` from Debian's qemu source package of the installed QEMU.

    A private apt configuration (sources with ``deb-src`` lines for the host's own Debian
    mirrors, lists and cache under the cache dir) is used, so the host's apt setup is not
    touched; only the header is extracted from the upstream tarball."""
    version = qemu_source_version(qemu)
    found = find_header(env, version)
    if found:
        return {"step": "header", "skipped": True, "dir": found, "qemu_source": version}
    if not version:
        raise SetupError("cannot tell which QEMU source matches the installed qemu-aarch64 (no "
                         "dpkg); set COSTMODEL_QEMU_PLUGIN_H=/path/to/qemu-plugin.h from the "
                         "same QEMU version's source (include/qemu/qemu-plugin.h)")
    require_tools(["apt-get"], "download the QEMU source package for its plugin header")
    apt = env.p("apt")
    for d in ("lists/partial", "cache/archives/partial", "src"):
        os.makedirs(os.path.join(apt, d), exist_ok=True)
    entries = [(u, s, c) for u, s, c in apt_entries(mirror_root) if "debian" in u]
    if not entries:
        raise SetupError("no Debian mirror in /etc/apt/sources.list* to fetch QEMU's source from; "
                         "set COSTMODEL_QEMU_PLUGIN_H=/path/to/qemu-plugin.h (include/qemu/ in "
                         "the source of the installed QEMU version)")
    with open(os.path.join(apt, "sources.list"), "w") as f:
        for u, s, c in entries:
            f.write(f"deb-src {u} {s} {' '.join(c)}\n")
    opts = [f"-oDir::Etc::SourceList={apt}/sources.list", "-oDir::Etc::SourceParts=/nonexistent",
            f"-oDir::State::Lists={apt}/lists", f"-oDir::Cache={apt}/cache",
            "-oDebug::NoLocking=1", "-oAPT::Sandbox::User=root"]
    _log(f"apt-get source --download-only qemu={version} (private apt config under {apt})")
    r = run_cmd(["apt-get", *opts, "update"])
    if r.returncode != 0:
        raise SetupError(f"apt-get update (deb-src) failed: {_tail(r)}")
    srcdir = os.path.join(apt, "src")
    r = run_cmd(["apt-get", *opts, "source", "--download-only", f"qemu={version}"], cwd=srcdir)
    if r.returncode != 0:
        raise SetupError(f"apt-get source qemu={version} failed: {_tail(r)}")
    upstream = version.split(":", 1)[-1].rsplit("-", 1)[0]
    tars = sorted(glob.glob(os.path.join(srcdir, f"qemu_{upstream}.orig.tar.*")))
    if not tars:
        raise SetupError(f"no qemu_{upstream}.orig.tar.* in {srcdir}")
    dest = env.p("qemu-src", _safe(version))
    os.makedirs(dest, exist_ok=True)
    with tarfile.open(tars[0]) as tf:
        member = next((m for m in tf if m.name.endswith("include/qemu/qemu-plugin.h")), None)
        if member is None:
            raise SetupError(f"{tars[0]} has no include/qemu/qemu-plugin.h")
        data = tf.extractfile(member).read()
    with open(os.path.join(dest, "qemu-plugin.h"), "wb") as f:
        f.write(data)
    for fn in glob.glob(os.path.join(srcdir, "qemu_*")):
        os.remove(fn)  # 24 MB of source we no longer need
    return {"step": "header", "skipped": False, "dir": dest, "qemu_source": version}


def plugin_path(env: ArmEnv, qemu_ver: str) -> str:
    return env.p("plugin", f"costmodel-insn-{plugin_mod.source_hash()}-qemu{_safe(qemu_ver)}.so")


def ensure_plugin(env: ArmEnv, qemu: str, qemu_ver: Optional[str] = None) -> dict:
    qemu_ver = qemu_ver or qemu_version(qemu)
    so = plugin_path(env, qemu_ver)
    if os.path.isfile(so):
        return {"step": "plugin", "skipped": True, "path": so}
    hdr = ensure_header(env, qemu)
    cc = os.environ.get("CC") or which("gcc") or which("cc")
    if not cc:
        raise SetupError("no C compiler (gcc) to build the QEMU plugin: apt-get install gcc")
    os.makedirs(os.path.dirname(so), exist_ok=True)
    src = so[:-3] + ".c"
    with open(src, "w") as f:
        f.write(plugin_mod.source())
    extra: Tuple[str, ...] = ()
    if which("pkg-config"):
        r = run_cmd(["pkg-config", "--cflags", "glib-2.0"])
        if r.returncode == 0:
            extra = tuple((r.stdout or "").split())  # newer QEMU headers include glib.h
    r = run_cmd(plugin_mod.build_command(cc, hdr["dir"], so + ".tmp", src, extra))
    if r.returncode != 0:
        raise SetupError(f"building the QEMU plugin failed: {_tail(r)}")
    os.replace(so + ".tmp", so)
    return {"step": "plugin", "skipped": False, "path": so, "header": hdr["dir"]}


# --- everything ---------------------------------------------------------------------------------
def ensure_all(env: ArmEnv, qemu: Optional[str] = None, torch_version: str = DEFAULT_TORCH,
               mirror: Optional[str] = None, force: bool = False) -> dict:
    """Run every step (each skipped when already done); returns what each did and how long."""
    q = find_qemu(qemu)
    qv = qemu_version(q)
    steps = []
    for fn in (lambda: ensure_rootfs(env, mirror, force), lambda: ensure_site(env, torch_version, force),
               lambda: ensure_bytecode(env, force), lambda: ensure_plugin(env, q, qv)):
        t0 = time.time()
        info = fn()
        info["step_seconds"] = round(time.time() - t0, 1)
        steps.append(info)
    return {"qemu": q, "qemu_version": qv, "cache_dir": env.cache_dir, "steps": steps,
            "plugin": steps[-1]["path"]}


def status(env: ArmEnv, qemu: Optional[str] = None, torch_version: str = DEFAULT_TORCH) -> dict:
    """What is there and what is missing (no side effects)."""
    out: Dict[str, object] = {"cache_dir": env.cache_dir}
    try:
        q = find_qemu(qemu)
        out["qemu"] = q
        out["qemu_version"] = qemu_version(q)
        out["plugin"] = plugin_path(env, out["qemu_version"])
        out["plugin_built"] = os.path.isfile(out["plugin"])
    except SetupError as exc:
        out["qemu"] = None
        out["qemu_error"] = str(exc)
        out["plugin_built"] = False
    out["rootfs"] = rootfs_ready(env)
    out["rootfs_stamp"] = env.read_stamp(os.path.join(env.rootfs, STAMP_ROOTFS))
    out["site"] = site_ready(env, torch_version)
    out["site_stamp"] = env.read_stamp(os.path.join(env.site, STAMP_SITE))
    out["ready"] = bool(out.get("qemu") and out["rootfs"] and out["site"] and out["plugin_built"])
    return out


def require_ready(env: ArmEnv, qemu: Optional[str] = None,
                  torch_version: str = DEFAULT_TORCH) -> dict:
    """Like :func:`status`, but raise a :class:`SetupError` that says what is missing."""
    st = status(env, qemu, torch_version)
    if not st.get("qemu"):
        raise SetupError(st["qemu_error"])
    if not st["rootfs"]:
        raise SetupError(f"no aarch64 root filesystem in {env.rootfs}: run `costmodel arm setup` "
                         f"(or drop --no-setup)")
    if not st["site"]:
        raise SetupError(f"no aarch64 torch {torch_version} in {env.site}: run `costmodel arm "
                         f"setup --torch {torch_version}`")
    if not st["plugin_built"]:
        raise SetupError(f"the counting plugin is not built ({st['plugin']}): run `costmodel arm "
                         f"setup`")
    return st
