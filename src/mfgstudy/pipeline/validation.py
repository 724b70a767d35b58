"""Checks beyond the JSON schema (workflow/schemas/config.schema.yaml, which says what a key's value
may be): names that must be defined elsewhere in the config, sections that must agree with each
other, and values no job can use (``mfgstudy.pipeline.config_values``). One small check per config
section, each raising ``ConfigError`` with the offending key named; :func:`check_config` runs
them all, after the schema.
"""

from __future__ import annotations

from pathlib import Path

from mfgstudy.errors import ConfigError
from mfgstudy.kinds import data_kind
from mfgstudy.layout import UNPERTURBED, value_dir
from mfgstudy.pipeline.config_values import check_values
from mfgstudy.pipeline.paths import REPO_ROOT, paths
from mfgstudy.pipeline.specs_closed_form import closed_form_convergence
from mfgstudy.pipeline.specs_units import PER_DATA, features_of, image_metrics_spec
from mfgstudy.pipeline.targets import Unit, has_classifier, is_images, units
from mfgstudy.registry import NETS, SAMPLERS, Registry


def check_config(config: dict) -> None:
    """Reject undefined names, inconsistent sections and values no job can use, naming the
    offending key (the config has passed the schema)."""
    check_values(config)  # finite numbers, stopping times, memory (mfgstudy.pipeline.config_values)
    _check_methods(config)
    _check_samplers(config)
    _check_resources(config)
    _check_sweeps(config)
    _check_image_metrics(config)
    _check_report(config)
    _check_injection(config)
    _check_convergence(config)
    _check_robustness_exact(config)
    _check_mfg_equilibrium(config)
    _check_proposition6(config)
    _check_unit_folders(config)


def _defined(config: dict, where: str, name: str, table: str) -> None:
    """``name``, given at key ``where``, is defined under ``table``."""
    if name not in config[table]:
        raise ConfigError(f"{where}: {name!r} is not defined under '{table}'")


def _registered(where: str, kind: str, registry: Registry) -> None:
    """``kind``, given at key ``where``, is registered (the registry read from the source: no
    torch is imported)."""
    if kind not in registry:
        raise ConfigError(
            f"{where}: {kind!r} is not a {registry.what} kind (registered with "
            f"@{registry.decorator}: {', '.join(registry.kinds())})"
        )


def _check_methods(config: dict) -> None:
    """Every method's kind is a module of mfgstudy/methods/, its networks' kinds are nets."""
    from mfgstudy.methods.registry import kinds

    for name, method in config["methods"].items():
        if method["kind"] not in kinds():
            raise ConfigError(
                f"methods.{name}.kind: {method['kind']!r} is not a method: there is no module "
                f"mfgstudy/methods/{method['kind']}.py (methods: {', '.join(kinds())})"
            )
        for key in ("net", "value_net"):  # the keys the schema gives per-data-kind networks
            for data, net in method.get(key, {}).items():
                _registered(f"methods.{name}.{key}.{data}.kind", net["kind"], NETS)


def _check_samplers(config: dict) -> None:
    """Every sampler's kind is registered (in mfgstudy.core.samplers or a method's module)."""
    for name, sampler in config["samplers"].items():
        _registered(f"samplers.{name}.kind", sampler["kind"], SAMPLERS)


def _check_resources(config: dict) -> None:
    for family, spec in config["resources"].items():
        for name in spec.get("by_dataset", {}):
            if name not in config["datasets"]:
                raise ConfigError(f"resources.{family}.by_dataset: {name!r} is not a data set")


