# What readers take away: results/report.html, which opens on the claims ledger (each claim's
# line links to the tables and figures it rests on), and the metrics cube as one tidy table.


rule html_report:
    input:
        unpack(report_inputs),  # the ledger, the figures and tables, their captions
    output:
        paths.report.html,
    log:
        log_path("html_report"),
    benchmark:
        benchmark_path("html_report")
    localrule: True
    conda:
        ENV
    threads: 1
    resources:
        **cpu_job(),
    params:
        code=commands.code_hash("html-report"),
        spec=lambda wc: as_json(
            dict(study=config["study"], config=config, items=report_items())
        ),
    shell:
        "python -m mfgstudy html-report --code {params.code} --spec {params.spec:q} "
        "--claims {input.claims:q} --out {output:q} 2> {log:q}"


rule export:
    input:
        paths.cube,
    output:
        csv=paths.export.csv,
        parquet=paths.export.parquet,
    log:
        log_path("export"),
    benchmark:
        benchmark_path("export")
    localrule: True
    conda:
        ENV
    threads: 1
    resources:
        **cpu_job(),
    params:
        code=commands.code_hash("export"),
    shell:
        "python -m mfgstudy export --code {params.code} --cube {input:q} --csv {output.csv:q} "
        "--parquet {output.parquet:q} 2> {log:q}"
