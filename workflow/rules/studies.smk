# The companion papers' studies (config report.studies): HJB-regularised SGM on the checkerboard
# (MFG laboratory, section 7) and the PDE-perspective experiments; and MFG-Diffusion's readings
# ablation (report.mfg_readings). Each rule turns the metrics cube (and, for the HJB figure, the
# samples and the HJB table) into a table or a figure.
from mfgstudy.pipeline import specs_studies

# the studies' tables: the metrics cube and the table's spec -> csv, md (where the study is run)
if "hjb" in STUDIES:

    rule hjb_table:
        input:
            paths.cube,
        output:
            csv=reported(paths.hjb_table.csv, "study"),
            md=paths.hjb_table.md,
        log:
            log_path("study_table/hjb_checkerboard"),
        benchmark:
            benchmark_path("study_table/hjb_checkerboard")
        localrule: True
        conda:
            ENV
        threads: 1
        resources:
            **cpu_job(),
        params:
            code=commands.code_hash("hjb-table"),
            spec=study_params("hjb"),
        shell:
            "python -m mfgstudy hjb-table --code {params.code} --spec {params.spec:q} "
            "--cube {input:q} --csv {output.csv:q} --md {output.md:q} 2> {log:q}"


if "dirac" in STUDIES:

    rule dirac_table:
        input:
            paths.cube,
        output:
            csv=reported(paths.dirac_table.csv, "study"),
            md=paths.dirac_table.md,
        log:
            log_path("study_table/dirac_theorem2"),
        benchmark:
            benchmark_path("study_table/dirac_theorem2")
        localrule: True
        conda:
            ENV
        threads: 1
        resources:
            **cpu_job(),
        params:
            code=commands.code_hash("dirac-table"),
            spec=study_params("dirac"),
        shell:
            "python -m mfgstudy dirac-table --code {params.code} --spec {params.spec:q} "
            "--cube {input:q} --csv {output.csv:q} --md {output.md:q} 2> {log:q}"


if "memorisation" in STUDIES:

    rule memorisation_table:
        input:
            paths.cube,
        output:
            csv=reported(paths.memorisation_table.csv, "study"),
            md=paths.memorisation_table.md,
        log:
            log_path("study_table/memorisation"),
        benchmark:
            benchmark_path("study_table/memorisation")
        localrule: True
        conda:
            ENV
        threads: 1
        resources:
            **cpu_job(),
        params:
            code=commands.code_hash("memorisation-table"),
            spec=study_params("memorisation"),
        shell:
            "python -m mfgstudy memorisation-table --code {params.code} --spec {params.spec:q} "
            "--cube {input:q} --csv {output.csv:q} --md {output.md:q} 2> {log:q}"


if config["report"].get("mfg_readings"):

    rule mfg_readings_table:
        input:
            paths.cube,
        output:
            csv=reported(paths.mfg_readings_table.csv, "mfg_readings"),
            md=paths.mfg_readings_table.md,
        log:
            log_path("study_table/mfg_readings"),
        benchmark:
            benchmark_path("study_table/mfg_readings")
        localrule: True
        conda:
            ENV
        threads: 1
        resources:
            **cpu_job(),
        params:
            code=commands.code_hash("mfg-readings-table"),
            spec=as_json(specs_studies.mfg_readings_spec(config)),
        shell:
            "python -m mfgstudy mfg-readings-table --code {params.code} --spec {params.spec:q} "
            "--cube {input:q} --csv {output.csv:q} --md {output.md:q} 2> {log:q}"


if "hjb" in STUDIES:

    rule hjb_figure:
        input:
            data=specs_studies.hjb_data(config),
            samples=specs_studies.hjb_samples(config),
            table=paths.hjb_table.csv,  # per-panel statistics, converged or not
        output:
            png=reported(paths.hjb_figure.png, "hjb_figure"),
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
            png=reported(paths.concentration_figure.png, "concentration_figure"),
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
