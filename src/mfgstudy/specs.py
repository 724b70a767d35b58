"""Comparing job specs: the part of a training spec that changes numbers, and the readable
differences between two specs (for the messages that refuse another run's checkpoint or model)."""

from __future__ import annotations

import json

# Train-spec keys that change no number of the run (weights, optimiser, generators): only how
# often the loss log writes a row. A checkpoint or model differing from a job only in these is
# that job's: resumed (the log keeps the old cadence up to the checkpoint) and accepted. Every
# other key (steps, batch size, lr, warmup, ema, grad_clip, label_dropout, MFG's iterations and
# batches) changes the computation.
COSMETIC_TRAIN_KEYS = frozenset({"log_every"})


def computational(train_spec: dict) -> dict:
    """``train_spec`` without its cosmetic keys (``COSMETIC_TRAIN_KEYS``)."""
    return {k: v for k, v in train_spec.items() if k not in COSMETIC_TRAIN_KEYS}


def _flat(obj, prefix: str = "") -> dict:
    if isinstance(obj, dict) and obj:
        out = {}
        for k, v in obj.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: obj}


_ABSENT = object()


def _short(v, width: int = 40) -> str:
    text = "absent" if v is _ABSENT else json.dumps(v, sort_keys=True)
    return text if len(text) <= width else text[: width - 3] + "..."


def spec_differences(have, want, names=("there", "here"), limit: int = 6) -> list[str]:
    """The leaves in which two specs (nested dicts) differ, as "key: <have> <names[0]>, <want>
    <names[1]>", at most ``limit`` of them (then "and n more")."""
    have, want = _flat(have), _flat(want)
    keys = sorted(k for k in have.keys() | want.keys()
                  if have.get(k, _ABSENT) != want.get(k, _ABSENT))  # fmt: skip
    out = [f"{k or 'spec'}: {_short(have.get(k, _ABSENT))} {names[0]}, "
           f"{_short(want.get(k, _ABSENT))} {names[1]}" for k in keys[:limit]]  # fmt: skip
    if len(keys) > limit:
        out.append(f"and {len(keys) - limit} more")
    return out
