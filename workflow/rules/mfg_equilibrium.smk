# MFG-Diffusion's fair trial: its equilibrium in closed form on a Gaussian law per reading of the
# HJB step (config `mfg_equilibrium`). The readings ablation against DDPM at the same budget
# (report.mfg_readings) is a study table: studies.smk.
MFG_EQUILIBRIUM = config.get("mfg_equilibrium")

if MFG_EQUILIBRIUM:

    rule mfg_equilibrium:
        input:
            plan.mfg_equilibrium_data(config),
        output:
            directory(paths.mfg_equilibrium),
        log:
            plan.log_path("mfg_equilibrium/gaussian"),
        benchmark:
            plan.benchmark_path("mfg_equilibrium/gaussian")
        conda:
            ENV
        threads: 1
        resources:
            **cpu_job(),
        params:
            code=plan.code_hash("mfg-equilibrium"),
            spec=as_json(plan.mfg_equilibrium_spec(config)),
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
            plan.log_path("mfg_equilibrium/report"),
        benchmark:
            plan.benchmark_path("mfg_equilibrium/report")
        conda:
            ENV
        threads: 1
        resources:
            **cpu_job(),
        params:
            code=plan.code_hash("mfg-equilibrium-table"),
        shell:
            "(python -m mfgstudy mfg-equilibrium-table --code {params.code} --store {input:q} "
            "--csv {output.csv:q} --md {output.md:q} && python -m mfgstudy mfg-equilibrium-figure "
            "--code {params.code} --store {input:q} --png {output.png:q} --pdf {output.pdf:q}) "
            "2> {log:q}"
