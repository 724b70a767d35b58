"""What the planner puts on a job's command line besides its spec: the hash of the code the job
runs (``--code``) and options naming paths, shell-quoted."""

from __future__ import annotations

import shlex


def code_hash(verb: str, spec: dict | None = None) -> str:
    """The hash of the package code a rule's ``python -m mfgstudy <verb>`` job runs with this
    ``--spec`` (the methods it names are part of it): a rule param (so editing a module reruns
    the jobs that import it) and the job's ``--code``, which the job checks against the package
    it imported (``mfgstudy.code_closure``)."""
    from mfgstudy.code_closure import code_hash as closure_hash

    return closure_hash(verb, spec)


def cli_option(flag: str, paths) -> str:
    """``--flag path ...`` for a job's shell line, every path shell-quoted (names come from the
    config: never let one become shell syntax); "" when there is no path."""
    paths = [paths] if isinstance(paths, str) else [str(p) for p in paths]
    return " ".join([flag, *map(shlex.quote, paths)]) if paths else ""
