"""``python -m mfgstudy <verb> ...``: run one job, and say in its log how it ended.

The job runs in a forked child; this parent (which imports nothing heavy) waits for it, so that
a job killed before or outside Python's own error handling (the out-of-memory killer, the
scheduler's time limit, a crash in a native library) still leaves one line in its log saying
why. Every report goes to stderr (the rule's log) and to stdout (Snakemake's or SLURM's output):
on a full disk the log may not take it.
"""

import os
import signal
import sys

WHY = {
    signal.SIGKILL: "most often the out-of-memory killer (raise the rule family's mem_mb under "
    "resources in the config) or the scheduler",
    signal.SIGTERM: "cancelled, or the scheduler's time limit (raise the rule family's runtime "
    "under resources in the config)",
    signal.SIGINT: "interrupted",
    signal.SIGSEGV: "a crash in a native library (torch, zarr, ...)",
    signal.SIGBUS: "a crash in a native library, or a file that shrank under a memory map",
}


def say(message: str) -> None:
    """One line to the log and to Snakemake's output (either may be unwritable)."""
    for stream in (sys.stderr, sys.stdout):
        try:
            print(message, file=stream, flush=True)
        except OSError:
            pass


def run_job() -> int:
    try:
        from mfgstudy.cli import main
    except ImportError as e:
        say(f"mfgstudy: FAILED before the job started: {e}. The environment lacks a package: "
            "install the project into it (pip install -e <checkout>; see README.md)")  # fmt: skip
        return 1
    return main()


def die_with(parent: int) -> None:
    """Linux: the job is killed when its parent is (a SIGKILL to the parent cannot be forwarded;
    an orphaned trainer would go on writing checkpoints under its rerun)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(128 + signal.SIGKILL)


def supervise(child: int) -> int:
    """Wait for the job; forward termination signals to it; report a death by signal."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda s, _frame: os.kill(child, s))
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        sig = signal.Signals(os.WTERMSIG(status))
        verb = sys.argv[1] if len(sys.argv) > 1 else "job"
        why = WHY.get(sig, "a signal")
        say(f"mfgstudy {verb}: FAILED: the job was killed by {sig.name} ({why})")
        return 128 + sig.value
    return os.waitstatus_to_exitcode(status)


if not hasattr(os, "fork"):  # no fork (Windows): run in this process
    raise SystemExit(run_job())
parent = os.getpid()
pid = os.fork()
if pid == 0:
    die_with(parent)
    raise SystemExit(run_job())
raise SystemExit(supervise(pid))
