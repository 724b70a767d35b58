"""Every registered measurement (:mod:`.measures`), imported here so that each registers itself:
``MEASURES`` maps a claims file's ``measure.kind`` to its :class:`~.measures.registry.Measure`,
``GATE_KINDS`` a kind to the rule its fidelity gate follows. A new measurement is a module in
``measures/`` and one line here."""

from mfgstudy.report.claims.measures import (  # noqa: F401  (imported to register)
    concentration,
    convergence,
    dirac,
    injection,
    laboratory,
    memorisation,
    proposition6,
    robustness,
    table1,
    table2,
    theorem4,
)
from mfgstudy.report.claims.measures.registry import MEASURES, Measure

GATE_KINDS = {kind: m.gate for kind, m in MEASURES.items() if m.gate}

__all__ = ["GATE_KINDS", "MEASURES", "Measure"]
