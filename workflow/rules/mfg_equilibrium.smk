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
            directory(paths.mfg_equilibrium),
        log:
            log_path("mfg_equilibrium/gaussian"),
        benchmark:
            benchmark_path("mfg_equilibrium/gaussian")
        conda:
            ENV
        threads: 1
        resources:
            **cpu_job(),
        params:
            code=commands.code_hash("mfg-equilibrium"),
            spec=as_json(specs_closed_form.mfg_equilibrium_spec(config)),
        shell:
            "python -m mfgstudy mfg-equilibrium --code {params.code} --spec {params.spec:q} "
            "--data {input:q} --out {output:q} 2> {log:q}"

    rule mfg_equilibrium_report:
        input:
            paths.mfg_equilibrium,
        output:
            csv=reported(paths.mfg_equilibrium_table.csv, "mfg_equilibrium"),
            md=paths.mfg_equilibrium_table.md,
            png=reported(paths.mfg_equilibrium_figure.png, "mfg_equilibrium"),
            pdf=paths.mfg_equilibrium_figure.pdf,
        log:
            log_path("mfg_equilibrium/report"),
        benchmark:
            benchmark_path("mfg_equilibrium/report")
        localrule: True
        conda:
            ENV
        threads: 1
        resources:
            **cpu_job(),
        params:
            code=commands.code_hash("mfg-equilibrium-table"),
        shell:
            "(python -m mfgstudy mfg-equilibrium-table --code {params.code} --store {input:q} "
            "--csv {output.csv:q} --md {output.md:q} && python -m mfgstudy mfg-equilibrium-figure "
            "--code {params.code} --store {input:q} --png {output.png:q} --pdf {output.pdf:q}) "
            "2> {log:q}"


# Theorem 4 on its own statement (config `cost_perturbation`): the equilibrium of a perturbed
# cost per reading of Algorithm 1 on the Gaussian law, every family and eps in one job.
COST_PERTURBATION = config.get("cost_perturbation")

if COST_PERTURBATION:

    rule cost_perturbation:
        input:
            specs_closed_form.cost_perturbation_data(config),
        output:
            directory(paths.cost_perturbation),
        log:
            log_path("cost_perturbation/gaussian"),
        benchmark:
            benchmark_path("cost_perturbation/gaussian")
        conda:
            ENV
        threads: 1
        resources:
            **cpu_job(runtime=30),
        params:
            code=commands.code_hash("cost-perturbation"),
            spec=as_json(specs_closed_form.cost_perturbation_spec(config)),
        shell:
            "python -m mfgstudy cost-perturbation --code {params.code} --spec {params.spec:q} "
            "--data {input:q} --out {output:q} 2> {log:q}"

    rule cost_perturbation_report:
        input:
            paths.cost_perturbation,
        output:
            csv=reported(paths.cost_perturbation_table.csv, "cost_perturbation"),
            md=paths.cost_perturbation_table.md,
            png=reported(paths.cost_perturbation_figure.png, "cost_perturbation"),
            pdf=paths.cost_perturbation_figure.pdf,
        log:
            log_path("cost_perturbation/report"),
        benchmark:
            benchmark_path("cost_perturbation/report")
        localrule: True
        conda:
            ENV
        threads: 1
        resources:
            **cpu_job(),
        params:
            code=commands.code_hash("cost-perturbation-table"),
            spec=as_json(REPORT_SPEC),
        shell:
            "(python -m mfgstudy cost-perturbation-table --code {params.code} "
            "--spec {params.spec:q} --store {input:q} --csv {output.csv:q} --md {output.md:q} "
            "&& python -m mfgstudy cost-perturbation-figure --code {params.code} "
            "--store {input:q} --png {output.png:q} --pdf {output.pdf:q}) 2> {log:q}"


# Proposition 6 without a network (config `proposition6_exact`): Algorithm 1's exact iterates on
# the Gaussian law under the chosen reading, and the violation's rate in K per step size.
PROPOSITION6 = config.get("proposition6_exact")

if PROPOSITION6:

    rule proposition6_exact:
        input:
            specs_closed_form.proposition6_data(config),
        output:
            directory(paths.proposition6),
        log:
            log_path("proposition6/gaussian"),
        benchmark:
            benchmark_path("proposition6/gaussian")
        conda:
            ENV
        threads: 1
        resources:
            **cpu_job(),
        params:
            code=commands.code_hash("proposition6-exact"),
            spec=as_json(specs_closed_form.proposition6_spec(config)),
        shell:
            "python -m mfgstudy proposition6-exact --code {params.code} --spec {params.spec:q} "
            "--data {input:q} --out {output:q} 2> {log:q}"

    rule proposition6_table:
        input:
            paths.proposition6,
        output:
            csv=reported(paths.proposition6_table.csv, "proposition6"),
            md=paths.proposition6_table.md,
        log:
            log_path("proposition6/table"),
        benchmark:
            benchmark_path("proposition6/table")
        localrule: True
        conda:
            ENV
        threads: 1
        resources:
            **cpu_job(),
        params:
            code=commands.code_hash("proposition6-table"),
            spec=as_json(specs_closed_form.proposition6_spec(config)),
        shell:
            "python -m mfgstudy proposition6-table --code {params.code} --spec {params.spec:q} "
            "--store {input:q} --csv {output.csv:q} --md {output.md:q} 2> {log:q}"
