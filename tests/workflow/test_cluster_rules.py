"""On a cluster (issue 26): the table, figure, ledger and report rules are local rules (they run
in Snakemake's own process, not each as a SLURM job waiting in the queue), and the train rule has
retries for the resumptions of a training that stops cleanly before its walltime (exit 75), the
other rules the profile's one. Read from the parsed workflow (Snakemake's API, in a subprocess);
tests/slurm checks the same on a real SLURM."""

import json
import subprocess
import sys

import pytest
import yaml

from mfgstudy.pipeline.config_files import resolve
from mfgstudy.pipeline.paths import Files, paths
from mfgstudy.verbs import VERBS
from tests.workflow.helpers import DEFAULT, ROOT, SMOKE

RULES = """
import json, re, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.io import strip_wildcard_constraints
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

with SnakemakeApi(OutputSettings()) as api:
    workflow = api.workflow(
        resource_settings=ResourceSettings(),
        config_settings=ConfigSettings(configfiles=[Path(sys.argv[2])]),
        snakefile=Path(sys.argv[1]) / "Snakefile",
        workdir=Path(sys.argv[3]),
    )._workflow
    print(json.dumps({r.name: {"local": r.name in workflow._localrules,
                               "retries": r._restart_times,
                               "verbs": re.findall(r"-m mfgstudy ([\\w-]+)", r.shellcmd or ""),
                               "output": [strip_wildcard_constraints(f) for f in r.output],
                               "params": {k: v for k, v in r.params.items() if isinstance(v, str)}}
                      for r in workflow.rules}))
"""
PROFILE = ROOT + "/workflow/profiles/slurm/config.yaml"


def parsed_rules(configfile, workdir) -> dict[str, dict]:
    res = subprocess.run([sys.executable, "-c", RULES, ROOT, configfile, str(workdir)],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("configfile", [DEFAULT, SMOKE])
def test_report_rules_are_local_and_compute_rules_are_jobs(configfile, tmp_path):
    rules = parsed_rules(configfile, tmp_path)
    for name, rule in rules.items():
        if name == "all":  # no command: always run by Snakemake itself
            continue
        layers = {VERBS[v][0].split(".")[0] for v in rule["verbs"]}
        # tables, figures, the ledger, the report and the export: the `report` layer's verbs
        assert rule["local"] == (layers == {"report"}), (name, rule)
    local = {n for n, r in rules.items() if r["local"]}
    assert {"claims", "html_report", "figure1", "table1", "hjb_table", "export"} <= local
    assert not local & {"train", "unit", "floor", "reference", "prepare_data", "collect"}


def test_training_gets_retries_for_its_resumptions_the_others_one(tmp_path):
    rules = parsed_rules(SMOKE, tmp_path)
    profile_retries = yaml.safe_load(open(PROFILE))["retries"]
    assert profile_retries == 1  # a node failure: one resubmission
    assert rules["train"]["retries"] == 10 > profile_retries  # checkpoint.resumptions' default
    others = {n: r["retries"] for n, r in rules.items() if n != "train"}
    assert set(others.values()) == {None}, others  # the profile's
    config = resolve(SMOKE)
    config["checkpoint"]["resumptions"] = 3
    configfile = tmp_path / "three.yaml"
    configfile.write_text(yaml.safe_dump(config))
    assert parsed_rules(str(configfile), tmp_path)["train"]["retries"] == 3


def test_the_rules_literal_paths_are_the_planners_templates(tmp_path):
    """Each rule names its outputs literally; the planner's target lists format its own templates
    (mfgstudy.pipeline.paths). Every output a rule writes is one of those templates, and every
    template is a rule's output (or a path param), so the two cannot drift apart."""
    rules = parsed_rules(DEFAULT, tmp_path)  # every rule: the default study runs every stage
    outputs = {f for r in rules.values() for f in r["output"]}
    templates = {f for v in paths.values() for f in (v.values() if isinstance(v, Files) else [v])}
    mixture = paths.convergence.format(name="mixture")  # one instance: its own rule
    assert outputs - {mixture} <= templates, outputs - {mixture} - templates
    assert rules["train"]["params"]["checkpoints"] == paths.checkpoints  # no outputs: params
    assert rules["unit"]["params"]["cache"] == paths.unit_cache
    assert templates - outputs == {paths.checkpoints, paths.unit_cache}
