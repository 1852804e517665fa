"""Device profiles of 2015-2018 phone CPUs built from public specifications, not from timings.

The ARM figures that ShuffleNetV1/V2, MobileNetV2, MobileNetV3, MnasNet, ProxylessNAS and FBNet
published (see :mod:`costmodel.arm.published`) were measured on six phone CPUs that nobody here
can run.  This
module describes their big cores from public specifications and turns each into a
:class:`~costmodel.latency.DeviceProfile` (``costmodel-profile`` v1), so that
``predict_latency(model, shape, profile=spec_profile("snapdragon_810"))`` works like a calibrated
profile does.  Every number in :data:`DEVICES` carries its source.

Three variants (``variant=``), all single-thread, batch 1, fp32:

``roofline``
    every op kind: ``max(madds / peak, mac_bytes / bandwidth)``, ``peak`` = NEON fp32 multiply-add
    rate of one big core (FMA lanes per cycle x clock), ``bandwidth`` = the SoC's DRAM peak.
    No per-op overhead.  Nothing here comes from a measurement.
``emu``
    the same roofline, with per op-kind *compute rates* derived from the aarch64 **instruction
    counts** of the three emulated zoo files ``reports/arm/arm_neoverse-n1_zoo*.json`` merged
    (all 48 zoo models; QEMU emulation of torch 2.10's aarch64 kernels; :data:`EMULATION_FITS`):
    an op kind whose kernel issues ``s`` instructions per multiply-add (or per MAC element) runs
    at ``IR / s`` multiply-adds (elements) per second, where ``IR``, the instruction rate, is set
    so that the pointwise convolution (0.384 instructions per madd, the best-vectorised kernel)
    runs exactly at the NEON peak (``IR = 4 madds/cycle x 0.384 x clock``, an effective 1.54
    instructions per cycle).  These
    are emulation **counts**, not timings: the variant assumes every kind retires instructions
    at the same rate, which no real core does.
``emu_call``
    ``emu`` plus a per-call overhead for each op kind: the fitted fixed instructions per call
    (torch's dispatch and kernel set-up on aarch64) divided by ``IR``.  The papers' engines
    (Megvii's in-house NEON library, TF-Lite) had their own, unknown, per-op costs; torch's are
    a stand-in.

In every variant BatchNorm costs nothing (folded into the convolution, as the papers' engines do:
ShuffleNetV2 Sec. 2 "full optimization options (e.g. tensor fusion)"; TF-Lite folds BN at
conversion) and so does dropout.
"""
from __future__ import annotations

import json
import os
from typing import Dict, Optional, Sequence, Union

import numpy as np

from costmodel import fileio
from costmodel.latency.profile import DeviceProfile, op_key

VARIANTS = ("roofline", "emu", "emu_call")
VARIANT_LABELS = {
    "roofline": "spec roofline",
    "emu": "spec roofline + emulated per-kind rates",
    "emu_call": "spec roofline + emulated per-kind rates + per-call cost",
}

# ---------------------------------------------------------------------------------------------
# public specifications
# ---------------------------------------------------------------------------------------------
_SRC_A57_LLVM = ("LLVM llvm/lib/Target/AArch64/AArch64SchedA57.td (Cortex-A57 machine model, "
                 "citing ARM's Cortex-A57 Software Optimization Guide, UAN 0015B): two FP/ASIMD "
                 "pipes (X, W; 'A57UnitV'); FMLA D-form (2 fp32 lanes) takes one V pipe, FMLA "
                 "Q-form (4 fp32 lanes) takes both ('A57WriteFPVMAQ: [A57UnitV, A57UnitV]'): "
                 "4 fp32 multiply-adds per cycle either way")
_SRC_KRYO_LLVM = ("LLVM llvm/lib/Target/AArch64/AArch64SchedKryoDetails.td (Qualcomm Kryo machine "
                  "model): FMLAv2f32 on one X unit, FMLAv4f32 on both X units "
                  "('KryoWrite_5cyc_X_X_56ln'), two X units (XA, XB): 4 fp32 multiply-adds per "
                  "cycle")
