"""Trained models on disk: a ``model.pt`` loaded as a network or a score function, after checking
that it was trained for the job that loads it (method, SDE, training spec, seed, data set)."""

from __future__ import annotations

import json

import torch

from mfgstudy.core.sde import VPSDE, ScoreFn
from mfgstudy.errors import UserError
from mfgstudy.methods.registry import build_method
from mfgstudy.nets import BalancedLabels, is_conditional
from mfgstudy.specs import computational, spec_differences
from mfgstudy.store import canonical_json, load_torch


class ModelMismatchError(UserError, ValueError):
    """A model file that was not trained for the job that loads it (another method, SDE,
    training spec, seed or data set), or is not a model at all."""


def _fix(model_path) -> str:
    return f"delete it and rerun its train job, e.g. snakemake --forcerun {model_path}"


def check_model(ckpt, spec: dict, data, model_path, seed: int | None = None) -> None:
    """Raise ``ModelMismatchError`` where the checkpoint ``ckpt`` (``train_job``'s model) was
    trained for another job than ``spec`` (a sample, evaluate or injection spec: ``sde`` and
    ``method``, whose per-data ``train`` entry, where present, is the training spec), ``seed``
    (None: not compared) and ``data`` (its store's ``config_hash``, where ``data`` has one).
    Train-spec keys that change no number (``mfgstudy.specs.COSMETIC_TRAIN_KEYS``) are not
    compared; what a checkpoint of older code does not record is skipped."""

    if not isinstance(ckpt, dict) or not {"state_dict", "event_shape"} <= ckpt.keys():
        held = sorted(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ModelMismatchError(
            f"model {model_path} is not a model written by a train job (it holds {held}): "
            + _fix(model_path)
        )
    diffs = []
    try:
        trained = json.loads(ckpt["spec"]) if isinstance(ckpt.get("spec"), str) else None
    except ValueError as e:
        raise ModelMismatchError(
            f"model {model_path} records no readable spec ({e}): " + _fix(model_path)
        ) from e
    if isinstance(trained, dict):
        kind = getattr(data, "kind", None) or trained.get("data_kind")
        have = {"sde": trained.get("sde"), "method": trained.get("method")}
        want = {"sde": spec.get("sde"),
                "method": {k: v for k, v in spec["method"].items() if k != "train"}}  # fmt: skip
        if "data_kind" in trained and getattr(data, "kind", None) is not None:
            have["data_kind"], want["data_kind"] = trained["data_kind"], data.kind
        job_train = spec["method"].get("train")
        if isinstance(job_train, dict) and kind in job_train and "train" in trained:
            have["train"] = computational(trained["train"])
            want["train"] = computational(job_train[kind])
        want = json.loads(canonical_json(want))  # as the model stores it: lists, JSON numbers
        diffs += spec_differences(have, want, ("in the model", "in this job"))
    if seed is not None and ckpt.get("seed") is not None and int(ckpt["seed"]) != int(seed):
        diffs.append(f"seed: {int(ckpt['seed'])} in the model, {int(seed)} in this job")
    attrs = getattr(getattr(data, "ds", None), "attrs", None) or {}
    mine, theirs = attrs.get("config_hash"), ckpt.get("data")
    if mine is not None and theirs is not None and mine != theirs:
        diffs.append(f"data store config_hash: {theirs} in the model, {mine} in this job")
    if diffs:
        raise ModelMismatchError(
            f"model {model_path} was trained for another job ({'; '.join(diffs)}): "
            + _fix(model_path)
        )


def load_net(
    spec: dict,
    data,
    model_path: str,
    device: torch.device | str = "cpu",
    seed: int | None = None,
):
    """The trained network of the checkpoint at ``model_path``, built from ``spec["method"]``'s
    net spec for ``data``'s kind (a class-conditional spec gives a conditional net), in eval
    mode with its parameters frozen (gradients flow in the inputs only), on ``device``. The
    checkpoint must have been trained for this job (``check_model``: method, SDE, training spec,
    ``seed`` where given, data set): another job's raises ``ModelMismatchError`` naming the file;
    an unreadable file raises ``mfgstudy.store.UnreadableTorchFile``. Loading is strict: a spec
    that does not describe the checkpoint's network fails here."""
    method = build_method(spec["method"], VPSDE.from_spec(spec["sde"]))
    ckpt = load_torch(model_path)
    check_model(ckpt, spec, data, model_path, seed)
    net = method.build_net(data.kind, tuple(ckpt["event_shape"]))
    net.load_state_dict(ckpt["state_dict"])
    return net.to(device).eval().requires_grad_(False)


def load_score(
    spec: dict,
    data,
    model_path: str | None,
    device: torch.device | str = "cpu",
    seed: int | None = None,
) -> ScoreFn:
    """The score function of a trained (checkpoint at ``model_path``, checked against the job:
    ``load_net``, its network moved to ``device``) or exact method (closed form, on the CPU:
    ``mfgstudy.device``). A
    class-conditional network generates unconditionally with balanced labels
    (``mfgstudy.nets.BalancedLabels``: sample i has label i mod n_classes)."""
    method = build_method(spec["method"], VPSDE.from_spec(spec["sde"]))
    if not method.trainable:
        if torch.device(device).type != "cpu":
            raise ValueError(
                "the exact-score oracle computes on the CPU (mfgstudy.core.exact), not on "
                f"{device}: "
                "sample it on points data, or run the job with --device cpu"
            )
        return method.score_fn(data)
    if model_path is None:
        raise ValueError(f"method {spec['method']['kind']!r} is trained: a model path is needed")
    net = load_net(spec, data, model_path, device, seed)  # gradients in x only
    return method.score_fn(BalancedLabels(net) if is_conditional(net) else net)


def load_classifier(path: str, device="cpu"):
    """The digits classifier of the checkpoint at ``path``, in eval mode on ``device``. A file
    that does not load raises ``mfgstudy.store.UnreadableTorchFile``, one that is not a digits
    classifier ``mfgstudy.methods.ModelMismatchError``, each naming the file and the fix."""
    import json

    from mfgstudy.models import ModelMismatchError
    from mfgstudy.nets import DigitsClassifier

    ckpt = load_torch(path)
    try:
        spec = json.loads(ckpt["spec"])
        net = DigitsClassifier(width=int(spec["width"]), feat_dim=int(spec["feat_dim"]))
        net.load_state_dict(ckpt["state_dict"])
    except (TypeError, KeyError, ValueError, RuntimeError) as e:
        raise ModelMismatchError(
            f"{path} is not a digits classifier written by the train_classifier job "
            f"({type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}): delete it "
            f"and rerun the job that writes it, e.g. snakemake --forcerun {path}"
        ) from e
    return net.to(device).eval()
