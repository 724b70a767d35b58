"""Issue 24: two `make study` at once in a fresh clone both installed into .venv. The bootstrap
now takes a lock on the environment (`<venv>.lock`); the second waits, says so, and finds the
environment prepared instead of installing into it again."""

import fcntl
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_second_bootstrap_waits_for_the_first_and_reuses_its_environment(tmp_path):
    venv = tmp_path / "venv"
    venv.mkdir()
    with open(f"{venv}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the first bootstrap, still installing
        proc = subprocess.Popen(["bash", "envs/bootstrap.sh", sys.executable, str(venv)],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)  # fmt: skip
        time.sleep(2)
        assert proc.poll() is None  # the second waits
        (venv / ".bootstrapped").touch()  # what the first does last, before it lets go
        fcntl.flock(lock, fcntl.LOCK_UN)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "waiting for it" in out and "prepared by the other bootstrap meanwhile" in out
    assert not (venv / "bin").exists()  # it installed nothing
