"""From a validated config to the study's jobs: which units exist, where their files live, and
the exact parameters each job receives (Snakemake ``params:``, so that changing a value reruns
only what it touches).

A *sweep* is a named experiment: data sets x methods x seeds x samplers x grids x perturbation
sizes eps, each such *unit* sampled at every N in ``steps`` (plus the ``reference_steps`` run for
the coupled estimate) under each of the sweep's perturbation kinds. A sweep without ``eps`` has
the one size 0 (the unperturbed sampler, kind ``none``); eps = 0 is shared by every kind, since
every kind reduces to the unperturbed sampler there. Paths are built here and nowhere else.
"""

from __future__ import annotations

from mfgstudy.errors import ConfigError  # noqa: F401 (re-exported)
from mfgstudy.layout import UNPERTURBED  # noqa: F401 (re-exported)
from mfgstudy.pipeline.commands import cli_option, code_hash  # noqa: F401 (re-exported)
from mfgstudy.pipeline.compute import (  # noqa: F401 (re-exported)
    RESOURCE_FAMILIES,
    checkpoint_every,
    job_device,
    job_resources,
    launcher,
    threads_per_process,
    train_retries,
    unit_resources,
)
from mfgstudy.pipeline.names import (  # noqa: F401 (re-exported)
    NAME_PATTERN,
    NAME_RULE,
    NAME_TABLES,
    NAME_WILDCARD,
    check_names,
)
from mfgstudy.pipeline.paths import (  # noqa: F401 (re-exported until the rules import it)
    CLAIMS_FILE,
    CLAIMS_FILES,
    CLAIMS_NAMES,
    FLOOR,
    METRICS,
    REPO_ROOT,
    SAMPLES,
    UNIT,
    UNIT_DIR,
    Files,
    Table,
    benchmark_path,
    eps_label,
    log_path,
    paths,
    study_outputs,
    sweep_eps,
)  # fmt: skip
from mfgstudy.pipeline.specs_claims import (  # noqa: F401 (re-exported)
    claims_exact_table,
    claims_files,
    claims_inputs,
    claims_mfg_tables,
    claims_options,
    claims_spec,
    claims_study_table,
    mfg_train_logs,
)
from mfgstudy.pipeline.specs_closed_form import (  # noqa: F401 (re-exported)
    closed_form_convergence,
    convergence_data,
    convergence_spec,
    convergence_stores,
    cost_perturbation_data,
    cost_perturbation_spec,
    mfg_equilibrium_data,
    mfg_equilibrium_spec,
    proposition6_data,
    proposition6_spec,
    robustness_exact_spec,
    robustness_exact_stores,
)
from mfgstudy.pipeline.specs_studies import (  # noqa: F401 (re-exported)
    hjb_data,
    hjb_samples,
    injection_spec,
    injection_stores,
    mfg_readings_spec,
    study_spec,
)
from mfgstudy.pipeline.specs_units import (  # noqa: F401 (re-exported)
    IMAGE_METRICS_DEFAULTS,
    METRICS_DEFAULTS,
    PER_DATA,
    data_source,
    data_spec,
    evaluate_spec,
    features_of,
    floor_spec,
    image_metrics_spec,
    inception_input,
    method_sde,
    method_spec,
    per_data,
    perturbations_at,
    reference_spec,
    references,
    report_spec,
    sample_spec,
    train_spec,
    unit_spec,
)
from mfgstudy.pipeline.targets import (  # noqa: F401 (re-exported)
    Unit,
    final_targets,
    floors,
    has_classifier,
    is_images,
    is_trainable,
    metric_dirs,
    sample_dirs,
    trained_models,
    unit_jobs,
    units,
)
from mfgstudy.pipeline.validation import check_config  # noqa: F401 (re-exported)
