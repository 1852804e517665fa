"""End-to-end timing of named models, each in a fresh process.

The same network measured in one long-lived process runs slower the more the process has done
before: on the 2-core x86 machine of ``reports/latency``, 8 calibration networks re-timed after a
20-minute validation run took a median 20% longer than when they were calibrated, and 10-15%
longer than in a new process, with the C allocator pinned (:mod:`costmodel.latency.allocator`) so
that page faults were not the cause.  Calibration and validation therefore time every network
end to end in a child forked from a clean *zygote* process (``python -m
costmodel.latency.fresh``: it imports torch and costmodel, runs nothing, and forks one child per
request), so every measurement starts from the same state, as a deployed model runs alone in its
process.  The child builds the model from its name (a zoo name or ``space:calibration:N`` /
``space:validation:N``, see :func:`costmodel.latency.named.resolve_model`); requests and
results are JSON lines, nothing is pickled.

Where ``os.fork`` does not exist (Windows) :func:`available` is false and callers time in process.
"""
from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
from typing import Dict, Optional

_ZYGOTE: Optional[subprocess.Popen] = None


def available() -> bool:
    return hasattr(os, "fork")


def _zygote() -> subprocess.Popen:
    global _ZYGOTE
    if _ZYGOTE is None or _ZYGOTE.poll() is not None:
        _ZYGOTE = subprocess.Popen([sys.executable, "-m", "costmodel.latency.fresh"],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True, bufsize=1,
                                   cwd=os.path.dirname(os.path.dirname(os.path.dirname(
                                       os.path.abspath(__file__)))))
        atexit.register(close)
        ready = _ZYGOTE.stdout.readline()
        if ready.strip() != "ready":
            close()
            raise RuntimeError("the fresh-process timing server did not start")
    return _ZYGOTE


def close() -> None:
    """Stop the zygote (also at exit)."""
    global _ZYGOTE
    if _ZYGOTE is not None:
        try:
            _ZYGOTE.stdin.close()
            _ZYGOTE.wait(5)
        except Exception:  # noqa: BLE001
            _ZYGOTE.kill()
        _ZYGOTE = None


class ModelMismatch(ValueError):
    """The model a fresh process built from a name is not the one the caller measures under
    that name (the code that builds it changed while a run was going on)."""


def time_named(name: str, threads: int, **kwargs) -> Dict:
    """:func:`costmodel.latency.measure.time_end_to_end` of the model called ``name`` at
    ``threads`` threads in a fresh process; ``kwargs`` go to ``time_end_to_end``."""
    return _request({"name": name, "threads": int(threads), "kwargs": kwargs})


def time_interleaved_named(name: str, threads: int, reference: str,
                           expect_params: Optional[int] = None, **kwargs) -> Dict:
    """:func:`costmodel.latency.measure.time_interleaved` of the model called ``name`` against
    the model called ``reference`` (both built in the same fresh process) at ``threads``
    threads; ``kwargs`` go to ``time_interleaved``.  With ``expect_params`` (the caller's own
    build of ``name``) a fresh build with another parameter count raises :class:`ModelMismatch`."""
    return _request({"name": name, "threads": int(threads), "kind": "interleaved",
                     "reference": reference, "kwargs": kwargs, "expect_params": expect_params})


def time_ops_named(name: str, threads: int, n_ops: int, overhead_ns: float, min_time_s: float,
                   expect_params: Optional[int] = None) -> Dict:
    """:func:`costmodel.latency.innet.time_in_network` of the model called ``name`` in a fresh
    process: ``op_ms`` (per traced op), ``e2e_ms`` (plain forwards alternating with the timed
    ones, same process), ``glue_ms``, ``modules_called``, ``runs``, ``op_spread``;
    ``expect_params`` as for :func:`time_interleaved_named`."""
    return _request({"name": name, "threads": int(threads), "kind": "in_network", "n_ops": int(n_ops),
                     "overhead_ns": float(overhead_ns), "min_time_s": float(min_time_s),
                     "expect_params": expect_params})


def param_count(model) -> int:
    """Every parameter element of ``model`` (shared ones once): the fingerprint a fresh build
    is checked against."""
    return int(sum(p.numel() for p in model.parameters()))


def _request(request: dict) -> Dict:
    name = request["name"]
    z = _zygote()
    z.stdin.write(json.dumps(request) + "\n")
    z.stdin.flush()
    line = z.stdout.readline()
    if not line:
        close()
        raise RuntimeError(f"the fresh-process timing server died while timing {name}")
    reply = json.loads(line)
    if "mismatch" in reply:
        raise ModelMismatch(reply["mismatch"])
    if "error" in reply:
        raise RuntimeError(f"timing {name} in a fresh process failed: {reply['error']}")
    return reply["result"]


def _measure(request: dict) -> dict:
    import torch

    from costmodel.latency.measure import time_end_to_end
    from costmodel.latency.replay import threads_pinned
    from costmodel.latency.named import resolve_model

    model, shape = resolve_model(request["name"])
    model.eval()
    want, have = request.get("expect_params"), param_count(model)
    if want is not None and have != int(want):
        raise ModelMismatch(
            f"{request['name']} built in a fresh process has {have:,} parameters, "
            f"not the {int(want):,} of the model measured under that name: costmodel's code "
            f"changed while this run was going on; run it again with the code left alone")
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    with threads_pinned(int(request["threads"])), torch.inference_mode():
        if request.get("kind") == "in_network":
            from costmodel import handles
            from costmodel.latency.innet import time_in_network
            r = time_in_network(model, [x], request["n_ops"], handles.has_module_handle,
                                min_time_s=request["min_time_s"], overhead_ns=request["overhead_ns"])
            return {"op_ms": [float(v) for v in r.op_ms], "e2e_ms": r.e2e_ms, "glue_ms": r.glue_ms,
                    "modules_called": r.modules_called, "runs": r.runs, "op_spread": r.op_spread}
        if request.get("kind") == "interleaved":
            from costmodel.latency.measure import time_interleaved
            ref, ref_shape = resolve_model(request["reference"])
            ref.eval()
            xr = torch.randn(ref_shape, generator=torch.Generator().manual_seed(1))
            return dict(time_interleaved(model, [x], ref, [xr], **request.get("kwargs", {})),
                        input_shape=[int(d) for d in shape])
        return dict(time_end_to_end(model, [x], **request.get("kwargs", {})),
                    input_shape=[int(d) for d in shape])


def serve() -> None:
    """The zygote: one JSON request per stdin line, one forked child per request, whose JSON
    reply goes to stdout."""
    import warnings

    import torch  # noqa: F401 - imported once here, inherited by every child

    import costmodel.latency.named  # noqa: F401 - the model builders, loaded once

    warnings.simplefilter("ignore")
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # child
            os.close(r)
            try:
                reply = {"result": _measure(json.loads(line))}
            except ModelMismatch as exc:
                reply = {"mismatch": str(exc)}
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            with os.fdopen(w, "w") as f:
                f.write(json.dumps(reply))
            os._exit(0)
        os.close(w)
        with os.fdopen(r) as f:
            data = f.read()
        _, status = os.waitpid(pid, 0)
        if not data:
            data = json.dumps({"error": f"the child process died (status {status})"})
        out.write(data.replace("\n", " ") + "\n")
        out.flush()


if __name__ == "__main__":
    serve()
