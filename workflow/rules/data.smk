rule prepare_data:
    output:
        directory(plan.DATA),
    log:
        "results/logs/prepare_data/{dataset}.log",
    benchmark:
        "results/benchmarks/prepare_data/{dataset}.tsv"
    priority: 100
    conda:
        CPU_ENV
    threads: 1
    resources:
        gpu=0,
        mem_mb=2000,
        runtime=10,
    params:
        code=plan.code_hash("prepare_data"),
        spec=lambda wc: as_json(plan.data_spec(config, wc.dataset)),
    shell:
        "python -m mfgstudy prepare-data --spec {params.spec:q} --out {output:q} "
        "--threads {threads} 2> {log:q}"
