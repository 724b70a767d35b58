"""The parameters of the studies read from sweeps' results: the companion papers' studies (the
HJB figure and table, memorisation, concentration, the Dirac law's rates), MFG-Diffusion's
readings table, and the injection analog (an attack on trained class-conditional models).
"""

from __future__ import annotations

from mfgstudy.pipeline.paths import paths
from mfgstudy.pipeline.specs_units import METRICS_DEFAULTS, method_sde, method_spec


# --- the companion papers' studies (workflow/rules/studies.smk; their tables: common.smk) ---------
def _study_sweep(config: dict, study: str) -> tuple[str, dict]:
    name = config["report"]["studies"][study]["sweep"]
    return name, config["sweeps"][name]


def _t_stops(config: dict, sweep: dict) -> dict:
    return {g: config["grids"][g].get("t_stop", config["sde"]["t_min"]) for g in sweep["grids"]}


def _metrics(config: dict) -> dict:
    return {**METRICS_DEFAULTS, **config.get("metrics", {})}


def hjb_samples(config: dict) -> list[str]:
    """The sample directories drawn in the HJB figure: first seed, sampler and grid."""
    name, s = _study_sweep(config, "hjb")
    seed = s.get("seeds", config["seeds"])[0]
    unit = dict(sweep=name, dataset=s["datasets"][0], seed=seed, sampler=s["samplers"][0],
                grid=s["grids"][0], eps="0")  # fmt: skip
    return [paths.samples.format(method=m, **unit) for m in s["methods"]]


def hjb_data(config: dict) -> str:
    _, s = _study_sweep(config, "hjb")
    return paths.data.format(dataset=s["datasets"][0])


def study_spec(config: dict, study: str) -> dict:
    """The parameters of a study's report job."""
    name, s = _study_sweep(config, study)
    spec = {"sweep": name}
    if config["report"]["studies"][study].get("decided_by"):
        spec["decided_by"] = config["report"]["studies"][study]["decided_by"]
    if study == "hjb":
        first = config["methods"][s["methods"][0]]
        spec.update(
            methods=list(s["methods"]),
            n_samples=s["n_samples"],
            boundary_width=_metrics(config)["boundary_width"],
            train_steps=first["train"]["points"]["steps"],
            batch_size=first["train"]["points"]["batch_size"],
            half_width=config["datasets"][s["datasets"][0]]["half_width"],
        )
    elif study == "memorisation":
        spec.update(
            n_train={d: config["datasets"][d]["n_train"] for d in s["datasets"]},
            t_stop=_t_stops(config, s),
            delta=_metrics(config)["memorisation_delta"],
            n_samples=s["n_samples"],
        )
    elif study == "concentration":
        spec.update(
            t_stop=_t_stops(config, s),
            distance={
                m: "train_distance_mean"
                if config["methods"][m].get("score") == "empirical"
                else "support_distance_mean"
                for m in s["methods"]
            },
            fit={k: config["report"][k] for k in ("rates", "floor_factor")},
        )
    return spec


# --- MFG-Diffusion's readings table (a study table of workflow/rules/common.smk) ------------------
def mfg_readings_spec(config: dict) -> dict:
    """The readings table's sweeps and each MFG method's switches against the default ``mfg``
    (as text), e.g. "value_target=off"."""
    sweeps = config["report"]["mfg_readings"]["sweeps"]
    base = config["methods"].get("mfg", {})
    readings = {}
    for name in {m for s in sweeps for m in config["sweeps"][s]["methods"]}:
        spec = config["methods"][name]
        if spec["kind"] != "mfg":
            continue
        diff = {k: v for k, v in spec.get("readings", {}).items()
                if base.get("readings", {}).get(k) != v}  # fmt: skip
        diff.update({k: spec[k] for k in ("lambda", "gamma") if spec.get(k) != base.get(k)})
        readings[name] = ", ".join(f"{k}={v}" for k, v in sorted(diff.items())) or "default"
    return {"sweeps": list(sweeps), "readings": readings}


# --- the injection analog (workflow/rules/injection.smk) ------------------------------------------
def injection_stores(config: dict) -> list[str]:
    inj = config.get("injection")
    if not inj:
        return []
    return [paths.injection.format(dataset=inj["dataset"], method=m, seed=s)
            for m in inj["methods"] for s in inj["seeds"]]  # fmt: skip


def injection_spec(config: dict, dataset: str, method: str) -> dict:
    inj = config["injection"]
    return {
        "unit": {"dataset": dataset, "method": method},
        "sde": method_sde(config, method),
        "method": method_spec(config, dataset, method),
        "sampler": config["samplers"][inj["sampler"]],
        "grid": config["grids"][inj["grid"]],
        "steps": inj["steps"],
        "injection": {k: inj[k] for k in ("n_per_class", "target_shift", "eps", "pgd_iters",
                                          "pgd_lr", "batch_size") if k in inj},
    }  # fmt: skip
