rule collect:
    input:
        metrics=plan.metric_dirs(config),
        floors=plan.floors(config),
    output:
        directory(plan.CUBE),
    log:
        "results/logs/collect.log",
    benchmark:
        "results/benchmarks/collect.tsv"
    conda:
        CPU_ENV
    threads: 1
    resources:
        gpu=0,
        mem_mb=2000,
        runtime=10,
    params:
        code=plan.code_hash("collect"),
    shell:
        "python -m mfgstudy collect --metrics {input.metrics:q} --floors {input.floors:q} "
        "--out {output:q} 2> {log:q}"


REPORT_SPEC = {
    **plan.report_spec(config),
    "reference_steps": {
        k: s.get("reference_steps") for k, s in config["sweeps"].items()
    },
}


rule figure1:
    input:
        plan.CUBE,
    output:
        png=plan.FIG1_PNG,
        pdf=plan.FIG1_PDF,
    log:
        "results/logs/figure1.log",
    benchmark:
        "results/benchmarks/figure1.tsv"
    conda:
        CPU_ENV
    threads: 1
    resources:
        gpu=0,
        mem_mb=2000,
        runtime=10,
    params:
        code=plan.code_hash("report"),
        spec=as_json(REPORT_SPEC),
    shell:
        "python -m mfgstudy figure1 --spec {params.spec:q} --cube {input:q} "
        "--png {output.png:q} --pdf {output.pdf:q} 2> {log:q}"


rule slopes_table:
    input:
        plan.CUBE,
    output:
        csv=plan.SLOPES_CSV,
        md=plan.SLOPES_MD,
    log:
        "results/logs/slopes_table.log",
    benchmark:
        "results/benchmarks/slopes_table.tsv"
    conda:
        CPU_ENV
    threads: 1
    resources:
        gpu=0,
        mem_mb=2000,
        runtime=10,
    params:
        code=plan.code_hash("report"),
        spec=as_json(REPORT_SPEC),
    shell:
        "python -m mfgstudy slopes --spec {params.spec:q} --cube {input:q} "
        "--csv {output.csv:q} --md {output.md:q} 2> {log:q}"


rule image_table:
    input:
        plan.CUBE,
    output:
        csv=plan.IMAGES_CSV,
        md=plan.IMAGES_MD,
    log:
        "results/logs/image_table.log",
    benchmark:
        "results/benchmarks/image_table.tsv"
    conda:
        CPU_ENV
    threads: 1
    resources:
        gpu=0,
        mem_mb=2000,
        runtime=10,
    params:
        code=plan.code_hash("report"),
    shell:
        "python -m mfgstudy image-table --cube {input:q} --csv {output.csv:q} --md {output.md:q} "
        "2> {log:q}"
