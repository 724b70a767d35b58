# MFG-Diffusion's fair trial: its equilibrium in closed form on a Gaussian law per reading of the
# HJB step (config `mfg_equilibrium`), and the readings ablation against DDPM at the same budget
# (report.mfg_readings: sweeps of trained models).
MFG_EQUILIBRIUM = config.get("mfg_equilibrium")

if MFG_EQUILIBRIUM:

    rule mfg_equilibrium:
        input:
            plan.mfg_equilibrium_data(config),
        output:
            directory(plan.MFG_EQUILIBRIUM),
        log:
            "results/logs/mfg_equilibrium/gaussian.log",
        benchmark:
            "results/benchmarks/mfg_equilibrium/gaussian.tsv"
        conda:
            ENV
        threads: 1
        resources:
            gpu=0,
            mem_mb=2000,
            runtime=10,
        params:
            code=plan.code_hash("mfg-equilibrium"),
            spec=as_json(plan.mfg_equilibrium_spec(config)),
        shell:
            "python -m mfgstudy mfg-equilibrium --code {params.code} --spec {params.spec:q} "
            "--data {input:q} --out {output:q} 2> {log:q}"

    rule mfg_equilibrium_report:
        input:
            plan.MFG_EQUILIBRIUM,
        output:
            csv=reported(
                plan.MFG_EQUILIBRIUM_TABLE["csv"],
                "mfg_equilibrium",
                "4. MFG-Diffusion",
            ),
            md=plan.MFG_EQUILIBRIUM_TABLE["md"],
            png=reported(
                plan.FIG_MFG_EQUILIBRIUM["png"], "mfg_equilibrium", "4. MFG-Diffusion"
            ),
            pdf=plan.FIG_MFG_EQUILIBRIUM["pdf"],
        log:
            "results/logs/mfg_equilibrium/report.log",
        benchmark:
            "results/benchmarks/mfg_equilibrium/report.tsv"
        conda:
            ENV
        threads: 1
        resources:
            gpu=0,
            mem_mb=2000,
            runtime=10,
        params:
            code=plan.code_hash("mfg-equilibrium-table"),
        shell:
            "(python -m mfgstudy mfg-equilibrium-table --code {params.code} --store {input:q} "
            "--csv {output.csv:q} --md {output.md:q} && python -m mfgstudy mfg-equilibrium-figure "
            "--code {params.code} --store {input:q} --png {output.png:q} --pdf {output.pdf:q}) "
            "2> {log:q}"


if config["report"].get("mfg_readings"):

    rule mfg_readings_table:
        input:
            plan.CUBE,
        output:
            csv=reported(
                plan.MFG_READINGS_TABLE["csv"], "mfg_readings", "4. MFG-Diffusion"
            ),
            md=plan.MFG_READINGS_TABLE["md"],
        log:
            "results/logs/mfg_readings_table.log",
        benchmark:
            "results/benchmarks/mfg_readings_table.tsv"
        conda:
            ENV
        threads: 1
        resources:
            gpu=0,
            mem_mb=2000,
            runtime=10,
        params:
            code=plan.code_hash("mfg-readings-table"),
            spec=as_json(plan.mfg_readings_spec(config)),
        shell:
            "python -m mfgstudy mfg-readings-table --code {params.code} --spec {params.spec:q} "
            "--cube {input:q} --csv {output.csv:q} --md {output.md:q} 2> {log:q}"