_SRC_SD810 = ("AnandTech, 'Snapdragon 810 Performance Preview' (anandtech.com/show/8933), "
              "specification table: 4x Cortex-A57 r1p1 @ 1.958 GHz with 2 MB L2, 4x Cortex-A53 @ "
              "1.555 GHz, memory 2x 32-bit LPDDR4 @ 1555 MHz, 24.8 GB/s. Tom's Hardware's preview "
              "lists the nominal 'LPDDR4-1600 2x 32-bit (25.6GBps)' and A57 '@ 2.0GHz'")
_SRC_SD820 = ("Snapdragon 820 (MSM8996): 2x Kryo @ 2.15 GHz + 2x Kryo @ 1.59 GHz, LPDDR4 3733 MT/s "
              "(1866 MHz) on 4x 16 bit = 64 bit, 29.9 GB/s (public Snapdragon specification lists; "
              "Tencent/ncnn benchmark/README.md names the MSM8996 'Kyro 2.15GHz x 2 + Kyro 1.6GHz "
              "x 2'); Kryo L2: 1 MB (fast cluster) + 512 KB (Wikipedia 'Kryo (microarchitecture)')")
_SRC_PIXEL = ("TechSpot, Google Pixel XL review (techspot.com/review/1265-google-pixel-xl/page3): "
              "Snapdragon 821 in the Pixel clocked like an 820, two Kryo 'big' cores at 2.15 GHz "
              "and two at 1.59 GHz; 4 GB LPDDR4 on a 64-bit bus, 29.8 GB/s")
_SRC_VFPBENCH = ("flatlib VFP Benchmark, Snapdragon 820 (wlog.flatlib.jp/2016/06/10/n1807/): "
                 "single-thread SP max 10.517 GFLOPS (fmla.2s), fmla.4s 10.39 GFLOPS, i.e. "
                 "~5.2 G multiply-adds/s, 61% of the 4-lane peak; the author notes it is lower "
                 "than expected (8 dependent chains, latency-bound)")

_SRC_SD845_ANNOUNCE = ("AnandTech, 'Qualcomm Announces Snapdragon 845' (anandtech.com/show/12114), "
                       "'Qualcomm Snapdragon Flagship SoCs 2017-2018' table: Snapdragon 845: 4x "
                       "Kryo 385 Gold (A75 derivative) @ 2.8GHz 4x256KB L2, 4x Kryo 385 Silver (A55 "
                       "derivative) @ 1.80GHz 4x128KB L2, 2MB L3, memory 4x 16-bit CH @ 1866MHz, 3MB "
                       "system cache; Snapdragon 835: 4x Kryo 280 Gold (A73 derivative) @ 2.45GHz "
                       "2MB L2, 4x Kryo 280 Silver (A53 derivative) @ 1.90GHz 1MB L2, memory 4x 16-bit "
                       "CH @ 1866MHz")
_SRC_PIXEL2 = ("TechSpot, Google Pixel 2 XL review (techspot.com/review/1516-google-pixel-2-xl/"
               "page3.html): Snapdragon 835, 'one efficient cluster operating at 1.9 GHz, paired "
               "with a high-performance cluster at 2.45 GHz', 'an LPDDR4X memory controller "
               "providing 29.8 GB/s of bandwidth'. UNRESOLVED: phone spec lists (GSMArena-style "
               "transcriptions in public repositories, find_string '4x2.35 GHz Kryo') give the "
               "Pixel 2 '4x2.35 GHz Kryo & 4x1.9 GHz Kryo'; Google's own spec page was not read")
_SRC_PIXEL3 = ("Pixel 3 spec transcriptions in public repositories (GSMArena format, find_string "
               "'2.5 GHz Kryo 385'): 'Qualcomm SDM845 Snapdragon 845 (10 nm)', 'Octa-core (4x2.5 "
               "GHz Kryo 385 Gold & 4x1.6 GHz Kryo 385 Silver)'; a TFLite demo README (same "
               "search, '2.5GHz + 1.6GHz') quotes the Pixel 3 as 'a 2.5GHz + 1.6GHz, 64-bit "
               "octa-core CPU', i.e. the Pixel 3 clocks the big cores below the SoC's 2.8 GHz. "
               "No first-hand Google page was read")
