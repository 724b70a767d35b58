import os
import time

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
    yield


@pytest.fixture
def root():
    return ROOT


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """The one real end-to-end run of the smoke config, shared by the tests that need finished
    results (session scope: it runs once however many modules use it)."""
    from tests.workflow.helpers import snakemake

    wd = tmp_path_factory.mktemp("smoke")
    t0 = time.time()
    res = snakemake(wd, "--cores", "2", timeout=1200)
    print(f"smoke run: {time.time() - t0:.0f}s")
    assert res.returncode == 0, res.stderr[-5000:]
    return wd
