"""Config files and overlays. ``config.yaml`` is the default study; another config states only
what differs from the one it names in ``extends:`` (a path relative to its own file), e.g.::

    extends: ../../config.yaml     # workflow/configs/smoke.yaml
    study: smoke
    seeds: [0, 1]
    sweeps:
      methods_digits: null         # null removes a key: the smoke study does not run it
      dirac: {steps: [2, 4, 8]}    # a mapping is merged key by key into the base's

The rules of :func:`merge`: a mapping is merged into the base's mapping key by key, at every
depth; any other value (a list, a number, a string) replaces the base's; ``null`` removes the
key (where the code has a default, it then applies). A base may extend another (the laboratory
config extends the smoke config, which extends the default). A file without ``extends:`` is a
whole config, as before. Every file is read strictly (:mod:`mfgstudy.strict_yaml`).

Several ``--configfile`` files are resolved one by one and merged in order by the same rules;
``--config key=value`` is applied last, as Snakemake applies it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path

from mfgstudy import strict_yaml
from mfgstudy.errors import ConfigError

EXTENDS = "extends"


def merge(base: Mapping, overlay: Mapping) -> dict:
    """``overlay`` on ``base`` (neither is changed): mappings merge key by key, ``None``
    removes a key, any other value replaces. Keys keep the base's order; the overlay's new
    keys follow, in its order."""
    out = copy.deepcopy(dict(base))
    for key, value in overlay.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve(path: str | Path, _chain: tuple[Path, ...] = ()) -> dict:
    """The whole config that the file at ``path`` states: its ``extends:`` chain resolved and
    merged, base first. Errors name the file and the fix."""
    path = Path(path).resolve()
    if path in _chain:
        cycle = " -> ".join(str(p) for p in (*_chain, path))
        raise ConfigError(f"{path}: `extends:` goes round in a circle ({cycle}): let one of these "
                          "files be a whole config")  # fmt: skip
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    doc = strict_yaml.load(path)
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: a config file must be a mapping of keys, not "
                          f"{type(doc).__name__}")  # fmt: skip
    parent = doc.pop(EXTENDS, None)
    if parent is None:
        return doc
    if not isinstance(parent, str) or not parent:
        raise ConfigError(f"{path}: `extends:` must be the path of the config this one changes "
                          f"(relative to {path.parent}), not {parent!r}")  # fmt: skip
    base = path.parent / parent
    if not base.is_file():
        raise ConfigError(f"{path}: `extends: {parent}`: there is no file {base}; give the base "
                          f"config's path relative to {path.parent}")  # fmt: skip
    return merge(resolve(base, (*_chain, path)), doc)


def load(paths, overrides: Mapping | None = None) -> dict:
    """The config that ``--configfile paths`` and ``--config overrides`` state: each file
    resolved, merged in order, the overrides last, key by key at every depth as Snakemake
    applies them (a ``None`` there is a value, not a removal)."""
    config: dict = {}
    for p in paths:
        config = merge(config, resolve(p))
    _update(config, copy.deepcopy(dict(overrides or {})))
    return config


def _update(config: dict, overrides: Mapping) -> None:
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(config.get(key), Mapping):
            _update(config[key], value)
        else:
            config[key] = value