_SRC_DRAM_4X16 = ("derived, not read: 4 channels x 16 bit = 64 bit at 1866 MHz DDR (3733 MT/s) "
                  "= 8 bytes x 3.733e9 = 29.9 GB/s (channel layout from AnandTech anandtech.com/"
                  "show/12114; TechSpot quotes 29.8 GB/s for the Snapdragon 835)")
_SRC_KRYO385_FLATLIB = ("flatlib, vfpbench on Snapdragon 845 (wlog.flatlib.jp/2019/1/5/): Kryo 385 "
                        "(A75) like Kryo, Cortex-A57 and A72 has '64bit x2 pipe' (two 64-bit FP "
                        "pipes); IPC table: Kryo 385 (A75/A55)/A72/A57/A53 issue 1 128-bit "
                        "mul/fma per cycle = 4 fp32 multiply-adds per cycle; measured single-thread "
                        "big-core SP 22.3 GFLOPS (= 8 flops x 2.79 GHz on a 2.8 GHz part)")
_SRC_A73_UNCONFIRMED = ("UNCONFIRMED: no Cortex-A73 / Kryo 280 pipeline description was read. "
                        "AnandTech's A73 article (anandtech.com/show/10347/2) says A72 floating "
                        "point and NEON 'are handled by two pipelines' and the A73 FP reservation "
                        "station dispatches 2 uops; 4 fp32 multiply-adds per cycle (one Q-form "
                        "FMLA per cycle over two 64-bit pipes, as flatlib measured for A57, A72 "
                        "and A75) is assumed")

_SRC_S8 = ("AnandTech, 'Samsung Galaxy S8: Exynos versus Snapdragon' (anandtech.com/show/11540), "
           "specification table: Snapdragon 835 (US, China, Japan) 4x Kryo 280 Performance @ "
           "2.36GHz + 4x Kryo 280 Efficiency @ 1.90GHz; Exynos 8895 (rest of world) 4x Exynos M2 "
           "@ 2.31GHz + 4x Cortex-A53 @ 1.69GHz; 4GB of LPDDR4. The FBNet authors' latency "
           "table names the phone 'Samsung Galaxy S8 (SM-G950U-7.0-24)' "
           "(facebookresearch/mobile-vision runtime_lut/README.md); SM-G950U is the US model "
           "(FCC filing as reported by newsdigitali.com; gizmochina.com 2017-05-14: 'In the "
           "U.S., both flagships are available with Snapdragon 835 chipset'), hence Snapdragon "
           "835")
_SRC_SD835 = ("Snapdragon 835: Kryo 280 performance cluster with 2 MB L2, efficiency cluster 1 MB "
              "(innovation.dday.it; komputerswiat.pl); memory: golem.de (2016-11) reports a "
              "four-channel interface and LPDDR4X-1866 ('vierfach ausgelegt, was fuer 128 Bit "
              "spricht'); 29.9 GB/s assumes 4x16-bit = 64 bit at 1866 MHz DDR like the "
              "Snapdragon 820 (the bus width was not confirmed from a Qualcomm document; 128 bit "
              "would give 59.7 GB/s)")
_SRC_KRYO280 = ("AnandTech, 'Qualcomm Snapdragon 835 ... Kryo 280' (anandtech.com/show/10948/2): "
                "Kryo 280 is a 'Built on ARM Cortex Technology' semi-custom core, 'the "
                "performance cores are likely based on the A72 or A73' (not disclosed); "
                "AnandTech, 'ARM Cortex-A73 Artemis unveiled' (anandtech.com/show/10347/2): "
                "'Floating point as well as ASIMD and NEON operations are handled by two "
                "pipelines' (A72 and A73 alike). 4 fp32 multiply-adds per cycle assumes a "
                "Q-form FMLA per cycle over the two pipes as on the Cortex-A57 "
                "(AArch64SchedA57.td); NOT confirmed for Kryo 280")

