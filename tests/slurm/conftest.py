import os
import signal
import tempfile
import time
from pathlib import Path

import pytest

from tests.slurm.cluster import LocalSlurm, SlurmUnavailable, ensure_installed


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    """A running single-node SLURM (munged, slurmctld, slurmd); every daemon is ended by its PID
    when the module's tests are done, whether they passed, failed or were interrupted (Ctrl-C, or
    SIGTERM from a CI time limit)."""
    try:
        ensure_installed()
    except SlurmUnavailable as e:
        pytest.skip(f"no SLURM: {e}")
    root = tmp_path_factory.mktemp("slurm")
    if len(str(root)) > 60:  # munged's socket path must fit a sun_path (108 bytes)
        root = Path(tempfile.mkdtemp(prefix="slurm-"))
    cluster = LocalSlurm(root, cpus=len(os.sched_getaffinity(0)))
    previous = signal.signal(signal.SIGTERM, _interrupt)
    t0 = time.monotonic()
    try:
        cluster.start()
        print(f"SLURM up in {time.monotonic() - t0:.1f}s under {root}")
        yield cluster
    finally:
        cluster.stop()
        signal.signal(signal.SIGTERM, previous)
