"""Methods behind one interface (``Method``); ``METHODS`` maps a config ``kind`` to its class."""

import torch

from mfgstudy.methods.base import Method, ScoreFn
from mfgstudy.methods.ddpm import DDPM
from mfgstudy.methods.edm import EDM
from mfgstudy.methods.flow_matching import FlowMatching
from mfgstudy.methods.hjb_sgm import HJBSGM
from mfgstudy.methods.mfg import MFGDiffusion
from mfgstudy.methods.oracle import ExactScore
from mfgstudy.sde import VPSDE

METHODS: dict[str, type[Method]] = {
    "ddpm": DDPM,
    "edm": EDM,
    "flow_matching": FlowMatching,
    "mfg": MFGDiffusion,
    "hjb_sgm": HJBSGM,
    "exact": ExactScore,
}


def build_method(spec: dict, sde: VPSDE) -> Method:
    kind = spec["kind"]
    if kind not in METHODS:
        raise ValueError(f"unknown method kind {kind!r}; choose from {sorted(METHODS)}")
    return METHODS[kind](spec, sde)


def load_net(spec: dict, data, model_path: str, device: torch.device | str = "cpu"):
    """The trained network of the checkpoint at ``model_path``, built from ``spec["method"]``'s
    net spec for ``data``'s kind (a class-conditional spec gives a conditional net), in eval
    mode with its parameters frozen (gradients flow in the inputs only), on ``device``. Loading
    is strict: a spec that does not describe the checkpoint's network fails here."""
    from mfgstudy.store import load_torch

    method = build_method(spec["method"], VPSDE.from_spec(spec["sde"]))
    ckpt = load_torch(model_path)
    net = method.build_net(data.kind, tuple(ckpt["event_shape"]))
    net.load_state_dict(ckpt["state_dict"])
    return net.to(device).eval().requires_grad_(False)


def load_score(
    spec: dict, data, model_path: str | None, device: torch.device | str = "cpu"
) -> ScoreFn:
    """The score function of a trained (checkpoint at ``model_path``, its network moved to
    ``device``) or exact method (closed form, on the CPU: ``mfgstudy.device``). A
    class-conditional network generates unconditionally with balanced labels
    (``mfgstudy.nets.BalancedLabels``: sample i has label i mod n_classes)."""
    from mfgstudy.nets import BalancedLabels, is_conditional

    method = build_method(spec["method"], VPSDE.from_spec(spec["sde"]))
    if not method.trainable:
        if torch.device(device).type != "cpu":
            raise ValueError(
                f"the exact-score oracle computes on the CPU (mfgstudy.exact), not on {device}: "
                "sample it on points data, or run the job with --device cpu"
            )
        return method.score_fn(data)
    if model_path is None:
        raise ValueError(f"method {spec['method']['kind']!r} is trained: a model path is needed")
    net = load_net(spec, data, model_path, device)  # gradients in x only
    return method.score_fn(BalancedLabels(net) if is_conditional(net) else net)


__all__ = ["METHODS", "Method", "ScoreFn", "build_method", "load_net", "load_score"]
