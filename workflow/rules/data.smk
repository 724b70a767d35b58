rule prepare_data:
    input:
        source=lambda wc: plan.data_source(config, wc.dataset),  # a local file, if any
    output:
        directory(plan.DATA),
    log:
        "results/logs/prepare_data/{dataset}.log",
    benchmark:
        "results/benchmarks/prepare_data/{dataset}.tsv"
    priority: 100
    conda:
        ENV
    threads: 1
    resources:
        **job_resources("data"),  # gpu, mem_mb, runtime: config resources.data
    params:
        code=plan.code_hash("prepare-data"),
        spec=lambda wc: as_json(plan.data_spec(config, wc.dataset)),
    shell:
        "python -m mfgstudy prepare-data --code {params.code} --spec {params.spec:q} "
        "--out {output:q} --threads {threads} 2> {log:q}"
