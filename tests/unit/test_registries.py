"""The config schema's kind enums are the package's registries: a kind the schema accepts is one
the code builds, and a kind the code builds is one the schema documents. Samplers and nets have
no enum: their registries (mfgstudy.registry) are read from the source by the workflow's checks,
and those kinds are the ones the decorators register."""

from pathlib import Path

import pytest
import yaml

import mfgstudy.core.samplers
import mfgstudy.nets
from mfgstudy.core.perturb import KINDS as PERTURBATIONS
from mfgstudy.core.sde import GRID_KINDS
from mfgstudy.data import BUILDERS
from mfgstudy.methods.base import Method
from mfgstudy.methods.registry import kinds, method_class
from mfgstudy.registry import NETS, SAMPLERS

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
        (("properties", "grids", "additionalProperties", "properties", "kind"), set(GRID_KINDS)),
        (
            ("properties", "perturbations", "additionalProperties", "properties", "kind"),
            set(PERTURBATIONS) - {"none"},  # reserved for eps = 0
        ),
    ],
    ids=["datasets", "grids", "perturbations"],
)
def test_the_schema_enum_is_the_registry(schema_keys, registry):
    assert _enum(*schema_keys) == registry


@pytest.mark.parametrize(
    "schema_keys,registry,module",
    [
        (("$defs", "net", "properties", "kind"), NETS, mfgstudy.nets),
        (
            ("properties", "samplers", "additionalProperties", "properties", "kind"),
            SAMPLERS,
            mfgstudy.core.samplers,
        ),
    ],
    ids=["nets", "samplers"],
)
def test_kinds_read_from_the_source_are_the_registered_ones(schema_keys, registry, module):
    """The schema leaves these kinds to the registry; the kinds the planner reads from the source
    (nothing imported) are the ones the decorators register, each in its declaring module."""
    node = SCHEMA
    for k in schema_keys:
        node = node[k]
    assert "enum" not in node and node["type"] == "string"
    declared = registry.declared()
    assert declared and set(declared) == set(registry.kinds())
    for kind, home in declared.items():
        obj = registry.get(kind)
        assert obj.__module__ == f"mfgstudy.{home}", (kind, obj.__module__)
    assert set(registry._built) == set(declared)  # no kind registered that the planner misses
    assert {k for k, h in declared.items() if h == module.__name__.removeprefix("mfgstudy.")}


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
