"""YAML files read strictly: a key given twice in one mapping is an error, not "the last wins".

PyYAML (and so Snakemake's ``configfile``) silently keeps the last of two equal keys, so an
appended ``seeds: [7]`` would change a study without a word. The config files and the claims
files are read through :func:`load`, which names the file, both lines and the fix.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from mfgstudy.errors import UserError


class DuplicateKeyError(UserError, ValueError):
    """A mapping of a YAML file gives one key twice."""


class _StrictLoader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor` may be overridden
                continue
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise DuplicateKeyError(
                    f"{key_node.start_mark.name}:{line}: the key {key!r} is given twice in one "
                    f"mapping (first on line {seen[key]}); YAML would silently keep the last "
                    "one: delete or merge one of them"
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load(path: str | Path):
    """The content of the YAML file at ``path``; a duplicate key raises DuplicateKeyError."""
    with open(path) as f:
        return yaml.load(f, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
