"""Coverage of networks nobody on this project wrote: every timm architecture (up to 150M
parameters), every torchvision classification model and pytorchcv's classification models,
each analyzed and checked by :func:`costmodel.verify.check` (params equal to the model's own
count, conv + linear + matmul + attention + recurrent multiply-adds equal to
``FlopCounterMode``/2 on meta tensors within 0.1%, no unsupported op, the model unchanged).

    python benchmarks/coverage.py [--out reports] [--workers 2] [--sources timm torchvision pytorchcv]
                                  [--limit N] [--families tests/foreign_families.json]

Writes ``coverage.csv`` (one row per model) and ``coverage.md`` (counts per source and family,
every failure with its reason, analysis time per model).  Each model is built with random
weights on the meta device when its constructor allows (no weight memory), else on the CPU, in
worker processes (a crash or a hang of one model cannot stop the run: each has a time limit).
"""
from __future__ import annotations

import argparse
import csv
import datetime
import io
import json
import multiprocessing as mp
import os
import platform
import signal
import statistics
import sys
import time
import warnings
from collections import defaultdict

MAX_PARAMS = 150_000_000
#: pytorchcv models that are not image classifiers (dense prediction, speech, faces, keypoints,
#: video inpainting and optical flow, which take several inputs)
PYTORCHCV_NOT_CLASSIFIERS_SUFFIX = ("_coco", "_cityscapes", "_voc", "_ade20k", "_widerface",
                                    "_celebamaskhq")
PYTORCHCV_NOT_CLASSIFIERS_PREFIX = ("jasper", "quartznet", "nvpattexp", "superpointnet",
                                    "visemenet", "voca", "propainter", "raft")
TIME_LIMIT_S = 300


def list_specs(sources_wanted, limit=None):
    from costmodel import sources
    specs = []
    if "torchvision" in sources_wanted:
        specs += [("torchvision", n) for n in sources.torchvision_classification()]
    if "timm" in sources_wanted:
        specs += [("timm", n) for n in sources.names("timm")]
    if "pytorchcv" in sources_wanted:
        specs += [("pytorchcv", n) for n in sources.names("pytorchcv")
                  if not n.endswith(PYTORCHCV_NOT_CLASSIFIERS_SUFFIX)
                  and not n.startswith(PYTORCHCV_NOT_CLASSIFIERS_PREFIX)]
    return specs[:limit] if limit else specs


_TIMM_MODULE = {}


def timm_module(name: str) -> str:
    if not _TIMM_MODULE:
        import timm
        for m in timm.list_modules():
            for n in timm.list_models(module=m):
                _TIMM_MODULE[n] = m
    return _TIMM_MODULE.get(name, "?")


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def check_one(item):
    """Build, analyze and check one model (in a worker process); returns a row dict."""
    source, name = item
    warnings.filterwarnings("ignore")
    import torch
    from costmodel import sources, verify
    torch.set_num_threads(1)
    spec = f"{source}:{name}"
    row = {"source": source, "name": name, "family": "", "built_on": "", "params": "",
           "input": "", "ok": False, "exact": False, "madds": "", "ref_madds": "",
           "madds_error_pct": "", "unsupported": "", "unchanged": "", "analysis_ms": "",
           "problem": ""}
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIME_LIMIT_S)
    try:
        model = None
        try:
            model = sources.load_model(spec, device="meta")
            row["built_on"] = "meta"
        except Exception:
            model = sources.load_model(spec)
            row["built_on"] = "cpu"
        row["family"] = timm_module(name) if source == "timm" else type(model).__module__.rsplit(".", 1)[-1]
        params = sum(p.numel() for p in model.parameters())
        row["params"] = params
        if source == "timm" and params > MAX_PARAMS:
            row["problem"] = f"skipped: {params / 1e6:.0f}M parameters (over {MAX_PARAMS // 10**6}M)"
            return row
        shape = sources.default_input_shape(spec, model)
        row["input"] = "x".join(map(str, shape))
        r = verify.check(model, shape, name=spec)
        row.update(ok=r.ok, exact=r.exact, madds=r.madds, ref_madds=r.ref_madds,
                   madds_error_pct=f"{100 * r.madds_error:.4f}" if r.ref_error is None else "",
                   unsupported=" ".join(r.unsupported), unchanged=not r.changes,
                   analysis_ms=f"{1e3 * r.seconds:.1f}", problem="; ".join(r.problems()))
    except _Timeout:
        row["problem"] = f"timed out after {TIME_LIMIT_S} s"
    except Exception as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        row["problem"] = f"build failed: {type(exc).__name__}: {text}"[:300]
    finally:
        signal.alarm(0)
    return row


