rule sample:
    input:
        data=plan.DATA,
        model=model_of,
    output:
        directory(plan.SAMPLES),
    log:
        "results/logs/sample/" + plan.UNIT_DIR + ".log",
    benchmark:
        "results/benchmarks/sample/" + plan.UNIT_DIR + ".tsv"
    conda:
        CPU_ENV
    threads: THREADS
    resources:
        gpu=GPUS["sample"],
        mem_mb=4000,
        runtime=60,
    params:
        spec=lambda wc: as_json(plan.sample_spec(config, wc)),
        model=lambda wc, input: opt("--model", input.model),
    shell:
        "python -m mfgstudy sample --spec {params.spec:q} --data {input.data:q} {params.model} "
        "--seed {wildcards.seed} --out {output:q} --threads {threads} 2> {log:q}"
