"""Inputs are trusted only as far as they are checked (issue 13, cases 10 and 11).

* The Inception weights: a file that is not clean-fid's published ``inception-2015-12-05.pt`` (its
  sha256 differs) is refused before any job, naming the key, the path, both hashes and the fix, and
  again by the job before it is loaded; a stand-in passes only with its own hash given; the file is
  an input of the jobs that read it, so replacing it reruns them.
* The data archives: a CIFAR-10 tar member or a CelebA-HQ zip member that declares more than the
  cap, a zip member that expands like a zip bomb, and a PNG that decodes to a decompression bomb
  are refused with the data set error naming the archive and the member, before they are read.
* claims.json names the repository's claims files (``workflow/claims/<name>.yaml``), not the
  temporary copies Snakemake's source cache deletes after the run.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

import pandas as pd
import pytest
import yaml
from snakemake.utils import validate

from mfgstudy import data
from mfgstudy.data import DatasetSourceError, build_dataset
from mfgstudy.errors import ConfigError
from mfgstudy.metrics.features import inception_source
from mfgstudy.pipeline import specs_units
from mfgstudy.pipeline.config_files import resolve
from mfgstudy.pipeline.paths import CLAIMS_NAMES
from mfgstudy.pipeline.validation import check_config
from mfgstudy.report.claims import ledger as claims
from tests.paper_fixtures import write_celebahq, write_cifar_tarball
from tests.workflow.helpers import SMOKE, snakemake

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
# sha256 of https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/
# inception-2015-12-05.pt, as pinned in src/mfgstudy/metrics/features.py (source cited there)
PUBLISHED = "f58cb9b6ec323ed63459aa4fb441fe750cfe39fafad6da5cb504a16f19e958f4"


def _sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _random_file(path: Path, n: int = 4096) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(n))
    return path


def _schema_knows_the_hash() -> bool:  # False before the change: the tests then fail on asserts
    with open(SCHEMA) as f:
        schema = yaml.safe_load(f)
    return "inception_sha256" in schema["properties"]["image_metrics"]["properties"]


def _with_inception(weights, sha256: str | None = None) -> dict:
    """The smoke config (it measures the digits data set) with Inception features at ``weights``
    (and ``sha256`` as the stand-in's own hash), valid under the schema."""
    cfg = resolve(SMOKE)
    im = {**cfg.get("image_metrics", {}), "features": ["digits", "inception"],
          "inception_weights": str(weights)}  # fmt: skip
    if sha256 and _schema_knows_the_hash():
        im["inception_sha256"] = sha256
    cfg["image_metrics"] = im
    validate(copy.deepcopy(cfg), str(SCHEMA))
    return cfg


# --- case 10: the Inception weights -------------------------------------------------------------
def test_the_pinned_hash_is_the_published_one():
    from mfgstudy.metrics import features

    assert getattr(features, "INCEPTION_SHA256", None) == PUBLISHED


@pytest.mark.parametrize("as_folder", [False, True], ids=["file", "folder"])
def test_a_random_file_as_inception_weights_is_refused_before_any_job(tmp_path, as_folder):
    weights = _random_file(tmp_path / "weights" / "inception-2015-12-05.pt")
    found = _sha256(weights)
    with pytest.raises(ConfigError) as err:
        check_config(_with_inception(weights.parent if as_folder else weights))
    msg = str(err.value)
    assert msg.startswith("image_metrics.inception_weights:")
    assert str(weights) in msg and PUBLISHED in msg and found in msg
    assert "nvlabs-fi-cdn.nvidia.com" in msg and "image_metrics.inception_sha256" in msg


def test_a_stand_in_passes_with_its_own_hash_and_only_with_it(tmp_path):
    assert _schema_knows_the_hash(), "image_metrics.inception_sha256 is not in the schema"
    weights = _random_file(tmp_path / "standin.pt")
    check_config(_with_inception(weights, _sha256(weights)))  # the tests' escape hatch
    with pytest.raises(ConfigError, match="image_metrics.inception_sha256 = 0{64}"):
        check_config(_with_inception(weights, "0" * 64))


def test_the_job_checks_the_hash_before_loading_the_file(tmp_path):
    weights = _random_file(tmp_path / "inception-2015-12-05.pt")
    with pytest.raises(ValueError) as err:  # a TorchScript file is code: hash it before loading
        inception_source(weights)
    msg = str(err.value)
    assert PUBLISHED in msg and _sha256(weights) in msg and str(weights) in msg
    assert "not a loadable TorchScript" not in msg
    with pytest.raises(ValueError, match="not a loadable TorchScript"):
        inception_source(weights, sha256=_sha256(weights))  # past the hash, the load fails


def test_inception_input_names_the_file_where_inception_is_configured(tmp_path):
    weights = _random_file(tmp_path / "w" / "inception-2015-12-05.pt")
    inception_input = getattr(specs_units, "inception_input", None)
    assert inception_input is not None, "specs_units.inception_input is missing"
    cfg = _with_inception(weights.parent)  # a folder resolves to the file in it
    assert inception_input(cfg) == [str(weights)]
    assert inception_input(cfg, "digits") == [str(weights)]
    assert inception_input(cfg, "gmm8") == []  # points are not measured with Inception
    assert inception_input(resolve(SMOKE)) == []  # digits features only


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    """``snakemake -n`` of the smoke config with Inception features on a stand-in (its own hash)."""
    wd = tmp_path_factory.mktemp("dag")
    weights = _random_file(wd / "weights" / "standin.pt")
    cfg = _with_inception("weights/standin.pt", _sha256(weights))
    (wd / "config.yaml").write_text(yaml.safe_dump(cfg))
    res = snakemake(wd, "-n", configfile=str(wd / "config.yaml"))
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout + res.stderr


def _jobs(out: str, rule: str) -> list[dict[str, str]]:
    """The dry-run's listing of each job of ``rule``: {"input": ..., "output": ...}."""
    jobs = []
    for block in out.split(f"\nrule {rule}:\n")[1:]:
        fields = {}
        for line in block.splitlines():
            if not line.startswith("    "):
                break
            key, _, value = line.strip().partition(": ")
            fields[key] = value
        jobs.append(fields)
    return jobs


def test_the_inception_file_is_an_input_of_every_job_that_reads_it(dry_run):
    def reads(job):
        return "weights/standin.pt" in job.get("input", "").split(", ")

    refs = _jobs(dry_run, "reference")
    assert refs and all(reads(j) == j["output"].endswith("inception.zarr") for j in refs), refs
    for rule in ("unit", "floor"):
        jobs = _jobs(dry_run, rule)
        on_digits = [j for j in jobs if "/digits" in j["output"]]
        assert on_digits and all(reads(j) for j in on_digits), (rule, on_digits[:2])
        assert not any(reads(j) for j in jobs if j not in on_digits), rule


# --- case 11: archives and images ---------------------------------------------------------------
def _cifar_spec(path):
    return {"name": "cifar10", "kind": "cifar10", "path": str(path), "seed": 0}


def _celebahq_spec(path):
    return {"name": "celebahq", "kind": "celebahq", "path": str(path), "resolution": 16,
            "test_fraction": 0.25, "seed": 1}  # fmt: skip


def _refused(spec, *needles) -> str:
    with pytest.raises(DatasetSourceError) as err:
        build_dataset(spec)
    msg = str(err.value)
    assert spec["path"] in msg, msg
    rest = msg.replace(spec["path"], "")  # the needles must not match the test's tmp_path
    for needle in needles:
        assert needle in rest, msg
    return msg


def test_a_tar_member_declaring_an_oversize_batch_is_refused_before_it_is_read(tmp_path):
    """A real tar whose data_batch_1 declares 3 GiB (the header only: nothing that large is
    written); the old reader would start reading it."""
    path = tmp_path / "cifar-10-python.tar"
    info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
    info.size = 3 * 2**30
    path.write_bytes(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape") + bytes(1024))
    msg = _refused(_cifar_spec(path), "'cifar-10-batches-py/data_batch_1'", str(3 * 2**30), "cap")
    assert "genuine copy" in msg


def test_a_tarball_over_the_total_cap_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "cifar-10-python.tar.gz"
    write_cifar_tarball(path, n_per_batch=4)  # ~12 KB per batch
    monkeypatch.setattr(data, "CIFAR10_MAX_TOTAL_BYTES", 30_000, raising=False)
    _refused(_cifar_spec(path), "30000 bytes", "at member 'cifar-10-batches-py/")


def _patch_central_sizes(path: Path, size: int) -> None:
    """Make every member of a zip declare ``size`` bytes uncompressed in the central directory
    (the sizes zipfile reports), without writing them."""
    raw = bytearray(path.read_bytes())
    at = raw.find(b"PK\x01\x02")
    while at >= 0:
        raw[at + 24 : at + 28] = struct.pack("<I", size)
        at = raw.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(raw))


def test_a_zip_member_declaring_an_oversize_image_is_refused(tmp_path):
    path = tmp_path / "celebahq.zip"
    write_celebahq(path, n=4, size=16, zip=True)
    _patch_central_sizes(path, 2**31)
    _refused(_celebahq_spec(path), "'celeba_hq_256/00000.png'", str(2**31), "cap")


def test_a_zip_member_that_expands_like_a_bomb_is_refused(tmp_path):
    path = tmp_path / "celebahq.zip"
    write_celebahq(path, n=2, size=16, zip=True)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("celeba_hq_256/00002.png", bytes(4 * 2**20))  # 4 MiB of zeros: ~4 KB packed
    _refused(_celebahq_spec(path), "'celeba_hq_256/00002.png'", f"-> {4 * 2**20} bytes, over")


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` RGB pixels and holds one compressed row: a few
    dozen bytes that would decode to gigabytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(bytes(1 + 3 * min(width, 64)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [100_000, 5_000], ids=["pil-limit", "celebahq-cap"])
@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
def test_a_decompression_bomb_png_gives_the_data_error(tmp_path, side, as_zip):
    path = tmp_path / ("celebahq.zip" if as_zip else "celebahq")
    write_celebahq(path, n=2, size=16, zip=as_zip)
    bomb = "celeba_hq_256/00002.png"  # read after two genuine images
    if as_zip:
        with zipfile.ZipFile(path, "a") as zf:
            zf.writestr(bomb, _png_header(side, side))
    else:
        (path / bomb).write_bytes(_png_header(side, side))
    _refused(_celebahq_spec(path), repr(bomb), "decompression bomb", "genuine copy")


# --- case 10 (last part): claims.json names the real claims files -------------------------------
def test_the_claims_rule_reads_the_repository_claims_files(dry_run):
    (job,) = _jobs(dry_run, "claims")
    inputs = job["input"].split(", ")
    for name in CLAIMS_NAMES:  # the repository's file (not a .snakemake copy), named
        # relative to the working directory, so that a moved checkout reruns nothing (issue 24);
        # test_hostile_config checks that the relative path resolves to the repository's file
        named = [p for p in inputs if p.endswith(f"workflow/claims/{name}")]
        assert named and not os.path.isabs(named[0]) and ".snakemake" not in named[0], inputs[:3]


def test_claims_json_records_the_repository_relative_claims_file(tmp_path, monkeypatch):
    # the ledger's science is tested in tests/unit/test_claims.py; here only what the JSON names
    empty = {"mfg_readings": {}, "mfg_equilibrium": pd.DataFrame()}  # no reading to choose from
    monkeypatch.setattr(claims, "Context", lambda *a, **k: type("Ctx", (), empty)())
    monkeypatch.setattr(claims, "ledger", lambda rows, ctx, study: [])
    files = [str(ROOT / f"workflow/claims/{n}") for n in CLAIMS_NAMES]
    out = tmp_path / "claims.json"
    claims.claims_job(
        {"study": "toy"},
        files,
        str(tmp_path / "claims.md"),
        str(out),
        cube="cube",
        slopes="slopes",
        exponents="exponents",
        table2="table2",
    )
    doc = json.loads(out.read_text())
    want = [f"workflow/claims/{n}" for n in CLAIMS_NAMES]
    assert [p["claims_file"] for p in doc["papers"]] == want
    assert doc["claims_files"] == want
    assert all(Path(ROOT / f).is_file() for f in want)