def run(specs, workers):
    rows = []
    ctx = mp.get_context("fork")
    with ctx.Pool(workers, maxtasksperchild=25) as pool:
        for i, row in enumerate(pool.imap_unordered(check_one, specs, chunksize=1), 1):
            rows.append(row)
            if i % 25 == 0 or i == len(specs):
                ok = sum(r["ok"] for r in rows)
                print(f"  {i}/{len(specs)} checked, {ok} ok", file=sys.stderr, flush=True)
    order = {s: i for i, s in enumerate(specs)}
    rows.sort(key=lambda r: order[(r["source"], r["name"])])
    return rows


def _skipped(r):
    return r["problem"].startswith("skipped")


def render(rows, started, minutes, workers) -> str:
    import torch
    versions = {"torch": torch.__version__}
    for lib in ("torchvision", "timm", "pytorchcv"):
        try:
            versions[lib] = __import__(lib).__version__
        except Exception:
            pass
    out = io.StringIO()
    w = out.write
    w("# Coverage: networks nobody on this project wrote\n\n")
    w(f"Generated by `python benchmarks/coverage.py` on {started} ({minutes:.1f} min, {workers} "
      f"worker processes on {os.cpu_count()} cores, {platform.machine()}); "
      + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".\n\n")
    w("Each model is built with random weights (on the meta device where its constructor "
      "allows, else on the CPU) and checked by `costmodel.verify.check` at its default input "
      "(timm's `pretrained_cfg['input_size']`, torchvision's weights' crop size or the ViT's "
      "`image_size`, pytorchcv's `in_size`):\n\n"
      "- **params** equal to the model's unique parameter count;\n"
      "- **madds** of convolutions, linear layers, matrix products, attention and recurrent "
      "layers equal to `torch.utils.flop_counter.FlopCounterMode` / 2 on meta tensors within "
      "0.1%;\n- **no op without a formula** (`unsupported`);\n"
      "- **the model unchanged** afterwards (every parameter, buffer and tensor attribute by "
      "identity, device, dtype, shape, storage and version counter; module attributes, "
      "training flags, hooks).\n\n"
      "A model is *ok* when all four hold. timm models over 150M parameters are skipped (all of torchvision and pytorchcv is checked).\n\n")
    w("| source | models | checked | ok | exact counts | fully supported | unchanged | failed |\n")
    w("|---|---:|---:|---:|---:|---:|---:|---:|\n")
    by_source = defaultdict(list)
    for r in rows:
        by_source[r["source"]].append(r)
    for src, rs in by_source.items():
        checked = [r for r in rs if not _skipped(r)]
        ok = sum(r["ok"] for r in checked)
        w(f"| {src} | {len(rs)} | {len(checked)} | {ok} ({100 * ok / max(len(checked), 1):.1f}%) | "
          f"{sum(r['exact'] for r in checked)} | "
          f"{sum(1 for r in checked if r['unsupported'] == '' and r['madds'] != '')} | "
          f"{sum(1 for r in checked if r['unchanged'] is True)} | {len(checked) - ok} |\n")
    w("\n## Failures\n\n")
    failures = [r for r in rows if not r["ok"] and not _skipped(r)]
    if not failures:
        w("None.\n")
    else:
        w("| model | family | input | reason |\n|---|---|---|---|\n")
        for r in failures:
            w(f"| {r['source']}:{r['name']} | {r['family']} | {r['input']} | "
              f"{r['problem'].replace('|', '/')} |\n")
    skipped = [r for r in rows if _skipped(r)]
    w(f"\n{len(skipped)} models skipped for size: "
      + ", ".join(f"{r['source']}:{r['name']}" for r in skipped) + ".\n" if skipped else "")
    w("\n## Per family\n\n| source | family | models | ok | median analysis ms | max analysis ms |\n"
      "|---|---|---:|---:|---:|---:|\n")
    fams = defaultdict(list)
    for r in rows:
        if not _skipped(r):
            fams[(r["source"], r["family"])].append(r)
    for (src, fam), rs in sorted(fams.items()):
        times = [float(r["analysis_ms"]) for r in rs if r["analysis_ms"] != ""]
        med = f"{statistics.median(times):.0f}" if times else "-"
        mx = f"{max(times):.0f}" if times else "-"
        w(f"| {src} | {fam} | {len(rs)} | {sum(r['ok'] for r in rs)} | {med} | {mx} |\n")
    w("\n## Every model\n\nAnalysis time is the wall time of one `costmodel.analyze` call in a "
      "worker process while the other worker ran (a first analysis: nothing cached); "
      "`benchmarks/analysis_speed.py` times tools side by side on a quiet machine.\n\n"
      "| model | family | built on | params | input | madds (counted kinds) | FlopCounterMode/2 | "
      "analysis ms | ok |\n|---|---|---|---:|---|---:|---:|---:|---|\n")
    for r in rows:
        if _skipped(r):
            continue
        w(f"| {r['source']}:{r['name']} | {r['family']} | {r['built_on']} | {r['params']} | "
          f"{r['input']} | {r['madds']} | {r['ref_madds']} | {r['analysis_ms']} | "
          f"{'yes' if r['ok'] else 'no'} |\n")
    return out.getvalue()


