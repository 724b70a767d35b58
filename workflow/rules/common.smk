# Helpers shared by the rules: parameter specs as JSON, and model inputs per method.
import json


wildcard_constraints:
    sweep=plan.NAME_WILDCARD,
    dataset=plan.NAME_WILDCARD,
    method=plan.NAME_WILDCARD,
    sampler=plan.NAME_WILDCARD,
    grid=plan.NAME_WILDCARD,
    seed=r"\d+",
    eps=r"[0-9][0-9.e+-]*",
    features=r"digits|inception",


# the conda env of every job (--sdm conda): envs/cpu.yaml or envs/cuda.yaml
ENV = f"../../envs/{config['environment']}.yaml"
THREADS = config["threads"]


def job_resources(family):
    """gpu, mem_mb, runtime (+ cpus_per_gpu, tasks on GPU jobs) of a job family, from config."""
    return plan.job_resources(config, family)


def as_json(spec):
    return json.dumps(spec, sort_keys=True)


def model_of(wc):
    """The trained model a sample job needs ([] for methods that are not trained)."""
    if plan.is_trainable(config, wc.method):
        return plan.MODEL.format(dataset=wc.dataset, method=wc.method, seed=wc.seed)
    return []


def classifier_of(wc):
    return (
        plan.CLASSIFIER.format(dataset=wc.dataset)
        if plan.has_classifier(config, wc.dataset)
        else []
    )


def opt(flag, paths):
    """A command-line option only when the input exists for this job (paths shell-quoted)."""
    return plan.cli_option(flag, paths)


STUDIES = config["report"].get("studies", {})


def study_params(study):
    """The JSON spec of a study's report job (see mfgstudy.plan.study_spec)."""
    return as_json(plan.study_spec(config, study))


def reported(path, caption, category):
    """An output shown in `snakemake --report` with its caption (workflow/report/*.rst)."""
    return report(path, caption=f"../report/{caption}.rst", category=category)
