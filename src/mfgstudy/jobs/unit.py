"""The unit job (``python -m mfgstudy unit``): one process samples and evaluates every
perturbation size eps of one (sweep, data set, method, seed, sampler, grid) unit, at every N.

Each eps is a *value*: its samples and metrics are computed by ``sample.sample_unit`` and
``evaluate.evaluate_unit`` exactly as before (the same spec, so the same numbers), into
``<cache>/<key>/`` where the key hashes the value's spec, the seed, the unit job's code hash and
the identity of every input file it reads (the data store, the model, the classifier, the reference
statistics). The job's outputs, ``<samples>/eps<e>/`` and ``<metrics>/eps<e>/``, are hard links
to (or copies of) those entries. When the job reruns because one eps was added, every value whose
key is unchanged is taken from the cache and only the new one is computed; a change to the code,
a model or a value's own spec gives a new key, so a stale result is never reused. The cache is
not a workflow output: deleting it costs recomputation, never correctness.
"""

from __future__ import annotations

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


def _link_tree(src: Path, dst: Path) -> None:
    """``dst`` as a copy of the folder ``src`` made of hard links (copies across file systems)."""

    def link(s, d):
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)

    shutil.copytree(src, dst, copy_function=link)


def unit_job(spec: dict, seed: int, data_path: str, out_samples: str, out_metrics: str,
             cache: str, model_path: str | None = None, classifier_path: str | None = None,
             reference_paths=()) -> None:  # fmt: skip
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
            if not (entry / DONE).exists():
                computed.append(label)
                clean = None if float(label) == 0 else samples / value_dir("0")
                _compute(value, seed, data_path, model_path, classifier_path, reference_paths,
                         entry, clean)  # fmt: skip
            else:
                log.info("eps=%s: reused %s", label, entry)
            _link_tree(entry / "samples", samples / value_dir(label))
            _link_tree(entry / "metrics", metrics / value_dir(label))
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
        (tmp / DONE).touch()
