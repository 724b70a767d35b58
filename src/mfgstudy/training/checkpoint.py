"""Resumable training: where and when a run checkpoints, resuming, and stopping before the
walltime (see ``mfgstudy.training`` for what a checkpoint holds and when it is moved aside)."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import torch

from mfgstudy.errors import UserError
from mfgstudy.specs import spec_differences

log = logging.getLogger(__name__)

EXIT_WALLTIME = 75  # EX_TEMPFAIL (sysexits.h): stopped before the walltime, rerun to continue
CHECKPOINT_NAME = "checkpoint.pt"


class WalltimeReached(SystemExit):
    """The trainer stopped before the walltime after writing a checkpoint; the process exits
    with ``EXIT_WALLTIME`` and a rerun continues from ``step``."""

    def __init__(self, step: int, path: Path):
        super().__init__(EXIT_WALLTIME)
        self.step, self.path = step, path


class CheckpointReadError(UserError, OSError):
    """A checkpoint could not be read for a reason that may pass (the file system): it is left
    where it is and the job fails; a rerun resumes from it."""


def _utc_stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def _fsync(path: str | os.PathLike) -> None:
    """Flush ``path`` (a file, or a directory's files and folders) to disk."""
    p = Path(path)
    for f in [*sorted(p.rglob("*")), p] if p.is_dir() else [p]:
        flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if f.is_dir() else 0)
        fd = os.open(f, flags)
        try:
            os.fsync(fd)
        except OSError as e:  # some file systems refuse fsync on a directory
            if not f.is_dir():
                raise
            log.debug("fsync of folder %s: %s", f, e)
        finally:
            os.close(fd)


class Checkpointer:
    """Where and when a training run checkpoints, and when it stops before its walltime.

    ``key`` identifies the run (spec without its cosmetic keys, seed, code, world size:
    ``train_job``); a checkpoint is resumed only by a run with the same key and loop
    (``"shared"`` or ``"mfg"``). ``every`` is in the loop's unit (steps, or MFG outer
    iterations; None: the loop's default). ``walltime_s`` (None: no limit) counts from
    ``started`` (the job's start); the run stops ``margin_s`` before it. ``main``: whether this
    process (rank 0) tidies the folder (moves checkpoints aside, removes a killed save's
    temporary file); the other ranks only read."""

    def __init__(
        self,
        directory: str | os.PathLike,
        key: dict,
        every: int | None = None,
        walltime_s: float | None = None,
        margin_s: float = 0.0,
        started: float | None = None,
        main: bool = True,
    ):
        if every is not None and int(every) < 1:
            raise ValueError(f"checkpoint_every must be a positive number of steps, got {every}")
        self.path = Path(directory) / CHECKPOINT_NAME
        self.key, self.every = dict(key), None if every is None else int(every)
        self.walltime_s, self.margin_s = walltime_s, float(margin_s)
        self.started = time.time() if started is None else started
        self.main = main

    def due(self, i: int, last: int, default: int) -> bool:
        """Whether to checkpoint after unit ``i`` of ``last`` (never after the last one)."""
        return i % (self.every or default) == 0 and i < last

    def time_is_up(self, unit_s: float) -> bool:
        """Whether one more unit of ``unit_s`` seconds would end inside the stop margin."""
        if self.walltime_s is None:
            return False
        return time.time() - self.started + self.margin_s + unit_s >= self.walltime_s

    def load(self, loop: str) -> dict | None:
        """The checkpoint of this run, or None: none there, or one that is not this run's
        (another run's, or not a loadable torch file), which is moved aside (never deleted),
        reported with where it went, and the run starts fresh. Any other failure to read it
        (I/O, memory) raises, naming it, and leaves it in place."""
        from mfgstudy.store import UnreadableTorchFile, load_torch

        if self.main:  # a save killed between its temporary file and the rename; never a
            for stale in self.path.parent.glob(f"{self.path.name}.tmp-*"):  # checkpoint
                stale.unlink(missing_ok=True)
        try:
            if not self.path.exists():
                return None
            state = load_torch(self.path)
        except FileNotFoundError:  # moved aside by rank 0 meanwhile
            return None
        except UnreadableTorchFile as e:
            if self.main:
                where = self._set_aside("corrupt")
                log.warning("checkpoint %s cannot be loaded (it is %s): moved it aside to %s; "
                            "starting fresh", self.path, e.what, where)  # fmt: skip
            return None
        except MemoryError as e:
            raise MemoryError(
                f"out of memory reading the checkpoint {self.path}; it is left in place: rerun "
                "the job with more memory to resume from it"
            ) from e
        except OSError as e:
            raise CheckpointReadError(
                f"the checkpoint {self.path} could not be read ({type(e).__name__}: {e}); it is "
                "left in place: rerun the job to resume from it once the file system answers "
                "(or move the file away to start fresh)"
            ) from e
        want = {**self.key, "loop": loop}
        have = state.get("key") if isinstance(state, dict) else None
        if have == want:
            return state
        if self.main:
            differ = sorted(k for k in want if not isinstance(have, dict) or have.get(k) != want[k])
            details = []
            if "spec" in differ and isinstance(have, dict):
                try:
                    details = spec_differences(
                        json.loads(have["spec"]),
                        json.loads(want["spec"]),
                        ("in the checkpoint", "in this run"),
                    )
                except (TypeError, ValueError):
                    pass
            where = self._set_aside("mismatch")
            log.warning(
                "checkpoint %s was written by another run (%s differ%s): not resuming; moved it "
                "aside to %s; starting fresh",
                self.path,
                ", ".join(differ),
                "".join(f"; {d}" for d in details),
                where,
            )
        return None

    def _set_aside(self, why: str) -> Path:
        """Rename the checkpoint to ``<name>.<why>-<UTC time>`` beside it (never overwriting)."""
        dest = self.path.with_name(f"{self.path.name}.{why}-{_utc_stamp()}")
        n = 1
        while dest.exists():
            dest, n = dest.with_name(f"{self.path.name}.{why}-{_utc_stamp()}-{n}"), n + 1
        os.rename(self.path, dest)
        return dest

    def save(self, state: dict, loop: str) -> None:
        """Write ``state`` atomically: a temporary sibling, fsync, then ``os.replace``."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}")
        try:
            with open(tmp, "wb") as f:
                torch.save({**state, "key": {**self.key, "loop": loop}}, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def stop(self, step: int, unit: str = "step") -> WalltimeReached:
        """Log the stop before the walltime; the exception the trainer raises."""
        log.warning(
            "stopping before the walltime (%.2f of %.2f min elapsed, margin %.2f min); "
            "checkpoint at %s %d in %s; rerun to continue from %s %d",
            (time.time() - self.started) / 60,
            (self.walltime_s or 0.0) / 60,
            self.margin_s / 60,
            unit,
            step,
            self.path,
            unit,
            step,
        )
        return WalltimeReached(step, self.path)

    def finish(self, outputs=()) -> None:
        """Remove the checkpoint once the job's ``outputs`` are written, after syncing them to
        disk (a crash just after must not lose both), and its directory if empty (what was
        moved aside stays)."""
        for out in outputs:
            _fsync(out)
        self.path.unlink(missing_ok=True)
        try:
            self.path.parent.rmdir()
        except OSError:
            pass
