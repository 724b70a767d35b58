"""The config schema's kind enums are the package's registries: a kind the schema accepts is one
the code builds, and a kind the code builds is one the schema documents."""

from pathlib import Path

import pytest
import yaml

from mfgstudy.core.perturb import KINDS as PERTURBATIONS
from mfgstudy.core.samplers import SAMPLERS
from mfgstudy.core.sde import GRID_KINDS
from mfgstudy.data import BUILDERS
from mfgstudy.methods.base import Method
from mfgstudy.methods.registry import kinds, method_class
from mfgstudy.nets import NETS

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
        (("$defs", "dataset", "properties", "kind"), set(BUILDERS)),
        (("$defs", "net", "properties", "kind"), set(NETS)),
        (("properties", "samplers", "additionalProperties", "properties", "kind"), set(SAMPLERS)),
        (("properties", "grids", "additionalProperties", "properties", "kind"), set(GRID_KINDS)),
        (
            ("properties", "perturbations", "additionalProperties", "properties", "kind"),
            set(PERTURBATIONS) - {"none"},  # reserved for eps = 0
        ),
    ],
    ids=["datasets", "nets", "samplers", "grids", "perturbations"],
)
def test_the_schema_enum_is_the_registry(schema_keys, registry):
    assert _enum(*schema_keys) == registry


def test_every_method_module_is_a_method_of_its_kind():
    """The registry lists the methods package's modules; each defines METHOD, a Method."""
    assert {"ddpm", "edm", "exact", "flow_matching", "hjb_sgm", "mfg"} <= set(kinds())
    for kind in kinds():
        cls = method_class(kind)
        assert issubclass(cls, Method) and cls.__module__ == f"mfgstudy.methods.{kind}"


def test_the_schema_options_blocks_name_methods():
    """The schema's per-kind option blocks name existing methods, and the generic block (net and
    train only) excludes exactly the kinds that have their own block."""
    blocks = SCHEMA["$defs"]["method"]["allOf"]
    generic = set(blocks[0]["if"]["properties"]["kind"]["not"]["enum"])
    own = {b["if"]["properties"]["kind"]["const"] for b in blocks[1:]}
    assert generic == own and own <= set(kinds())
