"""Bad configs are rejected before any job runs, naming the key."""

import copy
import os

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from mfgstudy.errors import ConfigError
from mfgstudy.pipeline import specs_claims, specs_studies
from mfgstudy.pipeline.config_files import resolve
from mfgstudy.pipeline.paths import CLAIMS_FILES, CLAIMS_NAMES
from mfgstudy.pipeline.targets import units
from mfgstudy.pipeline.validation import check_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA = os.path.join(ROOT, "workflow", "schemas", "config.schema.yaml")


def _load(name):
    return resolve(os.path.join(ROOT, name))


@pytest.fixture(
    params=["config.yaml", "workflow/configs/smoke.yaml", "workflow/configs/laboratory.yaml"]
)
def config(request):
    return _load(request.param)


def _check(cfg):
    validate(cfg, SCHEMA)
    check_config(cfg)


def test_shipped_configs_are_valid(config):
    _check(config)
    assert units(config)


@pytest.mark.parametrize(
    "mutate,needle",
    [
        (lambda c: c.update(learning_rate=1), "learning_rate"),
        (lambda c: c["sde"].update(beta_mx=2.0), "beta_mx"),
        (lambda c: c["datasets"]["gmm8"].update(n_modes="eight"), "eight"),
        (lambda c: c["methods"]["ddpm"]["train"]["points"].update(steps=-5), "-5"),
        (lambda c: c["sweeps"]["w2_vs_steps"].update(steps="many"), "many"),
        # perturbation kinds and sizes go together
        (lambda c: c["sweeps"]["robustness_2d"].pop("eps"), "'eps' is a dependency of"),
        (lambda c: c["sweeps"]["robustness_2d"].pop("perturbations"), "'perturbations' is a"),
    ],
)
def test_schema_rejects_and_names_the_key(mutate, needle):
    cfg = copy.deepcopy(_load("config.yaml"))
    mutate(cfg)
    with pytest.raises(WorkflowError, match=needle):
        validate(cfg, SCHEMA)


@pytest.mark.parametrize(
    "mutate,needle",
    [
        (
            lambda c: c["sweeps"]["w2_vs_steps"]["datasets"].append("cifar"),
            r"sweeps.w2_vs_steps.datasets: 'cifar'",
        ),
        (
            lambda c: c["sweeps"]["w2_vs_steps"]["methods"].append("ebm"),
            r"sweeps.w2_vs_steps.methods: 'ebm'",
        ),
        (lambda c: c["sweeps"]["w2_vs_steps"]["samplers"].append("rk4"), r"samplers: 'rk4'"),
        (lambda c: c["sweeps"]["w2_vs_steps"]["steps"].append(3), r"sweeps.w2_vs_steps.steps: 3"),
        (lambda c: c["report"]["figure1"].update(sweep="nope"), r"report.figure1.sweep"),
        (
            lambda c: c["report"]["studies"]["hjb"].update(decided_by="configs/lab.yaml"),
            r"report.studies.hjb.decided_by: 'configs/lab.yaml' is not a config file",
        ),
        (lambda c: c.pop("classifier"), r"classifier: required"),
        (
            lambda c: c["samplers"]["em"].update(kind="leapfrog"),
            r"samplers.em.kind: 'leapfrog' is not a sampler kind \(registered with "
            r"@register_sampler: ddim, edm_heun, euler_maruyama",
        ),
        (
            lambda c: c["methods"]["ddpm"]["net"]["points"].update(kind="resnet"),
            r"methods.ddpm.net.points.kind: 'resnet' is not a net kind \(registered with "
            r"@register_net: ddpm_unet, fc, mlp, unet\)",
        ),
        (
            lambda c: c["methods"]["ddpm"].update(kind="gan"),
            r"methods.ddpm.kind: 'gan' is not a method: there is no module mfgstudy/methods/gan.py",
        ),
    ],
)
def test_undefined_names_are_rejected_with_the_key(mutate, needle):
    cfg = copy.deepcopy(_load("config.yaml"))
    mutate(cfg)
    with pytest.raises(ConfigError, match=needle):
        _check(cfg)


def test_the_schema_admits_the_claims_files_only():
    with open(SCHEMA) as f:
        schema = yaml.safe_load(f)
    assert schema["properties"]["report"]["properties"]["claims"]["items"]["enum"] == list(
        CLAIMS_NAMES
    )
    cfg = _load("config.yaml")
    cfg["report"]["claims"] = ["mfg_paper.yaml", "nope.yaml"]
    with pytest.raises(WorkflowError, match="nope.yaml"):
        validate(cfg, SCHEMA)


def test_a_config_names_the_claims_files_its_ledger_judges():
    assert specs_claims.claims_files(_load("config.yaml")) == list(CLAIMS_FILES)
    lab = _load("workflow/configs/laboratory.yaml")
    assert specs_claims.claims_files(lab) == ["workflow/claims/mfg_laboratory.yaml"]
    # the default ledger names the config that decides the laboratory's claims
    default = _load("config.yaml")
    decided_by = specs_studies.study_spec(default, "hjb")["decided_by"]
    assert decided_by == "workflow/configs/laboratory.yaml"
    assert lab["sweeps"]["hjb_checkerboard"]["seeds"] == [0, 1, 2]  # the gate needs three
