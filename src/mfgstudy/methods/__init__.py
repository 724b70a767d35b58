"""Methods behind one interface (``Method``); ``METHODS`` maps a config ``kind`` to its class."""

from mfgstudy.methods.base import Method, ScoreFn
from mfgstudy.methods.ddpm import DDPM
from mfgstudy.methods.oracle import ExactScore
from mfgstudy.sde import VPSDE

METHODS: dict[str, type[Method]] = {"ddpm": DDPM, "exact": ExactScore}


def build_method(spec: dict, sde: VPSDE) -> Method:
    kind = spec["kind"]
    if kind not in METHODS:
        raise ValueError(f"unknown method kind {kind!r}; choose from {sorted(METHODS)}")
    return METHODS[kind](spec, sde)


__all__ = ["METHODS", "Method", "ScoreFn", "build_method"]
