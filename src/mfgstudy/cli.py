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
import sys
import time
from pathlib import Path

import torch

from mfgstudy.device import CHOICES, configure

log = logging.getLogger("mfgstudy")


def _spec(text: str) -> dict:
    if text.startswith("@"):
        text = Path(text[1:]).read_text()
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise SystemExit(f"--spec is not valid JSON: {e}") from e


def _setup(threads: int) -> None:
    """Honour the rule's thread count (one thread per job is often fastest on small CPUs)."""
    torch.set_num_threads(max(1, int(threads)))


# --- verbs ----------------------------------------------------------------------------------
# verb: (module, job function, {option: parameter}); option suffixes: ? optional, + one or more,
# * zero or more. ``--spec`` is parsed as JSON before the call.
VERBS = {
    "prepare-data": ("data", "prepare", {"spec": "spec", "out": "out"}),
    "train": ("train", "train_job", {"spec": "spec", "data": "data_path", "seed": "seed",
                                     "out-model": "out_model", "out-log": "out_log",
                                     "checkpoint-dir?": "checkpoint_dir",
                                     "checkpoint-every?": "checkpoint_every",
                                     "walltime-min?": "walltime_min",
                                     "stop-margin-min?": "stop_margin_min"}),
    "train-classifier": ("classifier", "classifier_job", {"spec": "spec", "data": "data_path",
                         "out-model": "out_model", "out-report": "out_report"}),
    "sample": ("sample", "sample_unit", {"spec": "spec", "data": "data_path", "seed": "seed",
                                         "model?": "model_path", "out": "out"}),
    "evaluate": ("evaluate", "evaluate_unit", {"spec": "spec", "data": "data_path", "seed": "seed",
                 "samples": "samples_dir", "classifier?": "classifier_path",
                 "clean?": "clean_dir", "references*": "reference_paths", "model?": "model_path",
                 "out": "out_dir"}),
    "floor": ("evaluate", "floor", {"spec": "spec", "data": "data_path",
                                    "classifier?": "classifier_path",
                                    "references*": "reference_paths", "out": "out"}),
    "reference": ("evaluate", "reference_job", {"spec": "spec", "data": "data_path",
                                                "classifier?": "classifier_path", "out": "out"}),
    "collect": ("collect", "collect", {"metrics+": "metric_dirs", "floors*": "floor_paths",
                                       "out": "out"}),
    "figure1": ("report", "figure1", {"spec": "spec", "cube": "cube_path", "png": "png",
                                      "pdf": "pdf", "convergence*": "convergence"}),
    "slopes": ("report", "slopes_table", {"spec": "spec", "cube": "cube_path", "csv": "csv",
                                          "md": "md", "convergence*": "convergence"}),
    "convergence-gaussian": ("convergence", "gaussian_job", {"spec": "spec", "data": "data_path",
                             "out": "out"}),
    "convergence-mixture": ("convergence", "mixture_job", {"spec": "spec", "out": "out"}),
    "robustness-exact": ("robustness_exact", "robustness_job", {"spec": "spec", "out": "out"}),
    "robustness-exact-table": ("report_robustness", "exact_table", {"spec": "spec",
                               "stores+": "store_paths", "csv": "csv", "md": "md", "tex": "tex"}),
    "robustness-exact-figure": ("report_robustness", "exact_figure", {"stores+": "store_paths",
                                "png": "png", "pdf": "pdf"}),
    "convergence-table": ("report", "convergence_table", {"convergence+": "paths", "csv": "csv",
                          "md": "md"}),
    "table1": ("report", "table1", {"cube": "cube_path", "csv": "csv", "md": "md", "tex": "tex"}),
    "table2": ("report_robustness", "table2", {"cube": "cube_path", "csv": "csv", "md": "md",
                                               "tex": "tex"}),
    "robustness-table": ("report_robustness", "robustness_table", {"spec": "spec",
                         "cube": "cube_path", "csv": "csv", "md": "md", "tex": "tex"}),
    "injection": ("injection", "injection_job", {"spec": "spec", "data": "data_path",
                  "seed": "seed", "model": "model_path", "classifier": "classifier_path",
                  "out": "out"}),
    "injection-figure": ("report_robustness", "injection_figure", {"stores+": "store_paths",
                         "png": "png", "pdf": "pdf"}),
    "claims": ("claims", "claims_job", {"spec": "spec", "claims-files+": "claims_files",
               "cube": "cube_path", "slopes": "slopes_csv", "exponents": "exponents_csv",
               "exact-exponents?": "exact_csv", "dirac?": "dirac_csv",
               "concentration?": "concentration_csv",
               "table2": "table2_csv", "train-logs*": "train_logs", "injection*": "injection",
               "md": "md", "json": "json_out"}),
    "robustness-figure": ("report_robustness", "robustness_figure", {"spec": "spec",
                          "cube": "cube_path", "png": "png", "pdf": "pdf"}),
    "hjb-table": ("report_hjb", "hjb_table", {"spec": "spec", "cube": "cube_path", "csv": "csv",
                                              "md": "md"}),
    "hjb-figure": ("report_hjb", "hjb_figure", {"spec": "spec", "data": "data_path",
                   "samples+": "sample_dirs", "table?": "table", "png": "png", "pdf": "pdf"}),
    "mfg-equilibrium": ("mfg_equilibrium", "equilibrium_job", {"spec": "spec", "data": "data_path",
                        "out": "out"}),
    "mfg-equilibrium-table": ("report_mfg", "equilibrium_table", {"store": "store_path",
                              "csv": "csv", "md": "md"}),
    "mfg-equilibrium-figure": ("report_mfg", "equilibrium_figure", {"store": "store_path",
                               "png": "png", "pdf": "pdf"}),
    "mfg-readings-table": ("report_mfg", "readings_table", {"spec": "spec", "cube": "cube_path",
                           "csv": "csv", "md": "md"}),
    "dirac-table": ("report_pde", "dirac_table", {"spec": "spec", "cube": "cube_path",
                                                  "csv": "csv", "md": "md"}),
    "memorisation-table": ("report_pde", "memorisation_table", {"spec": "spec",
                           "cube": "cube_path", "csv": "csv", "md": "md"}),
    "concentration": ("report_pde", "concentration", {"spec": "spec", "cube": "cube_path",
                      "csv": "csv", "md": "md", "png": "png", "pdf": "pdf"}),
}  # fmt: skip
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mfgstudy", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="verb", required=True)
    for verb, (module, func, options) in VERBS.items():
        sp = sub.add_parser(verb, help=f"mfgstudy.{module}.{func}")
        sp.add_argument("--threads", type=int, default=1, help="torch threads (the rule's threads)")
        sp.add_argument(
            "--device", choices=CHOICES, default="auto", help="where to compute (mfgstudy.device)"
        )
        for flag in options:
            name, kw = _option(flag)
            sp.add_argument(f"--{name}", **kw)
    return p


def _call(args: argparse.Namespace) -> None:
    module, func, options = VERBS[args.verb]
    kwargs = {}
    for flag, param in options.items():  # --threads and --device are handled by main
        value = getattr(args, _option(flag)[0].replace("-", "_"))
        kwargs[param] = _spec(value) if param == "spec" else value
    getattr(importlib.import_module(f"mfgstudy.{module}"), func)(**kwargs)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    _setup(args.threads)
    configure(args.device)
    t0 = time.time()
    _call(args)
    log.info("%s done in %.1fs", args.verb, time.time() - t0)
    return 0