#: The big cores of the six phones, one thread.  ``madds_per_cycle`` is fp32 multiply-adds per
#: cycle of one core's NEON units; ``dram_gbps`` the SoC's peak DRAM bandwidth (shared by all
#: cores: one core alone draws less, which a roofline cannot know).
DEVICES: Dict[str, dict] = {
    "snapdragon_810": {
        "name": "Qualcomm Snapdragon 810 (MSM8994), one Cortex-A57 core",
        "used_by": "ShuffleNetV2 (arXiv:1807.11164) Tables 1-4 and 8, Appendix Table 1",
        "core": "ARM Cortex-A57 (ARMv8-A, 128-bit NEON)",
        "cores": "4x Cortex-A57 @ 1.958 GHz + 4x Cortex-A53 @ 1.555 GHz",
        "clock_ghz": 1.958,
        "neon_bits": 128,
        "madds_per_cycle": 4,
        "l2": "2 MB shared by the A57 cluster",
        "dram": "LPDDR4, 2x 32-bit @ 1555 MHz",
        "dram_gbps": 24.8,
        "sources": {"clock_ghz": _SRC_SD810, "cores": _SRC_SD810, "l2": _SRC_SD810,
                    "dram_gbps": _SRC_SD810, "madds_per_cycle": _SRC_A57_LLVM,
                    "neon_bits": _SRC_A57_LLVM},
    },
    "snapdragon_820": {
        "name": "Qualcomm Snapdragon 820 (MSM8996), one fast Kryo core",
        "used_by": "ShuffleNetV1 (arXiv:1707.01083) Table 8",
        "core": "Qualcomm Kryo (ARMv8-A, 128-bit NEON)",
        "cores": "2x Kryo @ 2.15 GHz + 2x Kryo @ 1.59 GHz",
        "clock_ghz": 2.15,
        "neon_bits": 128,
        "madds_per_cycle": 4,
        "l2": "1 MB (fast cluster)",
        "dram": "LPDDR4 1866 MHz, 64 bit",
        "dram_gbps": 29.9,
        "cross_check": _SRC_VFPBENCH,
        "sources": {"clock_ghz": _SRC_SD820, "cores": _SRC_SD820, "l2": _SRC_SD820,
                    "dram_gbps": _SRC_SD820, "madds_per_cycle": _SRC_KRYO_LLVM,
                    "neon_bits": _SRC_KRYO_LLVM},
    },
    "pixel_1": {
        "name": "Google Pixel (Snapdragon 821, MSM8996 Pro), one large Kryo core",
        "used_by": "MobileNetV2 (arXiv:1801.04381) Table 4",
        "core": "Qualcomm Kryo (ARMv8-A, 128-bit NEON)",
        "cores": "2x Kryo @ 2.15 GHz + 2x Kryo @ 1.59 GHz (as clocked in the Pixel)",
        "clock_ghz": 2.15,
        "neon_bits": 128,
        "madds_per_cycle": 4,
        "l2": "1 MB (fast cluster)",
        "dram": "LPDDR4, 64-bit bus",
        "dram_gbps": 29.8,
        "cross_check": _SRC_VFPBENCH,
        "sources": {"clock_ghz": _SRC_PIXEL, "cores": _SRC_PIXEL, "dram_gbps": _SRC_PIXEL,
                    "l2": _SRC_SD820, "madds_per_cycle": _SRC_KRYO_LLVM,
                    "neon_bits": _SRC_KRYO_LLVM},
    },
    "pixel_2": {
        "name": "Google Pixel 2 (Snapdragon 835, MSM8998), one Kryo 280 Gold core",
        "used_by": "MobileNetV3 (arXiv:1905.02244) Table 3, column P-2",
        "core": "Qualcomm Kryo 280 Gold (Cortex-A73 derivative, ARMv8-A, 128-bit NEON)",
        "cores": "4x Kryo 280 Gold @ 2.45 GHz + 4x Kryo 280 Silver @ 1.9 GHz",
        "clock_ghz": 2.45,
        "neon_bits": 128,
        "madds_per_cycle": 4,
        "l2": "2 MB shared by the Gold cluster",
        "dram": "LPDDR4X, 4x 16-bit @ 1866 MHz",
        "dram_gbps": 29.8,
        "unconfirmed": ("clock: 2.45 GHz (TechSpot, the SoC's clock) against 2.35 GHz in "
                        "phone spec lists; madds_per_cycle: assumed, no A73 pipeline source read"),
        "sources": {"clock_ghz": _SRC_PIXEL2, "cores": _SRC_SD845_ANNOUNCE,
                    "l2": _SRC_SD845_ANNOUNCE, "dram_gbps": _SRC_PIXEL2,
                    "madds_per_cycle": _SRC_A73_UNCONFIRMED, "neon_bits": _SRC_A73_UNCONFIRMED},
    },
    "pixel_3": {
        "name": "Google Pixel 3 (Snapdragon 845, SDM845), one Kryo 385 Gold core",
        "used_by": "MobileNetV3 (arXiv:1905.02244) Table 3, column P-3",
        "core": "Qualcomm Kryo 385 Gold (Cortex-A75 derivative, ARMv8.2-A, 128-bit NEON)",
        "cores": "4x Kryo 385 Gold @ 2.5 GHz + 4x Kryo 385 Silver @ 1.6 GHz (as clocked in the "
                 "Pixel 3; the SoC's rating is 2.8 + 1.8 GHz)",
        "clock_ghz": 2.5,
        "neon_bits": 128,
        "madds_per_cycle": 4,
        "l2": "256 KB per Gold core, 2 MB L3 shared (DynamIQ), 3 MB system cache",
        "dram": "LPDDR4X, 4x 16-bit @ 1866 MHz",
        "dram_gbps": 29.9,
        "unconfirmed": ("clock: from phone spec transcriptions, no first-hand Google page; "
                        "dram_gbps: derived from the channel layout"),
        "sources": {"clock_ghz": _SRC_PIXEL3, "cores": _SRC_PIXEL3, "l2": _SRC_SD845_ANNOUNCE,
                    "dram_gbps": _SRC_DRAM_4X16, "madds_per_cycle": _SRC_KRYO385_FLATLIB,
                    "neon_bits": _SRC_KRYO385_FLATLIB},
    },
    "samsung_s8": {
        "name": "Samsung Galaxy S8 SM-G950U (Snapdragon 835, MSM8998), one Kryo 280 "
                "performance core",
        "used_by": "FBNet (arXiv:1812.03443) authors' model table, "
                   "facebookresearch/mobile-vision README.md",
        "core": "Qualcomm Kryo 280 performance (ARMv8-A, 128-bit NEON; Cortex-A72/A73-derived, "
                "not disclosed)",
        "cores": "4x Kryo 280 Performance @ 2.36 GHz + 4x Kryo 280 Efficiency @ 1.90 GHz (as "
                 "clocked in the S8)",
        "clock_ghz": 2.36,
        "neon_bits": 128,
        "madds_per_cycle": 4,
        "l2": "2 MB (performance cluster)",
        "dram": "LPDDR4X-1866, four channels (bus width not confirmed)",
        "dram_gbps": 29.9,
        "unconfirmed": "madds_per_cycle (Kryo 280's NEON width per pipe) and dram_gbps (bus "
                       "width); the Exynos 8895 S8 (SM-G950F) is another phone",
        "sources": {"clock_ghz": _SRC_S8, "cores": _SRC_S8, "l2": _SRC_SD835,
                    "dram_gbps": _SRC_SD835, "madds_per_cycle": _SRC_KRYO280,
                    "neon_bits": _SRC_KRYO280},
    },
}

