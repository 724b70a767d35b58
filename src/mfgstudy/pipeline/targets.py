"""Which jobs and files a config's study has: its units, the models they train, the unit jobs'
folders, the floors, and the final targets (every data set, the cube, the tables and figures).

A *sweep* is a named experiment: data sets x methods x seeds x samplers x grids x perturbation
sizes eps, each such *unit* sampled at every N in ``steps`` (plus the ``reference_steps`` run for
the coupled estimate) under each of the sweep's perturbation kinds. A sweep without ``eps`` has
the one size 0 (the unperturbed sampler, kind ``none``); eps = 0 is shared by every kind, since
every kind reduces to the unperturbed sampler there.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass

from mfgstudy.kinds import data_kind
from mfgstudy.pipeline.paths import paths, study_outputs, sweep_eps


@dataclass(frozen=True)
class Unit:
    sweep: str
    dataset: str
    method: str
    seed: int
    sampler: str
    grid: str
    eps: str = "0"

    @property
    def wildcards(self) -> dict:
        return asdict(self)


def units(config: dict) -> list[Unit]:
    out = []
    for sname, s in config["sweeps"].items():
        for d, m, seed, smp, g, e in itertools.product(
            s["datasets"],
            s["methods"],
            s.get("seeds", config["seeds"]),
            s["samplers"],
            s["grids"],
            sweep_eps(s),
        ):
            out.append(Unit(sname, d, m, int(seed), smp, g, e))
    return out


def is_trainable(config: dict, method: str) -> bool:
    return "train" in config["methods"][method]


def is_images(config: dict, dataset: str) -> bool:
    return data_kind(config["datasets"][dataset]) == "images"


def has_classifier(config: dict, dataset: str) -> bool:
    """The pipeline's digits classifier exists for the digits data set only (FD-digits, IS-digits,
    the confident fraction and the injection analog's judge)."""
    return config["datasets"][dataset]["kind"] == "digits"


def trained_models(config: dict) -> list[dict]:
    seen = {(u.dataset, u.method, u.seed) for u in units(config) if is_trainable(config, u.method)}
    inj = config.get("injection")
    if inj:
        seen |= {(inj["dataset"], m, int(s)) for m in inj["methods"] for s in inj["seeds"]}
    return [dict(dataset=d, method=m, seed=s) for d, m, s in sorted(seen)]


def unit_jobs(config: dict) -> list[dict]:
    """The wildcards of every unit job: a unit without its eps (one job samples and evaluates
    every eps of it)."""
    seen = {tuple((k, v) for k, v in u.wildcards.items() if k != "eps"): None
            for u in units(config)}  # fmt: skip
    return [dict(w) for w in seen]


def floor_jobs(config: dict) -> list[dict]:
    """The wildcards of every floor job: each sweep's data sets (in the order of their paths)."""
    seen = {(u.sweep, u.dataset) for u in units(config)}
    jobs = [dict(sweep=s, dataset=d) for s, d in seen]
    return sorted(jobs, key=lambda w: paths.floor.format(**w))


def columns(jobs: list[dict]) -> dict[str, list]:
    """Jobs' wildcards by name, for ``expand(rules.<name>.output, zip, **columns(jobs))``."""
    return {k: [w[k] for w in jobs] for k in jobs[0]}


def final_targets(config: dict) -> list[str]:
    """Every configured data set (used by a sweep or not), the cube, the tables and figures."""

    def files(*names: str, when=True) -> list[str]:
        return [p for n in names for p in paths[n].values()] if when else []

    data = [paths.data.format(dataset=d) for d in config["datasets"]]
    studies = [p for s in config["report"].get("studies", {}) for p in study_outputs(s)]
    main = [paths.cube, *files("figure1", "slopes_table", "table1", "table2", "robustness_table",
                               "robustness_figure", "claims", "report", "export")]  # fmt: skip
    injection = files("injection_figure", when="injection" in config)
    conv = files("convergence_table", when=bool(config.get("convergence")))
    exact = files("robustness_exact_table", "robustness_exact_figure",
                  when=bool(config.get("robustness_exact")))  # fmt: skip
    mfg = files("mfg_equilibrium_table", "mfg_equilibrium_figure",
                when=bool(config.get("mfg_equilibrium")))  # fmt: skip
    mfg += files("proposition6_table", when=bool(config.get("proposition6_exact")))
    mfg += files("mfg_readings_table", when=bool(config["report"].get("mfg_readings")))
    mfg += files("cost_perturbation_table", "cost_perturbation_figure",
                 when=bool(config.get("cost_perturbation")))  # fmt: skip
    return data + main + injection + studies + conv + exact + mfg
