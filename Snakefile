# The MFG-Diffusion reproduction study: data -> training -> sampling -> metrics -> tables/figures.
# Default study: `snakemake --cores 2`; another scale: `--configfile workflow/configs/smoke.yaml`.
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

min_version("9.0")

sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from mfgstudy import strict_yaml  # noqa: E402
from mfgstudy.errors import ConfigError  # noqa: E402
from mfgstudy.pipeline import config_files, names, specs_claims, targets  # noqa: E402
from mfgstudy.pipeline import validation  # noqa: E402
from mfgstudy.pipeline.paths import REPO_ROOT  # noqa: E402
from mfgstudy.report.claims.claims_files import (
    ClaimsFileError,
    check_claims_files,
)  # noqa: E402

# A config given with --configfile is a whole config or an overlay that names its base
# (`extends:`, mfgstudy.pipeline.config_files): resolved below, it replaces the default study
# instead of being deep-merged onto it (which would leak the default's sweeps into other
# scales); --config key=value still overrides single values of whichever config is in use.
if not workflow.config_settings.configfiles:

    configfile: "config.yaml"


report: "workflow/report/workflow.rst"


# the config, checked before any job: a mistake stops here with one message naming its key
try:
    # read strictly (YAML would keep the last of two equal keys without a word), overlays
    # resolved onto their bases
    files = workflow.config_settings.configfiles or ["config.yaml"]
    resolved = config_files.load(files, workflow.config_settings.config)
    config.clear()
    config.update(resolved)
    names.check_names(config)  # before the schema, whose message would not say why
    validate(config, "workflow/schemas/config.schema.yaml")
    validation.check_config(config)
    # ids unique, rules and measures known (the files lie in the workflow, not the --directory)
    check_claims_files([str(REPO_ROOT / f) for f in specs_claims.claims_files(config)])
except (ConfigError, strict_yaml.DuplicateKeyError, ClaimsFileError) as e:
    raise WorkflowError(str(e)) from None


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/unit.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/convergence.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/robustness_exact.smk"
include: "workflow/rules/mfg_equilibrium.smk"
include: "workflow/rules/studies.smk"
include: "workflow/rules/injection.smk"
include: "workflow/rules/publish.smk"


rule all:
    default_target: True
    input:
        targets.final_targets(config),
