"""A throw-away single-node SLURM cluster on localhost, for tests.

munged, slurmctld and slurmd are started directly (no systemd) with every file they write in one
scratch directory; `LocalSlurm.env` points the SLURM client commands at it (SLURM_CONF). The node
has the machine's real CPU count and two fake GPUs (character devices, see `_write_files`), so a job
asking for GPUs is scheduled, and its GPU request is recorded, on a machine without any.

No slurmdbd: `sacct` does not work, so Snakemake's SLURM plugin must poll with `squeue`
(`slurm-status-command: squeue`). Completed jobs are recorded by jobcomp/filetxt in `jobcomp_log`,
one line per job, which is what the tests read back.

Run `python -m tests.slurm.cluster` to bring a cluster up by hand and shut it down with Ctrl-C.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "srun", "squeue", "sinfo", "scontrol", "scancel")
N_GPUS = 2
GPU_TYPE = "fake"  # the GRES type, i.e. the plugin's `gpu_model`


class SlurmUnavailable(Exception):
    """SLURM cannot be installed or started here for a reason outside the code under test."""


def missing_commands() -> list[str]:
    return [c for c in (*DAEMONS, *CLIENTS) if shutil.which(c) is None]


def ensure_installed(timeout: float = 900) -> None:
    """Install the Debian packages slurm-wlm and munge when a command is missing.

    Raises SlurmUnavailable when they are missing and cannot be installed here (not root, or no
    apt-get); a failing apt-get is an error.
    """
    missing = missing_commands()
    if not missing:
        return
    if os.geteuid() != 0:
        raise SlurmUnavailable(f"SLURM commands {missing} missing and not root to install them")
    if shutil.which("apt-get") is None:
        raise SlurmUnavailable(f"SLURM commands {missing} missing and no apt-get to install them")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", "slurm-wlm", "munge"],
    ):
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        if res.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{res.stdout[-3000:]}{res.stderr[-3000:]}")
    still = missing_commands()
    if still:
        raise RuntimeError(f"after installing slurm-wlm and munge, still missing: {still}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _memory_mb() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return 4096


class LocalSlurm:
    """One controller and one compute node, `localhost`, configured under `root`."""

    def __init__(self, root: Path, cpus: int | None = None):
        self.root = Path(root)
        self.cpus = cpus or len(os.sched_getaffinity(0))
        self.conf = self.root / "etc" / "slurm.conf"
        self.jobcomp_log = self.root / "log" / "jobcomp.log"
        self.bin = self.root / "bin"
        self.procs: dict[str, subprocess.Popen] = {}
        self._outputs = []
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        # Snakemake's jobstep executor runs `srun` with every SLURM_* variable removed, SLURM_CONF
        # included; this `srun` on PATH (exported to the jobs) puts it back.
        self.env["PATH"] = f"{self.bin}{os.pathsep}{self.env.get('PATH', '')}"

    # -- configuration ------------------------------------------------------------------------

    def _write_files(self) -> None:
        for d in ("etc", "log", "run", "state", "spool/slurmd-localhost", "munge", "dev", "bin"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root / "munge", 0o700)
        key = self.root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o400)
        # A GPU GRES whose File= does not exist, or is not a device, is dropped by slurmd; a
        # character device with /dev/null's numbers stands in for /dev/nvidiaN.
        for i in range(N_GPUS):
            dev = self.root / "dev" / f"nvidia{i}"
            if not dev.exists():
                try:
                    os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
                except OSError:
                    dev.symlink_to("/dev/null")
        srun = self.bin / "srun"
        srun.write_text(f'#!/bin/sh\nSLURM_CONF="{self.conf}" exec {shutil.which("srun")} "$@"\n')
        srun.chmod(0o755)
        self.conf.write_text(self._slurm_conf())
        (self.conf.parent / "gres.conf").write_text(
            "AutoDetect=off\n"
            f"NodeName=localhost Name=gpu Type={GPU_TYPE} "
            f"File={self.root}/dev/nvidia[0-{N_GPUS - 1}]\n"
        )
        # Only read if a cgroup plugin is loaded; the ones below use none.
        (self.conf.parent / "cgroup.conf").write_text("CgroupAutomount=no\nConstrainCores=no\n")

    def _slurm_conf(self) -> str:
        r = self.root
        # Memory is not enforced (no cgroups); a node of at least 16 GB lets the CPUs, not memory,
        # bound how many jobs run at once (the rules ask for 2-4 GB each).
        mem = max(_memory_mb(), 16000)
        node = f"CPUs={self.cpus} RealMemory={mem} Gres=gpu:{GPU_TYPE}:{N_GPUS}"
        return f"""\
