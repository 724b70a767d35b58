"""The config schema's kind enums are the package's registries: a kind the schema accepts is one
the code builds, and a kind the code builds is one the schema documents."""

from pathlib import Path

import pytest
import yaml

from mfgstudy.data import BUILDERS
from mfgstudy.methods.registry import METHODS
from mfgstudy.nets import NETS
from mfgstudy.perturb import KINDS as PERTURBATIONS
from mfgstudy.samplers import SAMPLERS
from mfgstudy.sde import GRID_KINDS

SCHEMA = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "workflow/schemas/config.schema.yaml").read_text()
)


def _enum(*keys):
    node = SCHEMA
    for k in keys:
        node = node[k]
    return set(node["enum"])


@pytest.mark.parametrize(
    "schema_keys,registry",
    [
        (("$defs", "method", "properties", "kind"), set(METHODS)),
        (("$defs", "dataset", "properties", "kind"), set(BUILDERS)),
        (("$defs", "net", "properties", "kind"), set(NETS)),
        (("properties", "samplers", "additionalProperties", "properties", "kind"), set(SAMPLERS)),
        (("properties", "grids", "additionalProperties", "properties", "kind"), set(GRID_KINDS)),
        (
            ("properties", "perturbations", "additionalProperties", "properties", "kind"),
            set(PERTURBATIONS) - {"none"},  # reserved for eps = 0
        ),
    ],
    ids=["methods", "datasets", "nets", "samplers", "grids", "perturbations"],
)
def test_the_schema_enum_is_the_registry(schema_keys, registry):
    assert _enum(*schema_keys) == registry
