"""The claims ledger's job (the claims rule, workflow/rules/report.smk): the claims files a config
judges, the ledger's spec, and what it reads, by the names of
``mfgstudy.report.claims.inputs.INPUTS`` (its paths, and the job's options for them).
"""

from __future__ import annotations

from mfgstudy.pipeline.commands import cli_option
from mfgstudy.pipeline.paths import CLAIMS_NAMES, paths
from mfgstudy.pipeline.specs_studies import injection_stores, study_spec
from mfgstudy.pipeline.targets import trained_models


def claims_files(config: dict) -> list[str]:
    """The claims files a config's ledger judges (``report.claims``: a subset of
    ``CLAIMS_NAMES``, which the schema's enum names, in their order; default: all of them)."""
    names = config["report"].get("claims", list(CLAIMS_NAMES))
    return [f"workflow/claims/{n}" for n in CLAIMS_NAMES if n in names]


def claims_spec(config: dict) -> dict:
    """What the ledger needs of the config: the rate settings, the companion studies, and every
    MFG-Diffusion method's readings and constants (as configured; the ledger fills in the
    defaults), which the reading rule of the paper's claims file compares."""
    r = config["report"]
    studies = {s: study_spec(config, s) for s in r.get("studies", {})}
    mfg = {name: {k: spec[k] for k in ("readings", "lambda", "gamma") if k in spec}
           for name, spec in config["methods"].items() if spec["kind"] == "mfg"}  # fmt: skip
    return {"study": config["study"], "moderate_eps": r.get("moderate_eps"),
            "eps_fit_max": r.get("eps_fit_max", 0.1), "rates": r["rates"],
            "studies": studies, "mfg_methods": mfg}  # fmt: skip


def claims_inputs(config: dict) -> dict[str, list[str]]:
    """What the claims ledger reads, by the names of ``mfgstudy.report.claims.inputs.INPUTS``
    (each a list of paths; empty where its study is not run)."""
    from mfgstudy.report.claims.inputs import INPUTS

    inputs = {
        "cube": [paths.cube],
        "slopes": [paths.slopes_table.csv],
        "exponents": [paths.robustness_table.csv],
        "table2": [paths.table2.csv],
        "exact": claims_exact_table(config),
        **claims_mfg_tables(config),
        "train_logs": mfg_train_logs(config),
        "injection": injection_stores(config),
        "dirac": claims_study_table(config, "dirac"),
        "concentration": claims_study_table(config, "concentration"),
    }
    if set(inputs) != set(INPUTS):  # a new input of the ledger needs its paths here
        raise KeyError(f"the planner gives the ledger {sorted(inputs)}, it reads {sorted(INPUTS)}")
    return inputs


def claims_options(config: dict, inputs) -> str:
    """The claims job's input options (``--<option> path ...``, where the input has paths)."""
    from mfgstudy.report.claims.inputs import INPUTS
    from mfgstudy.verbs import option

    return " ".join(o for name in INPUTS if (o := cli_option(option(name), getattr(inputs, name))))


def claims_exact_table(config: dict) -> list[str]:
    """The exact score's exponents table (csv) the ledger reads, where that study is run."""
    return [paths.robustness_exact_table.csv] if config.get("robustness_exact") else []


def claims_mfg_tables(config: dict) -> dict[str, list[str]]:
    """The closed-form tables (csv) the ledger reads where they are run: MFG-Diffusion's
    equilibrium per reading (the reading rule) and the perturbed-cost equilibria (Theorem 4)."""
    return {"mfg_equilibrium": [paths.mfg_equilibrium_table.csv]
            if config.get("mfg_equilibrium") else [],
            "proposition6": [paths.proposition6_table.csv]
            if config.get("proposition6_exact") else [],
            "cost_perturbation": [paths.cost_perturbation_table.csv]
            if config.get("cost_perturbation") else []}  # fmt: skip


def claims_study_table(config: dict, study: str) -> list[str]:
    """A companion study's table (csv) the ledger reads, where the study is run."""
    return [paths[f"{study}_table"].csv] if study in config["report"].get("studies", {}) else []


def mfg_train_logs(config: dict) -> list[str]:
    """Training logs of every Algorithm 1 model (Proposition 6's violation against K)."""
    return [paths.train_log.format(**m) for m in trained_models(config)
            if config["methods"][m["method"]]["kind"] == "mfg"]  # fmt: skip
