"""The CLI's verbs: which job function of which module each ``python -m mfgstudy <verb>`` runs.

Kept apart from ``mfgstudy.cli`` (which imports torch) so that the workflow planner can derive
each rule's code hash from the verb's module (``mfgstudy.code_closure``) without importing it.
"""

# --- verbs ----------------------------------------------------------------------------------
DEVICES = ("auto", "cpu", "cuda")  # every verb's --device (mfgstudy.device.resolve)


def option(name: str) -> str:
    """The command-line option of a job's keyword ``name``: ``--<name with dashes>``."""
    return "--" + name.replace("_", "-")


# verb: (module, job function). The verb's options are the function's parameters, each as
# --<name with dashes> (mfgstudy.cli derives them from its signature: the interface is
# written once, in the function); a job that takes **inputs names them in its package
# (mfgstudy.cli.STATED_OPTIONS).
VERBS = {
    "prepare-data": ("data", "prepare"),
    "train": ("jobs.train", "train_job"),
    "train-classifier": ("jobs.classifier", "classifier_job"),
    "sample": ("jobs.sample", "sample_unit"),
    "evaluate": ("jobs.evaluate", "evaluate_unit"),
    "floor": ("jobs.floor", "floor"),
    "reference": ("jobs.references", "reference_job"),
    "unit": ("jobs.unit", "unit_job"),
    "collect": ("jobs.collect", "collect"),
    "figure1": ("report.paper", "figure1"),
    "slopes": ("report.paper", "slopes_table"),
    "convergence-closed-form": ("jobs.convergence", "closed_form_job"),
    "convergence-mixture": ("jobs.convergence", "mixture_job"),
    "robustness-exact": ("jobs.robustness_exact", "robustness_job"),
    "robustness-exact-table": ("report.robustness", "exact_table"),
    "robustness-exact-figure": ("report.robustness", "exact_figure"),
    "convergence-table": ("report.paper", "convergence_table"),
    "table1": ("report.paper", "table1"),
    "table2": ("report.robustness", "table2"),
    "robustness-table": ("report.robustness", "robustness_table"),
    "injection": ("jobs.injection", "injection_job"),
    "injection-figure": ("report.robustness", "injection_figure"),
    "claims": ("report.claims.ledger", "claims_job"),
    "robustness-figure": ("report.robustness", "robustness_figure"),
    "hjb-table": ("report.hjb", "hjb_table"),
    "hjb-figure": ("report.hjb", "hjb_figure"),
    "mfg-equilibrium": ("jobs.mfg_equilibrium", "equilibrium_job"),
    "mfg-equilibrium-table": ("report.mfg", "equilibrium_table"),
    "mfg-equilibrium-figure": ("report.mfg", "equilibrium_figure"),
    "proposition6-exact": ("jobs.proposition6", "exact_job"),
    "proposition6-table": ("report.mfg", "proposition6_table"),
    "cost-perturbation": ("jobs.cost_perturbation", "cost_perturbation_job"),
    "cost-perturbation-table": ("report.cost_perturbation", "cost_perturbation_table"),
    "cost-perturbation-figure": ("report.cost_perturbation", "cost_perturbation_figure"),
    "mfg-readings-table": ("report.mfg", "readings_table"),
    "dirac-table": ("report.pde", "dirac_table"),
    "memorisation-table": ("report.pde", "memorisation_table"),
    "html-report": ("report.html", "html_report"),
    "export": ("report.export", "export_job"),
    "concentration": ("report.pde", "concentration"),
}
