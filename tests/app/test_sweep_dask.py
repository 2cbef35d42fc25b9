"""`nnc sweep --dask`: a real Dask cluster on the loopback interface (a `dask scheduler`
and two `dask worker` processes, one thread each) runs the trials; their metrics are the
local run's to the bit, and a worker killed mid-sweep loses no trial."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import SPIRAL_SWEEP, trial_weights

DASK = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
if DASK is None:
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI=true but Dask is missing: the test extra installs "
                           "dask[distributed]")
    pytestmark = pytest.mark.skip(reason="Dask is not installed (pip install -e '.[dask]')")

SPEC = SPIRAL_SWEEP.replace("epochs: 60", "epochs: 200") + """sweep:
  metric: val_accuracy
  parameters:
    layers.0.units: {values: [4, 8, 16]}
    train.l2: {values: [0.0, 0.001]}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Cluster:
    """A scheduler and workers on 127.0.0.1, each its own process (and session)."""

    def __init__(self, workers: int):
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.scheduler = self._start("scheduler", "--host", "127.0.0.1", "--port",
                                     str(self.port), "--no-dashboard")
        self.workers = [self._start("worker", self.address, "--nthreads", "1", "--no-nanny",
                                    "--host", "127.0.0.1", "--no-dashboard", "--name",
                                    f"w{i}") for i in range(workers)]
        self._wait_for(workers)

    def _start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([str(DASK), *args], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)

    def _wait_for(self, workers: int, limit: float = 60) -> None:
        from distributed import Client

        deadline = time.monotonic() + limit
        while True:
            try:
                with Client(self.address, timeout=5) as client:
                    if len(client.nthreads()) >= workers:
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline, "the Dask cluster did not start"
            time.sleep(0.3)

    def busy_worker(self, sweep: subprocess.Popen, limit: float = 120) -> int:
        """The index of a worker running a trial of ``sweep``, once one is."""
        from distributed import Client

        deadline = time.monotonic() + limit
        with Client(self.address, timeout=5) as client:
            while True:
                assert sweep.poll() is None, sweep.communicate()
                assert time.monotonic() < deadline, "no worker took a trial"
                names = {address: info["name"] for address, info
                         in client.scheduler_info()["workers"].items()}
                busy = [names[a] for a, tasks in client.processing().items() if tasks]
                if busy:
                    return int(str(busy[0]).removeprefix("w"))
                time.sleep(0.05)

    def close(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    started = Cluster(2)
    try:
        yield started
    finally:
        started.close()


def table(folder: Path) -> dict[tuple[str, str], dict[str, str]]:
    with (folder / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    by_values = {(r["layers.0.units"], r["train.l2"]): r for r in rows}
    assert len(by_values) == len(rows), "a trial appears twice"
    return by_values


@pytest.mark.slow
def test_trials_on_dask_match_the_local_ones_bit_for_bit(cli, cluster, tmp_path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    local = cli("sweep", spec, "--workers", "2", "-o", tmp_path / "local", "-q")
    assert local.exit_code == 0, local.stderr
    remote = cli("sweep", spec, "--dask", cluster.address, "-o", tmp_path / "dask", "-q")
    assert remote.exit_code == 0, remote.stderr
    here, there = table(tmp_path / "local"), table(tmp_path / "dask")
    assert len(here) == 6 and here.keys() == there.keys()
    for values, row in here.items():
        assert row["state"] == there[values]["state"] == "complete"
        assert row["val_accuracy"] == there[values]["val_accuracy"], values
        assert trial_weights(tmp_path / "local", row["number"]).read_bytes() == \
            trial_weights(tmp_path / "dask", there[values]["number"]).read_bytes()


@pytest.mark.slow
def test_a_worker_killed_mid_sweep_loses_no_trial(cluster, tmp_path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "nnc.cli", "sweep", spec, "--dask",
                             cluster.address, "-o", out, "-q", "--set", "train.epochs=3000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    os.killpg(cluster.workers[cluster.busy_worker(proc)].pid, signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    trials = table(out)
    assert len(trials) == 6 and {r["state"] for r in trials.values()} == {"complete"}
    assert "trials: 6 complete" in stdout