# ---------------------------------------------------------------------------------------------
# emulation-derived per-kind instruction costs
# ---------------------------------------------------------------------------------------------
#: Derived from the three emulated zoo files (:data:`EMULATION_FILES`, merged: all 48 zoo models)
#: by :func:`derive_emulation_fits`:
#: per op key (``kind`` or ``kind:op``, as in the latency profile), ``instructions = fixed +
#: per_unit x units`` over the distinct emulated layers (units: multiply-adds for convolutions and
#: linear layers, MAC elements otherwise).  EMULATION INSTRUCTION COUNTS (QEMU, ``-cpu
#: neoverse-n1``, NEON 128-bit, torch 2.10.0 aarch64 wheel, one thread), NOT TIMINGS.
EMULATION_SOURCE = ("reports/arm/arm_neoverse-n1_zoo.json, arm_neoverse-n1_zoo_more.json and "
                    "arm_neoverse-n1_zoo_heavy.json merged: aarch64 instruction counts per layer "
                    "under QEMU 7.2 -cpu neoverse-n1 (NEON 128-bit), torch 2.10.0 aarch64 wheel, "
                    "one thread, all 48 zoo models (224x224; xception 299x299), 3,741 distinct "
                    "layers in the fits; fixed + slope fits per op key (relative-error least "
                    "squares over distinct layers).  The first file alone (19 models) gave "
                    "somewhat different rates (e.g. depthwise 1.63 instead of 1.75 instructions "
                    "per madd)")
