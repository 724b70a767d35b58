"""From a validated config to the study's jobs: which units exist, where their files live, and
the exact parameters each job receives (Snakemake ``params:``, so that changing a value reruns
only what it touches).

A *sweep* is a named experiment: data sets x methods x seeds x samplers x grids x perturbation
sizes eps, each such *unit* sampled at every N in ``steps`` (plus the ``reference_steps`` run for
the coupled estimate) under each of the sweep's perturbation kinds. A sweep without ``eps`` has
the one size 0 (the unperturbed sampler, kind ``none``); eps = 0 is shared by every kind, since
every kind reduces to the unperturbed sampler there. Paths are built here and nowhere else.
"""

from __future__ import annotations

from pathlib import Path

from mfgstudy.errors import ConfigError
from mfgstudy.kinds import data_kind
from mfgstudy.layout import UNPERTURBED, value_dir
from mfgstudy.pipeline.commands import cli_option, code_hash  # noqa: F401 (re-exported)
from mfgstudy.pipeline.compute import (  # noqa: F401 (re-exported)
    RESOURCE_FAMILIES,
    checkpoint_every,
    job_device,
    job_resources,
    launcher,
    threads_per_process,
    train_retries,
    unit_resources,
)
from mfgstudy.pipeline.config_values import check_values
from mfgstudy.pipeline.names import (  # noqa: F401 (re-exported)
    NAME_PATTERN,
    NAME_RULE,
    NAME_TABLES,
    NAME_WILDCARD,
    check_names,
)
from mfgstudy.pipeline.paths import (  # noqa: F401 (re-exported until the rules import it)
    CLAIMS_FILE,
    CLAIMS_FILES,
    CLAIMS_NAMES,
    FLOOR,
    METRICS,
    REPO_ROOT,
    SAMPLES,
    UNIT,
    UNIT_DIR,
    Files,
    Table,
    benchmark_path,
    eps_label,
    log_path,
    paths,
    study_outputs,
    sweep_eps,
)  # fmt: skip
from mfgstudy.pipeline.specs_claims import (  # noqa: F401 (re-exported)
    claims_exact_table,
    claims_files,
    claims_inputs,
    claims_mfg_tables,
    claims_options,
    claims_spec,
    claims_study_table,
    mfg_train_logs,
)
from mfgstudy.pipeline.specs_closed_form import (  # noqa: F401 (re-exported)
    closed_form_convergence,
    convergence_data,
    convergence_spec,
    convergence_stores,
    cost_perturbation_data,
    cost_perturbation_spec,
    mfg_equilibrium_data,
    mfg_equilibrium_spec,
    proposition6_data,
    proposition6_spec,
    robustness_exact_spec,
    robustness_exact_stores,
)
from mfgstudy.pipeline.specs_studies import (  # noqa: F401 (re-exported)
    hjb_data,
    hjb_samples,
    injection_spec,
    injection_stores,
    mfg_readings_spec,
    study_spec,
)
from mfgstudy.pipeline.specs_units import (  # noqa: F401 (re-exported)
    IMAGE_METRICS_DEFAULTS,
    METRICS_DEFAULTS,
    PER_DATA,
    data_source,
    data_spec,
    evaluate_spec,
    features_of,
    floor_spec,
    image_metrics_spec,
    inception_input,
    method_sde,
    method_spec,
    per_data,
    perturbations_at,
    reference_spec,
    references,
    report_spec,
    sample_spec,
    train_spec,
    unit_spec,
)
from mfgstudy.pipeline.targets import (  # noqa: F401 (re-exported)
    Unit,
    final_targets,
    floors,
    has_classifier,
    is_images,
    is_trainable,
    metric_dirs,
    sample_dirs,
    trained_models,
    unit_jobs,
    units,
)

# --- paths -----------------------------------------------------------------------------------


