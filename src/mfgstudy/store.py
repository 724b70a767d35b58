"""Results are data: zarr stores with provenance, written atomically and checked on reading.

Every store is written to a temporary sibling path and renamed into place only once complete,
with ``attrs["complete"] = True`` set as the last attribute. A job killed half-way leaves at most
a ``*.tmp-<pid>`` directory, never a store at the final path; :func:`open_store` refuses a store
that lacks the completion mark.

Damage after the write is caught too. Every chunk of every array (coordinates included) ends
with a crc32c checksum (zarr's ``Crc32cCodec``, after the compressor), and the root attrs carry
a chunk manifest, ``attrs["chunk_manifest"] = {array: {chunk file: size in bytes}}``, written
just before the completion mark. :func:`open_store` and :func:`open_groups` check that every
listed chunk file is there at its size (zarr would read a missing one as the fill value, NaN),
then load variable by variable, so a failed checksum or decompression raises
:class:`CorruptStoreError` naming the store, the variable and the fix (delete the store, rerun
the job that writes it). With ``load=False`` only the manifest and the index coordinates are
checked up front; the caller reads the data later, and a checksum failure then raises zarr's own
error, which does not name the store. Stores written before the manifest and checksums still
open, without those checks. Files in a store that are not zarr's (Snakemake's
``.snakemake_timestamp``) are ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
import warnings
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import zarr
from zarr.abc.codec import Codec
from zarr.codecs import Crc32cCodec, ZstdCodec

from mfgstudy import __version__
from mfgstudy.errors import UserError

# zarr 3: keep metadata unconsolidated (consolidation warns or fails with xarray on zarr v3).
_ZARR_KW = {"consolidated": False}


class IncompleteStoreError(UserError, RuntimeError):
    """A store exists but was never marked complete (a killed or failed job)."""


class CorruptStoreError(UserError, RuntimeError):
    """A complete store whose files changed afterwards: a chunk lost, cut short or altered."""


_HASHES: dict[tuple[str, int, int], str] = {}  # (resolved path, size, mtime_ns) -> sha256


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file, remembered in this process by (path, size, mtime): a Snakefile parsed
    again in the same process does not hash ~100 MB of weights again."""
    path = Path(path).resolve()
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _HASHES[key] = h.hexdigest()
    return _HASHES[key]


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def config_hash(spec: Mapping[str, Any]) -> str:
    """Short, stable hash of the parameters that produced a result."""
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()[:16]


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _torch_version() -> str:
    """torch's version without importing torch (a report job never does)."""
    from importlib.metadata import version

    return version("torch")


