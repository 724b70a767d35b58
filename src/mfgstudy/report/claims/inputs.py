"""What the claims ledger reads besides the claims files: one entry per input, named as the
claims job's keyword (and the ledger context's loader, :mod:`.context`), which is also the claims
verb's option (dashed: ``mfgstudy.verbs.option``). The verb's options (``mfgstudy.cli``), the
claims rule's options and inputs (``workflow/rules/report.smk``, ``mfgstudy.pipeline.specs_claims``)
are all read off ``INPUTS``: a new input is one entry here, its loader and the planner's paths."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Input:
    many: bool = False  # zero or more paths (else one)
    optional: bool = True  # absent where its study is not run


INPUTS = {
    "cube": Input(optional=False),  # the metrics cube (results/metrics.zarr)
    "slopes": Input(optional=False),  # the rate table (w2_slopes.csv)
    "exponents": Input(optional=False),  # the trained models' eps exponents
    "table2": Input(optional=False),  # Table 2 with each cell's seeds
    "exact": Input(),  # the exact score's eps exponents (Corollary 5)
    "dirac": Input(),  # the PDE paper's Dirac study
    "concentration": Input(),  # the concentration rates
    "mfg_equilibrium": Input(),  # the readings' closed-form equilibria
    "cost_perturbation": Input(),  # Theorem 4's perturbed equilibria
    "proposition6": Input(),  # Proposition 6's exact iteration
    "train_logs": Input(many=True),  # MFG-Diffusion's training logs
    "injection": Input(many=True),  # the injection analog's stores
}


def verb_options() -> dict[str, tuple[bool, bool]]:
    """The claims job's ``**inputs``, which its verb takes as options ``--<option>``
    (``mfgstudy.cli``): keyword -> (many, optional)."""
    return {name: (i.many, i.optional) for name, i in INPUTS.items()}
