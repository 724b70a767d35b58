"""Damaged result stores fail loudly: a flipped byte, a deleted or a truncated chunk raises one
error that names the store, the variable and the fix, instead of reading as other numbers or NaN."""

import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from mfgstudy.store import open_groups, open_store, write_groups, write_store

try:
    from mfgstudy.store import CorruptStoreError
except ImportError:  # the code before the checks: the tests fail on their assertions instead

    class CorruptStoreError(Exception):
        pass


def _data(n=64):
    """Like a data store: float32 samples with a coordinate."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 2)).astype(np.float32)
    return xr.Dataset({"x": (("sample", "dim"), x)}, coords={"sample": np.arange(n)})


def _written(tmp_path) -> Path:
    path = tmp_path / "results" / "data" / "gaussian.zarr"
    write_store(_data(), path, {"dataset": "gaussian"}, seed=0, started=time.time())
    return path


def _chunk(store: Path, array: str) -> Path:
    (chunk,) = (f for f in (store / array / "c").rglob("*") if f.is_file())
    return chunk


def _raises_naming(store: Path, variable: str, **kw) -> str:
    with pytest.raises(CorruptStoreError) as err:
        open_store(store, **kw)
    msg = str(err.value)
    assert str(store) in msg and repr(variable) in msg and "run snakemake again" in msg
    return msg


def test_flipped_byte_in_a_chunk(tmp_path):
    store = _written(tmp_path)
    chunk = _chunk(store, "x")
    raw = bytearray(chunk.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    chunk.write_bytes(bytes(raw))
    assert "checksum" in _raises_naming(store, "x")


def test_deleted_chunk(tmp_path):
    store = _written(tmp_path)
    _chunk(store, "x").unlink()
    assert "missing" in _raises_naming(store, "x")
    _raises_naming(store, "x", load=False)


def test_truncated_chunk(tmp_path):
    store = _written(tmp_path)
    chunk = _chunk(store, "x")
    chunk.write_bytes(chunk.read_bytes()[:-7])
    assert "bytes" in _raises_naming(store, "x")
    _raises_naming(store, "x", load=False)


def test_flipped_byte_in_a_coordinate(tmp_path):
    store = _written(tmp_path)
    chunk = _chunk(store, "sample")
    raw = bytearray(chunk.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    chunk.write_bytes(bytes(raw))
    _raises_naming(store, "sample", load=False)  # read on opening, as the index


def test_intact_store_with_snakemake_timestamp_reads_back(tmp_path):
    store = _written(tmp_path)
    (store / ".snakemake_timestamp").touch()
    xr.testing.assert_identical(open_store(store).drop_attrs(), _data())
    lazy = open_store(store, load=False)
    np.testing.assert_array_equal(lazy["x"].values, _data()["x"].values)


def test_store_without_manifest_still_opens(tmp_path):
    store = tmp_path / "old.zarr"  # as written before checksums and the manifest
    _data().assign_attrs(complete=True).to_zarr(store, zarr_format=3, consolidated=False)
    xr.testing.assert_identical(open_store(store).drop_attrs(), _data())


def test_caller_encoding_is_kept(tmp_path):
    from zarr.codecs import BloscCodec

    ds = _data()
    ds["x"].encoding["compressors"] = (BloscCodec(cname="lz4"),)
    write_store(ds, tmp_path / "s.zarr", {}, seed=None, started=time.time())
    written = open_store(tmp_path / "s.zarr")["x"].encoding["compressors"]
    assert [type(c).__name__ for c in written] == ["BloscCodec", "Crc32cCodec"]
    assert ds["x"].encoding["compressors"] == (BloscCodec(cname="lz4"),)  # the caller's, unchanged


def test_group_store_roundtrip_and_corruption(tmp_path):
    store = tmp_path / "metrics.zarr"
    labels = xr.Dataset({"name": (("k",), np.array(["a", "bb", "ccc"], dtype=object))})
    write_groups({"grid": _data(), "labels": labels}, store, {}, started=time.time())
    groups = open_groups(store)
    xr.testing.assert_identical(groups["grid"], _data())
    assert list(groups["labels"]["name"].values) == ["a", "bb", "ccc"]

    chunk = _chunk(store, "grid/x")
    raw = bytearray(chunk.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    chunk.write_bytes(bytes(raw))
    with pytest.raises(CorruptStoreError) as err:
        open_groups(store)
    assert str(store) in str(err.value) and "'grid'" in str(err.value)
    assert "'x'" in str(err.value) and "checksum" in str(err.value)


# --- issue 24: the arrays' metadata are covered too ---------------------------------------------
def test_an_edited_array_metadata_file_is_refused(tmp_path):
    """A changed byte order in x's zarr.json would read the same bytes as other numbers."""
    import json

    store = _written(tmp_path)
    meta = store / "x" / "zarr.json"
    doc = json.loads(meta.read_text())
    text = json.dumps(doc).replace('"little"', '"big"')
    assert text != json.dumps(doc)  # the codec names the byte order
    meta.write_text(text)
    msg = _raises_naming(store, "x")
    assert "the metadata file x/zarr.json was changed after writing" in msg


def test_a_deleted_array_metadata_file_is_refused(tmp_path):
    store = _written(tmp_path)
    (store / "x" / "zarr.json").unlink()
    with pytest.raises(CorruptStoreError, match="the metadata file x/zarr.json is missing"):
        open_store(store)
