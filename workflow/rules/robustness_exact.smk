# Theorem 4 and Corollary 5 at the equilibrium (config `robustness_exact`): the exact score of
# each law under each perturbation kind, every eps and seed in one job; then the exponent table
# and the figure.
from mfgstudy.pipeline import specs_closed_form

ROBUSTNESS_EXACT = config.get("robustness_exact")

if ROBUSTNESS_EXACT:

    rule robustness_exact:
        output:
            directory("results/robustness_exact/{law}/{perturbation}.zarr"),
        log:
            "results/logs/robustness_exact/{law}/{perturbation}.log",
        benchmark:
            "results/benchmarks/robustness_exact/{law}/{perturbation}.tsv"
        conda:
            ENV
        threads: 1
        resources:
            mem_mb=8000,  # the paper's 2e5 samples per seed
            runtime=240,
        params:
            code=commands.code_hash("robustness-exact"),
            spec=lambda wc: as_json(
                specs_closed_form.robustness_exact_spec(
                    config, wc.law, wc.perturbation
                )
            ),
        shell:
            "python -m mfgstudy robustness-exact --code {params.code} --spec {params.spec:q} "
            "--out {output:q} 2> {log:q}"

    rule robustness_exact_table:
        input:
            specs_closed_form.robustness_exact_stores(config),
        output:
            csv=reported(
                "results/tables/robustness_exact_exponents.csv", "robustness_exact"
            ),
            md="results/tables/robustness_exact_exponents.md",
            tex="results/tables/robustness_exact_exponents.tex",
        log:
            "results/logs/robustness_exact_table.log",
        benchmark:
            "results/benchmarks/robustness_exact_table.tsv"
        localrule: True
        conda:
            ENV
        threads: 1
        params:
            code=commands.code_hash("robustness-exact-table"),
            spec=as_json(REPORT_SPEC),
        shell:
            "python -m mfgstudy robustness-exact-table --code {params.code} --spec {params.spec:q} "
            "--store-paths {input:q} --csv {output.csv:q} --md {output.md:q} --tex {output.tex:q} "
            "2> {log:q}"

    rule robustness_exact_figure:
        input:
            specs_closed_form.robustness_exact_stores(config),
        output:
            png=reported("results/figures/fig_robustness_exact.png", "robustness_exact"),
            pdf="results/figures/fig_robustness_exact.pdf",
        log:
            "results/logs/robustness_exact_figure.log",
        benchmark:
            "results/benchmarks/robustness_exact_figure.tsv"
        localrule: True
        conda:
            ENV
        threads: 1
        params:
            code=commands.code_hash("robustness-exact-figure"),
        shell:
            "python -m mfgstudy robustness-exact-figure --code {params.code} --store-paths {input:q} "
            "--png {output.png:q} --pdf {output.pdf:q} 2> {log:q}"
