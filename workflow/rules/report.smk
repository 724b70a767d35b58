from mfgstudy.pipeline import specs_claims, specs_closed_form, specs_units, targets


rule collect:
    input:
        metrics=targets.metric_dirs(config),
        floors=targets.floors(config),
    output:
        directory(paths.cube),
    log:
        log_path("collect"),
    benchmark:
        benchmark_path("collect")
    conda:
        ENV
    threads: 1
    resources:
        **cpu_job(),
    params:
        code=commands.code_hash("collect"),
    shell:
        "python -m mfgstudy collect --code {params.code} --metrics {input.metrics:q} "
        "--floors {input.floors:q} --out {output:q} 2> {log:q}"


REPORT_SPEC = {
    **specs_units.report_spec(config),
    "reference_steps": {
        k: s.get("reference_steps") for k, s in config["sweeps"].items()
    },
}


rule figure1:
    input:
        cube=paths.cube,
        convergence=specs_closed_form.convergence_stores(config),
    output:
        png=reported(paths.figure1.png, "figure1"),
        pdf=paths.figure1.pdf,
    log:
        log_path("figure1"),
    benchmark:
        benchmark_path("figure1")
    localrule: True
    conda:
        ENV
    threads: 1
    resources:
        **cpu_job(),
    params:
        code=commands.code_hash("figure1"),
        spec=as_json(REPORT_SPEC),
        convergence=lambda wc, input: opt("--convergence", input.convergence),
    shell:
        "python -m mfgstudy figure1 --code {params.code} --spec {params.spec:q} "
        "--cube {input.cube:q} {params.convergence} --png {output.png:q} --pdf {output.pdf:q} "
        "2> {log:q}"


rule slopes_table:
    input:
        cube=paths.cube,
        convergence=specs_closed_form.convergence_stores(config),
    output:
        csv=reported(paths.slopes_table.csv, "slopes"),
        md=paths.slopes_table.md,
    log:
        log_path("slopes_table"),
    benchmark:
        benchmark_path("slopes_table")
    localrule: True
    conda:
        ENV
    threads: 1
    resources:
        **cpu_job(),
    params:
        code=commands.code_hash("slopes"),
        spec=as_json(REPORT_SPEC),
        convergence=lambda wc, input: opt("--convergence", input.convergence),
    shell:
        "python -m mfgstudy slopes --code {params.code} --spec {params.spec:q} "
        "--cube {input.cube:q} {params.convergence} --csv {output.csv:q} --md {output.md:q} "
        "2> {log:q}"


# the paper's Tables 1 and 2 at this scale: the metrics cube -> csv, md, tex
rule table1:
    input:
        paths.cube,
    output:
        csv=reported(paths.table1.csv, "table1"),
        md=paths.table1.md,
        tex=paths.table1.tex,
    log:
        log_path("paper_table/table1_images"),
    benchmark:
        benchmark_path("paper_table/table1_images")
    localrule: True
    conda:
        ENV
    threads: 1
    resources:
        **cpu_job(),
    params:
        code=commands.code_hash("table1"),
    shell:
        "python -m mfgstudy table1 --code {params.code} --cube {input:q} "
        "--csv {output.csv:q} --md {output.md:q} --tex {output.tex:q} 2> {log:q}"


rule table2:
    input:
        paths.cube,
    output:
        csv=reported(paths.table2.csv, "table2"),
        md=paths.table2.md,
        tex=paths.table2.tex,
    log:
        log_path("paper_table/table2_perturbed_images"),
    benchmark:
        benchmark_path("paper_table/table2_perturbed_images")
    localrule: True
    conda:
        ENV
    threads: 1
    resources:
        **cpu_job(),
    params:
        code=commands.code_hash("table2"),
    shell:
        "python -m mfgstudy table2 --code {params.code} --cube {input:q} "
        "--csv {output.csv:q} --md {output.md:q} --tex {output.tex:q} 2> {log:q}"


rule robustness_table:
    input:
        paths.cube,
    output:
        csv=reported(paths.robustness_table.csv, "robustness_table"),
        md=paths.robustness_table.md,
        tex=paths.robustness_table.tex,
    log:
        log_path("robustness_table"),
    benchmark:
        benchmark_path("robustness_table")
    localrule: True
    conda:
        ENV
    threads: 1
    resources:
        **cpu_job(),
    params:
        code=commands.code_hash("robustness-table"),
        spec=as_json(REPORT_SPEC),
    shell:
        "python -m mfgstudy robustness-table --code {params.code} --spec {params.spec:q} "
        "--cube {input:q} --csv {output.csv:q} --md {output.md:q} --tex {output.tex:q} 2> {log:q}"


rule robustness_figure:
    input:
        paths.cube,
    output:
        png=reported(paths.robustness_figure.png, "robustness_figure"),
        pdf=paths.robustness_figure.pdf,
    log:
        log_path("robustness_figure"),
    benchmark:
        benchmark_path("robustness_figure")
    localrule: True
    conda:
        ENV
    threads: 1
    resources:
        **cpu_job(),
    params:
        code=commands.code_hash("robustness-figure"),
        spec=as_json(REPORT_SPEC),
    shell:
        "python -m mfgstudy robustness-figure --code {params.code} --spec {params.spec:q} "
        "--cube {input:q} --png {output.png:q} --pdf {output.pdf:q} 2> {log:q}"


rule claims:
    input:
        unpack(claims_inputs),  # what the ledger reads ([] where a study is not run)
        claims_files=CLAIMS_FILES,
    output:
        md=reported(paths.claims.md, "claims"),
        json=paths.claims.json,
    log:
        log_path("claims"),
    benchmark:
        benchmark_path("claims")
    localrule: True
    conda:
        ENV
    threads: 1
    resources:
        **cpu_job(),
    params:
        code=commands.code_hash("claims"),
        spec=as_json(specs_claims.claims_spec(config)),
        options=claims_options,
    shell:
        "python -m mfgstudy claims --code {params.code} --spec {params.spec:q} "
        "--claims-files {input.claims_files:q} {params.options} --md {output.md:q} "
        "--json {output.json:q} 2> {log:q}"
