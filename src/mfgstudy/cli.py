"""``python -m mfgstudy <verb>``: the one entry point the workflow rules call.

Every verb takes the job's parameters as ``--spec`` JSON (what Snakemake passes as ``params``),
its inputs and outputs as paths, and ``--threads``. Logs go to stderr (the rule's log file).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import torch
import xarray as xr

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


# --- verbs ------------------------------------------------------------------------------------
def cmd_prepare_data(a) -> None:
    from mfgstudy.data import build_dataset
    from mfgstudy.store import write_store

    t0, spec = time.time(), _spec(a.spec)
    ds = build_dataset(spec)
    write_store(ds, a.out, spec, spec["seed"], t0, {"dataset": spec["name"]})
    log.info("wrote %s (%s)", a.out, ", ".join(f"{k}{tuple(v.shape)}" for k, v in ds.items()))


def cmd_train(a) -> None:
    from mfgstudy.data import load_data
    from mfgstudy.methods import build_method
    from mfgstudy.nets import count_parameters
    from mfgstudy.sde import VPSDE
    from mfgstudy.store import canonical_json, open_store, save_torch, write_store
    from mfgstudy.train import train

    t0, spec = time.time(), _spec(a.spec)
    data = load_data(open_store(a.data))
    method = build_method(spec["method"], VPSDE.from_spec(spec["sde"]))
    torch.manual_seed(a.seed)
    net = method.build_net(data.kind, data.event_shape)
    log.info(
        "training %s on %s: %d parameters", spec["method"]["kind"], a.data, count_parameters(net)
    )
    ema, tlog = train(method, net, data.train, spec["train"], a.seed)
    save_torch(
        {
            "state_dict": ema.state_dict(),
            "spec": canonical_json(spec),
            "event_shape": list(data.event_shape),
        },
        a.out_model,
    )
    tlog.attrs["n_parameters"] = count_parameters(net)
    write_store(tlog, a.out_log, spec, a.seed, t0)


def load_score(spec: dict, data, model_path: str | None):
    """The score function of a (trained or exact) method on a loaded data set."""
    from mfgstudy.methods import build_method
    from mfgstudy.sde import VPSDE
    from mfgstudy.store import load_torch

    method = build_method(spec["method"], VPSDE.from_spec(spec["sde"]))
    if not method.trainable:
        return method.score_fn(data)
    if model_path is None:
        raise SystemExit(f"method {spec['method']['kind']!r} is trained: pass --model")
    ckpt = load_torch(model_path)
    net = method.build_net(data.kind, tuple(ckpt["event_shape"]))
    net.load_state_dict(ckpt["state_dict"])
    return method.score_fn(net.eval())


def cmd_sample(a) -> None:
    from mfgstudy.data import load_data, model_to_images
    from mfgstudy.samplers import generate, progress_bar
    from mfgstudy.sde import VPSDE
    from mfgstudy.store import atomic_path, open_store, write_store

    spec = _spec(a.spec)
    data = load_data(open_store(a.data))
    score = load_score(spec, data, a.model)
    sde = VPSDE.from_spec(spec["sde"])
    ref = spec.get("reference_steps")
    all_steps = list(spec["steps"]) + ([ref] if ref else [])
    dtype = torch.float64 if data.kind == "points" else torch.float32
    with atomic_path(a.out) as tmp:
        for n in all_steps:
            t0 = time.time()
            x = generate(
                spec["sampler"],
                spec["grid"],
                sde,
                score,
                n,
                spec["n_samples"],
                data.event_shape,
                a.seed,
                brownian_steps=ref,
                batch_size=spec["batch_size"],
                dtype=dtype,
                progress=progress_bar(f"N={n}"),
            )
            if data.kind == "points":
                ds = xr.Dataset({"x": (("sample", "dim"), x.numpy())})
            else:
                ds = xr.Dataset({"images": (("sample", "row", "col"), model_to_images(x))})
            attrs = {**spec["unit"], "steps": n, "is_reference": n == ref, "data_kind": data.kind}
            write_store(ds, tmp / f"N{n}.zarr", spec, a.seed, t0, attrs)
            log.info("N=%d: %d samples in %.2fs", n, spec["n_samples"], time.time() - t0)


def cmd_evaluate(a) -> None:
    from mfgstudy.evaluate import evaluate_unit

    evaluate_unit(_spec(a.spec), a.seed, a.data, a.samples, a.out, a.classifier)


def cmd_train_classifier(a) -> None:
    from mfgstudy.classifier import accuracy, train_classifier
    from mfgstudy.store import open_store, save_torch, write_store

    t0, spec = time.time(), _spec(a.spec)
    ds = open_store(a.data)
    net = train_classifier(ds["images_train"].values, ds["labels_train"].values, spec, spec["seed"])
    acc = accuracy(net, ds["images_test"].values, ds["labels_test"].values)
    log.info("classifier test accuracy %.4f", acc)
    save_torch({"state_dict": net.state_dict(), "spec": json.dumps(spec)}, a.out_model)
    report = xr.Dataset({"test_accuracy": ((), acc)})
    write_store(report, a.out_report, spec, spec["seed"], t0)


def cmd_floor(a) -> None:
    from mfgstudy.evaluate import floor

    floor(_spec(a.spec), a.data, a.out, a.classifier)


def cmd_collect(a) -> None:
    from mfgstudy.collect import collect

    collect(a.metrics, a.floors, a.out)


def cmd_figure1(a) -> None:
    from mfgstudy.report import figure1

    figure1(a.cube, _spec(a.spec), a.png, a.pdf)


def cmd_slopes(a) -> None:
    from mfgstudy.report import slopes_table

    slopes_table(a.cube, _spec(a.spec), a.csv, a.md)


def cmd_image_table(a) -> None:
    from mfgstudy.report import image_table

    image_table(a.cube, a.csv, a.md)


# --- parser -----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mfgstudy", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="verb", required=True)

    def verb(name, fn, *args):
        sp = sub.add_parser(name)
        sp.set_defaults(fn=fn)
        sp.add_argument("--threads", type=int, default=1)
        for arg in args:
            kw = {"required": True}
            if arg.endswith("?"):
                arg, kw = arg[:-1], {"default": None}
            if arg.endswith("+"):
                arg, kw = arg[:-1], {"nargs": "+", "required": True}
            if arg.endswith("*"):
                arg, kw = arg[:-1], {"nargs": "*", "default": []}
            if arg == "seed":
                kw["type"] = int
            sp.add_argument(f"--{arg}", **kw)
        return sp

    verb("prepare-data", cmd_prepare_data, "spec", "out")
    verb("train", cmd_train, "spec", "data", "seed", "out-model", "out-log")
    verb("train-classifier", cmd_train_classifier, "spec", "data", "out-model", "out-report")
    verb("sample", cmd_sample, "spec", "data", "seed", "model?", "out")
    verb("evaluate", cmd_evaluate, "spec", "data", "seed", "samples", "classifier?", "out")
    verb("floor", cmd_floor, "spec", "data", "classifier?", "out")
    verb("collect", cmd_collect, "metrics+", "floors*", "out")
    verb("figure1", cmd_figure1, "spec", "cube", "png", "pdf")
    verb("slopes", cmd_slopes, "spec", "cube", "csv", "md")
    verb("image-table", cmd_image_table, "cube", "csv", "md")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    _setup(args.threads)
    t0 = time.time()
    args.fn(args)
    log.info("%s done in %.1fs", args.verb, time.time() - t0)
    return 0