ClusterName=testcluster
SlurmctldHost={socket.gethostname().split(".")[0]}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={r}/munge/munge.socket
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool/slurmd-%n
SlurmctldPidFile={r}/run/slurmctld.pid
SlurmdPidFile={r}/run/slurmd-%n.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups in a container: processes are tracked through /proc, tasks are not bound.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SwitchType=switch/none
MpiDefault=none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={self.jobcomp_log}
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Without a default, a job that asks no memory holds all of the node's and runs alone.
DefMemPerCPU=1000
# Keep finished jobs visible to squeue (the plugin's status command, and the tests) for an hour.
MinJobAge=3600
ReturnToService=2
SlurmdParameters=config_overrides
SchedulerParameters=sched_interval=1,bf_interval=1
MessageTimeout=30
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 {node} State=UNKNOWN
# Two partitions on the one node, as a site with CPU and GPU partitions.
PartitionName=cpu Nodes=localhost Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=localhost MaxTime=INFINITE State=UP
"""

    # -- lifecycle ------------------------------------------------------------------------------

    def _spawn(self, name: str, cmd: list[str]) -> None:
        log = open(self.root / "log" / f"{name}.stdout", "ab")  # noqa: SIM115 (closed in stop)
        self._outputs.append(log)
        self.procs[name] = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,  # Ctrl-C on the test run does not reach the daemons
        )

    def _wait(self, what: str, ok, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited with {p.returncode}\n{self.logs()}")
            if ok():
                return
            time.sleep(0.2)
        raise RuntimeError(f"timed out waiting for {what}\n{self.logs()}")

    def run(self, *cmd: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(cmd, capture_output=True, text=True, env=self.env, timeout=timeout)

    def start(self, timeout: float = 60) -> LocalSlurm:
        self._write_files()
        m = self.root / "munge"
        self._spawn(
            "munged",
            [
                "munged",
                "--foreground",
                "--force",
                f"--key-file={m}/munge.key",
                f"--socket={m}/munge.socket",
                f"--pid-file={m}/munged.pid",
                f"--log-file={self.root}/log/munged.log",
                f"--seed-file={m}/munged.seed",
            ],
        )
        self._wait("munged", lambda: (m / "munge.socket").exists(), timeout)
        self._spawn("slurmctld", ["slurmctld", "-D", "-i", "-f", str(self.conf)])
        self._wait("slurmctld", lambda: self.run("scontrol", "ping").returncode == 0, timeout)
        self._spawn("slurmd", ["slurmd", "-D", "-N", "localhost", "-f", str(self.conf)])

        def node_idle():
            res = self.run("sinfo", "--noheader", "--nodes=localhost", "--format=%t")
            return res.returncode == 0 and set(res.stdout.split()) == {"idle"}

        self._wait("node localhost idle", node_idle, timeout)
        return self

    def stop(self, timeout: float = 20) -> None:
        """Cancel every job, then end each daemon by its PID (SIGTERM, then SIGKILL)."""
        if self.procs.get("slurmctld") and self.procs["slurmctld"].poll() is None:
            try:
                self.run("scancel", "--full", "--user", str(os.getuid()), timeout=10)
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    res = self.run("squeue", "--noheader", "--states=R,PD,CG", timeout=10)
                    if res.returncode != 0 or not res.stdout.strip():
                        break
                    time.sleep(0.5)
            except subprocess.TimeoutExpired:
                pass
        for name in reversed(DAEMONS):
            p = self.procs.get(name)
            if p is None or p.poll() is not None:
                continue
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=timeout)
        for f in self._outputs:
            f.close()
        self._outputs.clear()

    def logs(self, tail: int = 3000) -> str:
        out = []
        for f in sorted((self.root / "log").glob("*")):
            if f.is_file():
                out.append(f"--- {f.name}\n{f.read_text(errors='replace')[-tail:]}")
        return "\n".join(out)

    def jobcomp_records(self) -> list[dict[str, str]]:
        """One dict per finished job from jobcomp/filetxt (`Key=Value` fields, space separated)."""
        if not self.jobcomp_log.exists():
            return []
        records = []
        for line in self.jobcomp_log.read_text().splitlines():
            fields = {}
            for item in line.split():
                key, sep, value = item.partition("=")
                if sep:
                    fields[key] = value
            if fields:
                records.append(fields)
        return records

    def __enter__(self) -> LocalSlurm:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


def _main() -> None:
    import tempfile

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)  # also when started in the background
    signal.signal(signal.SIGTERM, interrupt)
    ensure_installed()
    with tempfile.TemporaryDirectory(prefix="slurm-") as tmp, LocalSlurm(Path(tmp)) as cluster:
        print(f"export SLURM_CONF={cluster.conf} PATH={cluster.bin}:$PATH")
        print(f"PIDs: { {n: p.pid for n, p in cluster.procs.items()} }; Ctrl-C to stop", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    _main()
