"""The unit job (``python -m mfgstudy unit``): one process samples and evaluates every
perturbation size eps of one (sweep, data set, method, seed, sampler, grid) unit, at every N.

Each eps is a *value*: its samples and metrics are computed by ``sample.sample_unit`` and
``evaluate.evaluate_unit`` exactly as before (the same spec, so the same numbers), into
``<cache>/<key>/`` where the key hashes the value's spec, the seed, the unit job's code hash and
the identity of every input file it reads (the data store, the model, the classifier, the reference
statistics). The job's outputs, ``<samples>/eps<e>/`` and ``<metrics>/eps<e>/``, are copies of
those entries (never hard links: an edit of an output in place cannot reach the cache). When the
job reruns because one eps was added, every value whose key is unchanged is taken from the cache
and only the new one is computed; a change to the code, a model or a value's own spec gives a
new key, so a stale result is never reused.

An entry is complete when its mark (``complete``) holds the sha256 of every file it holds,
written last; before reuse every file is hashed again and compared. An entry that fails (a file
changed, missing or added, or a mark without the manifest) is removed and recomputed, and the
log says which file failed. The cache is not a workflow output: deleting it costs recomputation,
never correctness.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

from mfgstudy.code_closure import code_hash
from mfgstudy.jobs.evaluate import evaluate_unit
from mfgstudy.jobs.sample import sample_unit
from mfgstudy.layout import value_dir
from mfgstudy.store import atomic_path, config_hash, file_sha256, open_store

log = logging.getLogger(__name__)

DONE = "complete"  # the marker of a finished cache entry


def file_identity(path: str | os.PathLike) -> str:
    """What a result depends on in an input: a store's own config hash and creation time (its
    provenance), another file's sha256."""
    if Path(path).is_dir():  # a zarr store written by mfgstudy.store
        attrs = open_store(path, load=False).attrs
        return f"{attrs.get('config_hash')}@{attrs.get('created_utc')}"
    return file_sha256(path)


def manifest(root: Path) -> dict[str, str]:
    """The sha256 of every file under ``root`` but the completion mark, by relative path."""
    return {p.relative_to(root).as_posix(): file_sha256(p) for p in sorted(root.rglob("*"))
            if p.is_file() and p.relative_to(root).as_posix() != DONE}  # fmt: skip


def entry_problem(entry: Path) -> str | None:
    """None when the cache entry holds exactly the files its mark records, byte for byte; else
    what is wrong, naming the first file that fails."""
    try:
        recorded = json.loads((entry / DONE).read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return "its completion mark holds no manifest of its files"
    have = manifest(entry)
    for name in sorted(set(recorded) | set(have)):
        if name not in have:
            return f"{name} is missing"
        if name not in recorded:
            return f"{name} is not one of the files it was written with"
        if have[name] != recorded[name]:
            return f"{name} differs from the sha256 recorded when it was written"
    return None


def unit_job(spec: dict, seed: int, data_path: str, out_samples: str, out_metrics: str,
             cache: str, model_path: str | None = None, classifier_path: str | None = None,
             reference_paths: list[str] = ()) -> None:  # fmt: skip
    """Every value (eps) of ``spec["values"]`` (eps label -> the value's evaluate spec), eps = 0
    first: the perturbed values are compared with its samples."""
    t0 = time.time()
    inputs = {"data": file_identity(data_path),
              "model": file_identity(model_path) if model_path else None,
              "classifier": file_identity(classifier_path) if classifier_path else None,
              "references": sorted(file_identity(p) for p in reference_paths or ())}  # fmt: skip
    code = code_hash("unit")
    labels = sorted(spec["values"], key=float)
    computed = []
    with atomic_path(out_samples) as samples, atomic_path(out_metrics) as metrics:
        samples.mkdir()
        metrics.mkdir()
        for label in labels:
            value = spec["values"][label]
            key = {"value": value, "seed": int(seed), "code": code, "inputs": inputs}
            entry = Path(cache) / config_hash(key)
            if (entry / DONE).exists():
                problem = entry_problem(entry)
                if problem is not None:
                    log.warning("eps=%s: the cache entry %s fails its check (%s): removed it; "
                                "computing the value again", label, entry, problem)  # fmt: skip
                    shutil.rmtree(entry)
            if not (entry / DONE).exists():
                computed.append(label)
                clean = None if float(label) == 0 else samples / value_dir("0")
                _compute(value, seed, data_path, model_path, classifier_path, reference_paths,
                         entry, clean)  # fmt: skip
            else:
                log.info("eps=%s: reused %s", label, entry)
            shutil.copytree(entry / "samples", samples / value_dir(label))
            shutil.copytree(entry / "metrics", metrics / value_dir(label))
    log.info("unit of %d values (eps %s): computed %s, reused the others, in %.1fs",
             len(labels), ", ".join(labels), ", ".join(computed) or "none",
             time.time() - t0)  # fmt: skip


def _compute(value, seed, data_path, model_path, classifier_path, reference_paths, entry, clean):
    with atomic_path(entry) as tmp:
        tmp.mkdir()
        sample_unit(value, seed, data_path, model_path, str(tmp / "samples"))
        evaluate_unit(value, seed, data_path, str(tmp / "samples"), str(tmp / "metrics"),
                      classifier_path=classifier_path, clean_dir=clean,
                      reference_paths=reference_paths, model_path=model_path)  # fmt: skip
        (tmp / DONE).write_text(json.dumps({"files": manifest(tmp)}, indent=1))  # written last
