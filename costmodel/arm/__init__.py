"""aarch64 under QEMU user mode: per-layer executed-instruction counts of costmodel's ops.

``costmodel arm setup`` builds (once, under a cache directory) a Debian arm64 userland with an
aarch64 CPU build of torch and a QEMU TCG plugin that counts executed guest instructions between
marker system calls; ``costmodel arm run MODEL... --out FILE`` replays every traced op of each
model in the emulator and writes a ``costmodel-timings`` file marked ``"emulated": true`` with
per-layer aarch64 instruction counts (emulated wall time is *not* ARM latency and is never
reported as such); ``costmodel arm compare`` relates the counts to madds, MAC and x86 time.

Modules: :mod:`~costmodel.arm.environment` (setup), :mod:`~costmodel.arm.plugin` (the plugin and
its log), :mod:`~costmodel.arm.guest` (runs inside the emulator), :mod:`~costmodel.arm.runner`
(runs QEMU, merges counts into the timing file), :mod:`~costmodel.arm.compare` (per-kind table).
Nothing here is imported by ``import costmodel``.
"""