# --- checks beyond the JSON schema ------------------------------------------------------------
def check_config(config: dict) -> None:
    """Reject undefined names, inconsistent sweeps and values no job can use
    (``mfgstudy.pipeline.config_values``), naming the offending key."""
    from mfgstudy.methods.registry import kinds

    check_values(config)

    for name, method in config["methods"].items():
        if method["kind"] not in kinds():
            raise ConfigError(
                f"methods.{name}.kind: {method['kind']!r} is not a method: there is no module "
                f"mfgstudy/methods/{method['kind']}.py (methods: {', '.join(kinds())})"
            )
    for family, spec in config["resources"].items():
        for name in spec.get("by_dataset", {}):
            if name not in config["datasets"]:
                raise ConfigError(f"resources.{family}.by_dataset: {name!r} is not a data set")
    for sname, sweep in config["sweeps"].items():
        for key, table in (
            ("datasets", "datasets"),
            ("methods", "methods"),
            ("samplers", "samplers"),
            ("grids", "grids"),
        ):
            for name in sweep[key]:
                if name not in config[table]:
                    raise ConfigError(
                        f"sweeps.{sname}.{key}: {name!r} is not defined under '{table}' "
                        f"(defined: {sorted(config[table])})"
                    )
        ref = sweep.get("reference_steps")
        if ref is not None:
            for n in sweep["steps"]:
                if ref % n or n >= ref:
                    raise ConfigError(
                        f"sweeps.{sname}.steps: {n} must divide and be smaller than "
                        f"reference_steps={ref} (the coupled estimate needs nested grids)"
                    )
        for d in sweep["datasets"]:
            kind = data_kind(config["datasets"][d])
            for m in sweep["methods"]:
                mspec = config["methods"][m]
                for key in PER_DATA:
                    if key in mspec and kind not in mspec[key] and d not in mspec[key]:
                        raise ConfigError(
                            f"methods.{m}.{key}: no entry for {kind} data or data set {d!r}"
                        )
    image_sets = {
        d for s in config["sweeps"].values() for d in s["datasets"] if is_images(config, d)
    }
    digits_sets = sorted(d for d in image_sets if has_classifier(config, d))
    if digits_sets and "classifier" not in config:
        raise ConfigError(f"classifier: required for FD-digits on data sets {digits_sets}")
    for d in sorted(image_sets):
        if not features_of(config, d):
            raise ConfigError(
                f"image_metrics.features: no feature source applies to {d!r} (digits features "
                "are for the digits data set; other images need inception)"
            )
    im = image_metrics_spec(config)
    if image_sets and "inception" in im["features"]:
        from mfgstudy.metrics.features import (
            INCEPTION_FILENAME,
            InceptionWeightsMismatch,
            InceptionWeightsMissing,
            check_inception_file,
            inception_file,
        )

        weights = im["inception_weights"]
        if not weights:
            raise ConfigError(
                "image_metrics.features includes inception (FID, Inception Score) but "
                f"image_metrics.inception_weights is not set: give the local path of clean-fid's "
                f"{INCEPTION_FILENAME}"
            )
        path = Path(weights)
        if not (path.is_file() or (path / INCEPTION_FILENAME).is_file()):
            raise ConfigError(f"image_metrics.inception_weights: {InceptionWeightsMissing(path)}")
        try:  # the published file, or a stand-in whose hash the config names
            check_inception_file(inception_file(path), im.get("inception_sha256"))
        except InceptionWeightsMismatch as err:
            raise ConfigError(f"image_metrics.inception_weights: {err}") from None
    for sname, sweep in config["sweeps"].items():
        kinds, sizes = sweep.get("perturbations"), sweep.get("eps")
        if bool(kinds) != bool(sizes):
            raise ConfigError(
                f"sweeps.{sname}: 'perturbations' and 'eps' go together (one is missing)"
            )
        for p in kinds or []:
            if p == UNPERTURBED or p not in config.get("perturbations", {}):
                raise ConfigError(
                    f"sweeps.{sname}.perturbations: {p!r} is not defined under 'perturbations' "
                    f"(defined: {sorted(config.get('perturbations', {}))}; {UNPERTURBED!r} is "
                    "reserved for eps = 0)"
                )
    for study, entry in config["report"].get("studies", {}).items():
        if entry["sweep"] not in config["sweeps"]:
            raise ConfigError(f"report.studies.{study}.sweep: {entry['sweep']!r} is not a sweep")
        other = entry.get("decided_by")
        if other and not (REPO_ROOT / other).is_file():
            raise ConfigError(f"report.studies.{study}.decided_by: {other!r} is not a config "
                              "file of this repository (e.g. workflow/configs/laboratory.yaml)"
                              )  # fmt: skip
    inj = config.get("injection")
    if inj:
        for key, table in (("dataset", "datasets"), ("sampler", "samplers"), ("grid", "grids")):
            if inj[key] not in config[table]:
                raise ConfigError(f"injection.{key}: {inj[key]!r} is not defined under '{table}'")
        if not has_classifier(config, inj["dataset"]):
            raise ConfigError(
                f"injection.dataset: {inj['dataset']!r} is not a digits data set (the attack's "
                "success is judged by the pipeline's digits classifier)"
            )
        for m in inj["methods"]:
            if m not in config["methods"]:
                raise ConfigError(f"injection.methods: {m!r} is not defined under 'methods' "
                                  f"(defined: {sorted(config['methods'])})")  # fmt: skip
            nets = config["methods"][m].get("net", {})
            net = nets.get(inj["dataset"], nets.get("images", {}))
            if not net.get("n_classes"):
                raise ConfigError(
                    f"injection.methods: {m!r} needs a class-conditional image network "
                    "(methods.<name>.net.images.n_classes > 0)"
                )
    conv = config.get("convergence", {})
    for name in closed_form_convergence(config):
        g = conv[name]
        for key, table in (("dataset", "datasets"), ("method", "methods")):
            if g[key] not in config[table]:
                raise ConfigError(
                    f"convergence.{name}.{key}: {g[key]!r} is not defined under '{table}'"
                )
        if config["methods"][g["method"]]["kind"] != "exact":
            raise ConfigError(
                f"convergence.{name}.method: {g['method']!r} is not an exact score (the "
                "closed-form curves need kind: exact)"
            )
    for name, c in conv.items():
        names = {"samplers": c.get("samplers", []), "grids": c.get("grids", [])}
        if "grid" in c:
            names["grids"] = [c["grid"]]
        for table, items in names.items():
            for item in items:
                if item not in config[table]:
                    raise ConfigError(
                        f"convergence.{name}: {item!r} is not defined under '{table}'"
                    )
    rob = config.get("robustness_exact")
    if rob:
        for key, table in (("sampler", "samplers"), ("grid", "grids")):
            if rob[key] not in config[table]:
                raise ConfigError(
                    f"robustness_exact.{key}: {rob[key]!r} is not defined under '{table}'"
                )
        for p in rob["perturbations"]:
            if p not in config.get("perturbations", {}):
                raise ConfigError(
                    f"robustness_exact.perturbations: {p!r} is not defined under 'perturbations'"
                )
        for name, entry in rob["laws"].items():
            if len(entry["law"]["weights"]) != len(entry["law"]["means"]):
                raise ConfigError(f"robustness_exact.laws.{name}.law: one weight per mode")
    if "mixture" in conv:
        law = conv["mixture"]["law"]
        if len(law["weights"]) != len(law["means"]):
            raise ConfigError(
                f"convergence.mixture.law: {len(law['weights'])} weights for "
                f"{len(law['means'])} means (one weight per mode)"
            )
    _check_mfg_trial(config)
    _check_unit_paths(config)
    fig = config["report"]["figure1"]
    if fig["sweep"] not in config["sweeps"]:
        raise ConfigError(f"report.figure1.sweep: {fig['sweep']!r} is not a sweep")
    if fig["method"] not in config["sweeps"][fig["sweep"]]["methods"]:
        raise ConfigError(f"report.figure1.method: {fig['method']!r} is not in that sweep")


