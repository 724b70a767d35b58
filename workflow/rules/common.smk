# What the rules share: the code hash of a job (`commands.code_hash`), the resources of a job
# family (a small CPU job needs none: the profiles' default-resources), the jobs' specs as JSON,
# input functions and the report's sections. Each rule file imports the planner's modules of its
# own jobs (mfgstudy.pipeline).
import json
import os

from mfgstudy.pipeline import (
    commands,
    compute,
    specs_claims,
    specs_studies,
    specs_units,
    targets,
)
from mfgstudy.pipeline.names import NAME_WILDCARD


wildcard_constraints:
    sweep=NAME_WILDCARD,
    dataset=NAME_WILDCARD,
    method=NAME_WILDCARD,
    sampler=NAME_WILDCARD,
    grid=NAME_WILDCARD,
    seed=r"\d+",
    eps=r"[0-9][0-9.e+-]*",
    features=r"digits|inception",


# Each rule names its files as literal templates, and a rule downstream reads them as
# rules.<name>.output; the planner's target lists format the same templates
# (mfgstudy.pipeline.paths; tests/workflow/test_cluster_rules.py keeps the two equal). A job's log
# and benchmark are named after its rule and wildcards (results/logs/train/<dataset>/...), the
# tables' after the generic rule that wrote them before (paper_table/, study_table/).

# the conda env of every job (--sdm conda): envs/cpu.yaml or envs/cuda.yaml
ENV = f"../../envs/{config['environment']}.yaml"
THREADS = config["threads"]


def job_resources(family):
    """gpu, mem_mb, runtime (+ cpus_per_gpu, tasks on GPU jobs) of a job family, from config."""
    return compute.job_resources(config, family)


def job_device(wildcards, resources):
    """A job's --device from its gpu resource: cuda on a GPU job (it runs on a GPU or stops,
    naming its node and the fix), auto otherwise (mfgstudy.pipeline.compute.job_device).
    """
    return compute.job_device(config, resources.gpu)


def torch_threads(wildcards, threads):
    """A train job's torch threads per process: its threads shared by its GPUs' processes."""
    return compute.threads_per_process(config, wildcards.dataset, threads)


def as_json(spec):
    return json.dumps(spec, sort_keys=True)


def shown(spec, key):
    """A param showing the reader one value of a job's spec: spec(config, wildcards)[key]. The
    spec param passes it to the job, and reruns the job when it changes; so this one is left
    out of Snakemake's params trigger, which skips params computed from `input`."""
    return lambda wildcards, input: spec(config, wildcards)[key]


def model_of(wc):
    """The trained model a sample job needs ([] for methods that are not trained)."""
    if targets.is_trainable(config, wc.method):
        return expand(rules.train.output.model, **wc)
    return []


def classifier_of(wc):
    if targets.has_classifier(config, wc.dataset):
        return expand(rules.train_classifier.output.model, **wc)
    return []


def unit_inputs(wc):
    """What a unit job reads: the data set, its model (trained methods), the digits classifier
    and the reference statistics (image data) and the Inception weights (FID)."""
    return {
        "data": expand(rules.prepare_data.output, **wc),
        "model": model_of(wc),
        "classifier": classifier_of(wc),
        "references": specs_units.references(config, wc.dataset),
        "inception": specs_units.inception_input(config, wc.dataset),
    }


def unit_options(input):
    """The unit job's options for its optional inputs (paths shell-quoted)."""
    options = [("--model-path", input.model), ("--classifier-path", input.classifier),
               ("--reference-paths", input.references)]  # fmt: skip
    return " ".join(opt(flag, files) for flag, files in options if files)


def opt(flag, files):
    """A command-line option only when the input exists for this job (paths shell-quoted)."""
    return commands.cli_option(flag, files)


STUDIES = config["report"].get("studies", {})


def study_params(study):
    """The JSON spec of a study's report job (see mfgstudy.pipeline.specs_studies.study_spec)."""
    return as_json(specs_studies.study_spec(config, study))


def claims_inputs(wildcards):
    """What the claims ledger reads (mfgstudy.report.claims.inputs), [] where not run."""
    return specs_claims.claims_inputs(config)


def claims_options(wildcards, input):
    return specs_claims.claims_options(config, input)


# the repository's claims files (not workflow.source_path's temporary copies, whose deleted
# paths claims.json would record as its claims_file), relative to the working directory: an
# absolute path would change when the checkout moves, and rerun the claims and the report
CLAIMS_FILES = [
    os.path.relpath(Path(workflow.basedir) / f)
    for f in specs_claims.claims_files(config)
]


# --- the report --------------------------------------------------------------------------------
# its sections, by caption (workflow/report/<caption>.rst)
REPORT_SECTIONS = {
    "claims": "0. Claims ledger",
    "table1": "2. Image metrics",
    "table2": "3. Robustness",
    "mfg_readings": "4. MFG-Diffusion",
    "figure1": "1. Convergence in N",
    "slopes": "1. Convergence in N",
    "convergence": "1. Convergence in N",
    "robustness_table": "3. Robustness",
    "robustness_figure": "3. Robustness",
    "robustness_exact": "3. Robustness",
    "injection": "3. Robustness",
    "study": "4. Companion papers",
    "hjb_figure": "4. Companion papers",
    "concentration_figure": "4. Companion papers",
    "mfg_equilibrium": "4. MFG-Diffusion",
    "proposition6": "4. MFG-Diffusion",
    "cost_perturbation": "3. Robustness",
}


# (path template, caption, section) of every reported output: results/report.html's items
REPORTED = []


def reported(path, caption):
    """An output shown in the reports with its caption, in the caption's section: in
    `snakemake --report`, and in results/report.html (report_items)."""
    section = REPORT_SECTIONS[caption]
    REPORTED.append((path, caption, section))
    return report(path, caption=f"../report/{caption}.rst", category=section)


def report_items():
    """The figures (PNG) and tables (CSV; their Markdown beside) of results/report.html: every
    reported output this config builds, with its caption file and section."""
    built = set(targets.final_targets(config))
    return [
        dict(path=path, caption=caption_file(caption), section=section)
        for path, caption, section in REPORTED
        if path in built and caption != "claims"
    ]


def caption_file(caption):
    """A caption's .rst file, relative to the working directory."""
    return os.path.relpath(
        Path(workflow.basedir) / "workflow" / "report" / f"{caption}.rst"
    )


def report_inputs(wildcards):
    """results/report.html's inputs: the ledger, every item, the tables' Markdown (their
    titles and captions) and the figures' caption files (an edited caption rebuilds it).
    """
    items = report_items()
    return dict(
        claims=rules.claims.output.json,
        shown=[i["path"] for i in items],
        markdown=[
            str(Path(i["path"]).with_suffix(".md"))
            for i in items
            if i["path"].endswith(".csv")
        ],
        captions=sorted({i["caption"] for i in items}),
    )