EMULATION_FITS: Dict[str, dict] = {
    "act:hardsigmoid": {"per": "mac", "fixed": 18510, "per_unit": 1.441, "layers": 12},
    "act:hardswish": {"per": "mac", "fixed": 16113, "per_unit": 1.438, "layers": 20},
    "act:prelu": {"per": "mac", "fixed": 31963, "per_unit": 0.86, "layers": 72},
    "act:relu": {"per": "mac", "fixed": 16726, "per_unit": 0.6254, "layers": 409},
    "act:relu6": {"per": "mac", "fixed": 22540, "per_unit": 0.7497, "layers": 57},
    "act:sigmoid": {"per": "mac", "fixed": 17436, "per_unit": 8.554, "layers": 30},
    "act:silu": {"per": "mac", "fixed": 16544, "per_unit": 8.438, "layers": 65},
    "concat": {"per": "mac", "fixed": 11993, "per_unit": 0.6336, "layers": 193},
    "conv": {"per": "madd", "fixed": 120548, "per_unit": 0.4741, "layers": 108},
    "depthwise_conv": {"per": "madd", "fixed": 601328, "per_unit": 1.751, "layers": 405},
    "elementwise:add": {"per": "mac", "fixed": 8475, "per_unit": 0.5081, "layers": 190},
    "elementwise:mul": {"per": "mac", "fixed": 20823, "per_unit": 0.5927, "layers": 50},
    "group_conv": {"per": "madd", "fixed": 197702, "per_unit": 0.4077, "layers": 136},
    "identity": {"per": "mac", "fixed": 12989, "per_unit": 0.0, "layers": 25},
    "linear": {"per": "madd", "fixed": 45741, "per_unit": 4.113, "layers": 52},
    "norm:batchnorm2d": {"per": "mac", "fixed": 85959, "per_unit": 1.796, "layers": 629},
    "pointwise_conv": {"per": "madd", "fixed": 70422, "per_unit": 0.3838, "layers": 695},
    "pool:adaptiveavgpool2d": {"per": "mac", "fixed": 72481, "per_unit": 0.7182, "layers": 96},
    "pool:avgpool2d": {"per": "mac", "fixed": 24909, "per_unit": 20.56, "layers": 76},
    "pool:maxpool2d": {"per": "mac", "fixed": 394805, "per_unit": 33.91, "layers": 42},
    "shift:activeshift": {"per": "mac", "fixed": 489346, "per_unit": 38.47, "layers": 24},
    "shift:groupedshift": {"per": "mac", "fixed": 786575, "per_unit": 2.24, "layers": 19},
    "shift:sparseshift": {"per": "mac", "fixed": 631015, "per_unit": 7.457, "layers": 26},
    "shuffle": {"per": "mac", "fixed": 26444, "per_unit": 0.458, "layers": 47},
    "split:chunk": {"per": "mac", "fixed": 14806, "per_unit": 0.0, "layers": 12},
    "split:split": {"per": "mac", "fixed": 30533, "per_unit": 0.0, "layers": 62},
    "view:flatten": {"per": "mac", "fixed": 6191, "per_unit": 0.0, "layers": 48},
    "view:transpose": {"per": "mac", "fixed": 7290, "per_unit": 0.0, "layers": 47},
    "view:view": {"per": "mac", "fixed": 6446, "per_unit": 0.0, "layers": 94},
}
#: the reference kind: its kernel is assumed to run at the NEON peak
REFERENCE_KEY = "pointwise_conv"
#: op keys that cost nothing in the papers' engines (folded at inference)
FOLDED_KEYS = ("norm", "identity")

