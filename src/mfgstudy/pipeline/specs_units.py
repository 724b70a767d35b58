"""The parameters of the jobs of a unit's chain, each builder beside its rule's name: prepare_data,
train, unit (sampling and evaluating every eps of a unit), the floors and reference statistics
the unit jobs are measured against, and collect. A job's spec holds only what it uses, so that a
changed value reruns only the jobs it touches (Snakemake ``params:``).
"""

from __future__ import annotations

from mfgstudy.kinds import data_kind
from mfgstudy.layout import UNPERTURBED
from mfgstudy.pipeline.paths import paths, sweep_eps
from mfgstudy.pipeline.targets import has_classifier, is_images


# --- prepare_data (workflow/rules/data.smk) -------------------------------------------------------
def data_spec(config: dict, dataset: str) -> dict:
    return {"name": dataset, **config["datasets"][dataset]}


def data_source(config: dict, dataset: str) -> list[str]:
    """The local file or folder a data set is read from ([] for built-in and synthetic data):
    an input of its prepare_data job, so a missing one stops the DAG with its path named."""
    path = config["datasets"][dataset].get("path")
    return [path] if path else []


# --- train (workflow/rules/train.smk): a method as one data set's jobs see it ---------------------
def method_sde(config: dict, method: str) -> dict:
    """A method's forward process: its own ``sde`` entry, else the study's."""
    return config["methods"][method].get("sde", config["sde"])


PER_DATA = ("net", "value_net", "train")  # method entries given per data kind or data set


def per_data(table: dict, dataset: str, kind: str):
    """A per-data entry of a method: the one named after the data set, else its data kind's."""
    return table[dataset] if dataset in table else table[kind]


def method_spec(config: dict, dataset: str, method: str) -> dict:
    """A method's spec as one data set's jobs see it: every per-data entry (net, value_net,
    train) resolved for that data set and kept under its data kind, so that a job's parameters
    hold only what it uses (a change to another data set's network reruns nothing here)."""
    kind = data_kind(config["datasets"][dataset])
    m = dict(config["methods"][method])
    for key in PER_DATA:
        if key in m:
            m[key] = {kind: per_data(m[key], dataset, kind)}
    return m


def train_spec(config: dict, dataset: str, method: str) -> dict:
    kind = data_kind(config["datasets"][dataset])
    m = method_spec(config, dataset, method)
    return {
        "sde": method_sde(config, method),
        "method": {k: v for k, v in m.items() if k != "train"},
        "train": m["train"][kind],
        "data_kind": kind,
    }


# --- unit: sample and evaluate every eps of a unit (workflow/rules/unit.smk) ----------------------
def perturbations_at(config: dict, sweep: str, eps: str) -> dict[str, dict]:
    """{kind name: spec} sampled by a unit of size eps (only the unperturbed one at eps = 0)."""
    if float(eps) == 0:
        return {UNPERTURBED: {"kind": "none"}}
    return {p: config["perturbations"][p] for p in config["sweeps"][sweep]["perturbations"]}


def sample_spec(config: dict, wc) -> dict:
    s = config["sweeps"][wc["sweep"]]
    return {
        "unit": {k: wc[k] for k in ("sweep", "dataset", "method", "sampler", "grid")},
        "eps": float(wc["eps"]),
        "perturbations": perturbations_at(config, wc["sweep"], wc["eps"]),
        "sde": method_sde(config, wc["method"]),
        "method": method_spec(config, wc["dataset"], wc["method"]),
        "sampler": config["samplers"][wc["sampler"]],
        "grid": config["grids"][wc["grid"]],
        "steps": list(s["steps"]),
        "reference_steps": s.get("reference_steps"),
        "n_samples": s["n_samples"],
        "batch_size": s.get("batch_size", 1000),
    }


METRICS_DEFAULTS = {"memorisation_delta": 0.05, "boundary_width": 0.05}
IMAGE_METRICS_DEFAULTS = {"features": ["digits"], "inception_weights": None, "nearest_k": 5,
                          "is_splits": 10}  # fmt: skip


def image_metrics_spec(config: dict) -> dict:
    return {**IMAGE_METRICS_DEFAULTS, **config.get("image_metrics", {})}


def evaluate_spec(config: dict, wc) -> dict:
    return {**sample_spec(config, wc), "metrics": {**METRICS_DEFAULTS, **config.get("metrics", {})},
            "image_metrics": image_metrics_spec(config)}  # fmt: skip


def unit_spec(config: dict, wc) -> dict:
    """A unit job's parameters: every value (eps label -> its evaluate spec, which holds its
    sample spec). A value's spec is all its results depend on besides the code and the input
    files, so it is also what the unit job's cache is keyed by (mfgstudy.jobs.unit)."""
    wc = dict(wc)
    eps = sweep_eps(config["sweeps"][wc["sweep"]])
    return {"values": {e: evaluate_spec(config, {**wc, "eps": e}) for e in eps}}


# --- floors and reference statistics (workflow/rules/evaluate.smk); collect (report.smk) ----------
def features_of(config: dict, dataset: str) -> list[str]:
    """The configured image feature sources that apply to a data set: "digits" only on digits."""
    if not is_images(config, dataset):
        return []
    feats = image_metrics_spec(config)["features"]
    return [f for f in feats if f != "digits" or has_classifier(config, dataset)]


def references(config: dict, dataset: str) -> list[str]:
    """The reference statistics an image data set is measured against (one per feature source)."""
    feats = features_of(config, dataset)
    return [paths.reference.format(dataset=dataset, features=f) for f in feats]


def reference_spec(config: dict, dataset: str, features: str) -> dict:
    im = image_metrics_spec(config)
    weights = im["inception_weights"] if features == "inception" else None
    spec = {"dataset": dataset, "features": features, "inception_weights": weights}
    if features == "inception" and im.get("inception_sha256"):  # a stand-in's own hash
        spec["inception_sha256"] = im["inception_sha256"]
    return spec


def inception_input(config: dict, dataset: str | None = None) -> list[str]:
    """The Inception weights file as a job input (``[path]``; a configured folder resolved to
    the file in it), so that replacing the file reruns the jobs that read it: ``[]`` where
    Inception is not configured, or ``dataset`` (when given) is not measured with it."""
    im = image_metrics_spec(config)
    if "inception" not in im["features"] or not im["inception_weights"]:
        return []
    if dataset is not None and "inception" not in features_of(config, dataset):
        return []
    from mfgstudy.metrics.features import inception_file  # imported by check_config already

    return [str(inception_file(im["inception_weights"]))]


def floor_spec(config: dict, sweep: str, dataset: str) -> dict:
    s = config["sweeps"][sweep]
    return {
        "unit": {"sweep": sweep, "dataset": dataset},
        "n_samples": s["n_samples"],
        "repeats": config["report"]["floor_repeats"],
        "seed": config["report"]["seed"],
        "image_metrics": image_metrics_spec(config),
    }


def report_spec(config: dict) -> dict:
    return config["report"]
