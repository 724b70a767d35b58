"""MFG-Diffusion's readings of Algorithm 1 as data: the named switches and their defaults
(``mfgstudy.methods.mfg`` documents each). A module of its own, without torch, so that the
workflow planner, the closed-form analyses and the claims ledger can read a method's reading.
"""

from __future__ import annotations

READINGS = {
    "tweedie": ("denoising", "printed"),
    "value_target": ("hjb_residual", "derived", "algorithm1", "off"),
    "weighting": ("denoising", "constant"),
    "time_sampling": ("continuous", "fixed"),
    "measure_update": ("printed", "model_rollout"),
    "update": ("descent", "printed"),
    "lr_schedule": ("constant", "inverse_k"),
}  # first entry: the default
CONSTANTS = {"lambda": 1.0, "gamma": 0.0}  # the paper's free constants (eq. 13, line 17)


def reading_of(method_spec: dict) -> dict:
    """Every switch of an ``mfg`` method's spec and its constants, defaults filled in as
    MFG-Diffusion fills them (the first entry of each switch)."""
    readings = method_spec.get("readings", {})
    switches = {k: readings.get(k, v[0]) for k, v in READINGS.items()}
    return {**switches, **{k: float(method_spec.get(k, v)) for k, v in CONSTANTS.items()}}
