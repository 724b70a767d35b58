"""The names a config gives (data sets, methods, samplers, grids, perturbations, sweeps, laws):
each becomes a folder name and a shell argument, so each is checked before the schema
(:func:`check_names`), with a message that says why."""

from __future__ import annotations

import re

from mfgstudy.errors import ConfigError

# Every name in the config becomes a folder name and a shell argument: letters, digits, "_", "-"
# and "."; not "." or ".."; not starting with "-" (an option) or "." (hidden). The schema's
# $defs.name carries the same pattern (tests/hostile/test_hostile_config.py checks that they agree).
NAME_PATTERN = r"^(?![.-])[A-Za-z0-9_.-]+$"
NAME_WILDCARD = NAME_PATTERN[1:-1]  # the same, as a Snakemake wildcard constraint
NAME_RULE = "letters, digits, '_', '-' and '.', not starting with '.' or '-'"
# the tables whose keys are names, by their path of keys in the config
NAME_TABLES = (("datasets",), ("methods",), ("samplers",), ("grids",), ("perturbations",),
               ("sweeps",), ("robustness_exact", "laws"))  # fmt: skip


def check_names(config: dict) -> None:
    """Reject a name that could escape ``results/`` or become shell syntax, naming its key;
    run before the schema, whose own message would not say why."""
    for keys in NAME_TABLES:
        table = config
        for k in keys:
            table = table.get(k) if isinstance(table, dict) else None
        for name in table if isinstance(table, dict) else ():
            if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name):
                raise ConfigError(
                    f"{'.'.join(keys)}: the name {name!r} is not allowed (names become folder "
                    f"names and command-line arguments): use {NAME_RULE}"
                )
