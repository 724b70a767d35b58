"""The claims files (``workflow/claims/*.yaml``): validated before any job (ids unique across
files, rules and measurements known) and loaded with their settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mfgstudy import strict_yaml
from mfgstudy.errors import UserError
from mfgstudy.rates import MIN_SEEDS
from mfgstudy.report.claims.catalogue import MEASURES
from mfgstudy.report.claims.verdicts import Settings

RULES = ("improvement", "bound_slope", "bound_exponent", "ratio_below", "all_true", "at_most",
         "at_least", "qualitative")  # fmt: skip


class ClaimsFileError(UserError, ValueError):
    """A claims file that cannot be judged: the message names the file, the claim and the fix."""


def _check_claim(claims_file: str, k: int, c) -> None:
    where = f"{claims_file}: claims[{k}]"
    if not isinstance(c, dict) or not isinstance(c.get("id"), str) or not c["id"]:
        raise ClaimsFileError(f"{where}: every claim needs an `id:` (a name for the ledger)")
    where = f"{claims_file}: claim {c['id']!r}"
    rule = c.get("rule")
    if rule not in RULES:
        raise ClaimsFileError(f"{where}: rule {rule!r} is not a verdict rule (choose from "
                              f"{', '.join(RULES)})")  # fmt: skip
    if "claimed" not in c and rule != "qualitative":  # no direction: nothing to judge
        raise ClaimsFileError(f"{where} has no claimed value (only a `rule: qualitative` claim "
                              "may omit it)")  # fmt: skip
    if "claimed" in c and not (isinstance(c["claimed"], (int, float))
                               and np.isfinite(c["claimed"])):  # fmt: skip
        raise ClaimsFileError(f"{where}: claimed must be a finite number, got {c['claimed']!r}")
    measure = c.get("measure")
    kind = measure.get("kind") if isinstance(measure, dict) else None
    if kind not in MEASURES:
        raise ClaimsFileError(f"{where}: measure.kind {kind!r} is not a measurement (choose from "
                              f"{', '.join(sorted(MEASURES))})")  # fmt: skip


def check_claims_files(claims_files: list[str]) -> None:
    """Validate the claims files a study judges, before any job (the Snakefile calls this beside
    the config's checks): strict YAML (no key given twice), the top-level keys, each claim's id,
    rule, claimed value and measurement kind, and ids unique over all files, a repeated id named
    with the files that give it."""
    seen: dict[str, str] = {}
    for f in claims_files:
        spec = strict_yaml.load(f)
        if not isinstance(spec, dict):
            raise ClaimsFileError(f"{f}: a claims file is a mapping with `claims:` and "
                                  "`fidelity:`")  # fmt: skip
        for key in ("claims", "fidelity"):
            if key not in spec:
                raise ClaimsFileError(f"{f}: missing top-level key {key!r}")
        if not isinstance(spec["claims"], list):
            raise ClaimsFileError(f"{f}: `claims:` must be a list of claims")
        for k, c in enumerate(spec["claims"]):
            _check_claim(f, k, c)
            if c["id"] in seen:
                again = "twice in this file" if seen[c["id"]] == f else f"also in {seen[c['id']]}"
                raise ClaimsFileError(f"{f}: the claim id {c['id']!r} is given {again}: ids name "
                                      "ledger rows and report anchors, so each must be unique; "
                                      "rename one")  # fmt: skip
            seen[c["id"]] = f


def load_claims(claims_file: str, min_seeds: int = MIN_SEEDS) -> tuple[list[dict], Settings]:
    check_claims_files([claims_file])
    spec = strict_yaml.load(claims_file)
    settings = Settings(float(spec.get("tolerance", 0.0)), min_seeds, spec["fidelity"],
                        str(spec.get("paper", Path(claims_file).stem)),
                        spec.get("reading"))  # fmt: skip
    return spec["claims"], settings
