# What readers take away: results/report.html, which opens on the claims ledger (each claim's
# line links to the tables and figures it rests on), and the metrics cube as one tidy table.


rule html_report:
    input:
        unpack(report_inputs),  # the ledger, the figures and tables, their captions
    output:
        "results/report.html",
    log:
        "results/logs/html_report.log",
    benchmark:
        "results/benchmarks/html_report.tsv"
    localrule: True
    conda:
        ENV
    threads: 1
    params:
        code=commands.code_hash("html-report"),
        spec=lambda wc: as_json(
            dict(study=config["study"], config=config, items=report_items())
        ),
    shell:
        "python -m mfgstudy html-report --code {params.code} --spec {params.spec:q} "
        "--claims-path {input.claims:q} --out {output:q} 2> {log:q}"


rule export:
    input:
        rules.collect.output[0],
    output:
        csv="results/export/metrics.csv",
        parquet="results/export/metrics.parquet",
    log:
        "results/logs/export.log",
    benchmark:
        "results/benchmarks/export.tsv"
    localrule: True
    conda:
        ENV
    threads: 1
    params:
        code=commands.code_hash("export"),
    shell:
        "python -m mfgstudy export --code {params.code} --cube-path {input:q} --csv {output.csv:q} "
        "--parquet {output.parquet:q} 2> {log:q}"
