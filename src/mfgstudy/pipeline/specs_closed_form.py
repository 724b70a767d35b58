"""The parameters of the jobs that train no network: Theorem 2's convergence curves (closed form
on a Gaussian or a Dirac law, and the mixture's), Theorem 4's exact score under perturbations,
and MFG-Diffusion's closed forms (Algorithm 1's equilibrium, the perturbed-cost equilibria,
Proposition 6's exact case); with the stores and data sets they read.
"""

from __future__ import annotations

from mfgstudy.pipeline.paths import paths
from mfgstudy.pipeline.specs_units import method_sde, method_spec


# --- Theorem 2's convergence curves, N extended (workflow/rules/convergence.smk) ------------------
def convergence_stores(config: dict) -> list[str]:
    return [paths.convergence.format(name=n) for n in config.get("convergence", {})]


def closed_form_convergence(config: dict) -> list[str]:
    """The convergence entries computed in closed form, N doubled (every one but ``mixture``:
    a Gaussian law, a Dirac law)."""
    return [n for n in config.get("convergence", {}) if n != "mixture"]


def convergence_data(config: dict, name: str) -> str:
    return paths.data.format(dataset=config["convergence"][name]["dataset"])


def convergence_spec(config: dict, name: str) -> dict:
    """The parameters of a Theorem 2 convergence job (closed form: gaussian, dirac; or the
    mixture)."""
    c = config["convergence"][name]
    if name == "mixture":
        return {
            "name": "mixture", "law": c["law"], "sde": config["sde"],
            "samplers": {s: config["samplers"][s] for s in c["samplers"]},
            "grid_name": c["grid"], "grid": config["grids"][c["grid"]],
            **{k: c[k] for k in ("steps", "n_samples", "blocks", "seed")},
        }  # fmt: skip
    return {
        "dataset": c["dataset"],
        "method_name": c["method"],
        "method": method_spec(config, c["dataset"], c["method"]),
        "sde": method_sde(config, c["method"]),
        "samplers": {s: config["samplers"][s] for s in c["samplers"]},
        "grids": {g: config["grids"][g] for g in c["grids"]},
        "steps": c["steps"],
        "rates": config["report"]["rates"],
        "floor_factor": config["report"]["floor_factor"],
    }


# --- Theorem 4 at the equilibrium: the exact score perturbed (robustness_exact.smk) ---------------
def robustness_exact_stores(config: dict) -> list[str]:
    r = config.get("robustness_exact")
    if not r:
        return []
    return [paths.robustness_exact.format(law=law, perturbation=p)
            for law in r["laws"] for p in r["perturbations"]]  # fmt: skip


def robustness_exact_spec(config: dict, law: str, perturbation: str) -> dict:
    r = config["robustness_exact"]
    keys = ("steps", "eps", "seeds", "n_samples", "n_adversarial", "n_check", "blocks")
    return {
        "law_name": law, "law": r["laws"][law]["law"], "modes": r["laws"][law]["modes"],
        "perturbation_name": perturbation, "perturbation": config["perturbations"][perturbation],
        "sde": config["sde"], "sampler": config["samplers"][r["sampler"]],
        "grid": config["grids"][r["grid"]], **{k: r[k] for k in keys},
    }  # fmt: skip


# --- MFG-Diffusion's closed forms (workflow/rules/mfg_equilibrium.smk) ----------------------------
def mfg_equilibrium_data(config: dict) -> str:
    return paths.data.format(dataset=config["mfg_equilibrium"]["dataset"])


def mfg_equilibrium_spec(config: dict) -> dict:
    """The closed-form equilibrium job's parameters: the readings, lambda scales, samplers."""
    c = config["mfg_equilibrium"]
    return {"dataset": c["dataset"], "sde": config["sde"],
            **{k: c[k] for k in ("value_targets", "weightings", "lambdas", "steps")},
            "samplers": {s: config["samplers"][s] for s in c["samplers"]},
            "grid": config["grids"][c["grid"]]}  # fmt: skip


def cost_perturbation_data(config: dict) -> str:
    return paths.data.format(dataset=config["cost_perturbation"]["dataset"])


def cost_perturbation_spec(config: dict) -> dict:
    """The perturbed-cost job's parameters: the readings (their method specs), the families of
    cost perturbations, eps, the grid."""
    c = config["cost_perturbation"]
    return {"dataset": c["dataset"], "sde": config["sde"],
            "methods": {m: config["methods"][m] for m in c["methods"]},
            **{k: c[k] for k in ("families", "eps", "grid", "direction") if k in c}}  # fmt: skip


def proposition6_data(config: dict) -> str:
    return paths.data.format(dataset=config["proposition6_exact"]["dataset"])


def proposition6_spec(config: dict) -> dict:
    """Proposition 6's exact case: the study's config section, the SDE, the rate settings and
    the method's spec (its reading and Algorithm 1's settings: ``mfgstudy.jobs.proposition6``)."""
    c = config["proposition6_exact"]
    return {**c, "sde": config["sde"], "rates": config["report"]["rates"],
            "method_spec": config["methods"][c["method"]]}  # fmt: skip
