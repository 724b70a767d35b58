"""The methods by config ``kind``: ``METHODS`` and ``build_method``. A new method is one module in
this package and one entry here (the config schema's ``kind`` enum is tested against it)."""

from mfgstudy.methods.base import Method
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
