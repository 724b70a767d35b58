"""Issue 24: the unit cache is checked before reuse. Before, its entries were hard-linked into the
unit's output folders and trusted on their completion mark: a byte flipped in an output reached
the cache and every rerun reused it; a value rewritten in place (same size, valid zarr checksum)
was reused silently (robustness_eps_exponents.csv showed clean_w2_to_data = 0.001 for 1.1765).
Now outputs are copies, and an entry whose files differ from the sha256 recorded at its writing
is removed, recomputed, and the log says so."""

import os

import numpy as np
import xarray as xr

from mfgstudy.jobs.unit import DONE, entry_problem
from mfgstudy.layout import store_name, value_dir
from mfgstudy.store import open_store
from tests.unit.test_unit_job import _run, setting  # noqa: F401 - the fixture

CLEAN = "none"  # the unperturbed value's kind (eps = 0)
STORE = store_name(CLEAN, 4)  # "none/N4.zarr"


def _output_store(out):
    return out / "metrics" / value_dir("0") / STORE


def _clean_entry(tmp_path):
    (entry,) = [e for e in (tmp_path / "cache").iterdir() if (e / "metrics" / CLEAN).exists()]
    return entry


def _w2(store):
    return float(open_store(store)["w2_uncoupled"])


def test_an_output_edited_in_place_leaves_the_cache_intact(setting, tmp_path, caplog):  # noqa: F811
    config, data = setting
    first, _ = _run(config, data, tmp_path, 1, [0.1], caplog)
    chunk = _output_store(first) / "w2_uncoupled" / "c"
    with open(chunk, "r+b") as f:  # flip one byte in place, as the issue did
        b = f.read(1)
        f.seek(0)
        f.write(bytes([b[0] ^ 0xFF]))
    assert entry_problem(_clean_entry(tmp_path)) is None  # the cache never saw the edit
    second, said = _run(config, data, tmp_path, 2, [0.1], caplog)
    assert "computed none" in said
    assert (_output_store(second) / "w2_uncoupled" / "c").read_bytes() != chunk.read_bytes()


def test_a_cache_entry_rewritten_in_place_is_removed_and_recomputed(setting, tmp_path, caplog):  # noqa: F811
    config, data = setting
    first, _ = _run(config, data, tmp_path, 1, [0.1], caplog)
    truth = _w2(_output_store(first))
    entry = _clean_entry(tmp_path)
    store = entry / "metrics" / STORE
    ds = xr.open_zarr(store, consolidated=False)[["w2_uncoupled"]].load()
    (ds * 0 + 0.001).to_zarr(store, mode="a", consolidated=False)  # valid bytes, wrong value
    assert _w2(store) == 0.001 and "differs from the sha256" in entry_problem(entry)
    second, said = _run(config, data, tmp_path, 2, [0.1], caplog)
    assert "computed 0," in said and "fails its check" in caplog.text and str(entry) in caplog.text
    assert np.isclose(_w2(_output_store(second)), truth)


def test_an_entry_without_a_manifest_is_recomputed(setting, tmp_path, caplog):  # noqa: F811
    config, data = setting
    _run(config, data, tmp_path, 1, [0.1], caplog)
    entries = [e for e in (tmp_path / "cache").iterdir()]
    for e in entries:
        (e / DONE).write_text("")  # the mark of an entry written before this check existed
    out, said = _run(config, data, tmp_path, 2, [0.1], caplog)
    assert "computed 0, 0.1," in said and "holds no manifest" in caplog.text
    assert all(entry_problem(e) is None for e in (tmp_path / "cache").iterdir())
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files and all(os.stat(p).st_nlink == 1 for p in files)  # copies, not links