_MADD_KINDS = ("conv", "pointwise_conv", "depthwise_conv", "group_conv", "linear")
_REPORTS_ARM = os.path.join(os.path.dirname(__file__), "..", "..", "reports", "arm")
#: the emulated timing files :data:`EMULATION_FITS` is derived from, merged (a model in several
#: files counts once): together every zoo model
EMULATION_FILES = tuple(os.path.join(_REPORTS_ARM, f) for f in (
    "arm_neoverse-n1_zoo.json", "arm_neoverse-n1_zoo_more.json", "arm_neoverse-n1_zoo_heavy.json"))


def derive_emulation_fits(paths: Union[str, Sequence[str], None] = None,
                          min_layers: int = 3) -> Dict[str, dict]:
    """Recompute :data:`EMULATION_FITS` from emulated timing files (``costmodel arm run``),
    merged; default :data:`EMULATION_FILES`."""
    from costmodel.arm import compare
    from costmodel.latency import timings

    paths = EMULATION_FILES if paths is None else [paths] if isinstance(paths, str) else paths
    df = compare.distinct(compare.layer_frame([timings.load(p) for p in paths]))
    df = df[df["instructions"].notna() & (df["instructions"] > 0)].copy()
    df["key"] = [op_key(k, o) for k, o in zip(df["kind"], df["op"])]
    return fit_key_lines(df, _MADD_KINDS, min_layers)


def fit_key_lines(df, madd_kinds: Sequence[str], min_layers: int = 3) -> Dict[str, dict]:
    """Per op key of ``df`` (distinct emulated layers with ``key``, ``kind``, ``instructions``,
    ``madds``, ``mac``) with at least ``min_layers`` layers: ``instructions = fixed + per_unit x
    units`` (non-negative least squares on relative error), units multiply-adds for the kinds in
    ``madd_kinds`` and MAC elements otherwise; {key: {per, fixed, per_unit, layers}}."""
    from costmodel.arm import compare
    out = {}
    for key, g in df.groupby("key"):
        if len(g) < min_layers:
            continue
        per = "madd" if g["kind"].iloc[0] in madd_kinds else "mac"
        x = g["madds" if per == "madd" else "mac"].to_numpy(float)
        y = g["instructions"].to_numpy(float)
        c = compare._rel_fit(np.stack([np.ones_like(x), x], axis=1), y)
        out[key] = {"per": per, "fixed": float(c[0]), "per_unit": float(c[1]), "layers": len(g)}
    return out


# ---------------------------------------------------------------------------------------------
# profiles
# ---------------------------------------------------------------------------------------------
def peak_madds_per_s(device: str) -> float:
    d = DEVICES[device]
    return d["madds_per_cycle"] * d["clock_ghz"] * 1e9


def instruction_rate(device: str, fits: Optional[Dict[str, dict]] = None) -> float:
    """Instructions per second that make the reference kind run at the NEON peak."""
    fits = fits or EMULATION_FITS
    return peak_madds_per_s(device) * fits[REFERENCE_KEY]["per_unit"]


def _roofline(peak_per_s: float, bw_per_s: float, overhead_s: float = 0.0) -> dict:
    return {"type": "roofline", "peak_madds_per_ms": float(peak_per_s / 1e3),
            "bandwidth_bytes_per_ms": float(bw_per_s / 1e3), "overhead_ms": float(overhead_s * 1e3)}


