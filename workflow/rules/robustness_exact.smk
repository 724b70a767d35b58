# Theorem 4 and Corollary 5 at the equilibrium (config `robustness_exact`): the exact score of
# each law under each perturbation kind, every eps and seed in one job; then the exponent table
# and the figure.
from mfgstudy.pipeline import specs_closed_form

ROBUSTNESS_EXACT = config.get("robustness_exact")

if ROBUSTNESS_EXACT:

    rule robustness_exact:
        output:
            directory(paths.robustness_exact),
        log:
            log_path("robustness_exact/{law}/{perturbation}"),
        benchmark:
            benchmark_path("robustness_exact/{law}/{perturbation}")
        conda:
            ENV
        threads: 1
        resources:
            **cpu_job(mem_mb=8000, runtime=240),  # the paper's 2e5 samples per seed
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
            csv=reported(paths.robustness_exact_table.csv, "robustness_exact"),
            md=paths.robustness_exact_table.md,
            tex=paths.robustness_exact_table.tex,
        log:
            log_path("robustness_exact_table"),
        benchmark:
            benchmark_path("robustness_exact_table")
        localrule: True
        conda:
            ENV
        threads: 1
        resources:
            **cpu_job(),
        params:
            code=commands.code_hash("robustness-exact-table"),
            spec=as_json(REPORT_SPEC),
        shell:
            "python -m mfgstudy robustness-exact-table --code {params.code} --spec {params.spec:q} "
            "--stores {input:q} --csv {output.csv:q} --md {output.md:q} --tex {output.tex:q} "
            "2> {log:q}"

    rule robustness_exact_figure:
        input:
            specs_closed_form.robustness_exact_stores(config),
        output:
            png=reported(paths.robustness_exact_figure.png, "robustness_exact"),
            pdf=paths.robustness_exact_figure.pdf,
        log:
            log_path("robustness_exact_figure"),
        benchmark:
            benchmark_path("robustness_exact_figure")
        localrule: True
        conda:
            ENV
        threads: 1
        resources:
            **cpu_job(),
        params:
            code=commands.code_hash("robustness-exact-figure"),
        shell:
            "python -m mfgstudy robustness-exact-figure --code {params.code} --stores {input:q} "
            "--png {output.png:q} --pdf {output.pdf:q} 2> {log:q}"
