# The MFG-Diffusion reproduction study: data -> training -> sampling -> metrics -> tables/figures.
# Default study: `snakemake --cores 2`; another scale: `--configfile workflow/configs/smoke.yaml`.
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")

sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from mfgstudy import plan  # noqa: E402

# A config given with --configfile replaces the default study instead of being merged onto it
# (Snakemake would otherwise deep-merge the two, leaking default sweeps into other scales);
# --config key=value still overrides single values of whichever config is in use.
if not workflow.config_settings.configfiles:

    configfile: "config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


plan.check_config(config)


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/sample.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/convergence.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/robustness_exact.smk"
include: "workflow/rules/mfg_equilibrium.smk"
include: "workflow/rules/studies.smk"
include: "workflow/rules/injection.smk"


rule all:
    default_target: True
    input:
        plan.final_targets(config),
