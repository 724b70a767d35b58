# The companion papers' studies (config report.studies): HJB-regularised SGM on the checkerboard
# (MFG laboratory, section 7) and the PDE-perspective experiments; and MFG-Diffusion's readings
# ablation (report.mfg_readings). Each rule turns the metrics cube (and, for the HJB figure, the
# samples and the HJB table) into a table or a figure.
from mfgstudy.pipeline import specs_studies

# the studies' tables: the metrics cube and the table's spec -> csv, md (where the study is run)
if "hjb" in STUDIES:

    rule hjb_table:
        input:
            rules.collect.output[0],
        output:
            csv=reported("results/tables/hjb_checkerboard.csv", "study"),
            md="results/tables/hjb_checkerboard.md",
        log:
            "results/logs/study_table/hjb_checkerboard.log",
        benchmark:
            "results/benchmarks/study_table/hjb_checkerboard.tsv"
        localrule: True
        conda:
            ENV
        threads: 1
        params:
            code=commands.code_hash("hjb-table"),
            spec=study_params("hjb"),
        shell:
            "python -m mfgstudy hjb-table --code {params.code} --spec {params.spec:q} "
            "--cube-path {input:q} --csv {output.csv:q} --md {output.md:q} 2> {log:q}"


if "dirac" in STUDIES:

    rule dirac_table:
        input:
            rules.collect.output[0],
        output:
            csv=reported("results/tables/dirac_theorem2.csv", "study"),
            md="results/tables/dirac_theorem2.md",
        log:
            "results/logs/study_table/dirac_theorem2.log",
        benchmark:
            "results/benchmarks/study_table/dirac_theorem2.tsv"
        localrule: True
        conda:
            ENV
        threads: 1
        params:
            code=commands.code_hash("dirac-table"),
            spec=study_params("dirac"),
        shell:
            "python -m mfgstudy dirac-table --code {params.code} --spec {params.spec:q} "
            "--cube-path {input:q} --csv {output.csv:q} --md {output.md:q} 2> {log:q}"


if "memorisation" in STUDIES:

    rule memorisation_table:
        input:
            rules.collect.output[0],
        output:
            csv=reported("results/tables/memorisation.csv", "study"),
            md="results/tables/memorisation.md",
        log:
            "results/logs/study_table/memorisation.log",
        benchmark:
            "results/benchmarks/study_table/memorisation.tsv"
        localrule: True
        conda:
            ENV
        threads: 1
        params:
            code=commands.code_hash("memorisation-table"),
            spec=study_params("memorisation"),
        shell:
            "python -m mfgstudy memorisation-table --code {params.code} --spec {params.spec:q} "
            "--cube-path {input:q} --csv {output.csv:q} --md {output.md:q} 2> {log:q}"


if config["report"].get("mfg_readings"):

    rule mfg_readings_table:
        input:
            rules.collect.output[0],
        output:
            csv=reported("results/tables/mfg_readings.csv", "mfg_readings"),
            md="results/tables/mfg_readings.md",
        log:
            "results/logs/study_table/mfg_readings.log",
        benchmark:
            "results/benchmarks/study_table/mfg_readings.tsv"
        localrule: True
        conda:
            ENV
        threads: 1
        params:
            code=commands.code_hash("mfg-readings-table"),
            spec=as_json(specs_studies.mfg_readings_spec(config)),
        shell:
            "python -m mfgstudy mfg-readings-table --code {params.code} --spec {params.spec:q} "
            "--cube-path {input:q} --csv {output.csv:q} --md {output.md:q} 2> {log:q}"


if "hjb" in STUDIES:

    rule hjb_figure:
        input:
            data=specs_studies.hjb_data(config),
            samples=specs_studies.hjb_samples(config),
            table=rules.hjb_table.output.csv,  # per-panel statistics, converged or not
        output:
            png=reported("results/figures/fig_hjb_checkerboard.png", "hjb_figure"),
            pdf="results/figures/fig_hjb_checkerboard.pdf",
        log:
            "results/logs/hjb_figure.log",
        benchmark:
            "results/benchmarks/hjb_figure.tsv"
        localrule: True
        conda:
            ENV
        threads: 1
        params:
            code=commands.code_hash("hjb-figure"),
            spec=study_params("hjb"),
        shell:
            "python -m mfgstudy hjb-figure --code {params.code} --spec {params.spec:q} "
            "--data-path {input.data:q} --sample-dirs {input.samples:q} --table {input.table:q} "
            "--png {output.png:q} --pdf {output.pdf:q} 2> {log:q}"


if "concentration" in STUDIES:

    rule concentration:
        input:
            rules.collect.output[0],
        output:
            csv=reported("results/tables/concentration.csv", "study"),
            md="results/tables/concentration.md",
            png=reported(
                "results/figures/fig_concentration.png", "concentration_figure"
            ),
            pdf="results/figures/fig_concentration.pdf",
        log:
            "results/logs/concentration.log",
        benchmark:
            "results/benchmarks/concentration.tsv"
        localrule: True
        conda:
            ENV
        threads: 1
        params:
            code=commands.code_hash("concentration"),
            spec=study_params("concentration"),
        shell:
            "python -m mfgstudy concentration --code {params.code} --spec {params.spec:q} "
            "--cube-path {input:q} --csv {output.csv:q} --md {output.md:q} --png {output.png:q} "
            "--pdf {output.pdf:q} 2> {log:q}"
