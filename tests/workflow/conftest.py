"""The one real end-to-end run of the smoke config, shared by the workflow tests (session scope:
it runs once however many modules use it)."""

import time

import pytest

from tests.workflow.helpers import snakemake


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    wd = tmp_path_factory.mktemp("smoke")
    t0 = time.time()
    res = snakemake(wd, "--cores", "2", timeout=1200)
    print(f"smoke run: {time.time() - t0:.0f}s")
    assert res.returncode == 0, res.stderr[-5000:]
    return wd
