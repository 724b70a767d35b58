"""The registry of measurements: each kind of measurement a claims file may name
(``measure.kind``) is a function ``(measure, ctx) -> list[Condition]`` registered with
:func:`measure` where it is defined, with the tables and figures it rests on (``evidence``: file
stems of ``mfgstudy.pipeline.paths``, which the HTML report links) and the gate rule its fidelity
gate follows (``gate``: ``mfgstudy.report.claims.gates``). A new measurement is one module in
this package, imported by ``measures/__init__.py``, and its claims-file entries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Measure:
    """A registered measurement; called like its function."""

    kind: str
    fn: Callable
    evidence: tuple[str, ...] = ()
    evidence_by_sweep: dict[str, tuple[str, ...]] = field(default_factory=dict)  # prefix: stems
    gate: str = ""  # gates.LEVEL, gates.SENSITIVITY, or "" (no model gate, or its own)

    def __call__(self, m: dict, ctx):
        return self.fn(m, ctx)

    def evidence_of(self, m: dict) -> list[str]:
        """The stems a claim's measurement ``m`` rests on: those of the first sweep prefix in
        ``evidence_by_sweep`` that ``m["sweep"]`` starts with, else ``evidence``."""
        sweep = str(m.get("sweep", ""))
        for prefix, stems in self.evidence_by_sweep.items():
            if sweep.startswith(prefix):
                return list(stems)
        return list(self.evidence)

    def stems(self) -> set[str]:
        """Every stem this measurement may link."""
        return set(self.evidence).union(*self.evidence_by_sweep.values())


MEASURES: dict[str, Measure] = {}


def measure(kind: str, *, evidence=(), evidence_by_sweep=None, gate: str = ""):
    """Register the decorated function as the measurement ``kind``."""

    def register(fn: Callable) -> Callable:
        if kind in MEASURES:
            raise ValueError(f"measurement kind {kind!r} registered twice")
        MEASURES[kind] = Measure(kind, fn, tuple(evidence), dict(evidence_by_sweep or {}), gate)
        return fn

    return register
