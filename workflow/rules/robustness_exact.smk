# Theorem 4 and Corollary 5 at the equilibrium (config `robustness_exact`): the exact score of
# each law under each perturbation kind, every eps and seed in one job; then the exponent table
# and the figure.
ROBUSTNESS_EXACT = config.get("robustness_exact")

if ROBUSTNESS_EXACT:

    rule robustness_exact:
        output:
            directory(plan.ROBUSTNESS_EXACT),
        log:
            "results/logs/robustness_exact/{law}/{perturbation}.log",
        benchmark:
            "results/benchmarks/robustness_exact/{law}/{perturbation}.tsv"
        conda:
            ENV
        threads: 1
        resources:
            gpu=0,
            mem_mb=8000,
            runtime=240,  # minutes: the paper config's 2e5 samples per seed on one core
        params:
            code=plan.code_hash("robustness-exact"),
            spec=lambda wc: as_json(
                plan.robustness_exact_spec(config, wc.law, wc.perturbation)
            ),
        shell:
            "python -m mfgstudy robustness-exact --code {params.code} --spec {params.spec:q} "
            "--out {output:q} 2> {log:q}"

    rule robustness_exact_table:
        input:
            plan.robustness_exact_stores(config),
        output:
            csv=reported(
                plan.ROBUSTNESS_EXACT_TABLE["csv"], "robustness_exact", "3. Robustness"
            ),
            md=plan.ROBUSTNESS_EXACT_TABLE["md"],
            tex=plan.ROBUSTNESS_EXACT_TABLE["tex"],
        log:
            "results/logs/robustness_exact_table.log",
        benchmark:
            "results/benchmarks/robustness_exact_table.tsv"
        conda:
            ENV
        threads: 1
        resources:
            gpu=0,
            mem_mb=2000,
            runtime=10,
        params:
            code=plan.code_hash("robustness-exact-table"),
            spec=as_json(REPORT_SPEC),
        shell:
            "python -m mfgstudy robustness-exact-table --code {params.code} --spec {params.spec:q} "
            "--stores {input:q} --csv {output.csv:q} --md {output.md:q} --tex {output.tex:q} "
            "2> {log:q}"

    rule robustness_exact_figure:
        input:
            plan.robustness_exact_stores(config),
        output:
            png=reported(
                plan.FIG_ROBUSTNESS_EXACT["png"], "robustness_exact", "3. Robustness"
            ),
            pdf=plan.FIG_ROBUSTNESS_EXACT["pdf"],
        log:
            "results/logs/robustness_exact_figure.log",
        benchmark:
            "results/benchmarks/robustness_exact_figure.tsv"
        conda:
            ENV
        threads: 1
        resources:
            gpu=0,
            mem_mb=2000,
            runtime=10,
        params:
            code=plan.code_hash("robustness-exact-figure"),
        shell:
            "python -m mfgstudy robustness-exact-figure --code {params.code} --stores {input:q} "
            "--png {output.png:q} --pdf {output.pdf:q} 2> {log:q}"