def profile_dict(device: str, variant: str = "emu", fits: Optional[Dict[str, dict]] = None) -> dict:
    """The ``costmodel-profile`` v1 JSON object of ``device`` (a :data:`DEVICES` key)."""
    if device not in DEVICES:
        raise KeyError(f"unknown device {device!r}; one of {', '.join(DEVICES)}")
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; one of {', '.join(VARIANTS)}")
    fits = fits or EMULATION_FITS
    d = DEVICES[device]
    peak = peak_madds_per_s(device)
    bw = d["dram_gbps"] * 1e9
    ir = instruction_rate(device, fits)
    ops = {"default": _roofline(peak, bw)}
    for key in FOLDED_KEYS:
        ops[key] = {"type": "constant", "ms": 0.0}
    if variant != "roofline":
        for key, f in sorted(fits.items()):
            if key.split(":", 1)[0] in FOLDED_KEYS:
                continue
            overhead = f["fixed"] / ir if variant == "emu_call" else 0.0
            s = f["per_unit"]
            if f["per"] == "madd":
                ops[key] = _roofline(min(peak, ir / s) if s > 0 else peak, bw, overhead)
            else:  # time per MAC element = s / ir; mac_bytes = 4 bytes per fp32 element
                ops[key] = _roofline(peak, min(bw, 4.0 * ir / s) if s > 0 else bw, overhead)
    machine = {
        "cpu_model": d["name"], "arch": "aarch64", "torch": "n/a (spec profile)",
        "spec_profile": True, "device": device,
        "variant": variant, "variant_label": VARIANT_LABELS[variant], "core": d["core"],
        "clock_ghz": d["clock_ghz"], "madds_per_cycle": d["madds_per_cycle"],
        "peak_gmadds_per_s": peak / 1e9, "dram_gbps": d["dram_gbps"],
        "sources": d["sources"],
        "note": ("built from public specifications (and, for variants 'emu'/'emu_call', from "
                 "emulated aarch64 instruction counts), not calibrated on the device; BatchNorm "
                 "and dropout folded (zero cost)"),
    }
    if variant != "roofline":
        machine.update({"instruction_rate_per_s": ir,
                        "effective_ipc": ir / (d["clock_ghz"] * 1e9),
                        "emulation_source": EMULATION_SOURCE})
    flops_coef = 1.0 / (2.0 * peak / 1e3)  # ms per flop: madds at the NEON peak
    thread = {
        "ops": ops,
        "network": {"features": ["iso", "const"], "coef": [1.0, 0.0]},
        "baselines": {"flops": {"features": ["flops"], "coef": [flops_coef]}},
        "calibration_networks": [],
        "stats": {"source": "spec"},
    }
    calibration = {"kind": "spec", "variant": variant, "device": device,
                   "description": VARIANT_LABELS[variant]}
    return {"format": "costmodel-profile", "version": 1, "machine": machine,
            "calibration": calibration, "threads": {"1": thread}}


def spec_profile(device: str, variant: str = "emu", fits: Optional[Dict[str, dict]] = None
                 ) -> DeviceProfile:
    """A :class:`DeviceProfile` of ``device`` built from public specifications (one thread)."""
    return DeviceProfile.from_dict(profile_dict(device, variant, fits))


def save_spec_profile(device: str, path: str, variant: str = "emu") -> DeviceProfile:
    prof = spec_profile(device, variant)
    fileio.write_text(path, json.dumps(prof.to_dict(), indent=1, allow_nan=False) + "\n")
    return prof


def describe(device: str) -> str:
    d = DEVICES[device]
    return (f"{d['name']}: {d['clock_ghz']} GHz x {d['madds_per_cycle']} fp32 madds/cycle = "
            f"{peak_madds_per_s(device) / 1e9:.2f} GMAdd/s peak, DRAM {d['dram_gbps']} GB/s")


def devices_json() -> str:
    return json.dumps(DEVICES, indent=1)
