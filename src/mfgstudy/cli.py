"""``python -m mfgstudy <verb>``: the one entry point the workflow rules call.

Every verb takes the job's parameters as ``--spec`` JSON (what Snakemake passes as ``params``;
``@file.json`` reads it from a file), its inputs and outputs as paths, and ``--threads``. Logs go
to stderr (the rule's log file). The verbs only parse arguments: each calls one job function of
the package (``VERBS`` below).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import socket
import sys
import time
from pathlib import Path

from mfgstudy.code_closure import PACKAGE_DIR, check_imported, verify
from mfgstudy.errors import UserError
from mfgstudy.report.claims.inputs import verb_options as claims_options
from mfgstudy.verbs import DEVICES, VERBS

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


# options parsed as numbers (the others are strings)
TYPES = {"seed": int, "checkpoint-every": int, "walltime-min": float, "stop-margin-min": float}


def _option(flag: str) -> tuple[str, dict]:
    name, kw = flag.rstrip("?+*"), {"required": True}
    if flag.endswith("?"):
        kw = {"default": None}
    elif flag.endswith("+"):
        kw = {"nargs": "+", "required": True}
    elif flag.endswith("*"):
        kw = {"nargs": "*", "default": []}
    if name in TYPES:
        kw["type"] = TYPES[name]
    return name, kw


# verbs whose options their job's package states (None in VERBS): the ledger's, read off what it
# reads, so that a new input of the ledger is one entry in mfgstudy.report.claims.inputs
STATED_OPTIONS = {"claims": claims_options}


def verb_options(verb: str) -> dict[str, str]:
    """A verb's options: ``mfgstudy.verbs.VERBS``', or those its job's package states."""
    options = VERBS[verb][2]
    return STATED_OPTIONS[verb]() if options is None else options


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mfgstudy", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="verb", required=True)
    for verb, (module, func, _) in VERBS.items():
        options = verb_options(verb)
        sp = sub.add_parser(verb, help=f"mfgstudy.{module}.{func}")
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
        for flag in options:
            name, kw = _option(flag)
            sp.add_argument(f"--{name}", **kw)
    return p


def _call(args: argparse.Namespace, spec: dict | None) -> None:
    """Run the verb's job with its options; ``spec``: ``--spec``, parsed once by main."""
    module, func, _ = VERBS[args.verb]
    kwargs = {}
    for flag, param in verb_options(args.verb).items():  # --threads, --device: main's
        value = getattr(args, _option(flag)[0].replace("-", "_"))
        kwargs[param] = spec if param == "spec" else value
    job = getattr(importlib.import_module(f"mfgstudy.{module}"), func)
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
    args = build_parser().parse_args(argv)
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