def _check_unit_paths(config: dict) -> None:
    """Two units never share a folder (their results would overwrite each other)."""
    seen: dict[str, Unit] = {}
    for u in units(config):
        path = paths.samples.format(**u.wildcards) + "/" + value_dir(u.eps)
        if path in seen:
            raise ConfigError(f"sweeps.{u.sweep}: units {seen[path]} and {u} share the folder "
                              f"{path}; make their values distinct")  # fmt: skip
        seen[path] = u


def _check_gaussian(config: dict, section: str) -> None:
    """A closed-form study's data set must be Gaussian (its law in closed form)."""
    name = config[section]["dataset"]
    d = config["datasets"].get(name)
    if d is None or d["kind"] != "gaussian":
        raise ConfigError(f"{section}.dataset: {name!r} must name a data set of kind gaussian "
                          "(the closed form needs a Gaussian law)")  # fmt: skip


def _check_mfg_trial(config: dict) -> None:
    eq = config.get("mfg_equilibrium")
    if eq:
        _check_gaussian(config, "mfg_equilibrium")
        for key, table in (("samplers", "samplers"), ("grid", "grids")):
            for name in [eq[key]] if isinstance(eq[key], str) else eq[key]:
                if name not in config[table]:
                    raise ConfigError(f"mfg_equilibrium.{key}: {name!r} is not defined under "
                                      f"'{table}'")  # fmt: skip
    for name in config["report"].get("mfg_readings", {}).get("sweeps", []):
        if name not in config["sweeps"]:
            raise ConfigError(f"report.mfg_readings.sweeps: {name!r} is not a sweep")
    p6 = config.get("proposition6_exact")
    if p6:
        _check_gaussian(config, "proposition6_exact")
        m = config["methods"].get(p6["method"], {})
        if m.get("kind") != "mfg" or m.get("readings", {}).get("value_target") != "derived":
            raise ConfigError(f"proposition6_exact.method: {p6['method']!r} must name an mfg "
                              "method with readings.value_target: derived (the reading with an "
                              "equilibrium, the only one the exact case models)")  # fmt: skip
