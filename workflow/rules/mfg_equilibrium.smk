# MFG-Diffusion's fair trial: its equilibrium in closed form on a Gaussian law per reading of the
# HJB step (config `mfg_equilibrium`). The readings ablation against DDPM at the same budget
# (report.mfg_readings) is a study table: studies.smk.
from mfgstudy.pipeline import specs_closed_form

MFG_EQUILIBRIUM = config.get("mfg_equilibrium")

if MFG_EQUILIBRIUM:

    rule mfg_equilibrium:
        input:
            specs_closed_form.mfg_equilibrium_data(config),
        output:
            directory("results/mfg_equilibrium/gaussian.zarr"),
        log:
            "results/logs/mfg_equilibrium/gaussian.log",
        benchmark:
            "results/benchmarks/mfg_equilibrium/gaussian.tsv"
        conda:
            ENV
        threads: 1
        params:
            code=commands.code_hash("mfg-equilibrium"),
            spec=as_json(specs_closed_form.mfg_equilibrium_spec(config)),
        shell:
            "python -m mfgstudy mfg-equilibrium --code {params.code} --spec {params.spec:q} "
            "--data-path {input:q} --out {output:q} 2> {log:q}"

    rule mfg_equilibrium_report:
        input:
            rules.mfg_equilibrium.output[0],
        output:
            csv=reported(
                "results/tables/mfg_equilibrium_gaussian.csv", "mfg_equilibrium"
            ),
            md="results/tables/mfg_equilibrium_gaussian.md",
            png=reported(
                "results/figures/fig_mfg_equilibrium_gaussian.png", "mfg_equilibrium"
            ),
            pdf="results/figures/fig_mfg_equilibrium_gaussian.pdf",
        log:
            "results/logs/mfg_equilibrium/report.log",
        benchmark:
            "results/benchmarks/mfg_equilibrium/report.tsv"
        localrule: True
        conda:
            ENV
        threads: 1
        params:
            code=commands.code_hash("mfg-equilibrium-table"),
        shell:
            "(python -m mfgstudy mfg-equilibrium-table --code {params.code} --store-path {input:q} "
            "--csv {output.csv:q} --md {output.md:q} && python -m mfgstudy mfg-equilibrium-figure "
            "--code {params.code} --store-path {input:q} --png {output.png:q} --pdf {output.pdf:q}) "
            "2> {log:q}"


# Theorem 4 on its own statement (config `cost_perturbation`): the equilibrium of a perturbed
# cost per reading of Algorithm 1 on the Gaussian law, every family and eps in one job.
COST_PERTURBATION = config.get("cost_perturbation")

if COST_PERTURBATION:

    rule cost_perturbation:
        input:
            specs_closed_form.cost_perturbation_data(config),
        output:
            directory("results/cost_perturbation/gaussian.zarr"),
        log:
            "results/logs/cost_perturbation/gaussian.log",
        benchmark:
            "results/benchmarks/cost_perturbation/gaussian.tsv"
        conda:
            ENV
        threads: 1
        resources:
            runtime=30,
        params:
            code=commands.code_hash("cost-perturbation"),
            spec=as_json(specs_closed_form.cost_perturbation_spec(config)),
        shell:
            "python -m mfgstudy cost-perturbation --code {params.code} --spec {params.spec:q} "
            "--data-path {input:q} --out {output:q} 2> {log:q}"

    rule cost_perturbation_report:
        input:
            rules.cost_perturbation.output[0],
        output:
            csv=reported(
                "results/tables/theorem4_cost_perturbation.csv", "cost_perturbation"
            ),
            md="results/tables/theorem4_cost_perturbation.md",
            png=reported(
                "results/figures/fig_theorem4_cost_perturbation.png",
                "cost_perturbation",
            ),
            pdf="results/figures/fig_theorem4_cost_perturbation.pdf",
        log:
            "results/logs/cost_perturbation/report.log",
        benchmark:
            "results/benchmarks/cost_perturbation/report.tsv"
        localrule: True
        conda:
            ENV
        threads: 1
        params:
            code=commands.code_hash("cost-perturbation-table"),
            spec=as_json(REPORT_SPEC),
        shell:
            "(python -m mfgstudy cost-perturbation-table --code {params.code} "
            "--spec {params.spec:q} --store-path {input:q} --csv {output.csv:q} --md {output.md:q} "
            "&& python -m mfgstudy cost-perturbation-figure --code {params.code} "
            "--store-path {input:q} --png {output.png:q} --pdf {output.pdf:q}) 2> {log:q}"


# Proposition 6 without a network (config `proposition6_exact`): Algorithm 1's exact iterates on
# the Gaussian law under the chosen reading, and the violation's rate in K per step size.
PROPOSITION6 = config.get("proposition6_exact")

if PROPOSITION6:

    rule proposition6_exact:
        input:
            specs_closed_form.proposition6_data(config),
        output:
            directory("results/proposition6/gaussian.zarr"),
        log:
            "results/logs/proposition6/gaussian.log",
        benchmark:
            "results/benchmarks/proposition6/gaussian.tsv"
        conda:
            ENV
        threads: 1
        params:
            code=commands.code_hash("proposition6-exact"),
            spec=as_json(specs_closed_form.proposition6_spec(config)),
        shell:
            "python -m mfgstudy proposition6-exact --code {params.code} --spec {params.spec:q} "
            "--data-path {input:q} --out {output:q} 2> {log:q}"

    rule proposition6_table:
        input:
            rules.proposition6_exact.output[0],
        output:
            csv=reported("results/tables/proposition6_exact.csv", "proposition6"),
            md="results/tables/proposition6_exact.md",
        log:
            "results/logs/proposition6/table.log",
        benchmark:
            "results/benchmarks/proposition6/table.tsv"
        localrule: True
        conda:
            ENV
        threads: 1
        params:
            code=commands.code_hash("proposition6-table"),
            spec=as_json(specs_closed_form.proposition6_spec(config)),
        shell:
            "python -m mfgstudy proposition6-table --code {params.code} --spec {params.spec:q} "
            "--store-path {input:q} --csv {output.csv:q} --md {output.md:q} 2> {log:q}"
