"""The claims ledger: every numbered claim of the papers beside what this study measured.

``verdicts`` (the vocabulary and the rules, in its docstring), ``gates`` (fidelity), ``measures``
(one module per kind of measurement, registered; ``catalogue`` imports them all), ``readings``
(which reading of Algorithm 1 is MFG-Diffusion), ``claims_files`` (validated, loaded),
``context`` (what the measurements read), ``ledger`` (the job) and ``markdown`` (claims.md).
"""