def provenance(spec: Mapping[str, Any], seed: int | None, started: float) -> dict[str, Any]:
    """The attributes every store carries."""
    return {
        "config_hash": config_hash(spec),
        "spec": canonical_json(spec),
        "package": "mfgstudy",
        "package_version": __version__,
        "torch_version": _torch_version(),
        "git_commit": git_commit(),
        "seed": -1 if seed is None else int(seed),
        "wall_time_s": round(time.time() - started, 3),
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _tmp_sibling(path: Path) -> Path:
    return path.with_name(f"{path.name}.tmp-{os.getpid()}")


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary sibling path; rename it onto ``path`` only if the block succeeds."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(final)
    _remove(tmp)
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    _remove(final)
    os.replace(tmp, final)


def _remove(p: Path) -> None:
    if p.is_dir():
        shutil.rmtree(p)
    elif p.exists():
        p.unlink()


def write_store(
    ds: xr.Dataset,
    path: str | os.PathLike,
    spec: Mapping[str, Any],
    seed: int | None,
    started: float,
    extra_attrs: Mapping[str, Any] | None = None,
) -> None:
    """Write ``ds`` to ``path`` atomically with provenance attrs, the chunk manifest and the
    completion mark."""
    ds = _checksummed(ds)
    ds.attrs = {**ds.attrs, **provenance(spec, seed, started), **dict(extra_attrs or {})}
    with atomic_path(path) as tmp:
        ds.to_zarr(tmp, mode="w", zarr_format=3, **_ZARR_KW)
        _seal(tmp)


def write_groups(
    groups: Mapping[str, xr.Dataset],
    path: str | os.PathLike,
    spec: Mapping[str, Any],
    started: float,
    extra_attrs: Mapping[str, Any] | None = None,
) -> None:
    """Write several datasets as groups of one store, atomically; provenance, the group names,
    the chunk manifest and the completion mark live on the root."""
    attrs = {**provenance(spec, None, started), **dict(extra_attrs or {}), "groups": sorted(groups)}
    with atomic_path(path) as tmp:
        xr.Dataset(attrs=attrs).to_zarr(tmp, mode="w", zarr_format=3, **_ZARR_KW)
        for name, ds in groups.items():
            _checksummed(ds).to_zarr(tmp, group=name, mode="w", zarr_format=3, **_ZARR_KW)
        _seal(tmp)


def _checksummed(ds: xr.Dataset) -> xr.Dataset:
    """A shallow copy of ``ds`` whose arrays (coordinates too) end their codecs with a crc32c
    checksum, after the caller's compressors (zarr's default, zstd, if none were set); the
    attrs that :func:`_seal` writes are dropped (``ds`` may come from another store)."""
    ds = ds.copy()
    sealed = ("chunk_manifest", "metadata_manifest", "complete")
    ds.attrs = {k: v for k, v in ds.attrs.items() if k not in sealed}
    for var in ds.variables.values():
        compressors = var.encoding.get("compressors", (ZstdCodec(),))
        compressors = [compressors] if isinstance(compressors, Codec) else list(compressors or ())
        if not any(isinstance(c, Crc32cCodec) for c in compressors):
            compressors.append(Crc32cCodec())
        var.encoding = {**var.encoding, "compressors": tuple(compressors)}
    return ds


def _seal(tmp: Path) -> None:
    """Record the chunk manifest in the root attrs of the store at ``tmp``, then, last, the
    completion mark."""
    manifest = {}
    for meta in sorted(tmp.rglob("zarr.json")):
        if json.loads(meta.read_text())["node_type"] == "array":
            files = (f for f in sorted(meta.parent.rglob("*")) if f.is_file() and f != meta)
            manifest[meta.parent.relative_to(tmp).as_posix()] = {
                f.relative_to(meta.parent).as_posix(): f.stat().st_size for f in files
            }
    metadata = {meta.relative_to(tmp).as_posix(): file_sha256(meta)
                for meta in sorted(tmp.rglob("zarr.json")) if meta.parent != tmp}  # fmt: skip
    zarr.open_group(tmp, mode="r+").attrs.update(
        chunk_manifest=manifest, metadata_manifest=metadata, complete=True
    )


def open_store(path: str | os.PathLike, load: bool = True) -> xr.Dataset:
    """Open a store written by :func:`write_store`; refuse incomplete and corrupt ones (with
    ``load=False``, only the chunk manifest and the index coordinates are checked up front)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no store at {p}")
    with _reading(p, ""):
        attrs = zarr.open_group(p, mode="r").attrs.asdict()
    if not attrs.get("complete", False):
        raise IncompleteStoreError(f"{p} was never marked complete; rerun the job that writes it")
    _check_manifest(p, attrs.get("chunk_manifest", {}))  # a store older than the manifest: {}
    _check_metadata(p, attrs.get("metadata_manifest"))
    return _open(p, None, load)


def open_groups(path: str | os.PathLike) -> dict[str, xr.Dataset]:
    """The groups of a store written by :func:`write_groups`, loaded, by name."""
    root = open_store(path)
    return {g: _open(Path(path), g, load=True) for g in root.attrs["groups"]}


def _check_manifest(p: Path, manifest: Mapping[str, Mapping[str, int]]) -> None:
    for array, chunks in manifest.items():
        for key, size in chunks.items():
            f = p / array / key
            if not f.is_file():
                raise _corrupt(p, _where(array), f"chunk file {array}/{key} is missing")
            if f.stat().st_size != size:
                problem = f"chunk file {array}/{key} has {f.stat().st_size} bytes, not {size}"
                raise _corrupt(p, _where(array), problem)


def _check_metadata(p: Path, recorded: Mapping[str, str] | None) -> None:
    """Every array's and group's ``zarr.json`` (all but the root's, which holds this record) as
    it was written: a changed byte order, dtype or shape, or a deleted array, is found here
    rather than read as other numbers. Stores older than the record (None) are not checked."""
    if recorded is None:
        return
    have = {m.relative_to(p).as_posix() for m in p.rglob("zarr.json") if m.parent != p}
    for name in sorted(set(recorded) | have):
        node = name.rpartition("/")[0]
        if name not in have:
            raise _corrupt(p, _where(node), f"the metadata file {name} is missing")
        if name not in recorded:
            raise _corrupt(p, _where(node), f"the metadata file {name} was added after writing")
        if file_sha256(p / name) != recorded[name]:
            raise _corrupt(p, _where(node), f"the metadata file {name} was changed after writing")


def _open(p: Path, group: str | None, load: bool) -> xr.Dataset:
    """Open ``group`` of the store at ``p`` and load it variable by variable, so that a failed
    checksum or decompression names its variable."""
    prefix = f"{group}/" if group else ""
    with warnings.catch_warnings():
        # Snakemake drops a .snakemake_timestamp file into directory outputs; zarr notes it.
        warnings.filterwarnings("ignore", message=".*not recognized as a component of a Zarr")
        try:
            ds = xr.open_zarr(p, group=group, **_ZARR_KW)  # this reads the index coordinates
        except Exception as e:
            # Name the array that fails to read, if one does.
            with _reading(p, f"group {group!r}" if group else ""):
                for name, array in zarr.open_group(p, path=group or "", mode="r").arrays():
                    with _reading(p, _where(prefix + name)):
                        array[...]
                raise e
        for name, var in ds.variables.items() if load else ():
            with _reading(p, _where(prefix + name)):
                var.load()
    # variables in name order: zarr lists them in the file system's order, which differs
    # between two writes of the same store (tables built from a store would change columns)
    return ds[sorted(ds.data_vars)]


def _where(array: str) -> str:
    group, _, name = array.rpartition("/")
    return (f"group {group!r}, " if group else "") + f"variable {name!r}"


@contextmanager
def _reading(p: Path, where: str):
    """Re-raise a failure to read (a part of) the store at ``p`` as a CorruptStoreError."""
    try:
        yield
    except (CorruptStoreError, MemoryError):
        raise
    except Exception as e:
        raise _corrupt(p, where, f"unreadable ({type(e).__name__}: {str(e).rstrip('.')})") from e


def _corrupt(p: Path, where: str, problem: str) -> CorruptStoreError:
    return CorruptStoreError(
        ": ".join(filter(None, [f"corrupt store {p}", where, problem]))
        + f". Delete {p} (where it lies inside a job's output folder, that folder) and run "
        "snakemake again: it recreates a missing output"
    )


def save_torch(obj: Any, path: str | os.PathLike) -> None:
    """Atomic ``torch.save``."""
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


class UnreadableTorchFile(UserError, ValueError):
    """A file that is there but does not load as a torch file; ``what`` says what it looks like
    (empty, not a torch archive, a truncated or damaged archive, contents torch refuses)."""

    def __init__(self, path: str | os.PathLike, what: str, cause: BaseException):
        self.path, self.what = Path(path), what
        first = (str(cause).strip().splitlines() or [""])[0].split(". ")[0][:160]
        super().__init__(
            f"{path} cannot be loaded: it is {what} ({type(cause).__name__}: {first}). Delete it "
            f"and rerun the job that writes it, e.g. snakemake --forcerun {path}"
        )


def load_torch(path: str | os.PathLike) -> Any:
    """``torch.load`` on the CPU, weights only, of an archive whose members all pass their CRC-32
    (``torch.load`` itself does not check them: one flipped byte in a tensor loads silently and
    moves every result). A file that is there but does not load, or fails its CRC, raises
    :class:`UnreadableTorchFile` (naming it, what it looks like, the fix); an intact archive is
    read twice before it is called unreadable. I/O errors (OSError) and MemoryError pass."""
    import errno

    import torch

    def attempt():
        try:
            return torch.load(path, map_location="cpu", weights_only=True), None
        except OSError as e:  # EINVAL: miniz seeking to an offset a damaged archive gives
            if e.errno != errno.EINVAL:
                raise
            return None, e
        except MemoryError:
            raise
        except Exception as e:  # noqa: BLE001 - told apart below
            return None, e

    problem = _archive_problem(path)
    if problem is not None:
        what, cause = problem
        raise UnreadableTorchFile(path, what, cause) from cause
    obj, cause = attempt()
    if cause is None:
        return obj
    obj, cause = attempt()  # intact: a passing read error inside torch, or contents it refuses
    if cause is None:
        return obj
    raise UnreadableTorchFile(path, "an intact archive whose contents torch refuses to load", cause)


class _DamagedMember(ValueError):
    pass


def _archive_problem(path: str | os.PathLike) -> tuple[str, BaseException] | None:
    """None for a zip archive whose every member passes its CRC-32, else (what the file looks
    like, the error that showed it)."""
    import errno
    import zipfile

    with open(path, "rb") as f:  # an OSError here is the file system's, not the file's
        head, size = f.read(4), os.fstat(f.fileno()).st_size
        if size == 0:
            return "an empty file (a killed or failed write)", ValueError("0 bytes")
        if head != b"PK\x03\x04":
            return f"not a torch archive ({size} bytes starting {head!r})", ValueError("no zip")
        f.seek(0)
        try:
            with zipfile.ZipFile(f) as z:
                bad = z.testzip()  # the first member failing its CRC, None: intact
        except OSError as e:
            if e.errno not in (None, errno.EINVAL):
                raise
            bad, cause = "", e
        except MemoryError:
            raise
        except Exception as e:  # noqa: BLE001 - any other failure: a broken archive
            bad, cause = "", e
        else:
            cause = _DamagedMember(f"member {bad} fails its CRC-32") if bad else None
    if bad is None:
        return None
    damaged = f", {bad} damaged" if bad else ""
    return f"a truncated or damaged archive ({size} bytes{damaged})", cause
