"""The Ray engine on a local cluster: results identical to the local engine's.

Two set-ups: ``ray.init(num_cpus=2)`` (one node, two worker processes), and a head plus a second
node started on this machine (:class:`ray.cluster_utils.Cluster`), reached through the command
line's ``--engine ray --address``.  Skipped when Ray is not installed (the README set-up line
installs it: the ``ray`` extra)."""
import logging
import os

import pandas as pd
import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'costmodel[ray]'")

from costmodel.cli import run as cli_run  # noqa: E402
from costmodel.sweep import run  # noqa: E402
from costmodel.sweep.ray_engine import worker_env  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROFILE = os.path.join(ROOT, "reports", "latency", "profile.json")
#: the committed profile was calibrated on another machine: predictions are for that machine
pytestmark = pytest.mark.filterwarnings("ignore::costmodel.latency.predict.OtherMachineWarning")


@pytest.fixture(scope="module")
def local_result():
    return run.sweep("tiny", enumerate_all=True, profile=PROFILE)


@ray.remote
def _pid():
    import time
    time.sleep(0.5)
    return os.getpid()


def test_two_worker_processes_give_the_local_result(local_result):
    ray.init(num_cpus=2, include_dashboard=False, runtime_env=worker_env(),
             logging_level=logging.WARNING, log_to_driver=False)
    try:
        assert len(set(ray.get([_pid.remote(), _pid.remote()]))) == 2  # two worker processes
        df = run.sweep("tiny", enumerate_all=True, profile=PROFILE, engine="ray",
                       chunk_size=60)
    finally:
        ray.shutdown()
    pd.testing.assert_frame_equal(df, local_result, check_exact=True)


def test_head_and_second_node_through_the_cli(local_result, tmp_path, capsys):
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1,
                                                            "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        out = tmp_path / "r.csv"
        code = cli_run(["sweep", "tiny", "--all", "--profile", PROFILE, "--out", str(out),
                        "--engine", "ray", "--address", cluster.address, "--chunk-size", "60",
                        "--no-plot", "-q"])
        assert code == 0, capsys.readouterr().err
        ray.init(address=cluster.address, logging_level=logging.WARNING, log_to_driver=False)
        try:
            assert len([n for n in ray.nodes() if n["Alive"]]) == 2
        finally:
            ray.shutdown()
    finally:
        cluster.shutdown()
    pd.testing.assert_frame_equal(run.read_table(out), local_result, check_exact=True)

