"""``python -m mfgstudy <verb>``: the one entry point the workflow rules call.

Every verb takes the job's parameters as ``--spec`` JSON (what Snakemake passes as ``params``;
``@file.json`` reads it from a file), its inputs and outputs as paths, and ``--threads``. Logs go
to stderr (the rule's log file). The verbs only parse arguments: each calls one job function of
the package (``mfgstudy.verbs.VERBS``), whose parameters are the verb's options.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import logging
import os
import re
import socket
import sys
import time
from pathlib import Path

from mfgstudy.code_closure import PACKAGE_DIR, check_imported, verify
from mfgstudy.errors import UserError
from mfgstudy.report.claims.inputs import verb_options as claims_options
from mfgstudy.verbs import DEVICES, VERBS, option

log = logging.getLogger("mfgstudy")


def _spec(text: str) -> dict:
    if text.startswith("@"):
        text = Path(text[1:]).read_text()
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"--spec is not valid JSON: {e}") from e


def _setup(threads: int, device: str) -> None:
    """Honour the rule's thread count (one thread per job is often fastest on small CPUs) and
    device choice, where the job uses torch (a report job does not import it); ``--device cuda``
    (a GPU job) is checked in every job, before it computes anything."""
    if "torch" in sys.modules or device == "cuda":
        import torch

        from mfgstudy.device import configure

        torch.set_num_threads(max(1, int(threads)))
        configure(device)


def job_function(verb: str):
    """The job function ``python -m mfgstudy <verb>`` calls (``mfgstudy.verbs.VERBS``)."""
    module, func = VERBS[verb]
    return getattr(importlib.import_module(f"mfgstudy.{module}"), func)


def _words(annotation) -> set[str]:
    """The names in a parameter's annotation (a string under ``from __future__ import
    annotations``): ``"list[str] | None"`` -> {list, str, None}."""
    return set(re.findall(r"[A-Za-z_]+", str(annotation)))


MANY = {"list", "tuple", "Sequence", "Iterable"}  # a parameter that takes one or more paths
NUMBERS = {"int": int, "float": float}  # the other options are strings (spec: JSON, by main)


def parameter_option(param: inspect.Parameter) -> tuple[str, dict]:
    """A job function's parameter as its verb's option: ``--<name with dashes>``; one or more
    values where the annotation is a list, a number where it is int or float; required unless
    the function gives a default (absent, the function's own default applies) or the annotation
    admits None."""
    if param.annotation is inspect.Parameter.empty:
        raise TypeError(f"parameter {param.name!r} of a job function has no annotation: the "
                        "CLI reads its option's kind (list, int, float, str) off it")  # fmt: skip
    words = _words(param.annotation)
    has_default = param.default is not inspect.Parameter.empty
    optional = has_default or "None" in words
    kw: dict = {"dest": param.name}
    if words & MANY:
        kw["nargs"] = "*" if optional else "+"
    for word, kind in NUMBERS.items():
        if word in words:
            kw["type"] = kind
    if has_default:
        kw["default"] = argparse.SUPPRESS
    elif optional:
        kw["default"] = None
    else:
        kw["required"] = True
    return option(param.name), kw


def stated_option(name: str, many: bool, optional: bool) -> tuple[str, dict]:
    """An option a job takes through ``**inputs`` (``STATED_OPTIONS``): ``--<name with dashes>``,
    zero or more paths (``many``), or one, required unless ``optional``."""
    kw: dict = {"dest": name, "default": argparse.SUPPRESS}
    if many:
        kw["nargs"] = "*"
    elif not optional:
        kw = {"dest": name, "required": True}
    return option(name), kw


# jobs that take **inputs, and the package that states them (name -> (many, optional)): the
# ledger's, read off what it reads, so that a new input of the ledger is one entry in
# mfgstudy.report.claims.inputs
STATED_OPTIONS = {"claims": claims_options}


def verb_options(verb: str) -> dict[str, dict]:
    """A verb's options (flag -> argparse keywords): its job function's parameters, and for a
    function with ``**inputs`` those its package states (``STATED_OPTIONS``)."""
    options = {}
    for param in inspect.signature(job_function(verb)).parameters.values():
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            stated = STATED_OPTIONS[verb]()
            options.update(stated_option(n, *how) for n, how in stated.items())
        elif param.kind is not inspect.Parameter.VAR_POSITIONAL:
            options.update([parameter_option(param)])
    return options


def _common(sp: argparse.ArgumentParser) -> None:
    """The options every verb takes besides its job's: threads, device, code hash."""
    sp.add_argument("--threads", type=int, default=1, help="torch threads (the rule's threads)")
    sp.add_argument(
        "--device", choices=DEVICES, default="auto", help="where to compute (mfgstudy.device)"
    )
    sp.add_argument(
        "--code",
        default=None,
        help="the code hash the workflow planned this job with: the job refuses to run "
        "other code (mfgstudy.code_closure)",
    )


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with ``verb``, that verb's options (which imports its job's
    module: only the verb a job runs is ever imported, ``mfgstudy.code_closure``)."""
    p = argparse.ArgumentParser(prog="mfgstudy", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="verb", required=True)
    for name, (module, func) in VERBS.items():
        sp = sub.add_parser(name, help=f"mfgstudy.{module}.{func}")
        _common(sp)
        if name == verb:
            for flag, kw in verb_options(verb).items():
                sp.add_argument(flag, **kw)
    return p


def _call(args: argparse.Namespace, spec: dict | None) -> None:
    """Run the verb's job with its options; ``spec``: ``--spec``, parsed once by main."""
    job = job_function(args.verb)
    common = {"verb", "threads", "device", "code"}
    kwargs = {k: v for k, v in vars(args).items() if k not in common}
    if "spec" in kwargs:
        kwargs["spec"] = spec
    _setup(args.threads, args.device)
    job(**kwargs)


def _log_path() -> str:
    """Where stderr goes (the rule's log file), for the one-line report on stdout."""
    try:
        return os.readlink("/proc/self/fd/2")
    except OSError:
        return "stderr"


def _fail(verb: str, message: str) -> int:
    """The job's reason for failing, last in its log and once on Snakemake's output (stdout:
    on a full disk the log may not take it)."""
    log.error("FAILED: %s", message)
    try:
        print(f"mfgstudy {verb}: FAILED: {message} (log: {_log_path()})", flush=True)
    except OSError:
        pass
    return 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    verb = argv[0] if argv and argv[0] in VERBS else None
    args = build_parser(verb).parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    log.info("%s: pid %d on %s, package %s", args.verb, os.getpid(), socket.gethostname(),
             PACKAGE_DIR)  # fmt: skip
    t0 = time.time()
    try:
        spec = _spec(args.spec) if getattr(args, "spec", None) is not None else None
        if args.code is not None:
            verify(args.verb, args.code, spec)
        _call(args, spec)
        check_imported(args.verb, spec)
    except UserError as e:  # the message names the file or key and the fix: no traceback
        return _fail(args.verb, str(e))
    except Exception as e:  # noqa: BLE001 - a bug or an unforeseen condition: keep the traceback
        log.exception("%s raised", args.verb)
        return _fail(args.verb, f"{type(e).__name__}: {e} (traceback above)")
    log.info("%s done in %.1fs", args.verb, time.time() - t0)
    return 0