def _check_sweeps(config: dict) -> None:
    """A sweep's names are defined, its steps nest in its reference steps, its methods have an
    entry for each of its data sets, and its perturbation kinds are defined."""
    for sname, sweep in config["sweeps"].items():
        for key in ("datasets", "methods", "samplers", "grids"):
            for name in sweep[key]:
                if name not in config[key]:
                    raise ConfigError(
                        f"sweeps.{sname}.{key}: {name!r} is not defined under '{key}' "
                        f"(defined: {sorted(config[key])})"
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
        for p in sweep.get("perturbations", []):  # with eps (the schema's dependentRequired)
            if p == UNPERTURBED or p not in config.get("perturbations", {}):
                raise ConfigError(
                    f"sweeps.{sname}.perturbations: {p!r} is not defined under 'perturbations' "
                    f"(defined: {sorted(config.get('perturbations', {}))}; {UNPERTURBED!r} is "
                    "reserved for eps = 0)"
                )


def _check_image_metrics(config: dict) -> None:
    """The image data sets the sweeps measure: the digits classifier configured where FD-digits
    is measured, a feature source for each, and the Inception weights where FID is measured
    (present, with the published hash or the one the config names)."""
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
    if not (image_sets and "inception" in im["features"]):
        return
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


def _check_report(config: dict) -> None:
    """The sweeps the report's studies, readings table and Figure 1 read exist (and Figure 1's
    method is in its sweep); a study decided by another config names a file of the repository."""
    report = config["report"]
    for study, entry in report.get("studies", {}).items():
        if entry["sweep"] not in config["sweeps"]:
            raise ConfigError(f"report.studies.{study}.sweep: {entry['sweep']!r} is not a sweep")
        other = entry.get("decided_by")
        if other and not (REPO_ROOT / other).is_file():
            raise ConfigError(f"report.studies.{study}.decided_by: {other!r} is not a config "
                              "file of this repository (e.g. workflow/configs/laboratory.yaml)"
                              )  # fmt: skip
    for name in report.get("mfg_readings", {}).get("sweeps", []):
        if name not in config["sweeps"]:
            raise ConfigError(f"report.mfg_readings.sweeps: {name!r} is not a sweep")
    fig = report["figure1"]
    if fig["sweep"] not in config["sweeps"]:
        raise ConfigError(f"report.figure1.sweep: {fig['sweep']!r} is not a sweep")
    if fig["method"] not in config["sweeps"][fig["sweep"]]["methods"]:
        raise ConfigError(f"report.figure1.method: {fig['method']!r} is not in that sweep")


def _check_injection(config: dict) -> None:
    """The injection analog attacks class-conditional image models on the digits data set."""
    inj = config.get("injection")
    if not inj:
        return
    for key, table in (("dataset", "datasets"), ("sampler", "samplers"), ("grid", "grids")):
        _defined(config, f"injection.{key}", inj[key], table)
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


def _check_convergence(config: dict) -> None:
    """Theorem 2's curves: the closed forms' data sets and exact methods, every entry's
    samplers and grids defined, the mixture's law one weight per mode."""
    conv = config.get("convergence", {})
    for name in closed_form_convergence(config):
        g = conv[name]
        for key, table in (("dataset", "datasets"), ("method", "methods")):
            _defined(config, f"convergence.{name}.{key}", g[key], table)
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
                _defined(config, f"convergence.{name}", item, table)
    if "mixture" in conv:
        law = conv["mixture"]["law"]
        if len(law["weights"]) != len(law["means"]):
            raise ConfigError(
                f"convergence.mixture.law: {len(law['weights'])} weights for "
                f"{len(law['means'])} means (one weight per mode)"
            )


def _check_robustness_exact(config: dict) -> None:
    rob = config.get("robustness_exact")
    if not rob:
        return
    for key, table in (("sampler", "samplers"), ("grid", "grids")):
        _defined(config, f"robustness_exact.{key}", rob[key], table)
    for p in rob["perturbations"]:
        if p not in config.get("perturbations", {}):
            raise ConfigError(
                f"robustness_exact.perturbations: {p!r} is not defined under 'perturbations'"
            )
    for name, entry in rob["laws"].items():
        if len(entry["law"]["weights"]) != len(entry["law"]["means"]):
            raise ConfigError(f"robustness_exact.laws.{name}.law: one weight per mode")


def _check_gaussian(config: dict, section: str) -> None:
    """A closed-form study's data set must be Gaussian (its law in closed form)."""
    name = config[section]["dataset"]
    d = config["datasets"].get(name)
    if d is None or d["kind"] != "gaussian":
        raise ConfigError(f"{section}.dataset: {name!r} must name a data set of kind gaussian "
                          "(the closed form needs a Gaussian law)")  # fmt: skip


def _check_mfg_equilibrium(config: dict) -> None:
    eq = config.get("mfg_equilibrium")
    if not eq:
        return
    _check_gaussian(config, "mfg_equilibrium")
    for key, table in (("samplers", "samplers"), ("grid", "grids")):
        for name in [eq[key]] if isinstance(eq[key], str) else eq[key]:
            _defined(config, f"mfg_equilibrium.{key}", name, table)


def _check_proposition6(config: dict) -> None:
    p6 = config.get("proposition6_exact")
    if not p6:
        return
    _check_gaussian(config, "proposition6_exact")
    m = config["methods"].get(p6["method"], {})
    if m.get("kind") != "mfg" or m.get("readings", {}).get("value_target") != "derived":
        raise ConfigError(f"proposition6_exact.method: {p6['method']!r} must name an mfg "
                          "method with readings.value_target: derived (the reading with an "
                          "equilibrium, the only one the exact case models)")  # fmt: skip


def _check_unit_folders(config: dict) -> None:
    """Two units never share a folder (their results would overwrite each other)."""
    seen: dict[str, Unit] = {}
    for u in units(config):
        path = paths.samples.format(**u.wildcards) + "/" + value_dir(u.eps)
        if path in seen:
            raise ConfigError(f"sweeps.{u.sweep}: units {seen[path]} and {u} share the folder "
                              f"{path}; make their values distinct")  # fmt: skip
        seen[path] = u