def smallest_per_family(rows, source="timm"):
    """One model per family: the one with the fewest parameters (for the CI test list)."""
    best = {}
    for r in rows:
        if r["source"] != source or _skipped(r) or r["params"] == "":
            continue
        fam = r["family"]
        if fam not in best or int(r["params"]) < int(best[fam]["params"]):
            best[fam] = r
    return {fam: r["name"] for fam, r in sorted(best.items())}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="reports", help="directory for coverage.md and coverage.csv")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sources", nargs="+", default=["torchvision", "timm", "pytorchcv"])
    ap.add_argument("--limit", type=int, default=None, help="check only the first N models")
    ap.add_argument("--families", default=None,
                    help="also write the smallest timm model of each family to this JSON file")
    args = ap.parse_args(argv)
    from costmodel import fileio
    try:
        os.makedirs(args.out, exist_ok=True)
        for path in (os.path.join(args.out, "coverage.md"), os.path.join(args.out, "coverage.csv")):
            fileio.check_writable(path)
    except (OSError, fileio.OutputError) as exc:
        sys.exit(f"coverage: {exc}")
    specs = list_specs(args.sources, args.limit)
    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    t0 = time.time()
    print(f"checking {len(specs)} models with {args.workers} workers", file=sys.stderr)
    rows = run(specs, args.workers)
    minutes = (time.time() - t0) / 60
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    fileio.write_text(os.path.join(args.out, "coverage.csv"), buf.getvalue())
    fileio.write_text(os.path.join(args.out, "coverage.md"), render(rows, started, minutes, args.workers))
    if args.families:
        fileio.write_text(args.families, json.dumps(smallest_per_family(rows), indent=1) + "\n")
    checked = [r for r in rows if not _skipped(r)]
    print(f"{sum(r['ok'] for r in checked)} of {len(checked)} ok; wrote {args.out}/coverage.md",
          file=sys.stderr)


if __name__ == "__main__":
    main()
