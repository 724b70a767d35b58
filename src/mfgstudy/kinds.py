"""The data kind of a data set spec: "images" or "points". A module of its own so that the
workflow planner (``mfgstudy.pipeline``, imported by every Snakemake start) needs no torch."""

IMAGE_KINDS = frozenset({"digits", "cifar10", "celebahq"})


def data_kind(spec: dict) -> str:
    return "images" if spec["kind"] in IMAGE_KINDS else "points"
