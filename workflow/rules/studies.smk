# The companion papers' studies (config report.studies): HJB-regularised SGM on the
# checkerboard (MFG laboratory, section 7) and the PDE-perspective experiments. Each rule turns
# the metrics cube (and, for the HJB figure, the samples and the HJB table) into a table or a
# figure.

if "hjb" in STUDIES:

    rule hjb_table:
        input:
            plan.CUBE,
        output:
            csv=reported(
                plan.study_outputs("hjb")["csv"], "study", "4. Companion papers"
            ),
            md=plan.study_outputs("hjb")["md"],
        log:
            "results/logs/hjb_table.log",
        benchmark:
            "results/benchmarks/hjb_table.tsv"
        conda:
            ENV
        threads: 1
        resources:
            gpu=0,
            mem_mb=2000,
            runtime=10,
        params:
            code=plan.code_hash("hjb-table"),
            spec=study_params("hjb"),
        shell:
            "python -m mfgstudy hjb-table --code {params.code} --spec {params.spec:q} "
            "--cube {input:q} --csv {output.csv:q} --md {output.md:q} 2> {log:q}"

    rule hjb_figure:
        input:
            data=plan.hjb_data(config),
            samples=plan.hjb_samples(config),
            table=plan.study_outputs("hjb")["csv"],  # per-panel statistics, converged or not
        output:
            png=reported(
                plan.study_outputs("hjb")["png"], "study", "4. Companion papers"
            ),
            pdf=plan.study_outputs("hjb")["pdf"],
        log:
            "results/logs/hjb_figure.log",
        benchmark:
            "results/benchmarks/hjb_figure.tsv"
        conda:
            ENV
        threads: 1
        resources:
            gpu=0,
            mem_mb=2000,
            runtime=10,
        params:
            code=plan.code_hash("hjb-figure"),
            spec=study_params("hjb"),
        shell:
            "python -m mfgstudy hjb-figure --code {params.code} --spec {params.spec:q} "
            "--data {input.data:q} --samples {input.samples:q} --table {input.table:q} "
            "--png {output.png:q} --pdf {output.pdf:q} 2> {log:q}"


if "dirac" in STUDIES:

    rule dirac_table:
        input:
            plan.CUBE,
        output:
            csv=reported(
                plan.study_outputs("dirac")["csv"], "study", "4. Companion papers"
            ),
            md=plan.study_outputs("dirac")["md"],
        log:
            "results/logs/dirac_table.log",
        benchmark:
            "results/benchmarks/dirac_table.tsv"
        conda:
            ENV
        threads: 1
        resources:
            gpu=0,
            mem_mb=2000,
            runtime=10,
        params:
            code=plan.code_hash("dirac-table"),
            spec=study_params("dirac"),
        shell:
            "python -m mfgstudy dirac-table --code {params.code} --spec {params.spec:q} "
            "--cube {input:q} --csv {output.csv:q} --md {output.md:q} 2> {log:q}"


if "memorisation" in STUDIES:

    rule memorisation_table:
        input:
            plan.CUBE,
        output:
            csv=reported(
                plan.study_outputs("memorisation")["csv"],
                "study",
                "4. Companion papers",
            ),
            md=plan.study_outputs("memorisation")["md"],
        log:
            "results/logs/memorisation_table.log",
        benchmark:
            "results/benchmarks/memorisation_table.tsv"
        conda:
            ENV
        threads: 1
        resources:
            gpu=0,
            mem_mb=2000,
            runtime=10,
        params:
            code=plan.code_hash("memorisation-table"),
            spec=study_params("memorisation"),
        shell:
            "python -m mfgstudy memorisation-table --code {params.code} --spec {params.spec:q} "
            "--cube {input:q} --csv {output.csv:q} --md {output.md:q} 2> {log:q}"


if "concentration" in STUDIES:

    rule concentration:
        input:
            plan.CUBE,
        output:
            csv=reported(
                plan.study_outputs("concentration")["csv"],
                "study",
                "4. Companion papers",
            ),
            md=plan.study_outputs("concentration")["md"],
            png=reported(
                plan.study_outputs("concentration")["png"],
                "study",
                "4. Companion papers",
            ),
            pdf=plan.study_outputs("concentration")["pdf"],
        log:
            "results/logs/concentration.log",
        benchmark:
            "results/benchmarks/concentration.tsv"
        conda:
            ENV
        threads: 1
        resources:
            gpu=0,
            mem_mb=2000,
            runtime=10,
        params:
            code=plan.code_hash("concentration"),
            spec=study_params("concentration"),
        shell:
            "python -m mfgstudy concentration --code {params.code} --spec {params.spec:q} "
            "--cube {input:q} --csv {output.csv:q} --md {output.md:q} --png {output.png:q} "
            "--pdf {output.pdf:q} 2> {log:q}"
