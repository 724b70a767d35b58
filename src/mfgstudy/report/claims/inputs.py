"""What the claims ledger reads besides the claims files: one entry per input, named as the
claims job's keyword (and the ledger context's loader, :mod:`.context`), with the claims verb's
option. The verb's options (``mfgstudy.cli``), the claims rule's options and inputs
(``workflow/rules/report.smk``, ``mfgstudy.pipeline.specs_claims.claims_inputs``) are all read
off ``INPUTS``: a new input is one entry here, its loader and the planner's paths for it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Input:
    option: str  # the claims verb's option, without the dashes
    many: bool = False  # zero or more paths (else one)
    optional: bool = True  # absent where its study is not run


INPUTS = {
    "cube": Input("cube", optional=False),  # the metrics cube (results/metrics.zarr)
    "slopes": Input("slopes", optional=False),  # the rate table (w2_slopes.csv)
    "exponents": Input("exponents", optional=False),  # the trained models' eps exponents
    "table2": Input("table2", optional=False),  # Table 2 with each cell's seeds
    "exact": Input("exact-exponents"),  # the exact score's eps exponents (Corollary 5)
    "dirac": Input("dirac"),  # the PDE paper's Dirac study
    "concentration": Input("concentration"),  # the concentration rates
    "mfg_equilibrium": Input("mfg-equilibrium"),  # the readings' closed-form equilibria
    "cost_perturbation": Input("cost-perturbation"),  # Theorem 4's perturbed equilibria
    "proposition6": Input("proposition6"),  # Proposition 6's exact iteration
    "train_logs": Input("train-logs", many=True),  # MFG-Diffusion's training logs
    "injection": Input("injection", many=True),  # the injection analog's stores
}


def verb_options() -> dict[str, str]:
    """The claims verb's options (``mfgstudy.verbs`` notation: ? optional, * zero or more) and
    the claims job's keyword each one sets."""
    inputs = {
        f"{i.option}{'*' if i.many else '?' if i.optional else ''}": name
        for name, i in INPUTS.items()
    }
    return {"spec": "spec", "claims-files+": "claims_files", **inputs, "md": "md",
            "json": "json_out"}  # fmt: skip
