# The companion papers' studies (config report.studies): HJB-regularised SGM on the checkerboard
# (MFG laboratory, section 7) and the PDE-perspective experiments; and MFG-Diffusion's readings
# ablation (report.mfg_readings). Each rule turns the metrics cube (and, for the HJB figure, the
# samples and the HJB table) into a table or a figure.
from mfgstudy.pipeline import specs_studies


# a study's table (STUDY_TABLES in common.smk: name -> CLI verb, spec)
rule study_table:
    input:
        paths.cube,
    output:
        csv=reported(paths.study_table.csv, "study", STUDY_TABLES.per_job("section")),
        md=paths.study_table.md,
    log:
        log_path("study_table/{study_table}"),
    benchmark:
        benchmark_path("study_table/{study_table}")
    localrule: True
    conda:
        ENV
    threads: 1
    resources:
        **cpu_job(),
    params:
        verb=STUDY_TABLES.per_job("verb"),
        code=STUDY_TABLES.per_job("code"),
        spec=STUDY_TABLES.per_job("spec"),
    shell:
        "python -m mfgstudy {params.verb} --code {params.code} --spec {params.spec:q} "
        "--cube {input:q} --csv {output.csv:q} --md {output.md:q} 2> {log:q}"


if "hjb" in STUDIES:

    rule hjb_figure:
        input:
            data=specs_studies.hjb_data(config),
            samples=specs_studies.hjb_samples(config),
            table=paths.hjb_table.csv,  # per-panel statistics, converged or not
        output:
            png=reported(paths.hjb_figure.png, "hjb_figure", COMPANION),
            pdf=paths.hjb_figure.pdf,
        log:
            log_path("hjb_figure"),
        benchmark:
            benchmark_path("hjb_figure")
        localrule: True
        conda:
            ENV
        threads: 1
        resources:
            **cpu_job(),
        params:
            code=commands.code_hash("hjb-figure"),
            spec=study_params("hjb"),
        shell:
            "python -m mfgstudy hjb-figure --code {params.code} --spec {params.spec:q} "
            "--data {input.data:q} --samples {input.samples:q} --table {input.table:q} "
            "--png {output.png:q} --pdf {output.pdf:q} 2> {log:q}"


if "concentration" in STUDIES:

    rule concentration:
        input:
            paths.cube,
        output:
            csv=reported(paths.concentration_table.csv, "study"),
            md=paths.concentration_table.md,
            png=reported(
                paths.concentration_figure.png, "concentration_figure", COMPANION
            ),
            pdf=paths.concentration_figure.pdf,
        log:
            log_path("concentration"),
        benchmark:
            benchmark_path("concentration")
        localrule: True
        conda:
            ENV
        threads: 1
        resources:
            **cpu_job(),
        params:
            code=commands.code_hash("concentration"),
            spec=study_params("concentration"),
        shell:
            "python -m mfgstudy concentration --code {params.code} --spec {params.spec:q} "
            "--cube {input:q} --csv {output.csv:q} --md {output.md:q} --png {output.png:q} "
            "--pdf {output.pdf:q} 2> {log:q}"
